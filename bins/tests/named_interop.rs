//! lvs-named against the real BIND: BIND (`named -g`) is the authoritative upstream for
//! example.test on loopback, lvs-named forwards to it, and `dig` is the client. Also checks that
//! `lvs-named --checkconf` agrees with `named-checkconf`.
//!
//! Needs Debian's bind9, bind9-utils and bind9-dnsutils; skips loudly without them (fails under
//! `LVS_REQUIRE_INTEROP=1`).

mod named_common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use named_common::{
    Procs, TempDir, answers, dig, free_port, named_conf, require, start_named, wait_ready,
};

const BIG_TXT: usize = 30;

fn zone() -> String {
    let mut z = String::from(
        "$TTL 300\n\
         @ IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60\n\
         @ IN NS ns1.example.test.\n\
         ns1 IN A 127.0.0.1\n\
         www IN A 192.0.2.10\n\
         www IN AAAA 2001:db8::10\n\
         alias IN CNAME alias2\n\
         alias2 IN CNAME www\n\
         @ IN MX 10 mail.example.test.\n\
         mail IN A 192.0.2.25\n\
         txt IN TXT \"hello world\"\n",
    );
    for i in 0..BIG_TXT {
        z.push_str(&format!(
            "big IN TXT \"record {i:02} {}\"\n",
            "x".repeat(80)
        ));
    }
    z
}

fn bind_conf(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "options {{\n  directory \"{d}\";\n  listen-on port {port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  recursion no;\n  pid-file \"{d}/named.pid\";\n  session-keyfile \"{d}/session.key\";\n  querylog yes;\n  dnssec-validation no;\n}};\ncontrols {{ }};\nzone \"example.test\" {{ type primary; file \"example.test.zone\"; }};\n"
    )
}

fn queries_seen(log: &Path, what: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("query:") && l.contains(what))
        .count()
}

#[test]
fn dig_through_lvs_named_to_bind() {
    let Some(progs) = require("dig_through_lvs_named_to_bind", &["named", "dig"]) else {
        return;
    };
    let (named, dig_bin) = (&progs[0], &progs[1]);
    let dir = TempDir::new("bind");
    dir.write("example.test.zone", &zone());
    let bind_port = free_port();
    let bconf = dir.write("bind.conf", &bind_conf(&dir.0, bind_port));
    let mut procs = Procs::default();
    let bind_log = dir.path("bind.log");
    // -g: foreground, log to stderr (the query log too). The sandbox runs as root, so -u root
    // keeps named from switching to the bind user, which could not read the temp dir.
    procs.spawn(
        Command::new(named)
            .args(["-g", "-u", "root", "-c"])
            .arg(&bconf)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&bind_log).expect("log")),
    );
    let bind_addr: SocketAddr = ([127, 0, 0, 1], bind_port).into();
    wait_ready(bind_addr, "ns1.example.test", Duration::from_secs(20));

    let port = free_port();
    let conf = dir.write("lvs.conf", &named_conf(bind_addr, port, ""));
    start_named(&mut procs, &dir, &conf, &[]);
    wait_ready(
        ([127, 0, 0, 1], port).into(),
        "ns1.example.test",
        Duration::from_secs(10),
    );

    // A, then the same again a second later: a cache hit with a smaller TTL.
    let a1 = dig(dig_bin, port, &["www.example.test", "A"]);
    assert!(a1.contains("status: NOERROR"), "{a1}");
    let r1 = answers(&a1);
    assert_eq!(r1.len(), 1, "{a1}");
    assert_eq!((r1[0].2.as_str(), r1[0].3.as_str()), ("A", "192.0.2.10"));
    std::thread::sleep(Duration::from_millis(1100));
    let a2 = dig(dig_bin, port, &["www.example.test", "A"]);
    let r2 = answers(&a2);
    assert_eq!(r2.len(), 1, "{a2}");
    assert!(
        r2[0].1 < r1[0].1,
        "TTL decreased: {} then {}",
        r1[0].1,
        r2[0].1
    );
    assert_eq!(
        queries_seen(&bind_log, "www.example.test IN A "),
        1,
        "BIND saw one query"
    );

    let aaaa = answers(&dig(dig_bin, port, &["www.example.test", "AAAA"]));
    assert_eq!(
        (aaaa[0].2.as_str(), aaaa[0].3.as_str()),
        ("AAAA", "2001:db8::10")
    );

    let chain = answers(&dig(dig_bin, port, &["alias.example.test", "A"]));
    let kinds: Vec<&str> = chain.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(kinds, ["CNAME", "CNAME", "A"], "{chain:?}");
    assert_eq!(chain[2].3, "192.0.2.10");

    let mx = answers(&dig(dig_bin, port, &["example.test", "MX"]));
    assert_eq!(
        (mx[0].2.as_str(), mx[0].3.as_str()),
        ("MX", "10 mail.example.test.")
    );

    let txt = answers(&dig(dig_bin, port, &["txt.example.test", "TXT"]));
    assert_eq!(txt[0].3, "\"hello world\"");

    let nx = dig(dig_bin, port, &["nope.example.test", "A"]);
    assert!(nx.contains("status: NXDOMAIN"), "{nx}");
    assert!(
        nx.contains("AUTHORITY SECTION") && nx.contains("IN\tSOA"),
        "{nx}"
    );

    // The large RRset: TC=1 over UDP (+ignore keeps dig from retrying), all of it over TCP.
    let tc = dig(
        dig_bin,
        port,
        &["big.example.test", "TXT", "+ignore", "+bufsize=1232"],
    );
    assert!(tc.contains(" tc"), "truncated: {tc}");
    let full = dig(dig_bin, port, &["big.example.test", "TXT", "+tcp"]);
    assert_eq!(answers(&full).len(), BIG_TXT, "{full}");
    // Without +ignore dig itself retries over TCP after TC=1.
    let auto = dig(dig_bin, port, &["big.example.test", "TXT"]);
    assert_eq!(answers(&auto).len(), BIG_TXT, "{auto}");
}

fn agree(lvs: &Path, bind: &Path, file: &Path) -> (bool, String, String) {
    let ours = Command::new(lvs)
        .arg("--checkconf")
        .arg(file)
        .output()
        .expect("lvs-named");
    let theirs = Command::new(bind)
        .arg(file)
        .output()
        .expect("named-checkconf");
    let o = String::from_utf8_lossy(&ours.stdout).into_owned();
    let t = String::from_utf8_lossy(&theirs.stdout).into_owned();
    (ours.status.success() == theirs.status.success(), o, t)
}

#[test]
fn checkconf_agrees_with_named_checkconf() {
    let Some(progs) = require(
        "checkconf_agrees_with_named_checkconf",
        &["named-checkconf"],
    ) else {
        return;
    };
    let lvs = PathBuf::from(env!("CARGO_BIN_EXE_lvs-named"));
    let dir = TempDir::new("checkconf");
    let inc = dir.write(
        "fwd.inc",
        "forwarders { 192.0.2.1; 192.0.2.2 port 5300; };\n",
    );
    let full = format!(
        "# hash\n// slashes\n/* block */\nacl \"trusted\" {{ 127.0.0.0/8; 10/8; !192.0.2.1; }};\n\
         key \"rndc-key\" {{ algorithm hmac-sha256; secret \"YWJjZGVmZ2g=\"; }};\n\
         controls {{ inet 127.0.0.1 port 953 allow {{ 127.0.0.1; }} keys {{ \"rndc-key\"; }}; }};\n\
         options {{\n  directory \"{}\";\n  forward only;\n  include \"{}\";\n  allow-query {{ any; }};\n  allow-recursion {{ trusted; }};\n  allow-query-cache {{ trusted; }};\n  listen-on port 5353 {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  max-cache-size 64m;\n  max-cache-ttl 1d;\n  max-ncache-ttl PT1H;\n  stale-answer-enable yes;\n  stale-answer-ttl 5;\n  max-stale-ttl 2h;\n  edns-udp-size 1232;\n  recursion yes;\n  dnssec-validation auto;\n}};\n",
        dir.0.display(),
        inc.display()
    );
    let cases: Vec<(&str, String)> = vec![
        ("valid_full", full),
        (
            "valid_minimal",
            "options { forwarders { 127.0.0.1 port 5300; }; };\n".into(),
        ),
        (
            "unknown_option",
            "options {\n  forward only;\n  frobnicate yes;\n};\n".into(),
        ),
        (
            "missing_semicolon",
            "options {\n  forward only\n  forwarders { 1.2.3.4; };\n};\n".into(),
        ),
        ("bad_forward", "options {\n  forward sideways;\n};\n".into()),
        (
            "undefined_acl",
            "options {\n  allow-query { nosuch; };\n};\n".into(),
        ),
        (
            "prefix_mismatch",
            "options {\n  allow-query { 10.0.0.1/8; };\n};\n".into(),
        ),
        (
            "bad_port",
            "options {\n  forwarders { 1.2.3.4 port 99999; };\n};\n".into(),
        ),
        (
            "bad_duration",
            "options {\n  max-cache-ttl 2x;\n};\n".into(),
        ),
        (
            "unknown_key",
            "controls {\n  inet 127.0.0.1 allow { any; } keys { \"nokey\"; };\n};\n".into(),
        ),
        (
            "bad_secret",
            "key \"k\" {\n  algorithm hmac-sha256;\n  secret \"abc\";\n};\n".into(),
        ),
        ("eof", "options { forward only; }".into()),
        (
            "redefined",
            "options {\n  forward only;\n  forward first;\n};\n".into(),
        ),
        (
            "ncache_range",
            "options {\n  max-ncache-ttl 30d;\n};\n".into(),
        ),
    ];
    let mut failures = Vec::new();
    for (name, text) in &cases {
        let file = dir.write(&format!("{name}.conf"), text);
        let (same, ours, theirs) = agree(&lvs, &progs[0], &file);
        // Compare the verdict and, for errors, the FILE:LINE prefix.
        let prefix = |s: &str| s.split(": ").next().unwrap_or("").to_owned();
        if !same || prefix(&ours) != prefix(&theirs) {
            failures.push(format!("{name}: ours {ours:?} named-checkconf {theirs:?}"));
        }
        if name.starts_with("valid") {
            assert!(ours.is_empty(), "{name}: {ours}");
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
