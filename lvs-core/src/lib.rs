//! The contract every lvs crate shares, and (as it lands) the director's data plane.
//!
//! lvs is built from **Sans-IO state machines**: a machine never blocks, never reads a clock,
//! never owns a socket and never spawns a thread. It is fed packets and the current time, and it
//! answers with packets to send, events for the application and the next deadline. The binaries
//! in `bins/` wire machines to real sockets; tests and the [simulation](#simulation) harness wire
//! them to each other in virtual time.
//!
//! # The contract
//!
//! * [`Instant`]: monotonic time as a `u64` of nanoseconds from [`Instant::ZERO`], used with
//!   [`core::time::Duration`]. `now` never goes backwards ([`MonotonicGuard`]).
//! * [`Datagram`] in, [`Transmit`] out, with [`PacketMeta`] (TTL / hop limit, interface index).
//! * [`StateMachine`]: `handle_datagram`, `handle_timeout`, `poll_transmit`, `poll_event`,
//!   `poll_timeout` (an absolute deadline plus a reason).
//! * **The drain rule**: after any `&mut` call, drain `poll_transmit` and `poll_event` until
//!   `None`, then read `poll_timeout`.
//! * [`TimerTable`]: one deadline per timer kind.
//! * [`rng`]: machines take `rand_core` RNGs at construction; never a global RNG.
//! * [`Scheduler`]: how the director asks for a real server; implemented by `lvs-sched`.
//!
//! # Example: driving a machine in memory
//!
//! ```
//! use core::time::Duration;
//! use lvs_core::{Datagram, Instant, StateMachine, TimerKey, TimerTable, Transmit};
//!
//! #[derive(Clone, Copy, Debug, PartialEq)]
//! enum Timer { Hello }
//! impl TimerKey for Timer {
//!     const ALL: &'static [Self] = &[Timer::Hello];
//!     fn index(self) -> usize { 0 }
//! }
//!
//! /// Says hello to a peer every second and reports every reply as an event.
//! struct Greeter { peer: std::net::SocketAddr, timers: TimerTable<Timer, 1>, out: Vec<Transmit>, got: Vec<usize> }
//!
//! impl StateMachine for Greeter {
//!     type Event = usize;
//!     type Timer = Timer;
//!     fn handle_datagram(&mut self, _now: Instant, d: Datagram) { self.got.push(d.payload.len()); }
//!     fn handle_timeout(&mut self, now: Instant) {
//!         if self.timers.expire(now).count() > 0 {
//!             self.out.push(Transmit::new(self.peer, &b"hello"[..]));
//!             self.timers.set(Timer::Hello, now + Duration::from_secs(1));
//!         }
//!     }
//!     fn poll_transmit(&mut self) -> Option<Transmit> { self.out.pop() }
//!     fn poll_event(&mut self) -> Option<usize> { self.got.pop() }
//!     fn poll_timeout(&self) -> Option<(Instant, Timer)> { self.timers.next() }
//! }
//!
//! let peer = "127.0.0.1:4000".parse().unwrap();
//! let mut g = Greeter { peer, timers: TimerTable::new(), out: vec![], got: vec![] };
//! g.timers.set(Timer::Hello, Instant::ZERO);
//!
//! // A tiny driver loop in virtual time: jump to each deadline, fire it, drain.
//! let mut sent = 0;
//! while let Some((at, _why)) = g.poll_timeout() {
//!     if at > Instant::from_secs(3) { break; }
//!     g.handle_timeout(at);
//!     while let Some(t) = g.poll_transmit() {
//!         sent += 1;
//!         // Loop the packet straight back as the peer's reply.
//!         g.handle_datagram(at, t.into_datagram(peer));
//!     }
//!     while let Some(len) = g.poll_event() { assert_eq!(len, 5); }
//! }
//! assert_eq!(sent, 4); // at 0 s, 1 s, 2 s and 3 s
//! ```
//!
//! # Simulation
//!
//! With the `sim` feature, the `sim` module provides a deterministic multi-node network in
//! virtual time: links with latency, jitter, loss, duplication, reordering, MTU and partitions;
//! multicast groups; node kill, freeze and restart; invariants checked after every step; and a
//! stable text log for golden comparisons. Every crate uses it as a dev-dependency.

pub mod conntrack;
pub mod director;
pub mod fuzzing;
pub mod health;
mod io;
pub mod memcache;
pub mod packet;
pub mod rng;
mod sched;
pub mod service;
// The deterministic simulation harness (feature `sim`); its docs live in sim/mod.rs (an outer
// doc comment here would make rustdoc resolve the module's intra-doc links in this scope).
#[cfg(feature = "sim")]
pub mod sim;
mod time;
mod timer;

pub use io::{Datagram, MonotonicGuard, PacketMeta, StateMachine, Transmit};
pub use sched::{ConnState, DestId, DestLoad, DestParams, Flow, SchedError, Scheduler, proto};
pub use time::Instant;
pub use timer::{Expired, TimerKey, TimerTable};
