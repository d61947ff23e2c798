//! Routing, multi-get split and merge, broadcasts, quiet meta pipelines, noreply, failures.

mod mcproxy_support;

use lvs_sched::mcproxy::{BACKEND_UNAVAILABLE, DownPolicy, Session, SessionConfig};
use mcproxy_support::{Harness, direct, key_on, router, session};

fn outputs(s: &Session, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|b| s.backend_output(b).to_vec()).collect()
}

#[test]
fn every_command_class_goes_to_the_shard_the_pool_names() {
    let r = router(3, DownPolicy::FailFast);
    for key in ["alpha", "beta", "gamma", "user:{7}:name", "cart:{7}", "k9"] {
        let owner = r.pool().pick_deterministic(key.as_bytes()).unwrap();
        let b64 = base64(key.as_bytes());
        let cmds = [
            format!("set {key} 1 0 2\r\nhi\r\n"),
            format!("add {key} 1 0 2\r\nhi\r\n"),
            format!("replace {key} 1 0 2\r\nhi\r\n"),
            format!("append {key} 0 0 2\r\nhi\r\n"),
            format!("prepend {key} 0 0 2\r\nhi\r\n"),
            format!("cas {key} 0 0 2 9\r\nhi\r\n"),
            format!("get {key}\r\n"),
            format!("gets {key}\r\n"),
            format!("gat 10 {key}\r\n"),
            format!("gats 10 {key}\r\n"),
            format!("touch {key} 10\r\n"),
            format!("incr {key} 1\r\n"),
            format!("decr {key} 1\r\n"),
            format!("delete {key}\r\n"),
            format!("mg {key} v\r\n"),
            format!("ms {key} 2 T0\r\nhi\r\n"),
            format!("md {key} q\r\n"),
            format!("ma {key}\r\n"),
            format!("me {key}\r\n"),
            format!("mg {b64} b v\r\n"),
        ];
        for cmd in cmds {
            let mut s = Session::new(r.clone(), SessionConfig::default());
            s.feed_client(cmd.as_bytes());
            let out = outputs(&s, 3);
            for (b, o) in out.iter().enumerate() {
                assert_eq!(
                    !o.is_empty(),
                    b == owner,
                    "{cmd:?} to backend {b}, owner {owner}"
                );
            }
        }
    }
    // The hash tag keeps tagged keys together.
    assert_eq!(r.route(b"user:{7}:name"), r.route(b"cart:{7}"));
}

fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Splits `get` over `n` backends, answers in every backend order with one reply split at
/// every byte, and checks the merged reply.
fn split_merge(n: usize) {
    let r = router(n, DownPolicy::FailFast);
    let keys: Vec<String> = (0..n)
        .flat_map(|b| [key_on(&r, b, "p"), key_on(&r, b, "q")])
        .collect();
    // Client order interleaves backends: p(0) p(1) .. then q(0) q(1) .. and a duplicate.
    let mut order: Vec<String> = keys.iter().step_by(2).cloned().collect();
    order.extend(keys.iter().skip(1).step_by(2).cloned());
    order.push(order[0].clone());
    let request = format!("gets {}\r\n", order.join(" "));
    let hit = |k: &str| k.starts_with('p'); // q keys are misses
    let value = |k: &str| format!("VALUE {k} 3 2 7\r\n{}\r\n", &k[..2]);
    let mut want = String::new();
    for k in order.iter().filter(|k| hit(k)) {
        want.push_str(&value(k));
    }
    want.push_str("END\r\n");
    let mut perms = vec![vec![]];
    for i in 0..n {
        perms = perms
            .into_iter()
            .flat_map(|p: Vec<usize>| {
                (0..=p.len()).map(move |at| {
                    let mut q = p.clone();
                    q.insert(at, i);
                    q
                })
            })
            .collect();
    }
    for perm in perms {
        let replies: Vec<String> = (0..n)
            .map(|b| {
                let mut s = String::new();
                for k in order.iter().filter(|k| r.route(k.as_bytes()) == Some(b)) {
                    if hit(k) {
                        s.push_str(&value(k));
                    }
                }
                s + "END\r\n"
            })
            .collect();
        let split_b = perm[0];
        for cut in 0..=replies[split_b].len() {
            let mut s = Session::new(r.clone(), SessionConfig::default());
            s.feed_client(request.as_bytes());
            for b in 0..n {
                let sub = String::from_utf8(s.backend_output(b).to_vec()).unwrap();
                let mine: Vec<&str> = order
                    .iter()
                    .filter(|k| r.route(k.as_bytes()) == Some(b))
                    .map(String::as_str)
                    .collect();
                assert_eq!(sub, format!("gets {}\r\n", mine.join(" ")));
            }
            for &b in &perm {
                let bytes = replies[b].as_bytes();
                if b == split_b {
                    s.feed_backend(b, &bytes[..cut]);
                    s.feed_backend(b, &bytes[cut..]);
                } else {
                    s.feed_backend(b, bytes);
                }
            }
            assert_eq!(
                String::from_utf8_lossy(s.client_output()),
                want,
                "perm {perm:?} cut {cut}"
            );
            assert_eq!(s.pending_requests(), 0);
        }
    }
}

#[test]
fn multi_get_merges_in_client_key_order_with_two_backends() {
    split_merge(2);
}

#[test]
fn multi_get_merges_in_client_key_order_with_three_backends() {
    split_merge(3);
}

#[test]
fn a_dead_shard_turns_only_its_keys_into_misses() {
    let r = router(3, DownPolicy::FailFast);
    let (k0, k1, k2) = (key_on(&r, 0, "x"), key_on(&r, 1, "x"), key_on(&r, 2, "x"));
    let mut s = Session::new(r, SessionConfig::default());
    // In flight when backend 1 dies.
    s.feed_client(format!("get {k0} {k1} {k2}\r\nset {k1} 0 0 1\r\nz\r\n").as_bytes());
    s.feed_backend(0, format!("VALUE {k0} 0 1\r\nA\r\nEND\r\n").as_bytes());
    s.feed_backend(1, format!("VALUE {k1} 0 1\r\n").as_bytes()); // half a reply, then death
    s.backend_down(1);
    s.feed_backend(2, format!("VALUE {k2} 0 1\r\nC\r\nEND\r\n").as_bytes());
    let want = format!("VALUE {k0} 0 1\r\nA\r\nVALUE {k2} 0 1\r\nC\r\nEND\r\n");
    let mut want = want.into_bytes();
    want.extend_from_slice(BACKEND_UNAVAILABLE);
    assert_eq!(
        String::from_utf8_lossy(s.client_output()),
        String::from_utf8_lossy(&want)
    );
    s.advance_client(want.len());
    // New requests while it is down (fail fast: nothing remapped).
    s.feed_client(format!("get {k1} {k2}\r\ndelete {k1}\r\n").as_bytes());
    assert!(s.backend_output(1).is_empty());
    s.feed_backend(2, b"END\r\n");
    let mut want = b"END\r\n".to_vec();
    want.extend_from_slice(BACKEND_UNAVAILABLE);
    assert_eq!(s.client_output(), want.as_slice());
    assert_eq!(s.counters().keys_missed, 2);
    // Back up: routed again.
    s.backend_up(1);
    s.feed_client(format!("delete {k1}\r\n").as_bytes());
    assert!(
        s.backend_output(1)
            .ends_with(format!("delete {k1}\r\n").as_bytes())
    );
}

#[test]
fn remap_and_failover_policies_move_the_dead_shards_keys() {
    let r = router(3, DownPolicy::Remap);
    let k1 = key_on(&r, 1, "y");
    let mut s = Session::new(r.clone(), SessionConfig::default());
    s.backend_down(1);
    let moved = s.router().route(k1.as_bytes()).unwrap();
    assert_ne!(moved, 1);
    assert_eq!(moved, {
        let mut p = r.pool().clone();
        p.set_ejected(1, true).unwrap();
        p.pick_deterministic(k1.as_bytes()).unwrap()
    });
    s.feed_client(format!("get {k1}\r\n").as_bytes());
    assert_eq!(s.backend_output(moved), format!("get {k1}\r\n").as_bytes());
    // The original router (shared ring) is untouched.
    assert_eq!(r.route(k1.as_bytes()), Some(1));

    let f = router(3, DownPolicy::Failover(vec![vec![1], vec![2, 0], vec![0]]));
    let mut s = Session::new(f, SessionConfig::default());
    s.backend_down(1);
    s.feed_client(format!("touch {k1} 5\r\n").as_bytes());
    assert_eq!(s.backend_output(2), format!("touch {k1} 5\r\n").as_bytes());
    s.backend_down(2);
    s.feed_client(format!("touch {k1} 6\r\n").as_bytes());
    assert_eq!(s.backend_output(0), format!("touch {k1} 6\r\n").as_bytes());
}

#[test]
fn quiet_meta_pipeline_across_shards_ends_with_one_mn() {
    let r = router(3, DownPolicy::FailFast);
    let ks: Vec<String> = (0..3).map(|b| key_on(&r, b, "m")).collect();
    let mut input = String::new();
    input.push_str(&format!("ms {} 2 q Oset0\r\nv0\r\n", ks[0]));
    input.push_str(&format!("ms {} 2 q ME Oadd2\r\nv2\r\n", ks[2]));
    input.push_str(&format!("ms {} 2 q ME Oadd2again\r\nzz\r\n", ks[2])); // NS: shown
    for k in &ks {
        input.push_str(&format!("mg {k} v q k Og-{k}\r\n")); // ks[1] is a miss: suppressed
    }
    input.push_str(&format!("md {} q Odel\r\n", ks[1])); // NF: shown
    input.push_str(&format!("md {} q Odel0\r\n", ks[0])); // HD: suppressed
    input.push_str("mn\r\n");
    let want = direct(input.as_bytes());
    assert!(want.ends_with(b"MN\r\n"));
    let s = Session::new(r.clone(), SessionConfig::default());
    let mut h = Harness::new(s, 7);
    h.s.feed_client(input.as_bytes());
    // The quiet commands reach their backends followed by our `mn`.
    assert!(
        h.s.backend_output(1)
            .ends_with(format!("md {} q Odel\r\nmn\r\n", ks[1]).as_bytes())
    );
    h.settle();
    assert_eq!(
        String::from_utf8_lossy(&h.client),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(h.client.windows(4).filter(|w| w == b"MN\r\n").count(), 1);

    // The client's MN waits for the slowest shard.
    let mut s = Session::new(r, SessionConfig::default());
    s.feed_client(format!("mg {} v q\r\nmg {} v q\r\nmn\r\n", ks[0], ks[1]).as_bytes());
    s.feed_backend(1, b"MN\r\n");
    assert!(s.client_output().is_empty());
    s.feed_backend(0, b"VA 1\r\nx\r\nMN\r\n");
    assert_eq!(s.client_output(), b"VA 1\r\nx\r\nMN\r\n");
}

#[test]
fn pipelined_mixed_traffic_comes_back_in_request_order() {
    let r = router(3, DownPolicy::FailFast);
    let mut input = String::new();
    for i in 0..60 {
        let k = format!("key{}", i % 11);
        input.push_str(&match i % 6 {
            0 => format!("set {k} {i} 0 3\r\nv{i:02}\r\n"),
            1 => format!("get {k} key{} key{}\r\n", (i + 3) % 11, (i + 5) % 11),
            2 => format!("incr {k} 2\r\n"),
            3 => format!("mg {k} v f k O{i}\r\n"),
            4 => "version\r\nGET x\r\n".to_owned(),
            _ => format!("delete {k} noreply\r\nmg {k} q\r\n"),
        });
    }
    input.push_str("mn\r\n");
    let want = direct(input.as_bytes());
    for seed in 1..20 {
        let mut h = Harness::new(Session::new(r.clone(), SessionConfig::default()), seed);
        assert_eq!(h.run(input.as_bytes()), want, "seed {seed}");
    }
}

#[test]
fn noreply_is_stripped_on_the_way_and_its_reply_swallowed() {
    let mut s = session(2);
    let r = s.router().clone();
    let k = key_on(&r, 0, "n");
    s.feed_client(
        format!("set {k} 5 0 2 noreply\r\nhi\r\nincr {k} 1 noreply\r\nget {k}\r\n").as_bytes(),
    );
    assert_eq!(
        s.backend_output(0),
        format!("set {k} 5 0 2\r\nhi\r\nincr {k} 1\r\nget {k}\r\n").as_bytes()
    );
    s.feed_backend(
        0,
        b"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    );
    assert!(s.client_output().is_empty());
    s.feed_backend(0, format!("VALUE {k} 5 2\r\nhi\r\nEND\r\n").as_bytes());
    assert_eq!(
        s.client_output(),
        format!("VALUE {k} 5 2\r\nhi\r\nEND\r\n").as_bytes()
    );
}

#[test]
fn broadcasts_answer_once_all_backends_did() {
    let mut s = session(3);
    s.feed_client(b"flush_all\r\nverbosity 1 noreply\r\nflush_all 10\r\n");
    for b in 0..3 {
        assert_eq!(
            s.backend_output(b),
            b"flush_all\r\nverbosity 1\r\nflush_all 10\r\n"
        );
    }
    s.feed_backend(2, b"OK\r\nOK\r\nCLIENT_ERROR flush_all not allowed\r\n");
    s.feed_backend(0, b"OK\r\nOK\r\n");
    assert!(s.client_output().is_empty());
    s.feed_backend(1, b"OK\r\nOK\r\nSERVER_ERROR busy\r\n");
    s.feed_backend(0, b"OK\r\n");
    // The second flush reports the lowest-numbered backend's error.
    assert_eq!(s.client_output(), b"OK\r\nSERVER_ERROR busy\r\n");
}

#[test]
fn stats_are_summed_and_version_is_local() {
    let mut s = session(2);
    s.feed_client(b"version\r\nstats\r\nstats settings\r\n");
    assert!(s.client_output().starts_with(b"VERSION 1.6.18\r\n"));
    assert_eq!(s.backend_output(0), b"stats\r\nstats settings\r\n");
    assert_eq!(s.backend_output(1), b"stats\r\n");
    s.feed_backend(
        1,
        b"STAT pid 9\r\nSTAT curr_items 5\r\nSTAT rusage_user 0.5\r\nSTAT extra 1\r\nEND\r\n",
    );
    s.feed_backend(
        0,
        b"STAT pid 7\r\nSTAT curr_items 3\r\nSTAT rusage_user 0.25\r\nEND\r\n",
    );
    s.feed_backend(0, b"STAT maxbytes 64\r\nEND\r\n");
    assert_eq!(
        String::from_utf8_lossy(s.client_output()),
        "VERSION 1.6.18\r\nSTAT pid 9\r\nSTAT curr_items 8\r\nSTAT rusage_user 0.5\r\nSTAT extra 1\r\nEND\r\nSTAT maxbytes 64\r\nEND\r\n"
    );
}

#[test]
fn quit_flushes_earlier_replies_then_closes() {
    let mut s = session(2);
    let k = key_on(s.router(), 1, "z");
    s.feed_client(format!("get {k}\r\nquit\r\nget {k}\r\n").as_bytes());
    assert!(!s.should_close_client());
    assert_eq!(s.backend_output(1), format!("get {k}\r\n").as_bytes());
    s.feed_backend(1, b"END\r\n");
    assert_eq!(s.client_output(), b"END\r\n");
    assert!(!s.should_close_client());
    s.advance_client(5);
    assert!(s.should_close_client());
    assert!(!s.wants_client_read());
}
