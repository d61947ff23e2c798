//! Properties: every indexed scheduler equals its naive kernel scan over random operation
//! sequences (same pick every time, same counters), and wrr / swrr give exact weight ratios per
//! cycle.

use core::net::{IpAddr, Ipv4Addr};

use lvs_core::{DestId, DestParams, Flow, Instant, Scheduler};
use lvs_sched::fuzzing::conn::{IDS, Op, run, sched_ops};
use lvs_sched::{SmoothWrr, Wrr};
use proptest::prelude::*;

fn weight() -> impl Strategy<Value = u32> {
    prop_oneof![
        6 => 0u32..6,
        2 => 0u32..300,
        1 => Just(lvs_sched::dest::MAX_WEIGHT),
        1 => (0u32..31).prop_map(|s| 1 << s),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let id = 0..IDS;
    prop_oneof![
        3 => (id.clone(), weight()).prop_map(|(id, weight)| Op::Add { id, weight }),
        1 => id.clone().prop_map(|id| Op::Remove { id }),
        2 => (id.clone(), weight()).prop_map(|(id, weight)| Op::SetWeight { id, weight }),
        2 => (id.clone(), 0u32..10, 0u32..10)
            .prop_map(|(id, upper, lower)| Op::SetThresholds { id, upper, lower }),
        6 => (id.clone(), any::<bool>(), 1u8..6)
            .prop_map(|(id, active, count)| Op::Bound { id, active, count }),
        4 => (id.clone(), any::<bool>(), 1u8..6)
            .prop_map(|(id, active, count)| Op::Unbound { id, active, count }),
        2 => (id, any::<bool>(), any::<bool>()).prop_map(|(id, from_active, to_active)| {
            Op::Changed { id, from_active, to_active }
        }),
        6 => (0u8..10).prop_map(|addr| Op::Pick { addr }),
        1 => prop_oneof![Just(1u32), Just(61), Just(400), Just(1800), Just(90_000)]
            .prop_map(|secs| Op::Advance { secs }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn indexed_schedulers_match_the_kernel_scan(ops in prop::collection::vec(op(), 1..300)) {
        if let Err(e) = run(&ops) {
            return Err(TestCaseError::fail(e));
        }
    }

    #[test]
    fn arbitrary_bytes_never_diverge(data in prop::collection::vec(any::<u8>(), 0..600)) {
        sched_ops(&data);
    }

    #[test]
    fn wrr_gives_exact_ratios_per_cycle(weights in prop::collection::vec(1u32..13, 1..6), scale in 1u32..4) {
        let weights: Vec<u32> = weights.iter().map(|w| w * scale).collect();
        let mut s = Wrr::new();
        add_all(&mut s, &weights);
        let di = weights.iter().fold(0, |g, &w| gcd(g, w));
        let period: u32 = weights.iter().map(|w| w / di).sum();
        let picks = picks(&mut s, 3 * period as usize);
        // At most one partial lap before the steady cycle; after that every window of one period
        // holds exactly weight / gcd picks of each server, whatever its offset.
        for start in period as usize..2 * period as usize {
            let window = &picks[start..start + period as usize];
            for (i, w) in weights.iter().enumerate() {
                let got = window.iter().filter(|&&p| p == i as u32).count() as u32;
                prop_assert_eq!(got, w / di, "window at {}, server {}", start, i);
            }
        }
    }

    #[test]
    fn smooth_wrr_gives_exact_ratios_per_cycle(weights in prop::collection::vec(1u32..13, 1..6)) {
        let mut s = SmoothWrr::new();
        add_all(&mut s, &weights);
        let total: u32 = weights.iter().sum();
        let picks = picks(&mut s, 2 * total as usize);
        for cycle in picks.chunks(total as usize) {
            for (i, w) in weights.iter().enumerate() {
                let got = cycle.iter().filter(|&&p| p == i as u32).count() as u32;
                prop_assert_eq!(got, *w);
            }
        }
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn add_all(s: &mut impl Scheduler, weights: &[u32]) {
    for (i, &w) in weights.iter().enumerate() {
        let addr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8));
        s.add_dest(DestId(i as u32), DestParams::new(addr, 80, w))
            .unwrap();
    }
}

fn picks(s: &mut impl Scheduler, n: usize) -> Vec<u32> {
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let flow = Flow::tcp(ip, 1, ip, 80);
    (0..n)
        .map(|_| s.pick(&flow, Instant::ZERO).unwrap().0)
        .collect()
}
