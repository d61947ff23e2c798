//! SIGHUP on a running lvs-ntpd: restrict rules change at once, the running association keeps
//! its state, servers added to the file are polled and removed ones dropped without
//! disturbing the others, and a broken file changes nothing.

mod ntpd_support;

use core::time::Duration;
use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;

use ntpd_support::{
    Peer, Proc, TempDir, control, free_port, free_port_on, ntpd, parse_peers, start_daemon,
    start_daemon_on, wait_for,
};

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

/// How many reloads `daemon` has logged.
fn reloads(daemon: &Proc) -> usize {
    daemon.log_text().matches("configuration reloaded").count()
}

/// Sends SIGHUP and waits until the daemon logs one more completed reload.
fn hup_and_wait(daemon: &mut Proc) {
    let before = reloads(daemon);
    hup(daemon.child.id());
    let done = wait_for(Duration::from_secs(20), || {
        (reloads(daemon) > before).then_some(())
    });
    assert!(done.is_some(), "no reload:\n{}", daemon.log_text());
}

fn hup(pid: u32) {
    let ok = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// The peer table's rows, read through the control socket.
fn peers(ctl: &Path) -> Vec<Peer> {
    parse_peers(&control(ctl, "peers").expect("control socket answers"))
}

/// The row of `remote`, if present.
fn row(peers: &[Peer], remote: &str) -> Option<Peer> {
    peers.iter().find(|p| p.remote == remote).cloned()
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

    // The rule leaves the file again: queries are answered again.
    std::fs::write(&conf, format!("{server}\n{socket_line}")).unwrap();
    let mut ours = ours;
    hup_and_wait(&mut ours);
    assert!(mode6_answers(port), "the restrict rule was dropped again");
    assert_eq!(peers(&ctl).len(), 1);

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

#[test]
fn sighup_adds_and_removes_servers_keeping_the_others() {
    // Two upstreams on two loopback addresses, so the peer table tells them apart.
    let (a_ip, b_ip) = ("127.0.0.1", "127.0.0.2");
    let a_dir = TempDir::new("reload-a");
    let a_port = free_port_on(a_ip);
    let (_a, _) = start_daemon_on(&a_dir, "local stratum 8", a_ip, a_port);
    let b_dir = TempDir::new("reload-b");
    let b_port = free_port_on(b_ip);
    let (_b, _) = start_daemon_on(&b_dir, "local stratum 9", b_ip, b_port);
    let a_line = format!("server {a_ip}:{a_port} iburst minpoll 0 maxpoll 1");
    let b_line = format!("server {b_ip}:{b_port} iburst minpoll 0 maxpoll 1");

    let dir = TempDir::new("reload-servers");
    let (mut ours, ctl) = start_daemon(&dir, &a_line, free_port());
    let conf = dir.path("ntp.conf");
    let socket_line = format!("controlsocket {}\n", ctl.display());
    // A rebuilt association would start again from reach 0 and no system peer: at least
    // four answered polls (after its 8-packet burst) are proof it was kept.
    let settled = |p: &Peer| p.tally == '*' && p.reach.count_ones() >= 4;
    let synced = wait_for(Duration::from_secs(60), || {
        row(&peers(&ctl), a_ip).filter(settled)
    });
    assert!(synced.is_some(), "never synchronised:\n{}", ours.log_text());

    // Add B: it appears at once and reaches; A keeps its state and stays system peer.
    std::fs::write(&conf, format!("{a_line}\n{b_line}\n{socket_line}")).unwrap();
    hup_and_wait(&mut ours);
    let table = peers(&ctl);
    assert_eq!(table.len(), 2, "{table:?}");
    let a = row(&table, a_ip).expect("A still configured");
    assert!(settled(&a), "A was disturbed by adding B: {a:?}");
    let b = row(&table, b_ip).expect("B in the peer table");
    assert!(
        b.reach != 0 || b.tally == ' ',
        "B cannot be selected before it answered: {b:?}"
    );
    let b = wait_for(Duration::from_secs(30), || {
        row(&peers(&ctl), b_ip).filter(|b| b.reach != 0 && b.stratum == 9 && b.tally == '+')
    });
    assert!(b.is_some(), "B never reached:\n{}", ours.log_text());
    let a = row(&peers(&ctl), a_ip).expect("A");
    assert!(settled(&a), "hysteresis keeps A as system peer: {a:?}");
    let log = ours.log_text();
    assert!(!log.contains("next restart"), "{log}");

    // Remove B: it is gone; A kept its reach and its selection.
    std::fs::write(&conf, format!("{a_line}\n{socket_line}")).unwrap();
    hup_and_wait(&mut ours);
    let table = peers(&ctl);
    assert_eq!(table.len(), 1, "{table:?}");
    let a = row(&table, a_ip).expect("A");
    assert!(settled(&a), "A was disturbed by removing B: {a:?}");

    // Add B back (without iburst, so every poll shifts its reach register), then remove the
    // system peer A: B takes over at once, with its reach.
    let b_line = format!("server {b_ip}:{b_port} minpoll 0 maxpoll 1");
    std::fs::write(&conf, format!("{a_line}\n{b_line}\n{socket_line}")).unwrap();
    hup_and_wait(&mut ours);
    let answered = |b: &Peer| b.reach.count_ones() >= 3 && b.tally == '+';
    let b = wait_for(Duration::from_secs(30), || {
        row(&peers(&ctl), b_ip).filter(answered)
    })
    .unwrap_or_else(|| panic!("B never reached again:\n{}", ours.log_text()));
    std::fs::write(&conf, format!("{b_line}\n{socket_line}")).unwrap();
    hup_and_wait(&mut ours);
    let table = peers(&ctl);
    assert_eq!(table.len(), 1, "{table:?}");
    let now_b = row(&table, b_ip).expect("B");
    assert_eq!(now_b.tally, '*', "B must be the new system peer: {table:?}");
    // A rebuilt association would need three more polls (two seconds or more) to get here.
    assert!(
        now_b.reach.count_ones() >= 3,
        "B's reach was reset: {b:?} then {now_b:?}"
    );
    let stats = control(&ctl, "stats").unwrap();
    assert!(stats.contains("client"), "{stats}");
}
