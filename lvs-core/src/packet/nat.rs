//! In-place header rewrites for NAT: destination NAT on client→server packets, source NAT on
//! replies, and ICMP error translation including the quoted headers.
//!
//! Checksums are patched incrementally (RFC 1624) from the old and new address and port bytes,
//! as the kernel's fast path does: the IPv4 header checksum, the TCP checksum, and the UDP
//! checksum (an IPv4 UDP checksum of 0 means "none" and stays 0). SCTP's CRC32c covers ports but
//! not addresses, so it is recomputed only when a port changes. ICMP error messages get their
//! ICMP checksum recomputed over the whole message and the quoted IPv4 header's checksum
//! recomputed, as in `ip_vs_nat_icmp`.

use core::net::IpAddr;

use super::checksum::{checksum, fold, pseudo_header, sum, update};
use super::view::{Family, PacketView, Transport};
use crate::sched::proto;

/// Why a rewrite was refused. The director counts each as a drop reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum RewriteError {
    /// The new address is of the other IP family (NAT46/64 is not a header rewrite).
    #[error("address family mismatch")]
    FamilyMismatch,
    /// The packet is a fragment: its transport header is not all here.
    #[error("fragmented packet")]
    Fragment,
    /// The packet has no ports to rewrite.
    #[error("transport has no ports")]
    NoPorts,
    /// The frame is shorter than its headers claim.
    #[error("frame truncated")]
    Truncated,
    /// The packet is not an ICMP error.
    #[error("not an ICMP error")]
    NotIcmpError,
}

fn addr_offsets(family: Family) -> (usize, usize, usize) {
    // (src offset, dst offset, address length) within the IP header.
    match family {
        Family::V4 => (12, 16, 4),
        Family::V6 => (8, 24, 16),
    }
}

fn addr_bytes(a: IpAddr) -> ([u8; 16], usize) {
    let mut out = [0u8; 16];
    match a {
        IpAddr::V4(v4) => {
            out[..4].copy_from_slice(&v4.octets());
            (out, 4)
        }
        IpAddr::V6(v6) => {
            out.copy_from_slice(&v6.octets());
            (out, 16)
        }
    }
}

fn family_of(a: IpAddr) -> Family {
    match a {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

fn read16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn write16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// The RFC 1624 delta of replacing `old` by `new` (even, equal lengths): Σ ~old + Σ new.
fn delta(old: &[u8], new: &[u8]) -> u64 {
    let mut acc = 0u64;
    for (o, n) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        acc += u64::from(!u16::from_be_bytes([o[0], o[1]]))
            + u64::from(u16::from_be_bytes([n[0], n[1]]));
    }
    acc
}

/// A checksum field after adding `delta` (HC' = ~(~HC + delta)).
fn apply(check: u16, delta: u64) -> u16 {
    !fold(u64::from(!check) + delta)
}

/// Where the transport checksum lives and whether the pseudo-header feeds it.
fn l4_checksum_offset(v: &PacketView) -> Option<usize> {
    match v.transport {
        Transport::Tcp(_) => Some(v.l4_offset + 16),
        Transport::Udp => Some(v.l4_offset + 6),
        _ => None,
    }
}

/// Which endpoint of a packet to rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Source address and port (SNAT, replies).
    Src,
    /// Destination address and port (DNAT, client→server).
    Dst,
}

/// Rewrite one endpoint (address and port) of a TCP, UDP or SCTP packet in place and patch the
/// checksums. `view` is updated to describe the rewritten packet.
pub fn rewrite(
    frame: &mut [u8],
    view: &mut PacketView,
    side: Side,
    addr: IpAddr,
    port: u16,
) -> Result<(), RewriteError> {
    if family_of(addr) != view.family {
        return Err(RewriteError::FamilyMismatch);
    }
    if view.fragmented {
        return Err(RewriteError::Fragment);
    }
    if !view.has_ports() {
        return Err(RewriteError::NoPorts);
    }
    let l3 = view.l3_offset;
    let l4 = view.l4_offset;
    let (src_off, dst_off, alen) = addr_offsets(view.family);
    let (addr_off, port_off) = match side {
        Side::Src => (l3 + src_off, l4),
        Side::Dst => (l3 + dst_off, l4 + 2),
    };
    let min_len = match view.transport {
        Transport::Tcp(_) => l4 + 20,
        Transport::Udp => l4 + 8,
        _ => l4 + 12,
    };
    if frame.len() < min_len || frame.len() < addr_off + alen {
        return Err(RewriteError::Truncated);
    }
    let (new_addr, _) = addr_bytes(addr);
    let mut old_addr = [0u8; 16];
    old_addr[..alen].copy_from_slice(&frame[addr_off..addr_off + alen]);
    let old_port = read16(frame, port_off);

    frame[addr_off..addr_off + alen].copy_from_slice(&new_addr[..alen]);
    write16(frame, port_off, port);
    // One delta for the address (RFC 1624: the sum of ~old and new words), applied to the IPv4
    // header checksum and, with the port's delta, to the transport checksum.
    let addr_delta = delta(&old_addr[..alen], &new_addr[..alen]);
    if view.family == Family::V4 {
        let c = read16(frame, l3 + 10);
        write16(frame, l3 + 10, apply(c, addr_delta));
    }
    if let Some(co) = l4_checksum_offset(view) {
        let c = read16(frame, co);
        let udp_none =
            matches!(view.transport, Transport::Udp) && view.family == Family::V4 && c == 0;
        if !udp_none {
            let port_delta = u64::from(!old_port) + u64::from(port);
            let mut n = apply(c, addr_delta + port_delta);
            if matches!(view.transport, Transport::Udp) && n == 0 {
                n = 0xffff;
            }
            write16(frame, co, n);
        }
    } else if view.protocol == proto::SCTP && old_port != port {
        let end = (l3 + view.ip_len).min(frame.len());
        sctp_fix_crc(&mut frame[l4..end]);
    }
    set_endpoint(view, side, addr, port);
    Ok(())
}

/// Record a rewritten endpoint in the view.
fn set_endpoint(view: &mut PacketView, side: Side, addr: IpAddr, port: u16) {
    match side {
        Side::Src => {
            view.src = addr;
            view.src_port = port;
        }
        Side::Dst => {
            view.dst = addr;
            view.dst_port = port;
        }
    }
}

/// [`rewrite`] followed by [`decrement_ttl`], as a router forwarding a NAT packet does: the
/// result is byte-identical, but IPv4 TCP and UDP take a fixed-offset path that patches the
/// IPv4 header checksum once for both changes. The caller has checked that the TTL is above 1.
#[inline(always)]
pub fn rewrite_forward(
    frame: &mut [u8],
    view: &mut PacketView,
    side: Side,
    addr: IpAddr,
    port: u16,
) -> Result<(), RewriteError> {
    if let IpAddr::V4(a) = addr
        && view.family == Family::V4
        && !view.fragmented
        && view.ttl > 0
        && rewrite_v4(frame, view, side, a.to_bits(), port)
    {
        view.ttl -= 1;
        set_endpoint(view, side, addr, port);
        return Ok(());
    }
    rewrite_forward_general(frame, view, side, addr, port)
}

/// [`rewrite_forward`] for everything but IPv4 TCP and UDP: kept out of line so the fixed-offset
/// path stays small enough to inline into the forwarding code.
#[inline(never)]
fn rewrite_forward_general(
    frame: &mut [u8],
    view: &mut PacketView,
    side: Side,
    addr: IpAddr,
    port: u16,
) -> Result<(), RewriteError> {
    rewrite(frame, view, side, addr, port)?;
    decrement_ttl(frame, view);
    Ok(())
}

/// The IPv4 TCP/UDP case of [`rewrite_forward`]; false (frame untouched) for anything else.
/// Works on fixed-size views of the two headers, so the field accesses need no bounds checks.
#[inline(always)]
fn rewrite_v4(frame: &mut [u8], view: &PacketView, side: Side, new_a: u32, port: u16) -> bool {
    let (l3, l4) = (view.l3_offset, view.l4_offset);
    let (csum_at, udp) = match view.transport {
        Transport::Tcp(_) => (16, false),
        Transport::Udp => (6, true),
        _ => return false,
    };
    if l4 < l3 + 20 {
        return false;
    }
    let (head, rest) = frame.split_at_mut(l4.min(frame.len()));
    let rest_len = rest.len();
    let Some(Ok(ip)) = head.get_mut(l3..l3 + 20).map(<&mut [u8; 20]>::try_from) else {
        return false;
    };
    let Some(Ok(l4h)) = rest.get_mut(..18).map(<&mut [u8; 18]>::try_from) else {
        return false;
    };
    if !udp && rest_len < 20 || ip[8] == 0 {
        return false;
    }
    let (addr_at, port_at) = match side {
        Side::Src => (12, 0),
        Side::Dst => (16, 2),
    };
    let old_a = u32::from_be_bytes([
        ip[addr_at],
        ip[addr_at + 1],
        ip[addr_at + 2],
        ip[addr_at + 3],
    ]);
    let old_p = u16::from_be_bytes([l4h[port_at], l4h[port_at + 1]]);
    let old_ttl_word = u16::from_be_bytes([ip[8], ip[9]]);
    let new_ttl_word = old_ttl_word.wrapping_sub(0x0100);
    ip[addr_at..addr_at + 4].copy_from_slice(&new_a.to_be_bytes());
    l4h[port_at..port_at + 2].copy_from_slice(&port.to_be_bytes());
    ip[8] = (new_ttl_word >> 8) as u8;
    // RFC 1624: Σ ~old + Σ new over the 16-bit words that changed.
    let addr_delta = u64::from(!(old_a >> 16) & 0xffff)
        + u64::from(!old_a & 0xffff)
        + u64::from(new_a >> 16)
        + u64::from(new_a & 0xffff);
    let ip_delta = addr_delta + u64::from(!old_ttl_word) + u64::from(new_ttl_word);
    let c = u16::from_be_bytes([ip[10], ip[11]]);
    ip[10..12].copy_from_slice(&apply_small(c, ip_delta).to_be_bytes());
    let c = u16::from_be_bytes([l4h[csum_at], l4h[csum_at + 1]]);
    if !(udp && c == 0) {
        let mut n = apply_small(c, addr_delta + u64::from(!old_p) + u64::from(port));
        if udp && n == 0 {
            n = 0xffff;
        }
        l4h[csum_at..csum_at + 2].copy_from_slice(&n.to_be_bytes());
    }
    true
}

/// [`apply`] for deltas of a few 16-bit words (the sum stays below 2³²): two folds always
/// suffice, since the first leaves at most 0x1fffe and the second at most 0xffff.
#[inline]
fn apply_small(check: u16, delta: u64) -> u16 {
    debug_assert!(delta < 0xffff_0000, "apply_small takes a few words");
    let mut x = u64::from(!check) + delta;
    x = (x & 0xffff) + (x >> 16);
    x = (x & 0xffff) + (x >> 16);
    !(x as u16)
}

fn sctp_fix_crc(sctp: &mut [u8]) {
    if sctp.len() < 12 {
        return;
    }
    sctp[8..12].fill(0);
    let crc = crc32c::crc32c(sctp);
    sctp[8..12].copy_from_slice(&crc.to_le_bytes());
}

/// Rewrite an ICMP error and the packet it quotes, in place.
///
/// `outer` replaces the outer source (`Side::Src`) or destination (`Side::Dst`) address;
/// `quoted` replaces the quoted packet's source or destination address and port. This is
/// `ip_vs_nat_icmp`: outbound (server side → client) rewrites the outer source and the quoted
/// destination to the virtual service; inbound rewrites the outer destination and the quoted
/// source to the real server.
pub fn rewrite_icmp_error(
    frame: &mut [u8],
    view: &mut PacketView,
    outer: Option<(Side, IpAddr)>,
    quoted: (Side, IpAddr, u16),
) -> Result<(), RewriteError> {
    let Transport::IcmpError {
        quoted: q,
        icmp_type,
        code,
    } = view.transport
    else {
        return Err(RewriteError::NotIcmpError);
    };
    if family_of(quoted.1) != q.flow.family()
        || outer.is_some_and(|(_, a)| family_of(a) != view.family)
    {
        return Err(RewriteError::FamilyMismatch);
    }
    let qfam = q.flow.family();
    let (qs, qd, qlen) = addr_offsets(qfam);
    let q_addr_off = q.ip_offset + if quoted.0 == Side::Src { qs } else { qd };
    if frame.len() < q_addr_off + qlen {
        return Err(RewriteError::Truncated);
    }
    let l3 = view.l3_offset;
    // Outer address.
    if let Some((side, addr)) = outer {
        let (s, d, alen) = addr_offsets(view.family);
        let off = l3 + if side == Side::Src { s } else { d };
        let (new, _) = addr_bytes(addr);
        frame[off..off + alen].copy_from_slice(&new[..alen]);
        match side {
            Side::Src => view.src = addr,
            Side::Dst => view.dst = addr,
        }
    }
    // Quoted address and port.
    let (new, _) = addr_bytes(quoted.1);
    let mut old_addr = [0u8; 16];
    old_addr[..qlen].copy_from_slice(&frame[q_addr_off..q_addr_off + qlen]);
    frame[q_addr_off..q_addr_off + qlen].copy_from_slice(&new[..qlen]);
    let port_off = q.l4_offset + if quoted.0 == Side::Src { 0 } else { 2 };
    let has_ports = matches!(q.flow.protocol, proto::TCP | proto::UDP | proto::SCTP);
    let mut old_port = None;
    if has_ports && frame.len() >= port_off + 2 {
        old_port = Some(read16(frame, port_off));
        write16(frame, port_off, quoted.2);
    }
    // The quoted transport checksum, when quoted, follows the change too (incrementally, so it
    // stays right for the whole original segment even when only part of it is quoted).
    let qcsum = match q.flow.protocol {
        proto::TCP => Some(q.l4_offset + 16),
        proto::UDP => Some(q.l4_offset + 6),
        _ => None,
    };
    if let Some(co) = qcsum
        && frame.len() >= co + 2
    {
        let c = read16(frame, co);
        let udp_none = q.flow.protocol == proto::UDP && qfam == Family::V4 && c == 0;
        if !udp_none {
            let mut n = update(c, &old_addr[..qlen], &new[..qlen]);
            if let Some(op) = old_port {
                n = update(n, &op.to_be_bytes(), &quoted.2.to_be_bytes());
            }
            if q.flow.protocol == proto::UDP && n == 0 {
                n = 0xffff;
            }
            write16(frame, co, n);
        }
    }
    // Quoted IPv4 header checksum, when the whole header is quoted.
    if qfam == Family::V4 && frame.len() >= q.ip_offset + q.ip_header_len {
        let h = &mut frame[q.ip_offset..q.ip_offset + q.ip_header_len];
        h[10..12].fill(0);
        let c = checksum(h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
    }
    // Outer IPv4 header checksum.
    if view.family == Family::V4 {
        let h = &mut frame[l3..l3 + view.ip_header_len];
        h[10..12].fill(0);
        let c = checksum(h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
    }
    // ICMP checksum over the whole message (ICMPv6 with the pseudo-header).
    let end = (l3 + view.ip_len).min(frame.len());
    let l4 = view.l4_offset;
    frame[l4 + 2..l4 + 4].fill(0);
    let acc = match view.family {
        Family::V4 => sum(0, &frame[l4..end]),
        Family::V6 => sum(
            pseudo_header(view.src, view.dst, 58, (end - l4) as u32),
            &frame[l4..end],
        ),
    };
    write16(frame, l4 + 2, !fold(acc));
    // Keep the view in step.
    let mut nq = q;
    match quoted.0 {
        Side::Src => {
            nq.flow.src = quoted.1;
            if has_ports {
                nq.flow.src_port = quoted.2;
            }
        }
        Side::Dst => {
            nq.flow.dst = quoted.1;
            if has_ports {
                nq.flow.dst_port = quoted.2;
            }
        }
    }
    view.transport = Transport::IcmpError {
        icmp_type,
        code,
        quoted: nq,
    };
    Ok(())
}

/// Decrement the TTL / hop limit in place (patching the IPv4 header checksum). Returns the new
/// value; the caller answers with ICMP time-exceeded instead when the TTL is ≤ 1.
pub fn decrement_ttl(frame: &mut [u8], view: &mut PacketView) -> u8 {
    let l3 = view.l3_offset;
    let ttl = view.ttl.saturating_sub(1);
    match view.family {
        Family::V4 => {
            let old = [frame[l3 + 8], frame[l3 + 9]];
            frame[l3 + 8] = ttl;
            let new = [frame[l3 + 8], frame[l3 + 9]];
            let c = read16(frame, l3 + 10);
            write16(frame, l3 + 10, update(c, &old, &new));
        }
        Family::V6 => frame[l3 + 7] = ttl,
    }
    view.ttl = ttl;
    ttl
}
