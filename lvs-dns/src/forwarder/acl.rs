//! Access control with BIND's address-match-list semantics, and response-rate limiting.
//!
//! # Match lists
//!
//! A [`MatchList`] is a sequence of [`MatchElement`]s evaluated in order; the **first element
//! that matches** decides. A plain element that matches allows, a negated one (`!10.0.0.0/8`)
//! denies. A nested list or a named ACL matches when its own evaluation reaches a decision,
//! and that decision is the element's result (inverted when the element is negated). No match
//! at all denies. Named ACLs are resolved through [`Acls`]; references are checked when the
//! forwarder is built (unknown names and cycles are configuration errors).
//!
//! # Rate limiting
//!
//! [`Rrl`] is BIND-style response-rate limiting per client prefix (/24 for IPv4, /56 for IPv6
//! by default): a token bucket of `responses_per_second` with a burst, and every `slip`-th
//! limited response is sent truncated (TC=1, no records) instead of dropped, so a real client
//! behind a spoofed flood can still retry over TCP.

use core::net::IpAddr;
use core::time::Duration;
use std::collections::HashMap;

use lvs_core::Instant;

use crate::cache::KeyedHash;

/// How deep named ACLs and nested lists may go.
pub const MAX_ACL_DEPTH: usize = 8;

/// An address prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    /// The network address (host bits are ignored).
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
}

impl Prefix {
    /// A prefix; `len` is clamped to the family's width.
    pub fn new(addr: IpAddr, len: u8) -> Self {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        Self {
            addr,
            len: len.min(max),
        }
    }

    /// A single host.
    pub fn host(addr: IpAddr) -> Self {
        Self::new(addr, 128)
    }

    /// Whether `ip` is inside the prefix (IPv4-mapped IPv6 addresses match IPv4 prefixes).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => mask_eq(
                u128::from(u32::from(net)),
                u128::from(u32::from(a)),
                32,
                self.len,
            ),
            (IpAddr::V6(net), IpAddr::V6(a)) => mask_eq(net.into(), a.into(), 128, self.len),
            _ => false,
        }
    }
}

fn mask_eq(a: u128, b: u128, width: u32, len: u8) -> bool {
    let len = u32::from(len).min(width);
    if len == 0 {
        return true;
    }
    let shift = width - len;
    (a >> shift) == (b >> shift)
}

/// One element of a match list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatchElement {
    /// Every address (`any`).
    Any,
    /// An address prefix.
    Prefix(Prefix),
    /// A named ACL (`acl "name" { ... }`).
    Acl(String),
    /// A nested list (`{ ...; }`).
    List(MatchList),
    /// The negation of an element (`!element`).
    Not(Box<Self>),
}

/// An address match list (see the [module docs](self)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchList(pub Vec<MatchElement>);

impl MatchList {
    /// `{ any; }`.
    pub fn any() -> Self {
        Self(vec![MatchElement::Any])
    }

    /// `{ none; }` (an empty list: nothing matches).
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// A list of plain prefixes.
    pub fn prefixes(prefixes: impl IntoIterator<Item = Prefix>) -> Self {
        Self(prefixes.into_iter().map(MatchElement::Prefix).collect())
    }

    /// BIND's `localhost`, approximated as the loopback networks.
    pub fn localhost() -> Self {
        Self::prefixes([
            Prefix::new([127, 0, 0, 0].into(), 8),
            Prefix::host(core::net::Ipv6Addr::LOCALHOST.into()),
        ])
    }

    /// Loopback plus the private networks (RFC 1918, RFC 4193): our stand-in for BIND's
    /// `localhost; localnets;` default, which needs interface addresses a machine does not see.
    pub fn local_default() -> Self {
        let mut l = Self::localhost();
        for (a, n) in [
            (IpAddr::from([10, 0, 0, 0]), 8),
            ([172, 16, 0, 0].into(), 12),
            ([192, 168, 0, 0].into(), 16),
            (
                [0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0].into(),
                7,
            ),
        ] {
            l.0.push(MatchElement::Prefix(Prefix::new(a, n)));
        }
        l
    }
}

/// Why a set of ACLs is unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AclError {
    /// A list refers to an ACL that is not defined.
    #[error("undefined acl {0:?}")]
    Undefined(String),
    /// ACLs refer to each other in a cycle, or nest deeper than [`MAX_ACL_DEPTH`].
    #[error("acl {0:?} nests too deep or refers to itself")]
    TooDeep(String),
}

/// The named ACLs.
#[derive(Clone, Debug, Default)]
pub struct Acls {
    named: Vec<(String, MatchList)>,
}

impl Acls {
    /// Named ACLs from (name, list) pairs; a later definition of a name replaces an earlier one.
    pub fn new(named: impl IntoIterator<Item = (String, MatchList)>) -> Self {
        let mut acls = Self::default();
        for (name, list) in named {
            acls.named.retain(|(n, _)| *n != name);
            acls.named.push((name, list));
        }
        acls
    }

    fn get(&self, name: &str) -> Option<&MatchList> {
        self.named.iter().find(|(n, _)| n == name).map(|(_, l)| l)
    }

    /// Checks that every reference in `list` (and in every named ACL) resolves, without cycles.
    pub fn check(&self, list: &MatchList) -> Result<(), AclError> {
        self.check_list(list, 0, "")?;
        for (name, l) in &self.named {
            self.check_list(l, 1, name)?;
        }
        Ok(())
    }

    fn check_list(&self, list: &MatchList, depth: usize, name: &str) -> Result<(), AclError> {
        if depth > MAX_ACL_DEPTH {
            return Err(AclError::TooDeep(name.to_owned()));
        }
        list.0
            .iter()
            .try_for_each(|e| self.check_element(e, depth, name))
    }

    fn check_element(&self, e: &MatchElement, depth: usize, name: &str) -> Result<(), AclError> {
        match e {
            MatchElement::Any | MatchElement::Prefix(_) => Ok(()),
            MatchElement::Not(inner) => self.check_element(inner, depth, name),
            MatchElement::List(l) => self.check_list(l, depth + 1, name),
            MatchElement::Acl(n) => {
                let l = self.get(n).ok_or_else(|| AclError::Undefined(n.clone()))?;
                self.check_list(l, depth + 1, n)
            }
        }
    }

    /// Whether `list` allows `ip` (first match wins; no match denies).
    pub fn allows(&self, list: &MatchList, ip: IpAddr) -> bool {
        self.eval_list(list, ip, 0).unwrap_or(false)
    }

    fn eval_list(&self, list: &MatchList, ip: IpAddr, depth: usize) -> Option<bool> {
        if depth > MAX_ACL_DEPTH {
            return Some(false);
        }
        list.0.iter().find_map(|e| self.eval(e, ip, depth))
    }

    fn eval(&self, e: &MatchElement, ip: IpAddr, depth: usize) -> Option<bool> {
        match e {
            MatchElement::Any => Some(true),
            MatchElement::Prefix(p) => p.contains(ip).then_some(true),
            MatchElement::Not(inner) => self.eval(inner, ip, depth).map(|v| !v),
            MatchElement::List(l) => self.eval_list(l, ip, depth + 1),
            MatchElement::Acl(n) => self.get(n).and_then(|l| self.eval_list(l, ip, depth + 1)),
        }
    }
}

/// Response-rate-limiting parameters (BIND `rate-limit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RrlConfig {
    /// Responses per second allowed per client prefix.
    pub responses_per_second: u32,
    /// Bucket depth: responses allowed in a burst.
    pub burst: u32,
    /// Every `slip`-th limited response is sent truncated instead of dropped (0: never).
    pub slip: u32,
    /// IPv4 prefix length that groups clients.
    pub ipv4_prefix: u8,
    /// IPv6 prefix length that groups clients.
    pub ipv6_prefix: u8,
    /// Most prefixes tracked; idle ones are purged when full, new ones pass unlimited after.
    pub max_entries: usize,
}

impl Default for RrlConfig {
    /// 20 per second with a burst of 40, slip 2, /24 and /56, 65 536 prefixes.
    fn default() -> Self {
        Self {
            responses_per_second: 20,
            burst: 40,
            slip: 2,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            max_entries: 65_536,
        }
    }
}

/// What to do with one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RrlVerdict {
    /// Send it.
    Send,
    /// Send a truncated (TC=1) empty reply instead.
    Slip,
    /// Send nothing.
    Drop,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
    limited: u32,
}

/// The rate limiter (see the [module docs](self)).
#[derive(Debug)]
pub struct Rrl {
    config: RrlConfig,
    buckets: HashMap<u128, Bucket, KeyedHash>,
    /// Prefixes that could not be tracked because the table was full.
    pub untracked: u64,
}

impl Rrl {
    /// A limiter hashing prefixes with `hash`.
    pub fn new(config: RrlConfig, hash: KeyedHash) -> Self {
        Self {
            config,
            buckets: HashMap::with_hasher(hash),
            untracked: 0,
        }
    }

    /// Number of prefixes tracked.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no prefix is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    fn prefix_key(&self, ip: IpAddr) -> u128 {
        match ip {
            IpAddr::V4(a) => {
                let len = u32::from(self.config.ipv4_prefix.min(32));
                let bits = u32::from(a).checked_shr(32 - len).unwrap_or(0);
                (1u128 << 127) | (u128::from(bits) << 8) | u128::from(len as u8)
            }
            IpAddr::V6(a) => {
                let len = u32::from(self.config.ipv6_prefix.min(120));
                u128::from(a).checked_shr(128 - len).unwrap_or(0) << 8 | u128::from(len as u8)
            }
        }
    }

    /// Charges one response to `ip`'s prefix at `now`.
    pub fn check(&mut self, now: Instant, ip: IpAddr) -> RrlVerdict {
        let rate = f64::from(self.config.responses_per_second.max(1));
        let burst = f64::from(self.config.burst.max(1));
        let key = self.prefix_key(ip);
        if !self.buckets.contains_key(&key) && self.buckets.len() >= self.config.max_entries {
            // Purge prefixes whose bucket has refilled: they carry no state worth keeping.
            let full = Duration::from_secs_f64(burst / rate);
            self.buckets.retain(|_, b| now - b.last < full);
            if self.buckets.len() >= self.config.max_entries {
                self.untracked += 1;
                return RrlVerdict::Send;
            }
        }
        let b = self.buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            last: now,
            limited: 0,
        });
        let refill = (now - b.last).as_secs_f64() * rate;
        b.tokens = (b.tokens + refill).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return RrlVerdict::Send;
        }
        b.limited = b.limited.wrapping_add(1);
        if self.config.slip != 0 && b.limited.is_multiple_of(self.config.slip) {
            RrlVerdict::Slip
        } else {
            RrlVerdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn first_match_wins_with_negation_and_named_acls() {
        let acls = Acls::new([(
            "trusted".to_owned(),
            MatchList(vec![
                MatchElement::Not(Box::new(MatchElement::Prefix(Prefix::new(
                    ip("10.1.0.0"),
                    16,
                )))),
                MatchElement::Prefix(Prefix::new(ip("10.0.0.0"), 8)),
            ]),
        )]);
        let list = MatchList(vec![
            MatchElement::Acl("trusted".into()),
            MatchElement::Prefix(Prefix::host(ip("192.0.2.1"))),
        ]);
        acls.check(&list).unwrap();
        assert!(acls.allows(&list, ip("10.2.3.4")));
        assert!(!acls.allows(&list, ip("10.1.3.4")));
        assert!(acls.allows(&list, ip("192.0.2.1")));
        assert!(acls.allows(&list, ip("::ffff:192.0.2.1")));
        assert!(!acls.allows(&list, ip("192.0.2.2")));
        // `!trusted` denies what trusted allows and allows what it denies.
        let neg = MatchList(vec![
            MatchElement::Not(Box::new(MatchElement::Acl("trusted".into()))),
            MatchElement::Any,
        ]);
        assert!(!acls.allows(&neg, ip("10.2.3.4")));
        assert!(acls.allows(&neg, ip("10.1.3.4")));
        assert!(!acls.allows(&MatchList::none(), ip("10.2.3.4")));
    }

    #[test]
    fn undefined_and_cyclic_acls_are_errors() {
        let acls = Acls::new([
            (
                "a".to_owned(),
                MatchList(vec![MatchElement::Acl("b".into())]),
            ),
            (
                "b".to_owned(),
                MatchList(vec![MatchElement::Acl("a".into())]),
            ),
        ]);
        assert!(matches!(
            acls.check(&MatchList::any()),
            Err(AclError::TooDeep(_))
        ));
        let none = Acls::default();
        let l = MatchList(vec![MatchElement::Acl("x".into())]);
        assert_eq!(none.check(&l), Err(AclError::Undefined("x".into())));
    }

    #[test]
    fn rrl_limits_per_prefix_and_slips() {
        let cfg = RrlConfig {
            responses_per_second: 5,
            burst: 5,
            slip: 2,
            ..RrlConfig::default()
        };
        let mut r = Rrl::new(cfg, KeyedHash::new(3, 4));
        let t = Instant::from_secs(1);
        let v: Vec<_> = (0..9).map(|_| r.check(t, ip("198.51.100.7"))).collect();
        assert_eq!(&v[..5], &[RrlVerdict::Send; 5]);
        assert_eq!(
            &v[5..],
            &[
                RrlVerdict::Drop,
                RrlVerdict::Slip,
                RrlVerdict::Drop,
                RrlVerdict::Slip
            ]
        );
        // Same /24: limited too; another /24: fresh bucket.
        assert_ne!(r.check(t, ip("198.51.100.200")), RrlVerdict::Send);
        assert_eq!(r.check(t, ip("198.51.101.1")), RrlVerdict::Send);
        // A second later the bucket has refilled by the rate.
        let later = t + Duration::from_secs(1);
        let sent = (0..10)
            .filter(|_| r.check(later, ip("198.51.100.7")) == RrlVerdict::Send)
            .count();
        assert_eq!(sent, 5);
    }
}
