//! ntpd's access control (`restrict`) and per-client rate limiting (`discard`), applied to every
//! request before [`crate::server::respond`]. Pure: the caller passes the time and the source.
//!
//! # Rules
//!
//! An entry is an address and a mask (`restrict 192.168.1.0 mask 255.255.255.0`, or the CIDR
//! form `192.168.1.0/24`) with a set of [`Flags`]. The most specific entry (longest mask)
//! matching a source decides; entries with the same address and mask merge their flags. The
//! `default` entries (0.0.0.0/0 and ::/0) always exist and start with no flags;
//! `restrict default` sets both, `restrict -4 default` / `restrict -6 default` one family. An
//! address without a mask is a host entry. IPv4-mapped IPv6 sources match the IPv4 rules.
//!
//! # What each flag does here
//!
//! | flag | effect |
//! |---|---|
//! | `ignore` | drop every packet silently |
//! | `noserve` | deny time service (mode 3) |
//! | `noquery` | drop mode 6 / 7 queries |
//! | `nomodify`, `notrap` | accepted and recorded; this server has no run-time configuration or trap service, so nothing more to deny |
//! | `notrust` | deny time service: requests cannot be authenticated (no keys), so none is trusted |
//! | `nopeer` | drop symmetric active packets (they would mobilise an association) |
//! | `version` | deny requests whose version is not 4 |
//! | `limited` | apply the rate limit below |
//! | `kod` | answer a denial with KoD DENY and a rate violation with KoD RATE instead of dropping |
//!
//! # Rate limit
//!
//! ntpd's `discard average A minimum M` headway rule, per client address: every request adds
//! `2^A` s (minus a 2 s grace) to a score that drains at one second per second; a request that
//! arrives less than `M − 1` s after the previous one, or that would push the score to
//! `8 · 2^A`, is limited. A limited request refills the score to the limit and may get a
//! kiss-o'-death; while the score is already past the limit, limited requests are dropped
//! without one, so kisses themselves are rate limited. Defaults: `average 3` (8 s),
//! `minimum 2`. Client state lives in a bounded table ([`RateConfig::max_clients`]): when it is
//! full the least recently seen eighth is evicted.
//!
//! ```
//! use core::time::Duration;
//! use lvs_core::Instant;
//! use lvs_ntp::restrict::{Restrictions, Verdict, RateConfig};
//! use lvs_ntp::testing::CLIENT_REQUEST;
//! use lvs_ntp::wire::KissCode;
//!
//! let mut r = Restrictions::new(RateConfig::default());
//! r.apply_line("default kod limited nomodify notrap nopeer noquery").unwrap();
//! r.apply_line("127.0.0.1").unwrap();
//! r.apply_line("192.168.1.0 mask 255.255.255.0 nomodify notrap").unwrap();
//! r.apply_line("-6 default ignore").unwrap();
//!
//! let lan = "192.168.1.9:123".parse().unwrap();
//! let wan = "203.0.113.5:123".parse().unwrap();
//! let v6 = "[2001:db8::1]:123".parse().unwrap();
//! let t = Instant::ZERO;
//! assert_eq!(r.check(t, lan, &CLIENT_REQUEST), Verdict::Serve);
//! assert_eq!(r.check(t, wan, &CLIENT_REQUEST), Verdict::Serve);
//! // A second request from the internet 100 ms later breaks `minimum 2`: KoD RATE.
//! let soon = t + Duration::from_millis(100);
//! assert_eq!(r.check(soon, wan, &CLIENT_REQUEST), Verdict::Kiss(KissCode::Rate));
//! assert!(matches!(r.check(t, v6, &CLIENT_REQUEST), Verdict::Drop(_)));
//! ```

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;
use std::collections::BTreeMap;

use lvs_core::Instant;

use crate::server::DropReason;
use crate::time::NtpShort;
use crate::wire::{KissCode, LeapIndicator, Mode, NtpPacket, NtpRepr, Refid};

/// A set of restrict flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u16);

impl Flags {
    /// No restriction.
    pub const NONE: Self = Self(0);
    /// Drop everything.
    pub const IGNORE: Self = Self(1);
    /// Deny time service.
    pub const NOSERVE: Self = Self(1 << 1);
    /// Deny run-time modification.
    pub const NOMODIFY: Self = Self(1 << 2);
    /// Deny mode 6 / 7 queries.
    pub const NOQUERY: Self = Self(1 << 3);
    /// Deny trap service.
    pub const NOTRAP: Self = Self(1 << 4);
    /// Deny unauthenticated time service.
    pub const NOTRUST: Self = Self(1 << 5);
    /// Deny packets that would mobilise an association.
    pub const NOPEER: Self = Self(1 << 6);
    /// Apply the rate limit.
    pub const LIMITED: Self = Self(1 << 7);
    /// Answer violations with a kiss-o'-death.
    pub const KOD: Self = Self(1 << 8);
    /// Deny versions other than 4.
    pub const VERSION: Self = Self(1 << 9);

    const NAMES: [(&'static str, Self); 10] = [
        ("ignore", Self::IGNORE),
        ("noserve", Self::NOSERVE),
        ("nomodify", Self::NOMODIFY),
        ("noquery", Self::NOQUERY),
        ("notrap", Self::NOTRAP),
        ("notrust", Self::NOTRUST),
        ("nopeer", Self::NOPEER),
        ("limited", Self::LIMITED),
        ("kod", Self::KOD),
        ("version", Self::VERSION),
    ];

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The flag named by an ntp.conf keyword.
    pub fn from_keyword(word: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == word)
            .map(|&(_, f)| f)
    }

    /// The keywords of the flags set, in ntpd's order.
    pub fn keywords(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .iter()
            .filter(move |(_, f)| self.contains(*f))
            .map(|&(n, _)| n)
    }
}

/// An address and prefix length: the key of a restrict entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// The network of `addr` with `prefix` significant bits (host bits are cleared), or `None`
    /// if the prefix is longer than the address.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let addr = canonical(addr);
        let bits = bits_of(addr);
        if prefix > bits {
            return None;
        }
        let addr = match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(prefix))),
        };
        Some(Self { addr, prefix })
    }

    /// The network address.
    pub const fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub const fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` (already canonical) lies inside.
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => u32::from(a) & mask32(self.prefix) == u32::from(n),
            (IpAddr::V6(n), IpAddr::V6(a)) => u128::from(a) & mask128(self.prefix) == u128::from(n),
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

const fn bits_of(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// A `restrict` or `discard` line that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestrictError {
    /// No address given.
    #[error("missing address")]
    MissingAddress,
    /// The address does not parse.
    #[error("invalid address '{0}'")]
    BadAddress(String),
    /// The mask does not parse, is not contiguous, or is of the other family.
    #[error("invalid mask '{0}'")]
    BadMask(String),
    /// An unknown flag keyword.
    #[error("unknown restrict flag '{0}'")]
    UnknownFlag(String),
    /// `-4` with an IPv6 address or `-6` with an IPv4 one.
    #[error("address family does not match -4/-6")]
    FamilyMismatch,
    /// A `discard` keyword or value that is not understood.
    #[error("invalid discard option '{0}'")]
    BadDiscard(String),
}

/// The rate limit parameters (`discard average A minimum M`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateConfig {
    /// Average headway exponent: one request per `2^average` seconds on average (ntpd: 3).
    pub average: u8,
    /// Minimum spacing of two requests, seconds (ntpd: 2).
    pub minimum: u8,
    /// Most clients tracked at once.
    pub max_clients: usize,
}

impl Default for RateConfig {
    fn default() -> Self {
        Self {
            average: 3,
            minimum: 2,
            max_clients: 4096,
        }
    }
}

impl RateConfig {
    /// Applies the arguments of a `discard` line (`average 3 minimum 2`; ntpd's `monitor`
    /// option is accepted and ignored).
    pub fn apply_discard(&mut self, args: &[&str]) -> Result<(), RestrictError> {
        let mut it = args.iter();
        while let Some(&key) = it.next() {
            let bad = || RestrictError::BadDiscard(key.to_owned());
            let value: u32 = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
            match key {
                "average" if value <= 16 => self.average = value as u8,
                "minimum" if (1..=255).contains(&value) => self.minimum = value as u8,
                "monitor" => {}
                _ => return Err(bad()),
            }
        }
        Ok(())
    }
}

/// Why a request was not answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Deny {
    /// `ignore`.
    Ignored,
    /// `noserve`, `notrust` or `version` denied time service.
    NoServe,
    /// `noquery` dropped a mode 6 / 7 query.
    NoQuery,
    /// `nopeer` dropped a symmetric active packet.
    NoPeer,
    /// `limited`: over the rate.
    RateLimited,
    /// A kiss-o'-death was due but the client already got one recently.
    KissSuppressed,
}

/// What to do with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Answer normally (with [`crate::server::respond`]).
    Serve,
    /// Answer with this kiss-o'-death ([`kiss_reply`]).
    Kiss(KissCode),
    /// Drop silently.
    Drop(Deny),
}

/// Counters of verdicts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestrictStats {
    /// Requests allowed.
    pub served: u64,
    /// Kisses of death decided.
    pub kisses: u64,
    /// Dropped by `ignore`.
    pub ignored: u64,
    /// Time service denied.
    pub denied: u64,
    /// Queries or peer packets dropped.
    pub dropped_mode: u64,
    /// Requests over the rate limit (kissed or not).
    pub rate_limited: u64,
    /// Clients evicted from a full table.
    pub evicted: u64,
}

#[derive(Clone, Copy, Debug)]
struct ClientSlot {
    last: Instant,
    /// Headway score in nanoseconds.
    score: u64,
}

/// The restrict list plus the per-client rate state.
#[derive(Clone, Debug)]
pub struct Restrictions {
    /// Sorted by prefix length, longest first.
    entries: Vec<(Net, Flags)>,
    rate: RateConfig,
    clients: BTreeMap<IpAddr, ClientSlot>,
    stats: RestrictStats,
}

const SEC: u64 = 1_000_000_000;

impl Restrictions {
    /// The two `default` entries with no flags: everything is served.
    pub fn new(rate: RateConfig) -> Self {
        let mut r = Self {
            entries: Vec::new(),
            rate,
            clients: BTreeMap::new(),
            stats: RestrictStats::default(),
        };
        for ip in [
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ] {
            if let Some(net) = Net::new(ip, 0) {
                r.add(net, Flags::NONE);
            }
        }
        r
    }

    /// Adds an entry, merging the flags of an existing entry for the same network.
    pub fn add(&mut self, net: Net, flags: Flags) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.0 == net) {
            e.1 = e.1.union(flags);
            return;
        }
        let at = self
            .entries
            .iter()
            .position(|e| e.0.prefix < net.prefix)
            .unwrap_or(self.entries.len());
        self.entries.insert(at, (net, flags));
    }

    /// Parses and adds the arguments of one `restrict` line (everything after the keyword).
    pub fn apply_line(&mut self, line: &str) -> Result<(), RestrictError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (net, flags) in parse_restrict(&words)? {
            self.add(net, flags);
        }
        Ok(())
    }

    /// The entries, most specific first.
    pub fn entries(&self) -> &[(Net, Flags)] {
        &self.entries
    }

    /// The flags that apply to `ip`: those of the most specific matching entry.
    pub fn lookup(&self, ip: IpAddr) -> Flags {
        let ip = canonical(ip);
        self.entries
            .iter()
            .find(|(n, _)| n.contains(ip))
            .map_or(Flags::NONE, |e| e.1)
    }

    /// The rate parameters.
    pub const fn rate(&self) -> RateConfig {
        self.rate
    }

    /// Counters so far.
    pub const fn stats(&self) -> RestrictStats {
        self.stats
    }

    /// Clients in the rate table.
    pub fn tracked_clients(&self) -> usize {
        self.clients.len()
    }

    /// Decides what to do with `request` from `src` at `now`.
    pub fn check(&mut self, now: Instant, src: SocketAddr, request: &[u8]) -> Verdict {
        let flags = self.lookup(src.ip());
        let verdict = self.decide(now, canonical(src.ip()), flags, request);
        let s = &mut self.stats;
        match verdict {
            Verdict::Serve => s.served += 1,
            Verdict::Kiss(_) => s.kisses += 1,
            Verdict::Drop(Deny::Ignored) => s.ignored += 1,
            Verdict::Drop(Deny::NoServe) => s.denied += 1,
            Verdict::Drop(Deny::NoQuery | Deny::NoPeer) => s.dropped_mode += 1,
            Verdict::Drop(Deny::RateLimited | Deny::KissSuppressed) => {}
        }
        verdict
    }

    fn decide(&mut self, now: Instant, ip: IpAddr, flags: Flags, request: &[u8]) -> Verdict {
        if flags.contains(Flags::IGNORE) {
            return Verdict::Drop(Deny::Ignored);
        }
        // Malformed packets pass: the responder drops and counts them.
        let Some(&first) = request.first() else {
            return Verdict::Serve;
        };
        let version = (first >> 3) & 7;
        let denied = match Mode::from_bits(first) {
            Mode::Control | Mode::Private if flags.contains(Flags::NOQUERY) => {
                return Verdict::Drop(Deny::NoQuery);
            }
            Mode::SymmetricActive if flags.contains(Flags::NOPEER) => {
                return Verdict::Drop(Deny::NoPeer);
            }
            Mode::Client => {
                flags.contains(Flags::NOSERVE)
                    || flags.contains(Flags::NOTRUST)
                    || (flags.contains(Flags::VERSION) && version != 4)
            }
            _ => false,
        };
        let tracked = flags.contains(Flags::LIMITED) || flags.contains(Flags::KOD);
        let over = if tracked { self.account(now, ip) } else { None };
        let limited = over.is_some_and(|_| flags.contains(Flags::LIMITED));
        if limited {
            self.stats.rate_limited += 1;
        }
        if !denied && !limited {
            return Verdict::Serve;
        }
        let why = if denied {
            Deny::NoServe
        } else {
            Deny::RateLimited
        };
        if !flags.contains(Flags::KOD) {
            return Verdict::Drop(why);
        }
        // A kiss is itself rate limited: only when this request freshly crossed the limit
        // (or, for a denial, when the client is within its rate).
        match (over, denied) {
            (Some(Over::Fresh) | None, true) => Verdict::Kiss(KissCode::Deny),
            (Some(Over::Fresh), false) => Verdict::Kiss(KissCode::Rate),
            _ => Verdict::Drop(Deny::KissSuppressed),
        }
    }

    /// Updates the client's headway score; `Some` if this request is over the rate.
    fn account(&mut self, now: Instant, ip: IpAddr) -> Option<Over> {
        let head = SEC << self.rate.average;
        let limit = 8 * head;
        if !self.clients.contains_key(&ip) {
            self.make_room();
            self.clients.insert(
                ip,
                ClientSlot {
                    last: now,
                    score: head.saturating_sub(2 * SEC),
                },
            );
            return None;
        }
        let slot = self.clients.get_mut(&ip)?;
        let gap = now.saturating_duration_since(slot.last);
        slot.last = now;
        let gap_ns = u64::try_from(gap.as_nanos()).unwrap_or(u64::MAX);
        slot.score = slot.score.saturating_sub(gap_ns);
        let spaced = gap + Duration::from_secs(1) >= Duration::from_secs(self.rate.minimum.into());
        if spaced && slot.score + head < limit {
            slot.score += head.saturating_sub(2 * SEC);
            None
        } else if slot.score < limit {
            slot.score = limit + head;
            Some(Over::Fresh)
        } else {
            Some(Over::Again)
        }
    }

    fn make_room(&mut self) {
        let cap = self.rate.max_clients.max(1);
        if self.clients.len() < cap {
            return;
        }
        let mut ages: Vec<Instant> = self.clients.values().map(|s| s.last).collect();
        let k = (cap / 8).max(1).min(ages.len()) - 1;
        let (_, &mut cutoff, _) = ages.select_nth_unstable(k);
        let before = self.clients.len();
        self.clients.retain(|_, s| s.last > cutoff);
        self.stats.evicted += (before - self.clients.len()) as u64;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Over {
    /// This request crossed the limit: a kiss may be sent.
    Fresh,
    /// Still over from before: drop without a kiss.
    Again,
}

/// Parses the arguments of a `restrict` line: `[-4|-6] default|ADDR[/LEN] [mask MASK] FLAG...`.
/// `default` without a family yields both default entries.
pub fn parse_restrict(words: &[&str]) -> Result<Vec<(Net, Flags)>, RestrictError> {
    let mut words = words;
    let mut family = None;
    if let Some(&f @ ("-4" | "-6")) = words.first() {
        family = Some(f == "-4");
        words = &words[1..];
    }
    let (&target, mut rest) = words.split_first().ok_or(RestrictError::MissingAddress)?;
    let mut nets = Vec::with_capacity(2);
    if target == "default" {
        if family != Some(false) {
            nets.extend(Net::new(Ipv4Addr::UNSPECIFIED.into(), 0));
        }
        if family != Some(true) {
            nets.extend(Net::new(Ipv6Addr::UNSPECIFIED.into(), 0));
        }
    } else {
        let (addr_text, len_text) = match target.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (target, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| RestrictError::BadAddress(target.to_owned()))?;
        if family.is_some_and(|v4| v4 != addr.is_ipv4()) {
            return Err(RestrictError::FamilyMismatch);
        }
        let mut prefix = match len_text {
            Some(l) => Some(
                l.parse::<u8>()
                    .map_err(|_| RestrictError::BadMask(l.to_owned()))?,
            ),
            None => None,
        };
        if let [kw, mask, tail @ ..] = rest
            && *kw == "mask"
        {
            if prefix.is_some() {
                return Err(RestrictError::BadMask((*mask).to_owned()));
            }
            prefix = Some(mask_prefix(addr, mask)?);
            rest = tail;
        }
        let prefix = prefix.unwrap_or(bits_of(addr));
        // An IPv4-mapped entry is an IPv4 entry with the prefix counted in IPv4 bits.
        let (addr, prefix) = match canonical(addr) {
            v4 @ IpAddr::V4(_) if addr.is_ipv6() => (v4, prefix.saturating_sub(96)),
            _ => (addr, prefix),
        };
        let net =
            Net::new(addr, prefix).ok_or_else(|| RestrictError::BadMask(prefix.to_string()))?;
        nets.push(net);
    }
    let mut flags = Flags::NONE;
    for w in rest {
        let f =
            Flags::from_keyword(w).ok_or_else(|| RestrictError::UnknownFlag((*w).to_owned()))?;
        flags = flags.union(f);
    }
    Ok(nets.into_iter().map(|n| (n, flags)).collect())
}

/// The prefix length of a contiguous dotted mask of `addr`'s family.
fn mask_prefix(addr: IpAddr, mask: &str) -> Result<u8, RestrictError> {
    let bad = || RestrictError::BadMask(mask.to_owned());
    let m: IpAddr = mask.parse().map_err(|_| bad())?;
    let (ones, zeros) = match (addr, m) {
        (IpAddr::V4(_), IpAddr::V4(m)) => {
            let v = u32::from(m);
            (
                v.leading_ones(),
                v.trailing_zeros().min(32 - v.leading_ones()),
            )
        }
        (IpAddr::V6(_), IpAddr::V6(m)) => {
            let v = u128::from(m);
            (
                v.leading_ones(),
                v.trailing_zeros().min(128 - v.leading_ones()),
            )
        }
        _ => return Err(bad()),
    };
    if ones + zeros != u32::from(bits_of(addr)) {
        return Err(bad());
    }
    u8::try_from(ones).map_err(|_| bad())
}

/// Writes a kiss-o'-death answering a client `request` into `out`: leap indicator 3, stratum 0,
/// the code as refid, the request's transmit timestamp echoed as origin (so the client can
/// match it) and also in the receive and transmit fields (a kiss tells no time, as ntpd does).
pub fn kiss_reply(
    request: &[u8],
    code: KissCode,
    precision: i8,
    out: &mut [u8],
) -> Result<usize, DropReason> {
    let packet = NtpPacket::new_checked(request).map_err(|_| DropReason::Truncated)?;
    let version = packet.version();
    if !(1..=4).contains(&version) {
        return Err(DropReason::Version(version));
    }
    if packet.mode() != Mode::Client {
        return Err(DropReason::Mode(packet.mode()));
    }
    let xmt = packet.transmit_timestamp();
    let reply = NtpRepr {
        leap: LeapIndicator::Unsynchronized,
        version,
        mode: Mode::Server,
        stratum: 0,
        poll: packet.poll(),
        precision,
        root_delay: NtpShort::ZERO,
        root_dispersion: NtpShort::ZERO,
        refid: Refid::from_bytes(code.to_bytes()),
        reference: crate::time::NtpTimestamp::ZERO,
        origin: xmt,
        receive: xmt,
        transmit: xmt,
    };
    reply.emit_into(out).map_err(|_| DropReason::BufferTooSmall)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Net {
        parse_restrict(&[s]).unwrap()[0].0
    }

    #[test]
    fn masks_and_prefixes() {
        assert_eq!(
            mask_prefix("10.0.0.0".parse().unwrap(), "255.255.255.0"),
            Ok(24)
        );
        assert_eq!(mask_prefix("10.0.0.0".parse().unwrap(), "0.0.0.0"), Ok(0));
        assert_eq!(
            mask_prefix("10.0.0.0".parse().unwrap(), "255.255.255.255"),
            Ok(32)
        );
        assert!(mask_prefix("10.0.0.0".parse().unwrap(), "255.0.255.0").is_err());
        assert!(mask_prefix("10.0.0.0".parse().unwrap(), "ffff::").is_err());
        assert_eq!(net("10.1.2.3/8").addr(), IpAddr::from([10, 0, 0, 0]));
        assert_eq!(net("::ffff:10.1.2.3").prefix(), 32);
        assert!(Net::new(Ipv4Addr::LOCALHOST.into(), 33).is_none());
        assert_eq!(mask32(0), 0);
        assert_eq!(mask128(128), u128::MAX);
    }

    #[test]
    fn rate_score_drains() {
        let mut r = Restrictions::new(RateConfig::default());
        r.apply_line("default limited").unwrap();
        let src: SocketAddr = "198.51.100.1:123".parse().unwrap();
        // Polling every 8 s (the average) is never limited.
        for k in 0..100u64 {
            let t = Instant::from_secs(8 * k);
            assert_eq!(
                r.check(t, src, &crate::testing::CLIENT_REQUEST),
                Verdict::Serve,
                "{k}"
            );
        }
        assert_eq!(r.stats().rate_limited, 0);
    }
}
