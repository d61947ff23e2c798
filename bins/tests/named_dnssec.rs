//! DNSSEC pass-through against the real BIND: BIND serves a zone signed with dnssec-keygen and
//! dnssec-signzone on loopback, lvs-named forwards to it without validating, and `dig` is the
//! client. `dig +dnssec` sees the RRSIGs (and the NSEC proof of an NXDOMAIN), plain `dig`
//! does not, whichever asked first; AD is never set; CD is passed through.
//!
//! Needs Debian's bind9, bind9-utils and bind9-dnsutils; skips loudly without them (fails under
//! `LVS_REQUIRE_INTEROP=1`).

mod named_common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use named_common::{
    Procs, TempDir, answers, dig, free_port, named_conf, require, start_named, wait_ready,
};

const ZONE: &str = "signed.test";

fn run(prog: &Path, dir: &Path, args: &[&str]) {
    let out = Command::new(prog)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", prog.display()));
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        prog.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes, keys and signs the zone in `dir`; returns the signed file's name.
fn signed_zone(dir: &TempDir, keygen: &Path, signzone: &Path) -> String {
    dir.write(
        "zone",
        &format!(
            "$TTL 300\n\
             @ IN SOA ns1.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60\n\
             @ IN NS ns1\n\
             ns1 IN A 127.0.0.1\n\
             www IN A 192.0.2.80\n\
             alias IN CNAME www\n"
        ),
    );
    let base = ["-q", "-K", ".", "-a", "ECDSAP256SHA256", "-n", "ZONE"];
    run(keygen, &dir.0, &[&base[..], &[ZONE]].concat());
    run(keygen, &dir.0, &[&base[..], &["-f", "KSK", ZONE]].concat());
    run(
        signzone,
        &dir.0,
        &["-S", "-K", ".", "-o", ZONE, "-f", "zone.signed", "zone"],
    );
    "zone.signed".into()
}

fn bind_conf(dir: &Path, port: u16, file: &str) -> String {
    let d = dir.display();
    format!(
        "options {{\n  directory \"{d}\";\n  listen-on port {port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  recursion no;\n  pid-file \"{d}/named.pid\";\n  session-keyfile \"{d}/session.key\";\n  dnssec-validation no;\n}};\ncontrols {{ }};\nzone \"{ZONE}\" {{ type primary; file \"{file}\"; }};\n"
    )
}

/// The flags line of dig's header (";; flags: qr rd ra; QUERY: ...").
fn flags(out: &str) -> Vec<String> {
    out.lines()
        .find_map(|l| l.strip_prefix(";; flags: "))
        .map(|l| {
            l.split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Record types in the authority section.
fn authority_types(out: &str) -> Vec<String> {
    out.lines()
        .skip_while(|l| !l.starts_with(";; AUTHORITY SECTION"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().nth(3).map(String::from))
        .collect()
}

fn types(out: &str) -> Vec<String> {
    answers(out).into_iter().map(|r| r.2).collect()
}

#[test]
fn dig_dnssec_sees_signatures_through_lvs_named_and_plain_dig_does_not() {
    let test = "dig_dnssec_sees_signatures_through_lvs_named_and_plain_dig_does_not";
    let Some(progs) = require(test, &["named", "dig", "dnssec-keygen", "dnssec-signzone"]) else {
        return;
    };
    let (named, dig_bin) = (&progs[0], &progs[1]);
    let dir = TempDir::new("dnssec");
    let file = signed_zone(&dir, &progs[2], &progs[3]);
    let bind_port = free_port();
    let bconf = dir.write("bind.conf", &bind_conf(&dir.0, bind_port, &file));
    let mut procs = Procs::default();
    procs.spawn(
        Command::new(named)
            .args(["-g", "-u", "root", "-c"])
            .arg(&bconf)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path("bind.log")).expect("log")),
    );
    let bind_addr: SocketAddr = ([127, 0, 0, 1], bind_port).into();
    wait_ready(bind_addr, "ns1.signed.test", Duration::from_secs(20));
    let port = free_port();
    let conf = dir.write("lvs.conf", &named_conf(bind_addr, port, ""));
    start_named(&mut procs, &dir, &conf, &[]);
    wait_ready(
        ([127, 0, 0, 1], port).into(),
        "ns1.signed.test",
        Duration::from_secs(10),
    );
    let www = "www.signed.test";

    // Plain first (fills the DO=0 entry), then +dnssec (its own entry), then both again from
    // the cache: neither leaks into the other.
    for round in 0..2 {
        let plain = dig(dig_bin, port, &[www, "A"]);
        assert!(plain.contains("status: NOERROR"), "{plain}");
        assert_eq!(types(&plain), ["A"], "round {round}: {plain}");
        let signed = dig(dig_bin, port, &[www, "A", "+dnssec"]);
        assert_eq!(types(&signed), ["A", "RRSIG"], "round {round}: {signed}");
        assert!(
            signed.contains("; EDNS: version: 0, flags: do;"),
            "{signed}"
        );
        assert!(!flags(&signed).contains(&"ad".to_owned()), "{signed}");
        let sig = answers(&signed)
            .into_iter()
            .find(|r| r.2 == "RRSIG")
            .unwrap();
        assert!(
            sig.3.starts_with("A 13 3 300 "),
            "covers A, ECDSA: {}",
            sig.3
        );
        assert!(sig.3.contains(" signed.test. "), "signer: {}", sig.3);
    }

    // The same the other way round for a CNAME chain: +dnssec first.
    let signed = dig(dig_bin, port, &["alias.signed.test", "A", "+dnssec"]);
    assert_eq!(types(&signed), ["CNAME", "RRSIG", "A", "RRSIG"], "{signed}");
    let plain = dig(dig_bin, port, &["alias.signed.test", "A"]);
    assert_eq!(types(&plain), ["CNAME", "A"], "{plain}");

    // NXDOMAIN: the NSEC proof and the signatures for +dnssec, the bare SOA otherwise.
    let nx = dig(dig_bin, port, &["nope.signed.test", "A", "+dnssec"]);
    assert!(nx.contains("status: NXDOMAIN"), "{nx}");
    let auth = authority_types(&nx);
    for t in ["SOA", "RRSIG", "NSEC"] {
        assert!(auth.iter().any(|a| a == t), "{t} missing: {nx}");
    }
    let nx_plain = dig(dig_bin, port, &["nope.signed.test", "A"]);
    assert_eq!(authority_types(&nx_plain), ["SOA"], "{nx_plain}");

    // DNSKEY with +dnssec: the key set and its signature; CD is echoed (passed upstream).
    let keys = dig(dig_bin, port, &[ZONE, "DNSKEY", "+dnssec", "+cd"]);
    let t = types(&keys);
    assert_eq!(t.iter().filter(|x| *x == "DNSKEY").count(), 2, "{keys}");
    assert!(t.iter().any(|x| x == "RRSIG"), "{keys}");
    assert!(flags(&keys).contains(&"cd".to_owned()), "{keys}");
}
