//! `Client::reconfigure`: a running client takes a new server list. Unchanged associations
//! keep their state, dropped ones leave no timer or request behind, new ones are polled.

use core::time::Duration;
use std::net::SocketAddr;

use lvs_core::rng::SeedableRng;
use lvs_core::sim::ChaCha8Rng;
use lvs_core::{Datagram, Instant, StateMachine, Transmit};
use lvs_ntp::client::{
    Client, ClientConfig, ConfigError, Event, Reconfigured, ServerConfig, Tally, Timer,
};
use lvs_ntp::server::{SystemState, respond};
use lvs_ntp::wire::{LeapIndicator, NtpMessage, Refid};
use lvs_ntp::{NtpShort, NtpTimestamp, UnixNanos};

const ME: SocketAddr = SocketAddr::new(
    core::net::IpAddr::V4(core::net::Ipv4Addr::new(192, 0, 2, 100)),
    40000,
);
const T0: i64 = 1_750_000_000;

fn server(i: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, i], 123))
}

/// Wall time = monotonic time + T0 (a perfect clock).
fn wall(now: Instant) -> UnixNanos {
    UnixNanos(i128::from(T0) * 1_000_000_000 + i128::from(now.as_nanos()))
}

/// A client and perfect servers that answer 1 ms after each request.
struct Rig {
    c: Client<ChaCha8Rng>,
    now: Instant,
    events: Vec<Event>,
    /// (time, destination) of every request sent.
    sent: Vec<(Instant, SocketAddr)>,
}

impl Rig {
    fn new(servers: &[ServerConfig]) -> Self {
        let c = Client::new(
            ClientConfig::default(),
            servers.iter().copied(),
            ChaCha8Rng::seed_from_u64(11),
            Instant::ZERO,
        )
        .unwrap();
        Self {
            c,
            now: Instant::ZERO,
            events: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// Fires the next deadline (late if the clock already passed it), sends, and answers.
    fn step(&mut self) -> Vec<Transmit> {
        let (at, _) = self.c.poll_timeout().expect("a deadline");
        self.now = self.now.max(at);
        self.c.handle_timeout(self.now);
        let mut out = Vec::new();
        while let Some(t) = self.c.poll_transmit() {
            assert!(self.c.note_sent(&t, wall(self.now)));
            self.sent.push((self.now, t.dst));
            out.push(t);
        }
        self.drain();
        for t in &out {
            let reply = answer(t, self.now);
            self.now += Duration::from_millis(1);
            self.deliver(t.dst, reply);
        }
        out
    }

    fn deliver(&mut self, from: SocketAddr, payload: Vec<u8>) {
        self.c
            .handle_reply(self.now, wall(self.now), Datagram::new(from, ME, payload));
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(e) = self.c.poll_event() {
            self.events.push(e);
        }
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.c.poll_timeout().is_some_and(|(at, _)| at <= end) {
            self.step();
        }
        self.now = self.now.max(end);
    }

    fn reconfigure(&mut self, servers: &[ServerConfig]) -> Reconfigured {
        let r = self.c.reconfigure(servers.iter().copied(), self.now);
        self.drain();
        r.unwrap()
    }

    fn index(&self, addr: SocketAddr) -> usize {
        self.c
            .associations(self.now)
            .position(|a| a.addr == addr)
            .expect("configured")
    }
}

/// A stratum-1 answer to `req`, stamped 500 µs after `at` (half of the 1 ms round trip).
fn answer(req: &Transmit, at: Instant) -> Vec<u8> {
    let sys = SystemState {
        synchronized: true,
        leap: LeapIndicator::NoWarning,
        stratum: 1,
        precision: -20,
        root_delay: NtpShort::ZERO,
        root_dispersion: NtpShort::from_nanos(50_000),
        refid: Refid::from_bytes(*b"GPS\0"),
        reference: NtpTimestamp::from_unix_nanos(UnixNanos::from_secs(T0)),
        local_stratum: None,
    };
    let ts = NtpTimestamp::from_unix_nanos(wall(at + Duration::from_micros(500)));
    let mut out = [0u8; 64];
    let n = respond(&req.payload, ts, ts, &sys, &mut out).unwrap();
    out[..n].to_vec()
}

/// Two iburst servers, both answering, run until one is the system peer and both reach.
fn synced_pair() -> Rig {
    let mut r = Rig::new(&[
        ServerConfig::new(server(1)).with_iburst(),
        ServerConfig::new(server(2)).with_iburst(),
    ]);
    r.run_for(Duration::from_secs(40));
    assert!(r.c.system_peer().is_some(), "{:?}", r.events);
    for a in r.c.associations(r.now) {
        assert!(a.reach != 0, "{a:?}");
        assert!(
            matches!(a.tally, Tally::SystemPeer | Tally::Candidate),
            "{a:?}"
        );
    }
    r
}

#[test]
fn an_added_server_is_polled_with_iburst_and_the_running_one_keeps_its_state() {
    let a = ServerConfig::new(server(1)).with_iburst();
    let b = ServerConfig::new(server(2)).with_iburst();
    let mut r = Rig::new(&[a]);
    r.run_for(Duration::from_secs(30));
    assert_eq!(r.c.system_peer(), Some(a.addr));
    let before = r.c.association(0, r.now).unwrap();
    let (a_next, why) = r.c.poll_timeout().unwrap();
    assert_eq!(why, Timer::Poll { association: 0 });
    r.events.clear();

    let at = r.now;
    let result = r.reconfigure(&[a, b]);
    assert_eq!(
        result,
        Reconfigured {
            kept: 1,
            added: 1,
            removed: 0,
            peer_removed: false
        }
    );
    assert!(r.events.is_empty(), "{:?}", r.events);
    assert_eq!(r.c.association(0, r.now).unwrap(), before);
    assert_eq!(r.c.system_peer(), Some(a.addr));
    // The new association's first poll is due within the start-up spread, before A's next.
    let (first, why) = r.c.poll_timeout().unwrap();
    assert_eq!(why, Timer::Poll { association: 1 });
    assert!(
        first >= at && first < at + Duration::from_secs(1),
        "{first}"
    );
    assert!(first < a_next);
    let fresh = r.c.association(1, r.now).unwrap();
    assert_eq!(
        (fresh.reach, fresh.stratum, fresh.tally),
        (0, 16, Tally::Reject)
    );

    r.run_for(a_next - at + Duration::from_secs(1));
    // A kept its own schedule: its next request left exactly when it was due.
    let a_sent: Vec<Instant> = r
        .sent
        .iter()
        .filter(|s| s.1 == a.addr && s.0 >= at)
        .map(|s| s.0)
        .collect();
    assert_eq!(a_sent.first(), Some(&a_next), "{a_sent:?}");
    // B: an iburst, 2 s apart, and it reaches and joins the survivors.
    let b_sent: Vec<Instant> = r
        .sent
        .iter()
        .filter(|s| s.1 == b.addr)
        .map(|s| s.0)
        .collect();
    assert!(b_sent.len() >= 8, "{b_sent:?}");
    for w in b_sent[..8].windows(2) {
        assert_eq!(w[1] - w[0], Duration::from_secs(2), "{b_sent:?}");
    }
    let b_now = r.c.association(1, r.now).unwrap();
    assert!(b_now.reach != 0 && b_now.stratum == 1, "{b_now:?}");
    assert_eq!(b_now.tally, Tally::Candidate);
    assert_eq!(r.c.system_peer(), Some(a.addr), "hysteresis keeps the peer");
}

#[test]
fn removing_the_system_peer_selects_another_and_leaves_nothing_behind() {
    let mut r = synced_pair();
    let peer = r.c.system_peer().unwrap();
    let other = if peer == server(1) {
        server(2)
    } else {
        server(1)
    };
    let other_config = r.c.server_config(r.index(other)).unwrap();
    let other_before = r.c.association(r.index(other), r.now).unwrap();
    // Fire timers until the peer has a request queued but not yet drained: the shell sends
    // nothing more to a server once it is gone.
    let mut queued = None;
    for _ in 0..20 {
        let (at, _) = r.c.poll_timeout().unwrap();
        r.now = r.now.max(at);
        r.c.handle_timeout(r.now);
        let mut pending = Vec::new();
        while let Some(t) = r.c.poll_transmit() {
            pending.push(t);
        }
        if let Some(t) = pending.iter().find(|t| t.dst == peer) {
            queued = Some(t.clone());
            // Put the others back in flight as if sent; only the peer's stays queued.
            for t in pending.iter().filter(|t| t.dst != peer) {
                assert!(r.c.note_sent(t, wall(r.now)));
            }
            break;
        }
        for t in &pending {
            assert!(r.c.note_sent(t, wall(r.now)));
        }
        r.drain();
    }
    let queued = queued.expect("the peer polls within 20 timers");
    r.events.clear();

    let result = r.reconfigure(&[other_config]);
    assert_eq!(
        result,
        Reconfigured {
            kept: 1,
            added: 0,
            removed: 1,
            peer_removed: true
        }
    );
    assert_eq!(r.events, [Event::SystemPeer { server: other }]);
    assert_eq!(r.c.system_peer(), Some(other));
    assert_eq!(r.c.association_count(), 1);
    let now_other = r.c.association(0, r.now).unwrap();
    assert_eq!(now_other.tally, Tally::SystemPeer);
    assert_eq!(
        (now_other.reach, now_other.offset, now_other.rx),
        (other_before.reach, other_before.offset, other_before.rx),
        "the survivor kept its state"
    );
    // No request to the removed server leaves, and no timer refers to a second association.
    assert!(r.c.poll_transmit().is_none_or(|t| t.dst == other));
    assert_eq!(
        r.c.poll_timeout().map(|t| t.1),
        Some(Timer::Poll { association: 0 })
    );
    // Its late answer is from an unknown source now.
    let unknown = r.c.stats().unknown_source;
    r.deliver(peer, answer(&queued, r.now));
    assert_eq!(r.c.stats().unknown_source, unknown + 1);

    // The next replies come from the new peer only and update the clock from it.
    r.events.clear();
    let sent_before = r.sent.len();
    r.run_for(Duration::from_secs(300));
    assert!(r.sent[sent_before..].iter().all(|s| s.1 == other));
    assert!(r.sent.len() > sent_before);
    assert!(
        r.events
            .iter()
            .any(|e| matches!(e, Event::Slew { .. } | Event::Step { .. })),
        "{:?}",
        r.events
    );
    assert_eq!(r.c.system_state(r.now).refid, Refid::from_ip(other.ip()));
}

#[test]
fn removing_another_server_keeps_the_system_peer_untouched() {
    let mut r = synced_pair();
    let peer = r.c.system_peer().unwrap();
    let other = if peer == server(1) {
        server(2)
    } else {
        server(1)
    };
    let i = r.index(peer);
    let before = r.c.association(i, r.now).unwrap();
    let config = r.c.server_config(i).unwrap();
    let state = r.c.system_state(r.now);
    r.events.clear();
    let result = r.reconfigure(&[config]);
    assert_eq!(
        (result.kept, result.removed, result.peer_removed),
        (1, 1, false)
    );
    assert!(r.events.is_empty(), "{:?}", r.events);
    assert_eq!(r.c.association(0, r.now).unwrap(), before);
    assert_eq!(r.c.system_peer(), Some(peer));
    assert_eq!(r.c.system_state(r.now), state);
    let sent_before = r.sent.len();
    r.run_for(Duration::from_secs(200));
    assert!(r.sent.len() > sent_before);
    assert!(r.sent[sent_before..].iter().all(|s| s.1 == peer));
    assert!(!r.events.contains(&Event::SystemPeer { server: other }));
    assert_eq!(r.c.system_peer(), Some(peer));
}

#[test]
fn changed_options_mobilise_the_server_afresh() {
    let mut r = synced_pair();
    let a = r.c.server_config(0).unwrap();
    let b = r.c.server_config(1).unwrap();
    let prefer_b = ServerConfig { prefer: true, ..b };
    let result = r.reconfigure(&[a, prefer_b]);
    assert_eq!((result.kept, result.added, result.removed), (1, 1, 1));
    let fresh = r.c.association(1, r.now).unwrap();
    assert_eq!((fresh.addr, fresh.reach, fresh.offset), (b.addr, 0, None));
    assert_eq!(r.c.server_config(1), Some(prefer_b));
    // Once it reaches again, `prefer` makes it the system peer.
    r.run_for(Duration::from_secs(30));
    assert_eq!(r.c.system_peer(), Some(b.addr));
}

#[test]
fn a_bad_list_changes_nothing() {
    let mut r = synced_pair();
    let a = r.c.server_config(0).unwrap();
    let before: Vec<_> = r.c.associations(r.now).collect();
    let timeout = r.c.poll_timeout();
    let bad = ServerConfig {
        minpoll: 9,
        maxpoll: 8,
        ..ServerConfig::new(server(3))
    };
    assert_eq!(
        r.c.reconfigure([a, bad], r.now),
        Err(ConfigError::PollRange(server(3)))
    );
    assert_eq!(
        r.c.reconfigure([a, a], r.now),
        Err(ConfigError::DuplicateServer(a.addr))
    );
    let many = (0..=64u16).map(|p| ServerConfig::new(SocketAddr::new(a.addr.ip(), 1000 + p)));
    assert_eq!(
        r.c.reconfigure(many, r.now),
        Err(ConfigError::TooManyServers)
    );
    assert_eq!(r.c.associations(r.now).collect::<Vec<_>>(), before);
    assert_eq!(r.c.poll_timeout(), timeout);
    assert!(r.c.poll_event().is_none());
}

#[test]
fn an_empty_list_polls_nothing_until_servers_return() {
    let mut r = synced_pair();
    let a = r.c.server_config(0).unwrap();
    let result = r.reconfigure(&[]);
    assert_eq!(
        (result.kept, result.removed, result.peer_removed),
        (0, 2, true)
    );
    assert_eq!(r.c.system_peer(), None);
    assert_eq!(r.c.association_count(), 0);
    // Only a phase boost in progress may still have a deadline.
    assert!(
        r.c.poll_timeout()
            .is_none_or(|(_, why)| why == Timer::Discipline)
    );
    // What we advertise ages out; it never refers to a server we no longer poll as peer.
    let later = r.now + Duration::from_secs(1_100_000);
    assert!(!r.c.system_state(later).synchronized);

    let result = r.reconfigure(&[a]);
    assert_eq!((result.added, result.removed), (1, 0));
    r.run_for(Duration::from_secs(30));
    assert_eq!(r.c.system_peer(), Some(a.addr));
    let req = r.sent.last().unwrap();
    assert_eq!(req.1, a.addr);
}

#[test]
fn requests_to_kept_servers_carry_fresh_nonces_after_a_reconfiguration() {
    let mut r = synced_pair();
    let a = r.c.server_config(0).unwrap();
    let b = r.c.server_config(1).unwrap();
    r.reconfigure(&[b, a]);
    let mut nonces = Vec::new();
    for _ in 0..6 {
        for t in r.step() {
            nonces.push(NtpMessage::parse(&t.payload).unwrap().header.transmit);
        }
    }
    let n = nonces.len();
    nonces.sort_by_key(|x| x.to_bits());
    nonces.dedup();
    assert_eq!(nonces.len(), n);
    // Both still answer and count: the reorder changed indices, not associations.
    assert_eq!(r.c.association(0, r.now).unwrap().addr, b.addr);
    assert!(r.c.associations(r.now).all(|s| s.reach != 0));
}
