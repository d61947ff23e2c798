//! Property: under random loss, freezes, partitions, crashes and priority changes, once the
//! network has been stable for a few Master_Down_Intervals the one master is the router a
//! simple model picks: the highest effective priority among the live routers (with equal top
//! priorities any of them: the RFC lets an established master keep its role against an equal
//! priority, and the address tie-break only decides when two masters meet).

mod common;

use core::time::Duration;

use common::*;
use lvs_core::sim::LinkConfig;
use lvs_vrrp::state::Instance;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// Lose this fraction of packets on every link for a while.
    Loss(f64),
    /// Freeze a router for a while.
    Freeze(usize),
    /// Cut a router off from the others for a while.
    Isolate(usize),
    /// Kill a router, and restart it after a while.
    Crash(usize),
    /// Set a router's tracked weight (a script that is down with this penalty).
    Track(usize, i16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0.0..0.5f64).prop_map(Op::Loss),
        (0..3usize).prop_map(Op::Freeze),
        (0..3usize).prop_map(Op::Isolate),
        (0..3usize).prop_map(Op::Crash),
        (0..3usize, -60..=0i16).prop_map(|(i, w)| Op::Track(i, w)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_model_winner_is_the_one_master_once_stable(
        seed in any::<u64>(),
        priorities in proptest::collection::vec(90..=110u8, 2..=3),
        ops in proptest::collection::vec((op(), 50..3000u64), 1..8),
    ) {
        let (mut sim, ids) = lan(seed, &priorities, v3(10), LinkConfig::latency(Duration::from_millis(1)), |_| {});
        let n = ids.len();
        for (op, hold_ms) in ops {
            let hold = Duration::from_millis(hold_ms);
            match op {
                Op::Loss(p) => {
                    sim.set_default_link(LinkConfig::latency(Duration::from_millis(1)).with_loss(p));
                    sim.run_for(hold);
                    sim.set_default_link(LinkConfig::latency(Duration::from_millis(1)));
                }
                Op::Freeze(i) => {
                    sim.freeze(ids[i % n]);
                    sim.run_for(hold);
                    sim.thaw(ids[i % n]);
                }
                Op::Isolate(i) => {
                    sim.partition(&[&[ids[i % n]]]);
                    sim.run_for(hold);
                    sim.heal();
                }
                Op::Crash(i) => {
                    sim.kill(ids[i % n]);
                    sim.run_for(hold);
                    sim.restart(ids[i % n]);
                }
                Op::Track(i, w) => {
                    sim.with_node::<Instance, _>(ids[i % n], |m, now| m.set_track(now, "script", false, w))
                        .unwrap();
                    sim.run_for(hold);
                }
            }
        }
        // Stable for a few Master_Down_Intervals (about 0.36 s each at 10 cs).
        sim.run_for(Duration::from_secs(2));
        // A router whose weight-0 tracked input is down is in FAULT and out of the election.
        let effective: Vec<u8> = ids
            .iter()
            .map(|&id| {
                let m = sim.node::<Instance>(id);
                if m.state() == lvs_vrrp::state::State::Fault { 0 } else { m.priority() }
            })
            .collect();
        let top = *effective.iter().max().unwrap();
        let m = masters(&sim, &ids);
        if top == 0 {
            // Every router is in FAULT: nobody may be master.
            prop_assert!(m.is_empty(), "masters {:?} while all are faulted", m);
            return Ok(());
        }
        prop_assert_eq!(m.len(), 1, "masters {:?}, priorities {:?}\n{}", m, effective, sim.log_tail(30));
        let winner = ids.iter().position(|&id| id == m[0]).unwrap();
        prop_assert_eq!(effective[winner], top, "priorities {:?}", effective);
        // And it stays that way.
        sim.run_for(Duration::from_secs(2));
        prop_assert_eq!(masters(&sim, &ids), m);
    }
}
