//! Unit tests of the admin commands: parsing, lines, listings.

use super::*;
use crate::lvsd::table::Binding;

fn cmd(line: &str) -> Command {
    parse_line(line).unwrap().unwrap()
}

#[test]
fn lines_round_trip() {
    for line in [
        "-A -t 127.0.0.1:80 -s wlc",
        "-A -u [::1]:53 -s sh -b sh-fallback,sh-port -p 60 -M 64",
        "-E -t 127.0.0.1:80 -s rr -p 300 -M 255.255.255.0",
        "-D -t 127.0.0.1:80",
        "-C",
        "-a -t 127.0.0.1:80 -r 127.0.0.1:9000 -m -w 3 -x 10 -y 5",
        "-e -t 127.0.0.1:80 -r 127.0.0.1:9000 -m -w 0",
        "-d -u 127.0.0.1:53 -r 127.0.0.1:5353",
        "-a -t 10.0.1.100:80 -r 10.0.2.11:80 -g -w 1",
        "-a -t 10.0.1.100:80 -r 10.0.2.12:80 -i -w 2 -x 7",
        "-a -t 10.0.1.100:80 -r 10.0.2.13:80 -w 1",
        "-e -t 10.0.1.100:80 -r 10.0.2.13:80 -w 4",
        "-e -t 10.0.1.100:80 -r 10.0.2.13:80 -g -w 4",
        "--reload",
        "-L -n",
        "-L -n --stats",
        "-L -n --rate",
        "-L -n -c",
        "-S -n",
    ] {
        assert_eq!(cmd(line).to_line(), line);
    }
    assert_eq!(
        cmd("-A -t 127.0.0.1:80 -p").to_line(),
        "-A -t 127.0.0.1:80 -s wlc -p 300"
    );
    assert_eq!(parse_line("  # comment").unwrap(), None);
}

#[test]
fn bad_lines_say_why() {
    for (line, want) in [
        ("-A -s wlc", "-t ADDR:PORT"),
        ("-A -t 1.2.3.4:80 -s bogus", "unknown scheduler"),
        ("-a -t 1.2.3.4:80 -r 1.2.3.5:80 -g -m", "cannot be used"),
        ("-a -t 1.2.3.4:80 -r 1.2.3.5:80 -i -g", "cannot be used"),
        ("-L -n -g", "go with -a or -e"),
        ("-A -t 1.2.3.4:80 -s rr -m", "go with -a or -e"),
        ("--reload -L", "cannot be used"),
        ("-a -t 1.2.3.4:80", "real server is required"),
        ("-A -t nope -s rr", "invalid value"),
        ("-L -A", "cannot be used"),
        ("-n", "required"),
        ("-A -t 1.2.3.4:80 -M 24", "-M needs -p"),
    ] {
        let e = parse_line(line).unwrap_err();
        assert!(e.contains(want), "{line}: {e}");
    }
}

#[test]
fn forwarding_methods_parse() {
    let key = (Protocol::Tcp, "10.0.1.100:80".parse().unwrap());
    let real = RealSpec {
        addr: "10.0.2.11:80".parse().unwrap(),
        weight: 2,
        upper: 0,
        lower: 0,
    };
    for (flag, want) in [
        ("-g", Some(Forward::Dr)),
        ("--gatewaying", Some(Forward::Dr)),
        ("-i", Some(Forward::Tun)),
        ("--ipip", Some(Forward::Tun)),
        ("-m", Some(Forward::Nat)),
        ("--masquerading", Some(Forward::Nat)),
        ("", None),
    ] {
        let line = format!("-a -t 10.0.1.100:80 -r 10.0.2.11:80 {flag} -w 2");
        assert_eq!(cmd(&line), Command::AddServer(key, real, want), "{line}");
        let line = line.replacen("-a", "-e", 1);
        assert_eq!(cmd(&line), Command::EditServer(key, real, want), "{line}");
    }
    assert_eq!(cmd("--reload"), Command::Reload);
    let args = AdminArgs::try_parse_from(["lvsadm", "--reload"]).unwrap();
    assert_eq!(args.command().unwrap(), Command::Reload);
}

#[test]
fn proxy_mode_refuses_dr_and_tun_and_reload() {
    let mut t = Table::new(1, Duration::ZERO);
    let mut out = String::new();
    apply(
        &mut t,
        &cmd("-A -t 127.0.0.1:80 -s rr"),
        Instant::ZERO,
        &[],
        &mut out,
    )
    .unwrap();
    for m in ["-g", "-i"] {
        let line = format!("-a -t 127.0.0.1:80 -r 127.0.0.1:9001 {m}");
        let e = apply(&mut t, &cmd(&line), Instant::ZERO, &[], &mut out).unwrap_err();
        assert!(e.contains("masquerading"), "{e}");
    }
    for m in ["-m", ""] {
        let line = format!("-a -t 127.0.0.1:80 -r 127.0.0.1:900{} {m}", m.len());
        apply(&mut t, &cmd(&line), Instant::ZERO, &[], &mut out).unwrap();
    }
    let e = apply(
        &mut t,
        &cmd("-e -t 127.0.0.1:80 -r 127.0.0.1:9000 -g"),
        Instant::ZERO,
        &[],
        &mut out,
    )
    .unwrap_err();
    assert!(e.contains("masquerading"), "{e}");
    assert!(apply(&mut t, &Command::Reload, Instant::ZERO, &[], &mut out).is_err());
    // Saved rules name the method, so they restore the same way in either mode.
    assert_eq!(
        save(&t),
        "-A -t 127.0.0.1:80 -s rr\n\
         -a -t 127.0.0.1:80 -r 127.0.0.1:9002 -m -w 1\n\
         -a -t 127.0.0.1:80 -r 127.0.0.1:9000 -m -w 1\n"
    );
}

#[test]
fn listing_has_ipvsadm_columns() {
    let mut t = Table::new(1, Duration::ZERO);
    let mut out = String::new();
    for line in [
        "-A -t 127.0.0.1:80 -s wrr -p 60 -M 255.255.255.0",
        "-a -t 127.0.0.1:80 -r 127.0.0.1:9001 -m -w 3",
        "-a -t 127.0.0.1:80 -r 127.0.0.1:9002 -m -w 1",
    ] {
        apply(&mut t, &cmd(line), Instant::ZERO, &[], &mut out).unwrap();
    }
    let svc = t
        .find((Protocol::Tcp, "127.0.0.1:80".parse().unwrap()))
        .unwrap();
    let _open = t
        .pick(svc, "10.0.0.1:5".parse().unwrap(), Instant::ZERO)
        .unwrap();
    let text = list(&t, ListFormat::Plain);
    let want = "\
IP Virtual Server version 1.2.1 (lvsd proxy mode)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  127.0.0.1:80 wrr persistent 60 mask 255.255.255.0
  -> 127.0.0.1:9001               Masq    3      1          0         
  -> 127.0.0.1:9002               Masq    1      0          0         
";
    assert_eq!(text, want);
    let stats = list(&t, ListFormat::Stats);
    assert!(stats.contains(
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
    ));
    let row = format!("{:<33}{:>9}{:>9}", "TCP  127.0.0.1:80", 1, 0);
    assert!(stats.contains(&row), "{stats}");
    let saved = save(&t);
    assert_eq!(
        saved,
        "-A -t 127.0.0.1:80 -s wrr -p 60 -M 255.255.255.0\n\
         -a -t 127.0.0.1:80 -r 127.0.0.1:9001 -m -w 3\n\
         -a -t 127.0.0.1:80 -r 127.0.0.1:9002 -m -w 1\n"
    );
    let mut s = String::new();
    largenum(&mut s, 123_456_789);
    largenum(&mut s, 7);
    assert_eq!(s, "  123456K        7");
}

fn one_server_table() -> (Table, Binding) {
    let mut t = Table::new(1, Duration::from_secs(120));
    let mut out = String::new();
    for line in [
        "-A -t 127.0.0.1:80 -s rr",
        "-a -t 127.0.0.1:80 -r 127.0.0.1:9001 -m",
    ] {
        apply(&mut t, &cmd(line), Instant::ZERO, &[], &mut out).unwrap();
    }
    let svc = t
        .find((Protocol::Tcp, "127.0.0.1:80".parse().unwrap()))
        .unwrap();
    let (b, _) = t
        .pick(svc, "10.0.0.1:5".parse().unwrap(), Instant::ZERO)
        .unwrap();
    (t, b)
}

#[test]
fn rate_listing_uses_the_estimator() {
    let (mut t, b) = one_server_table();
    let c = Counters {
        in_pkts: 400,
        in_bytes: 40_000,
        ..Counters::default()
    };
    t.account(b, &c);
    t.estimate();
    let text = list(&t, ListFormat::Rate);
    assert!(text.contains(
        "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n  -> RemoteAddress:Port\n"
    ), "{text}");
    // 400 packets and 40 000 bytes in one 2 s period, weighted 1/4: 50 pps, 5000 B/s.
    let svc = format!(
        "{:<33}{:>9}{:>9}{:>9}{:>9}{:>9}\n",
        "TCP  127.0.0.1:80", 0, 50, 0, 5000, 0
    );
    assert!(text.contains(&svc), "{text}");
    let real = format!(
        "  -> {:<28} {:>8} {:>8} {:>8}{:>9}{:>9}\n",
        "127.0.0.1:9001", 0, 50, 0, 5000, 0
    );
    assert!(text.contains(&real), "{text}");
    // No more traffic: the averages decay towards zero.
    for _ in 0..40 {
        t.estimate();
    }
    assert_eq!(t.services().next().unwrap().rates(), Rates::default());
}

#[test]
fn connection_listing_has_ipvsadm_columns() {
    let (mut t, b) = one_server_table();
    let open = ConnRow {
        protocol: Protocol::Tcp,
        expires: Duration::from_secs(899),
        state: "ESTABLISHED",
        source: "10.0.0.2:40000".parse().unwrap(),
        virtual_addr: "127.0.0.1:80".parse().unwrap(),
        destination: "127.0.0.1:9001".parse().unwrap(),
    };
    t.release(b, Instant::ZERO);
    let mut out = String::new();
    let now = Instant::ZERO + Duration::from_secs(5);
    apply(&mut t, &cmd("-L -n -c"), now, &[open], &mut out).unwrap();
    assert_eq!(
        out,
        "IPVS connection entries\n\
         pro expire state       source             virtual            destination\n\
         TCP 14:59  ESTABLISHED 10.0.0.2:40000     127.0.0.1:80       127.0.0.1:9001\n\
         TCP 01:55  TIME_WAIT   10.0.0.1:5         127.0.0.1:80       127.0.0.1:9001\n"
    );
    assert!(parse_line("-L -n --rate -c").is_err());
    assert!(parse_line("-L -n --stats --rate").is_err());
}
