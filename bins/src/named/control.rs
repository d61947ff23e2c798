//! The rndc control channel: one thread per `controls { inet ... }` channel accepts TCP
//! connections, runs the [`lvs_dns::rndc`] checks and answers the stock `rndc` tool.
//!
//! `status` is answered here; `flush`, `flushname`, `flushtree`, `stats` and `dumpdb -cache`
//! go to every worker's forwarder ([`WorkerOp`]); `reload` and `stop` raise SIGHUP and
//! SIGTERM on the process, so they take the same path as the signals.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lvs_core::Instant;
use lvs_dns::forwarder::{Acls, Forwarder, MatchList};
use lvs_dns::rndc::{Key, Server, Session, Step, codec};
use lvs_dns::wire::NameBuf;
use mio::Waker;
use rand::Rng as _;
use rand::rngs::StdRng;

use super::NamedConf;
use super::worker::Command;

/// How long one rndc connection may stay silent.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for a worker's answer.
const WORKER_TIMEOUT: Duration = Duration::from_secs(10);

/// A command for one worker's forwarder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkerOp {
    /// Empty the cache.
    Flush,
    /// Remove the cached answers for one name.
    FlushName(String),
    /// Remove the cached answers for a name and every name below it.
    FlushTree(String),
    /// The forwarder's counters, one `COUNT DESCRIPTION` line each.
    Stats,
    /// The cache, one line per cached answer.
    DumpCache,
    /// Clients waiting for an upstream answer (a decimal number).
    Clients,
}

/// Runs `op` on a worker's forwarder.
pub fn apply(fwd: &mut Forwarder<StdRng>, now: Instant, op: &WorkerOp) -> Result<String, String> {
    match op {
        WorkerOp::Flush => {
            fwd.flush_cache();
            Ok(String::new())
        }
        WorkerOp::FlushName(n) => fwd
            .flush_name(n)
            .map(|_| String::new())
            .map_err(|e| format!("'{n}': {e}")),
        WorkerOp::FlushTree(n) => {
            let tree = canonical(n)?;
            let names: Vec<String> = fwd
                .cache()
                .entries(now)
                .filter_map(|(key, _, _)| name_part(key))
                .filter(|name| at_or_below(name, &tree))
                .map(name_text)
                .collect();
            for name in names {
                fwd.flush_name(&name)
                    .map_err(|e| format!("'{name}': {e}"))?;
            }
            Ok(String::new())
        }
        WorkerOp::Stats => {
            let s = fwd.stats();
            let c = fwd.cache();
            let rows = [
                (s.queries_udp + s.queries_tcp, "QUERY"),
                (s.queries_udp, "UDP queries received"),
                (s.queries_tcp, "TCP queries received"),
                (s.replies, "responses sent"),
                (s.servfail, "SERVFAIL"),
                (s.refused, "REFUSED"),
                (s.formerr, "FORMERR"),
                (s.upstream_udp, "UDP queries sent upstream"),
                (s.upstream_tcp, "TCP queries sent upstream"),
                (s.upstream_timeouts, "query timeouts"),
                (s.fetch_failures, "fetch failures"),
                (s.client_drops(), "queries dropped"),
                (s.cache_hits, "cache hits"),
                (s.cache_misses, "cache misses"),
                (s.stale_answers, "stale answers"),
                (c.len() as u64, "cache database nodes"),
                (c.bytes() as u64, "cache memory in use"),
            ];
            let mut out = String::new();
            for (n, what) in rows {
                let _ = writeln!(out, "{n} {what}");
            }
            Ok(out)
        }
        WorkerOp::DumpCache => {
            let mut out = String::new();
            for (key, a, fresh) in fwd.cache().entries(now) {
                let Some(name) = name_part(key) else { continue };
                let t = key
                    .get(name.len()..name.len() + 2)
                    .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
                let owner = name_text(name);
                let stale = if fresh { "" } else { " (stale)" };
                let _ = match a.kind() {
                    lvs_dns::cache::AnswerKind::Positive => {
                        writeln!(
                            out,
                            "{owner} {} IN {} ; answer{stale}",
                            a.ttl(),
                            type_text(t)
                        )
                    }
                    lvs_dns::cache::AnswerKind::NxDomain => writeln!(
                        out,
                        "{owner} {} \\-{} ;-$NXDOMAIN{stale}",
                        a.ttl(),
                        type_text(t)
                    ),
                    lvs_dns::cache::AnswerKind::NoData => writeln!(
                        out,
                        "{owner} {} \\-{} ;-$NXRRSET{stale}",
                        a.ttl(),
                        type_text(t)
                    ),
                };
            }
            Ok(out)
        }
        WorkerOp::Clients => Ok(fwd.waiting_clients().to_string()),
    }
}

fn canonical(name: &str) -> Result<Vec<u8>, String> {
    let n = NameBuf::from_text(name).map_err(|e| format!("'{name}': {e}"))?;
    let mut wire = [0u8; 255];
    let len = n
        .as_name()
        .write_canonical(&mut wire)
        .map_err(|e| format!("'{name}': {e}"))?;
    Ok(wire[..len].to_vec())
}

/// The wire name at the start of a cache key (labels up to and including the root label).
fn name_part(key: &[u8]) -> Option<&[u8]> {
    let mut i = 0;
    loop {
        let l = usize::from(*key.get(i)?);
        if l == 0 {
            return Some(&key[..=i]);
        }
        i += 1 + l;
    }
}

/// Whether wire name `name` equals `tree` or lies below it (both lowercase).
fn at_or_below(name: &[u8], tree: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        if name[i..] == *tree {
            return true;
        }
        i += 1 + usize::from(name[i]);
    }
    false
}

fn name_text(name: &[u8]) -> String {
    let mut s = String::new();
    let mut i = 0;
    while let Some(&l) = name.get(i) {
        if l == 0 {
            break;
        }
        for &b in name.get(i + 1..i + 1 + usize::from(l)).unwrap_or(&[]) {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                s.push(char::from(b));
            } else {
                let _ = write!(s, "\\{b:03}");
            }
        }
        s.push('.');
        i += 1 + usize::from(l);
    }
    if s.is_empty() {
        s.push('.');
    }
    s
}

fn type_text(t: u16) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        65 => "HTTPS".into(),
        other => format!("TYPE{other}"),
    }
}

/// One configured control channel.
#[derive(Clone, Debug)]
pub struct Channel {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Who may connect.
    pub allow: MatchList,
    /// Keys accepted.
    pub keys: Vec<Key>,
    /// Only `status` is allowed.
    pub read_only: bool,
}

/// The channels of `conf`, keys resolved. A channel without keys is an error: BIND would
/// read rndc.key, which lvs-named does not.
pub fn channels(conf: &NamedConf) -> Result<Vec<Channel>, String> {
    conf.controls
        .iter()
        .map(|c| {
            if c.keys.is_empty() {
                return Err(format!(
                    "controls {}: no keys listed (rndc.key is not read); list a key",
                    c.addr
                ));
            }
            let keys = c
                .keys
                .iter()
                .map(|name| {
                    let k = conf
                        .keys
                        .iter()
                        .find(|k| &k.name == name)
                        .ok_or_else(|| format!("controls: key '{name}' is not defined"))?;
                    Key::from_conf(&k.name, &k.algorithm, &k.secret)
                        .map_err(|e| format!("key '{name}': {e}"))
                })
                .collect::<Result<_, String>>()?;
            Ok(Channel {
                addr: c.addr,
                allow: c.allow.clone(),
                keys,
                read_only: c.read_only,
            })
        })
        .collect()
}

/// What `status` and `stats` report about the process.
#[derive(Clone, Debug)]
pub struct Info {
    /// The configuration file.
    pub config: String,
    /// Worker threads.
    pub workers: usize,
    /// Unix seconds at start.
    pub boot: u64,
    /// `statistics-file` (default `named.stats`).
    pub statistics_file: String,
    /// `dump-file` (default `named_dump.db`).
    pub dump_file: String,
}

/// Every worker's command channel.
pub type Workers = Vec<(Sender<Command>, Arc<Waker>)>;

struct Ctx {
    channel: Channel,
    acls: Acls,
    workers: Workers,
    info: Info,
}

/// Binds every channel and serves each on its own thread; returns the bound addresses.
pub fn start(
    channels: Vec<Channel>,
    acls: &Acls,
    workers: &Workers,
    info: &Info,
) -> Result<Vec<SocketAddr>, String> {
    let mut bound = Vec::new();
    for ch in channels {
        let l = TcpListener::bind(ch.addr).map_err(|e| format!("controls {}: {e}", ch.addr))?;
        let local = l.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(%local, "command channel listening");
        bound.push(local);
        let ctx = Ctx {
            channel: ch,
            acls: acls.clone(),
            workers: workers.clone(),
            info: info.clone(),
        };
        std::thread::Builder::new()
            .name("named-rndc".into())
            .spawn(move || serve(&l, &ctx))
            .map_err(|e| format!("spawn: {e}"))?;
    }
    Ok(bound)
}

fn serve(l: &TcpListener, ctx: &Ctx) {
    let mut server = Server::new(ctx.channel.keys.clone());
    let mut rng = match super::os_rng() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(%e, "command channel disabled");
            return;
        }
    };
    for conn in l.incoming() {
        let Ok(stream) = conn else { continue };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        if !ctx.acls.allows(&ctx.channel.allow, canonical_ip(peer.ip())) {
            tracing::warn!(%peer, "rejected command channel message: address not allowed");
            continue;
        }
        if let Err(e) = connection(stream, &mut server, &mut rng, ctx) {
            tracing::warn!(%peer, %e, "command channel connection ended");
        }
    }
}

fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn connection(
    mut s: TcpStream,
    server: &mut Server,
    rng: &mut StdRng,
    ctx: &Ctx,
) -> io::Result<()> {
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut session = Session::default();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let frame = loop {
            match codec::frame_len(&buf) {
                Ok(Some(n)) => break buf.drain(..n).collect::<Vec<u8>>(),
                Ok(None) => {}
                Err(e) => return Err(io::Error::other(e)),
            }
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let now = unix_now();
        match server.receive(&mut session, now, &frame, rng.next_u32()) {
            Ok(Step::Handshake(reply)) => s.write_all(&reply)?,
            Ok(Step::Command(req)) => {
                tracing::info!(command = %req.command, "received control channel command");
                let (outcome, after) = run(ctx, &req.command);
                let reply = server
                    .respond(&session, &req, unix_now(), outcome)
                    .map_err(io::Error::other)?;
                s.write_all(&reply)?;
                s.flush()?;
                if let Some(sig) = after {
                    // SAFETY: kill(2) on our own pid with a valid signal number has no
                    // memory-safety preconditions.
                    unsafe {
                        libc::kill(libc::getpid(), sig);
                    }
                }
            }
            Err(e) => {
                return Err(io::Error::other(format!(
                    "invalid command from client: {e}"
                )));
            }
        }
    }
}

type Outcome = Result<Option<String>, (String, Option<String>)>;

/// Runs one command line; the second value is a signal to raise after replying.
fn run(ctx: &Ctx, line: &str) -> (Outcome, Option<libc::c_int>) {
    let mut words = line.split_whitespace();
    let cmd = words.next().unwrap_or("").to_ascii_lowercase();
    let args: Vec<&str> = words.collect();
    if ctx.channel.read_only && !matches!(cmd.as_str(), "status" | "null") {
        return (Err(("permission denied".into(), None)), None);
    }
    let out = match (cmd.as_str(), args.as_slice()) {
        ("null", []) => Ok(None),
        ("status", []) => Ok(Some(status(ctx))),
        ("flush", []) => workers(ctx, &WorkerOp::Flush).map(|_| None),
        ("flushname", [n]) => workers(ctx, &WorkerOp::FlushName((*n).to_owned())).map(|_| None),
        ("flushtree", [n]) => workers(ctx, &WorkerOp::FlushTree((*n).to_owned())).map(|_| None),
        ("stats", []) => stats(ctx).map(|()| None),
        ("dumpdb", ["-cache"] | []) => dump(ctx).map(|()| None),
        ("reload", []) => {
            return (
                Ok(Some("server reload successful".into())),
                Some(libc::SIGHUP),
            );
        }
        ("stop" | "halt", []) => return (Ok(None), Some(libc::SIGTERM)),
        ("flushname" | "flushtree", _) => Err("unexpected number of arguments".into()),
        _ => Err("unknown command".into()),
    };
    (out.map_err(|e| (e, None)), None)
}

/// Sends `op` to every worker and collects the answers.
fn workers(ctx: &Ctx, op: &WorkerOp) -> Result<Vec<String>, String> {
    let mut rxs = Vec::new();
    for (tx, waker) in &ctx.workers {
        let (rtx, rrx) = mpsc::channel();
        if tx.send(Command::Control(op.clone(), rtx)).is_ok() {
            let _ = waker.wake();
            rxs.push(rrx);
        }
    }
    rxs.into_iter()
        .map(|rx| {
            rx.recv_timeout(WORKER_TIMEOUT)
                .map_err(|_| "worker did not answer".to_owned())?
        })
        .collect()
}

fn status(ctx: &Ctx) -> String {
    let clients: usize = workers(ctx, &WorkerOp::Clients)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.parse::<usize>().ok())
        .sum();
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut s = String::new();
    let _ = writeln!(s, "version: lvs-named {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(s, "running on {}", hostname());
    let _ = writeln!(s, "boot time: {}", http_date(ctx.info.boot));
    let _ = writeln!(s, "configuration file: {}", ctx.info.config);
    let _ = writeln!(s, "CPUs found: {cpus}");
    let _ = writeln!(s, "worker threads: {}", ctx.info.workers);
    let _ = writeln!(s, "number of zones: 0");
    let _ = writeln!(s, "debug level: 0");
    let _ = writeln!(s, "xfers running: 0");
    let _ = writeln!(s, "xfers deferred: 0");
    let _ = writeln!(s, "soa queries in progress: 0");
    let _ = writeln!(s, "query logging is OFF");
    let _ = writeln!(s, "recursive clients: {clients}");
    s.push_str("server is up and running");
    s
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // truncates, and we stop at the first NUL or the end.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `Sat, 21 Nov 2026 07:31:32 GMT` for Unix seconds.
fn http_date(t: u64) -> String {
    let days = t / 86_400;
    let secs = t % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} GMT",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn append(path: &str, text: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("{path}: {e}"))
}

fn stats(ctx: &Ctx) -> Result<(), String> {
    let mut totals: Vec<(String, u64)> = Vec::new();
    for w in workers(ctx, &WorkerOp::Stats)? {
        for line in w.lines() {
            let Some((n, what)) = line.split_once(' ') else {
                continue;
            };
            let n: u64 = n.parse().unwrap_or(0);
            match totals.iter_mut().find(|(w, _)| w == what) {
                Some(t) => t.1 += n,
                None => totals.push((what.to_owned(), n)),
            }
        }
    }
    let get = |what: &str| totals.iter().find(|(w, _)| w == what).map_or(0, |t| t.1);
    let now = unix_now();
    let mut s = format!("+++ Statistics Dump +++ ({now})\n");
    let mut section = |title: &str, rows: &[&str]| {
        let _ = writeln!(s, "++ {title} ++");
        for r in rows {
            let _ = writeln!(s, "{:>20} {r}", get(r));
        }
    };
    section("Incoming Requests", &["QUERY"]);
    section("Outgoing Rcodes", &["SERVFAIL", "REFUSED", "FORMERR"]);
    section(
        "Name Server Statistics",
        &[
            "UDP queries received",
            "TCP queries received",
            "responses sent",
            "queries dropped",
        ],
    );
    section(
        "Resolver Statistics",
        &[
            "UDP queries sent upstream",
            "TCP queries sent upstream",
            "query timeouts",
            "fetch failures",
        ],
    );
    section(
        "Cache Statistics",
        &[
            "cache hits",
            "cache misses",
            "stale answers",
            "cache database nodes",
            "cache memory in use",
        ],
    );
    let _ = writeln!(s, "--- Statistics Dump --- ({now})");
    append(&ctx.info.statistics_file, &s)
}

fn dump(ctx: &Ctx) -> Result<(), String> {
    let parts = workers(ctx, &WorkerOp::DumpCache)?;
    let mut s =
        String::from(";\n; Start view _default\n;\n;\n; Cache dump of view '_default'\n;\n");
    let _ = writeln!(s, "; $DATE {}", http_date(unix_now()));
    for (i, p) in parts.iter().enumerate() {
        let _ = writeln!(s, "; worker {i}");
        s.push_str(p);
    }
    s.push_str("; Dump complete\n");
    std::fs::write(&ctx.info.dump_file, s).map_err(|e| format!("{}: {e}", ctx.info.dump_file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_trees() {
        let key = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01\x00";
        let name = name_part(key).unwrap();
        assert_eq!(name_text(name), "www.example.com.");
        assert!(at_or_below(name, &canonical("Example.COM").unwrap()));
        assert!(at_or_below(name, &canonical("www.example.com.").unwrap()));
        assert!(at_or_below(name, &canonical(".").unwrap()));
        assert!(!at_or_below(name, &canonical("ample.com").unwrap()));
        assert!(!at_or_below(name, &canonical("org").unwrap()));
        assert_eq!(name_part(b"\x05ab"), None);
        assert_eq!(name_text(b"\x00"), ".");
        assert_eq!(name_text(b"\x02a.\x00"), "a\\046.");
    }

    #[test]
    fn dates_like_bind() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_795_246_292), "Sat, 21 Nov 2026 07:31:32 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
