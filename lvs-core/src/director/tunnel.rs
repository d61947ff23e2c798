//! Tunnels to TUN real servers: IP-in-IP (IPIP, IPv6-in-IPv4, IPv4/IPv6-in-IPv6) and GUE (the
//! same inside UDP, `--tun-type gue`), with the ICMP answer when the result would not fit the
//! path MTU.

use core::net::IpAddr;

use etherparse::PacketBuilder;

use super::TunnelType;
use crate::packet::checksum::{checksum, fold, pseudo_header, sum};
use crate::packet::{Family, PacketView};

/// The outcome of [`encapsulate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encap {
    /// The frame now carries the encapsulated packet; send `len` bytes.
    Sent(usize),
    /// The packet has DF set and would exceed the MTU: the frame now holds an ICMP
    /// fragmentation-needed (IPv4) or packet-too-big (IPv6) for the client; `len` bytes.
    TooBig(usize),
    /// The tunnel cannot carry this packet (source and real server of different families, or
    /// the result would exceed 64 KiB).
    Refused,
}

/// The largest outer header: IPv6 (40) + UDP (8) + GUE (4).
const MAX_OUTER: usize = 52;
const GUE_HEADER: usize = 4;
const UDP_HEADER: usize = 8;

/// One tunnel's ends and parameters.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tunnel {
    /// The director's tunnel source (same family as `dst`).
    pub(super) src: IpAddr,
    /// The real server.
    pub(super) dst: IpAddr,
    /// IPIP or GUE.
    pub(super) kind: TunnelType,
    /// Path MTU to the real server.
    pub(super) mtu: u16,
    /// The real server's MAC, when known.
    pub(super) dst_mac: Option<[u8; 6]>,
    /// The director's MAC.
    pub(super) own_mac: [u8; 6],
}

/// Bytes the tunnel adds in front of the inner packet.
pub(super) fn overhead(dst: IpAddr, kind: TunnelType) -> usize {
    let ip = if dst.is_ipv4() { 20 } else { 40 };
    match kind {
        TunnelType::Ipip => ip,
        TunnelType::Gue { .. } => ip + UDP_HEADER + GUE_HEADER,
    }
}

/// Whether the packet may be tunnelled: it fits the MTU with the outer headers, or it lacks DF
/// (then the shell's stack may fragment the outer IPv4 packet, as the kernel does).
pub(super) fn fits(view: &PacketView, dst: IpAddr, kind: TunnelType, mtu: u16) -> bool {
    view.ip_len + overhead(dst, kind) <= usize::from(mtu) || !view.dont_fragment
}

/// Encapsulate the IP packet of `frame` for the real server `dst`, from `src` (same family).
///
/// The outer TTL / hop limit is the inner one (already decremented), the outer TOS / traffic
/// class copies the inner DSCP and ECN (RFC 6040 normal mode), and an IPv4 outer header copies
/// the inner DF, as the kernel does with `pmtu_disc=1`. IPIP uses protocol 4 for IPv4 inside
/// and 41 for IPv6 inside. GUE wraps the same in UDP to `port` with a source port from the
/// inner flow (entropy for the real server's RSS) and a 4-byte GUE header (version 0, the inner
/// protocol in `proto/ctype`); its UDP checksum is 0 over IPv4 and computed over IPv6.
pub(super) fn encapsulate(frame: &mut Vec<u8>, view: &PacketView, t: &Tunnel) -> Encap {
    let Tunnel {
        src,
        dst,
        kind,
        mtu,
        dst_mac,
        own_mac,
    } = *t;
    if src.is_ipv4() != dst.is_ipv4() {
        return Encap::Refused;
    }
    let l3 = view.l3_offset;
    let inner_len = view.ip_len;
    if frame.len() < l3 + inner_len {
        return Encap::Refused;
    }
    if !fits(view, dst, kind, mtu) {
        let next = mtu.saturating_sub(overhead(dst, kind) as u16);
        return too_big(frame, view, next);
    }
    let (tos, inner_proto) = match view.family {
        Family::V4 => (frame[l3 + 1], 4u8),
        Family::V6 => (((frame[l3] & 0x0f) << 4) | (frame[l3 + 1] >> 4), 41u8),
    };
    let over = overhead(dst, kind);
    let total = over + inner_len;
    let ip_len = if dst.is_ipv4() { 20 } else { 40 };
    let next_proto = match kind {
        TunnelType::Ipip => inner_proto,
        TunnelType::Gue { .. } => 17,
    };
    let mut outer = [0u8; MAX_OUTER];
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let Ok(total16) = u16::try_from(total) else {
                return Encap::Refused;
            };
            let h = &mut outer[..20];
            h[0] = 0x45;
            h[1] = tos;
            h[2..4].copy_from_slice(&total16.to_be_bytes());
            if view.dont_fragment {
                h[6] = 0x40;
            }
            h[8] = view.ttl;
            h[9] = next_proto;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            let c = checksum(h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let Ok(payload16) = u16::try_from(total - 40) else {
                return Encap::Refused;
            };
            let h = &mut outer[..40];
            h[0] = 0x60 | (tos >> 4);
            h[1] = tos << 4;
            h[4..6].copy_from_slice(&payload16.to_be_bytes());
            h[6] = next_proto;
            h[7] = view.ttl;
            h[8..24].copy_from_slice(&s.octets());
            h[24..40].copy_from_slice(&d.octets());
        }
        _ => return Encap::Refused,
    }
    if let TunnelType::Gue { port } = kind {
        let udp_len = (UDP_HEADER + GUE_HEADER + inner_len) as u16;
        let u = &mut outer[ip_len..ip_len + UDP_HEADER + GUE_HEADER];
        u[0..2].copy_from_slice(&flow_source_port(view).to_be_bytes());
        u[2..4].copy_from_slice(&port.to_be_bytes());
        u[4..6].copy_from_slice(&udp_len.to_be_bytes());
        // GUE: version 0, C = 0, no optional fields, then the inner protocol and no flags.
        u[UDP_HEADER] = 0;
        u[UDP_HEADER + 1] = inner_proto;
        if dst.is_ipv6() {
            // IPv6 forbids a zero UDP checksum here (RFC 8200): compute it over header + inner.
            let mut acc = pseudo_header(src, dst, 17, u32::from(udp_len));
            acc = sum(acc, &u[..]);
            acc = sum(acc, &frame[l3..l3 + inner_len]);
            let mut c = !fold(acc);
            if c == 0 {
                c = 0xffff;
            }
            u[6..8].copy_from_slice(&c.to_be_bytes());
        }
    }
    frame.truncate(l3 + inner_len);
    frame.splice(l3..l3, outer[..over].iter().copied());
    let ethertype: u16 = if dst.is_ipv4() { 0x0800 } else { 0x86dd };
    frame[l3 - 2..l3].copy_from_slice(&ethertype.to_be_bytes());
    if let Some(mac) = dst_mac {
        frame[0..6].copy_from_slice(&mac);
        frame[6..12].copy_from_slice(&own_mac);
    }
    Encap::Sent(l3 + total)
}

/// A UDP source port in 49152..=65535 from the inner flow, as the kernel's
/// `udp_flow_src_port` spreads tunnelled flows over the receiver's queues.
fn flow_source_port(view: &PacketView) -> u16 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |b: &[u8]| {
        for &x in b {
            h = (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    match (view.src, view.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            mix(&s.octets());
            mix(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            mix(&s.octets());
            mix(&d.octets());
        }
        _ => {}
    }
    mix(&[view.protocol]);
    mix(&view.src_port.to_be_bytes());
    mix(&view.dst_port.to_be_bytes());
    49152 + (h % 16384) as u16
}

/// Replace `frame` with an ICMP error telling the client the largest packet that fits.
fn too_big(frame: &mut Vec<u8>, view: &PacketView, next_mtu: u16) -> Encap {
    let l3 = view.l3_offset;
    let end = (l3 + view.ip_len).min(frame.len());
    let mut dst_mac = [0u8; 6];
    let mut src_mac = [0u8; 6];
    dst_mac.copy_from_slice(&frame[6..12]);
    src_mac.copy_from_slice(&frame[0..6]);
    let mut out = Vec::with_capacity(l3 + 600);
    let written = match (view.family, view.dst, view.src) {
        (Family::V4, IpAddr::V4(me), IpAddr::V4(client)) => {
            // RFC 792/1191: the IP header and the first 8 bytes of the transport (ports and TCP
            // sequence number, all a sender's PMTU discovery needs). Quoting more would carry a
            // truncated segment whose checksum no dissector can verify.
            let quote = &frame[l3..end.min(l3 + view.ip_header_len + 8)];
            let mtu = next_mtu.to_be_bytes();
            let b = PacketBuilder::ethernet2(src_mac, dst_mac)
                .ipv4(me.octets(), client.octets(), 64)
                .icmpv4_raw(3, 4, [0, 0, mtu[0], mtu[1]]);
            b.write(&mut out, quote).is_ok()
        }
        (Family::V6, IpAddr::V6(me), IpAddr::V6(client)) => {
            // RFC 4443 allows up to 1280 bytes; as for IPv4 we quote the headers and the first 8
            // bytes of the transport. The advertised MTU is at least 1280.
            let quote = &frame[l3..end.min(l3 + view.ip_header_len + 8)];
            let mtu = u32::from(next_mtu.max(1280)).to_be_bytes();
            let b = PacketBuilder::ethernet2(src_mac, dst_mac)
                .ipv6(me.octets(), client.octets(), 64)
                .icmpv6_raw(2, 0, mtu);
            b.write(&mut out, quote).is_ok()
        }
        _ => false,
    };
    if !written {
        return Encap::Refused;
    }
    let len = out.len();
    *frame = out;
    Encap::TooBig(len)
}
