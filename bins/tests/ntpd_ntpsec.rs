//! lvs-ntpd against the stock NTPsec tools and daemon, and Debian's `ntpstat`, inside network
//! namespaces the tests create and remove (ntpq, ntpstat and ntpsec's ntpd only use port 123).
//!
//! NTPsec conflicts with chrony as a Debian package, so the tests use an unpacked copy:
//! `apt-get download ntpsec python3-ntp` and `dpkg -x` both into `$LVS_NTPSEC_ROOT` (default
//! /opt/lvs-ntpsec); its ntpq runs under /usr/bin/python3. `ntpstat` is the Debian package.
//! Without them, or without root for `ip netns`, the tests print a loud SKIP, and fail instead
//! when `LVS_REQUIRE_INTEROP=1`. NTPsec's ntpd always runs with `disable ntp`: it selects and
//! serves, but never disciplines the clock it shares with the host.

mod ntpd_support;

use core::time::Duration;
use std::path::PathBuf;
use std::process::Command;

use ntpd_support::netns::{
    NetNs, link, ntpq, ntpsec_root, rv_pairs, start_daemon_in, start_ntpsec,
};
use ntpd_support::{Peer, TempDir, control, find_program, parse_peers, skip, stat, wait_for};

/// The ntpsec tree and a first namespace, or a SKIP.
fn setup(test: &str, tag: &str) -> Option<(PathBuf, NetNs)> {
    let Some(root) = ntpsec_root() else {
        skip(
            test,
            "ntpsec not unpacked in $LVS_NTPSEC_ROOT (apt-get download ntpsec python3-ntp; dpkg -x)",
        );
        return None;
    };
    let Some(ns) = NetNs::new(tag) else {
        skip(
            test,
            "cannot create a network namespace (needs root and iproute2)",
        );
        return None;
    };
    Some((root, ns))
}

fn our_peers(ctl: &std::path::Path) -> Vec<Peer> {
    control(ctl, "peers").map_or_else(Vec::new, |t| parse_peers(&t))
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn stock_ntpq_reads_our_peers_and_system_variables() {
    let test = "stock_ntpq_reads_our_peers_and_system_variables";
    let Some((root, ns)) = setup(test, "q") else {
        return;
    };
    let dir = TempDir::new("ntpsec-q");
    let (up, _) = start_daemon_in(&ns, &dir, "up", "local stratum 8", "127.0.0.1", 5123);
    let (ours, ctl) = start_daemon_in(
        &ns,
        &dir,
        "main",
        "server 127.0.0.1:5123 iburst minpoll 0 maxpoll 2\nserver 127.0.0.2:5124 minpoll 0 maxpoll 2",
        "0.0.0.0",
        123,
    );
    let synced = wait_for(Duration::from_secs(60), || {
        our_peers(&ctl)
            .into_iter()
            .find(|p| p.tally == '*' && p.reach.count_ones() >= 3)
    });
    assert!(synced.is_some(), "never synchronised:\n{}", ours.log_text());
    // Freeze the upstream: no new samples, so delay, offset and jitter stay put.
    let frozen = Command::new("kill")
        .args(["-STOP", &up.child.id().to_string()])
        .status()
        .unwrap();
    assert!(frozen.success());
    std::thread::sleep(Duration::from_millis(300));

    let before = our_peers(&ctl);
    let out = ntpq(&root, &ns, &["-n", "-p", "127.0.0.1"]);
    let after = our_peers(&ctl);
    let table = text(&out);
    eprintln!(
        "ntpq -p:\n{table}\nours:\n{}",
        control(&ctl, "peers").unwrap_or_default()
    );
    assert!(out.status.success(), "{table}");
    let theirs = parse_peers(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(theirs.len(), 2, "{table}");
    for t in &theirs {
        let b = before.iter().find(|p| p.remote == t.remote).unwrap();
        let a = after.iter().find(|p| p.remote == t.remote).unwrap();
        assert!(t.tally == b.tally || t.tally == a.tally, "{t:?} vs {b:?}");
        assert_eq!((&t.refid, t.stratum), (&b.refid, b.stratum), "{t:?}");
        assert!(
            t.reach == b.reach || t.reach == a.reach,
            "{t:?} vs {b:?} / {a:?}"
        );
        // ntpq prints 4 decimals of our 6, our table 3.
        for (x, y) in [
            (t.delay_ms, b.delay_ms),
            (t.offset_ms, b.offset_ms),
            (t.jitter_ms, b.jitter_ms),
        ] {
            assert!((x - y).abs() <= 0.0006, "{t:?} vs {b:?}");
        }
    }
    let star = theirs
        .iter()
        .find(|p| p.tally == '*')
        .expect("a system peer");
    assert_eq!(
        (star.remote.as_str(), star.refid.as_str(), star.stratum),
        ("127.0.0.1", "127.127.1.1", 8)
    );
    assert!(star.delay_ms > 0.0);
    let init = theirs.iter().find(|p| p.remote == "127.0.0.2").unwrap();
    assert_eq!(
        (init.tally, init.refid.as_str(), init.stratum, init.reach),
        (' ', ".INIT.", 16, 0)
    );

    let rv = ntpq(&root, &ns, &["-c", "rv", "127.0.0.1"]);
    let rv_text = text(&rv);
    eprintln!("ntpq -c rv:\n{rv_text}");
    let vars = rv_pairs(&rv_text);
    let var = |k: &str| {
        vars.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {k} in {rv_text}"))
    };
    assert_eq!(var("stratum"), "9");
    assert_eq!(var("refid"), "127.0.0.1");
    assert_eq!(var("leap"), "00");
    assert!(var("version").starts_with("lvs-ntpd"));
    let status = control(&ctl, "status").unwrap();
    eprintln!("ours:\n{status}");
    assert!(status.contains("(127.0.0.1) at stratum 9"), "{status}");
    let poll_s: u64 = status
        .split("every ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert_eq!(1u64 << var("tc").parse::<u32>().unwrap(), poll_s);
    let distance =
        var("rootdelay").parse::<f64>().unwrap() / 2.0 + var("rootdisp").parse::<f64>().unwrap();
    let ours_ms: f64 = status
        .split("within ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!((distance - ours_ms).abs() <= 1.0, "{distance} vs {ours_ms}");

    let ass = ntpq(&root, &ns, &["-c", "as", "127.0.0.1"]);
    let ass_text = text(&ass);
    eprintln!("ntpq -c as:\n{ass_text}");
    let rows: Vec<Vec<&str>> = ass_text
        .lines()
        .skip_while(|l| !l.starts_with("===="))
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .filter(|f: &Vec<&str>| f.len() >= 7)
        .collect();
    assert_eq!(rows.len(), 2, "{ass_text}");
    let sys = rows
        .iter()
        .find(|r| r[6] == "sys.peer")
        .expect("a sys.peer row");
    assert_eq!(
        (sys[1], sys[3], sys[4]),
        (var("peer").as_str(), "yes", "yes")
    );
    let other = rows.iter().find(|r| r[1] != sys[1]).unwrap();
    assert_eq!((other[3], other[4], other[6]), ("yes", "no", "reject"));
}

#[test]
fn debian_ntpstat_reads_our_daemon() {
    let test = "debian_ntpstat_reads_our_daemon";
    let Some(ntpstat) = find_program("ntpstat") else {
        return skip(test, "ntpstat not installed (Debian package ntpstat)");
    };
    let Some(ns) = NetNs::new("s") else {
        return skip(
            test,
            "cannot create a network namespace (needs root and iproute2)",
        );
    };
    let run = || {
        let o = ns.command(&ntpstat).output().unwrap();
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            o.status.code(),
        )
    };
    // Nobody on port 123: indeterminate.
    let (none, code) = run();
    assert_eq!(code, Some(2), "{none}");

    let dir = TempDir::new("ntpsec-s");
    let (ours, ctl) = start_daemon_in(
        &ns,
        &dir,
        "main",
        "server 127.0.0.1:5123 iburst minpoll 0 maxpoll 2",
        "0.0.0.0",
        123,
    );
    // Not synchronised yet (the upstream is not running): exit 1, like our own --status.
    let (unsync, code) = run();
    eprintln!("ntpstat:\n{unsync}");
    assert_eq!(code, Some(1), "{unsync}");
    assert!(
        unsync.starts_with("unsynchronised\n  time server re-starting\n"),
        "{unsync}"
    );
    let mine = control(&ctl, "status").unwrap();
    assert!(mine.starts_with("unsynchronised\n"), "{mine}");
    assert_eq!(unsync.lines().last(), mine.lines().last(), "poll line");

    let (_up, _) = start_daemon_in(&ns, &dir, "up", "local stratum 8", "127.0.0.1", 5123);
    let synced = wait_for(Duration::from_secs(60), || {
        let (t, code) = run();
        (code == Some(0)).then_some(t)
    });
    assert!(synced.is_some(), "never synchronised:\n{}", ours.log_text());
    let before = control(&ctl, "status").unwrap();
    let (theirs, code) = run();
    let after = control(&ctl, "status").unwrap();
    eprintln!("ntpstat:\n{theirs}\nours:\n{before}");
    assert_eq!(code, Some(0));
    let lines: Vec<&str> = theirs.lines().map(str::trim_end).collect();
    let b: Vec<&str> = before.lines().collect();
    let a: Vec<&str> = after.lines().collect();
    assert_eq!(lines.len(), 3, "{theirs}");
    assert_eq!(
        lines[0],
        "synchronised to NTP server (127.0.0.1) at stratum 9"
    );
    assert!(lines[0] == b[0] || lines[0] == a[0], "{theirs} vs {before}");
    let ms = |l: &str| -> f64 {
        l.split("within ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let (lo, hi) = (ms(b[1]).min(ms(a[1])), ms(b[1]).max(ms(a[1])));
    assert!(
        (lo - 1.0..=hi + 1.0).contains(&ms(lines[1])),
        "{theirs} vs {before} / {after}"
    );
    assert!(lines[2] == b[2] || lines[2] == a[2], "{theirs} vs {before}");
}

#[test]
fn ntpsec_ntpd_selects_our_server() {
    let test = "ntpsec_ntpd_selects_our_server";
    let Some((root, ours_ns)) = setup(test, "ca") else {
        return;
    };
    let Some(their_ns) = NetNs::new("cb") else {
        return skip(test, "cannot create a second network namespace");
    };
    assert!(link(&ours_ns, &their_ns), "veth link");
    let dir = TempDir::new("ntpsec-c");
    let (ours, _ctl) = start_daemon_in(&ours_ns, &dir, "ours", "local stratum 8", "0.0.0.0", 123);
    let ntpsec = start_ntpsec(
        &root,
        &their_ns,
        &dir,
        // ntpsec's default restriction includes noquery: let its own ntpq in.
        "server 10.213.0.1 iburst minpoll 3 maxpoll 4\nrestrict 127.0.0.1\nrestrict ::1\n\
         disable ntp\n",
    );
    let mut last = String::new();
    let selected = wait_for(Duration::from_secs(120), || {
        last = text(&ntpq(&root, &their_ns, &["-n", "-p"]));
        last.lines()
            .any(|l| l.starts_with("*10.213.0.1"))
            .then(|| last.clone())
    });
    let Some(table) = selected else {
        panic!(
            "ntpsec never selected us\n{last}\nntpsec:\n{}\n{}\nlvs-ntpd:\n{}",
            ntpsec.log_text(),
            std::fs::read_to_string(dir.path("ntpsec.log")).unwrap_or_default(),
            ours.log_text()
        );
    };
    eprintln!("{table}");
    let row = parse_peers(&table).into_iter().next().unwrap();
    assert_eq!((row.refid.as_str(), row.stratum), ("127.127.1.1", 8));
    let rv = text(&ntpq(&root, &their_ns, &["-c", "rv 0 stratum,refid"]));
    let vars = rv_pairs(&rv);
    assert!(
        vars.contains(&("stratum".to_owned(), "9".to_owned())),
        "{rv}"
    );
    assert!(
        vars.contains(&("refid".to_owned(), "10.213.0.1".to_owned())),
        "{rv}"
    );
}

#[test]
fn ntpsec_rate_kiss_makes_our_client_back_off() {
    let test = "ntpsec_rate_kiss_makes_our_client_back_off";
    let Some((root, ours_ns)) = setup(test, "da") else {
        return;
    };
    let Some(their_ns) = NetNs::new("db") else {
        return skip(test, "cannot create a second network namespace");
    };
    assert!(link(&ours_ns, &their_ns), "veth link");
    let dir = TempDir::new("ntpsec-d");
    // An orphan-mode ntpsec serves stratum 6 without disciplining anything. `limit` is ntpsec's
    // `discard`: every packet adds 1/burst to a score that decays with a time constant of
    // `burst` seconds, and a score above `average` is limited. An iburst (2 s spacing) goes
    // over; polls 8 s or more apart stay under.
    let ntpsec = start_ntpsec(
        &root,
        &their_ns,
        &dir,
        "tos orphan 6 orphanwait 1\nrestrict default limited kod\nrestrict 127.0.0.1\nrestrict ::1\n\
         limit average 0.2 burst 8 kod 10\ndisable ntp\n",
    );
    let (ours, ctl) = start_daemon_in(
        &ours_ns,
        &dir,
        "ours",
        "server 10.213.0.2 iburst minpoll 1 maxpoll 4",
        "0.0.0.0",
        123,
    );
    let diag = || {
        format!(
            "stats: {}\npeers:\n{}\nlvs-ntpd:\n{}\nntpsec:\n{}",
            control(&ctl, "stats").unwrap_or_default(),
            control(&ctl, "peers").unwrap_or_default(),
            ours.log_text(),
            ntpsec.log_text()
        )
    };
    // Kissed, and polling slower than the 2 s minpoll.
    let backed_off = wait_for(Duration::from_secs(90), || {
        let stats = control(&ctl, "stats")?;
        let peer = our_peers(&ctl).into_iter().next()?;
        (stat(&stats, "kiss_rate")? >= 1 && peer.poll_s? >= 8).then_some(stats)
    });
    let Some(stats) = backed_off else {
        panic!("no back-off after RATE\n{}", diag());
    };
    eprintln!("{stats}");
    assert!(ours.log_text().contains("RATE kiss"), "{}", diag());
    // And keeps working: more replies are accepted after the back-off.
    let accepted = stat(&stats, "accepted").unwrap();
    let more = wait_for(Duration::from_secs(120), || {
        let s = control(&ctl, "stats")?;
        (stat(&s, "accepted")? >= accepted + 2).then_some(s)
    });
    assert!(more.is_some(), "no replies after the back-off\n{}", diag());
    let peer = our_peers(&ctl).into_iter().next().unwrap();
    eprintln!("{peer:?}");
    assert!(
        peer.reach != 0 && peer.poll_s.unwrap_or(0) >= 8,
        "{}",
        diag()
    );
    assert_eq!(peer.stratum, 6);
}
