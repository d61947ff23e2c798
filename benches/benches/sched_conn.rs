//! Connection-count schedulers: pick cost of the indexed lc / wlc / sed / nq / fo / ovf against
//! the kernel's naive scan at N = 8 and N = 1024 with random loads, rr / wrr for scale, and the
//! cost of keeping the index in step (one bound + one unbound).
//!
//! Run: `cargo bench -p lvs-benches --bench sched_conn`.

use core::net::{IpAddr, Ipv4Addr};
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lvs_core::ConnState::{Active, Inactive};
use lvs_core::{DestId, DestParams, Flow, Instant, Scheduler};
use lvs_sched::reference::NaiveScan;
use lvs_sched::{Fo, Lc, Nq, Ovf, Rr, Sed, Wlc, Wrr};

const SIZES: [u32; 2] = [8, 1024];

/// xorshift64*: deterministic loads without an RNG dependency.
struct Loads(u64);

impl Loads {
    fn next(&mut self, bound: u32) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) % u64::from(bound)) as u32
    }
}

/// `n` destinations with weights 1..=10, 0..64 active and 0..512 inactive connections.
fn loaded<S: Scheduler>(mut s: S, n: u32) -> S {
    let mut r = Loads(0x9E37_79B9_7F4A_7C15 ^ u64::from(n));
    for i in 0..n {
        let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        s.add_dest(DestId(i), DestParams::new(addr, 80, 1 + r.next(10)))
            .unwrap();
        for _ in 0..r.next(64) {
            s.conn_bound(DestId(i), Active);
        }
        for _ in 0..r.next(512) {
            s.conn_bound(DestId(i), Inactive);
        }
    }
    s
}

fn flow() -> Flow {
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    Flow::tcp(ip, 40000, ip, 80)
}

fn pick_group<S: Scheduler>(c: &mut Criterion, fast: fn() -> S, naive: fn() -> NaiveScan) {
    let f = flow();
    let name = fast().name();
    let mut g = c.benchmark_group(format!("sched_conn/pick/{name}"));
    g.throughput(Throughput::Elements(1));
    for n in SIZES {
        let mut s = loaded(fast(), n);
        let mut r = loaded(naive(), n);
        assert_eq!(s.pick(&f, Instant::ZERO), r.pick(&f, Instant::ZERO));
        g.bench_with_input(BenchmarkId::new("indexed", n), &n, |b, _| {
            b.iter(|| s.pick(black_box(&f), Instant::ZERO));
        });
        g.bench_with_input(BenchmarkId::new("naive", n), &n, |b, _| {
            b.iter(|| r.pick(black_box(&f), Instant::ZERO));
        });
    }
    g.finish();
}

fn bench_pick(c: &mut Criterion) {
    pick_group(c, Lc::new, NaiveScan::lc);
    pick_group(c, Wlc::new, NaiveScan::wlc);
    pick_group(c, Sed::new, NaiveScan::sed);
    pick_group(c, Nq::new, NaiveScan::nq);
    pick_group(c, Fo::new, NaiveScan::fo);
    pick_group(c, Ovf::new, NaiveScan::ovf);
}

fn bench_round_robin(c: &mut Criterion) {
    let f = flow();
    let mut g = c.benchmark_group("sched_conn/pick/round_robin");
    g.throughput(Throughput::Elements(1));
    for n in SIZES {
        let mut rr = loaded(Rr::new(), n);
        let mut wrr = loaded(Wrr::new(), n);
        g.bench_with_input(BenchmarkId::new("rr", n), &n, |b, _| {
            b.iter(|| rr.pick(black_box(&f), Instant::ZERO));
        });
        g.bench_with_input(BenchmarkId::new("wrr", n), &n, |b, _| {
            b.iter(|| wrr.pick(black_box(&f), Instant::ZERO));
        });
    }
    g.finish();
}

/// What the director pays per connection besides the pick: one bind and one unbind, each
/// re-ranking the destination in the index.
fn bench_update(c: &mut Criterion) {
    let f = flow();
    let mut g = c.benchmark_group("sched_conn/bound_unbound");
    g.throughput(Throughput::Elements(1));
    for n in SIZES {
        let mut s = loaded(Wlc::new(), n);
        let mut r = loaded(NaiveScan::wlc(), n);
        let mut k = 0u32;
        g.bench_with_input(BenchmarkId::new("wlc_indexed", n), &n, |b, _| {
            b.iter(|| {
                k = (k + 7) % n;
                s.conn_bound(DestId(k), Active);
                s.conn_unbound(DestId(k), Active);
            });
        });
        g.bench_with_input(BenchmarkId::new("wlc_naive", n), &n, |b, _| {
            b.iter(|| {
                k = (k + 7) % n;
                r.conn_bound(DestId(k), Active);
                r.conn_unbound(DestId(k), Active);
            });
        });
        // A whole new connection on the indexed scheduler: pick, bind, later unbind.
        g.bench_with_input(BenchmarkId::new("wlc_pick_bind_unbind", n), &n, |b, _| {
            b.iter(|| {
                let id = s.pick(black_box(&f), Instant::ZERO).unwrap();
                s.conn_bound(id, Inactive);
                s.conn_unbound(id, Inactive);
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench_pick, bench_round_robin, bench_update);
criterion_main!(benches);
