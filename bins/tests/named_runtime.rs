//! lvs-named end to end against an in-process upstream stub on loopback: UDP and TCP clients,
//! pipelining, the cache, TC=1 then upstream TCP, connection limits, idle timeout, workers,
//! SIGHUP and SIGTERM, and `--checkconf`.

mod named_common;

use std::collections::HashSet;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use lvs_dns::wire::{Message, rtype};
use named_common::{
    Procs, Stub, TempDir, a_records, free_port, named_conf, query, start_named, tcp_read, tcp_send,
    udp_ask, wait_ready,
};

const WAIT: Duration = Duration::from_secs(3);

struct Setup {
    stub: Stub,
    dir: TempDir,
    procs: Procs,
    addr: SocketAddr,
    conf: std::path::PathBuf,
}

fn setup(tag: &str, extra: &str, args: &[&str]) -> Setup {
    let stub = Stub::start();
    let dir = TempDir::new(tag);
    let port = free_port();
    let conf = dir.write("named.conf", &named_conf(stub.addr, port, extra));
    let mut procs = Procs::default();
    start_named(&mut procs, &dir, &conf, args);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_ready(addr, "1.test", Duration::from_secs(10));
    Setup {
        stub,
        dir,
        procs,
        addr,
        conf,
    }
}

#[test]
fn udp_answers_are_cached_and_ttls_count_down() {
    let s = setup("cache", "", &[]);
    let r1 = udp_ask(s.addr, &query(11, "7.test", rtype::A, None), WAIT).expect("reply");
    assert_eq!(Message::parse(&r1).unwrap().id(), 11);
    assert_eq!(a_records(&r1), [([192, 0, 2, 7].into(), 300)]);
    std::thread::sleep(Duration::from_millis(1100));
    let r2 = udp_ask(s.addr, &query(12, "7.test", rtype::A, None), WAIT).expect("reply");
    let recs = a_records(&r2);
    assert_eq!(recs.len(), 1);
    assert!(recs[0].1 < 300, "the cached TTL counts down: {recs:?}");
    assert_eq!(
        s.stub.count("7.test", "udp"),
        1,
        "the second query was a cache hit"
    );
}

#[test]
fn tcp_pipelined_queries_all_get_their_replies() {
    let s = setup("pipeline", "", &[]);
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let qs: Vec<Vec<u8>> = (1..=20u16)
        .map(|i| query(100 + i, &format!("{}.test", 20 + i), rtype::A, None))
        .collect();
    let refs: Vec<&[u8]> = qs.iter().map(Vec::as_slice).collect();
    tcp_send(&mut c, &refs);
    let mut ids = HashSet::new();
    for _ in 0..20 {
        let r = tcp_read(&mut c).expect("reply");
        let m = Message::parse(&r).unwrap();
        let recs = a_records(&r);
        assert_eq!(recs.len(), 1);
        assert_eq!(
            u16::from(recs[0].0.octets()[3]) + 80,
            m.id(),
            "reply matches its query"
        );
        ids.insert(m.id());
    }
    assert_eq!(ids.len(), 20);
}

#[test]
fn large_answers_truncate_on_udp_and_arrive_over_tcp() {
    let s = setup("tc", "", &[]);
    let r = udp_ask(s.addr, &query(5, "big.test", rtype::A, Some(1232)), WAIT).expect("reply");
    let m = Message::parse(&r).unwrap();
    assert!(m.header().tc(), "too large for UDP: TC=1");
    assert!(
        s.stub.count("big.test", "tcp") >= 1,
        "the forwarder retried upstream over TCP"
    );
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    tcp_send(&mut c, &[&query(6, "big.test", rtype::A, None)]);
    let r = tcp_read(&mut c).expect("tcp reply");
    assert_eq!(a_records(&r).len(), 120);
    assert!(!Message::parse(&r).unwrap().header().tc());
}

fn closed_within(c: &mut TcpStream, limit: Duration) -> bool {
    c.set_read_timeout(Some(limit)).unwrap();
    let mut b = [0u8; 1];
    match c.read(&mut b) {
        Ok(n) => n == 0,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[test]
fn tcp_clients_beyond_the_limit_are_refused_and_idle_ones_closed() {
    let s = setup(
        "tcplimits",
        "  tcp-clients 2;\n  tcp-idle-timeout 10;\n",
        &[],
    );
    let mut a = TcpStream::connect(s.addr).unwrap();
    let mut b = TcpStream::connect(s.addr).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut third = TcpStream::connect(s.addr).unwrap();
    let start = Instant::now();
    assert!(
        closed_within(&mut third, Duration::from_secs(1)),
        "third connection refused"
    );
    assert!(start.elapsed() < Duration::from_secs(1));
    // Keep `a` busy; `b` goes idle and is closed after about a second.
    tcp_send(&mut a, &[&query(1, "3.test", rtype::A, None)]);
    a.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(a_records(&tcp_read(&mut a).unwrap()).len(), 1);
    assert!(
        closed_within(&mut b, Duration::from_secs(4)),
        "idle connection closed"
    );
}

#[test]
fn several_workers_share_the_port_and_sigterm_stops_them() {
    let mut s = setup("workers", "", &["-n", "2"]);
    for i in 0..40u16 {
        let q = query(i, &format!("{}.test", 100 + i % 5), rtype::A, None);
        let r = udp_ask(s.addr, &q, WAIT).expect("reply");
        assert_eq!(a_records(&r).len(), 1);
    }
    s.procs.signal(0, libc::SIGTERM);
    let st = s
        .procs
        .wait_exit(0, Duration::from_secs(5))
        .expect("stopped on SIGTERM");
    assert!(st.success(), "{st:?}");
}

#[test]
fn sighup_applies_the_new_configuration() {
    let mut s = setup("reload", "", &[]);
    let r = udp_ask(s.addr, &query(1, "9.test", rtype::A, None), WAIT).unwrap();
    assert_eq!(a_records(&r)[0].1, 300);
    let text = named_conf(s.stub.addr, s.addr.port(), "  max-cache-ttl 60;\n");
    std::fs::write(&s.conf, text).unwrap();
    s.procs.signal(0, libc::SIGHUP);
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let r = udp_ask(s.addr, &query(2, "9.test", rtype::A, None), WAIT).unwrap();
        if a_records(&r)[0].1 <= 60 {
            break;
        }
        assert!(Instant::now() < end, "reload not applied");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A broken file on SIGHUP keeps the running configuration.
    std::fs::write(&s.conf, "options { nonsense; };").unwrap();
    s.procs.signal(0, libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(200));
    assert!(udp_ask(s.addr, &query(3, "9.test", rtype::A, None), WAIT).is_some());
    let log = std::fs::read_to_string(s.dir.path("lvs-named.log")).unwrap();
    assert!(log.contains("cache kept"), "{log}");
    assert!(log.contains("reload failed"), "{log}");
    assert!(
        s.procs.wait_exit(0, Duration::from_millis(10)).is_none(),
        "still running"
    );
}

/// Waits until the log shows `n` applied reloads.
fn wait_reloads(dir: &TempDir, n: usize) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(dir.path("lvs-named.log")).unwrap_or_default();
        if log.matches("configuration applied").count() >= n {
            return;
        }
        assert!(Instant::now() < end, "reload {n} not applied:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn reload_to_a_dead_forwarder_keeps_answering_from_the_cache() {
    let s = setup("reload-dead", "", &[]);
    let r = udp_ask(s.addr, &query(1, "42.test", rtype::A, None), WAIT).unwrap();
    assert_eq!(a_records(&r), [([192, 0, 2, 42].into(), 300)]);
    // The forwarder list now names a loopback port nobody listens on.
    let dead: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    std::fs::write(&s.conf, named_conf(dead, s.addr.port(), "")).unwrap();
    s.procs.signal(0, libc::SIGHUP);
    wait_reloads(&s.dir, 1);
    let r = udp_ask(s.addr, &query(2, "42.test", rtype::A, None), WAIT).expect("reply");
    let m = Message::parse(&r).unwrap();
    assert_eq!((m.id(), m.rcode()), (2, 0));
    let recs = a_records(&r);
    assert_eq!(recs.len(), 1, "answered from the cache: {recs:?}");
    assert_eq!(recs[0].0, std::net::Ipv4Addr::from([192, 0, 2, 42]));
    assert!(recs[0].1 <= 300);
    assert_eq!(
        s.stub.count("42.test", "udp"),
        1,
        "the old forwarder was not asked again"
    );
    // A name that is not cached goes to the dead forwarder: SERVFAIL.
    let r = udp_ask(
        s.addr,
        &query(3, "43.test", rtype::A, None),
        Duration::from_secs(8),
    )
    .expect("reply");
    assert_eq!(Message::parse(&r).unwrap().rcode(), 2, "SERVFAIL");
    assert_eq!(s.stub.count("43.test", "udp"), 0);
}

#[test]
fn checkconf_is_silent_for_valid_files_and_names_file_and_line_otherwise() {
    let dir = TempDir::new("checkconf");
    let good = dir.write(
        "good.conf",
        &named_conf("127.0.0.1:53".parse().unwrap(), 5353, ""),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_lvs-named"))
        .arg("--checkconf")
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let bad = dir.write(
        "bad.conf",
        "options {\n  forward only;\n  frobnicate yes;\n};\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_lvs-named"))
        .arg("--checkconf")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}:3: unknown option 'frobnicate'\n", bad.display())
    );
}

#[test]
fn an_unreachable_forwarder_gives_servfail_not_silence() {
    // A loopback port with no listener: ECONNREFUSED reaches the machine as an upstream error.
    let dir = TempDir::new("refused");
    let port = free_port();
    let dead: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let conf = dir.write("named.conf", &named_conf(dead, port, ""));
    let mut procs = Procs::default();
    start_named(&mut procs, &dir, &conf, &[]);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let start = Instant::now();
    let r = wait_ready(addr, "1.test", Duration::from_secs(10));
    let m = Message::parse(&r).unwrap();
    assert_eq!(m.rcode(), 2, "SERVFAIL");
    assert!(start.elapsed() < Duration::from_secs(8));
}
