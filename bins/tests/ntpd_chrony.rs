//! lvs-ntpd against chronyd (Debian package `chrony`) on loopback. chronyd runs with `-x`
//! (it never touches the clock) and lvs-ntpd with `--monitor`. Without chronyd the tests print
//! a loud SKIP, and fail instead when `LVS_REQUIRE_INTEROP=1`.

mod ntpd_support;

use core::time::Duration;
use std::path::PathBuf;
use std::process::Command;

use ntpd_support::{
    Peer, Proc, TempDir, find_program, free_port, ntpd, parse_peers, skip, spawn, start_daemon,
    wait_for,
};

/// Starts `chronyd -d -x -f <conf>` with `extra` configuration, its pid file, drift file and
/// command socket in `dir`. Returns the process and the command socket.
fn start_chronyd(chronyd: &PathBuf, dir: &TempDir, extra: &str) -> (Proc, PathBuf) {
    let sock = dir.path("chronyd.sock");
    let conf = dir.path("chrony.conf");
    std::fs::write(
        &conf,
        format!(
            "{extra}\npidfile {}\ndriftfile {}\nbindcmdaddress {}\ncmdport 0\n",
            dir.path("chronyd.pid").display(),
            dir.path("chrony.drift").display(),
            sock.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(chronyd);
    cmd.arg("-d")
        .arg("-x")
        .arg("-u")
        .arg("root")
        .arg("-f")
        .arg(&conf);
    let p = spawn("chronyd", cmd, &dir.path("chronyd.log"));
    (p, sock)
}

fn chrony() -> Option<(PathBuf, PathBuf)> {
    Some((find_program("chronyd")?, find_program("chronyc")?))
}

#[test]
fn chronyd_selects_our_server() {
    let test = "chronyd_selects_our_server";
    let Some((chronyd, chronyc)) = chrony() else {
        return skip(
            test,
            "chronyd/chronyc not installed (Debian package chrony)",
        );
    };
    let dir = TempDir::new("chrony-b");
    let port = free_port();
    let (ours, _ctl) = start_daemon(
        &dir,
        "local stratum 8\nrestrict default ignore\nrestrict 127.0.0.1",
        port,
    );
    let (chrony, sock) = start_chronyd(
        &chronyd,
        &dir,
        &format!("server 127.0.0.1 port {port} iburst minpoll 0 maxpoll 0\nport 0"),
    );
    let selected = wait_for(Duration::from_secs(30), || {
        let out = Command::new(&chronyc)
            .arg("-h")
            .arg(&sock)
            .args(["-n", "sources"])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .any(|l| l.starts_with("^*") && l.contains("127.0.0.1"))
            .then_some(text)
    });
    let Some(text) = selected else {
        panic!(
            "chronyd never selected us\nchronyd:\n{}\nlvs-ntpd:\n{}",
            chrony.log_text(),
            ours.log_text()
        );
    };
    eprintln!("{text}");
    // chronyd's view of us: stratum 8 + 1.
    let out = Command::new(&chronyc)
        .arg("-h")
        .arg(&sock)
        .args(["-n", "tracking"])
        .output()
        .unwrap();
    let tracking = String::from_utf8_lossy(&out.stdout);
    eprintln!("{tracking}");
    assert!(tracking.contains("Stratum         : 9"), "{tracking}");
}

#[test]
fn our_client_reaches_chronyd() {
    let test = "our_client_reaches_chronyd";
    let Some((chronyd, _)) = chrony() else {
        return skip(test, "chronyd not installed (Debian package chrony)");
    };
    let dir = TempDir::new("chrony-a");
    let chrony_port = free_port();
    let (chrony, _sock) = start_chronyd(
        &chronyd,
        &dir,
        &format!("port {chrony_port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 8"),
    );
    let (ours, ctl) = start_daemon(
        &dir,
        &format!("server 127.0.0.1:{chrony_port} iburst minpoll 0 maxpoll 0"),
        free_port(),
    );
    let ctl = ctl.to_str().unwrap().to_owned();
    let peers = |ctl: &str| -> Option<Vec<Peer>> {
        let out = ntpd(&["--peers", "--control", ctl]);
        out.status
            .success()
            .then(|| parse_peers(&String::from_utf8_lossy(&out.stdout)))
    };
    let reached = wait_for(Duration::from_secs(40), || {
        peers(&ctl)?.into_iter().find(|p| p.reach == 0o377)
    });
    let Some(peer) = reached else {
        panic!(
            "reach never became 377: {:?}\nlvs-ntpd:\n{}\nchronyd:\n{}",
            peers(&ctl),
            ours.log_text(),
            chrony.log_text()
        );
    };
    assert_eq!(peer.remote, "127.0.0.1");
    assert_eq!(peer.stratum, 8);
    // Both share one clock: the offsets must be tiny.
    let mut offsets = Vec::new();
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(1100));
        if let Some(p) = peers(&ctl).and_then(|v| v.into_iter().next()) {
            eprintln!("{p:?}");
            offsets.push(p.offset_ms.abs());
        }
    }
    offsets.sort_by(f64::total_cmp);
    let median = offsets[offsets.len() / 2];
    eprintln!(
        "median |offset| {median:.3} ms over {} readings",
        offsets.len()
    );
    assert!(median <= 0.020, "median |offset| {median} ms");
    let status = ntpd(&["--status", "--control", &ctl]);
    let text = String::from_utf8_lossy(&status.stdout);
    eprintln!("{text}");
    assert_eq!(status.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with("synchronised to NTP server (127.0.0.1) at stratum 9"),
        "{text}"
    );
}
