//! The shared event loop of the lvs binaries: one single-threaded mio loop that drives a
//! Sans-IO [`StateMachine`](lvs_core::StateMachine) over real sockets.
//!
//! # Pieces
//!
//! * [`Clock`]: the one place the OS monotonic clock is read; converts to
//!   [`lvs_core::Instant`] (nanoseconds since the clock was created) and back for poll timeouts.
//! * [`Sockets`]: the registry. UDP ([`UdpOptions`]: reuse-port, multicast joins, TTL and
//!   packet-info on receive), raw IP protocol sockets ([`RawOptions`]: TTL / hop limit 255,
//!   multicast, `SO_BINDTODEVICE`, received TTL), TCP listeners and streams, and `AF_PACKET`
//!   sockets ([`PacketSocket`]). Everything is non-blocking and has a mio [`Token`].
//! * [`SendQueue`]: a bounded queue per datagram socket for sends the kernel refused with
//!   `WouldBlock`; overflow is dropped and counted in [`SendStats`].
//! * [`EventLoop::handle_signals`]: SIGINT / SIGTERM stop the loop after [`Handler::stop`],
//!   SIGHUP calls [`Handler::reload`]; the signals arrive through the same poll.
//! * [`init_logging`]: `tracing` to stderr, `RUST_LOG` or a verbosity count.
//! * `slab` (crate-internal): the generational slot table whose keys are the mio tokens of
//!   the connection loops (mcproxy's workers, lvsd's proxy and packet modes).
//!
//! # One iteration of [`EventLoop::run`]
//!
//! 1. Drain the machine (the drain rule): `poll_transmit` until `None`, each transmit routed to a
//!    socket by the [routing rule](registry#routing-rule) and sent or queued; then `poll_event`,
//!    each event handed to [`Handler::event`]; repeat until both are empty.
//! 2. Read `poll_timeout`, arm the loop's `timerfd` at that deadline (absolute
//!    `CLOCK_MONOTONIC`, sub-millisecond) and sleep in `mio::Poll::poll` until the timer fires,
//!    readiness, a signal or a [`StopHandle`] (the poll timeout, rounded up to the millisecond,
//!    is only the fallback). Sockets that were not read to
//!    `WouldBlock` last time make the sleep zero.
//! 3. Take `now` from the clock (never backwards: [`MonotonicGuard`](lvs_core::MonotonicGuard)).
//! 4. Signals: stop, or reload then drain. Writable datagram sockets flush their queues; TCP and
//!    packet sockets go to [`Handler::ready`], then drain.
//! 5. Every readable datagram socket is read until `WouldBlock` (at most
//!    [`LoopConfig::read_budget`] datagrams per iteration, for fairness) into one arena
//!    (`BytesMut`); each payload is split off as `Bytes` without a copy, fed with
//!    `handle_datagram(now, d)`, and the machine is drained after each one.
//! 6. If the deadline is due, `handle_timeout(now)` and drain.
//!
//! Received datagrams carry [`PacketMeta`](lvs_core::PacketMeta): TTL / hop limit and interface
//! index when the socket asked for them (always for raw sockets, whose IPv4 header is stripped
//! after its TTL and destination are read). A transmit's `meta.ttl` / `meta.ifindex` apply to
//! that one send.
//!
//! # Example: an echo machine on 127.0.0.1
//!
//! ```
//! use lvs_bins::io::{Control, EventLoop, UdpOptions};
//! use lvs_core::{Datagram, Instant, StateMachine, Transmit};
//!
//! /// Echoes every datagram and reports its length.
//! #[derive(Default)]
//! struct Echo { out: Vec<Transmit>, seen: Vec<usize> }
//!
//! impl StateMachine for Echo {
//!     type Event = usize;
//!     type Timer = ();
//!     fn handle_datagram(&mut self, _now: Instant, d: Datagram) {
//!         self.seen.push(d.payload.len());
//!         self.out.push(Transmit::new(d.src, d.payload));
//!     }
//!     fn handle_timeout(&mut self, _now: Instant) {}
//!     fn poll_transmit(&mut self) -> Option<Transmit> { self.out.pop() }
//!     fn poll_event(&mut self) -> Option<usize> { self.seen.pop() }
//!     fn poll_timeout(&self) -> Option<(Instant, ())> { None }
//! }
//!
//! let mut el = EventLoop::new()?;
//! let server = el.sockets().add_udp(&UdpOptions::new("127.0.0.1:0".parse().unwrap()))?;
//! let server_addr = el.sockets().local_addr(server).unwrap();
//!
//! let client = std::net::UdpSocket::bind("127.0.0.1:0")?;
//! client.send_to(b"ping", server_addr)?;
//!
//! // Stop after the first event; the echo was sent before the event was drained.
//! let mut handler = |ctl: &mut Control<'_>, _m: &mut Echo, len: usize| {
//!     assert_eq!(len, 4);
//!     ctl.stop();
//! };
//! el.run(&mut Echo::default(), &mut handler)?;
//!
//! let mut buf = [0u8; 16];
//! let (n, from) = client.recv_from(&mut buf)?;
//! assert_eq!((&buf[..n], from), (&b"ping"[..], server_addr));
//! assert_eq!(el.sockets_ref().send_stats(server).unwrap().sent, 1);
//! # Ok::<(), std::io::Error>(())
//! ```

mod clock;
mod driver;
mod log;
mod packet;
mod queue;
mod raw;
pub mod registry;
mod signal;
pub(crate) mod slab;
mod socket;
mod timer;

pub use clock::Clock;
pub use driver::{Control, EventLoop, Exit, Handler, LoopConfig, LoopStats, Readiness, StopHandle};
pub use log::{LogError, directive_for, init_logging, log_filter};
pub use mio::Token;
pub use packet::{
    ETH_P_ALL, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, FrameInfo, PacketSocket, PacketType, ifindex,
};
pub use queue::{Pushed, QueueLimits, SendQueue, SendStats};
pub use registry::{MAX_DATAGRAM, RecvStats, RegistryStats, Sockets};
pub use signal::{HANDLED, SignalAction};
pub use socket::{
    DatagramSocket, Group, RawOptions, SocketKind, UdpOptions, tcp_connect, tcp_listener,
};
pub use timer::DeadlineTimer;
