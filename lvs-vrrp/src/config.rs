//! The local configuration of one virtual router instance, as the receive checks need it.

use core::net::IpAddr;

use crate::wire::{Addresses, Family, VersionRepr};

/// How adverts reach this instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Transport {
    /// To the VRRP multicast group (224.0.0.18 / ff02::12) with TTL / hop limit 255, as the
    /// RFCs define.
    #[default]
    Multicast,
    /// keepalived's `unicast_peer` mode (no RFC; draft-abinabraham-vrrp-unicast).
    Unicast(UnicastConfig),
}

/// The receive side of unicast mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnicastConfig {
    /// The configured peers.
    pub peers: Vec<IpAddr>,
    /// Drop adverts from sources that are not in `peers` (keepalived `check_unicast_src`).
    pub check_src: bool,
    /// The lowest TTL / hop limit accepted (keepalived `min_ttl`; 0 = any).
    pub min_ttl: u8,
    /// The highest TTL / hop limit accepted (keepalived `max_ttl`; 255 = any).
    pub max_ttl: u8,
}

impl UnicastConfig {
    /// Unicast to `peers`, any source and any TTL accepted (keepalived's defaults).
    pub fn new(peers: Vec<IpAddr>) -> Self {
        Self {
            peers,
            check_src: false,
            min_ttl: 0,
            max_ttl: 255,
        }
    }
}

/// Whether received address lists are compared with the configured one (RFC 3768/5798 §7.1:
/// "MAY verify").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AddressCheck {
    /// Compare count and members (in any order); on a mismatch drop the advert unless its
    /// sender is the address owner (priority 255), as the RFCs require once the check is made.
    /// keepalived 2.2.7 drops on any mismatch, so a mismatch is also worth an alert.
    #[default]
    Rfc,
    /// Do not compare (keepalived 2.3.3 and later accept and log).
    Off,
}

/// The local configuration of one virtual router: what received adverts are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    /// The Virtual Router Identifier.
    pub vrid: u8,
    /// The local priority (255 = this router owns the addresses).
    pub priority: u8,
    /// The version with its fields: v2 authentication and interval (both checked on receive),
    /// or the v3 interval (not checked: a backup adopts the master's).
    pub version: VersionRepr,
    /// The configured virtual addresses; their family is the instance's family.
    pub addresses: Addresses,
    /// Multicast or unicast reception.
    pub transport: Transport,
    /// Whether address lists are compared.
    pub address_check: AddressCheck,
    /// The address owner discards every received advert (the RFCs' rule). keepalived does not
    /// enforce it unless `owner_ignore_adverts` / strict mode is set.
    pub owner_ignores_adverts: bool,
}

impl InstanceConfig {
    /// A multicast instance with the RFC defaults: address lists checked, the owner ignores
    /// adverts.
    pub fn new(vrid: u8, priority: u8, version: VersionRepr, addresses: Addresses) -> Self {
        Self {
            vrid,
            priority,
            version,
            addresses,
            transport: Transport::Multicast,
            address_check: AddressCheck::Rfc,
            owner_ignores_adverts: true,
        }
    }

    /// The instance's address family.
    pub fn family(&self) -> Family {
        self.addresses.family()
    }
}
