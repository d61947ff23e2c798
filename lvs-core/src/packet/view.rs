//! Parsing a frame into a [`PacketView`]: offsets and the fields the director decides on.
//!
//! The view holds offsets into the caller's buffer, not borrows, so the same buffer can be
//! rewritten in place afterwards (see [`super::nat`]). Parsing is done by `etherparse`; this
//! module adds what IPVS needs on top: SCTP ports, TCP flags, and for ICMP errors the flow of the
//! quoted packet.

use core::net::IpAddr;

use etherparse::{
    LaxNetSlice, LaxSlicedPacket, LinkExtSlice, NetSlice, SlicedPacket, TransportSlice,
};

use crate::sched::proto;

/// IP version of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// TCP flag bits as they appear in byte 13 of the TCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;

    /// Whether every bit of `mask` is set.
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// The 5-tuple of a flow, oriented as the packet travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// IP protocol number.
    pub protocol: u8,
    /// Source address.
    pub src: IpAddr,
    /// Source port (0 without ports).
    pub src_port: u16,
    /// Destination address.
    pub dst: IpAddr,
    /// Destination port (0 without ports).
    pub dst_port: u16,
}

impl FlowKey {
    /// The IP family of the flow (from its source address).
    pub fn family(&self) -> Family {
        match self.src {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The same flow seen from the other direction.
    pub fn reversed(self) -> Self {
        Self {
            protocol: self.protocol,
            src: self.dst,
            src_port: self.dst_port,
            dst: self.src,
            dst_port: self.src_port,
        }
    }
}

/// The packet an ICMP error quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedPacket {
    /// Offset of the quoted IP header in the frame.
    pub ip_offset: usize,
    /// Length of the quoted IP header (IPv6: fixed header plus extensions).
    pub ip_header_len: usize,
    /// Offset of the quoted transport header (may extend past the quote when truncated).
    pub l4_offset: usize,
    /// Bytes of the quote present in the frame, from `ip_offset`.
    pub len: usize,
    /// The quoted packet's own 5-tuple (ports 0 when fewer than 4 transport bytes are quoted).
    pub flow: FlowKey,
}

/// What the transport layer of a packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP with its flags.
    Tcp(TcpFlags),
    /// UDP.
    Udp,
    /// SCTP (ports parsed from the common header).
    Sctp,
    /// An ICMP / ICMPv6 informational message (echo and the like).
    Icmp {
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        code: u8,
    },
    /// An ICMP error (v4: destination unreachable, source quench, time exceeded; v6: types
    /// 1–4) with the packet it quotes.
    IcmpError {
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        code: u8,
        /// The quoted packet.
        quoted: QuotedPacket,
    },
    /// Any other protocol, or a non-first fragment.
    Other,
}

/// Offsets and decision fields of one IP packet inside a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketView {
    /// Offset of the IP header in the frame (0 for raw IP input).
    pub l3_offset: usize,
    /// The outermost 802.1Q VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// IPv4 or IPv6.
    pub family: Family,
    /// IP header length including IPv4 options / IPv6 extension headers.
    pub ip_header_len: usize,
    /// Total IP packet length (header + payload) as the header states it.
    pub ip_len: usize,
    /// TTL / hop limit.
    pub ttl: u8,
    /// IPv4 DF bit (always true for IPv6, which routers never fragment).
    pub dont_fragment: bool,
    /// Whether the packet is a fragment (its transport header may be missing).
    pub fragmented: bool,
    /// IP protocol number of the transport (after IPv6 extensions).
    pub protocol: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Offset of the transport header in the frame.
    pub l4_offset: usize,
    /// Source port (0 without ports).
    pub src_port: u16,
    /// Destination port (0 without ports).
    pub dst_port: u16,
    /// The transport kind.
    pub transport: Transport,
}

/// Why a frame could not be viewed. Counted by the director as a drop reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The frame ends before a header does.
    #[error("truncated frame")]
    Truncated,
    /// Not an IPv4 or IPv6 packet (ARP, LLDP ...).
    #[error("not an IP packet")]
    NotIp,
    /// A header field is invalid (bad IHL, version, lengths ...).
    #[error("malformed IP or transport header")]
    Malformed,
}

fn offset_in(base: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).saturating_sub(base.as_ptr() as usize)
}

fn map_err(e: &etherparse::err::packet::SliceError) -> ParseError {
    use etherparse::err::packet::SliceError;
    match e {
        SliceError::Len(_) => ParseError::Truncated,
        _ => ParseError::Malformed,
    }
}

fn ports(b: &[u8]) -> (u16, u16) {
    if b.len() >= 4 {
        (
            u16::from_be_bytes([b[0], b[1]]),
            u16::from_be_bytes([b[2], b[3]]),
        )
    } else {
        (0, 0)
    }
}

fn is_icmp_error(family: Family, icmp_type: u8) -> bool {
    match family {
        Family::V4 => matches!(icmp_type, 3 | 4 | 11),
        Family::V6 => (1..=4).contains(&icmp_type),
    }
}

impl PacketView {
    /// View an Ethernet II frame (optionally 802.1Q tagged).
    ///
    /// The common case (one optional VLAN tag, IPv4 without options or IPv6 without extension
    /// headers, an unfragmented TCP or UDP segment with consistent lengths) is read straight
    /// from the frame; everything else goes through `etherparse`. Both give the same view
    /// (property-tested).
    pub fn parse_ethernet(frame: &[u8]) -> Result<Self, ParseError> {
        if let Some(v) = Self::fast_ethernet_inline(frame) {
            return Ok(v);
        }
        Self::parse_ethernet_slow(frame)
    }

    /// [`PacketView::parse_ethernet`] without the fast path (the reference it is tested
    /// against).
    pub fn parse_ethernet_slow(frame: &[u8]) -> Result<Self, ParseError> {
        let sliced = SlicedPacket::from_ethernet(frame).map_err(|e| map_err(&e))?;
        let vlan = sliced.link_exts.iter().find_map(|x| match x {
            LinkExtSlice::Vlan(v) => Some(v.vlan_identifier().value()),
            LinkExtSlice::Macsec(_) => None,
        });
        Self::from_sliced(frame, &sliced, vlan)
    }

    /// The fast path of [`PacketView::parse_ethernet`]; `None` means "not the common case"
    /// (then [`PacketView::parse_ethernet_slow`] gives the view, or the error). Not inlined:
    /// the call writes the view straight into the caller's `Option`, where moving it out of a
    /// `Result` would cost a memcpy call.
    #[inline(never)]
    pub(crate) fn fast_ethernet(frame: &[u8]) -> Option<Self> {
        Self::fast_ethernet_inline(frame)
    }

    #[inline(always)]
    fn fast_ethernet_inline(frame: &[u8]) -> Option<Self> {
        // Fixed-size views: one length check each, none per field.
        let eth: &[u8; 14] = frame.get(..14)?.try_into().ok()?;
        let mut l3 = 14;
        let mut ethertype = u16::from_be_bytes([eth[12], eth[13]]);
        let mut vlan = None;
        if ethertype == 0x8100 {
            let tag: &[u8; 4] = frame.get(14..18)?.try_into().ok()?;
            vlan = Some(u16::from_be_bytes([tag[0], tag[1]]) & 0x0fff);
            ethertype = u16::from_be_bytes([tag[2], tag[3]]);
            l3 = 18;
        }
        let ip = frame.get(l3..)?;
        let (family, hlen, ip_len, ttl, df, protocol, src, dst) = match ethertype {
            0x0800 => {
                let h = ip.get(..20)?;
                if h[0] != 0x45 {
                    return None;
                }
                let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
                let frag = u16::from_be_bytes([h[6], h[7]]);
                if frag & 0x3fff != 0 || total < 20 || total > ip.len() {
                    return None;
                }
                let src = IpAddr::V4([h[12], h[13], h[14], h[15]].into());
                let dst = IpAddr::V4([h[16], h[17], h[18], h[19]].into());
                (
                    Family::V4,
                    20,
                    total,
                    h[8],
                    frag & 0x4000 != 0,
                    h[9],
                    src,
                    dst,
                )
            }
            0x86dd => {
                let h = ip.get(..40)?;
                if h[0] >> 4 != 6 {
                    return None;
                }
                let total = 40 + usize::from(u16::from_be_bytes([h[4], h[5]]));
                if total > ip.len() {
                    return None;
                }
                let mut a = [0u8; 16];
                a.copy_from_slice(&h[8..24]);
                let src = IpAddr::V6(a.into());
                a.copy_from_slice(&h[24..40]);
                let dst = IpAddr::V6(a.into());
                (Family::V6, 40, total, h[7], true, h[6], src, dst)
            }
            _ => return None,
        };
        let seg = ip.get(hlen..ip_len)?;
        let transport = match protocol {
            proto::TCP => {
                let t: &[u8; 20] = seg.get(..20)?.try_into().ok()?;
                let off = usize::from(t[12] >> 4) * 4;
                if off < 20 || off > seg.len() {
                    return None;
                }
                Transport::Tcp(TcpFlags(t[13] & 0x3f))
            }
            proto::UDP => {
                let u: &[u8; 8] = seg.get(..8)?.try_into().ok()?;
                let len = usize::from(u16::from_be_bytes([u[4], u[5]]));
                if len != seg.len() {
                    return None;
                }
                Transport::Udp
            }
            _ => return None,
        };
        // Both arms checked for at least 8 bytes.
        let src_port = u16::from_be_bytes([seg[0], seg[1]]);
        let dst_port = u16::from_be_bytes([seg[2], seg[3]]);
        Some(Self {
            l3_offset: l3,
            vlan,
            family,
            ip_header_len: hlen,
            ip_len,
            ttl,
            dont_fragment: df,
            fragmented: false,
            protocol,
            src,
            dst,
            l4_offset: l3 + hlen,
            src_port,
            dst_port,
            transport,
        })
    }

    /// View a raw IP packet (no link header), e.g. from a TUN device or a raw socket.
    pub fn parse_ip(packet: &[u8]) -> Result<Self, ParseError> {
        let sliced = SlicedPacket::from_ip(packet).map_err(|e| map_err(&e))?;
        Self::from_sliced(packet, &sliced, None)
    }

    fn from_sliced(
        base: &[u8],
        s: &SlicedPacket<'_>,
        vlan: Option<u16>,
    ) -> Result<Self, ParseError> {
        let net = s.net.as_ref().ok_or(ParseError::NotIp)?;
        let (family, l3, ip_len, ttl, df, src, dst, payload) = match net {
            NetSlice::Ipv4(v4) => {
                let h = v4.header();
                (
                    Family::V4,
                    offset_in(base, h.slice()),
                    usize::from(h.total_len()),
                    h.ttl(),
                    h.dont_fragment(),
                    IpAddr::V4(h.source_addr()),
                    IpAddr::V4(h.destination_addr()),
                    v4.payload(),
                )
            }
            NetSlice::Ipv6(v6) => {
                let h = v6.header();
                (
                    Family::V6,
                    offset_in(base, h.slice()),
                    40 + usize::from(h.payload_length()),
                    h.hop_limit(),
                    true,
                    IpAddr::V6(h.source_addr()),
                    IpAddr::V6(h.destination_addr()),
                    v6.payload(),
                )
            }
            NetSlice::Arp(_) => return Err(ParseError::NotIp),
        };
        let protocol = payload.ip_number.0;
        let l4 = offset_in(base, payload.payload);
        let mut view = Self {
            l3_offset: l3,
            vlan,
            family,
            ip_header_len: l4 - l3,
            ip_len,
            ttl,
            dont_fragment: df,
            fragmented: payload.fragmented,
            protocol,
            src,
            dst,
            l4_offset: l4,
            src_port: 0,
            dst_port: 0,
            transport: Transport::Other,
        };
        match &s.transport {
            Some(TransportSlice::Tcp(t)) => {
                view.src_port = t.source_port();
                view.dst_port = t.destination_port();
                view.transport = Transport::Tcp(TcpFlags(t.slice()[13] & 0x3f));
            }
            Some(TransportSlice::Udp(u)) => {
                view.src_port = u.source_port();
                view.dst_port = u.destination_port();
                view.transport = Transport::Udp;
            }
            Some(TransportSlice::Icmpv4(i)) => {
                view.transport = Self::icmp(base, family, i.slice(), i.header_len(), i.payload());
            }
            Some(TransportSlice::Icmpv6(i)) => {
                view.transport = Self::icmp(base, family, i.slice(), i.header_len(), i.payload());
            }
            Some(TransportSlice::Igmp(_)) | None => {
                if protocol == proto::SCTP && !payload.fragmented {
                    if payload.payload.len() < 12 {
                        return Err(ParseError::Truncated);
                    }
                    (view.src_port, view.dst_port) = ports(payload.payload);
                    view.transport = Transport::Sctp;
                }
            }
        }
        Ok(view)
    }

    fn icmp(
        base: &[u8],
        family: Family,
        whole: &[u8],
        header_len: usize,
        quote: &[u8],
    ) -> Transport {
        let (icmp_type, code) = (whole[0], whole[1]);
        debug_assert!(header_len <= whole.len());
        if !is_icmp_error(family, icmp_type) {
            return Transport::Icmp { icmp_type, code };
        }
        match Self::quoted(base, quote) {
            Some(quoted) => Transport::IcmpError {
                icmp_type,
                code,
                quoted,
            },
            None => Transport::Icmp { icmp_type, code },
        }
    }

    fn quoted(base: &[u8], quote: &[u8]) -> Option<QuotedPacket> {
        let inner = LaxSlicedPacket::from_ip(quote).ok()?;
        let (src, dst, ip_offset, payload) = match inner.net.as_ref()? {
            LaxNetSlice::Ipv4(v4) => {
                let h = v4.header();
                (
                    IpAddr::V4(h.source_addr()),
                    IpAddr::V4(h.destination_addr()),
                    offset_in(base, h.slice()),
                    v4.payload(),
                )
            }
            LaxNetSlice::Ipv6(v6) => {
                let h = v6.header();
                (
                    IpAddr::V6(h.source_addr()),
                    IpAddr::V6(h.destination_addr()),
                    offset_in(base, h.slice()),
                    v6.payload(),
                )
            }
            LaxNetSlice::Arp(_) => return None,
        };
        let protocol = payload.ip_number.0;
        let l4_offset = offset_in(base, payload.payload);
        let (src_port, dst_port) = match protocol {
            proto::TCP | proto::UDP | proto::SCTP if !payload.fragmented => ports(payload.payload),
            _ => (0, 0),
        };
        Some(QuotedPacket {
            ip_offset,
            ip_header_len: l4_offset - ip_offset,
            l4_offset,
            len: quote.len(),
            flow: FlowKey {
                protocol,
                src,
                src_port,
                dst,
                dst_port,
            },
        })
    }

    /// The packet's own 5-tuple.
    pub fn flow(&self) -> FlowKey {
        FlowKey {
            protocol: self.protocol,
            src: self.src,
            src_port: self.src_port,
            dst: self.dst,
            dst_port: self.dst_port,
        }
    }

    /// The flow this packet belongs to for connection lookup: its own 5-tuple, or for an ICMP
    /// error the reversed 5-tuple of the quoted packet (the direction the error travels).
    pub fn lookup_flow(&self) -> FlowKey {
        match self.transport {
            Transport::IcmpError { quoted, .. } => quoted.flow.reversed(),
            _ => self.flow(),
        }
    }

    /// TCP flags, if TCP.
    pub fn tcp_flags(&self) -> Option<TcpFlags> {
        match self.transport {
            Transport::Tcp(f) => Some(f),
            _ => None,
        }
    }

    /// Whether the transport has ports (TCP, UDP, SCTP, not a fragment).
    pub fn has_ports(&self) -> bool {
        matches!(
            self.transport,
            Transport::Tcp(_) | Transport::Udp | Transport::Sctp
        )
    }
}
