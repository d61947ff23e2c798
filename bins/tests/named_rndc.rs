//! The stock `rndc` (Debian bind9-utils) against lvs-named's control channel: `status`,
//! `flush`, `flushname`, `stats`, `dumpdb -cache`, `reload`, a wrong key, and `stop`; plus a
//! real rndc request captured on a bare socket and checked by `lvs_dns::rndc`.
//!
//! Without rndc the tests print a SKIP line; with `LVS_REQUIRE_INTEROP=1` they fail instead.

mod named_common;

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lvs_dns::rndc::{Key, Server, Session, Step, Value, codec};
use lvs_dns::wire::rtype;
use named_common::{
    Procs, Stub, TempDir, free_port, named_conf, query, start_named, udp_ask, wait_ready,
};

const WAIT: Duration = Duration::from_secs(3);

fn find(prog: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin"])
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.is_file())
}

/// rndc and rndc-confgen, or `None` after a loud SKIP (a panic under LVS_REQUIRE_INTEROP=1).
fn tools(test: &str) -> Option<(PathBuf, PathBuf)> {
    match (find("rndc"), find("rndc-confgen")) {
        (Some(r), Some(g)) => Some((r, g)),
        _ => {
            assert!(
                std::env::var("LVS_REQUIRE_INTEROP").as_deref() != Ok("1"),
                "{test}: rndc/rndc-confgen not found and LVS_REQUIRE_INTEROP=1"
            );
            eprintln!("SKIP {test}: rndc or rndc-confgen not found (Debian package bind9-utils)");
            None
        }
    }
}

/// A `key "NAME" { ... };` statement from rndc-confgen.
fn make_key(confgen: &Path, dir: &TempDir, name: &str, file: &str) -> String {
    let path = dir.path(file);
    let st = Command::new(confgen)
        .args(["-a", "-A", "hmac-sha256", "-k", name, "-c"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run rndc-confgen");
    assert!(st.success(), "rndc-confgen failed");
    std::fs::read_to_string(&path).expect("read key")
}

fn rndc(rndc: &Path, conf: &Path, port: u16, args: &[&str]) -> Output {
    Command::new(rndc)
        .arg("-c")
        .arg(conf)
        .args(["-s", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run rndc")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn stock_rndc_drives_lvs_named() {
    let Some((rndc_bin, confgen)) = tools("stock_rndc_drives_lvs_named") else {
        return;
    };
    let stub = Stub::start();
    let dir = TempDir::new("rndc");
    let key = make_key(&confgen, &dir, "rndc-key", "rndc.key");
    let port = free_port();
    let cport = free_port();
    let extra = format!("  directory \"{}\";\n", dir.0.display());
    let conf = dir.write(
        "named.conf",
        &format!(
            "{key}\n{}controls {{ inet 127.0.0.1 port {cport} allow {{ 127.0.0.1; }} keys {{ \"rndc-key\"; }}; }};\n",
            named_conf(stub.addr, port, &extra)
        ),
    );
    let rconf = dir.write(
        "rndc.conf",
        &format!("{key}\noptions {{ default-key \"rndc-key\"; }};\n"),
    );
    let other = make_key(&confgen, &dir, "rndc-key", "other.key");
    let bad_conf = dir.write(
        "bad.conf",
        &format!("{other}\noptions {{ default-key \"rndc-key\"; }};\n"),
    );
    let mut procs = Procs::default();
    let named = start_named(&mut procs, &dir, &conf, &[]);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_ready(addr, "1.test", Duration::from_secs(10));
    let log = || std::fs::read_to_string(dir.path("lvs-named.log")).unwrap_or_default();

    let o = rndc(&rndc_bin, &rconf, cport, &["status"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}\n{}", text(&o), log());
    for line in [
        "version: lvs-named",
        "number of zones: 0",
        "debug level: 0",
        "xfers running: 0",
        "query logging is OFF",
        "server is up and running",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }

    // flush: the next query goes upstream again.
    let ask = |id| udp_ask(addr, &query(id, "7.test", rtype::A, None), WAIT).expect("reply");
    ask(2);
    ask(3);
    assert_eq!(
        stub.count("7.test", "udp"),
        1,
        "second answer from the cache"
    );
    let o = rndc(&rndc_bin, &rconf, cport, &["flush"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(o.stdout.is_empty(), "flush is silent: {}", text(&o));
    ask(4);
    assert_eq!(stub.count("7.test", "udp"), 2, "flush emptied the cache");
    let o = rndc(&rndc_bin, &rconf, cport, &["flushname", "7.test"]);
    assert!(o.status.success(), "{}", text(&o));
    ask(5);
    assert_eq!(stub.count("7.test", "udp"), 3, "flushname removed the name");
    let o = rndc(&rndc_bin, &rconf, cport, &["flushtree", "test"]);
    assert!(o.status.success(), "{}", text(&o));
    ask(6);
    assert_eq!(
        stub.count("7.test", "udp"),
        4,
        "flushtree removed the subtree"
    );

    let o = rndc(&rndc_bin, &rconf, cport, &["dumpdb", "-cache"]);
    assert!(o.status.success(), "{}", text(&o));
    let dump = std::fs::read_to_string(dir.path("named_dump.db")).expect("named_dump.db");
    assert!(dump.contains("7.test. 300 IN A ; answer"), "{dump}");
    let o = rndc(&rndc_bin, &rconf, cport, &["stats"]);
    assert!(o.status.success(), "{}", text(&o));
    let stats = std::fs::read_to_string(dir.path("named.stats")).expect("named.stats");
    assert!(stats.starts_with("+++ Statistics Dump +++ ("), "{stats}");
    assert!(stats.contains("++ Cache Statistics ++"), "{stats}");
    assert!(stats.contains("--- Statistics Dump ---"), "{stats}");

    let o = rndc(&rndc_bin, &rconf, cport, &["nosuchcommand"]);
    assert!(!o.status.success(), "{}", text(&o));
    let o = rndc(&rndc_bin, &bad_conf, cport, &["status"]);
    assert!(!o.status.success(), "a wrong key is refused: {}", text(&o));

    let o = rndc(&rndc_bin, &rconf, cport, &["reload"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("server reload successful"),
        "{}",
        text(&o)
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(log().contains("reload"), "{}", log());
    ask(7);

    let o = rndc(&rndc_bin, &rconf, cport, &["stop"]);
    assert!(o.status.success(), "{}", text(&o));
    let st = procs.wait_exit(named, Duration::from_secs(10));
    assert!(
        st.is_some_and(|s| s.success()),
        "lvs-named exits cleanly on rndc stop: {st:?}\n{}",
        log()
    );
}

/// The first frame of a real rndc run, captured on a bare socket, verifies with our code.
#[test]
fn captured_rndc_request_parses_and_verifies() {
    let Some((rndc_bin, confgen)) = tools("captured_rndc_request_parses_and_verifies") else {
        return;
    };
    let dir = TempDir::new("rndc-capture");
    let key_stmt = make_key(&confgen, &dir, "cap-key", "cap.key");
    let secret = key_stmt
        .split("secret \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("secret in rndc-confgen output");
    let key = Key::from_conf("cap-key", "hmac-sha256", secret).expect("key");
    let rconf = dir.write(
        "rndc.conf",
        &format!("{key_stmt}\noptions {{ default-key \"cap-key\"; }};\n"),
    );
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let mut procs = Procs::default();
    procs.spawn(
        Command::new(&rndc_bin)
            .arg("-c")
            .arg(&rconf)
            .args(["-s", "127.0.0.1", "-p", &port.to_string(), "status"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let (mut s, _) = l.accept().expect("accept");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let frame = loop {
        if let Some(n) = codec::frame_len(&buf).expect("frame length") {
            break buf[..n].to_vec();
        }
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "rndc closed before a full frame");
        buf.extend_from_slice(&chunk[..n]);
    };
    let d = codec::decode(&frame).expect("decode");
    assert!(key.verify(&frame, &d), "rndc's HMAC-SHA256 verifies");
    let ctrl = d.table.table("_ctrl").expect("_ctrl");
    assert!(ctrl.get("_ser").and_then(Value::uint32).is_some());
    let data = d.table.table("_data").expect("_data");
    assert_eq!(data.get("type").and_then(Value::text), Some("null"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut server = Server::new(vec![key]);
    let mut session = Session::default();
    let step = server
        .receive(&mut session, now, &frame, 42)
        .expect("accepted");
    assert!(matches!(step, Step::Handshake(_)));
    assert_eq!(session.nonce(), 42);
}
