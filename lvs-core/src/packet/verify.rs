//! Full checksum verification of a frame: the check that every frame we emit must pass.

use super::checksum::{checksum, fold, pseudo_header, sum};
use super::view::{Family, PacketView, Transport};
use crate::sched::proto;

/// Which checksum failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChecksumError {
    /// The IPv4 header checksum.
    #[error("bad IPv4 header checksum")]
    Ipv4Header,
    /// The TCP, UDP, SCTP, ICMP or ICMPv6 checksum.
    #[error("bad transport checksum")]
    Transport,
    /// The quoted IPv4 header inside an ICMP error.
    #[error("bad quoted IPv4 header checksum")]
    QuotedIpv4Header,
}

/// Verify every checksum of the packet `view` describes in `frame`. Fragments are checked at
/// the IP layer only.
pub fn verify_checksums(frame: &[u8], view: &PacketView) -> Result<(), ChecksumError> {
    let l3 = view.l3_offset;
    let l4 = view.l4_offset;
    let end = (l3 + view.ip_len).min(frame.len());
    if view.family == Family::V4 && checksum(&frame[l3..l4.min(end)]) != 0 {
        return Err(ChecksumError::Ipv4Header);
    }
    if view.fragmented {
        return Ok(());
    }
    let seg = &frame[l4..end];
    let pseudo = pseudo_header(view.src, view.dst, view.protocol, seg.len() as u32);
    let ok = match view.transport {
        Transport::Tcp(_) => !fold(sum(pseudo, seg)) == 0,
        Transport::Udp => {
            let stored = u16::from_be_bytes([seg[6], seg[7]]);
            (view.family == Family::V4 && stored == 0) || !fold(sum(pseudo, seg)) == 0
        }
        Transport::Sctp => {
            let mut copy = [0u8; 12];
            copy.copy_from_slice(&seg[..12]);
            copy[8..12].fill(0);
            let crc = crc32c::crc32c_append(crc32c::crc32c(&copy), &seg[12..]);
            crc.to_le_bytes() == seg[8..12]
        }
        Transport::Icmp { .. } | Transport::IcmpError { .. } => match view.family {
            Family::V4 => checksum(seg) == 0,
            Family::V6 => !fold(sum(pseudo, seg)) == 0,
        },
        Transport::Other => true,
    };
    if !ok {
        return Err(ChecksumError::Transport);
    }
    if let Transport::IcmpError { quoted, .. } = view.transport
        && quoted.flow.family() == Family::V4
        && quoted.ip_offset + quoted.ip_header_len <= end
        && checksum(&frame[quoted.ip_offset..quoted.ip_offset + quoted.ip_header_len]) != 0
    {
        return Err(ChecksumError::QuotedIpv4Header);
    }
    debug_assert!(
        view.protocol != proto::SCTP
            || matches!(view.transport, Transport::Sctp | Transport::Other)
    );
    Ok(())
}
