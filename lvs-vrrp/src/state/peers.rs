//! The peer table: the last advert heard from each peer, and configuration drift detection.
//!
//! Every advert that is well-formed, carries our VRID and verifies under some checksum variant
//! is recorded, **including** adverts the receive checks drop for a configuration mismatch
//! (address list, v2 interval, v2 authentication, checksum variant, version). Those are the
//! differences that make keepalived 2.2.7 drop adverts silently and both routers go master; here
//! each one raises an [`Event::Drift`] the first time a peer shows it.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::time::Duration;
use std::collections::VecDeque;

use lvs_core::Instant;

use super::timing::{v2_interval, v3_interval};
use super::types::{Drift, Event};
use crate::config::InstanceConfig;
use crate::wire::{Auth, ChecksumVariant, Family, VersionRepr, VrrpPacket};

/// What we know about one peer from its last advert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its (source) address.
    pub addr: IpAddr,
    /// The VRRP version of its last advert.
    pub version: u8,
    /// The priority of its last advert.
    pub priority: u8,
    /// The interval of its last advert.
    pub interval: Duration,
    /// Version 2: its authentication type.
    pub auth_type: Option<u8>,
    /// The checksum variant its last advert verified under.
    pub checksum: Option<ChecksumVariant>,
    /// When its first advert arrived.
    pub first_seen: Instant,
    /// When its last advert arrived.
    pub last_seen: Instant,
    /// How many adverts it sent that were recorded.
    pub adverts: u64,
    /// Whether its last advert passed every receive check.
    pub accepted: bool,
    family: Family,
    addr_bytes: Vec<u8>,
    /// [`Drift::bit`]s reported and not yet resolved.
    reported: u8,
}

impl Peer {
    /// The virtual addresses of its last advert.
    pub fn addresses(&self) -> Vec<IpAddr> {
        addresses(self.family, &self.addr_bytes)
    }

    /// Whether any drift is currently flagged for this peer.
    pub fn drifting(&self) -> bool {
        self.reported != 0
    }
}

fn addresses(family: Family, bytes: &[u8]) -> Vec<IpAddr> {
    match family {
        Family::V4 => bytes
            .chunks_exact(4)
            .map(|c| IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])))
            .collect(),
        Family::V6 => bytes
            .chunks_exact(16)
            .map(|c| {
                let mut a = [0; 16];
                a.copy_from_slice(c);
                IpAddr::V6(Ipv6Addr::from(a))
            })
            .collect(),
    }
}

/// A bounded table of peers, least recently heard evicted first.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerTable {
    peers: Vec<Peer>,
    capacity: usize,
    /// The index of the peer heard last (usually the master): tried before the scan.
    last: usize,
}

impl PeerTable {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            peers: Vec::new(),
            capacity: capacity.max(1),
            last: 0,
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Peer> {
        self.peers.iter()
    }

    pub(crate) fn get(&self, addr: IpAddr) -> Option<&Peer> {
        self.peers.iter().find(|p| p.addr == addr)
    }

    /// Record an advert from `src` and report drift. Allocates only for a new peer or a
    /// changed address list.
    pub(crate) fn observe(
        &mut self,
        obs: &Observation<'_, '_>,
        config: &InstanceConfig,
        send_variant: ChecksumVariant,
        events: &mut VecDeque<Event>,
    ) {
        let packet = obs.packet;
        let hint = self
            .peers
            .get(self.last)
            .is_some_and(|p| p.addr == obs.src)
            .then_some(self.last);
        let idx = match hint.or_else(|| self.peers.iter().position(|p| p.addr == obs.src)) {
            Some(i) => i,
            None => {
                if self.peers.len() >= self.capacity
                    && let Some(oldest) =
                        (0..self.peers.len()).min_by_key(|&i| self.peers[i].last_seen)
                {
                    self.peers.swap_remove(oldest);
                }
                self.peers.push(Peer {
                    addr: obs.src,
                    version: 0,
                    priority: 0,
                    interval: Duration::ZERO,
                    auth_type: None,
                    checksum: None,
                    first_seen: obs.now,
                    last_seen: obs.now,
                    adverts: 0,
                    accepted: false,
                    family: packet.family(),
                    addr_bytes: Vec::new(),
                    reported: 0,
                });
                self.peers.len() - 1
            }
        };
        self.last = idx;
        let peer = &mut self.peers[idx];
        peer.version = packet.version();
        peer.priority = packet.priority();
        peer.interval = match packet.adver_int() {
            Some(secs) => v2_interval(secs),
            None => v3_interval(packet.max_adver_int()),
        };
        peer.auth_type = packet.auth_type();
        peer.checksum = obs.checksum;
        peer.last_seen = obs.now;
        peer.adverts = peer.adverts.saturating_add(1);
        peer.accepted = obs.accepted;
        if peer.addr_bytes != packet.addr_bytes() {
            peer.addr_bytes = packet.addr_bytes().to_vec();
        }
        let present = drift_bits(obs, config, send_variant);
        let new = present & !peer.reported;
        peer.reported = present;
        if new != 0 {
            for d in drifts(new, packet, obs.checksum, config, send_variant) {
                events.push_back(Event::Drift {
                    peer: obs.src,
                    drift: d,
                });
            }
        }
    }
}

/// One advert to record.
pub(crate) struct Observation<'p, 'b> {
    pub(crate) now: Instant,
    pub(crate) src: IpAddr,
    pub(crate) packet: &'p VrrpPacket<&'b [u8]>,
    /// The variant the checksum verified under (any variant, for a dropped advert).
    pub(crate) checksum: Option<ChecksumVariant>,
    /// Whether the receive checks refused that variant (policy or latch).
    pub(crate) checksum_rejected: bool,
    /// Whether it passed every receive check.
    pub(crate) accepted: bool,
    /// Whether its address list equals ours, when the receive checks already compared it.
    pub(crate) addresses_match: Option<bool>,
}

/// Whether the version 3 / IPv4 checksum variant matters (the other cases have one variant).
fn ambiguous(packet: &VrrpPacket<&[u8]>) -> bool {
    packet.version() == 3 && packet.family() == Family::V4
}

fn drift_bits(
    obs: &Observation<'_, '_>,
    config: &InstanceConfig,
    send_variant: ChecksumVariant,
) -> u8 {
    let packet = obs.packet;
    let mut bits = 0;
    if packet.version() != config.version.number() {
        return (Drift::Version { theirs: 0 }).bit();
    }
    let addresses_match = obs
        .addresses_match
        .unwrap_or_else(|| config.addresses.same_set_as(packet.addr_bytes()));
    if !addresses_match {
        bits |= (Drift::VipSet { theirs: Vec::new() }).bit();
    }
    if let VersionRepr::V2 { auth, adver_int } = config.version {
        if packet.adver_int() != Some(adver_int) {
            bits |= (Drift::AdverInt { theirs: 0, ours: 0 }).bit();
        }
        let auth_ok = packet.auth_type() == Some(auth.type_byte())
            && match auth {
                Auth::None => true,
                Auth::SimpleText(pw) => packet.auth_data() == Some(pw),
            };
        if !auth_ok {
            bits |= Drift::Auth.bit();
        }
    }
    if ambiguous(packet)
        && (obs.checksum_rejected || obs.checksum.is_some_and(|v| v != send_variant))
    {
        bits |= (Drift::ChecksumVariant {
            theirs: send_variant,
            ours: send_variant,
        })
        .bit();
    }
    bits
}

fn drifts(
    bits: u8,
    packet: &VrrpPacket<&[u8]>,
    checksum: Option<ChecksumVariant>,
    config: &InstanceConfig,
    send_variant: ChecksumVariant,
) -> Vec<Drift> {
    let mut candidates = vec![
        Drift::Version {
            theirs: packet.version(),
        },
        Drift::VipSet {
            theirs: addresses(packet.family(), packet.addr_bytes()),
        },
        Drift::Auth,
    ];
    if let (VersionRepr::V2 { adver_int, .. }, Some(theirs)) = (config.version, packet.adver_int())
    {
        candidates.push(Drift::AdverInt {
            theirs,
            ours: adver_int,
        });
    }
    if let Some(theirs) = checksum {
        candidates.push(Drift::ChecksumVariant {
            theirs,
            ours: send_variant,
        });
    }
    candidates.retain(|d| bits & d.bit() != 0);
    candidates
}
