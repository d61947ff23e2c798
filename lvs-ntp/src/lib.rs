//! NTP (RFC 5905) without I/O: the packet codec, the on-wire checks and a stateless server
//! responder. The client's clock filter, selection and discipline build on these.
//!
//! * [`time`]: [`NtpTimestamp`] (32.32), [`NtpShort`] (16.16), [`NtpDuration`], era-resolved
//!   [`NtpDate`]s and [`UnixNanos`] as the shell samples them; correct across the 2036
//!   rollover.
//! * [`wire`]: the zero-copy [`wire::NtpPacket`] view, the owned [`wire::NtpRepr`], RFC 7822
//!   extension fields, MAC trailers and kiss-o'-death codes.
//! * [`onwire`]: the checks a reply must pass ([`onwire::check_reply`]) and θ/δ from
//!   T1..T4 ([`onwire::offset_delay`]).
//! * [`server`]: [`server::respond`], an allocation-free reply writer.
//!
//! Nothing here reads a clock, owns a socket or draws randomness: wall-clock timestamps enter
//! as data sampled by the shell at send and receive, and the client's nonce comes from the
//! caller's RNG. Malformed input is a typed error ([`wire::WireError`], [`onwire::Reject`],
//! [`server::DropReason`]) that the caller counts ([`onwire::RxStats`],
//! [`server::ServerStats`]) and drops, never a panic.
//!
//! The machines built on this codec follow the workspace contract (`lvs_core::StateMachine`):
//! after any `&mut` call, drain `poll_transmit` and `poll_event` until `None`, then read
//! `poll_timeout`; `now` never goes backwards.
//!
//! # Example: one client/server exchange
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

pub mod fuzzing;
pub mod onwire;
pub mod server;
pub mod testing;
pub mod time;
pub mod wire;

pub use time::{NtpDate, NtpDuration, NtpShort, NtpTimestamp, UnixNanos};
