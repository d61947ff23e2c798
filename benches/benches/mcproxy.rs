//! The memcached proxy's session core (`lvs_sched::mcproxy::Session`) on its own, no sockets:
//! what one request costs in user space, the part of lvs-mcproxy's CPU per request and of its
//! multi-get latency that is ours rather than the kernel's.
//!
//! - `mget_1000`: a `get` of 1,000 keys over two servers (fnv1a_64 + ketama): split, both
//!   servers' replies (100-byte values) fed back in 64 KiB reads as a shared connection
//!   delivers them, merged and streamed to the client output. The whole round trip of
//!   `benches/scripts/mc_mget_latency.sh` minus the system calls.
//! - `get_1`: one `get` of one key and its `VALUE` reply, the common request.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lvs_sched::mcproxy::{DownPolicy, Router, Session, SessionConfig};
use lvs_sched::ring::{Distribution, HashFunction, ServerSpec, TwemproxyPool};

const READ: usize = 64 << 10;

fn session() -> Session {
    let servers = ["127.0.0.1:11211:1", "127.0.0.1:11212:1"]
        .iter()
        .map(|s| ServerSpec::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .expect("servers");
    let pool =
        TwemproxyPool::new(servers, HashFunction::Fnv1a64, Distribution::Ketama).expect("pool");
    Session::new(
        Router::new(pool, DownPolicy::FailFast).expect("router"),
        SessionConfig::default(),
    )
}

/// What a memcached answers to `get` line `req` when every key holds `size` bytes.
fn answer(req: &[u8], size: usize) -> Vec<u8> {
    let line = req.strip_suffix(b"\r\n").expect("a request line");
    let mut out = Vec::new();
    for key in line.split(|&b| b == b' ').skip(1) {
        out.extend_from_slice(b"VALUE ");
        out.extend_from_slice(key);
        out.extend_from_slice(format!(" 0 {size}\r\n").as_bytes());
        out.resize(out.len() + size, b'v');
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"END\r\n");
    out
}

/// The replies both servers give to `request` (their sub-requests are the same every time).
fn replies(s: &mut Session, request: &[u8]) -> Vec<Vec<u8>> {
    s.feed_client(request);
    let mut r = Vec::new();
    for i in 0..2 {
        let out = s.backend_output(i).to_vec();
        s.advance_backend(i, out.len());
        r.push(if out.is_empty() {
            Vec::new()
        } else {
            answer(&out, 100)
        });
    }
    for (i, bytes) in r.iter().enumerate() {
        s.feed_backend(i, bytes);
    }
    let n = s.client_output().len();
    s.advance_client(n);
    r
}

/// One request through the session: the client's bytes in, each server's request out, the
/// replies in (`READ` bytes per call, the first server first), the client's reply out.
/// Returns the reply length.
fn round_trip(s: &mut Session, request: &[u8], replies: &[Vec<u8>]) -> usize {
    s.feed_client(request);
    for i in 0..replies.len() {
        let n = s.backend_output(i).len();
        s.advance_backend(i, n);
    }
    for (i, r) in replies.iter().enumerate() {
        for chunk in r.chunks(READ) {
            s.feed_backend(i, chunk);
        }
    }
    let n = s.client_output().len();
    s.advance_client(n);
    n
}

fn mget(c: &mut Criterion) {
    let mut g = c.benchmark_group("mcproxy_session");
    let mut request = b"get".to_vec();
    for i in 0..1000 {
        request.extend_from_slice(format!(" mget:{i:06}").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let mut s = session();
    let big = replies(&mut s, &request);
    let total = round_trip(&mut s, &request, &big);
    assert_eq!(
        total,
        1000 * (b"VALUE mget:000000 0 100\r\n".len() + 102) + 5
    );
    g.throughput(Throughput::Elements(1000));
    g.bench_function("mget_1000", |b| {
        b.iter(|| round_trip(&mut s, black_box(&request), &big));
    });
    let one = b"get mget:000001\r\n";
    let small = replies(&mut s, one);
    assert_eq!(round_trip(&mut s, one, &small), 25 + 102 + 5);
    g.throughput(Throughput::Elements(1));
    g.bench_function("get_1", |b| {
        b.iter(|| round_trip(&mut s, black_box(one), &small));
    });
    g.finish();
}

criterion_group!(benches, mget);
criterion_main!(benches);
