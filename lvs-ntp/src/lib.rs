//! NTP (RFC 5905) without I/O: the packet codec, the on-wire checks, a stateless server
//! responder and the client's clock filter, selection and discipline as a Sans-IO machine.
//!
//! * [`time`]: [`NtpTimestamp`] (32.32), [`NtpShort`] (16.16), [`NtpDuration`], era-resolved
//!   [`NtpDate`]s and [`UnixNanos`] as the shell samples them; correct across the 2036
//!   rollover.
//! * [`wire`]: the zero-copy [`wire::NtpPacket`] view, the owned [`wire::NtpRepr`], RFC 7822
//!   extension fields, MAC trailers and kiss-o'-death codes.
//! * [`onwire`]: the checks a reply must pass ([`onwire::check_reply`]) and θ/δ from
//!   T1..T4 ([`onwire::offset_delay`]).
//! * [`server`]: [`server::respond`], an allocation-free reply writer.
//! * [`restrict`]: ntpd's `restrict` rules and `discard` rate limit with kiss-o'-death
//!   replies, applied before the responder.
//! * [`report`]: the `ntpq -p` peer table, `ntpstat` text and exit codes, `ntpdate -q` output.
//! * [`mode6`]: the read-only subset of NTP control messages (READSTAT, READVAR) that lets the
//!   stock `ntpq` and `ntpstat` query a daemon, answered from a [`mode6::Snapshot`].
//! * [`client`]: [`client::Client`], one association per server (reach, iburst/burst,
//!   unreachability back-off, kiss-o'-death), the 8-stage clock filter, the intersection,
//!   cluster and combine algorithms, the NSET/FSET/FREQ/SPIK/SYNC discipline with poll
//!   adaptation, the system state the server side advertises ([`client::Client::system_state`])
//!   and the drift-file format ([`client::drift`]).
//!
//! Nothing here reads a clock, owns a socket or draws randomness: wall-clock timestamps enter
//! as data sampled by the shell at send and receive, and the client's nonces come from the
//! caller's RNG. Malformed input is a typed error ([`wire::WireError`], [`onwire::Reject`],
//! [`server::DropReason`]) that the caller counts ([`onwire::RxStats`],
//! [`server::ServerStats`], [`client::ClientStats`]) and drops, never a panic.
//!
//! The client follows the workspace contract (`lvs_core::StateMachine`): after any `&mut`
//! call, drain `poll_transmit` and `poll_event` until `None`, then read `poll_timeout`; `now`
//! never goes backwards. Its clock changes ([`client::Event::Slew`], [`client::Event::Step`],
//! [`client::Event::SetFrequency`], [`client::Event::Panic`]) are requests the shell carries
//! out (adjtime, settimeofday, ntp_adjtime, or exit).
//!
//! # Example: a client against the responder
//!
//! The shell reports T1 with [`client::Client::note_sent`] after sending each request and
//! passes T4 with [`client::Client::handle_reply`]. Here the local clock runs 50 ms ahead of a
//! stratum-1 server; after the iburst the client asks for the clock to be slewed back (part by
//! the slew, part by a temporary frequency boost) and advertises stratum 2.
//!
//! ```
//! use core::time::Duration;
//! use lvs_core::rng::SeedableRng;
//! use lvs_core::sim::ChaCha8Rng;
//! use lvs_core::{Datagram, Instant, StateMachine};
//! use lvs_ntp::client::{Client, ClientConfig, Event, ServerConfig};
//! use lvs_ntp::server::{SystemState, respond};
//! use lvs_ntp::wire::{LeapIndicator, Refid};
//! use lvs_ntp::{NtpTimestamp, UnixNanos};
//!
//! let server = "192.0.2.7:123".parse().unwrap();
//! let me = "192.0.2.1:40000".parse().unwrap();
//! let mut client = Client::new(
//!     ClientConfig::default(),
//!     [ServerConfig::new(server).with_iburst()],
//!     ChaCha8Rng::seed_from_u64(1), // the shell seeds from the OS
//!     Instant::ZERO,
//! )
//! .unwrap();
//!
//! // True time in Unix nanoseconds, and our clock 50 ms ahead of it.
//! let truth = |t: Instant| 1_750_000_000_000_000_000 + i128::from(t.as_nanos());
//! let ours = |t: Instant| UnixNanos(truth(t) + 50_000_000);
//! let upstream = SystemState {
//!     synchronized: true,
//!     stratum: 1,
//!     leap: LeapIndicator::NoWarning,
//!     refid: Refid::from_bytes(*b"GPS\0"),
//!     ..SystemState::UNSYNCHRONIZED
//! };
//!
//! let mut events = Vec::new();
//! while let Some((at, _why)) = client.poll_timeout() {
//!     if at > Instant::from_secs(30) {
//!         break;
//!     }
//!     client.handle_timeout(at);
//!     while let Some(request) = client.poll_transmit() {
//!         client.note_sent(&request, ours(at)); // T1
//!         // The server stamps T2 = T3 half a millisecond later, by the true time.
//!         let t = NtpTimestamp::from_unix_nanos(UnixNanos(truth(at) + 500_000));
//!         let mut reply = [0u8; 48];
//!         let n = respond(&request.payload, t, t, &upstream, &mut reply).unwrap();
//!         let rx = at + Duration::from_millis(1);
//!         client.handle_reply(rx, ours(rx), Datagram::new(server, me, reply[..n].to_vec()));
//!     }
//!     events.extend(std::iter::from_fn(|| client.poll_event()));
//! }
//!
//! assert!(events.contains(&Event::SystemPeer { server }));
//! let Some(Event::Slew { offset }) = events.iter().find(|e| matches!(e, Event::Slew { .. }))
//! else {
//!     panic!("no slew in {events:?}");
//! };
//! assert!(offset.as_secs_f64() < -0.03, "slews back: {offset}");
//! assert!(events.contains(&Event::SetFrequency { ppm: -250.0 })); // the phase boost
//! let state = client.system_state(Instant::from_secs(30));
//! assert!(state.synchronized);
//! assert_eq!(state.stratum, 2);
//! ```
//!
//! # Example: one exchange by hand
//!
//! ```
//! use lvs_ntp::onwire::{check_reply, offset_delay};
//! use lvs_ntp::server::{SystemState, respond};
//! use lvs_ntp::wire::{NtpMessage, NtpRepr, Refid};
//! use lvs_ntp::{NtpShort, NtpTimestamp, UnixNanos};
//!
//! // The client: a random 64-bit nonce goes out as the transmit timestamp; the true send
//! // time T1 stays local.
//! let nonce = NtpTimestamp::from_bits(0x5d1c_93a7_0e42_b6f1); // from the caller's RNG
//! let t1 = NtpTimestamp::from_unix_nanos(UnixNanos::from_secs(1_750_000_000));
//! let request = NtpRepr::client_request(nonce, 6);
//! let mut buf = [0u8; 48];
//! let n = request.emit_into(&mut buf).unwrap();
//!
//! // Times in milliseconds after T1 = 1_750_000_000 s (Unix).
//! let ms = |ms: i128| NtpTimestamp::from_unix_nanos(UnixNanos(1_750_000_000_000_000_000 + ms * 1_000_000));
//! let sys = SystemState {
//!     synchronized: true,
//!     stratum: 2,
//!     refid: Refid::from_ipv4([192, 0, 2, 1].into()),
//!     root_delay: NtpShort::from_parts(0, 0x0100),
//!     root_dispersion: NtpShort::from_parts(0, 0x0200),
//!     leap: lvs_ntp::wire::LeapIndicator::NoWarning,
//!     ..SystemState::UNSYNCHRONIZED
//! };
//! // The server receives at T2 = 3 ms and answers at T3 = 4 ms, by its clock.
//! let mut reply_buf = [0u8; 64];
//! let (t2, t3) = (ms(3), ms(4));
//! let len = respond(&buf[..n], t2, t3, &sys, &mut reply_buf).unwrap();
//!
//! // The client parses and checks the reply, then computes θ and δ with its own T1 and T4.
//! let reply = NtpMessage::parse(&reply_buf[..len]).unwrap();
//! assert_eq!(check_reply(&request, None, &reply.header), Ok(()));
//! assert_eq!(reply.header.stratum, 2);
//! let t4 = ms(5); // our receive time
//! let s = offset_delay(t1, reply.header.receive, reply.header.transmit, t4);
//! // θ = ((3 − 0) + (4 − 5)) / 2 = 1 ms; δ = (5 − 0) − (4 − 3) = 4 ms.
//! assert_eq!(s.offset.as_nanos(), 1_000_000);
//! assert_eq!(s.delay.as_nanos(), 4_000_000);
//! ```

pub mod client;
pub mod fuzzing;
pub mod mode6;
pub mod onwire;
pub mod report;
pub mod restrict;
pub mod server;
pub mod testing;
pub mod time;
pub mod wire;

pub use time::{NtpDate, NtpDuration, NtpShort, NtpTimestamp, UnixNanos};
