//! Node life cycle and driving: kill, freeze/thaw, restart, invariants, step budget, inject,
//! commands and typed access.
#![cfg(feature = "sim")]

#[path = "common/sim_machines.rs"]
mod machines;

use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use lvs_core::sim::{DropReason, LinkConfig, LogKind, NodeId, Sim, StepBudget};
use lvs_core::{Datagram, Instant};
use machines::{Ev, Peer, Stuck, got, ip, sock};

const MS: Duration = Duration::from_millis(1);

/// `a` pings `b` every 100 ms (1000 times); `b` echoes and ticks every 500 ms.
fn pair(seed: u64) -> (Sim, NodeId, NodeId) {
    let mut sim = Sim::new(seed);
    sim.set_default_link(LinkConfig::latency(10 * MS));
    let a = sim.add_node("a", [ip(1)], |boot| {
        Peer::new(boot).pinging(sock(2), 100 * MS, 1000)
    });
    let b = sim.add_node("b", [ip(2)], |boot| {
        let now = boot.now;
        Peer::new(boot).echoing().ticking(now, 500 * MS)
    });
    (sim, a, b)
}

fn panic_text(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("should have panicked");
    match err.downcast::<String>() {
        Ok(s) => *s,
        Err(e) => e.downcast_ref::<&str>().copied().unwrap_or("?").to_owned(),
    }
}

#[test]
fn a_killed_node_gets_nothing_and_its_packets_in_flight_vanish() {
    let (mut sim, a, b) = pair(1);
    sim.run_until(Instant::from_millis(1005));
    // a's ping sent at 1.000 s is still in flight: killing a drops it.
    sim.kill(a);
    assert!(!sim.is_alive(a) && sim.try_node::<Peer>(a).is_none());
    assert_eq!(sim.count(LogKind::Drop(DropReason::SenderKilled)), 1);
    sim.kill(a); // a no-op
    assert_eq!(sim.count(LogKind::Kill), 1);
    sim.run_until(Instant::from_secs(2));
    let seqs: Vec<u32> = got(&sim.take_events::<Peer>(b))
        .iter()
        .map(|g| g.0)
        .collect();
    assert_eq!(seqs, (0..10).collect::<Vec<_>>());

    // Packets to a dead node are dropped on arrival.
    sim.kill(b);
    sim.inject(
        sim.now(),
        b,
        Datagram::new(sock(9), sock(2), &b"P\0\0\0\x07"[..]),
    );
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.count(LogKind::Drop(DropReason::NodeDown)), 1);
    assert_eq!(sim.next_event_time(), None, "dead nodes have no deadlines");
    // Events from before the kill are kept.
    assert_eq!(sim.events::<Peer>(a).len(), 10);
}

#[test]
fn a_frozen_node_queues_packets_and_fires_late_timers_on_thaw() {
    let (mut sim, _a, b) = pair(2);
    sim.run_until(Instant::from_millis(1050));
    sim.take_events::<Peer>(b);
    sim.freeze(b);
    assert!(sim.is_frozen(b));
    sim.run_until(Instant::from_secs(3));
    assert!(
        sim.events::<Peer>(b).is_empty(),
        "nothing is delivered while frozen"
    );
    assert_eq!(sim.count(LogKind::Queued), 19); // pings 11..=29
    sim.thaw(b);
    sim.run_until(Instant::from_millis(3005));
    let events = sim.take_events::<Peer>(b);
    // The queued pings arrive at the thaw time, in order, before the overdue tick fires late.
    let queued: Vec<(u32, Instant)> = (11..=29).map(|s| (s, Instant::from_secs(3))).collect();
    assert_eq!(got(&events[..19]), queued);
    assert_eq!(
        events[19],
        Ev::Tick {
            due: Instant::from_millis(1500),
            at: Instant::from_secs(3)
        }
    );
    // Ticks catch up one per step, still at the thaw time.
    let late: Vec<&Ev> = events[20..].iter().collect();
    assert_eq!(late.len(), 3, "{late:?}");
    assert!(
        late.iter()
            .all(|e| matches!(e, Ev::Tick { at, .. } if *at == Instant::from_secs(3)))
    );
    sim.run_until(Instant::from_secs(4));
    assert!(sim.is_alive(b) && !sim.is_frozen(b));
    assert!(got(&sim.take_events::<Peer>(b)).len() >= 9);
}

#[test]
fn a_full_freeze_queue_drops_the_excess() {
    let mut sim = Sim::new(3);
    let b = sim.add_node("b", [ip(2)], Peer::new);
    sim.freeze(b);
    let cap = lvs_core::sim::FROZEN_QUEUE_CAPACITY;
    for _ in 0..cap + 5 {
        sim.inject(
            Instant::ZERO,
            b,
            Datagram::new(sock(9), sock(2), &b"P\0\0\0\0"[..]),
        );
    }
    sim.run_for(MS);
    assert_eq!(sim.count(LogKind::Drop(DropReason::FrozenQueueFull)), 5);
    sim.thaw(b);
    sim.run_for(MS);
    assert_eq!(sim.take_events::<Peer>(b).len(), cap);
}

#[test]
fn a_restarted_node_starts_fresh_with_a_new_rng_stream() {
    let (mut sim, _a, b) = pair(4);
    let boot0 = sim.node::<Peer>(b).first_random;
    sim.run_until(Instant::from_millis(550));
    assert_eq!(sim.node::<Peer>(b).received, 6);
    sim.restart(b);
    assert_eq!(sim.incarnation(b), 1);
    let peer = sim.node::<Peer>(b);
    assert_eq!((peer.received, peer.incarnation), (0, 1));
    assert_ne!(peer.first_random, boot0);
    sim.run_until(Instant::from_millis(1050));
    assert_eq!(sim.node::<Peer>(b).received, 5);
    // Events of both incarnations are kept.
    assert_eq!(got(sim.events::<Peer>(b)).len(), 11);

    // A dead node can be restarted too, and the streams replay with the seed.
    sim.kill(b);
    sim.restart(b);
    assert_eq!(sim.incarnation(b), 2);
    let (again, _, b2) = pair(4);
    assert_eq!(again.node::<Peer>(b2).first_random, boot0);
}

#[test]
fn invariant_violations_panic_with_the_name_and_the_seed() {
    let (mut sim, _a, b) = pair(5);
    sim.add_invariant("b-receives-at-most-3", move |s: &Sim| {
        let n = s.node::<Peer>(b).received;
        if n <= 3 {
            Ok(())
        } else {
            Err(format!("b received {n}"))
        }
    });
    sim.add_invariant("time-is-sane", |s: &Sim| {
        (s.now() < Instant::from_secs(3600))
            .then_some(())
            .ok_or_else(|| "too late".to_owned())
    });
    let msg = panic_text(|| sim.run_until(Instant::from_secs(1)));
    assert!(
        msg.contains("\"b-receives-at-most-3\" violated at 0.310000000s: b received 4"),
        "{msg}"
    );
    assert!(msg.contains("sim seed = 5"), "{msg}");
    assert!(
        msg.contains("deliver b #"),
        "the log tail is included: {msg}"
    );
}

#[test]
#[should_panic(
    expected = "sim step budget exceeded: more than 1000 steps at virtual time 1.000000000s"
)]
fn the_step_budget_catches_a_deadline_that_never_advances() {
    let mut sim = Sim::new(6);
    sim.set_step_budget(StepBudget {
        per_instant: 1000,
        total: 1_000_000,
    });
    sim.add_node("stuck", [ip(1)], |_| Stuck::default());
    sim.run_until(Instant::from_secs(10));
}

#[test]
fn the_total_step_budget_bounds_a_whole_run() {
    let (mut sim, ..) = pair(7);
    sim.set_step_budget(StepBudget {
        per_instant: 1000,
        total: 50,
    });
    let msg = panic_text(|| sim.run_until(Instant::from_secs(100)));
    assert!(msg.contains("more than 50 steps in total"), "{msg}");
}

#[test]
fn injected_datagrams_reach_nodes_addresses_and_groups() {
    let mut sim = Sim::new(8);
    let a = sim.add_node("a", [ip(1)], Peer::new);
    let b = sim.add_node("b", [ip(2)], |boot| Peer::new(boot).echoing());
    let group = "239.1.1.1".parse().unwrap();
    sim.join(a, group);
    sim.join(b, group);
    let outside: SocketAddr = "192.0.2.1:7".parse().unwrap();
    let ping = |seq: u8| Datagram::new(outside, sock(2), vec![b'P', 0, 0, 0, seq]);
    sim.inject(Instant::from_millis(5), b, ping(1));
    sim.inject(Instant::from_millis(6), ip(2), ping(2));
    sim.inject(Instant::from_millis(7), group, ping(3));
    sim.inject(Instant::from_millis(8), ip(77), ping(4));
    sim.run_for(Duration::from_secs(1));
    let at = |ms| Instant::from_millis(ms);
    assert_eq!(
        got(&sim.take_events::<Peer>(b)),
        [(1, at(5)), (2, at(6)), (3, at(7))]
    );
    assert_eq!(got(&sim.take_events::<Peer>(a)), [(3, at(7))]);
    // The injection to 10.0.0.77, and b's three echoes to the outside address, have nowhere
    // to go.
    assert_eq!(sim.count(LogKind::Drop(DropReason::NoRoute)), 4);
    assert!(
        sim.log_text().contains("drop #3 outside -> ? no-route"),
        "{}",
        sim.log_text()
    );
    assert!(
        sim.log_text().contains("drop #4 b -> ? no-route"),
        "{}",
        sim.log_text()
    );
}

#[test]
fn commands_are_drained_at_once_and_node_mut_before_the_next_step() {
    let mut sim = Sim::new(9);
    let a = sim.add_node("a", [ip(1)], Peer::new);
    let b = sim.add_node("b", [ip(2)], Peer::new);
    sim.run_until(Instant::from_secs(1));
    let now = sim.with_node::<Peer, _>(a, |p, now| {
        p.burst(sock(2), 2);
        now
    });
    assert_eq!(now, Instant::from_secs(1));
    assert_eq!(sim.count(LogKind::Send), 2);
    assert_eq!(sim.in_flight(), 2);
    sim.node_mut::<Peer>(a).burst(sock(2), 1);
    assert_eq!(sim.count(LogKind::Send), 2, "not drained yet");
    assert!(sim.step());
    assert_eq!(sim.count(LogKind::Send), 3);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(got(&sim.take_events::<Peer>(b)).len(), 3);
    assert!(!sim.step(), "nothing left to do");
}

#[test]
fn run_until_cond_stops_when_the_predicate_holds_or_at_the_limit() {
    let (mut sim, _a, b) = pair(10);
    let reached = sim.run_until_cond(|s| s.node::<Peer>(b).received >= 3, Instant::from_secs(5));
    assert!(reached);
    assert_eq!(sim.now(), Instant::from_millis(210));
    let reached = sim.run_until_cond(
        |s| s.node::<Peer>(b).received >= 1000,
        Instant::from_secs(2),
    );
    assert!(!reached);
    assert_eq!(sim.now(), Instant::from_secs(2));
}

#[test]
fn names_addresses_and_typed_access() {
    let (mut sim, a, b) = pair(11);
    let s = sim.add_node("stuck", [ip(3)], |_| Stuck::default());
    assert_eq!(sim.find("b"), Some(b));
    assert_eq!(sim.name(a), "a");
    assert_eq!(sim.node_ids().collect::<Vec<_>>(), [a, b, s]);
    assert!(sim.try_node::<Stuck>(a).is_none());
    assert_eq!(sim.node::<Stuck>(s).fired, 0);
    let msg = panic_text(|| {
        sim.node::<Stuck>(a);
    });
    assert!(msg.contains("node a runs"), "{msg}");
    // Moving an address re-routes it, as a gratuitous ARP would.
    let vip = ip(100);
    sim.add_addr(a, vip);
    sim.add_addr(b, vip);
    assert_eq!(sim.addrs(a), [ip(1)]);
    assert_eq!(sim.addrs(b), [ip(2), vip]);
    sim.remove_addr(a, vip); // not a's any more: no-op
    assert_eq!(sim.addrs(b), [ip(2), vip]);
    assert!(sim.log_text().contains("addr b +10.0.0.100 (from a)"));
}

#[test]
#[should_panic(expected = "10.0.0.1 already belongs to a")]
fn two_nodes_cannot_own_one_address() {
    let mut sim = Sim::new(12);
    sim.add_node("a", [ip(1)], Peer::new);
    sim.add_node("b", [ip(1)], Peer::new);
}
