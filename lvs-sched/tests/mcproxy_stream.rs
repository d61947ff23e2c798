//! Multi-get streaming: while a `get` is the oldest request, the settled prefix of its key
//! list (keys whose VALUE arrived or whose backend proved them a miss) goes to the client at
//! once, in the client's key order, without waiting for the slower backend; the last bytes
//! equal the merge of the complete replies.

mod mcproxy_support;

use lvs_sched::mcproxy::{BackendFault, DownPolicy, Event, Router, Session, SessionConfig};
use mcproxy_support::router;
use proptest::prelude::*;

/// The first `n` keys `<prefix><i>` that backend `b` owns.
fn keys_on(r: &Router, b: usize, prefix: &str, n: usize) -> Vec<String> {
    (0..100_000)
        .map(|i| format!("{prefix}{i}"))
        .filter(|k| r.route(k.as_bytes()) == Some(b))
        .take(n)
        .collect()
}

fn block(key: &str, data: &str) -> String {
    format!("VALUE {key} 0 {}\r\n{data}\r\n", data.len())
}

/// A two-backend session with a `get` of `keys` sent and its sub-requests written.
fn two_way(keys: &[&str]) -> (Session, Router) {
    let r = router(2, DownPolicy::FailFast);
    let mut s = Session::new(r.clone(), SessionConfig::default());
    s.feed_client(format!("get {}\r\n", keys.join(" ")).as_bytes());
    for b in 0..2 {
        let n = s.backend_output(b).len();
        s.advance_backend(b, n);
    }
    (s, r)
}

/// Takes everything the client has been given so far.
fn take(s: &mut Session) -> String {
    let out = String::from_utf8(s.client_output().to_vec()).unwrap();
    s.advance_client(out.len());
    out
}

#[test]
fn the_fast_backends_prefix_goes_out_before_the_slow_backend_answers() {
    let r = router(2, DownPolicy::FailFast);
    let a = keys_on(&r, 0, "a", 3);
    let b = keys_on(&r, 1, "b", 1);
    let (mut s, _) = two_way(&[&a[0], &a[1], &b[0], &a[2]]);
    assert_eq!(
        s.backend_output(0),
        b"",
        "the sub-requests were written already"
    );

    // Backend 0 answers in pieces; a block goes out once it is complete.
    let reply_a = format!(
        "{}{}{}END\r\n",
        block(&a[0], "zero"),
        block(&a[1], "one"),
        block(&a[2], "two")
    );
    let cut = block(&a[0], "zero").len() - 3;
    s.feed_backend(0, &reply_a.as_bytes()[..cut]);
    assert_eq!(take(&mut s), "", "half a block is not settled");
    s.feed_backend(0, &reply_a.as_bytes()[cut..]);
    // The first two keys are settled; the third waits on backend 1, the fourth behind it.
    assert_eq!(
        take(&mut s),
        format!("{}{}", block(&a[0], "zero"), block(&a[1], "one"))
    );
    assert_eq!(s.pending_requests(), 1);

    s.feed_backend(1, block(&b[0], "bee").as_bytes());
    assert_eq!(
        take(&mut s),
        format!("{}{}", block(&b[0], "bee"), block(&a[2], "two"))
    );
    assert_eq!(s.pending_requests(), 1, "backend 1 still owes its END");
    s.feed_backend(1, b"END\r\n");
    assert_eq!(take(&mut s), "END\r\n");
    assert_eq!(s.pending_requests(), 0);
}

#[test]
fn interleaved_key_placement_comes_out_in_exact_client_order() {
    let r = router(2, DownPolicy::FailFast);
    let a = keys_on(&r, 0, "a", 3);
    let b = keys_on(&r, 1, "b", 3);
    let (mut s, _) = two_way(&[&a[0], &b[0], &a[1], &b[1], &a[2], &b[2], &a[0]]);
    // Backend 1 first: its key is second, so nothing can go yet.
    s.feed_backend(1, block(&b[0], "B0").as_bytes());
    assert_eq!(take(&mut s), "");
    s.feed_backend(0, block(&a[0], "A0").as_bytes());
    assert_eq!(
        take(&mut s),
        format!("{}{}", block(&a[0], "A0"), block(&b[0], "B0"))
    );
    // a2's block proves a1 a miss; b1 is still open.
    s.feed_backend(0, block(&a[2], "A2").as_bytes());
    assert_eq!(take(&mut s), "");
    // Backend 1's END makes b1 and b2 misses: a1 (miss), b1, a2, b2 go; the duplicate a0 at
    // the end still waits on backend 0.
    s.feed_backend(1, b"END\r\n");
    assert_eq!(take(&mut s), block(&a[2], "A2"));
    s.feed_backend(0, format!("{}END\r\n", block(&a[0], "A0bis")).as_bytes());
    assert_eq!(take(&mut s), format!("{}END\r\n", block(&a[0], "A0bis")));
    assert_eq!(s.pending_requests(), 0);
}

#[test]
fn backend_down_mid_stream_yields_misses_for_the_rest_and_one_end() {
    let r = router(2, DownPolicy::FailFast);
    let a = keys_on(&r, 0, "a", 3);
    let b = keys_on(&r, 1, "b", 3);
    let keys = [&a[0], &b[0], &a[1], &b[1], &a[2], &b[2]];
    let (mut s, _) = two_way(&keys.map(String::as_str));
    s.feed_client(format!("get {}\r\n", a[0]).as_bytes());
    let n = s.backend_output(0).len();
    s.advance_backend(0, n);

    s.feed_backend(
        0,
        format!(
            "{}{}{}END\r\n",
            block(&a[0], "x"),
            block(&a[1], "y"),
            block(&a[2], "z")
        )
        .as_bytes(),
    );
    // Backend 1 sends b0 and half of b1, then dies.
    let partial = format!("{}{}", block(&b[0], "p"), block(&b[1], "qqqq"));
    s.feed_backend(1, &partial.as_bytes()[..partial.len() - 4]);
    let before = take(&mut s);
    assert_eq!(
        before,
        format!(
            "{}{}{}",
            block(&a[0], "x"),
            block(&b[0], "p"),
            block(&a[1], "y")
        )
    );
    s.backend_down(1);
    // b1 and b2 are misses; a2 follows; one END; then the next request's reply.
    let after = take(&mut s);
    assert_eq!(after, format!("{}END\r\n", block(&a[2], "z")));
    assert_eq!(s.counters().keys_missed, 2);
    assert_eq!(s.pending_requests(), 1, "the second get waits on backend 0");
    s.feed_backend(0, format!("{}END\r\n", block(&a[0], "x")).as_bytes());
    assert_eq!(take(&mut s), format!("{}END\r\n", block(&a[0], "x")));
}

#[test]
fn a_backend_fault_mid_stream_settles_like_a_down_backend() {
    let r = router(2, DownPolicy::FailFast);
    let a = keys_on(&r, 0, "a", 2);
    let b = keys_on(&r, 1, "b", 2);
    let (mut s, _) = two_way(&[&b[0], &a[0], &b[1], &a[1]]);
    s.feed_backend(1, block(&b[0], "ok").as_bytes());
    assert_eq!(take(&mut s), block(&b[0], "ok"));
    // A VALUE for a key backend 1 was never asked for.
    s.feed_backend(1, block("stranger", "no").as_bytes());
    assert_eq!(
        s.poll_event(),
        Some(Event::BackendFault {
            backend: 1,
            fault: BackendFault::WrongValueKey
        })
    );
    assert_eq!(take(&mut s), "", "a0 still waits on backend 0");
    s.feed_backend(0, format!("{}END\r\n", block(&a[1], "A1")).as_bytes());
    assert_eq!(take(&mut s), format!("{}END\r\n", block(&a[1], "A1")));
    assert_eq!(s.counters().keys_missed, 1);
}

#[test]
fn a_get_behind_an_unanswered_request_waits_for_it() {
    let r = router(2, DownPolicy::FailFast);
    let a = keys_on(&r, 0, "a", 2);
    let b = keys_on(&r, 1, "b", 1);
    let mut s = Session::new(r, SessionConfig::default());
    s.feed_client(format!("delete {}\r\nget {} {}\r\n", b[0], a[0], a[1]).as_bytes());
    s.feed_backend(0, block(&a[0], "v").as_bytes());
    assert_eq!(take(&mut s), "", "the delete's reply comes first");
    s.feed_backend(1, b"DELETED\r\n");
    assert_eq!(
        take(&mut s),
        format!("DELETED\r\n{}", block(&a[0], "v")),
        "then the get's settled prefix"
    );
    s.feed_backend(0, b"END\r\n");
    assert_eq!(take(&mut s), "END\r\n");
}

#[test]
fn streamed_blocks_are_no_longer_held_by_the_session() {
    let r = router(2, DownPolicy::FailFast);
    let a = keys_on(&r, 0, "a", 50);
    let b = keys_on(&r, 1, "b", 1);
    let mut keys: Vec<&str> = a.iter().map(String::as_str).collect();
    keys.push(&b[0]);
    let (mut s, _) = two_way(&keys);
    let data = "v".repeat(1000);
    let reply: String = a.iter().map(|k| block(k, &data)).collect();
    s.feed_backend(0, format!("{reply}END\r\n").as_bytes());
    let out = take(&mut s);
    assert_eq!(out, reply);
    assert_eq!(
        s.buffered_bytes(),
        0,
        "every block went to the client; nothing waits on backend 1 but its END"
    );
    s.feed_backend(1, b"END\r\n");
    assert_eq!(take(&mut s), "END\r\n");
}

#[test]
fn an_error_after_streaming_ends_the_reply_in_place_of_end() {
    let r = router(2, DownPolicy::FailFast);
    let a = keys_on(&r, 0, "a", 2);
    let b = keys_on(&r, 1, "b", 2);
    // Before anything was streamed the whole reply is the error, as without streaming.
    let (mut s, _) = two_way(&[&b[0], &a[0]]);
    s.feed_backend(0, format!("{}END\r\n", block(&a[0], "x")).as_bytes());
    s.feed_backend(1, b"SERVER_ERROR out of memory\r\n");
    assert_eq!(take(&mut s), "SERVER_ERROR out of memory\r\n");

    // After: the blocks already sent stay, the error ends the reply, nothing more is sent.
    let (mut s, _) = two_way(&[&a[0], &b[0], &a[1], &b[1]]);
    s.feed_backend(
        0,
        format!("{}{}END\r\n", block(&a[0], "x"), block(&a[1], "y")).as_bytes(),
    );
    assert_eq!(take(&mut s), block(&a[0], "x"));
    s.feed_backend(1, b"SERVER_ERROR out of memory\r\n");
    assert_eq!(take(&mut s), "SERVER_ERROR out of memory\r\n");
    assert_eq!(s.pending_requests(), 0);
    assert_eq!(s.buffered_bytes(), 0);
}

/// Keys for the property test: six on each backend, by index.
fn pool_keys() -> [Vec<String>; 2] {
    let r = router(2, DownPolicy::FailFast);
    [keys_on(&r, 0, "a", 6), keys_on(&r, 1, "b", 6)]
}

/// What the client must have seen: the complete-then-merge rule applied to what each backend
/// delivered so far, cut at the first key that is not settled.
struct Reference {
    /// Client key list: the backend and, for a hit, the exact VALUE block.
    slots: Vec<(usize, Option<String>)>,
    names: Vec<String>,
    /// Per backend: the client index of each hit, in order, with its block's end offset in
    /// the backend's reply.
    hits: [Vec<(usize, usize)>; 2],
    reply: [String; 2],
}

impl Reference {
    fn new(keys: &[(usize, usize)], hit: &[Option<String>; 12], gets: bool) -> Self {
        let pool = pool_keys();
        let mut r = Self {
            slots: Vec::new(),
            names: Vec::new(),
            hits: [Vec::new(), Vec::new()],
            reply: [String::new(), String::new()],
        };
        for (i, &(b, k)) in keys.iter().enumerate() {
            let name = pool[b][k].clone();
            let block = hit[b * 6 + k].as_ref().map(|d| {
                let cas = if gets {
                    format!(" {}", b * 6 + k)
                } else {
                    String::new()
                };
                format!("VALUE {name} {k} {}{cas}\r\n{d}\r\n", d.len())
            });
            if let Some(v) = &block {
                r.reply[b].push_str(v);
                r.hits[b].push((i, r.reply[b].len()));
            }
            r.slots.push((b, block));
            r.names.push(name);
        }
        // Only a backend that owns some key gets a sub-request, and answers it with END.
        for b in 0..2 {
            if r.slots.iter().any(|&(o, _)| o == b) {
                r.reply[b].push_str("END\r\n");
            }
        }
        r
    }

    /// The client's bytes once backend `b` delivered `fed[b]` bytes (and died there if
    /// `down[b]`).
    fn expected(&self, fed: [usize; 2], down: [bool; 2]) -> String {
        let done = |b: usize| down[b] || fed[b] == self.reply[b].len();
        // Client indices of the hits whose block arrived whole, per backend.
        let complete: [Vec<usize>; 2] = [0, 1].map(|b| {
            self.hits[b]
                .iter()
                .filter(|&&(_, end)| end <= fed[b])
                .map(|&(i, _)| i)
                .collect()
        });
        let mut out = String::new();
        for (i, (b, block)) in self.slots.iter().enumerate() {
            // A backend's later block proves its earlier keys settled (values or misses).
            let settled = done(*b) || complete[*b].last().is_some_and(|&l| l >= i);
            if !settled {
                return out;
            }
            if let Some(v) = block
                && complete[*b].contains(&i)
            {
                out.push_str(v);
            }
        }
        // The END once every sub-request is answered.
        if (0..2).all(done) {
            out.push_str("END\r\n");
        }
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_interleaving_and_chunking_gives_the_merged_bytes(
        keys in prop::collection::vec((0usize..2, 0usize..6), 1..40),
        hit in prop::array::uniform12(prop::option::weighted(0.7, "[a-z\r\n]{0,12}")),
        gets in any::<bool>(),
        steps in prop::collection::vec((0usize..2, 1usize..48), 0..60),
        down in prop::option::weighted(0.25, (0usize..2, 0usize..60)),
        shared in any::<bool>(),
    ) {
        let reference = Reference::new(&keys, &hit, gets);
        let r = router(2, DownPolicy::FailFast);
        let mut s = Session::new(r, SessionConfig::default());
        let line: Vec<&str> = reference.names.iter().map(String::as_str).collect();
        s.feed_client(format!("{} {}\r\n", if gets { "gets" } else { "get" }, line.join(" ")).as_bytes());
        for b in 0..2 {
            let n = s.backend_output(b).len();
            s.advance_backend(b, n);
        }
        let mut fed = [0usize; 2];
        let mut dead = [false; 2];
        let mut got = String::new();
        // The schedule, then whatever is left, alternating.
        let tail = (0..200).map(|i| (i % 2, 64));
        for (step, (b, len)) in steps.iter().copied().chain(tail).enumerate() {
            if let Some((d, at)) = down
                && at == step
                && !dead[d]
            {
                s.backend_down(d);
                dead[d] = true;
            }
            let rep = reference.reply[b].as_bytes();
            if dead[b] || fed[b] == rep.len() {
                if (0..2).all(|x| dead[x] || fed[x] == reference.reply[x].len()) {
                    break;
                }
                continue;
            }
            let end = (fed[b] + len).min(rep.len());
            let chunk = &rep[fed[b]..end];
            if shared {
                let owed = s.backend_owed(b);
                let f = s.feed_backend_shared(b, chunk, owed);
                prop_assert_eq!(f.consumed, chunk.len());
                prop_assert_eq!(f.fault, None);
            } else {
                s.feed_backend(b, chunk);
            }
            fed[b] = end;
            got.push_str(&take(&mut s));
            prop_assert_eq!(&got, &reference.expected(fed, dead), "after step {}", step);
        }
        got.push_str(&take(&mut s));
        let want = reference.expected(fed, dead);
        prop_assert!(want.ends_with("END\r\n"));
        prop_assert_eq!(&got, &want);
        if down.is_none() {
            // Exactly one server's answer: every hit in the client's key order.
            let merged: String = reference
                .slots
                .iter()
                .filter_map(|(_, v)| v.as_deref())
                .chain(["END\r\n"])
                .collect();
            prop_assert_eq!(&got, &merged);
        }
        prop_assert_eq!(s.pending_requests(), 0);
        prop_assert_eq!(s.buffered_bytes(), 0);
    }
}
