//! SIGHUP on a running lvs-ntpd: restrict rules change at once, the running association keeps
//! its state, server changes wait for a restart, and a broken file changes nothing.

mod ntpd_support;

use core::time::Duration;
use std::net::UdpSocket;
use std::process::Command;

use ntpd_support::{TempDir, control, free_port, ntpd, parse_peers, start_daemon, wait_for};

/// ntpq's `rv 0` as one mode-6 READVAR request; `true` if the daemon answers.
fn mode6_answers(port: u16) -> bool {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let request = [0x16, 0x02, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut buf = [0u8; 600];
    (0..3).any(|_| {
        sock.send_to(&request, ("127.0.0.1", port)).unwrap();
        sock.recv(&mut buf)
            .is_ok_and(|n| n >= 12 && buf[1] == 0x82 && buf[3] == 9)
    })
}

fn hup(pid: u32) {
    let ok = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn sighup_reloads_restrict_rules_and_keeps_the_association() {
    let up_dir = TempDir::new("reload-up");
    let up_port = free_port();
    let (_up, _) = start_daemon(&up_dir, "local stratum 8", up_port);
    let dir = TempDir::new("reload");
    let port = free_port();
    let server = format!("server 127.0.0.1:{up_port} iburst minpoll 0 maxpoll 1");
    let (ours, ctl) = start_daemon(&dir, &server, port);
    let reached = wait_for(Duration::from_secs(60), || {
        let peers = parse_peers(&control(&ctl, "peers")?);
        peers
            .into_iter()
            .find(|p| p.tally == '*' && p.reach.count_ones() >= 4)
    });
    assert!(
        reached.is_some(),
        "never synchronised:\n{}",
        ours.log_text()
    );
    assert!(mode6_answers(port), "mode 6 before the reload");

    // Same server, queries from loopback now refused.
    let conf = dir.path("ntp.conf");
    let socket_line = format!("controlsocket {}\n", ctl.display());
    std::fs::write(
        &conf,
        format!("{server}\nrestrict 127.0.0.1 noquery\n{socket_line}"),
    )
    .unwrap();
    hup(ours.child.id());
    let reloaded = wait_for(Duration::from_secs(20), || {
        ours.log_text()
            .contains("configuration reloaded")
            .then_some(())
    });
    assert!(reloaded.is_some(), "{}", ours.log_text());
    let peer = parse_peers(&control(&ctl, "peers").unwrap())
        .into_iter()
        .next()
        .unwrap();
    // A rebuilt association would start again from reach 0 and no system peer.
    assert!(
        peer.tally == '*' && peer.reach.count_ones() >= 4,
        "{peer:?}"
    );
    assert!(!mode6_answers(port), "noquery not applied");
    let q = ntpd(&["-q", &format!("127.0.0.1:{port}")]);
    assert!(q.status.success(), "time service must go on: {q:?}");
    let stats = control(&ctl, "stats").unwrap();
    assert!(stats.contains("refused"), "{stats}");

    // A new server waits for a restart; the running one is untouched.
    std::fs::write(
        &conf,
        format!("{server}\nserver 127.0.0.1:{}\n{socket_line}", free_port()),
    )
    .unwrap();
    hup(ours.child.id());
    let warned = wait_for(Duration::from_secs(20), || {
        ours.log_text().contains("next restart").then_some(())
    });
    assert!(warned.is_some(), "{}", ours.log_text());
    assert!(mode6_answers(port), "the restrict rule was dropped again");
    assert_eq!(parse_peers(&control(&ctl, "peers").unwrap()).len(), 1);

    // A broken file changes nothing.
    std::fs::write(
        &conf,
        format!("restrict 127.0.0.1 noquery\nbogus\n{socket_line}"),
    )
    .unwrap();
    hup(ours.child.id());
    let kept = wait_for(Duration::from_secs(20), || {
        ours.log_text()
            .contains("keeping the running configuration")
            .then_some(())
    });
    assert!(kept.is_some(), "{}", ours.log_text());
    assert!(
        mode6_answers(port),
        "a broken file must not apply half of itself"
    );
    let peers = parse_peers(&control(&ctl, "peers").unwrap());
    assert!(peers[0].reach != 0, "{peers:?}");
}
