//! Hostile clients, hostile backends, and bounded memory under a flood.

mod mcproxy_support;

use lvs_core::memcache::ResponseError;
use lvs_sched::mcproxy::{
    BACKEND_UNAVAILABLE, BackendFault, DownPolicy, Event, Session, SessionConfig,
};
use mcproxy_support::{Harness, Model, direct, key_on, router, session};

/// memcache.md §7.4 client inputs: each gets memcached's exact reply through the proxy, and a
/// `set`/`get` right after still works (the stream did not lose its place).
#[test]
fn hostile_client_inputs_get_memcached_errors_and_keep_the_stream_in_step() {
    let long_key = "k".repeat(251);
    let ok_key = "k".repeat(250);
    let big = "x".repeat(1_048_517);
    let inputs: Vec<Vec<u8>> = vec![
        b"GET k\r\n".to_vec(),
        b"get\tk\r\n".to_vec(),
        b"\r\n".to_vec(),
        b"\0get k\r\n".to_vec(),
        b"get k\0junk\r\n".to_vec(),
        b"get k\n".to_vec(),
        b"get k\rx\r\n".to_vec(),
        b"\r\r\n".to_vec(),
        format!("{}get k\r\n", " ".repeat(100)).into_bytes(),
        b"set k 0 0 -1\r\nxy\r\n".to_vec(),
        b"set k 4294967297 0 1\r\nx\r\nget k\r\n".to_vec(),
        b"set k -0 0 1\r\nx\r\n".to_vec(),
        b"set k 0 +5 1\r\nx\r\n".to_vec(),
        b"set k 0 -1 1\r\nx\r\n".to_vec(),
        b"set k 0 0 x\r\nx\r\n".to_vec(),
        b"set k 0 0 2147483646\r\n".to_vec(),
        b"cas k 0 0 1 18446744073709551616\r\nx\r\n".to_vec(),
        b"incr k 18446744073709551616\r\n".to_vec(),
        b"incr k -1\r\n".to_vec(),
        b"set n 0 0 20\r\n18446744073709551615\r\nincr n 1\r\n".to_vec(),
        format!("get {long_key}\r\n").into_bytes(),
        format!("set {long_key} 0 0 1\r\nx\r\n").into_bytes(),
        format!("set {ok_key} 0 0 1\r\nx\r\nget {ok_key}\r\n").into_bytes(),
        b"set k 0 0 1\r\nv\r\nget k k k\r\n".to_vec(),
        b"set k 0 0 1\nx\n".to_vec(),
        b"set k 0 0 2\r\nabc\r\n".to_vec(),
        format!("set k 0 0 {}\r\n{big}\r\n", big.len()).into_bytes(),
        format!(
            "mg k {}\r\n",
            (0..21)
                .map(|i| format!("O{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
        .into_bytes(),
        b"mg k v v\r\n".to_vec(),
        format!("mg k O{}\r\n", "o".repeat(32)).into_bytes(),
        b"ms k 1 MEE\r\nx\r\n".to_vec(),
        b"ms k 2 MX\r\nhi\r\n".to_vec(),
        b"ma k MZ\r\n".to_vec(),
        b"mg k \xff\r\n".to_vec(),
        b"mg !!!! b\r\n".to_vec(),
        b"md k zz q\r\n".to_vec(),
        b"delete k 1\r\n".to_vec(),
        b"verbosity\r\n".to_vec(),
    ];
    let mut in_step = 0;
    for (i, input) in inputs.iter().enumerate() {
        let mut all = input.clone();
        all.extend_from_slice(b"set k 0 0 1\r\nv\r\nget k\r\nmn\r\n");
        let want = direct(&all);
        // The model itself may fold the tail into a broken data block; mostly it serves it.
        in_step += usize::from(want.ends_with(b"VALUE k 0 1\r\nv\r\nEND\r\nMN\r\n"));
        for seed in [3, 99] {
            let s = Session::new(router(3, DownPolicy::FailFast), SessionConfig::default());
            let mut h = Harness::new(s, seed + i as u64);
            let got = h.run(&all);
            assert!(
                got == want,
                "input {i}: {:?}",
                String::from_utf8_lossy(&got[..got.len().min(300)])
            );
        }
    }
    assert!(in_step + 2 >= inputs.len(), "{in_step} of {}", inputs.len());
    // A few exact strings, not only agreement with the model.
    let mut s = session(2);
    s.feed_client(b"GET k\r\nincr k -1\r\nmg k v v\r\nms k 2 MX\r\nhi\r\nverbosity x\r\n");
    assert_eq!(
        String::from_utf8_lossy(s.client_output()),
        "ERROR\r\nCLIENT_ERROR invalid numeric delta argument\r\nCLIENT_ERROR duplicate flag\r\n\
         CLIENT_ERROR invalid mode for ms M token\r\nCLIENT_ERROR bad command line format\r\n"
    );
}

#[test]
fn inputs_memcached_closes_on_close_the_session_after_earlier_replies() {
    let closing: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\n".to_vec(),
        vec![b'x'; 3000],
        format!("{}get k\r\n", " ".repeat(10_000)).into_bytes(),
        format!("gat 0 {}", "k ".repeat(1500)).into_bytes(),
        vec![0x80, 0, 0, 0],
    ];
    for input in closing {
        let mut s = session(2);
        let k = key_on(s.router(), 0, "c");
        if input[0] != 0x80 {
            s.feed_client(format!("get {k}\r\n").as_bytes());
        }
        s.feed_client(&input);
        assert!(!s.wants_client_read());
        assert!(Model::default().feed(&input).is_empty());
        if input[0] != 0x80 {
            assert!(!s.should_close_client(), "waits for the earlier reply");
            s.feed_backend(0, b"END\r\n");
            assert_eq!(s.client_output(), b"END\r\n");
            s.advance_client(5);
        }
        assert!(s.should_close_client());
    }
    // A long get line is allowed, as in memcached.
    let mut s = session(2);
    s.feed_client(format!("get {}", "k ".repeat(1500)).as_bytes());
    assert!(s.wants_client_read());
    assert!(!s.should_close_client());
}

fn faulty(reply: &[u8], request: &str, fault: BackendFault) {
    let mut s = session(2);
    let (k0, k1) = (key_on(s.router(), 0, "h"), key_on(s.router(), 1, "h"));
    s.feed_client(
        format!("get {k0} {k1}\r\n{request}get {k1}\r\n")
            .replace("KEY", &k0)
            .as_bytes(),
    );
    s.feed_backend(0, reply);
    assert_eq!(
        s.poll_event(),
        Some(Event::BackendFault { backend: 0, fault })
    );
    assert_eq!(s.poll_event(), None);
    assert!(s.router().is_down(0));
    // Backend 1 is unaffected.
    s.feed_backend(
        1,
        format!("VALUE {k1} 0 1\r\nB\r\nEND\r\nVALUE {k1} 0 1\r\nB\r\nEND\r\n").as_bytes(),
    );
    let one = format!("VALUE {k1} 0 1\r\nB\r\nEND\r\n");
    let mut want = one.clone().into_bytes();
    if !request.is_empty() {
        want.extend_from_slice(BACKEND_UNAVAILABLE);
    }
    want.extend_from_slice(one.as_bytes());
    assert_eq!(
        String::from_utf8_lossy(s.client_output()),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(s.pending_requests(), 0);
    // More bytes from the closed backend are ignored.
    s.feed_backend(0, b"END\r\n");
    assert_eq!(s.counters().ignored_backend_bytes, 5);
}

#[test]
fn hostile_backend_replies_close_that_backend_and_fail_only_its_requests() {
    faulty(
        b"HELLO THERE\r\n",
        "",
        BackendFault::Malformed(ResponseError::Unknown),
    );
    faulty(
        b"VALUE h 0 99999999\r\n",
        "",
        BackendFault::Malformed(ResponseError::ValueTooLarge),
    );
    faulty(
        b"VALUE nothere 0 1\r\nx\r\nEND\r\n",
        "",
        BackendFault::WrongValueKey,
    );
    faulty(b"END\r\nEND\r\n", "", BackendFault::Unsolicited);
    faulty(
        b"END\r\nVALUE KEY 0 1\r\nx\r\nEND\r\n",
        "set KEY 0 0 1\r\nx\r\n",
        BackendFault::UnexpectedReply,
    );
    let mut long = b"END\r\nVERSION ".to_vec();
    long.extend(std::iter::repeat_n(b'9', 1 << 20));
    faulty(
        &long,
        "delete KEY\r\n",
        BackendFault::Malformed(ResponseError::LineTooLong),
    );
    faulty(
        b"END\r\nVALUE KEY 0 3\r\nabc\r\n",
        "mg KEY v\r\n",
        BackendFault::UnexpectedReply,
    );
    faulty(
        b"END\r\nMN\r\n",
        "mg KEY v\r\n",
        BackendFault::UnexpectedReply,
    );
}

#[test]
fn a_flood_is_held_back_and_memory_falls_back_after_it() {
    let cfg = SessionConfig {
        max_pending: 32,
        max_client_output: 4096,
        max_backend_output: 4096,
        max_buffered: 8192,
        shrink_above: 4096,
        ..SessionConfig::default()
    };
    let r = router(3, DownPolicy::FailFast);
    let mut h = Harness::new(Session::new(r, cfg.clone()), 5);
    let value = "v".repeat(500);
    let mut input = String::new();
    for i in 0..20 {
        input.push_str(&format!("set key{i} 0 0 500\r\n{value}\r\n"));
    }
    for i in 0..3000 {
        input.push_str(&format!("get key{} key{}\r\n", i % 20, (i + 7) % 20));
    }
    let want = direct(input.as_bytes());
    let mut fed = 0;
    let mut peak = 0;
    // A client that writes everything and reads nothing until the session pushes back.
    while fed < input.len() && h.s.wants_client_read() {
        let n = (input.len() - fed).min(1000);
        h.s.feed_client(&input.as_bytes()[fed..fed + n]);
        fed += n;
        while h.step_backends_only() {}
        assert!(h.s.pending_requests() <= cfg.max_pending);
        peak = peak.max(h.s.buffered_bytes());
    }
    assert!(fed < input.len(), "backpressure never came");
    assert!(peak < 64 << 10, "buffered {peak} bytes");
    // Now the client reads, and the shell feeds more whenever the session asks for it.
    let mut got = Vec::new();
    loop {
        got.extend_from_slice(h.s.client_output());
        let n = h.s.client_output().len();
        h.s.advance_client(n);
        while h.step_backends_only() {}
        if fed < input.len() && h.s.wants_client_read() {
            let n = (input.len() - fed).min(1000);
            h.s.feed_client(&input.as_bytes()[fed..fed + n]);
            fed += n;
        } else if fed == input.len()
            && h.s.pending_requests() == 0
            && h.s.client_output().is_empty()
        {
            break;
        }
        assert!(h.s.pending_requests() <= cfg.max_pending);
        peak = peak.max(h.s.buffered_bytes());
    }
    assert!(got == want, "flood replies differ");
    assert!(peak < 64 << 10, "buffered {peak} bytes");
    assert_eq!(h.s.buffered_bytes(), 0);
    assert!(
        h.s.buffer_capacity() <= 5 * cfg.shrink_above,
        "{}",
        h.s.buffer_capacity()
    );
}

impl HarnessExt for Harness {
    fn step_backends_only(&mut self) -> bool {
        let n = self.models.len();
        for b in 0..n {
            let req = self.s.backend_output(b).to_vec();
            if !req.is_empty() {
                self.s.advance_backend(b, req.len());
                let r = self.models[b].feed(&req);
                self.replies[b].extend_from_slice(&r);
                return true;
            }
            if !self.replies[b].is_empty() && self.s.wants_backend_read(b) {
                let r = std::mem::take(&mut self.replies[b]);
                self.s.feed_backend(b, &r);
                return true;
            }
        }
        false
    }
}

trait HarnessExt {
    /// Moves requests and replies between the session and the models, never touching the
    /// client output.
    fn step_backends_only(&mut self) -> bool;
}
