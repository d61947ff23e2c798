//! Failover, coalescing and prefetch in the deterministic simulator.

mod support;

use core::time::Duration;

use lvs_core::Instant;
use lvs_core::sim::{LinkConfig, NodeId, Sim};
use lvs_dns::wire::{Message, rtype};
use support::*;

fn many_names() -> std::collections::BTreeMap<String, Data> {
    let mut z = zone(&[("fresh.example", Data::A(vec![[192, 0, 2, 200]], 300))]);
    for i in 0..200 {
        z.insert(
            format!("n{i}.example"),
            Data::A(vec![[192, 0, 2, (i % 250) as u8]], 300),
        );
    }
    z
}

struct World {
    sim: Sim,
    fwd: NodeId,
    ups: [NodeId; 2],
    client: NodeId,
}

fn world(seed: u64, script: Vec<(Instant, bytes::Bytes)>) -> World {
    let mut sim = Sim::from_env_or(seed);
    sim.set_default_link(LinkConfig::latency(Duration::from_millis(5)));
    let fwd = sim.add_node("fwd", [addr(LISTEN).ip()], |boot| {
        lvs_dns::forwarder::Forwarder::new(config(&[UP1, UP2]), boot.rng).unwrap()
    });
    let up1 = sim.add_node("up1", [addr(UP1).ip()], |_| Upstream::new(many_names()));
    let up2 = sim.add_node("up2", [addr(UP2).ip()], |_| Upstream::new(many_names()));
    let me = addr("192.0.2.10:5353");
    let client = sim.add_node("client", [me.ip()], move |_| {
        Client::new(me, script.clone())
    });
    // up2 is a little slower, so up1 is the preferred forwarder.
    sim.set_link_both(fwd, up2, LinkConfig::latency(Duration::from_millis(15)));
    World {
        sim,
        fwd,
        ups: [up1, up2],
        client,
    }
}

#[test]
fn dead_forwarder_answered_via_the_second_within_1800ms() {
    let mut script: Vec<_> = (0..50u16)
        .map(|i| {
            (
                Instant::from_millis(100 * u64::from(i)),
                query(i, &format!("n{i}.example"), rtype::A, true),
            )
        })
        .collect();
    let t_fail = Instant::from_secs(10);
    script.push((t_fail, query(1000, "fresh.example", rtype::A, true)));
    for i in 0..20u16 {
        let at = t_fail + Duration::from_secs(2) + Duration::from_millis(50 * u64::from(i));
        script.push((
            at,
            query(2000 + i, &format!("n{}.example", 100 + i), rtype::A, true),
        ));
    }
    let mut w = world(41, script);
    w.sim.run_until(Instant::from_secs(6));
    let best = w
        .sim
        .node::<Fwd>(w.fwd)
        .servers()
        .iter()
        .position(|s| s.srtt_us < 20_000);
    assert_eq!(best, Some(0), "up1 is the faster forwarder after warm-up");
    w.sim.kill(w.ups[0]);
    w.sim.run_until(Instant::from_secs(20));

    let replies = w.sim.take_events::<Client>(w.client);
    assert_eq!(replies.len(), 71, "every query answered");
    let at = |id: u16| {
        replies
            .iter()
            .find(|(_, b)| Message::parse(b).unwrap().id() == id)
            .map(|(t, b)| (*t, first_a(b)))
            .unwrap()
    };
    let (t, a) = at(1000);
    assert_eq!(a.unwrap().0, [192, 0, 2, 200]);
    let took = t - t_fail;
    assert!(took < Duration::from_millis(1800), "failover took {took:?}");
    // After detection the live forwarder is asked first: answers in about its RTT.
    for i in 0..20u16 {
        let (t, a) = at(2000 + i);
        assert!(a.is_some());
        let sent = t_fail + Duration::from_secs(2) + Duration::from_millis(50 * u64::from(i));
        assert!(
            t - sent <= Duration::from_millis(60),
            "query {i} took {:?}",
            t - sent
        );
    }
    let fwd = w.sim.node::<Fwd>(w.fwd);
    assert!(
        fwd.servers()[0].timeouts >= 1,
        "the dead forwarder was penalised"
    );
    assert_eq!(fwd.waiting_clients(), 0);
}

#[test]
fn a_thousand_identical_queries_cause_one_upstream_query() {
    let script: Vec<_> = (0..1000u16)
        .map(|i| {
            (
                Instant::from_nanos(u64::from(i) * 1000),
                query(i, "n7.example", rtype::A, false),
            )
        })
        .collect();
    let mut w = world(42, script);
    w.sim.run_until(Instant::from_secs(2));
    let ups = w.sim.node::<Upstream>(w.ups[0]).queries + w.sim.node::<Upstream>(w.ups[1]).queries;
    // One query plus at most the one re-probe copy to the idle second forwarder; later
    // arrivals are cache hits.
    assert!(ups <= 2, "{ups} upstream queries");
    let replies = w.sim.take_events::<Client>(w.client);
    let stats = w.sim.node::<Fwd>(w.fwd).stats().clone();
    assert_eq!(replies.len() as u64 + stats.client_drops(), 1000);
    assert_eq!(stats.cache_misses, stats.coalesced + 1);
}
