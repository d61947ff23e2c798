//! IP-in-IP encapsulation for TUN real servers, with the ICMP answer when the result would not
//! fit the path MTU.

use core::net::IpAddr;

use etherparse::PacketBuilder;

use crate::packet::checksum::checksum;
use crate::packet::{Family, PacketView};

/// The outcome of [`encap_ipip`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encap {
    /// The frame now carries the encapsulated packet; send `len` bytes.
    Sent(usize),
    /// The packet has DF set and would exceed the MTU: the frame now holds an ICMP
    /// fragmentation-needed (IPv4) or packet-too-big (IPv6) for the client; `len` bytes.
    TooBig(usize),
    /// The tunnel cannot carry this packet (IPv6 tunnel endpoints are not supported yet).
    Refused,
}

const OUTER: usize = 20;

/// Encapsulate the IP packet of `frame` in an outer IPv4 header from `src` to `dst` (protocol 4
/// for IPv4 inside, 41 for IPv6 inside). The outer TTL is the inner TTL (already decremented),
/// TOS copies the inner DSCP and ECN (RFC 6040 normal mode) and DF copies the inner DF, as the
/// kernel does with `pmtu_disc=1`.
pub(super) fn encap_ipip(
    frame: &mut Vec<u8>,
    view: &PacketView,
    src: IpAddr,
    dst: IpAddr,
    mtu: u16,
    dst_mac: Option<[u8; 6]>,
    own_mac: [u8; 6],
) -> Encap {
    let (IpAddr::V4(src4), IpAddr::V4(dst4)) = (src, dst) else {
        return Encap::Refused;
    };
    let l3 = view.l3_offset;
    let inner_len = view.ip_len;
    if frame.len() < l3 + inner_len {
        return Encap::Refused;
    }
    if !fits(view, mtu) {
        return too_big(frame, view, mtu.saturating_sub(OUTER as u16));
    }
    let (tos, proto) = match view.family {
        Family::V4 => (frame[l3 + 1], 4u8),
        Family::V6 => {
            let tc = ((frame[l3] & 0x0f) << 4) | (frame[l3 + 1] >> 4);
            (tc, 41u8)
        }
    };
    let total = OUTER + inner_len;
    let Ok(total16) = u16::try_from(total) else {
        return Encap::Refused;
    };
    let mut outer = [0u8; OUTER];
    outer[0] = 0x45;
    outer[1] = tos;
    outer[2..4].copy_from_slice(&total16.to_be_bytes());
    if view.dont_fragment {
        outer[6] = 0x40;
    }
    outer[8] = view.ttl;
    outer[9] = proto;
    outer[12..16].copy_from_slice(&src4.octets());
    outer[16..20].copy_from_slice(&dst4.octets());
    let c = checksum(&outer);
    outer[10..12].copy_from_slice(&c.to_be_bytes());
    frame.truncate(l3 + inner_len);
    frame.splice(l3..l3, outer);
    // The link header now announces IPv4 (it may have said IPv6).
    frame[l3 - 2..l3].copy_from_slice(&0x0800u16.to_be_bytes());
    if let Some(mac) = dst_mac {
        frame[0..6].copy_from_slice(&mac);
        frame[6..12].copy_from_slice(&own_mac);
    }
    Encap::Sent(l3 + total)
}

/// Whether the packet may be tunnelled: it fits the MTU with the outer header, or it lacks DF
/// (then the shell's stack may fragment the outer packet, as the kernel does).
pub(super) fn fits(view: &PacketView, mtu: u16) -> bool {
    view.ip_len + OUTER <= usize::from(mtu) || !view.dont_fragment
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
