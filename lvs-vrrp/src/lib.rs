//! VRRP v2/v3 (RFC 3768 / RFC 5798 / RFC 9568) as a Sans-IO library that interoperates with
//! keepalived.
//!
//! Two layers: the **codec** ([`wire`], [`validate`]) and the **state machine** ([`state`])
//! built on it.
//!
//! * [`state`]: [`state::Instance`], one virtual router implementing
//!   `lvs_core::StateMachine`: Initialize / Backup / Master (and keepalived's Fault), timers in
//!   nanoseconds ([`state::timing`]), preempt, nopreempt and preempt_delay, the owner, accept
//!   mode, multicast or unicast peers, tracked priority inputs, announcement (GARP / NA)
//!   scheduling, a level-triggered desired VIP set, and the extensions: fast preempt, graceful
//!   handover, stall-aware timers, a peer table with configuration drift warnings and
//!   [`state::Instance::explain`]. [`state::SyncGroup`] moves instances together.
//! * [`wire`]: the zero-copy [`wire::VrrpPacket`] view and the owned [`wire::VrrpRepr`] with
//!   `parse` / `emit`, the checksum in its three version 3 / IPv4 variants
//!   ([`wire::ChecksumVariant`]: the IPv4 pseudo-header of RFC 5798 and keepalived, none as in
//!   RFC 9568, and keepalived's legacy unicast form), detection and a per-peer
//!   [`wire::ChecksumLatch`].
//! * [`validate`]: every receive check of §7.1 of the RFCs as one pure function returning
//!   the accepted packet or a typed [`stats::DropReason`], counted in [`stats::RxStats`].
//! * [`config`]: the local instance configuration the checks compare against.
//! * [`testing`]: golden packets captured from keepalived 2.2.7; [`fuzzing`]: fuzz entry points.
//!
//! Nothing here reads a clock, opens a socket or allocates per packet on the receive path
//! ([`validate::validate`] works on the borrowed view; only [`wire::VrrpRepr::parse`]
//! allocates its address list). The state machine allocates on the receive path only for a
//! new peer, a peer's changed address list, or an event that carries addresses; adverts are
//! emitted into one reused buffer.
//!
//! # The Sans-IO contract
//!
//! [`state::Instance`] implements `lvs_core::StateMachine` and follows the drain rule written
//! in `lvs_core`: after any `&mut` call (a datagram, a timeout, a command), drain
//! `poll_transmit` and `poll_event` until both return `None`, then read `poll_timeout`. `now`
//! never goes backwards. Malformed adverts are never an `Err` to the caller: they are counted
//! under a [`stats::DropReason`] and dropped. The machine takes no RNG: nothing in VRRP's
//! election needs one.
//!
//! # Example: two routers exchanging adverts by hand
//!
//! ```
//! use core::net::IpAddr;
//! use lvs_core::{Instant, StateMachine};
//! use lvs_vrrp::config::InstanceConfig;
//! use lvs_vrrp::state::{Event, Instance, Settings, State};
//! use lvs_vrrp::wire::{Addresses, VersionRepr};
//!
//! let vip: IpAddr = "192.0.2.10".parse().unwrap();
//! let router = |primary: &str, priority| {
//!     let config = InstanceConfig::new(
//!         7,
//!         priority,
//!         VersionRepr::V3 { max_adver_int: 100 }, // 1 s
//!         Addresses::V4(vec!["192.0.2.10".parse().unwrap()]),
//!     );
//!     Instance::new(config, Settings::new(primary.parse().unwrap())).unwrap()
//! };
//! let mut a = router("192.0.2.1", 200);
//! let mut b = router("192.0.2.2", 100);
//! a.start(Instant::ZERO);
//! b.start(Instant::ZERO);
//!
//! // A tiny driver in virtual time: fire the earliest deadline, deliver every transmit to the
//! // other router (the multicast group), and collect events (the drain rule).
//! let mut events = Vec::new();
//! let mut now = Instant::ZERO;
//! while now < Instant::from_secs(10) {
//!     let (next_a, next_b) = (a.poll_timeout().unwrap().0, b.poll_timeout().unwrap().0);
//!     now = next_a.min(next_b);
//!     let (from, to) = if next_a <= next_b { (&mut a, &mut b) } else { (&mut b, &mut a) };
//!     from.handle_timeout(now);
//!     while let Some(t) = from.poll_transmit() {
//!         let src = t.src.unwrap();
//!         to.handle_datagram(now, t.into_datagram(src));
//!     }
//!     for m in [&mut a, &mut b] {
//!         while let Some(e) = m.poll_event() {
//!             events.push(e);
//!         }
//!     }
//! }
//!
//! // The higher priority won after its Master_Down_Interval (3 s + 218.75 ms)...
//! assert_eq!((a.state(), b.state()), (State::Master, State::Backup));
//! assert_eq!(a.desired_vips(), [vip]);
//! assert!(events.contains(&Event::Vips { vips: vec![vip] }));
//! assert!(events.iter().any(|e| matches!(e, Event::Announce { repeat: 5, .. })));
//! // ... and the backup knows who is master and when it would take over.
//! let why = b.explain(now);
//! assert_eq!(why.master.unwrap().addr, "192.0.2.1".parse::<IpAddr>().unwrap());
//! assert!(why.next_transition.unwrap() > now);
//!
//! // Graceful handover: priority 0 makes the backup take over after its Skew_Time.
//! a.handover(now).unwrap();
//! let resign = a.poll_transmit().unwrap();
//! b.handle_datagram(now, resign.into_datagram("192.0.2.1:0".parse().unwrap()));
//! let (at, _) = b.poll_timeout().unwrap();
//! assert_eq!(at - now, b.skew_time());
//! b.handle_timeout(at);
//! assert_eq!(b.state(), State::Master);
//! ```
//!
//! # Example: emit and parse a version 3 advert
//!
//! ```
//! use lvs_vrrp::config::InstanceConfig;
//! use lvs_vrrp::stats::RxStats;
//! use lvs_vrrp::validate::{RxInfo, validate};
//! use lvs_vrrp::wire::{
//!     Addresses, ChecksumLatch, ChecksumPolicy, ChecksumVariant, Family, VersionRepr,
//!     VrrpPacket, VrrpRepr, multicast_group,
//! };
//!
//! let addresses = Addresses::V4(vec!["192.0.2.10".parse().unwrap()]);
//! let advert = VrrpRepr {
//!     vrid: 7,
//!     priority: 200,
//!     version: VersionRepr::V3 { max_adver_int: 100 }, // 1 s in centiseconds
//!     addresses: addresses.clone(),
//! };
//! let src = "192.0.2.1".parse().unwrap();
//! let dst = multicast_group(Family::V4);
//!
//! // Emit with keepalived's checksum (IPv4 pseudo-header) into a caller buffer.
//! let mut buf = [0u8; 64];
//! let n = advert.emit(&mut buf, ChecksumVariant::PseudoHeader, src, dst).unwrap();
//! assert_eq!(n, advert.buffer_len());
//!
//! // Parse it back.
//! let packet = VrrpPacket::new_checked(&buf[..n], Family::V4).unwrap();
//! assert_eq!(VrrpRepr::parse(&packet).unwrap(), advert);
//!
//! // A backup with priority 100 runs the receive checks; the checksum variant is detected
//! // and latched for this peer.
//! let backup = InstanceConfig::new(7, 100, VersionRepr::V3 { max_adver_int: 100 }, addresses);
//! let mut latch = ChecksumLatch::new(ChecksumPolicy::Auto, 16);
//! let mut stats = RxStats::default();
//! let rx = RxInfo { src, dst, ttl: 255 };
//! let outcome = validate(&buf[..n], &rx, &backup, &mut latch);
//! stats.record(&outcome);
//! assert_eq!(outcome.unwrap().packet.priority(), 200);
//! assert_eq!(latch.latched(src), Some(ChecksumVariant::PseudoHeader));
//! assert_eq!(stats.accepted(), 1);
//! ```

pub mod config;
pub mod fuzzing;
pub mod state;
pub mod stats;
pub mod testing;
pub mod validate;
pub mod wire;
