//! A blind off-path attacker in the simulator: it floods spoofed replies, from the
//! forwarder's own address and port, with random IDs and destination ports while a real query
//! is in flight. The cache is never poisoned, and every forged packet is a counted drop.

mod support;

use core::time::Duration;

use bytes::Bytes;
use lvs_core::rng::{Rng, SeedableRng, uniform_below};
use lvs_core::sim::{ChaCha8Rng, LinkConfig, NodeId, Sim};
use lvs_core::{Datagram, Instant, StateMachine, Transmit};
use lvs_dns::forwarder::{DropReason, Event};
use lvs_dns::wire::{Message, rtype};
use support::*;

const EVIL: [u8; 4] = [6, 6, 6, 6];

/// A forged answer for www.example/A with the given ID.
fn forged(id: u16) -> Bytes {
    let q = query(id, "www.example", rtype::A, true);
    let z = zone(&[("www.example", Data::A(vec![EVIL], 86_400))]);
    respond(&z, &q, false, false)
}

/// Sends `per_tick` forged replies every millisecond between `from` and `until`.
struct Attacker {
    rng: ChaCha8Rng,
    next: Instant,
    until: Instant,
    per_tick: usize,
    out: Vec<Transmit>,
    sent: u64,
}

impl StateMachine for Attacker {
    type Event = ();
    type Timer = &'static str;
    fn handle_datagram(&mut self, _now: Instant, _d: Datagram) {}
    fn handle_timeout(&mut self, now: Instant) {
        if now < self.next || now > self.until {
            return;
        }
        for _ in 0..self.per_tick {
            let id = self.rng.next_u32() as u16;
            let port = 1024 + uniform_below(&mut self.rng, 64512) as u16;
            let mut dst = addr(LISTEN);
            dst.set_port(port);
            self.out.push(Transmit {
                src: Some(addr(UP1)),
                ..Transmit::new(dst, forged(id))
            });
            self.sent += 1;
        }
        self.next = now + Duration::from_millis(1);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop()
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<(Instant, &'static str)> {
        (self.next <= self.until).then_some((self.next, "flood"))
    }
}

fn real_zone() -> std::collections::BTreeMap<String, Data> {
    zone(&[("www.example", Data::A(vec![[192, 0, 2, 1]], 300))])
}

/// Runs the simulation to `until` in 1 ms steps, serving upstream TCP requests as the real
/// forwarder would.
fn run_serving_tcp(sim: &mut Sim, fwd: NodeId, until: Instant) {
    while sim.now() < until {
        sim.run_for(Duration::from_millis(1));
        let events = sim.take_events::<Fwd>(fwd);
        for e in events {
            if let Event::UpstreamTcp { token, message, .. } = e {
                let reply = respond(&real_zone(), &message, false, true);
                sim.with_node::<Fwd, _>(fwd, |f, now| f.handle_upstream_tcp(now, token, Ok(reply)));
            }
        }
    }
}

fn setup(seed: u64, attacker: Option<usize>) -> (Sim, NodeId, NodeId, Option<NodeId>) {
    let mut sim = Sim::from_env_or(seed);
    sim.set_default_link(LinkConfig::latency(Duration::from_millis(1)));
    let fwd = sim.add_node("fwd", [addr(LISTEN).ip()], |boot| {
        lvs_dns::forwarder::Forwarder::new(config(&[UP1]), boot.rng).unwrap()
    });
    let up = sim.add_node("up", [addr(UP1).ip()], |_| Upstream::new(real_zone()));
    sim.set_link_both(fwd, up, LinkConfig::latency(Duration::from_millis(150)));
    let me = addr("192.0.2.10:5353");
    let script = vec![
        (
            Instant::from_millis(10),
            query(1, "www.example", rtype::A, true),
        ),
        (
            Instant::from_secs(5),
            query(2, "www.example", rtype::A, true),
        ),
    ];
    let client = sim.add_node("client", [me.ip()], move |_| {
        Client::new(me, script.clone())
    });
    let evil = attacker.map(|per_tick| {
        sim.add_node("attacker", ["10.0.0.66".parse().unwrap()], move |boot| {
            Attacker {
                rng: ChaCha8Rng::seed_from_u64(boot.rng.clone().next_u64()),
                next: Instant::from_millis(12),
                until: Instant::from_millis(300),
                per_tick,
                out: Vec::new(),
                sent: 0,
            }
        })
    });
    (sim, fwd, client, evil)
}

fn assert_not_poisoned(sim: &mut Sim, client: NodeId) {
    let replies = sim.take_events::<Client>(client);
    assert_eq!(replies.len(), 2);
    for (_, r) in &replies {
        let m = Message::parse(r).unwrap();
        assert_eq!(first_a(r).unwrap().0, [192, 0, 2, 1], "reply {}", m.id());
    }
}

#[test]
fn blind_flood_of_random_ids_and_ports_never_poisons_the_cache() {
    let (mut sim, fwd, client, evil) = setup(51, Some(100));
    run_serving_tcp(&mut sim, fwd, Instant::from_secs(6));
    let sent = sim.node::<Attacker>(evil.unwrap()).sent;
    assert!(sent >= 28_000, "{sent}");
    assert_not_poisoned(&mut sim, client);
    let s = sim.node::<Fwd>(fwd).stats();
    // Every forged packet is accounted for: wrong port, or (by luck) the right port with a
    // wrong ID, which switched the query to TCP.
    let dropped =
        s.dropped(DropReason::UpstreamUnexpected) + s.dropped(DropReason::UpstreamIdMismatch);
    // (After a switch to TCP the genuine UDP reply also lands on the closed port.)
    assert_eq!(dropped, sent + s.tcp_retries_mismatch);
    assert_eq!(s.cache_hits, 1);
}

#[test]
fn attacker_who_knows_the_port_gets_one_guess_then_tcp() {
    let (mut sim, fwd, client, _) = setup(52, None);
    sim.run_until(Instant::from_millis(20));
    let ports: Vec<(u16, std::net::SocketAddr)> = sim.node::<Fwd>(fwd).in_flight_udp().collect();
    assert_eq!(ports.len(), 1);
    let mut dst = addr(LISTEN);
    dst.set_port(ports[0].0);
    // Every possible ID, starting from a random one, right port, right server address.
    let start = ChaCha8Rng::seed_from_u64(52).next_u32() as u16;
    for k in 0..=u16::MAX {
        let id = start.wrapping_add(k);
        sim.inject(
            Instant::from_millis(21),
            fwd,
            Datagram::new(addr(UP1), dst, forged(id)),
        );
    }
    run_serving_tcp(&mut sim, fwd, Instant::from_secs(6));
    let s = sim.node::<Fwd>(fwd).stats().clone();
    assert_not_poisoned(&mut sim, client);
    assert_eq!(
        s.tcp_retries_mismatch, 1,
        "the first wrong ID switched to TCP"
    );
    assert_eq!(s.dropped(DropReason::UpstreamIdMismatch), 1);
    // The other 65 535 guesses, and the genuine UDP reply, hit a closed port.
    assert_eq!(s.dropped(DropReason::UpstreamUnexpected), 65_535 + 1);
    assert_eq!(s.upstream_tcp, 1);
}
