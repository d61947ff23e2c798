//! The answer cache: whole answers in wire form, keyed by (lowercased qname, QTYPE, QCLASS,
//! CD, DO), with TTL clamps, RFC 2308 negative entries, RFC 8767 stale retention, and a byte budget
//! enforced by CLOCK (second-chance LRU) eviction that takes stale entries first.
//!
//! An entry is a [`StoredAnswer`]: a complete message (`Bytes`, shared by refcount) plus the
//! offsets of its TTL fields. A hit is rendered by [`render::render`] with one copy and a few
//! byte patches; nothing is re-encoded.
//!
//! Entry states, as [`Lookup`] reports them:
//!
//! * **fresh** while `now < inserted + ttl`; the served TTLs are the stored ones minus the
//!   whole seconds elapsed, so they never grow between hits;
//! * **stale** after that, for at most the retention window (`max-stale-ttl`, zero when stale
//!   caching is off); a stale entry is served only by the caller's choice, with a fixed TTL;
//! * **gone** past the window: removed at the next lookup or eviction sweep.

pub mod answer;
pub mod render;

use core::hash::BuildHasher;
use core::time::Duration;
use std::collections::HashMap;

use lvs_core::Instant;
use siphasher::sip::SipHasher13;

pub use answer::{
    AnswerKind, MAX_CHAIN, Scrubbed, StoredAnswer, TtlPolicy, Unusable, Wanted, scrub, scrub_for,
};
pub use render::{ClientView, OurEdns, TtlMode, minimal, render};

use crate::wire::Name;

/// Fixed bookkeeping cost charged per entry on top of its bytes (map slot, entry struct).
pub const ENTRY_OVERHEAD: usize = 96;

/// Longest cache key: a 255-byte name, QTYPE, QCLASS and the partition byte.
pub const MAX_KEY_LEN: usize = 255 + 5;

/// A keyed SipHash-1-3 builder: hash keys come from the machine's injected RNG, so an attacker
/// cannot precompute colliding names.
#[derive(Clone, Copy, Debug)]
pub struct KeyedHash {
    k0: u64,
    k1: u64,
}

impl KeyedHash {
    /// A builder with these two key halves.
    pub fn new(k0: u64, k1: u64) -> Self {
        Self { k0, k1 }
    }
}

impl BuildHasher for KeyedHash {
    type Hasher = SipHasher13;
    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

/// Key partition bit: the query had CD=1 (checking disabled is passed upstream).
pub const PARTITION_CD: u8 = 1;
/// Key partition bit: the query had DO=1. DNSSEC pass-through keys rather than strips: a DO=1
/// query is fetched with DO=1 and cached apart (with its RRSIG/NSEC records); a DO=0 query is
/// fetched with DO=0 and its entry never holds unrequested DNSSEC records. A DO answer is
/// therefore never served to a DO=0 client, nor the reverse.
pub const PARTITION_DO: u8 = 2;

/// The partition byte of a cache key for these query bits.
pub fn partition(cd: bool, dnssec_ok: bool) -> u8 {
    (u8::from(cd) * PARTITION_CD) | (u8::from(dnssec_ok) * PARTITION_DO)
}

/// Writes the cache key of a question into `out`: the name lowercased in wire form, QTYPE,
/// QCLASS, and the [`partition`] byte (CD and DO bits). Returns the key length.
pub fn write_key(
    name: &Name<'_>,
    qtype: u16,
    qclass: u16,
    partition: u8,
    out: &mut [u8; MAX_KEY_LEN],
) -> usize {
    let n = name.write_canonical(&mut out[..]).unwrap_or(0);
    out[n..n + 2].copy_from_slice(&qtype.to_be_bytes());
    out[n + 2..n + 4].copy_from_slice(&qclass.to_be_bytes());
    out[n + 4] = partition;
    n + 5
}

/// Cache limits and retention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// The byte budget (`max-cache-size`); entries are charged their message, TTL table, key
    /// and [`ENTRY_OVERHEAD`].
    pub max_size: usize,
    /// TTL clamps applied at insertion.
    pub ttl: TtlPolicy,
    /// How long an expired entry is kept for serve-stale (`max-stale-ttl`; zero keeps nothing).
    pub max_stale: Duration,
}

impl Default for CacheConfig {
    /// 32 MiB, BIND's TTL clamps, no stale retention.
    fn default() -> Self {
        Self {
            max_size: 32 << 20,
            ttl: TtlPolicy::default(),
            max_stale: Duration::ZERO,
        }
    }
}

/// What a lookup found.
#[derive(Clone, Copy, Debug)]
pub enum Lookup<'a> {
    /// Nothing usable.
    Miss,
    /// A fresh entry.
    Fresh {
        /// The stored answer.
        answer: &'a StoredAnswer,
        /// Whole seconds since insertion (subtract from every stored TTL).
        elapsed: u32,
        /// Seconds of freshness left (the entry's smallest TTL minus `elapsed`, at least 1).
        remaining: u32,
    },
    /// An expired entry inside the stale retention window.
    Stale {
        /// The stored answer.
        answer: &'a StoredAnswer,
        /// Whether a refresh failed recently (`stale-refresh-time`): answer stale at once
        /// instead of asking upstream again.
        refresh_blocked: bool,
    },
}

#[derive(Debug)]
struct Entry {
    key: Box<[u8]>,
    answer: StoredAnswer,
    inserted: Instant,
    expires: Instant,
    refresh_blocked_until: Instant,
    referenced: bool,
}

impl Entry {
    fn cost(&self) -> usize {
        self.answer.cost() + self.key.len() + ENTRY_OVERHEAD
    }
}

/// What [`Cache::reconfigure`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reconfigured {
    /// Entries kept.
    pub kept: usize,
    /// Of those, entries whose TTLs a lower ceiling shortened.
    pub shortened: usize,
    /// Entries removed because a ceiling of 0 left them nothing.
    pub removed: usize,
    /// Entries evicted to fit a smaller budget.
    pub evicted: usize,
}

/// Counters of the cache itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries inserted (new or replacing).
    pub inserts: u64,
    /// Entries evicted for the byte budget.
    pub evictions: u64,
    /// Of those, entries that were already stale.
    pub evictions_stale: u64,
    /// Entries removed because they passed the stale window.
    pub expired: u64,
    /// Answers refused because they alone exceed an eighth of the budget.
    pub too_large: u64,
}

/// The answer cache (see the [module docs](self)).
#[derive(Debug)]
pub struct Cache {
    config: CacheConfig,
    map: HashMap<Box<[u8]>, u32, KeyedHash>,
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    hand: usize,
    bytes: usize,
    stats: CacheStats,
}

impl Cache {
    /// An empty cache hashing with `hash`.
    pub fn new(config: CacheConfig, hash: KeyedHash) -> Self {
        Self {
            config,
            map: HashMap::with_hasher(hash),
            slots: Vec::new(),
            free: Vec::new(),
            hand: 0,
            bytes: 0,
            stats: CacheStats::default(),
        }
    }

    /// The configuration in effect.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Changes the stale retention window (for example when serve-stale is switched off).
    pub fn set_max_stale(&mut self, max_stale: Duration) {
        self.config.max_stale = max_stale;
    }

    /// Applies a new configuration at `now` and keeps every entry that is still valid under
    /// it (`rndc reload`):
    ///
    /// * lower TTL ceilings (`max-cache-ttl`, `max-ncache-ttl`) shorten stored TTLs: an entry
    ///   stored at `t` with TTL 300 under a new ceiling of 60 is fresh until `t + 60`, then
    ///   stale or gone as usual; an entry whose TTL falls to 0 is removed. Raised floors
    ///   (`min-cache-ttl`) are not applied to stored entries (the upstream TTL is no longer
    ///   known) and apply to new answers only;
    /// * a smaller byte budget evicts (stale and least recently used entries first) down to it;
    /// * the stale window applies at the next lookup.
    pub fn reconfigure(&mut self, config: CacheConfig, now: Instant) -> Reconfigured {
        let mut report = Reconfigured::default();
        let (old, new) = (self.config.ttl, config.ttl);
        self.config = config;
        if new.max_ttl < old.max_ttl || new.max_ncache_ttl < old.max_ncache_ttl {
            let mut emptied = Vec::new();
            for (slot, e) in self.slots.iter_mut().enumerate() {
                let Some(e) = e.as_mut() else { continue };
                match e.answer.reclamp(&new) {
                    Some(true) => {
                        report.shortened += 1;
                        let ttl = Duration::from_secs(u64::from(e.answer.ttl));
                        e.expires = e.inserted + ttl;
                    }
                    Some(false) => {}
                    None => emptied.push(slot as u32),
                }
            }
            report.removed += emptied.len();
            for slot in emptied {
                self.remove_slot(slot);
            }
        }
        let before = self.stats.evictions;
        while self.bytes > self.config.max_size && !self.map.is_empty() {
            self.evict_one(now);
        }
        report.evicted = (self.stats.evictions - before) as usize;
        report.kept = self.map.len();
        report
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes charged against the budget.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The cache's counters.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Looks `key` up at `now`, marking the entry recently used.
    pub fn lookup(&mut self, key: &[u8], now: Instant) -> Lookup<'_> {
        let Some(&slot) = self.map.get(key) else {
            return Lookup::Miss;
        };
        let gone = match &self.slots[slot as usize] {
            Some(e) => now >= e.expires + self.config.max_stale,
            None => true,
        };
        if gone {
            self.remove_slot(slot);
            self.stats.expired += 1;
            return Lookup::Miss;
        }
        let Some(e) = self.slots[slot as usize].as_mut() else {
            return Lookup::Miss;
        };
        e.referenced = true;
        if now < e.expires {
            let elapsed = secs(now - e.inserted);
            Lookup::Fresh {
                answer: &e.answer,
                elapsed,
                remaining: e.answer.ttl.saturating_sub(elapsed).max(1),
            }
        } else {
            Lookup::Stale {
                answer: &e.answer,
                refresh_blocked: now < e.refresh_blocked_until,
            }
        }
    }

    /// Stores `answer` under `key` at `now` (replacing any entry), evicting for the budget.
    /// Answers that are not cacheable, have TTL 0, or exceed an eighth of the budget are not
    /// stored. Returns whether it was stored.
    pub fn insert(&mut self, key: &[u8], answer: StoredAnswer, now: Instant) -> bool {
        if !answer.cacheable || answer.ttl == 0 {
            return false;
        }
        let entry = Entry {
            key: key.into(),
            expires: now + Duration::from_secs(u64::from(answer.ttl)),
            answer,
            inserted: now,
            refresh_blocked_until: Instant::ZERO,
            referenced: false,
        };
        let cost = entry.cost();
        if cost > self.config.max_size / 8 {
            self.stats.too_large += 1;
            return false;
        }
        if let Some(&old) = self.map.get(key) {
            self.remove_slot(old);
        }
        while self.bytes + cost > self.config.max_size && !self.map.is_empty() {
            self.evict_one(now);
        }
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(entry);
                s
            }
            None => {
                self.slots.push(Some(entry));
                (self.slots.len() - 1) as u32
            }
        };
        self.bytes += cost;
        self.map.insert(key.into(), slot);
        self.stats.inserts += 1;
        true
    }

    /// Records that refreshing `key` failed at `now`: stale answers are served without asking
    /// upstream until `until`.
    pub fn block_refresh(&mut self, key: &[u8], until: Instant) {
        if let Some(&slot) = self.map.get(key)
            && let Some(e) = self.slots[slot as usize].as_mut()
        {
            e.refresh_blocked_until = until;
        }
    }

    /// Removes the entry for `key`; returns whether there was one.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        match self.map.get(key) {
            Some(&slot) => {
                self.remove_slot(slot);
                true
            }
            None => false,
        }
    }

    /// Removes every entry whose name is `canonical` (lowercased wire form), of any type, class
    /// or CD bit (`rndc flushname`). Returns how many were removed.
    pub fn remove_name(&mut self, canonical: &[u8]) -> usize {
        let victims: Vec<u32> = self
            .map
            .iter()
            .filter(|(k, _)| k.len() == canonical.len() + 5 && k.starts_with(canonical))
            .map(|(_, &s)| s)
            .collect();
        for &s in &victims {
            self.remove_slot(s);
        }
        victims.len()
    }

    /// Empties the cache.
    pub fn clear(&mut self) {
        self.map.clear();
        self.slots.clear();
        self.free.clear();
        self.hand = 0;
        self.bytes = 0;
    }

    /// Every entry: its key, its answer, and whether it is still fresh at `now`.
    pub fn entries(&self, now: Instant) -> impl Iterator<Item = (&[u8], &StoredAnswer, bool)> {
        self.slots
            .iter()
            .flatten()
            .map(move |e| (&e.key[..], &e.answer, now < e.expires))
    }

    /// One CLOCK step sequence: the first entry that is stale or not recently used goes.
    fn evict_one(&mut self, now: Instant) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        // After one full turn every reference bit is clear, so two turns always find a victim.
        for _ in 0..=2 * n {
            self.hand = (self.hand + 1) % n;
            let Some(e) = self.slots[self.hand].as_mut() else {
                continue;
            };
            let stale = now >= e.expires;
            if e.referenced && !stale {
                e.referenced = false;
                continue;
            }
            self.stats.evictions += 1;
            if stale {
                self.stats.evictions_stale += 1;
            }
            self.remove_slot(self.hand as u32);
            return;
        }
    }

    fn remove_slot(&mut self, slot: u32) {
        if let Some(e) = self.slots.get_mut(slot as usize).and_then(Option::take) {
            self.bytes -= e.cost();
            self.map.remove(&e.key);
            self.free.push(slot);
        }
    }
}

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Raw;
    use crate::wire::Message;

    fn answer(name: &str, ttl: u32) -> (Vec<u8>, StoredAnswer) {
        let bytes = Raw::header(1, 0x8180, [1, 1, 0, 0])
            .name(name)
            .u16(1)
            .u16(1)
            .name_ptr("", 12)
            .rr(1, 1, ttl, &[192, 0, 2, 1])
            .0;
        let msg = Message::parse(&bytes).unwrap();
        let canon = Raw::default().name(name).0;
        let s = scrub(&msg, &canon, 1, 1, &TtlPolicy::default()).unwrap();
        let mut key = canon;
        key.extend_from_slice(&[0, 1, 0, 1, 0]);
        (key, s.answer)
    }

    fn cache(max_size: usize, stale: u64) -> Cache {
        let config = CacheConfig {
            max_size,
            max_stale: Duration::from_secs(stale),
            ..CacheConfig::default()
        };
        Cache::new(config, KeyedHash::new(1, 2))
    }

    #[test]
    fn fresh_then_stale_then_gone() {
        let mut c = cache(1 << 20, 100);
        let (k, a) = answer("a.example", 10);
        assert!(c.insert(&k, a, Instant::ZERO));
        match c.lookup(&k, Instant::from_millis(3500)) {
            Lookup::Fresh {
                elapsed, remaining, ..
            } => assert_eq!((elapsed, remaining), (3, 7)),
            other => panic!("{other:?}"),
        }
        c.block_refresh(&k, Instant::from_secs(40));
        assert!(matches!(
            c.lookup(&k, Instant::from_secs(10)),
            Lookup::Stale {
                refresh_blocked: true,
                ..
            }
        ));
        assert!(matches!(
            c.lookup(&k, Instant::from_secs(50)),
            Lookup::Stale {
                refresh_blocked: false,
                ..
            }
        ));
        assert!(matches!(
            c.lookup(&k, Instant::from_secs(110)),
            Lookup::Miss
        ));
        assert!(c.is_empty() && c.bytes() == 0);
    }

    #[test]
    fn budget_holds_and_recently_used_survive() {
        let (_, probe) = answer("n0.example", 100);
        let one = probe.cost() + 17 + ENTRY_OVERHEAD;
        let mut c = cache(one * 10, 0);
        let mut keys = Vec::new();
        for i in 0..10 {
            let (k, a) = answer(&format!("n{i}.example"), 100);
            assert!(c.insert(&k, a, Instant::ZERO));
            keys.push(k);
        }
        assert_eq!(c.len(), 10);
        // Touch n0; the next insert evicts someone else.
        assert!(matches!(
            c.lookup(&keys[0], Instant::ZERO),
            Lookup::Fresh { .. }
        ));
        for i in 10..40 {
            let (k, a) = answer(&format!("n{i}.example"), 100);
            c.insert(&k, a, Instant::ZERO);
            assert!(c.bytes() <= one * 10);
            if i == 10 {
                assert!(matches!(
                    c.lookup(&keys[0], Instant::ZERO),
                    Lookup::Fresh { .. }
                ));
            }
        }
        assert!(c.stats().evictions >= 30);
        assert_eq!(c.remove_name(&Raw::default().name("n39.example").0), 1);
    }
}
