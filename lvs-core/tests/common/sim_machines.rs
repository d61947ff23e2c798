//! Small machines that exercise the simulation harness; shared by the `sim_*` tests through
//! `#[path = "common/sim_machines.rs"] mod machines;` (kept out of the top level so it is not a test crate of its own).
#![cfg(feature = "sim")]
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use lvs_core::rng::Rng;
use lvs_core::sim::Boot;
use lvs_core::{Datagram, Instant, StateMachine, Transmit};

const PING: u8 = b'P';
const ECHO: u8 = b'E';

/// What a [`Peer`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ev {
    /// A datagram arrived.
    Got {
        at: Instant,
        from: SocketAddr,
        seq: u32,
        echo: bool,
    },
    /// The tick timer fired (scheduled for `due`, fired at `at`).
    Tick { due: Instant, at: Instant },
}

/// Why a [`Peer`] wants to be woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    Ping,
    Tick,
}

/// Pings a target (unicast or multicast) every `interval`, optionally echoes pings back, and
/// optionally ticks on a timer. Payload: kind byte, big-endian sequence number, padding.
#[derive(Debug)]
pub(crate) struct Peer {
    target: Option<SocketAddr>,
    interval: Duration,
    remaining: u32,
    next_ping: Option<Instant>,
    tick: Option<(Duration, Instant)>,
    echo: bool,
    payload_len: usize,
    seq: u32,
    out: VecDeque<Transmit>,
    events: VecDeque<Ev>,
    /// The first value of the node's RNG stream.
    pub(crate) first_random: u64,
    /// Datagrams received by this incarnation.
    pub(crate) received: u32,
    pub(crate) incarnation: u32,
}

impl Peer {
    /// An idle peer: it only records what it receives.
    pub(crate) fn new(mut boot: Boot) -> Self {
        Self {
            target: None,
            interval: Duration::from_secs(1),
            remaining: 0,
            next_ping: None,
            tick: None,
            echo: false,
            payload_len: 5,
            seq: 0,
            out: VecDeque::new(),
            events: VecDeque::new(),
            first_random: boot.rng.next_u64(),
            received: 0,
            incarnation: boot.incarnation,
        }
        .starting_at(boot.now)
    }

    fn starting_at(mut self, now: Instant) -> Self {
        self.next_ping = Some(now);
        self
    }

    /// Send `count` pings to `target`, the first now, then every `interval`.
    pub(crate) fn pinging(mut self, target: SocketAddr, interval: Duration, count: u32) -> Self {
        self.target = Some(target);
        self.interval = interval;
        self.remaining = count;
        self
    }

    /// Answer every ping with an echo of the same sequence number.
    pub(crate) fn echoing(mut self) -> Self {
        self.echo = true;
        self
    }

    /// Tick every `every`, the first one `every` from `now`.
    pub(crate) fn ticking(mut self, now: Instant, every: Duration) -> Self {
        self.tick = Some((every, now + every));
        self
    }

    /// Pad pings to `len` bytes (at least 5).
    pub(crate) fn with_len(mut self, len: usize) -> Self {
        self.payload_len = len.max(5);
        self
    }

    /// A command: queue `n` pings to `dst` right now (numbered from 1000).
    pub(crate) fn burst(&mut self, dst: SocketAddr, n: u32) {
        for i in 0..n {
            self.out
                .push_back(Transmit::new(dst, self.payload(PING, 1000 + i)));
        }
    }

    fn payload(&self, kind: u8, seq: u32) -> Vec<u8> {
        let mut p = vec![0u8; self.payload_len];
        p[0] = kind;
        p[1..5].copy_from_slice(&seq.to_be_bytes());
        p
    }

    fn ping_due(&self) -> Option<Instant> {
        if self.target.is_some() && self.remaining > 0 {
            self.next_ping
        } else {
            None
        }
    }
}

impl StateMachine for Peer {
    type Event = Ev;
    type Timer = Wake;

    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        // Malformed input is ignored, never a panic.
        let Some((&kind, rest)) = d.payload.split_first() else {
            return;
        };
        let Some(seq) = rest.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()) else {
            return;
        };
        let seq = u32::from_be_bytes(seq);
        self.received += 1;
        self.events.push_back(Ev::Got {
            at: now,
            from: d.src,
            seq,
            echo: kind == ECHO,
        });
        if self.echo && kind == PING {
            self.out
                .push_back(Transmit::new(d.src, self.payload(ECHO, seq)));
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some((every, due)) = self.tick
            && due <= now
        {
            self.events.push_back(Ev::Tick { due, at: now });
            self.tick = Some((every, due + every));
        }
        if let Some(due) = self.ping_due()
            && due <= now
            && let Some(target) = self.target
        {
            self.out
                .push_back(Transmit::new(target, self.payload(PING, self.seq)));
            self.seq += 1;
            self.remaining -= 1;
            self.next_ping = Some(due + self.interval);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    fn poll_event(&mut self) -> Option<Ev> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<(Instant, Wake)> {
        let ping = self.ping_due().map(|at| (at, Wake::Ping));
        let tick = self.tick.map(|(_, at)| (at, Wake::Tick));
        match (ping, tick) {
            (Some(p), Some(t)) => Some(if t.0 < p.0 { t } else { p }),
            (p, t) => p.or(t),
        }
    }
}

/// A broken machine whose deadline never advances: every `handle_timeout` leaves it due.
#[derive(Debug, Default)]
pub(crate) struct Stuck {
    pub(crate) fired: u64,
}

impl StateMachine for Stuck {
    type Event = ();
    type Timer = &'static str;

    fn handle_datagram(&mut self, _now: Instant, _d: Datagram) {}

    fn handle_timeout(&mut self, _now: Instant) {
        self.fired += 1;
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        None
    }

    fn poll_event(&mut self) -> Option<()> {
        None
    }

    fn poll_timeout(&self) -> Option<(Instant, &'static str)> {
        Some((Instant::from_secs(1), "stuck"))
    }
}

/// The `Got` events among `events`, as (sequence number, arrival time).
pub(crate) fn got(events: &[Ev]) -> Vec<(u32, Instant)> {
    events
        .iter()
        .filter_map(|e| match e {
            Ev::Got { seq, at, .. } => Some((*seq, *at)),
            Ev::Tick { .. } => None,
        })
        .collect()
}

/// `"10.0.0.<n>"` as an address.
pub(crate) fn ip(n: u8) -> std::net::IpAddr {
    std::net::IpAddr::from([10, 0, 0, n])
}

/// `"10.0.0.<n>:7"` as a socket address.
pub(crate) fn sock(n: u8) -> SocketAddr {
    SocketAddr::new(ip(n), 7)
}
