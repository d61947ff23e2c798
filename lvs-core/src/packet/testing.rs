//! Frame builders for tests, examples, benchmarks and fuzz seeds (built with `etherparse`).
//!
//! Every builder returns a complete Ethernet II frame with valid checksums, from the fixed MACs
//! [`CLIENT_MAC`] → [`DIRECTOR_MAC`].

use core::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{IpNumber, PacketBuilder};

/// Source MAC of every built frame.
pub const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// Destination MAC of every built frame.
pub const DIRECTOR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

fn finish(r: Result<(), etherparse::err::packet::BuildWriteError>, out: Vec<u8>) -> Vec<u8> {
    // Writing into a Vec only fails on a length overflow that these small test frames
    // cannot reach.
    r.map(|()| out).unwrap_or_default()
}

/// An IPv4 TCP frame with the given flag bits (see [`super::TcpFlags`]), TTL 64, DF set.
pub fn tcp_v4_frame(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(CLIENT_MAC, DIRECTOR_MAC)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, 1000, 64240);
    if flags & 0x01 != 0 {
        b = b.fin();
    }
    if flags & 0x02 != 0 {
        b = b.syn();
    }
    if flags & 0x04 != 0 {
        b = b.rst();
    }
    if flags & 0x08 != 0 {
        b = b.psh();
    }
    if flags & 0x10 != 0 {
        b = b.ack(1);
    }
    let mut out = Vec::with_capacity(b.size(payload.len()));
    let r = b.write(&mut out, payload);
    finish(r, out)
}

/// An IPv4 UDP frame, TTL 64.
pub fn udp_v4_frame(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(CLIENT_MAC, DIRECTOR_MAC)
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    let r = b.write(&mut out, payload);
    finish(r, out)
}

/// An IPv6 TCP frame, hop limit 64.
pub fn tcp_v6_frame(
    src: Ipv6Addr,
    sport: u16,
    dst: Ipv6Addr,
    dport: u16,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(CLIENT_MAC, DIRECTOR_MAC)
        .ipv6(src.octets(), dst.octets(), 64)
        .tcp(sport, dport, 1000, 64240);
    if flags & 0x02 != 0 {
        b = b.syn();
    }
    if flags & 0x10 != 0 {
        b = b.ack(1);
    }
    if flags & 0x01 != 0 {
        b = b.fin();
    }
    if flags & 0x04 != 0 {
        b = b.rst();
    }
    let mut out = Vec::with_capacity(b.size(payload.len()));
    let r = b.write(&mut out, payload);
    finish(r, out)
}

/// An IPv6 UDP frame, hop limit 64.
pub fn udp_v6_frame(
    src: Ipv6Addr,
    sport: u16,
    dst: Ipv6Addr,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(CLIENT_MAC, DIRECTOR_MAC)
        .ipv6(src.octets(), dst.octets(), 64)
        .udp(sport, dport);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    let r = b.write(&mut out, payload);
    finish(r, out)
}

/// An IPv4 SCTP frame with a valid CRC32c and one DATA-less chunk header as payload.
pub fn sctp_v4_frame(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
    let mut sctp = Vec::with_capacity(16);
    sctp.extend_from_slice(&sport.to_be_bytes());
    sctp.extend_from_slice(&dport.to_be_bytes());
    sctp.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    sctp.extend_from_slice(&[0; 4]);
    // An INIT-like chunk header: type 1, flags 0, length 4.
    sctp.extend_from_slice(&[1, 0, 0, 4]);
    let crc = crc32c::crc32c(&sctp);
    sctp[8..12].copy_from_slice(&crc.to_le_bytes());
    let b = PacketBuilder::ethernet2(CLIENT_MAC, DIRECTOR_MAC).ipv4(src, dst, 64);
    let mut out = Vec::new();
    let r = b.write(&mut out, IpNumber(132), &sctp);
    finish(r, out)
}

/// An ICMPv4 error (`icmp_type`/`code`, e.g. 3/3 port unreachable or 3/4 fragmentation
/// needed with `mtu`) from `src` to `dst` quoting the IP packet inside `quoted_frame` (an
/// Ethernet frame whose first `quote_len` IP bytes are quoted).
pub fn icmp_v4_error(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    icmp_type: u8,
    code: u8,
    mtu: u16,
    quoted_frame: &[u8],
    quote_len: usize,
) -> Vec<u8> {
    let ip = &quoted_frame[14..];
    let q = &ip[..quote_len.min(ip.len())];
    let mtu = mtu.to_be_bytes();
    let b = PacketBuilder::ethernet2(CLIENT_MAC, DIRECTOR_MAC)
        .ipv4(src.octets(), dst.octets(), 64)
        .icmpv4_raw(icmp_type, code, [0, 0, mtu[0], mtu[1]]);
    let mut out = Vec::with_capacity(b.size(q.len()));
    let r = b.write(&mut out, q);
    finish(r, out)
}

/// An ICMPv6 error (`icmp_type`/`code`, e.g. 1/4 port unreachable, 2/0 packet too big with
/// `mtu`) quoting the IP packet inside `quoted_frame`.
pub fn icmp_v6_error(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    icmp_type: u8,
    code: u8,
    mtu: u32,
    quoted_frame: &[u8],
    quote_len: usize,
) -> Vec<u8> {
    let ip = &quoted_frame[14..];
    let q = &ip[..quote_len.min(ip.len())];
    let b = PacketBuilder::ethernet2(CLIENT_MAC, DIRECTOR_MAC)
        .ipv6(src.octets(), dst.octets(), 64)
        .icmpv6_raw(icmp_type, code, mtu.to_be_bytes());
    let mut out = Vec::with_capacity(b.size(q.len()));
    let r = b.write(&mut out, q);
    finish(r, out)
}

/// pcap link type for Ethernet frames.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// pcap link type for raw IP packets (v4 or v6 by version nibble).
pub const LINKTYPE_RAW: u32 = 101;

/// A classic pcap file (microsecond timestamps, one record per frame, 1 ms apart) holding
/// `frames`, for dissection by tshark in interop tests.
pub fn pcap<'a>(linktype: u32, frames: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    for (i, f) in frames.into_iter().enumerate() {
        let len = u32::try_from(f.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        out.extend_from_slice(
            &(u32::try_from(i).unwrap_or(0).wrapping_mul(1000) % 1_000_000).to_le_bytes(),
        );
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}
