//! lvs-ntpd end to end on loopback without other programs: `--check`, serving with the
//! restrict engine (KoD RATE over real UDP), `-q`, `--status` / `--peers` and their exit codes.

mod ntpd_support;

use core::time::Duration;
use std::net::UdpSocket;

use lvs_ntp::testing::CLIENT_REQUEST;
use lvs_ntp::wire::{KissCode, NtpMessage};
use ntpd_support::{TempDir, free_port, ntpd, start_daemon};

#[test]
fn check_reports_line_numbered_errors() {
    let dir = TempDir::new("check");
    let good = dir.path("good.conf");
    std::fs::write(
        &good,
        "server 192.0.2.1 iburst\nrestrict default kod limited\n",
    )
    .unwrap();
    let out = ntpd(&["-c", good.to_str().unwrap(), "--check"]);
    assert!(out.status.success(), "{out:?}");
    let bad = dir.path("bad.conf");
    std::fs::write(&bad, "server 192.0.2.1\ncrypto pw x\n").unwrap();
    let out = ntpd(&["-c", bad.to_str().unwrap(), "--check"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2: unknown directive 'crypto'"), "{err}");
}

#[test]
fn serves_local_stratum_and_rate_limits_with_kod() {
    let dir = TempDir::new("serve");
    let port = free_port();
    let (daemon, ctl) = start_daemon(
        &dir,
        "local stratum 7\nrestrict default kod limited\nrestrict 127.0.0.2 ignore",
        port,
    );
    let ctl = ctl.to_str().unwrap().to_owned();

    // -q: like ntpdate -q.
    let out = ntpd(&["-q", &format!("127.0.0.1:{port}")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", daemon.log_text());
    assert!(
        text.starts_with("server 127.0.0.1, stratum 7, offset "),
        "{text}"
    );
    let offset: f64 = text
        .split("offset ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // One clock on both ends: the offset is scheduling noise (tens of ms on a loaded box),
    // nowhere near what an era or byte-order mistake produces.
    assert!(offset.abs() < 0.25, "{text}");

    // Limits are per address and -q's four requests used up 127.0.0.1's: from another
    // address, the first request is served and a second within 2 s breaks `minimum`: KoD RATE.
    let sock = UdpSocket::bind("127.0.0.3:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 128];
    sock.send_to(&CLIENT_REQUEST, ("127.0.0.1", port)).unwrap();
    let n = sock.recv(&mut buf).unwrap();
    let first = NtpMessage::parse(&buf[..n]).unwrap().header;
    assert_eq!(first.stratum, 7);
    sock.send_to(&CLIENT_REQUEST, ("127.0.0.1", port)).unwrap();
    let n = sock.recv(&mut buf).unwrap();
    let kiss = NtpMessage::parse(&buf[..n]).unwrap().header;
    assert_eq!(kiss.kiss_code(), Some(KissCode::Rate));
    assert_eq!(kiss.origin, first.origin);

    // `ignore` sources get nothing.
    let ignored = UdpSocket::bind("127.0.0.2:0").unwrap();
    ignored
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    ignored
        .send_to(&CLIENT_REQUEST, ("127.0.0.1", port))
        .unwrap();
    assert!(ignored.recv(&mut buf).is_err());

    // ntpstat: serving the local clock counts as synchronised.
    let out = ntpd(&["--status", "--control", &ctl]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with("synchronised to local net at stratum 7\n"),
        "{text}"
    );
    let out = ntpd(&["--peers", "--control", &ctl]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("     remote           refid"));
    drop(daemon);

    // Nobody listening: exit 2, as ntpstat.
    let out = ntpd(&["--status", "--control", &ctl]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unsynchronised_client_reports_exit_1() {
    let dir = TempDir::new("unsync");
    // A server that never answers: the port of a socket we hold and never read.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let (_daemon, ctl) = start_daemon(
        &dir,
        &format!("server {addr} minpoll 0 maxpoll 0"),
        free_port(),
    );
    let out = ntpd(&["--status", "--control", ctl.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with("unsynchronised\n"), "{text}");
    let out = ntpd(&["--peers", "--control", ctl.to_str().unwrap()]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.lines().nth(2).is_some_and(|l| l.contains(".INIT.")),
        "{table}"
    );
}
