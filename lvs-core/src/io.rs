//! The Sans-IO contract: what a protocol machine receives, what it asks the shell to send, and
//! the trait every datagram machine implements.
//!
//! # The drain rule
//!
//! After **any** `&mut` call on a machine (a datagram, a timeout, a command), the caller drains
//! [`StateMachine::poll_transmit`] and [`StateMachine::poll_event`] until both return `None`, and
//! only then reads [`StateMachine::poll_timeout`] to learn when to call
//! [`StateMachine::handle_timeout`] next. The deadline is absolute; the caller never computes a
//! relative sleep inside a machine.
//!
//! # Monotonic time
//!
//! `now` never goes backwards between calls on one machine. Machines `debug_assert!` it (see
//! [`MonotonicGuard`]); release builds clamp a backwards step to the last time seen.
//!
//! # Malformed input
//!
//! A malformed datagram is never an `Err` to the caller: the machine counts it under a typed
//! reason in its statistics and drops it.

use core::fmt::Debug;
use core::net::SocketAddr;

use bytes::Bytes;

use crate::Instant;

/// Per-packet metadata that some protocols need and most ignore.
///
/// VRRP must see TTL / hop limit 255 on receive and set it on send; protocols bound to one link
/// care about the interface. Fields the shell cannot supply stay `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PacketMeta {
    /// IPv4 TTL or IPv6 hop limit: as received, or to set on send.
    pub ttl: Option<u8>,
    /// The interface index the packet arrived on, or must leave through.
    pub ifindex: Option<u32>,
}

/// One received packet.
///
/// For UDP the addresses carry ports. For raw IP protocols (VRRP is IP protocol 112) the
/// port is `0` and only the address matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Where the packet came from.
    pub src: SocketAddr,
    /// Where it was addressed (the local or multicast address), when the shell knows it.
    pub dst: SocketAddr,
    /// The payload, usually cut from the shell's large receive buffer (a refcount, not a copy).
    pub payload: Bytes,
    /// TTL and interface metadata.
    pub meta: PacketMeta,
}

impl Datagram {
    /// A datagram with no metadata.
    pub fn new(src: SocketAddr, dst: SocketAddr, payload: impl Into<Bytes>) -> Self {
        Self {
            src,
            dst,
            payload: payload.into(),
            meta: PacketMeta::default(),
        }
    }
}

/// One packet the machine asks the shell to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The local address to send from; `None` lets the shell pick its default socket.
    pub src: Option<SocketAddr>,
    /// The destination (unicast or multicast; port `0` for raw IP protocols).
    pub dst: SocketAddr,
    /// The bytes to send.
    pub payload: Bytes,
    /// TTL and interface to use.
    pub meta: PacketMeta,
}

impl Transmit {
    /// A transmit with no source preference and no metadata.
    pub fn new(dst: SocketAddr, payload: impl Into<Bytes>) -> Self {
        Self {
            src: None,
            dst,
            payload: payload.into(),
            meta: PacketMeta::default(),
        }
    }

    /// The datagram this transmit becomes when it arrives from `from` (used by the simulator and
    /// loopback tests).
    pub fn into_datagram(self, from: SocketAddr) -> Datagram {
        Datagram {
            src: self.src.unwrap_or(from),
            dst: self.dst,
            payload: self.payload,
            meta: self.meta,
        }
    }
}

/// A Sans-IO protocol machine driven by datagrams and time.
///
/// The trait is the whole interface between a machine and whatever drives it: the binaries'
/// event loop, the [`sim`](crate#simulation) harness, or a unit test.
///
/// ```
/// use core::time::Duration;
/// use lvs_core::{Datagram, Instant, StateMachine, Transmit};
///
/// /// Answers every datagram with its payload; says "tick" once a second.
/// struct Echo { out: Vec<Transmit>, next_tick: Instant, ticks: u32 }
///
/// impl StateMachine for Echo {
///     type Event = u32;
///     type Timer = &'static str;
///     fn handle_datagram(&mut self, _now: Instant, d: Datagram) {
///         self.out.push(Transmit::new(d.src, d.payload));
///     }
///     fn handle_timeout(&mut self, now: Instant) {
///         while now >= self.next_tick {
///             self.ticks += 1;
///             self.next_tick += Duration::from_secs(1);
///         }
///     }
///     fn poll_transmit(&mut self) -> Option<Transmit> { self.out.pop() }
///     fn poll_event(&mut self) -> Option<u32> { None }
///     fn poll_timeout(&self) -> Option<(Instant, &'static str)> { Some((self.next_tick, "tick")) }
/// }
///
/// let mut m = Echo { out: Vec::new(), next_tick: Instant::from_secs(1), ticks: 0 };
/// let peer = "127.0.0.1:9000".parse().unwrap();
/// let me = "127.0.0.1:7".parse().unwrap();
/// m.handle_datagram(Instant::ZERO, Datagram::new(peer, me, &b"hi"[..]));
/// // Drain rule: transmits and events first, then the deadline.
/// let t = m.poll_transmit().unwrap();
/// assert_eq!((t.dst, &t.payload[..]), (peer, &b"hi"[..]));
/// assert!(m.poll_transmit().is_none() && m.poll_event().is_none());
/// assert_eq!(m.poll_timeout(), Some((Instant::from_secs(1), "tick")));
/// m.handle_timeout(Instant::from_millis(2500));
/// assert_eq!(m.ticks, 2);
/// ```
pub trait StateMachine {
    /// Facts for the application ("became master", "slew the clock by x", "upstream down").
    type Event: Debug;
    /// Why a deadline exists: a small `Copy` enum or a `&'static str`.
    type Timer: Debug + Copy;

    /// Feed one received packet.
    fn handle_datagram(&mut self, now: Instant, datagram: Datagram);
    /// Fire everything due at or before `now`. A spurious call is a no-op.
    fn handle_timeout(&mut self, now: Instant);
    /// The next packet to send, if any.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// The next event for the application, if any.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// The absolute time of the earliest pending deadline and its reason.
    fn poll_timeout(&self) -> Option<(Instant, Self::Timer)>;
}

/// Enforces "`now` never goes backwards" for one machine.
///
/// Debug builds panic on a backwards step (a bug in the driver); release builds clamp it to the
/// latest time seen so state stays consistent.
///
/// ```
/// use lvs_core::{Instant, MonotonicGuard};
/// let mut g = MonotonicGuard::default();
/// assert_eq!(g.observe(Instant::from_secs(2)), Instant::from_secs(2));
/// assert_eq!(g.latest(), Instant::from_secs(2));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonotonicGuard {
    latest: Instant,
}

impl MonotonicGuard {
    /// Record `now` and return the time the machine should use.
    pub fn observe(&mut self, now: Instant) -> Instant {
        debug_assert!(
            now >= self.latest,
            "time went backwards: {now} < {}",
            self.latest
        );
        if now > self.latest {
            self.latest = now;
        }
        self.latest
    }

    /// The latest time observed.
    pub fn latest(&self) -> Instant {
        self.latest
    }
}
