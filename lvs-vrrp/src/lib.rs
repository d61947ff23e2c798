//! VRRP v2/v3 (RFC 3768 / RFC 5798 / RFC 9568) as a Sans-IO library that interoperates with
//! keepalived.
//!
//! Today the crate is the **codec**; the state machine (election, timers, GARP/NA requests)
//! comes next and will be built on it.
//!
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
//! allocates its address list).
//!
//! # The Sans-IO contract
//!
//! The state machine will implement `lvs_core::StateMachine` and follow the drain rule written
//! in `lvs_core`: after any `&mut` call (a datagram, a timeout, a command), drain
//! `poll_transmit` and `poll_event` until both return `None`, then read `poll_timeout`. `now`
//! never goes backwards. Malformed adverts are never an `Err` to the caller: they are counted
//! under a [`stats::DropReason`] and dropped.
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
pub mod stats;
pub mod testing;
pub mod validate;
pub mod wire;
