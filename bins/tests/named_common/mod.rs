//! Helpers shared by the lvs-named integration tests: temp dirs and child processes that clean
//! up on drop, free loopback ports, DNS messages, and a small upstream stub.

// Each test binary uses a different subset of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use lvs_dns::wire::{Flags, Message, MessageBuilder, NameBuf, RData, Section, class, rtype};

/// A directory removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("lvs-named-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        Self(p)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Child processes killed (and reaped) on drop, even when a test panics.
#[derive(Default)]
pub(crate) struct Procs(pub(crate) Vec<Child>);

impl Procs {
    pub(crate) fn spawn(&mut self, cmd: &mut Command) -> usize {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        self.0.push(child);
        self.0.len() - 1
    }

    pub(crate) fn pid(&self, i: usize) -> i32 {
        i32::try_from(self.0[i].id()).expect("pid")
    }

    pub(crate) fn signal(&self, i: usize, sig: i32) {
        // SAFETY: kill(2) on the pid of a child this guard spawned and has not reaped.
        unsafe {
            libc::kill(self.pid(i), sig);
        }
    }

    /// Waits up to `limit` for child `i` to exit.
    pub(crate) fn wait_exit(
        &mut self,
        i: usize,
        limit: Duration,
    ) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.0[i].try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A loopback port free for both UDP and TCP right now, never handed out twice in this process.
pub(crate) fn free_port() -> u16 {
    let (udp, tcp) = bound_pair();
    let port = udp.local_addr().expect("addr").port();
    drop((udp, tcp));
    port
}

/// A UDP socket and a TCP listener on the same fresh loopback port.
fn bound_pair() -> (UdpSocket, TcpListener) {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    for _ in 0..200 {
        let u = UdpSocket::bind("127.0.0.1:0").expect("udp");
        let port = u.local_addr().expect("addr").port();
        let mut given = GIVEN.lock().expect("lock");
        if given.contains(&port) {
            continue;
        }
        if let Ok(t) = TcpListener::bind(("127.0.0.1", port)) {
            given.push(port);
            return (u, t);
        }
    }
    panic!("no free port");
}

/// Finds a program on PATH or in the sbin directories.
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .map(PathBuf::from)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The programs, or `None` after a loud SKIP (a panic under `LVS_REQUIRE_INTEROP=1`).
pub(crate) fn require(test: &str, names: &[&str]) -> Option<Vec<PathBuf>> {
    let found: Vec<_> = names.iter().map(|n| (n, find_program(n))).collect();
    let missing: Vec<&str> = found
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| **n)
        .collect();
    if missing.is_empty() {
        return Some(found.into_iter().filter_map(|(_, p)| p).collect());
    }
    let msg = format!(
        "SKIP {test}: {missing:?} not installed (Debian: bind9 bind9-utils bind9-dnsutils)"
    );
    if std::env::var("LVS_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("{msg} and LVS_REQUIRE_INTEROP=1");
    }
    eprintln!("\n!!!!!!!! {msg} !!!!!!!!\n");
    None
}

/// Starts lvs-named with `conf` (logging to `lvs-named.log` in `dir`); returns its index.
pub(crate) fn start_named(procs: &mut Procs, dir: &TempDir, conf: &Path, extra: &[&str]) -> usize {
    let log = std::fs::File::create(dir.path("lvs-named.log")).expect("log");
    procs.spawn(
        Command::new(env!("CARGO_BIN_EXE_lvs-named"))
            .arg("-c")
            .arg(conf)
            .args(extra)
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(log),
    )
}

/// A query for `name`/`qtype` with `id`, RD set, no EDNS unless `edns` is given.
pub(crate) fn query(id: u16, name: &str, qtype: u16, edns: Option<u16>) -> Vec<u8> {
    let mut out = BytesMut::new();
    let mut b = MessageBuilder::new(&mut out).expect("builder");
    b.set_id(id);
    b.set_flags(Flags::RD);
    let n = NameBuf::from_text(name).expect("name");
    b.question(&n.as_name(), qtype, class::IN)
        .expect("question");
    if let Some(p) = edns {
        b.opt(p, false).expect("opt");
    }
    b.finish().expect("finish");
    out.to_vec()
}

/// Sends `q` over UDP to `to` and returns the reply (or `None` after `wait`).
pub(crate) fn udp_ask(to: SocketAddr, q: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").ok()?;
    s.set_read_timeout(Some(wait)).ok()?;
    s.send_to(q, to).ok()?;
    let mut buf = vec![0u8; 65_535];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Retries a UDP query until a reply arrives (the server is starting).
pub(crate) fn wait_ready(to: SocketAddr, name: &str, limit: Duration) -> Vec<u8> {
    let end = Instant::now() + limit;
    let mut id = 1;
    while Instant::now() < end {
        if let Some(r) = udp_ask(
            to,
            &query(id, name, rtype::A, None),
            Duration::from_millis(300),
        ) {
            return r;
        }
        id += 1;
    }
    panic!("{to} did not answer within {limit:?}");
}

/// Writes framed messages in one write.
pub(crate) fn tcp_send(s: &mut TcpStream, msgs: &[&[u8]]) {
    let mut buf = Vec::new();
    for m in msgs {
        buf.extend_from_slice(&u16::try_from(m.len()).expect("len").to_be_bytes());
        buf.extend_from_slice(m);
    }
    s.write_all(&buf).expect("tcp write");
}

/// Reads one framed message.
pub(crate) fn tcp_read(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut m = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut m)?;
    Ok(m)
}

/// The A addresses and TTLs in an answer.
pub(crate) fn a_records(reply: &[u8]) -> Vec<(std::net::Ipv4Addr, u32)> {
    let m = Message::parse(reply).expect("parse reply");
    m.answers()
        .filter_map(|rr| match rr.data() {
            RData::A(a) => Some((a, rr.ttl)),
            _ => None,
        })
        .collect()
}

type Counts = Mutex<HashMap<(String, &'static str), usize>>;

/// An upstream stub on UDP and TCP: `N.test` gets one A record 192.0.2.N (TTL 300); `big.test`
/// gets 120 A records (too large for UDP: TC=1 there). Counts queries per (name, transport).
pub(crate) struct Stub {
    pub(crate) addr: SocketAddr,
    pub(crate) counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Stub {
    pub(crate) fn start() -> Self {
        let (udp, tcp) = bound_pair();
        let addr = udp.local_addr().expect("addr");
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        tcp.set_nonblocking(true).expect("nonblocking");
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (c1, s1) = (Arc::clone(&counts), Arc::clone(&stop));
        let t1 = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !s1.load(Ordering::SeqCst) {
                if let Ok((n, from)) = udp.recv_from(&mut buf)
                    && let Some(r) = answer(&buf[..n], false, &c1)
                {
                    let _ = udp.send_to(&r, from);
                }
            }
        });
        let (c2, s2) = (Arc::clone(&counts), Arc::clone(&stop));
        let t2 = std::thread::spawn(move || {
            while !s2.load(Ordering::SeqCst) {
                match tcp.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).expect("blocking");
                        s.set_read_timeout(Some(Duration::from_secs(2)))
                            .expect("timeout");
                        while let Ok(q) = tcp_read(&mut s) {
                            if let Some(r) = answer(&q, true, &c2) {
                                tcp_send(&mut s, &[&r]);
                            }
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self {
            addr,
            counts,
            stop,
            threads: vec![t1, t2],
        }
    }

    pub(crate) fn count(&self, name: &str, transport: &'static str) -> usize {
        let c = self.counts.lock().expect("lock");
        c.get(&(name.to_owned(), transport)).copied().unwrap_or(0)
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn answer(q: &[u8], tcp: bool, counts: &Counts) -> Option<Vec<u8>> {
    let m = Message::parse(q).ok()?;
    let question = m.question()?;
    let name = question.name.to_string().to_ascii_lowercase();
    let name = name.trim_end_matches('.').to_owned();
    *counts
        .lock()
        .expect("lock")
        .entry((name.clone(), if tcp { "tcp" } else { "udp" }))
        .or_default() += 1;
    let mut out = BytesMut::new();
    let mut b = MessageBuilder::new(&mut out).ok()?;
    b.set_id(m.id());
    let big = name == "big.test";
    let mut flags = Flags(Flags::QR.0 | Flags::AA.0 | Flags::RD.0);
    if big && !tcp {
        flags = Flags(flags.0 | Flags::TC.0);
    }
    b.set_flags(flags);
    b.question(&question.name, question.qtype, question.qclass)
        .ok()?;
    if big && tcp {
        for i in 0..120u8 {
            let rd = RData::A([198, 51, 100, i].into());
            b.record(Section::Answer, &question.name, class::IN, 300, &rd)
                .ok()?;
        }
    } else if !big {
        let n: u8 = name.split('.').next()?.parse().ok()?;
        let rd = RData::A([192, 0, 2, n].into());
        b.record(Section::Answer, &question.name, class::IN, 300, &rd)
            .ok()?;
    }
    b.finish().ok()?;
    Some(out.to_vec())
}

/// A minimal lvs-named configuration forwarding to `upstream`, listening on 127.0.0.1:`port`.
pub(crate) fn named_conf(upstream: SocketAddr, port: u16, extra: &str) -> String {
    format!(
        "options {{\n  forward only;\n  forwarders {{ {} port {}; }};\n  listen-on port {port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n{extra}}};\n",
        upstream.ip(),
        upstream.port()
    )
}

/// `dig` output for one query.
pub(crate) fn dig(dig: &Path, port: u16, args: &[&str]) -> String {
    let out = Command::new(dig)
        .arg("@127.0.0.1")
        .arg("-p")
        .arg(port.to_string())
        .args(["+tries=1", "+time=3"])
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("run dig");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Answer-section lines: (owner, ttl, type, rdata).
pub(crate) fn answers(out: &str) -> Vec<(String, u32, String, String)> {
    let mut in_answer = false;
    let mut v = Vec::new();
    for line in out.lines() {
        if line.starts_with(";; ANSWER SECTION") {
            in_answer = true;
            continue;
        }
        if in_answer {
            if line.trim().is_empty() {
                break;
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() >= 5 {
                v.push((
                    f[0].to_owned(),
                    f[1].parse().unwrap_or(0),
                    f[3].to_owned(),
                    f[4..].join(" "),
                ));
            }
        }
    }
    v
}
