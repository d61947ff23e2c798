//! Multi-router stories in lvs-core's deterministic simulator: elections, takeover after a
//! crash, a freeze or a shutdown, partitions, handover, lossy links and stalls.

mod common;

use core::cell::Cell;
use core::time::Duration;
use std::rc::Rc;

use common::*;
use lvs_core::Instant;
use lvs_core::sim::{LinkConfig, NodeId, Sim};
use lvs_vrrp::state::{Event, Instance, Settings, State};

const LATENCY: Duration = Duration::from_millis(1);
const EPS: Duration = Duration::from_millis(3);

fn link() -> LinkConfig {
    LinkConfig::latency(LATENCY)
}

fn keepalived_defaults(_: &mut Settings) {}

/// Every transition to master is followed by an announcement before the next transition.
fn assert_announced_after_every_takeover(sim: &Sim, ids: &[NodeId]) {
    for &id in ids {
        let mut pending = false;
        for e in sim.events::<Instance>(id) {
            match e {
                Event::StateChanged { to, .. } => {
                    assert!(!pending, "{}: left master before announcing", sim.name(id));
                    pending = *to == State::Master;
                }
                Event::Announce { .. } => pending = false,
                _ => {}
            }
        }
        assert!(!pending, "{}: master without an announcement", sim.name(id));
    }
}

/// Run until `id` is master (or `limit`) and return how long that took from now.
fn time_to_master(sim: &mut Sim, id: NodeId, limit: Duration) -> Duration {
    let start = sim.now();
    let ok = sim.run_until_cond(
        |s| {
            s.try_node::<Instance>(id)
                .is_some_and(|m| m.state() == State::Master)
        },
        start + limit,
    );
    assert!(ok, "{} never became master", sim.name(id));
    sim.now() - start
}

#[test]
fn two_routers_elect_the_higher_priority_and_it_stays() {
    let (mut sim, ids) = lan(1, &[150, 100], v3(100), link(), keepalived_defaults);
    sim.run_until(Instant::from_secs(30));
    assert_eq!(masters(&sim, &ids), [ids[0]]);
    assert_eq!(became(&sim, ids[0], State::Master), 1);
    assert_eq!(became(&sim, ids[1], State::Master), 0);
    assert_announced_after_every_takeover(&sim, &ids);
}

#[test]
fn three_routers_on_one_group_elect_the_highest_priority() {
    let (mut sim, ids) = lan(2, &[100, 200, 150], v2(1), link(), keepalived_defaults);
    sim.run_until(Instant::from_secs(10));
    assert_eq!(masters(&sim, &ids), [ids[1]]);
    assert_eq!(state(&sim, ids[2]), State::Backup);
}

/// The takeover bounds for one interval and one way of losing the master.
fn takeover_after(centis: u16, lose: fn(&mut Sim, NodeId)) -> (Duration, Instance) {
    let (mut sim, ids) = lan(3, &[200, 100], v3(centis), link(), keepalived_defaults);
    sim.run_until(Instant::from_secs(10) + Duration::from_millis(3 * u64::from(centis)));
    assert_eq!(masters(&sim, &ids), [ids[0]]);
    lose(&mut sim, ids[0]);
    let took = time_to_master(&mut sim, ids[1], Duration::from_secs(60));
    assert_announced_after_every_takeover(&sim, &ids);
    let backup = Instance::new(config(100, v3(centis)), Settings::new(addr(2))).unwrap();
    (took, backup)
}

#[test]
fn backup_takes_over_within_master_down_interval_when_the_master_is_killed() {
    for centis in [1, 10, 100] {
        let (took, b) = takeover_after(centis, Sim::kill);
        let mdi = b.master_down_interval();
        assert!(took <= mdi + EPS, "{centis} cs: {took:?} > {mdi:?}");
        assert!(
            took + b.advert_interval() >= mdi,
            "{centis} cs: too early {took:?}"
        );
    }
}

#[test]
fn backup_takes_over_within_master_down_interval_when_the_master_freezes() {
    for centis in [1, 100] {
        let (took, b) = takeover_after(centis, Sim::freeze);
        assert!(
            took <= b.master_down_interval() + EPS,
            "{centis} cs: {took:?}"
        );
    }
}

#[test]
fn backup_takes_over_within_skew_time_when_the_master_shuts_down() {
    for centis in [1, 10, 100] {
        let (took, b) = takeover_after(centis, |s, id| {
            s.with_node::<Instance, _>(id, Instance::shutdown);
        });
        let skew = b.skew_time();
        assert!(took <= skew + EPS, "{centis} cs: {took:?} > {skew:?}");
        assert!(took >= skew, "{centis} cs: {took:?} < {skew:?}");
    }
}

#[test]
fn at_most_one_master_once_a_partition_has_healed_for_one_interval() {
    let (mut sim, ids) = lan(4, &[150, 100, 120], v3(100), link(), keepalived_defaults);
    // Split brain is allowed while the network is broken and for one interval after.
    let settled_at = Rc::new(Cell::new(Instant::ZERO));
    let watch = Rc::clone(&settled_at);
    let nodes = ids.clone();
    sim.add_invariant("one master once healed", move |s| {
        let m = masters(s, &nodes);
        if s.now() >= watch.get() && m.len() > 1 {
            return Err(format!("{} masters", m.len()));
        }
        Ok(())
    });
    let settle = Duration::from_secs(1) + 2 * LATENCY + EPS;
    sim.run_until(Instant::from_secs(10));
    for round in 0..3u64 {
        settled_at.set(Instant::MAX);
        sim.partition(&[&[ids[0]], &[ids[1], ids[2]]]);
        sim.run_for(Duration::from_secs(8 + round));
        assert_eq!(masters(&sim, &ids).len(), 2, "both sides elect a master");
        sim.heal();
        settled_at.set(sim.now() + settle);
        sim.run_for(Duration::from_secs(10));
        assert_eq!(masters(&sim, &ids), [ids[0]]);
    }
    // A frozen master that thaws is the same kind of heal.
    settled_at.set(Instant::MAX);
    sim.freeze(ids[0]);
    sim.run_for(Duration::from_secs(8));
    sim.thaw(ids[0]);
    settled_at.set(sim.now() + settle);
    sim.run_for(Duration::from_secs(10));
    assert_eq!(masters(&sim, &ids), [ids[0]]);
    assert_announced_after_every_takeover(&sim, &ids);
}

#[test]
fn no_flapping_with_stable_priorities_over_ten_minutes_at_one_percent_loss() {
    let lossy = link()
        .with_jitter(Duration::from_micros(500))
        .with_loss(0.01);
    let (mut sim, ids) = lan(5, &[200, 150, 100], v3(100), lossy, keepalived_defaults);
    sim.run_until(Instant::from_secs(5));
    let before: Vec<usize> = ids
        .iter()
        .map(|&id| sim.events::<Instance>(id).len())
        .collect();
    sim.run_until(Instant::from_secs(5 + 600));
    for (i, &id) in ids.iter().enumerate() {
        let changes = sim.events::<Instance>(id)[before[i]..]
            .iter()
            .filter(|e| matches!(e, Event::StateChanged { .. }))
            .count();
        assert_eq!(changes, 0, "{} flapped", sim.name(id));
    }
    assert_eq!(masters(&sim, &ids), [ids[0]]);
    let lost = sim.count(lvs_core::sim::LogKind::Drop(
        lvs_core::sim::DropReason::Loss,
    ));
    assert!(lost > 0, "the link must actually lose packets");
}

#[test]
fn graceful_handover_completes_within_skew_plus_one_round_trip() {
    for centis in [10, 100] {
        let (mut sim, ids) = lan(6, &[200, 150, 100], v3(centis), link(), keepalived_defaults);
        sim.run_until(Instant::from_secs(10));
        assert_eq!(masters(&sim, &ids), [ids[0]]);
        sim.with_node::<Instance, _>(ids[0], Instance::handover)
            .unwrap();
        let took = time_to_master(&mut sim, ids[1], Duration::from_secs(10));
        let skew = sim.node::<Instance>(ids[1]).skew_time();
        assert!(
            took <= skew + 2 * LATENCY,
            "{centis} cs: {took:?} > {skew:?} + RTT"
        );
        // The old master stays backup while the handover holds ...
        sim.run_for(Duration::from_secs(20));
        assert_eq!(masters(&sim, &ids), [ids[1]]);
        // ... and takes over again once it reclaims.
        sim.with_node::<Instance, _>(ids[0], Instance::reclaim);
        let mdi = sim.node::<Instance>(ids[0]).master_down_interval();
        let back = time_to_master(&mut sim, ids[0], Duration::from_secs(30));
        assert!(back <= mdi + sim.node::<Instance>(ids[0]).advert_interval() + EPS);
        sim.run_for(Duration::from_secs(1));
        assert_eq!(masters(&sim, &ids), [ids[0]]);
        assert_announced_after_every_takeover(&sim, &ids);
    }
}

#[test]
fn after_an_eight_second_freeze_the_master_sends_one_advert_and_one_burst() {
    let (mut sim, ids) = lan(7, &[200, 100], v3(100), link(), |s| {
        s.announce.refresh = Duration::from_secs(2);
    });
    sim.run_until(Instant::from_secs(10));
    sim.freeze(ids[0]);
    sim.run_for(Duration::from_secs(8));
    assert_eq!(masters(&sim, &ids), [ids[1]]);
    let sent = sim.node::<Instance>(ids[0]).stats().adverts_sent;
    let bursts = sim.node::<Instance>(ids[0]).stats().announces;
    sim.thaw(ids[0]);
    sim.run_until(sim.now());
    let m = sim.node::<Instance>(ids[0]);
    assert_eq!(
        m.stats().adverts_sent - sent,
        1,
        "one advert for the backlog"
    );
    assert_eq!(m.stats().announces - bursts, 1, "one burst for the backlog");
    assert!(m.stats().late_timers >= 1);
    // One round trip later the network has one master again.
    sim.run_for(2 * LATENCY + EPS);
    assert_eq!(masters(&sim, &ids), [ids[0]]);
    assert_announced_after_every_takeover(&sim, &ids);
}

#[test]
fn fast_preempt_fails_over_a_priority_drop_within_skew_plus_one_interval() {
    let (mut sim, ids) = lan(8, &[150, 100], v3(100), link(), |s| s.fast_preempt = true);
    sim.run_until(Instant::from_secs(10));
    sim.with_node::<Instance, _>(ids[0], |m, now| m.set_track(now, "script", false, -100))
        .unwrap();
    let took = time_to_master(&mut sim, ids[1], Duration::from_secs(10));
    let b = sim.node::<Instance>(ids[1]);
    assert!(
        took <= b.skew_time() + b.advert_interval() + EPS,
        "{took:?}"
    );
    sim.run_for(Duration::from_secs(5));
    assert_eq!(masters(&sim, &ids), [ids[1]]);
}
