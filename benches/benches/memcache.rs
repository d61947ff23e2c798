//! The memcached text codec: a `get` with a 10-byte key, a `set` with a 100-byte value, value
//! body throughput (the body is skipped by length, never scanned), a 100-key `get`, `VALUE`
//! responses at 4 KiB, and one 64 KiB pipelined stream fed whole, in 16-byte chunks and one
//! byte per call (the `memcache_feed` group: the ratio of `byte_at_a_time` to `whole` is the
//! cost of resuming).
//!
//! Resuming costs a comparison or two in the inlined front of `parse` (a data block still
//! short, or one more line byte that is no LF or NUL); no byte is scanned twice. On the 2-vCPU
//! EPYC sandbox (best of 300 interleaved runs, the bench's own numbers are noisier under load):
//! whole 54.7 µs, 16-byte chunks 71.7 µs (1.31×), one byte per call 109.5 µs (2.0×, was 5.8×).
//! What remains of the 2× is the caller's loop itself, about 0.8 ns per call: the ≤ 1.2× target
//! cannot be met while every byte is a call of its own. `byte_loop_floor` measures that loop
//! with nothing in it but a look at the new byte: it alone takes 0.72× of `whole` on the quiet
//! sandbox (43 µs against 60 µs) and about 1× under load, so no byte-fed parser can come under
//! about 1.7× here.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lvs_core::memcache::{Parsed, ParserState, ResponseState, parse, parse_response};

fn once(buf: &[u8]) -> usize {
    let mut st = ParserState::default();
    match parse(black_box(buf), &mut st) {
        Parsed::Complete { consumed, .. } => consumed,
        other => panic!("{other:?}"),
    }
}

fn requests(c: &mut Criterion) {
    let mut g = c.benchmark_group("memcache_request");
    let get = b"get 0123456789\r\n";
    g.throughput(Throughput::Elements(1));
    g.bench_function("get_10b_key", |b| b.iter(|| once(get)));
    let mut set = b"set 0123456789 0 0 100\r\n".to_vec();
    set.extend_from_slice(&[b'v'; 100]);
    set.extend_from_slice(b"\r\n");
    g.bench_function("set_100b_value", |b| b.iter(|| once(&set)));
    let mut multi = b"get".to_vec();
    for i in 0..100 {
        multi.extend_from_slice(format!(" key:{i:06}").as_bytes());
    }
    multi.extend_from_slice(b"\r\n");
    g.bench_function("get_100_keys", |b| b.iter(|| once(&multi)));
    g.finish();

    let mut g = c.benchmark_group("memcache_body");
    for n in [1024usize, 65536] {
        let mut set = format!("set k 0 0 {n}\r\n").into_bytes();
        set.extend(std::iter::repeat_n(b'v', n));
        set.extend_from_slice(b"\r\n");
        g.throughput(Throughput::Bytes(set.len() as u64));
        g.bench_function(format!("set_{n}b"), |b| b.iter(|| once(&set)));
    }
    g.finish();
}

fn responses(c: &mut Criterion) {
    let mut g = c.benchmark_group("memcache_response");
    let mut v = b"VALUE somekey 0 4096\r\n".to_vec();
    v.extend(std::iter::repeat_n(b'v', 4096));
    v.extend_from_slice(b"\r\n");
    g.throughput(Throughput::Bytes(v.len() as u64));
    g.bench_function("value_4k", |b| {
        b.iter(|| {
            let mut st = ResponseState::default();
            match parse_response(black_box(&v), &mut st) {
                Parsed::Complete { consumed, .. } => consumed,
                other => panic!("{other:?}"),
            }
        });
    });
    g.finish();
}

/// A 64 KiB pipelined stream of small requests.
fn stream() -> Vec<u8> {
    let mut s = Vec::new();
    for i in 0.. {
        if s.len() >= 64 << 10 {
            break;
        }
        s.extend_from_slice(format!("get key:{i:06}\r\nset key:{i:06} 0 0 20\r\n").as_bytes());
        s.extend_from_slice(&[b'v'; 20]);
        s.extend_from_slice(format!("\r\nmg key:{i:06} v f O{i}\r\n").as_bytes());
    }
    s
}

/// Feeds `data` `step` bytes at a time the way a shell does and counts requests.
fn feed(data: &[u8], step: usize) -> usize {
    let mut st = ParserState::default();
    let (mut start, mut end, mut n) = (0, 0, 0);
    while end < data.len() {
        end = (end + step).min(data.len());
        loop {
            match parse(&data[start..end], &mut st) {
                Parsed::Complete { consumed, .. } => {
                    start += consumed;
                    n += 1;
                }
                Parsed::Incomplete => break,
                other => panic!("{other:?}"),
            }
        }
    }
    n
}

/// The least any byte-at-a-time feeding can cost: the caller's loop handing one more byte
/// each time to a "parser" that only looks at that byte (is it a line end?). No parser fed a
/// byte per call can run faster than this loop; compare it with `whole`.
fn byte_loop_floor(data: &[u8]) -> usize {
    let mut lines = 0;
    for end in 1..=data.len() {
        let buf = black_box(&data[..end]);
        lines += usize::from(buf[buf.len() - 1] == b'\n');
    }
    lines
}

fn split(c: &mut Criterion) {
    let data = stream();
    let mut g = c.benchmark_group("memcache_feed");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("whole", |b| b.iter(|| feed(black_box(&data), data.len())));
    g.bench_function("byte_at_a_time", |b| b.iter(|| feed(black_box(&data), 1)));
    g.bench_function("chunks_of_16", |b| b.iter(|| feed(black_box(&data), 16)));
    g.bench_function("byte_loop_floor", |b| {
        b.iter(|| byte_loop_floor(black_box(&data)));
    });
    g.finish();
}

criterion_group!(benches, requests, responses, split);
criterion_main!(benches);
