//! `lvs-ntpd --trace`: an `ntptrace`-style walk up a chain of two lvs-ntpd on loopback
//! (B on 127.0.0.1 syncs from A on 127.0.0.2, which serves a local stratum), following the
//! refid from B to A and stopping at A's local-clock refid (127.127.1.1).

mod ntpd_support;

use core::time::Duration;
use std::net::UdpSocket;

use ntpd_support::{TempDir, control, ntpd, parse_peers, start_daemon_on, wait_for};

/// A UDP port free on both loopback addresses (every hop is asked on the same port).
fn port_free_on_both() -> u16 {
    loop {
        let a = UdpSocket::bind(("127.0.0.2", 0)).unwrap();
        let port = a.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

#[test]
fn trace_walks_from_the_client_to_its_local_stratum_server() {
    let port = port_free_on_both();
    let a_dir = TempDir::new("trace-a");
    let (_a, _) = start_daemon_on(&a_dir, "local stratum 8", "127.0.0.2", port);
    let b_dir = TempDir::new("trace-b");
    let (_b, ctl) = start_daemon_on(
        &b_dir,
        &format!("server 127.0.0.2:{port} iburst minpoll 0 maxpoll 1"),
        "127.0.0.1",
        port,
    );
    let synced = wait_for(Duration::from_secs(60), || {
        parse_peers(&control(&ctl, "peers")?)
            .into_iter()
            .find(|p| p.tally == '*')
    });
    assert!(synced.is_some(), "B never selected A");

    // B answers with stratum 9 and refid 127.0.0.2 once its selection reached the server side.
    let out = wait_for(Duration::from_secs(20), || {
        let out = ntpd(&["--trace", &format!("127.0.0.1:{port}")]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (text.lines().count() == 2).then_some((out, text))
    });
    let Some((out, text)) = out else {
        let out = ntpd(&["--trace", &format!("127.0.0.1:{port}")]);
        panic!("no two-hop trace: {out:?}");
    };
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("127.0.0.1: stratum 9, offset "),
        "{text}"
    );
    assert!(lines[0].contains(", synch distance "), "{text}");
    assert!(
        lines[1].starts_with("127.0.0.2: stratum 8, offset ")
            && lines[1].ends_with(", refid '127.127.1.1'"),
        "{text}"
    );

    // A host that answers nothing ends the walk with ntptrace's message and exit 1.
    let dead = port_free_on_both();
    let out = ntpd(&["--trace", &format!("127.0.0.1:{dead}")]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("127.0.0.1: timed out, nothing received"),
        "{out:?}"
    );
}
