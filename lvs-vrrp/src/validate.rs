//! The receive checks: every check of RFC 3768 / RFC 5798 / RFC 9568 §7.1, plus the ones
//! keepalived adds (unicast/multicast mode, unicast source), as one pure function.
//!
//! | order | check | [`DropReason`] |
//! |---|---|---|
//! | 1 | IP source and destination of the instance's family | `Family` |
//! | 2 | TTL / hop limit 255 (multicast), or within the unicast range | `Ttl` |
//! | 3 | destination is the group (multicast) / not multicast (unicast) | `Destination` |
//! | 4 | unicast source is a configured peer (when asked) | `UnknownPeer` |
//! | 5 | the whole message is present | `Truncated` |
//! | 6 | version 2 or 3 and the configured one | `Version` |
//! | 7 | type ADVERTISEMENT | `Type` |
//! | 8 | no bytes after the message | `Length` |
//! | 9 | checksum (per-peer variant latch for v3/IPv4) | `Checksum` |
//! | 10 | VRID is the instance's | `UnknownVrid` |
//! | 11 | the local router is not the owner (priority 255) | `LocalOwner` |
//! | 12 | v2 authentication type matches | `AuthType` |
//! | 13 | v2 simple text password matches (constant time) | `AuthData` |
//! | 14 | v2 interval matches / v3 interval non-zero | `AdverInt` / `ZeroInterval` |
//! | 15 | address list matches unless the sender is the owner | `AddressList` |
//!
//! The version 3 Max Adver Int is not compared: a backup adopts the master's.

use core::net::IpAddr;

use crate::config::{AddressCheck, InstanceConfig, Transport};
use crate::stats::DropReason;
use crate::wire::{
    Auth, ChecksumLatch, Family, LatchOutcome, VersionRepr, VrrpPacket, WireError, multicast_group,
};

/// What the shell knows about a received packet besides its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RxInfo {
    /// The IP source.
    pub src: IpAddr,
    /// The IP destination (the group or a local unicast address).
    pub dst: IpAddr,
    /// The IPv4 TTL or IPv6 hop limit as received.
    pub ttl: u8,
}

/// A received advert that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted<'a> {
    /// The checked view over the payload.
    pub packet: VrrpPacket<&'a [u8]>,
    /// How the checksum verified.
    pub checksum: LatchOutcome,
    /// Whether the address list equals the configured one. It can differ when the sender is
    /// the owner or the check is off; keepalived 2.2.7 would drop such adverts.
    pub addresses_match: bool,
}

/// Run every receive check on `payload` (the VRRP message, IP header removed) received as
/// `rx` by the instance `config`. On success a [`LatchOutcome::Detected`] checksum variant is
/// latched for the source; nothing is latched for a dropped packet. Never panics.
pub fn validate<'a>(
    payload: &'a [u8],
    rx: &RxInfo,
    config: &InstanceConfig,
    latch: &mut ChecksumLatch,
) -> Result<Accepted<'a>, DropReason> {
    let family = config.family();
    if family_of(rx.src) != family || family_of(rx.dst) != family {
        return Err(DropReason::Family);
    }
    match &config.transport {
        Transport::Multicast => {
            if rx.ttl != crate::wire::TTL {
                return Err(DropReason::Ttl);
            }
            if rx.dst != multicast_group(family) {
                return Err(DropReason::Destination);
            }
        }
        Transport::Unicast(u) => {
            if !(u.min_ttl..=u.max_ttl).contains(&rx.ttl) {
                return Err(DropReason::Ttl);
            }
            if rx.dst.is_multicast() {
                return Err(DropReason::Destination);
            }
            if u.check_src && !u.peers.contains(&rx.src) {
                return Err(DropReason::UnknownPeer);
            }
        }
    }
    let packet = VrrpPacket::new_checked(payload, family).map_err(|e| match e {
        WireError::Truncated => DropReason::Truncated,
        _ => DropReason::Version,
    })?;
    if packet.version() != config.version.number() {
        return Err(DropReason::Version);
    }
    if packet.msg_type() != crate::wire::TYPE_ADVERTISEMENT {
        return Err(DropReason::Type);
    }
    if payload.len() != packet.packet_len() {
        return Err(DropReason::Length);
    }
    let checksum = latch
        .check(&packet, rx.src, rx.dst)
        .ok_or(DropReason::Checksum)?;
    if packet.vrid() != config.vrid {
        return Err(DropReason::UnknownVrid);
    }
    if config.priority == 255 && config.owner_ignores_adverts {
        return Err(DropReason::LocalOwner);
    }
    match config.version {
        VersionRepr::V2 { auth, adver_int } => {
            if packet.auth_type() != Some(auth.type_byte()) {
                return Err(DropReason::AuthType);
            }
            if let Auth::SimpleText(expected) = auth
                && !packet.auth_data().is_some_and(|got| ct_eq(&got, &expected))
            {
                return Err(DropReason::AuthData);
            }
            if packet.adver_int() != Some(adver_int) {
                return Err(DropReason::AdverInt);
            }
        }
        VersionRepr::V3 { .. } => {
            if packet.max_adver_int() == 0 {
                return Err(DropReason::ZeroInterval);
            }
        }
    }
    let addresses_match = config.addresses.same_set_as(packet.addr_bytes());
    if !addresses_match && config.address_check == AddressCheck::Rfc && packet.priority() != 255 {
        return Err(DropReason::AddressList);
    }
    latch.commit(rx.src, checksum);
    Ok(Accepted {
        packet,
        checksum,
        addresses_match,
    })
}

fn family_of(a: IpAddr) -> Family {
    match a {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

/// Compare two passwords without an early exit.
fn ct_eq(a: &[u8; 8], b: &[u8; 8]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
