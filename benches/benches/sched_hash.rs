//! Hash schedulers: Maglev lookup and table build (the paper's sizes), IPVS `mh` and `sh` picks.

use std::hint::black_box;

use core::net::{IpAddr, Ipv4Addr};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lvs_core::{DestId, DestParams, Flow, Instant, Scheduler};
use lvs_sched::maglev::{MaglevConfig, MaglevTable};
use lvs_sched::mh::{Mh, MhConfig};
use lvs_sched::sh::{Sh, ShConfig};

const FLOWS: usize = 1024;

fn flows() -> Vec<Flow> {
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    (0..FLOWS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let src = IpAddr::V4(Ipv4Addr::from((x >> 16) as u32));
            Flow::tcp(src, (x >> 48) as u16, "192.0.2.1".parse().unwrap(), 80)
        })
        .collect()
}

fn backend(i: u32) -> (DestId, IpAddr, u16, u32) {
    (
        DestId(i),
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
        8080,
        1 + i % 4,
    )
}

fn table(size: u32, n: u32) -> MaglevTable {
    let cfg = MaglevConfig {
        size,
        ..MaglevConfig::default()
    };
    MaglevTable::from_backends(cfg, (0..n).map(backend)).unwrap()
}

fn maglev(c: &mut Criterion) {
    let fl = flows();
    let mut g = c.benchmark_group("maglev");
    let t = table(65537, 1000);
    g.throughput(Throughput::Elements(FLOWS as u64));
    g.bench_function("lookup_65537_n1000", |b| {
        b.iter(|| {
            for f in &fl {
                black_box(t.get(t.flow_hash(black_box(f))));
            }
        });
    });
    g.throughput(Throughput::Elements(1));
    for size in [65537, 655_373] {
        let mut t = table(size, 1000);
        g.bench_function(format!("build_{size}_n1000"), |b| {
            b.iter(|| t.rebuild_classic());
        });
    }
    g.finish();
}

fn ipvs(c: &mut Criterion) {
    let fl = flows();
    let mut g = c.benchmark_group("ipvs_hash");
    g.throughput(Throughput::Elements(FLOWS as u64));
    let mut mh = Mh::new(MhConfig {
        port: true,
        ..MhConfig::default()
    })
    .unwrap();
    let mut sh = Sh::new(ShConfig {
        port: true,
        ..ShConfig::default()
    })
    .unwrap();
    for i in 0..100 {
        let (id, addr, port, w) = backend(i);
        mh.add_dest(id, DestParams::new(addr, port, w)).unwrap();
        sh.add_dest(id, DestParams::new(addr, port, w)).unwrap();
    }
    g.bench_function("mh_pick_4093_n100", |b| {
        b.iter(|| {
            for f in &fl {
                black_box(mh.pick(black_box(f), Instant::ZERO));
            }
        });
    });
    g.bench_function("sh_pick_256_n100", |b| {
        b.iter(|| {
            for f in &fl {
                black_box(sh.pick(black_box(f), Instant::ZERO));
            }
        });
    });
    g.finish();
}

criterion_group!(benches, maglev, ipvs);
criterion_main!(benches);
