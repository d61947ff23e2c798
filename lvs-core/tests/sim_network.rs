//! The simulated network: determinism, loss, partitions, multicast, latency, jitter,
//! reordering, duplication, MTU and routing.
#![cfg(feature = "sim")]

#[path = "common/sim_machines.rs"]
mod machines;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use lvs_core::Instant;
use lvs_core::sim::{DropReason, LinkConfig, LogKind, NodeId, Sim};
use machines::{Ev, Peer, got, ip, sock};

const MS: Duration = Duration::from_millis(1);

/// `a` (10.0.0.1) pings `b` (10.0.0.2) `count` times every `interval`; `b` echoes.
fn ping_pair(seed: u64, link: LinkConfig, interval: Duration, count: u32) -> (Sim, NodeId, NodeId) {
    let mut sim = Sim::new(seed);
    sim.set_default_link(link);
    let a = sim.add_node("a", [ip(1)], move |boot| {
        Peer::new(boot).pinging(sock(2), interval, count)
    });
    let b = sim.add_node("b", [ip(2)], |boot| Peer::new(boot).echoing());
    (sim, a, b)
}

fn lossy() -> LinkConfig {
    LinkConfig::latency(10 * MS)
        .with_jitter(5 * MS)
        .with_loss(0.3)
}

#[test]
fn same_seed_gives_the_same_log_and_another_seed_differs() {
    let run = |seed| {
        let (mut sim, ..) = ping_pair(seed, lossy(), 20 * MS, 100);
        sim.run_until(Instant::from_secs(3));
        sim.log_text()
    };
    let first = run(11);
    assert_eq!(first, run(11));
    assert_ne!(first, run(12));
    assert!(first.lines().count() > 300, "{first}");
}

#[test]
fn loss_zero_drops_nothing() {
    let (mut sim, a, b) = ping_pair(1, LinkConfig::latency(5 * MS), 10 * MS, 200);
    sim.run_until(Instant::from_secs(5));
    assert_eq!(got(&sim.take_events::<Peer>(b)).len(), 200);
    assert_eq!(got(&sim.take_events::<Peer>(a)).len(), 200);
    assert_eq!(sim.count(LogKind::Drop(DropReason::Loss)), 0);
    assert_eq!(sim.count(LogKind::Send), 400);
    assert_eq!(sim.count(LogKind::Deliver), 400);
}

#[test]
fn loss_one_drops_everything() {
    let (mut sim, _a, b) = ping_pair(1, LinkConfig::latency(5 * MS).with_loss(1.0), 10 * MS, 200);
    sim.run_until(Instant::from_secs(5));
    assert!(sim.take_events::<Peer>(b).is_empty());
    assert_eq!(sim.count(LogKind::Drop(DropReason::Loss)), 200);
    assert_eq!(sim.count(LogKind::Deliver), 0);
}

#[test]
fn loss_thirty_percent_drops_about_thirty_percent() {
    let mut sim = Sim::new(5);
    sim.set_default_link(LinkConfig::latency(MS).with_loss(0.3));
    sim.add_node("a", [ip(1)], |boot| {
        Peer::new(boot).pinging(sock(2), MS, 4000)
    });
    let b = sim.add_node("b", [ip(2)], Peer::new);
    sim.run_until(Instant::from_secs(10));
    let delivered = got(&sim.take_events::<Peer>(b)).len();
    let dropped = sim.count(LogKind::Drop(DropReason::Loss));
    assert_eq!(delivered + dropped, 4000);
    // Mean 1200, standard deviation about 29: accept four of them either way.
    assert!((1085..=1315).contains(&dropped), "dropped {dropped}");
}

#[test]
fn partition_drops_and_heal_restores() {
    let (mut sim, a, b) = ping_pair(2, LinkConfig::latency(5 * MS), 100 * MS, 40);
    let c = sim.add_node("c", [ip(3)], Peer::new);
    sim.run_until(Instant::from_millis(950));
    sim.partition(&[&[a], &[b]]);
    assert!(!sim.connected(a, b) && !sim.connected(b, c) && sim.connected(c, c));
    sim.run_until(Instant::from_millis(1950));
    sim.heal();
    assert!(sim.connected(a, b));
    sim.run_until(Instant::from_secs(5));
    let seqs: Vec<u32> = got(&sim.take_events::<Peer>(b))
        .iter()
        .map(|g| g.0)
        .collect();
    let expected: Vec<u32> = (0..10).chain(20..40).collect();
    assert_eq!(seqs, expected);
    assert_eq!(sim.count(LogKind::Drop(DropReason::Partition)), 10);
    // The echoes follow the same pattern.
    assert_eq!(got(&sim.take_events::<Peer>(a)).len(), 30);
}

#[test]
fn multicast_reaches_members_but_not_the_sender_or_others() {
    let group4: IpAddr = "224.0.0.18".parse().unwrap();
    let group6: IpAddr = "ff02::12".parse().unwrap();
    for group in [group4, group6] {
        let mut sim = Sim::new(3);
        let dst = SocketAddr::new(group, 0);
        let a = sim.add_node("a", [ip(1), "fe80::1".parse().unwrap()], move |boot| {
            Peer::new(boot).pinging(dst, 100 * MS, 10)
        });
        let b = sim.add_node("b", [ip(2)], Peer::new);
        let c = sim.add_node("c", [ip(3)], Peer::new);
        let d = sim.add_node("d", [ip(4)], Peer::new);
        for n in [a, b, c] {
            sim.join(n, group);
        }
        assert_eq!(sim.members(group).collect::<Vec<_>>(), [a, b, c]);
        sim.run_until(Instant::from_millis(450));
        sim.leave(c, group);
        sim.run_until(Instant::from_secs(2));
        // The source is the sender's address of the group's family, with the group's port.
        let want: SocketAddr = if group.is_ipv4() {
            "10.0.0.1:0".parse().unwrap()
        } else {
            "[fe80::1]:0".parse().unwrap()
        };
        assert!(matches!(sim.events::<Peer>(b)[0], Ev::Got { from, .. } if from == want));
        assert_eq!(got(&sim.take_events::<Peer>(b)).len(), 10);
        assert_eq!(got(&sim.take_events::<Peer>(c)).len(), 5);
        assert!(sim.take_events::<Peer>(a).is_empty());
        assert!(sim.take_events::<Peer>(d).is_empty());
    }
}

#[test]
fn latency_and_jitter_stay_in_bounds() {
    let link = LinkConfig::latency(10 * MS).with_jitter(5 * MS);
    let (mut sim, _a, b) = ping_pair(4, link, 100 * MS, 200);
    sim.run_until(Instant::from_secs(30));
    let arrivals = got(&sim.take_events::<Peer>(b));
    assert_eq!(arrivals.len(), 200);
    let delays: Vec<Duration> = arrivals
        .iter()
        .map(|&(seq, at)| at - Instant::ZERO.saturating_add(100 * MS * seq))
        .collect();
    let (min, max) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
    assert!(*min >= 10 * MS && *max <= 15 * MS, "{min:?}..{max:?}");
    assert!(
        *max - *min > 3 * MS,
        "jitter should spread delays: {min:?}..{max:?}"
    );
}

#[test]
fn reordering_lets_later_packets_overtake() {
    let link = LinkConfig::latency(5 * MS).with_reorder(0.3, 20 * MS);
    let (mut sim, _a, b) = ping_pair(6, link, MS, 200);
    sim.run_until(Instant::from_secs(1));
    let seqs: Vec<u32> = got(&sim.take_events::<Peer>(b))
        .iter()
        .map(|g| g.0)
        .collect();
    assert_eq!(seqs.len(), 200);
    assert!(seqs.windows(2).any(|w| w[0] > w[1]), "no reordering seen");

    // Without reordering a fixed-latency link keeps order.
    let (mut sim, _a, b) = ping_pair(6, LinkConfig::latency(5 * MS), MS, 200);
    sim.run_until(Instant::from_secs(1));
    let seqs: Vec<u32> = got(&sim.take_events::<Peer>(b))
        .iter()
        .map(|g| g.0)
        .collect();
    assert_eq!(seqs, (0..200).collect::<Vec<_>>());
}

#[test]
fn packets_arriving_at_the_same_instant_keep_their_order() {
    let mut sim = Sim::new(1);
    let a = sim.add_node("a", [ip(1)], Peer::new);
    let b = sim.add_node("b", [ip(2)], Peer::new);
    sim.with_node::<Peer, _>(a, |p, _now| p.burst(sock(2), 50));
    sim.run_for(Duration::from_secs(1));
    let events = got(&sim.take_events::<Peer>(b));
    assert!(events.iter().all(|&(_, at)| at == Instant::from_millis(1)));
    let seqs: Vec<u32> = events.iter().map(|g| g.0).collect();
    assert_eq!(seqs, (1000..1050).collect::<Vec<_>>());
}

#[test]
fn duplication_delivers_extra_copies() {
    let link = LinkConfig::latency(5 * MS).with_duplicate(1.0);
    let (mut sim, a, b) = ping_pair(7, link, 10 * MS, 50);
    sim.set_link(b, a, LinkConfig::latency(5 * MS));
    sim.run_until(Instant::from_secs(2));
    let mut seqs: Vec<u32> = got(&sim.take_events::<Peer>(b))
        .iter()
        .map(|g| g.0)
        .collect();
    assert_eq!(seqs.len(), 100);
    seqs.dedup();
    assert_eq!(
        seqs.len(),
        50,
        "the two copies of a packet arrive together here"
    );
    assert_eq!(sim.count(LogKind::Duplicate), 50);

    let link = LinkConfig::latency(5 * MS).with_duplicate(0.5);
    let (mut sim, _a, b) = ping_pair(7, link, 10 * MS, 1000);
    sim.run_until(Instant::from_secs(20));
    let n = got(&sim.take_events::<Peer>(b)).len();
    assert!((1400..=1600).contains(&n), "{n}");
}

#[test]
fn oversize_packets_are_dropped_by_the_mtu() {
    for (len, delivered) in [(72, 1), (73, 0)] {
        let mut sim = Sim::new(8);
        sim.set_default_link(LinkConfig::default().with_mtu(100));
        sim.add_node("a", [ip(1)], move |boot| {
            Peer::new(boot).pinging(sock(2), MS, 1).with_len(len)
        });
        let b = sim.add_node("b", [ip(2)], Peer::new);
        sim.run_for(Duration::from_secs(1));
        assert_eq!(sim.take_events::<Peer>(b).len(), delivered, "len {len}");
        assert_eq!(sim.count(LogKind::Drop(DropReason::Mtu)), 1 - delivered);
    }
}

#[test]
fn per_link_overrides_apply_to_one_direction() {
    let (mut sim, a, b) = ping_pair(9, LinkConfig::latency(5 * MS), 10 * MS, 20);
    sim.set_link(a, b, LinkConfig::latency(5 * MS).with_loss(1.0));
    assert_eq!(sim.link(a, b).loss, 1.0);
    assert_eq!(sim.link(b, a).loss, 0.0);
    sim.run_until(Instant::from_secs(1));
    assert!(sim.take_events::<Peer>(b).is_empty());
    sim.clear_link(a, b);
    sim.set_link_both(a, b, LinkConfig::latency(7 * MS));
    sim.with_node::<Peer, _>(a, |p, _| p.burst(sock(2), 1));
    sim.run_for(Duration::from_secs(1));
    assert_eq!(
        got(&sim.take_events::<Peer>(b)),
        [(1000, Instant::from_millis(1007))]
    );
}

#[test]
fn unknown_destinations_are_dropped_and_logged() {
    let mut sim = Sim::new(10);
    sim.add_node("a", [ip(1)], |boot| {
        Peer::new(boot).pinging(sock(99), MS, 3)
    });
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.count(LogKind::Drop(DropReason::NoRoute)), 3);
    assert!(
        sim.log_text()
            .contains("0.000000000s drop #0 a -> ? no-route\n"),
        "{}",
        sim.log_text()
    );
}
