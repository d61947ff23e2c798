//! Active health checks of lvs-mcproxy against real memcached (Debian package `memcached`):
//! a frozen server (SIGSTOP: it keeps its port, probes time out) is ejected after `fall`
//! failed probes and comes back after `rise` good ones (never on `server_retry_timeout`), and
//! a server answering `ERROR` to `version` is ejected. Skips loudly without memcached; fails
//! instead under LVS_REQUIRE_INTEROP=1.

mod mcproxy_support;

use std::thread;
use std::time::{Duration, Instant};

use lvs_sched::ring::{Distribution, HashFunction, ServerSpec, TwemproxyPool};
use mcproxy_support::{Client, GarbageServer, Memcached, Proxy, require};

/// Health checks every 100 ms, two in a row to fall or rise; only probes eject a server
/// (request failures never reach the limit) and only probes bring it back (the retry time is
/// ten minutes). The probe timeout is generous so a loaded machine does not fail the healthy
/// server.
const CHECKED: &str = "  auto_eject_hosts: true\n  server_retry_timeout: 600000\n  \
    server_failure_limit: 1000000\n  timeout: 1000\n  health_check_interval: 100\n  \
    health_check_timeout: 1000\n  health_check_fall: 2\n  health_check_rise: 2\n";

/// How long a condition may take to become true.
const WAIT: Duration = Duration::from_secs(10);

/// A key the ring places on server `owner` of `entries` (default hash and distribution).
fn key_on(entries: &[String], owner: usize, prefix: &str) -> String {
    let specs = entries
        .iter()
        .map(|e| ServerSpec::parse(e).unwrap())
        .collect();
    let pool = TwemproxyPool::new(specs, HashFunction::Fnv1a64, Distribution::Ketama).unwrap();
    (0..100_000)
        .map(|i| format!("{prefix}:{i}"))
        .find(|k| pool.pick_deterministic(k.as_bytes()) == Some(owner))
        .expect("a key on the server")
}

/// Polls `cond` every 50 ms for up to [`WAIT`]; panics with `what` if it never holds.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < WAIT {
        if cond() {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} within {WAIT:?}");
}

/// The proxy's log so far.
fn log_of(proxy: &Proxy) -> String {
    std::fs::read_to_string(proxy.dir.0.join("proxy.log")).unwrap_or_default()
}

/// Resumes a stopped memcached even when the test fails (the kill on drop works either way,
/// this keeps the order of events readable).
struct Resume<'a>(&'a Memcached);

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.proc.pid(), libc::SIGCONT) };
    }
}

#[test]
fn mcproxy_health_check_ejects_a_frozen_server_and_brings_it_back() {
    let test = "mcproxy_health_check_ejects_a_frozen_server_and_brings_it_back";
    let Some(bin) = require("memcached", "memcached", test) else {
        return;
    };
    let a = Memcached::start(&bin);
    let b = Memcached::start(&bin);
    let entries = [a.server_entry(), b.server_entry()];
    let proxy = Proxy::start(&entries, CHECKED, &["-w", "1"]);
    let key = key_on(&entries, 1, "frozen");
    let mut c = proxy.client();
    // Both healthy: the key lives on b.
    assert_eq!(c.set(&key, "first"), "STORED\r\n");
    let mut direct_b = Client::connect(b.port);
    assert_eq!(direct_b.get(&[&key]), [(key.clone(), "first".into())]);

    b.proc.signal(libc::SIGSTOP);
    let resume = Resume(&b);
    // The signal is delivered asynchronously: wait until b is really stopped.
    let stat = format!("/proc/{}/stat", b.proc.pid());
    wait_for("memcached stopped by SIGSTOP", || {
        std::fs::read_to_string(&stat).is_ok_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
        })
    });
    // Probes time out: b is ejected and its keys go to a.
    wait_for("the frozen server's key served by the other server", || {
        let mut c = proxy.client();
        c.set(&key, "on-a") == "STORED\r\n" && c.get(&[&key]) == [(key.clone(), "on-a".into())]
    });
    let mut direct_a = Client::connect(a.port);
    assert_eq!(direct_a.get(&[&key]), [(key.clone(), "on-a".into())]);
    let log = log_of(&proxy);
    assert!(
        log.contains("backend_down") && log.contains("health check"),
        "no ejection by health check logged:\n{log}"
    );

    drop(resume);
    // b answers again. Keys never written while it was frozen (the writes queued on its
    // sockets then are replayed when it resumes): a value set on b directly shows through
    // the proxy once probes put b back (server_retry_timeout is ten minutes, so only probes
    // can), and before that the proxy looks for it on a.
    let revived = key_on(&entries, 1, "revived");
    assert_eq!(direct_b.set(&revived, "on-b"), "STORED\r\n");
    wait_for("the revived server's key through the proxy", || {
        proxy.client().get(&[&revived]) == [(revived.clone(), "on-b".into())]
    });
    let log = log_of(&proxy);
    assert!(
        log.contains("backend_up"),
        "no return logged after the server revived:\n{log}"
    );
    // Requests flow to b normally again.
    let after = key_on(&entries, 1, "after");
    assert_eq!(c.set(&after, "again"), "STORED\r\n");
    assert_eq!(direct_b.get(&[&after]), [(after.clone(), "again".into())]);
    assert!(direct_a.get(&[&after]).is_empty());
}

#[test]
fn mcproxy_health_check_ejects_a_server_answering_garbage() {
    let test = "mcproxy_health_check_ejects_a_server_answering_garbage";
    let Some(bin) = require("memcached", "memcached", test) else {
        return;
    };
    let a = Memcached::start(&bin);
    let garbage = GarbageServer::start(b"ERROR\r\n");
    let entries = [a.server_entry(), format!("127.0.0.1:{}:1", garbage.port)];
    let proxy = Proxy::start(&entries, CHECKED, &["-w", "1"]);
    let key = key_on(&entries, 1, "garbage");
    wait_for(
        "the garbage server's key stored on the other server",
        || {
            let mut c = proxy.client();
            c.set(&key, "kept") == "STORED\r\n" && c.get(&[&key]) == [(key.clone(), "kept".into())]
        },
    );
    let mut direct_a = Client::connect(a.port);
    assert_eq!(direct_a.get(&[&key]), [(key.clone(), "kept".into())]);
    let log = log_of(&proxy);
    assert!(
        log.contains("backend_down") && log.contains("health check"),
        "no ejection by health check logged:\n{log}"
    );
    // It never passes a probe, so it stays out.
    thread::sleep(Duration::from_millis(500));
    let mut c = proxy.client();
    assert_eq!(c.get(&[&key]), [(key.clone(), "kept".into())]);
    assert!(!log_of(&proxy).contains("backend_up"));
}
