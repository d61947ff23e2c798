//! The VRRP advertisement on the wire: version 2 (RFC 3768, IPv4 only) and version 3
//! (RFC 5798 / RFC 9568, IPv4 and IPv6).
//!
//! Two layers, in the smoltcp style:
//!
//! * [`VrrpPacket`] is a zero-copy view over a caller buffer (`T: AsRef<[u8]>`), with getters,
//!   setters when `T: AsMut<[u8]>`, and the byte ranges of every field in [`field`].
//! * [`VrrpRepr`] is the owned, validated meaning of an advertisement, with
//!   [`VrrpRepr::parse`] and [`VrrpRepr::emit`] (into a caller buffer, returning the length).
//!
//! The checksum has several definitions in the wild; [`ChecksumVariant`] names them, and
//! [`ChecksumLatch`] detects and remembers the one each peer uses.
//!
//! A VRRP message does not say whether its addresses are IPv4 or IPv6: that follows from the IP
//! packet that carried it, so the view and the parser take a [`Family`].
//!
//! # Panic contract
//!
//! [`VrrpPacket::new_unchecked`] performs no checks; accessors on such a view may panic if the
//! buffer is too short. After [`VrrpPacket::new_checked`] (or [`VrrpPacket::check_len`])
//! succeeds, **no getter, setter or checksum method panics**: the buffer holds at least the
//! 8-byte header, every address announced by the count field, and for version 2 the 8 bytes of
//! authentication data. Accessors that depend on the version (the v2 authentication fields)
//! return `Option`. [`VrrpRepr::parse`] and [`VrrpRepr::emit`] never panic on any input; they
//! return a [`WireError`].
//!
//! # Example
//!
//! ```
//! use lvs_vrrp::wire::{ChecksumVariant, Family, VrrpPacket, VrrpRepr};
//!
//! // keepalived 2.2.7, VRRPv3 over IPv4, VRID 51, priority 150, 100 ms, VIP 10.9.0.100.
//! let bytes = [0x31, 0x33, 0x96, 0x01, 0x00, 0x0a, 0x43, 0xbb, 10, 9, 0, 100];
//! let packet = VrrpPacket::new_checked(&bytes[..], Family::V4).unwrap();
//! assert_eq!((packet.vrid(), packet.priority(), packet.max_adver_int()), (51, 150, 10));
//! let (src, dst) = ("10.9.0.1".parse().unwrap(), "224.0.0.18".parse().unwrap());
//! assert!(packet.verify_checksum(ChecksumVariant::PseudoHeader, src, dst));
//! let repr = VrrpRepr::parse(&packet).unwrap();
//! assert_eq!(repr.addresses.len(), 1);
//! ```

mod checksum;
mod packet;
mod repr;

pub use checksum::{ChecksumLatch, ChecksumPolicy, ChecksumVariant, LatchOutcome};
pub use lvs_core::packet::Family;
pub use packet::{VrrpPacket, field};
pub use repr::{Addresses, Auth, VersionRepr, VrrpRepr};

/// IP protocol number of VRRP.
pub const IP_PROTOCOL: u8 = 112;
/// The IPv4 multicast group of VRRP (224.0.0.18).
pub const MULTICAST_V4: core::net::Ipv4Addr = core::net::Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group of VRRP (ff02::12).
pub const MULTICAST_V6: core::net::Ipv6Addr =
    core::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The TTL / hop limit every VRRP packet is sent with and must arrive with (multicast).
pub const TTL: u8 = 255;
/// The only message type: ADVERTISEMENT.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// Version 2 authentication type: none (RFC 3768).
pub const AUTH_NONE: u8 = 0;
/// Version 2 authentication type: simple text password (RFC 2338, kept by keepalived).
pub const AUTH_SIMPLE_TEXT: u8 = 1;
/// Version 2 authentication type: IPsec AH (RFC 2338, keepalived `auth_type AH`; not supported).
pub const AUTH_IP_AH: u8 = 2;
/// The largest version 3 Max Adver Int (12 bits, in centiseconds).
pub const MAX_ADVER_INT_MAX: u16 = 0x0fff;

/// The multicast group VRRP uses for `family`.
pub fn multicast_group(family: Family) -> core::net::IpAddr {
    match family {
        Family::V4 => MULTICAST_V4.into(),
        Family::V6 => MULTICAST_V6.into(),
    }
}

/// Why bytes are not a well-formed VRRP advertisement, or a repr cannot be emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The buffer is shorter than the header, the announced addresses or the v2 auth data.
    #[error("VRRP packet truncated")]
    Truncated,
    /// The version nibble is neither 2 nor 3.
    #[error("unsupported VRRP version")]
    Version,
    /// The type nibble is not ADVERTISEMENT (1).
    #[error("unknown VRRP message type")]
    Type,
    /// VRRP version 2 carried by IPv6, or addresses of the wrong family.
    #[error("VRRP version and address family do not match")]
    Family,
    /// A version 2 authentication type other than none or simple text.
    #[error("unsupported VRRPv2 authentication type")]
    AuthType,
    /// More than 255 addresses.
    #[error("more than 255 addresses")]
    TooManyAddresses,
    /// A version 3 Max Adver Int above 4095 centiseconds.
    #[error("advertisement interval out of range")]
    Interval,
    /// The output buffer is shorter than [`VrrpRepr::buffer_len`].
    #[error("output buffer too small")]
    BufferTooSmall,
    /// The checksum variant does not apply to this version and family.
    #[error("checksum variant does not apply to this version and family")]
    ChecksumVariant,
}
