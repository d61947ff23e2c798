//! lvs-mcproxy's shared backend connections, against real memcached (Debian package
//! `memcached`): many clients on one connection per server, each getting its own replies;
//! quiet meta pipelines from several clients at once; a server killed while requests of many
//! clients are in flight. Skips loudly without memcached; fails instead under
//! LVS_REQUIRE_INTEROP=1.

mod mcproxy_support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use lvs_sched::ring::{Distribution, HashFunction, ServerSpec, TwemproxyPool};
use mcproxy_support::{Memcached, Proxy, require};

fn start(n: usize, extra: &str, test: &str) -> Option<(Vec<Memcached>, Proxy)> {
    let bin = require("memcached", "memcached", test)?;
    let backends: Vec<Memcached> = (0..n).map(|_| Memcached::start(&bin)).collect();
    let servers: Vec<String> = backends.iter().map(Memcached::server_entry).collect();
    let proxy = Proxy::start(&servers, extra, &["-w", "1"]);
    Some((backends, proxy))
}

/// memcached's own `curr_connections`, asked on a direct connection.
struct Direct(BufReader<TcpStream>);

impl Direct {
    fn connect(port: u16) -> Self {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Self(BufReader::new(s))
    }

    fn curr_connections(&mut self) -> u64 {
        self.0.get_mut().write_all(b"stats\r\n").unwrap();
        let mut found = None;
        loop {
            let mut l = String::new();
            assert!(self.0.read_line(&mut l).unwrap() > 0, "stats cut short");
            if l == "END\r\n" {
                return found.expect("curr_connections in stats");
            }
            if let Some(v) = l.strip_prefix("STAT curr_connections ") {
                found = Some(v.trim().parse().unwrap());
            }
        }
    }
}

#[test]
fn mcproxy_shared_clients_get_their_own_replies_over_one_connection_per_server() {
    let Some((backends, proxy)) = start(2, "", "mcproxy_shared_own_replies") else {
        return;
    };
    let mut direct: Vec<Direct> = backends.iter().map(|b| Direct::connect(b.port)).collect();
    let before: Vec<u64> = direct.iter_mut().map(Direct::curr_connections).collect();
    let clients = 8;
    let done = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..clients)
        .map(|t| {
            let mut c = proxy.client();
            let done = Arc::clone(&done);
            thread::spawn(move || {
                for i in 0..150 {
                    let (k1, k2) = (format!("own:{t}:{i}:a"), format!("own:{t}:{i}:b"));
                    let (v1, v2) = (format!("{t}-{i}-first"), format!("{t}-{i}-second"));
                    // Pipelined: two sets (one noreply), a multi-get across shards, a miss.
                    c.send(
                        format!(
                            "set {k1} 0 0 {}\r\n{v1}\r\nset {k2} 0 0 {} noreply\r\n{v2}\r\n\
                             get {k1} own:none {k2}\r\nget own:missing:{t}\r\n",
                            v1.len(),
                            v2.len()
                        )
                        .as_bytes(),
                    );
                    assert_eq!(c.line(), "STORED\r\n", "client {t} round {i}");
                    assert_eq!(c.values(), [(k1.clone(), v1), (k2, v2)], "client {t}");
                    assert!(c.values().is_empty());
                }
                done.fetch_add(1, Ordering::SeqCst);
                // Stay connected until the connection count is checked.
                c
            })
        })
        .collect();
    let open: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(done.load(Ordering::SeqCst), clients);
    // Eight clients, one proxy connection to each server.
    let after: Vec<u64> = direct.iter_mut().map(Direct::curr_connections).collect();
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(*a, b + 1, "connections before {before:?}, after {after:?}");
    }
    drop(open);
}

#[test]
fn mcproxy_shared_quiet_meta_pipelines_of_many_clients_keep_mn_order() {
    let Some((_b, proxy)) = start(3, "", "mcproxy_shared_quiet_meta") else {
        return;
    };
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let mut c = proxy.client();
            thread::spawn(move || {
                for i in 0..100 {
                    let v = format!("v{t}x{i}");
                    let mut req = String::new();
                    // Quiet successes are silent, the hit is shown, the miss is silent, and
                    // `mn` comes last, whatever server answered first.
                    for j in 0..4 {
                        req.push_str(&format!("ms q:{t}:{i}:{j} {} q\r\n{v}\r\n", v.len()));
                    }
                    req.push_str(&format!("mg q:{t}:{i}:2 v q O{t}\r\n"));
                    req.push_str(&format!("mg q:none:{t}:{i} v q\r\nmd q:{t}:{i}:1 q\r\n"));
                    req.push_str(&format!("mn\r\nmg q:{t}:{i}:1 v\r\n"));
                    c.send(req.as_bytes());
                    assert_eq!(c.line(), format!("VA {} O{t}\r\n", v.len()));
                    assert_eq!(c.line(), format!("{v}\r\n"));
                    assert_eq!(c.line(), "MN\r\n", "client {t} round {i}");
                    assert_eq!(c.line(), "EN\r\n", "deleted before the mn");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn mcproxy_shared_killed_server_fails_only_its_parts_of_every_client() {
    let extra = "  server_failure_limit: 1\n  server_retry_timeout: 60000\n  timeout: 2000\n";
    let Some((mut backends, proxy)) = start(3, extra, "mcproxy_shared_killed_server") else {
        return;
    };
    let specs = backends
        .iter()
        .map(|b| ServerSpec::parse(&b.server_entry()).unwrap())
        .collect();
    let pool = TwemproxyPool::new(specs, HashFunction::Fnv1a64, Distribution::Ketama).unwrap();
    let mut keys: Vec<String> = Vec::new();
    let mut per = [0; 3];
    for i in 0.. {
        let k = format!("kill:{i}");
        let owner = pool.pick_deterministic(k.as_bytes()).unwrap();
        if per[owner] < 8 {
            per[owner] += 1;
            keys.push(k);
        }
        if per.iter().all(|&n| n == 8) {
            break;
        }
    }
    let dead = |k: &str| pool.pick_deterministic(k.as_bytes()) == Some(1);
    let mut c = proxy.client();
    for k in &keys {
        assert_eq!(c.set(k, k), "STORED\r\n");
    }
    let on_dead: Arc<Vec<bool>> = Arc::new(keys.iter().map(|k| dead(k)).collect());
    let keys = Arc::new(keys);
    let rounds = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let mut c = proxy.client();
            let keys = Arc::clone(&keys);
            let on_dead = Arc::clone(&on_dead);
            let rounds = Arc::clone(&rounds);
            thread::spawn(move || {
                let all: Vec<&str> = keys.iter().map(String::as_str).collect();
                let live_key = keys
                    .iter()
                    .zip(on_dead.iter())
                    .find(|(_, d)| !**d)
                    .unwrap()
                    .0;
                let start = Instant::now();
                let mut after_kill = 0;
                // Run until well past the kill: every reply is complete and in order, live
                // keys never go missing, writes to live servers never fail.
                while after_kill < 40 {
                    assert!(
                        start.elapsed() < Duration::from_secs(60),
                        "client {t} stuck"
                    );
                    c.send(format!("get {}\r\n", all.join(" ")).as_bytes());
                    let got = c.values();
                    let mut it = got.iter();
                    for (k, &is_dead) in keys.iter().zip(on_dead.iter()) {
                        let present = it.clone().next().is_some_and(|(gk, _)| gk == k);
                        if present {
                            let (gk, gv) = it.next().unwrap();
                            assert_eq!(gk, gv);
                        } else {
                            assert!(is_dead, "client {t}: live key {k} missing: {got:?}");
                        }
                    }
                    assert!(it.next().is_none(), "client {t}: out of order: {got:?}");
                    assert_eq!(c.set(live_key, live_key), "STORED\r\n", "client {t}");
                    if rounds.fetch_add(1, Ordering::SeqCst) >= 400 {
                        after_kill += 1;
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while rounds.load(Ordering::SeqCst) < 400 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    backends[1].proc.kill();
    for h in handles {
        h.join().unwrap();
    }
    // Afterwards the dead server's keys are misses and its writes refused, on any client.
    let dk = keys.iter().find(|k| dead(k)).unwrap();
    assert!(c.get(&[dk]).is_empty());
    assert!(c.set(dk, "x").starts_with("SERVER_ERROR"));
}
