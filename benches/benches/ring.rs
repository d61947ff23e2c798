//! Consistent-hash rings: ketama build for 1000 servers × 160 points, continuum lookup with a
//! precomputed key hash, full key → server picks, the twemproxy key hashes, and an exact ring
//! diff.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lvs_sched::ring::{
    Distribution, HashFunction, ServerSpec, TwemproxyPool, diff, jump_hash, ketama_points,
};

fn servers(n: usize) -> Vec<ServerSpec> {
    (0..n)
        .map(|i| {
            ServerSpec::new(
                &format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
                11211,
                1,
            )
            .expect("spec")
        })
        .collect()
}

fn hashes(n: usize) -> Vec<u32> {
    let mut x = 0x9E37_79B9_u32;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        })
        .collect()
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring_build");
    for n in [10usize, 1000] {
        let s = servers(n);
        g.throughput(Throughput::Elements(n as u64 * 160));
        g.bench_with_input(BenchmarkId::new("ketama_twemproxy", n), &s, |b, s| {
            b.iter(|| ketama_points(black_box(s), &[]).expect("ring"));
        });
    }
    g.finish();
}

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring_lookup");
    let hs = hashes(4096);
    for n in [10usize, 1000] {
        let ring = ketama_points(&servers(n), &[]).expect("ring");
        g.throughput(Throughput::Elements(hs.len() as u64));
        g.bench_with_input(BenchmarkId::new("ketama_hashed", n), &ring, |b, ring| {
            b.iter(|| {
                let mut acc = 0u32;
                for &h in &hs {
                    acc ^= ring.lookup(black_box(h)).unwrap_or(0);
                }
                acc
            });
        });
    }
    let pool = TwemproxyPool::new(servers(1000), HashFunction::Fnv1a64, Distribution::Ketama)
        .expect("pool");
    let keys: Vec<String> = (0..4096).map(|i| format!("user:{i}:profile")).collect();
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("pick_fnv1a_64_key/1000", |b| {
        b.iter(|| {
            let mut acc = 0usize;
            for k in &keys {
                acc ^= pool
                    .pick_deterministic(black_box(k.as_bytes()))
                    .unwrap_or(0);
            }
            acc
        });
    });
    g.bench_function("jump_hash/1000", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for &h in &hs {
                acc ^= jump_hash(black_box(u64::from(h)), 1000).unwrap_or(0);
            }
            acc
        });
    });
    g.finish();
}

fn key_hashes(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring_key_hash");
    let key = b"user:1234567:profile:v2";
    g.throughput(Throughput::Bytes(key.len() as u64));
    for h in HashFunction::ALL {
        g.bench_function(h.name(), |b| b.iter(|| h.hash(black_box(key))));
    }
    g.finish();
}

fn ring_diff(c: &mut Criterion) {
    let before =
        TwemproxyPool::new(servers(1000), HashFunction::Md5, Distribution::Ketama).expect("pool");
    let mut after = before.clone();
    after.set_ejected(500, true).expect("eject");
    c.bench_function("ring_diff/1000_servers_one_ejected", |b| {
        b.iter(|| diff::between_pools(black_box(&before), black_box(&after)).moved());
    });
}

criterion_group!(benches, build, lookup, key_hashes, ring_diff);
criterion_main!(benches);
