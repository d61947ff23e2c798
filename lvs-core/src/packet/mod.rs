//! Packets as the director sees them: a parsed [`PacketView`] over a caller-owned buffer, and
//! pure in-place transforms (NAT rewrites, TTL decrement) with incremental checksums.
//!
//! ```
//! use lvs_core::packet::{PacketView, Side, rewrite, verify_checksums};
//!
//! // A 64-byte Ethernet + IPv4 + TCP SYN from 192.0.2.7:40000 to the VIP 198.51.100.1:80.
//! let mut frame = lvs_core::packet::testing::tcp_v4_frame(
//!     [192, 0, 2, 7], 40000, [198, 51, 100, 1], 80, 0x02, b"",
//! );
//! let mut view = PacketView::parse_ethernet(&frame).unwrap();
//! assert_eq!(view.dst_port, 80);
//! // Destination NAT to the real server 10.0.0.2:8080.
//! rewrite(&mut frame, &mut view, Side::Dst, "10.0.0.2".parse().unwrap(), 8080).unwrap();
//! let again = PacketView::parse_ethernet(&frame).unwrap();
//! assert_eq!((again.dst.to_string(), again.dst_port), ("10.0.0.2".to_string(), 8080));
//! verify_checksums(&frame, &again).unwrap();
//! ```

pub mod checksum;
mod nat;
pub mod testing;
mod verify;
mod view;

pub use nat::{RewriteError, Side, decrement_ttl, rewrite, rewrite_forward, rewrite_icmp_error};
pub use verify::{ChecksumError, verify_checksums};
pub use view::{Family, FlowKey, PacketView, ParseError, QuotedPacket, TcpFlags, Transport};
