//! The VRRP checksum in its variants, detection, and the per-peer latch.
//!
//! Version 2 sums the VRRP message only. Version 3 over IPv6 adds the IPv6 pseudo-header
//! (RFC 5798 §5.2.8, RFC 8200 §8.1). Version 3 over IPv4 is ambiguous in RFC 5798 and three
//! readings are deployed (see [`ChecksumVariant`]); RFC 9568 settles on the message only, while
//! keepalived (every version) and FRR default to the IPv4 pseudo-header.

use core::net::IpAddr;

use lvs_core::packet::checksum::{fold, pseudo_header, sum};

use super::{Family, IP_PROTOCOL, MULTICAST_V4, VrrpPacket, field};

/// How a VRRP checksum is computed. For version 2 only [`Self::NoPseudoHeader`] applies, for
/// version 3 over IPv6 only [`Self::PseudoHeader`]; version 3 over IPv4 meets all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumVariant {
    /// The message plus the IP pseudo-header of the packet's real source and destination
    /// (IPv4: src, dst, zero, protocol 112, VRRP length; IPv6: src, dst, length, next header
    /// 112). RFC 5798's reading for IPv4, keepalived's and FRR's default, what tcpdump and
    /// Wireshark verify; the only form for IPv6.
    PseudoHeader,
    /// The VRRP message only, as version 2 does. RFC 9568's rule for version 3 over IPv4
    /// (keepalived `v3_checksum_as_v2`, Cisco, Juniper, holo).
    NoPseudoHeader,
    /// Legacy unicast: the IPv4 pseudo-header with the destination 224.0.0.18 even when the
    /// packet was sent unicast (keepalived up to 1.3.6, and `old_unicast_checksum` today).
    LegacyUnicast,
}

impl ChecksumVariant {
    /// Every variant, in the order detection tries them.
    pub const ALL: [Self; 3] = [
        Self::PseudoHeader,
        Self::NoPseudoHeader,
        Self::LegacyUnicast,
    ];

    /// Whether this variant exists for a message of `version` carried by `family`.
    pub fn applies(self, version: u8, family: Family) -> bool {
        match (version, family) {
            (2, Family::V4) => self == Self::NoPseudoHeader,
            (3, Family::V4) => true,
            (3, Family::V6) => self == Self::PseudoHeader,
            _ => false,
        }
    }

    /// The variant the standards and keepalived agree on for `version` over `family`:
    /// [`Self::NoPseudoHeader`] for version 2, [`Self::PseudoHeader`] for version 3 (over IPv4
    /// this is keepalived's default; RFC 9568 peers need [`Self::NoPseudoHeader`]).
    pub fn default_for(version: u8) -> Self {
        if version == 2 {
            Self::NoPseudoHeader
        } else {
            Self::PseudoHeader
        }
    }
}

/// The accumulator for `variant`'s pseudo-header of a `len`-byte message.
fn pseudo(variant: ChecksumVariant, len: usize, src: IpAddr, dst: IpAddr) -> u64 {
    // A VRRP message is at most 8 + 16 * 255 + 8 bytes; the cast cannot truncate.
    let len = len as u32;
    match variant {
        ChecksumVariant::NoPseudoHeader => 0,
        ChecksumVariant::PseudoHeader => pseudo_header(src, dst, IP_PROTOCOL, len),
        ChecksumVariant::LegacyUnicast => pseudo_header(src, MULTICAST_V4.into(), IP_PROTOCOL, len),
    }
}

/// The checksum of `message` under `variant`, with the checksum field taken as zero.
pub(super) fn compute(variant: ChecksumVariant, message: &[u8], src: IpAddr, dst: IpAddr) -> u16 {
    let acc = pseudo(variant, message.len(), src, dst);
    let (before, rest) = message.split_at(field::CHECKSUM.start.min(message.len()));
    let after = rest.get(field::CHECKSUM.len()..).unwrap_or(&[]);
    !fold(sum(sum(acc, before), after))
}

/// Whether `message` (checksum field included) verifies under `variant`.
pub(super) fn verify(variant: ChecksumVariant, message: &[u8], src: IpAddr, dst: IpAddr) -> bool {
    fold(sum(pseudo(variant, message.len(), src, dst), message)) == 0xffff
}

impl<T: AsRef<[u8]>> VrrpPacket<T> {
    /// The first variant, in [`ChecksumVariant::ALL`] order, under which the checksum of a
    /// packet from `src` to `dst` verifies; `None` if none does.
    pub fn detect_checksum(&self, src: IpAddr, dst: IpAddr) -> Option<ChecksumVariant> {
        ChecksumVariant::ALL
            .into_iter()
            .find(|&v| self.verify_checksum(v, src, dst))
    }
}

/// Which checksum variants a receiver accepts for version 3 over IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumPolicy {
    /// Detect each peer's variant on its first accepted packet and hold it from then on.
    #[default]
    Auto,
    /// Accept only this variant from every peer (the explicit override).
    Fixed(ChecksumVariant),
}

/// How a packet's checksum verified, as [`ChecksumLatch::check`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LatchOutcome {
    /// Version 2, or version 3 over IPv6: the one variant that exists verified.
    Standard(ChecksumVariant),
    /// The override ([`ChecksumPolicy::Fixed`]) verified.
    Fixed(ChecksumVariant),
    /// The variant latched for this peer verified.
    Latched(ChecksumVariant),
    /// A peer with no latch yet: detection found this variant. [`ChecksumLatch::commit`]
    /// latches it once the packet has passed every other check.
    Detected(ChecksumVariant),
}

impl LatchOutcome {
    /// The variant that verified.
    pub fn variant(self) -> ChecksumVariant {
        match self {
            Self::Standard(v) | Self::Fixed(v) | Self::Latched(v) | Self::Detected(v) => v,
        }
    }
}

/// Per-peer memory of the version 3 / IPv4 checksum variant: the first variant that verifies
/// for a source address is latched, and later packets from that source must use it. An
/// explicit override ([`ChecksumPolicy::Fixed`]) replaces detection. Pure and bounded: at most
/// `capacity` peers are remembered; packets from further peers are still verified by detection
/// but not latched.
///
/// ```
/// use lvs_vrrp::wire::{ChecksumLatch, ChecksumPolicy, ChecksumVariant, Family, VrrpPacket};
///
/// let bytes = [0x31, 0x33, 0x96, 0x01, 0x00, 0x0a, 0x43, 0xbb, 10, 9, 0, 100];
/// let packet = VrrpPacket::new_checked(&bytes[..], Family::V4).unwrap();
/// let (src, dst) = ("10.9.0.1".parse().unwrap(), "224.0.0.18".parse().unwrap());
/// let mut latch = ChecksumLatch::new(ChecksumPolicy::Auto, 8);
/// let outcome = latch.check(&packet, src, dst).unwrap();
/// latch.commit(src, outcome);
/// assert_eq!(latch.latched(src), Some(ChecksumVariant::PseudoHeader));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumLatch {
    policy: ChecksumPolicy,
    capacity: usize,
    peers: Vec<(IpAddr, ChecksumVariant)>,
}

impl ChecksumLatch {
    /// A latch with `policy` that remembers at most `capacity` peers.
    pub fn new(policy: ChecksumPolicy, capacity: usize) -> Self {
        Self {
            policy,
            capacity,
            peers: Vec::new(),
        }
    }

    /// The current policy.
    pub fn policy(&self) -> ChecksumPolicy {
        self.policy
    }

    /// Replace the policy (the explicit override). Latched peers are kept and apply again when
    /// the policy returns to [`ChecksumPolicy::Auto`].
    pub fn set_policy(&mut self, policy: ChecksumPolicy) {
        self.policy = policy;
    }

    /// The variant latched for `src`, if any.
    pub fn latched(&self, src: IpAddr) -> Option<ChecksumVariant> {
        self.peers.iter().find(|(a, _)| *a == src).map(|&(_, v)| v)
    }

    /// The number of latched peers.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no peer is latched.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// Latch `src` to `variant` explicitly (replacing any latch), if there is room or `src` is
    /// already known. Returns whether `src` is now latched to `variant`.
    pub fn latch(&mut self, src: IpAddr, variant: ChecksumVariant) -> bool {
        if let Some(entry) = self.peers.iter_mut().find(|(a, _)| *a == src) {
            entry.1 = variant;
            return true;
        }
        if self.peers.len() >= self.capacity {
            return false;
        }
        self.peers.push((src, variant));
        true
    }

    /// Forget `src` (for example after the peer was reconfigured); returns whether it was known.
    pub fn forget(&mut self, src: IpAddr) -> bool {
        let before = self.peers.len();
        self.peers.retain(|(a, _)| *a != src);
        self.peers.len() != before
    }

    /// Verify the checksum of `packet` from `src` to `dst` under the policy and the latch,
    /// without changing the latch. `None` when it does not verify.
    pub fn check<T: AsRef<[u8]>>(
        &self,
        packet: &VrrpPacket<T>,
        src: IpAddr,
        dst: IpAddr,
    ) -> Option<LatchOutcome> {
        let ambiguous = packet.version() == 3 && packet.family() == Family::V4;
        if !ambiguous {
            let v = ChecksumVariant::default_for(packet.version());
            return packet
                .verify_checksum(v, src, dst)
                .then_some(LatchOutcome::Standard(v));
        }
        if let ChecksumPolicy::Fixed(v) = self.policy {
            return packet
                .verify_checksum(v, src, dst)
                .then_some(LatchOutcome::Fixed(v));
        }
        match self.latched(src) {
            Some(v) => packet
                .verify_checksum(v, src, dst)
                .then_some(LatchOutcome::Latched(v)),
            None => packet.detect_checksum(src, dst).map(LatchOutcome::Detected),
        }
    }

    /// Latch the variant of a [`LatchOutcome::Detected`] packet that passed every check. Other
    /// outcomes change nothing. Returns whether a new latch was made.
    pub fn commit(&mut self, src: IpAddr, outcome: LatchOutcome) -> bool {
        match outcome {
            LatchOutcome::Detected(v) if self.latched(src).is_none() => self.latch(src, v),
            _ => false,
        }
    }
}
