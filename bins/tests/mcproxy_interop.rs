//! lvs-mcproxy in front of real memcached (Debian package `memcached`): commands, multi-get
//! order and streaming, placement, a dead shard, reload and shutdown. Skips loudly without
//! memcached; fails instead under LVS_REQUIRE_INTEROP=1.

mod mcproxy_support;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use lvs_sched::ring::{Distribution, HashFunction, ServerSpec, TwemproxyPool};
use mcproxy_support::{Client, Memcached, Proxy, require};

fn memcached(test: &str) -> Option<std::path::PathBuf> {
    require("memcached", "memcached", test)
}

fn start(n: usize, extra: &str, test: &str) -> Option<(Vec<Memcached>, Proxy)> {
    let bin = memcached(test)?;
    let backends: Vec<Memcached> = (0..n).map(|_| Memcached::start(&bin)).collect();
    let servers: Vec<String> = backends.iter().map(Memcached::server_entry).collect();
    let proxy = Proxy::start(&servers, extra, &[]);
    Some((backends, proxy))
}

/// The pool as the test computes it, independently of the proxy.
fn pool_of(backends: &[Memcached]) -> TwemproxyPool {
    let specs = backends
        .iter()
        .map(|b| ServerSpec::parse(&b.server_entry()).unwrap())
        .collect();
    TwemproxyPool::new(specs, HashFunction::Fnv1a64, Distribution::Ketama).unwrap()
}

/// Keys `prefix:i`, in order of `i`, until every shard owns `per_shard` of them (keys with a
/// common prefix cluster under fnv1a_64, so a fixed range may miss a shard).
fn keys_on_every_shard(pool: &TwemproxyPool, prefix: &str, per_shard: usize) -> Vec<String> {
    let n = pool.servers().len();
    let mut count = vec![0; n];
    let mut out = Vec::new();
    for i in 0..100_000 {
        let k = format!("{prefix}:{i}");
        let owner = pool.pick_deterministic(k.as_bytes()).unwrap();
        if count[owner] < per_shard {
            count[owner] += 1;
            out.push(k);
        }
        if count.iter().all(|&c| c == per_shard) {
            return out;
        }
    }
    panic!("no key spread over {n} shards: {count:?}");
}

#[test]
fn mcproxy_memcached_storage_commands_round_trip() {
    let Some((_b, proxy)) = start(2, "", "mcproxy_memcached_storage_commands_round_trip") else {
        return;
    };
    let mut c = proxy.client();
    assert_eq!(c.set("alpha", "one"), "STORED\r\n");
    assert_eq!(c.get(&["alpha"]), [("alpha".into(), "one".into())]);
    assert_eq!(c.call("add alpha 0 0 1\r\nx\r\n"), "NOT_STORED\r\n");
    assert_eq!(c.call("append alpha 0 0 2\r\n++\r\n"), "STORED\r\n");
    assert_eq!(c.get(&["alpha"]), [("alpha".into(), "one++".into())]);
    assert_eq!(c.set("n", "41"), "STORED\r\n");
    assert_eq!(c.call("incr n 1\r\n"), "42\r\n");
    assert_eq!(c.call("decr n 2\r\n"), "40\r\n");
    assert_eq!(c.call("touch n 100\r\n"), "TOUCHED\r\n");
    assert_eq!(c.call("touch missing 100\r\n"), "NOT_FOUND\r\n");
    // cas: read the unique, a stale one is refused, the right one stores.
    c.send(b"gets alpha\r\n");
    let header = c.line();
    let unique: u64 = header
        .trim_end()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(c.line(), "one++\r\n");
    assert_eq!(c.line(), "END\r\n");
    assert_eq!(
        c.call(&format!("cas alpha 0 0 3 {}\r\ntwo\r\n", unique + 1000)),
        "EXISTS\r\n"
    );
    assert_eq!(
        c.call(&format!("cas alpha 0 0 3 {unique}\r\ntwo\r\n")),
        "STORED\r\n"
    );
    assert_eq!(c.get(&["alpha"]), [("alpha".into(), "two".into())]);
    assert_eq!(c.call("delete alpha\r\n"), "DELETED\r\n");
    assert_eq!(c.call("delete alpha\r\n"), "NOT_FOUND\r\n");
    assert!(c.get(&["alpha"]).is_empty());
    // noreply is swallowed and the stream stays in step.
    c.send(b"set quiet 0 0 1 noreply\r\nq\r\n");
    assert_eq!(c.get(&["quiet"]), [("quiet".into(), "q".into())]);
    assert_eq!(c.call("version\r\n"), "VERSION 1.6.18\r\n");
}

#[test]
fn mcproxy_memcached_multiget_across_shards_keeps_request_order() {
    let Some((backends, proxy)) = start(3, "", "mcproxy_memcached_multiget_order") else {
        return;
    };
    let pool = pool_of(&backends);
    let keys = keys_on_every_shard(&pool, "order", 20);
    let mut c = proxy.client();
    let mut stored = std::collections::HashMap::new();
    for (i, k) in keys.iter().enumerate() {
        // Every fifth key is left unset: a miss in the middle of the reply.
        if i % 5 != 4 {
            let v = format!("v{i}");
            assert_eq!(c.set(k, &v), "STORED\r\n");
            stored.insert(k.as_str(), v);
        }
    }
    // Request in a scrambled order with a duplicate; replies follow the request exactly.
    let mut asked: Vec<&str> = keys.iter().rev().map(String::as_str).collect();
    asked.swap(3, 40);
    asked.push(asked[7]);
    let got = c.get(&asked);
    let want: Vec<(String, String)> = asked
        .iter()
        .filter_map(|k| stored.get(k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    assert!(want.len() > 40);
    assert_eq!(got, want);
}

/// Resumes a stopped memcached when the test ends, even on failure.
struct Resume<'a>(&'a Memcached);

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        self.0.proc.signal(libc::SIGCONT);
    }
}

#[test]
fn mcproxy_memcached_multiget_streams_the_prefix_while_a_shard_is_slow() {
    let Some((backends, proxy)) = start(2, "", "mcproxy_memcached_multiget_stream") else {
        return;
    };
    let pool = pool_of(&backends);
    let keys = keys_on_every_shard(&pool, "stream", 10);
    let mut c = proxy.client();
    for k in &keys {
        assert_eq!(c.set(k, &format!("v-{k}")), "STORED\r\n");
    }
    // Three keys of shard 0 first, then the two shards interleaved.
    let on_1 = |k: &&String| pool.pick_deterministic(k.as_bytes()) == Some(1);
    let (k1, k0): (Vec<&String>, Vec<&String>) = keys.iter().partition(on_1);
    let mut asked: Vec<&str> = k0[..3].iter().map(|k| k.as_str()).collect();
    for (a, b) in k1.iter().zip(&k0[3..]) {
        asked.push(a);
        asked.push(b);
    }

    backends[1].proc.signal(libc::SIGSTOP);
    let resume = Resume(&backends[1]);
    c.send(format!("get {}\r\n", asked.join(" ")).as_bytes());
    // Shard 0's answers for the leading keys arrive while shard 1 cannot answer at all.
    for k in &asked[..3] {
        let v = format!("v-{k}");
        assert_eq!(c.line(), format!("VALUE {k} 0 {}\r\n", v.len()));
        assert_eq!(c.line(), format!("{v}\r\n"));
    }
    drop(resume);
    // The rest follows in order once shard 1 answers.
    let rest = c.values();
    let want: Vec<(String, String)> = asked[3..]
        .iter()
        .map(|k| ((*k).to_owned(), format!("v-{k}")))
        .collect();
    assert_eq!(rest, want);
}

#[test]
fn mcproxy_memcached_keys_live_on_the_server_the_pool_names() {
    let Some((backends, proxy)) = start(3, "", "mcproxy_memcached_placement") else {
        return;
    };
    let pool = pool_of(&backends);
    let mut c = proxy.client();
    let mut direct: Vec<Client> = backends.iter().map(|b| Client::connect(b.port)).collect();
    let mut per_server = [0usize; 3];
    for i in 0..150 {
        // Bytes >= 0x80 exercise the hash's sign extension.
        let key = format!("place:{i}:\u{e9}");
        assert_eq!(c.set(&key, "x"), "STORED\r\n");
        let owner = pool.pick_deterministic(key.as_bytes()).unwrap();
        per_server[owner] += 1;
        for (j, d) in direct.iter_mut().enumerate() {
            let found = !d.get(&[&key]).is_empty();
            assert_eq!(found, j == owner, "{key}: on server {j}? owner is {owner}");
        }
    }
    assert!(per_server.iter().all(|&n| n > 10), "{per_server:?}");
}

#[test]
fn mcproxy_memcached_dead_backend_costs_only_its_own_keys() {
    let extra = "  server_failure_limit: 1\n  server_retry_timeout: 60000\n  timeout: 500\n";
    let Some((mut backends, proxy)) = start(3, extra, "mcproxy_memcached_dead_backend") else {
        return;
    };
    let pool = pool_of(&backends);
    let keys = keys_on_every_shard(&pool, "dead", 30);
    let mut c = proxy.client();
    for k in &keys {
        assert_eq!(c.set(k, k), "STORED\r\n");
    }
    backends[1].proc.kill();
    let dead = |k: &str| pool.pick_deterministic(k.as_bytes()) == Some(1);
    let live: Vec<(String, String)> = keys
        .iter()
        .filter(|k| !dead(k))
        .map(|k| (k.clone(), k.clone()))
        .collect();
    assert_eq!(live.len(), 60);
    let all: Vec<&str> = keys.iter().map(String::as_str).collect();
    // The old connection (which had sent to the dead server) and a fresh one both see every
    // live key, in order, and misses for the dead shard's keys: no error anywhere.
    for round in 0..3 {
        assert_eq!(c.get(&all), live, "round {round}, old connection");
        let mut fresh = proxy.client();
        assert_eq!(fresh.get(&all), live, "round {round}, new connection");
        for k in keys.iter().filter(|k| !dead(k)).take(10) {
            assert_eq!(fresh.set(k, k), "STORED\r\n");
            assert_eq!(fresh.call(&format!("touch {k} 0\r\n")), "TOUCHED\r\n");
        }
        // Single-key reads of the dead shard are misses too; writes are refused.
        let dk = keys.iter().find(|k| dead(k)).unwrap();
        assert!(fresh.get(&[dk]).is_empty());
        assert!(fresh.set(dk, "x").starts_with("SERVER_ERROR"));
    }
}

#[test]
fn mcproxy_memcached_auto_eject_remaps_the_dead_servers_keys() {
    let extra =
        "  auto_eject_hosts: true\n  server_failure_limit: 1\n  server_retry_timeout: 60000\n";
    let Some((mut backends, proxy)) = start(2, extra, "mcproxy_memcached_auto_eject") else {
        return;
    };
    let pool = pool_of(&backends);
    let key = (0..)
        .map(|i| format!("eject:{i}"))
        .find(|k| pool.pick_deterministic(k.as_bytes()) == Some(0))
        .unwrap();
    backends[0].proc.kill();
    let mut c = proxy.client();
    // The first attempt meets the dead server and ejects it; then its keys go to the other.
    let first = c.set(&key, "moved");
    assert!(
        first == "STORED\r\n" || first.starts_with("SERVER_ERROR"),
        "{first:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if c.set(&key, "moved") == "STORED\r\n" {
            break;
        }
        assert!(Instant::now() < deadline, "never remapped");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(c.get(&[&key]), [(key.clone(), "moved".into())]);
    assert_eq!(
        Client::connect(backends[1].port).get(&[&key]),
        [(key.clone(), "moved".into())]
    );
}

/// Sets `key` through `c` until the proxy stores it (the first attempts may meet the dead
/// server, which ejects it).
fn set_until_stored(c: &mut Client, key: &str, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = c.set(key, value);
        if r == "STORED\r\n" {
            return;
        }
        assert!(r.starts_with("SERVER_ERROR"), "{r:?}");
        assert!(Instant::now() < deadline, "{key} never stored");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn mcproxy_memcached_failover_sends_a_dead_servers_keys_to_its_replicas_in_order() {
    let Some(bin) = memcached("mcproxy_memcached_failover") else {
        return;
    };
    let mut backends: Vec<Memcached> = (0..3).map(|_| Memcached::start(&bin)).collect();
    let servers: Vec<String> = ["a", "b", "c"]
        .iter()
        .zip(&backends)
        .map(|(name, b)| format!("{} {name}", b.server_entry()))
        .collect();
    let extra = "  ejection_policy: failover\n  failover:\n   - a b c\n   - b c\n  \
                 server_failure_limit: 1\n  server_retry_timeout: 60000\n  timeout: 500\n";
    let proxy = Proxy::start(&servers, extra, &[]);
    // Named servers are placed by name, as nutcracker does.
    let specs = servers
        .iter()
        .map(|s| ServerSpec::parse(s).unwrap())
        .collect();
    let pool = TwemproxyPool::new(specs, HashFunction::Fnv1a64, Distribution::Ketama).unwrap();
    let key_on = |owner: usize| {
        (0..)
            .map(|i| format!("fo:{i}"))
            .find(|k| pool.pick_deterministic(k.as_bytes()) == Some(owner))
            .unwrap()
    };
    let (ka, kb, kc) = (key_on(0), key_on(1), key_on(2));
    let mut c = proxy.client();
    for k in [&ka, &kb, &kc] {
        assert_eq!(c.set(k, "home"), "STORED\r\n");
    }
    assert_eq!(Client::connect(backends[0].port).get(&[&ka]).len(), 1);

    // a dies: its keys go to b, its first replica; the others stay home.
    backends[0].proc.kill();
    set_until_stored(&mut c, &ka, "on-b");
    assert_eq!(
        Client::connect(backends[1].port).get(&[&ka]),
        [(ka.clone(), "on-b".into())]
    );
    assert_eq!(c.get(&[&kc]), [(kc.clone(), "home".into())]);

    // b dies too: a's keys go to c (the next in a's list), and so do b's.
    backends[1].proc.kill();
    set_until_stored(&mut c, &kb, "on-c");
    set_until_stored(&mut c, &ka, "on-c too");
    let on_c = Client::connect(backends[2].port).get(&[&ka, &kb, &kc]);
    assert_eq!(
        on_c,
        [
            (ka.clone(), "on-c too".into()),
            (kb.clone(), "on-c".into()),
            (kc.clone(), "home".into())
        ]
    );
    // A fresh client sees the same: one multi-get over the three keys, all served by c.
    assert_eq!(proxy.client().get(&[&ka, &kb, &kc]), on_c);
}

#[test]
fn mcproxy_memcached_key_policy_and_item_size_flags() {
    let Some(bin) = memcached("mcproxy_memcached_key_policy") else {
        return;
    };
    let server = Memcached::start(&bin);
    let servers = [server.server_entry()];
    let bad = "CLIENT_ERROR bad command line format\r\n";
    // memcached's own rule (the default): a TAB or a UTF-8 byte is part of the key.
    let lax = Proxy::start(&servers, "", &[]);
    let mut c = lax.client();
    assert_eq!(c.call("set tab\tkey 0 0 1\r\nx\r\n"), "STORED\r\n");
    assert_eq!(c.call("get tab\tkey\r\n"), "VALUE tab\tkey 0 1\r\n");
    assert_eq!(c.line(), "x\r\n");
    assert_eq!(c.line(), "END\r\n");
    // Strict: refused by the proxy itself, and the connection goes on.
    let strict = Proxy::start(&servers, "", &["--key-policy", "strict"]);
    let mut c = strict.client();
    assert_eq!(c.call("get tab\tkey\r\n"), bad);
    assert_eq!(c.call("set caf\u{e9} 0 0 1\r\nx\r\n"), bad);
    // As memcached does after a bad key, the data line is read as a command of its own.
    assert_eq!(c.line(), "ERROR\r\n");
    assert_eq!(c.set("plain", "ok"), "STORED\r\n");
    // Strict with high bytes: UTF-8 keys pass, control bytes still do not.
    let utf8 = Proxy::start(
        &servers,
        "",
        &[
            "--key-policy",
            "strict-high-bytes",
            "--item-size-max",
            "2048",
        ],
    );
    let mut c = utf8.client();
    assert_eq!(c.call("set caf\u{e9} 0 0 1\r\nx\r\n"), "STORED\r\n");
    assert_eq!(c.call("get tab\tkey\r\n"), bad);
    // --item-size-max answers as a memcached started with -I 2048 would, value swallowed.
    let big = "v".repeat(4000);
    assert_eq!(
        c.set("big", &big),
        "SERVER_ERROR object too large for cache\r\n"
    );
    assert_eq!(c.set("small", "fits"), "STORED\r\n");
}

#[test]
fn mcproxy_memcached_pipelined_flood_with_slow_reader_completes() {
    let Some((_b, proxy)) = start(2, "", "mcproxy_memcached_flood") else {
        return;
    };
    let mut c = proxy.client();
    let n = 20_000;
    let mut req = Vec::new();
    for i in 0..n {
        req.extend_from_slice(
            format!("set flood:{i} 0 0 4\r\nabcd\r\nget flood:{i}\r\n").as_bytes(),
        );
    }
    // Write everything from another thread without reading: the proxy must apply
    // backpressure instead of buffering without bound, and still answer everything.
    let mut w = c.writer();
    let writer = thread::spawn(move || w.write_all(&req).unwrap());
    thread::sleep(Duration::from_millis(300));
    for i in 0..n {
        assert_eq!(c.line(), "STORED\r\n", "reply {i}");
        assert_eq!(c.values(), [(format!("flood:{i}"), "abcd".to_owned())]);
    }
    writer.join().unwrap();
}

#[test]
fn mcproxy_memcached_several_workers_share_the_port() {
    let Some(bin) = memcached("mcproxy_memcached_several_workers") else {
        return;
    };
    let backends: Vec<Memcached> = (0..2).map(|_| Memcached::start(&bin)).collect();
    let servers: Vec<String> = backends.iter().map(Memcached::server_entry).collect();
    let proxy = Proxy::start(&servers, "", &["-w", "3"]);
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let port = proxy.port;
            thread::spawn(move || {
                let mut c = Client::connect(port);
                for i in 0..50 {
                    let k = format!("w{t}:{i}");
                    assert_eq!(c.set(&k, &k), "STORED\r\n");
                    assert_eq!(c.get(&[&k]), [(k.clone(), k.clone())]);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn mcproxy_memcached_sighup_reloads_pools_for_new_connections() {
    let Some(bin) = memcached("mcproxy_memcached_sighup") else {
        return;
    };
    let a = Memcached::start(&bin);
    let b = Memcached::start(&bin);
    let proxy = Proxy::start(&[a.server_entry()], "", &[]);
    let mut old = proxy.client();
    assert_eq!(old.set("before", "1"), "STORED\r\n");
    std::fs::write(
        &proxy.conf,
        mcproxy_support::pool_yaml(proxy.port, &[b.server_entry()], ""),
    )
    .unwrap();
    proxy.proc.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut n = 0;
    loop {
        let key = format!("after:{n}");
        n += 1;
        let mut fresh = proxy.client();
        assert_eq!(fresh.set(&key, "2"), "STORED\r\n");
        if !Client::connect(b.port).get(&[&key]).is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the reload never took effect");
        thread::sleep(Duration::from_millis(20));
    }
    // The connection opened before the reload keeps its pool.
    assert_eq!(old.set("old-conn", "3"), "STORED\r\n");
    assert_eq!(Client::connect(a.port).get(&["old-conn"]).len(), 1);
    assert!(Client::connect(b.port).get(&["old-conn"]).is_empty());
    // A broken configuration is refused and the running one stays.
    std::fs::write(&proxy.conf, "lvs_test:\n  listen: nowhere\n").unwrap();
    proxy.proc.signal(libc::SIGHUP);
    thread::sleep(Duration::from_millis(200));
    let mut again = proxy.client();
    assert_eq!(again.set("still", "4"), "STORED\r\n");
    assert_eq!(Client::connect(b.port).get(&["still"]).len(), 1);
}

#[test]
fn mcproxy_memcached_sigterm_finishes_in_flight_requests_and_exits() {
    let Some((_b, mut proxy)) = start(2, "", "mcproxy_memcached_sigterm") else {
        return;
    };
    let mut c = proxy.client();
    assert_eq!(c.set("k", "v"), "STORED\r\n");
    let mut busy = proxy.client();
    busy.send(b"get k\r\n");
    proxy.proc.signal(libc::SIGTERM);
    assert_eq!(busy.values(), [("k".into(), "v".into())]);
    assert_eq!(proxy.proc.wait_exit(Duration::from_secs(10)), Some(0));
}
