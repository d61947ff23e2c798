//! Golden packets for tests, benches and fuzz seeds: VRRP payloads captured from keepalived
//! 2.2.7 (Debian 12) on a veth pair, source 10.9.0.1 (IPv4) or fe80::5878:e6ff:fec5:2432
//! (IPv6), sent to the VRRP multicast group.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The IPv4 source of the captures.
pub const SRC_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
/// The IPv6 source of the capture (the sender's link-local address).
pub const SRC_V6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x5878, 0xe6ff, 0xfec5, 0x2432);
/// The virtual address of the IPv4 captures.
pub const VIP_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 100);
/// The virtual addresses of the IPv6 capture: the link-local one first.
pub const VIPS_V6: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0x52, 1),
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100),
];

/// VRRPv2, VRID 51, priority 150, no authentication, 1 s, VIP 10.9.0.100.
pub const V2_PRIO150: [u8; 20] = [
    0x21, 0x33, 0x96, 0x01, 0x00, 0x01, 0x3e, 0x5d, 0x0a, 0x09, 0x00, 0x64, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// As [`V2_PRIO150`] with priority 0 (the master resigning).
pub const V2_PRIO0: [u8; 20] = [
    0x21, 0x33, 0x00, 0x01, 0x00, 0x01, 0xd4, 0x5d, 0x0a, 0x09, 0x00, 0x64, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// The IPv4 header keepalived sent [`V2_PRIO150`] in (TOS 0xc0, ID 1, TTL 255, protocol 112).
pub const V2_PRIO150_IP_HEADER: [u8; 20] = [
    0x45, 0xc0, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0xd0, 0x88, 0x0a, 0x09, 0x00, 0x01,
    0xe0, 0x00, 0x00, 0x12,
];

/// VRRPv3 over IPv4, VRID 51, priority 150, 10 cs, VIP 10.9.0.100, checksum with the IPv4
/// pseudo-header (keepalived's default).
pub const V3_V4_10CS: [u8; 12] = [
    0x31, 0x33, 0x96, 0x01, 0x00, 0x0a, 0x43, 0xbb, 0x0a, 0x09, 0x00, 0x64,
];

/// The checksum [`V3_V4_10CS`] would carry without the pseudo-header (RFC 9568).
pub const V3_V4_10CS_NO_PSEUDO_CHECKSUM: u16 = 0x2e54;

/// VRRPv3 over IPv6, VRID 52, priority 150, 100 cs, VIPs [`VIPS_V6`].
pub const V3_V6_100CS: [u8; 40] = [
    0x31, 0x34, 0x96, 0x02, 0x00, 0x64, 0xaa, 0x39, //
    0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x52, 0, 1, //
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
];

/// The source of the IPv4 captures as an `IpAddr`.
pub fn src_v4() -> IpAddr {
    SRC_V4.into()
}

/// The source of the IPv6 capture as an `IpAddr`.
pub fn src_v6() -> IpAddr {
    SRC_V6.into()
}
