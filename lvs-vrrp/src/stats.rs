//! Why received adverts are dropped, and the counters.

use core::ops::Index;

/// Why a received advert was dropped, one reason per receive check (RFC 3768 / RFC 5798 /
/// RFC 9568 §7.1 and keepalived's extra checks), in the order [`crate::validate::validate`]
/// applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DropReason {
    /// The IP source or destination is not of the instance's address family.
    Family,
    /// TTL / hop limit not 255 (multicast), or outside the configured unicast range.
    Ttl,
    /// A unicast packet on a multicast instance, or a multicast packet on a unicast one.
    Destination,
    /// Unicast mode with source checking: the source is not a configured peer.
    UnknownPeer,
    /// Shorter than the header, the announced addresses or the v2 authentication data.
    Truncated,
    /// Version not 2 or 3, or not the configured version (including v2 over IPv6).
    Version,
    /// Type not ADVERTISEMENT (1).
    Type,
    /// Bytes after the message: the length does not match the address count (for example a
    /// 36-byte CARP packet).
    Length,
    /// The checksum does not verify (under the latched or overriding variant, if any).
    Checksum,
    /// The VRID is not the instance's.
    UnknownVrid,
    /// This router owns the addresses (priority 255) and ignores adverts.
    LocalOwner,
    /// Version 2: the authentication type differs from the configured one.
    AuthType,
    /// Version 2 simple text: the password differs.
    AuthData,
    /// Version 2: the advertisement interval differs from the configured one.
    AdverInt,
    /// Version 3: a Max Adver Int of 0, which would make every timer degenerate.
    ZeroInterval,
    /// The address list differs from the configured one and the sender is not the owner.
    AddressList,
}

impl DropReason {
    /// The number of reasons.
    pub const COUNT: usize = 16;

    /// Every reason, in check order; `ALL[r.index()] == r`.
    pub const ALL: [Self; Self::COUNT] = [
        Self::Family,
        Self::Ttl,
        Self::Destination,
        Self::UnknownPeer,
        Self::Truncated,
        Self::Version,
        Self::Type,
        Self::Length,
        Self::Checksum,
        Self::UnknownVrid,
        Self::LocalOwner,
        Self::AuthType,
        Self::AuthData,
        Self::AdverInt,
        Self::ZeroInterval,
        Self::AddressList,
    ];

    /// The position of this reason in [`Self::ALL`] and in [`RxStats`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// A stable snake_case name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Family => "family",
            Self::Ttl => "ttl",
            Self::Destination => "destination",
            Self::UnknownPeer => "unknown_peer",
            Self::Truncated => "truncated",
            Self::Version => "version",
            Self::Type => "type",
            Self::Length => "length",
            Self::Checksum => "checksum",
            Self::UnknownVrid => "unknown_vrid",
            Self::LocalOwner => "local_owner",
            Self::AuthType => "auth_type",
            Self::AuthData => "auth_data",
            Self::AdverInt => "adver_int",
            Self::ZeroInterval => "zero_interval",
            Self::AddressList => "address_list",
        }
    }
}

impl core::fmt::Display for DropReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Receive counters: accepted adverts and one counter per [`DropReason`], indexable by the
/// reason.
///
/// ```
/// use lvs_vrrp::stats::{DropReason, RxStats};
/// let mut stats = RxStats::default();
/// stats.record(&Err::<(), _>(DropReason::Ttl));
/// stats.accept();
/// assert_eq!((stats[DropReason::Ttl], stats.accepted(), stats.dropped()), (1, 1, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RxStats {
    accepted: u64,
    dropped: [u64; DropReason::COUNT],
}

impl RxStats {
    /// Count one outcome of [`crate::validate::validate`].
    pub fn record<T>(&mut self, outcome: &Result<T, DropReason>) {
        match outcome {
            Ok(_) => self.accept(),
            Err(reason) => self.reject(*reason),
        }
    }

    /// Count one accepted advert.
    pub fn accept(&mut self) {
        self.accepted = self.accepted.saturating_add(1);
    }

    /// Count one advert dropped for `reason`.
    pub fn reject(&mut self, reason: DropReason) {
        let n = &mut self.dropped[reason.index()];
        *n = n.saturating_add(1);
    }

    /// Adverts that passed every check.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Adverts dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.dropped.iter().fold(0, |a, &n| a.saturating_add(n))
    }

    /// Every reason with its count, in check order.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .into_iter()
            .zip(self.dropped.iter().copied())
    }
}

impl Index<DropReason> for RxStats {
    type Output = u64;

    fn index(&self, reason: DropReason) -> &u64 {
        &self.dropped[reason.index()]
    }
}
