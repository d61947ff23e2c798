//! The director's packet paths: the NAT hit path (parse, lookup, rewrite, checksums) on 64-byte
//! TCP frames with a cache-resident table and with 1 M flows, and the new-connection path
//! (parse, service lookup, wlc pick, insert).
//!
//! `cargo bench -p lvs-benches --bench director`

use core::net::{IpAddr, Ipv4Addr};
use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lvs_core::Instant;
use lvs_core::director::{Director, DirectorConfig, RealConfig, ServiceConfig, Verdict};
use lvs_core::packet::TcpFlags;
use lvs_core::packet::testing::tcp_v4_frame;
use lvs_core::proto;
use lvs_core::service::ServiceKey;
use lvs_sched::Wlc;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

const VIP: [u8; 4] = [198, 51, 100, 1];

fn client(i: u32) -> [u8; 4] {
    let a = 0x0a00_0000 | i; // 10.0.0.0/8 as the client space
    a.to_be_bytes()
}

/// A 64-byte frame (Ethernet 14 + IPv4 20 + TCP 20 + 10 bytes of payload).
fn frame(i: u32, flags: u8) -> Vec<u8> {
    tcp_v4_frame(client(i), 40000, VIP, 80, flags, &[0u8; 10])
}

fn director(max: usize, expected: usize) -> Director {
    let cfg = DirectorConfig {
        max_conns: max,
        expected_conns: expected,
        ..DirectorConfig::default()
    };
    let mut d = Director::new(cfg, &mut ChaCha8Rng::seed_from_u64(1), Instant::ZERO);
    let key = ServiceKey::Addr {
        protocol: proto::TCP,
        addr: IpAddr::V4(Ipv4Addr::from(VIP)),
        port: 80,
    };
    let svc = d
        .add_service(ServiceConfig::new(key), Box::new(Wlc::new()))
        .unwrap();
    for i in 0..16u8 {
        d.add_real(
            svc,
            RealConfig::nat(IpAddr::V4(Ipv4Addr::new(172, 16, 0, i + 1)), 8080),
        )
        .unwrap();
    }
    d
}

fn populated(flows: u32) -> (Director, Vec<Vec<u8>>) {
    let mut d = director(flows as usize * 2, 0);
    let mut buf = Vec::with_capacity(128);
    for i in 0..flows {
        buf.clear();
        buf.extend_from_slice(&frame(i, TcpFlags::SYN));
        assert!(matches!(
            d.process(Instant::ZERO, &mut buf, 0),
            Verdict::Forward { .. }
        ));
    }
    // Hit-path frames: mid-stream ACKs for every flow, visited in a scattered order (7919 is
    // prime and coprime to the flow counts, so one pass touches each flow once: the 1 M case
    // really works on a 1 M-flow table, not on a cache-sized subset).
    let step = 7919u32;
    let frames: Vec<Vec<u8>> = (0..flows)
        .map(|k| {
            frame(
                (u64::from(k) * u64::from(step) % u64::from(flows)) as u32,
                TcpFlags::ACK,
            )
        })
        .collect();
    (d, frames)
}

fn hit_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("director_nat_hit");
    g.throughput(Throughput::Elements(1));
    for flows in [1_000u32, 1_000_000] {
        let (mut d, frames) = populated(flows);
        let mut k = 0usize;
        // The frame copy happens in the untimed setup: only `process` is measured.
        g.bench_function(format!("{flows} flows"), |b| {
            b.iter_batched_ref(
                || {
                    k += 1;
                    frames[k % frames.len()].clone()
                },
                |buf| black_box(d.process(Instant::from_millis(1), buf, 0)),
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

fn hit_path_batched(c: &mut Criterion) {
    // One group per batch size: a receive ring hands over as many frames as it holds, and a
    // larger batch overlaps more of the 1 M-flow table's cache and TLB misses.
    for size in [16usize, 32, 64] {
        let mut g = c.benchmark_group(format!("director_nat_hit_batch{size}"));
        g.throughput(Throughput::Elements(size as u64));
        for flows in [1_000u32, 1_000_000] {
            let (mut d, frames) = populated(flows);
            let mut k = 0usize;
            let mut verdicts = vec![Verdict::Local; size];
            g.bench_function(format!("{flows} flows"), |b| {
                b.iter_batched_ref(
                    || {
                        k += size;
                        (0..size)
                            .map(|j| frames[(k + j) % frames.len()].clone())
                            .collect::<Vec<_>>()
                    },
                    |batch| d.process_batch(Instant::from_millis(1), batch, 0, &mut verdicts),
                    BatchSize::SmallInput,
                );
            });
        }
        g.finish();
    }
}

fn parse_only(c: &mut Criterion) {
    let f = frame(1, TcpFlags::ACK);
    c.bench_function("packet_view_parse_64B_tcp", |b| {
        b.iter(|| black_box(lvs_core::packet::PacketView::parse_ethernet(black_box(&f))));
    });
}

fn new_conn_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("director_new_conn");
    g.throughput(Throughput::Elements(1));
    const POOL: u32 = 1 << 20;
    let syns: Vec<Vec<u8>> = (0..POOL).map(|i| frame(i, TcpFlags::SYN)).collect();
    for (name, expected) in [
        ("syn, wlc over 16, table grows", 0),
        ("syn, wlc over 16, index presized", POOL as usize),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                let mut buf = Vec::with_capacity(128);
                while left > 0 {
                    let n = left.min(u64::from(POOL));
                    let mut d = director(POOL as usize * 2, expected);
                    let start = std::time::Instant::now();
                    for f in &syns[..n as usize] {
                        buf.clear();
                        buf.extend_from_slice(f);
                        black_box(d.process(Instant::ZERO, &mut buf, 0));
                    }
                    total += start.elapsed();
                    left -= n;
                }
                total
            });
        });
    }
    // The same SYNs 16 at a time through `process_batch`, whose warm-up pass loads the index
    // lines of the whole batch before any insert: on a large table the index misses overlap.
    g.throughput(Throughput::Elements(16));
    g.bench_function("syn batch16, wlc over 16, index presized", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            let mut bufs: Vec<Vec<u8>> = (0..16).map(|_| Vec::with_capacity(128)).collect();
            let mut verdicts = vec![Verdict::Local; 16];
            while left > 0 {
                let n = left.min(u64::from(POOL / 16));
                let mut d = director(POOL as usize * 2, POOL as usize);
                let start = std::time::Instant::now();
                for group in syns.chunks_exact(16).take(n as usize) {
                    for (b, f) in bufs.iter_mut().zip(group) {
                        b.clear();
                        b.extend_from_slice(f);
                    }
                    d.process_batch(Instant::ZERO, &mut bufs, 0, &mut verdicts);
                }
                total += start.elapsed();
                left -= n;
            }
            black_box(&verdicts);
            total
        });
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = parse_only, hit_path, hit_path_batched, new_conn_path
}
criterion_main!(benches);
