//! VRRP: the receive path of one advert (parse, the §7.1 checks and the backup's state machine)
//! and a fleet of 1,000 instances at a 10 ms advert interval driven in virtual time, measured
//! as CPU time per simulated second (the fraction of a core the fleet needs).
//!
//! `cargo bench -p lvs-benches --bench vrrp`

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lvs_core::{Datagram, Instant, PacketMeta, StateMachine};
use lvs_vrrp::config::InstanceConfig;
use lvs_vrrp::state::{Instance, Settings, State};
use lvs_vrrp::validate::{RxInfo, validate};
use lvs_vrrp::wire::{
    Addresses, ChecksumLatch, ChecksumPolicy, ChecksumVariant, Family, TTL, VersionRepr, VrrpRepr,
    multicast_group,
};

/// 10 ms in VRRPv3 centiseconds.
const INTERVAL_CS: u16 = 1;

fn vips() -> Addresses {
    Addresses::V4(vec![Ipv4Addr::new(192, 0, 2, 10)])
}

fn instance(primary: Ipv4Addr, priority: u8) -> Instance {
    let config = InstanceConfig::new(
        7,
        priority,
        VersionRepr::V3 {
            max_adver_int: INTERVAL_CS,
        },
        vips(),
    );
    Instance::new(config, Settings::new(IpAddr::V4(primary))).expect("valid instance")
}

fn drain(m: &mut Instance) {
    while let Some(t) = m.poll_transmit() {
        black_box(t);
    }
    while let Some(e) = m.poll_event() {
        black_box(e);
    }
}

/// One master advert (priority 200) as received from the multicast group with TTL 255.
fn master_advert() -> (Datagram, Vec<u8>) {
    let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let dst = multicast_group(Family::V4);
    let repr = VrrpRepr {
        vrid: 7,
        priority: 200,
        version: VersionRepr::V3 {
            max_adver_int: INTERVAL_CS,
        },
        addresses: vips(),
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    let n = repr
        .emit(&mut buf, ChecksumVariant::PseudoHeader, src, dst)
        .expect("emit");
    buf.truncate(n);
    let mut d = Datagram::new(
        SocketAddr::new(src, 0),
        SocketAddr::new(dst, 0),
        buf.clone(),
    );
    d.meta = PacketMeta {
        ttl: Some(TTL),
        ifindex: None,
    };
    (d, buf)
}

fn rx_one(c: &mut Criterion) {
    let mut g = c.benchmark_group("vrrp_rx_advert");
    g.throughput(Throughput::Elements(1));
    let (advert, payload) = master_advert();

    // The codec alone: the borrowed view and every receive check.
    let config = InstanceConfig::new(
        7,
        100,
        VersionRepr::V3 {
            max_adver_int: INTERVAL_CS,
        },
        vips(),
    );
    let mut latch = ChecksumLatch::new(ChecksumPolicy::Auto, 16);
    let rx = RxInfo {
        src: advert.src.ip(),
        dst: advert.dst.ip(),
        ttl: TTL,
    };
    assert!(validate(&payload, &rx, &config, &mut latch).is_ok());
    g.bench_function("validate", |b| {
        b.iter(|| {
            black_box(validate(black_box(&payload), &rx, &config, &mut latch).is_ok());
        });
    });

    // The whole receive path of a backup: validate, the peer table, the down-timer re-arm,
    // then the drain rule.
    let mut backup = instance(Ipv4Addr::new(192, 0, 2, 2), 100);
    backup.start(Instant::ZERO);
    drain(&mut backup);
    assert_eq!(backup.state(), State::Backup);
    let mut now = Instant::ZERO;
    let step = Duration::from_millis(10);
    g.bench_function("backup handle_datagram", |b| {
        b.iter(|| {
            now += step;
            backup.handle_datagram(now, advert.clone());
            drain(&mut backup);
            black_box(backup.poll_timeout());
        });
    });
    assert_eq!(backup.state(), State::Backup);
    assert!(backup.stats().rx.accepted() > 0);
    assert_eq!(backup.stats().rx.dropped(), 0);
    g.finish();
}

/// 500 isolated links, each a master (priority 200) and a backup (priority 100) on a 10 ms
/// interval: 1,000 instances. A binary heap of (deadline, instance) drives them in virtual
/// time; every transmit is delivered to the other instance of the pair at the same instant.
struct Fleet {
    machines: Vec<Instance>,
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    now: Instant,
    delivered: u64,
}

impl Fleet {
    fn new(pairs: usize) -> Self {
        let mut machines = Vec::with_capacity(2 * pairs);
        for p in 0..pairs {
            let p = u32::try_from(p).expect("pairs fit u32");
            let base = 0x0a00_0000 | (p << 2); // 10.0.0.0/8, a /30 per link
            machines.push(instance(Ipv4Addr::from(base | 1), 200));
            machines.push(instance(Ipv4Addr::from(base | 2), 100));
        }
        let mut fleet = Self {
            machines,
            heap: BinaryHeap::new(),
            now: Instant::ZERO,
            delivered: 0,
        };
        for i in 0..fleet.machines.len() {
            fleet.machines[i].start(Instant::ZERO);
            fleet.settle(i);
        }
        fleet
    }

    /// The drain rule for machine `i`, delivering its transmits to its pair, then rescheduling
    /// both.
    fn settle(&mut self, i: usize) {
        let peer = i ^ 1;
        while let Some(t) = self.machines[i].poll_transmit() {
            let src = t
                .src
                .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
            self.machines[peer].handle_datagram(self.now, t.into_datagram(src));
            self.delivered += 1;
            drain(&mut self.machines[peer]);
            if let Some((at, _)) = self.machines[peer].poll_timeout() {
                self.heap.push(Reverse((at, peer)));
            }
        }
        while let Some(e) = self.machines[i].poll_event() {
            black_box(e);
        }
        if let Some((at, _)) = self.machines[i].poll_timeout() {
            self.heap.push(Reverse((at, i)));
        }
    }

    /// Runs every deadline up to `until`. Heap entries whose deadline moved are stale and
    /// skipped.
    fn run_until(&mut self, until: Instant) {
        while let Some(&Reverse((at, i))) = self.heap.peek() {
            if at > until {
                break;
            }
            self.heap.pop();
            if self.machines[i].poll_timeout().map(|(t, _)| t) != Some(at) {
                continue;
            }
            self.now = at;
            self.machines[i].handle_timeout(at);
            self.settle(i);
        }
        self.now = until;
    }
}

fn fleet(c: &mut Criterion) {
    let mut g = c.benchmark_group("vrrp_fleet");
    let mut fleet = Fleet::new(500);
    // Converge: masters win after Master_Down_Interval (3 × 10 ms + skew).
    fleet.run_until(Instant::from_secs(1));
    let masters = fleet
        .machines
        .iter()
        .filter(|m| m.state() == State::Master)
        .count();
    assert_eq!(masters, 500, "one master per link");
    let before = fleet.delivered;
    fleet.run_until(Instant::from_secs(2));
    let per_sec = fleet.delivered - before;
    // 500 masters × 100 adverts/s.
    assert!((49_500..=50_500).contains(&per_sec), "{per_sec} adverts/s");
    eprintln!("vrrp_fleet: 1000 instances, {per_sec} adverts sent+received per simulated second");
    let mut sim_secs = 2u64;
    g.bench_function("1000 instances, 10 ms, one simulated second", |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            for _ in 0..iters {
                sim_secs += 1;
                fleet.run_until(Instant::from_secs(sim_secs));
            }
            start.elapsed()
        });
    });
    assert!(fleet.machines.iter().all(|m| m.stats().rx.dropped() == 0));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = rx_one, fleet
}
criterion_main!(benches);
