//! The answer cache: whole answers in wire form, keyed by (lowercased qname, QTYPE, QCLASS,
//! CD, DO), with TTL clamps, RFC 2308 negative entries, RFC 8767 stale retention, and a byte budget
//! enforced by CLOCK (second-chance LRU) eviction that takes stale entries first.
//!
//! An entry is a [`StoredAnswer`]: one heap block holding the complete message, the offsets of
//! its TTL fields and the entry's bookkeeping (insertion time, refresh block, CLOCK bit). The
//! key is not stored apart: it is the message's question plus the partition byte, and the
//! index is a table of slot numbers hashed with the keyed SipHash. A hit is rendered by
//! [`render::render`] with one copy and a few byte patches; nothing is re-encoded.
//!
//! Memory: [`Cache::bytes`] bounds the heap the cache uses (its blocks, the slot array, the
//! index, the free list and the allocator's per-block overhead) up to a fixed few hundred
//! bytes; see [`ENTRY_OVERHEAD`].
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

use core::hash::{BuildHasher, Hasher};
use core::time::Duration;

use hashbrown::HashTable;
use lvs_core::Instant;
use siphasher::sip::SipHasher13;

pub use answer::{
    AnswerKind, MAX_CHAIN, Scrubbed, StoredAnswer, TtlPolicy, Unusable, Wanted, scrub, scrub_for,
};
pub use render::{ClientView, OurEdns, TtlMode, minimal, render};

use crate::wire::Name;

/// Bytes charged per slot of the slot array on top of the entries' blocks: the slot itself
/// (16 bytes, in an array grown by a quarter at a time), its share of the index (a `u32` and a
/// control byte per bucket, at most 16/7 buckets per slot after a resize) and of the free list
/// (a `u32`, in a vector that at most doubles). A slot stays charged while it is vacant, until
/// the cache empties, because the array never shrinks before that.
pub const SLOT_OVERHEAD: usize = 40;

/// Bytes charged per block for the allocator's own bookkeeping: a chunk header and the
/// rounding of the block to the allocator's granule (glibc: 8 + at most 15).
pub const BLOCK_OVERHEAD: usize = 24;

/// Fixed cost charged per entry on top of its [`StoredAnswer::cost`]: a new slot and the
/// allocator's per-block overhead.
pub const ENTRY_OVERHEAD: usize = SLOT_OVERHEAD + BLOCK_OVERHEAD;

/// The smallest number of slots the slot array grows by.
const MIN_SLOT_GROWTH: usize = 8;

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
    /// The byte budget (`max-cache-size`); entries are charged their block
    /// ([`StoredAnswer::cost`]: message, TTL table, metadata) and [`ENTRY_OVERHEAD`].
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
    /// Answers refused because their question is not the key's (a caller bug).
    pub mismatched: u64,
}

/// The answer cache (see the [module docs](self)).
#[derive(Debug)]
pub struct Cache {
    config: CacheConfig,
    hasher: KeyedHash,
    /// Slot numbers, hashed by their entry's key.
    index: HashTable<u32>,
    slots: Vec<Option<StoredAnswer>>,
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
            hasher: hash,
            index: HashTable::new(),
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
            for (slot, a) in self.slots.iter_mut().enumerate() {
                let Some(a) = a.as_mut() else { continue };
                match a.reclamp(&new) {
                    Some(true) => report.shortened += 1,
                    Some(false) => {}
                    None => emptied.push(slot as u32),
                }
            }
            report.removed += emptied.len();
            for slot in emptied {
                self.remove_slot(slot);
            }
        }
        // Vacant slots are given back below, so they do not count against the new budget.
        let before = self.stats.evictions;
        while self.bytes - self.free.len() * SLOT_OVERHEAD > self.config.max_size
            && !self.index.is_empty()
        {
            self.evict_one(now);
        }
        self.compact();
        report.evicted = (self.stats.evictions - before) as usize;
        report.kept = self.index.len();
        report
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Bytes charged against the budget: every entry's block and [`BLOCK_OVERHEAD`], and
    /// [`SLOT_OVERHEAD`] for every slot of the slot array, vacant or not.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The cache's counters.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Looks `key` up at `now`, marking the entry recently used.
    pub fn lookup(&mut self, key: &[u8], now: Instant) -> Lookup<'_> {
        let Some(slot) = self.find(key) else {
            return Lookup::Miss;
        };
        let max_stale = self.config.max_stale;
        let gone = self.slots[slot as usize]
            .as_ref()
            .is_none_or(|a| now >= expires(a) + max_stale);
        if gone {
            self.remove_slot(slot);
            self.stats.expired += 1;
            return Lookup::Miss;
        }
        let Some(a) = self.slots[slot as usize].as_mut() else {
            return Lookup::Miss;
        };
        a.set_referenced(true);
        let a: &StoredAnswer = a;
        if now < expires(a) {
            let elapsed = secs(now - a.inserted());
            Lookup::Fresh {
                answer: a,
                elapsed,
                remaining: a.ttl().saturating_sub(elapsed).max(1),
            }
        } else {
            Lookup::Stale {
                refresh_blocked: now < a.refresh_blocked_until(),
                answer: a,
            }
        }
    }

    /// Stores `answer` under `key` at `now` (replacing any entry), evicting for the budget.
    /// `key` must be the answer's [question](StoredAnswer::question) followed by the partition
    /// byte, as [`write_key`] writes it. Answers that are not cacheable, have TTL 0, exceed an
    /// eighth of the budget, or do not match `key` are not stored. Returns whether it was
    /// stored.
    pub fn insert(&mut self, key: &[u8], mut answer: StoredAnswer, now: Instant) -> bool {
        if !answer.cacheable() || answer.ttl() == 0 {
            return false;
        }
        let Some((&part, question)) = key.split_last() else {
            self.stats.mismatched += 1;
            return false;
        };
        if answer.question() != question {
            self.stats.mismatched += 1;
            return false;
        }
        answer.admit(part, now);
        let block = answer.cost() + BLOCK_OVERHEAD;
        if block + SLOT_OVERHEAD > self.config.max_size / 8 {
            self.stats.too_large += 1;
            return false;
        }
        if let Some(old) = self.find(key) {
            self.remove_slot(old);
        }
        while self.bytes + block + self.new_slot_cost() > self.config.max_size
            && !self.index.is_empty()
        {
            self.evict_one(now);
        }
        self.bytes += block + self.new_slot_cost();
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(answer);
                s
            }
            None => {
                if self.slots.len() == self.slots.capacity() {
                    let grow = (self.slots.len() / 4).max(MIN_SLOT_GROWTH);
                    self.slots.reserve_exact(grow);
                }
                self.slots.push(Some(answer));
                (self.slots.len() - 1) as u32
            }
        };
        let hash = hash_key(self.hasher, question, part);
        let (slots, hasher) = (&self.slots, self.hasher);
        self.index
            .insert_unique(hash, slot, |&s| hash_slot(hasher, slots, s));
        self.stats.inserts += 1;
        true
    }

    /// Records that refreshing `key` failed at `now`: stale answers are served without asking
    /// upstream until `until`.
    pub fn block_refresh(&mut self, key: &[u8], until: Instant) {
        if let Some(slot) = self.find(key)
            && let Some(a) = self.slots[slot as usize].as_mut()
        {
            a.set_refresh_blocked_until(until);
        }
    }

    /// Removes the entry for `key`; returns whether there was one.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        match self.find(key) {
            Some(slot) => {
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
            .slots
            .iter()
            .enumerate()
            .filter_map(|(s, a)| {
                let q = a.as_ref()?.question();
                (q.len() == canonical.len() + 4 && q.starts_with(canonical)).then_some(s as u32)
            })
            .collect();
        for &s in &victims {
            self.remove_slot(s);
        }
        if self.free.len() > self.index.len() {
            self.compact();
        }
        victims.len()
    }

    /// Empties the cache and returns its memory.
    pub fn clear(&mut self) {
        self.index = HashTable::new();
        self.slots = Vec::new();
        self.free = Vec::new();
        self.hand = 0;
        self.bytes = 0;
    }

    /// Every entry: its question (the key without the partition byte: lowercased name, QTYPE,
    /// QCLASS), its answer, and whether it is still fresh at `now`.
    pub fn entries(&self, now: Instant) -> impl Iterator<Item = (&[u8], &StoredAnswer, bool)> {
        self.slots
            .iter()
            .flatten()
            .map(move |a| (a.question(), a, now < expires(a)))
    }

    /// The slot holding `key`.
    fn find(&self, key: &[u8]) -> Option<u32> {
        let (&part, question) = key.split_last()?;
        let hash = hash_key(self.hasher, question, part);
        let slots = &self.slots;
        self.index
            .find(hash, |&s| {
                slots
                    .get(s as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|a| a.partition() == part && a.question() == question)
            })
            .copied()
    }

    /// Gives vacant slots back: moves the entries to a dense, exactly sized slot array (in
    /// CLOCK order) and rebuilds the index for it. O(entries); run by the rare bulk operations
    /// (`reconfigure`, `remove_name`), never by lookups or insertions.
    fn compact(&mut self) {
        if self.free.is_empty() {
            return;
        }
        if self.index.is_empty() {
            self.clear();
            return;
        }
        let old = core::mem::take(&mut self.slots);
        let mut slots = Vec::with_capacity(self.index.len());
        let mut hand = 0;
        for (i, a) in old.into_iter().enumerate() {
            if i == self.hand {
                hand = slots.len();
            }
            if let Some(a) = a {
                slots.push(Some(a));
            }
        }
        let mut index = HashTable::with_capacity(slots.len());
        let mut bytes = slots.len() * SLOT_OVERHEAD;
        for (i, a) in slots.iter().enumerate() {
            let Some(a) = a else { continue };
            bytes += a.cost() + BLOCK_OVERHEAD;
            let hash = hash_key(self.hasher, a.question(), a.partition());
            index.insert_unique(hash, i as u32, |&s| hash_slot(self.hasher, &slots, s));
        }
        // The hand points at the entry last looked at: the one before the next to visit.
        self.hand = hand.checked_sub(1).unwrap_or(slots.len() - 1);
        self.slots = slots;
        self.index = index;
        self.free = Vec::new();
        self.bytes = bytes;
    }

    /// What the next insertion adds for its slot: nothing when a vacant one is reused.
    fn new_slot_cost(&self) -> usize {
        if self.free.is_empty() {
            SLOT_OVERHEAD
        } else {
            0
        }
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
            let Some(a) = self.slots[self.hand].as_mut() else {
                continue;
            };
            let stale = now >= expires(a);
            if a.referenced() && !stale {
                a.set_referenced(false);
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

    /// Frees `slot`; the vacant slot stays charged until it is reused or the cache empties.
    fn remove_slot(&mut self, slot: u32) {
        let Some(a) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        self.bytes -= a.cost() + BLOCK_OVERHEAD;
        let hash = hash_key(self.hasher, a.question(), a.partition());
        if let Ok(found) = self.index.find_entry(hash, |&s| s == slot) {
            found.remove();
        }
        if self.index.is_empty() {
            // Nothing left: give the slot array, index and free list back.
            self.clear();
        } else {
            self.free.push(slot);
        }
    }
}

/// The keyed hash of a cache key given as its question and partition byte.
fn hash_key(hasher: KeyedHash, question: &[u8], partition: u8) -> u64 {
    let mut h = hasher.build_hasher();
    h.write(question);
    h.write_u8(partition);
    h.finish()
}

/// The hash of the entry in `slot` (for the index's resizes).
fn hash_slot(hasher: KeyedHash, slots: &[Option<StoredAnswer>], slot: u32) -> u64 {
    slots
        .get(slot as usize)
        .and_then(Option::as_ref)
        .map_or(0, |a| hash_key(hasher, a.question(), a.partition()))
}

/// When the entry's freshness ends.
fn expires(a: &StoredAnswer) -> Instant {
    a.inserted() + Duration::from_secs(u64::from(a.ttl()))
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
        let one = probe.cost() + ENTRY_OVERHEAD;
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

    #[test]
    fn flushes_give_slots_back_and_keep_the_rest_findable() {
        let mut c = cache(1 << 20, 0);
        let mut keys = Vec::new();
        for i in 0..20 {
            let (k, a) = answer(&format!("f{i}.example"), 100);
            assert!(c.insert(&k, a, Instant::ZERO));
            keys.push(k);
        }
        let (_, probe) = answer("f0.example", 100);
        let one = probe.cost() + ENTRY_OVERHEAD;
        // Names f0..f9 are one byte shorter than f10..f19: same cost within each group.
        assert_eq!(c.bytes(), 10 * one + 10 * (one + 1));
        for i in 5..20 {
            let canonical = Raw::default().name(&format!("f{i}.example")).0;
            assert_eq!(c.remove_name(&canonical), 1);
        }
        // Compacted when vacant slots outnumbered entries (after the eleventh flush); the
        // four vacated since stay charged until reused or the next compaction.
        assert_eq!((c.len(), c.bytes()), (5, 5 * one + 4 * SLOT_OVERHEAD));
        let canonical = Raw::default().name("f4.example").0;
        assert_eq!(c.remove_name(&canonical), 1);
        assert_eq!((c.len(), c.bytes()), (4, 4 * one));
        for k in &keys[..4] {
            assert!(matches!(c.lookup(k, Instant::ZERO), Lookup::Fresh { .. }));
        }
        for k in &keys[4..] {
            assert!(matches!(c.lookup(k, Instant::ZERO), Lookup::Miss));
        }
        let (k, a) = answer("g.example", 100);
        assert!(c.insert(&k, a, Instant::ZERO));
        assert!(matches!(c.lookup(&k, Instant::ZERO), Lookup::Fresh { .. }));
        assert_eq!(c.len(), 5);
    }

    #[test]
    fn an_answer_is_stored_only_under_its_own_question() {
        let mut c = cache(1 << 20, 0);
        let (mut k, a) = answer("a.example", 60);
        let (other, _) = answer("b.example", 60);
        assert!(!c.insert(&other, a.clone(), Instant::ZERO));
        assert!(!c.insert(&[], a.clone(), Instant::ZERO));
        assert_eq!((c.stats().mismatched, c.len()), (2, 0));
        // The partition byte is part of the key: CD=1 is a different entry.
        *k.last_mut().unwrap() = PARTITION_CD;
        assert!(c.insert(&k, a, Instant::ZERO));
        assert!(matches!(c.lookup(&k, Instant::ZERO), Lookup::Fresh { .. }));
        *k.last_mut().unwrap() = 0;
        assert!(matches!(c.lookup(&k, Instant::ZERO), Lookup::Miss));
    }
}
