//! Maglev consistent hashing (Eisenbud et al., NSDI'16 §3.4) with exact weighted quotas and a
//! minimal-churn rebuild mode.
//!
//! # The table
//! A prime number M of slots, each owned by one backend. Backend *i* has a preference list
//! `offset_i + j·skip_i mod M` (`offset = h1 mod M`, `skip = h2 mod (M−1) + 1`, with h1/h2 two
//! SipHash-1-3 hashes of its address and port under keys derived from [`MaglevConfig::seed`]).
//! Backends take turns claiming their next free preferred slot. The lookup hashes the flow to
//! a slot: `⌊hash·M / 2^64⌋` (uniform like `hash mod M`, without a division).
//!
//! # What we add to the paper
//! * **Deterministic across nodes**: permutations depend only on (seed, address, port); turns
//!   go in the order of the stable key (address, port, id), never in insertion order.
//! * **Exact weighted quotas**: backend *i* owns `⌊M·w_i/W⌋` or `⌈M·w_i/W⌉` slots (largest
//!   remainder), so it is always within 1 slot of `M·w_i/W`. Turns are spread over
//!   ⌈claims/backends⌉ rounds so every backend claims in proportion to its quota.
//! * **Quiesce-stable**: quotas come from the last non-zero weight (IPVS `last_weight`), so
//!   weight 0 keeps the slots. A lookup that lands on a quiesced or OVERLOADED backend either
//!   misses (`fallback: false`) or walks forward slot by slot to the next eligible owner
//!   (`fallback: true`, the default): flows of healthy backends never move.
//! * **O(N) extra memory**: preferences are generated with a per-backend cursor; there is no
//!   N×M permutation array. The build keeps a bitmap of M bits.
//! * **Minimal-churn mode** ([`RebuildMode::MinimalChurn`]): a rebuild starts from the current
//!   table, picks new integer quotas (still within 1 slot of `M·w/W`) that keep as many slots
//!   in place as possible, releases only the surplus, and lets the backends short of their quota
//!   claim free or surplus slots along their preference lists. Removing a backend moves only
//!   its own slots; adding one moves as many slots as its quota. The table then depends on the
//!   history of changes, not only the current set: nodes agree if they apply the same changes
//!   from the same start; [`MaglevTable::rebuild_classic`] returns to the canonical table.
//!
//! # Cost
//! Build: O(M log M) probes on average (a bit per probe), O(N log N) for the quota step. Lookup:
//! one multiply-mix hash and one load, no division. Memory: 4·M bytes of table plus O(N).

use core::cmp::{Ordering, Reverse};
use core::hash::BuildHasherDefault;
use core::net::IpAddr;
use std::collections::HashMap;

use lvs_core::rng::derive_seed;
use lvs_core::{ConnState, DestId, DestLoad, DestParams, Flow, Instant, SchedError, Scheduler};

use crate::dest::{Dest, DestTable, IdHasher, MAX_WEIGHT};
use crate::khash::{SipKey, TableConfigError, siphash_1_3};

/// The largest table size accepted (slots are `u32` handles; 4 M slots is 16 MiB).
pub const MAX_TABLE_SIZE: u32 = 1 << 22;
/// The paper's default table size.
pub const DEFAULT_SIZE: u32 = 65537;
/// The paper's "large" table size.
pub const LARGE_SIZE: u32 = 655_373;
const NONE: u32 = u32::MAX;

/// How a rebuild treats the current table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RebuildMode {
    /// Rebuild from scratch (the paper): the table depends only on the backend set.
    #[default]
    Classic,
    /// Keep every slot whose owner stays within its quota; move only what quotas require.
    MinimalChurn,
}

/// Which fields of a flow select the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FlowKey {
    /// The client address: all connections of one client go to one backend.
    SrcAddr,
    /// Client address and port (like IPVS `mh-port`, but hashed as a whole, so no structural
    /// collisions such as `(a, p+1)` = `(a+1, p)`).
    #[default]
    SrcAddrPort,
    /// The full 5-tuple (protocol, both addresses, both ports): the "fixed" variant that also
    /// spreads one client's connections to different virtual services.
    FiveTuple,
}

/// Configuration of a [`MaglevTable`] / [`MaglevScheduler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaglevConfig {
    /// Table size M: a prime in `3..=MAX_TABLE_SIZE` (e.g. the IPVS primes up to 131071, the
    /// paper's 65537 and 655373). Keep M ≥ 100·N for a balance within 1 %.
    pub size: u32,
    /// Hash seed: every node of a cluster must use the same value.
    pub seed: u64,
    /// Classic or minimal-churn rebuilds.
    pub mode: RebuildMode,
    /// Walk to the next eligible slot when the owner is quiesced or OVERLOADED (else miss).
    pub fallback: bool,
    /// The flow fields hashed by [`MaglevTable::flow_hash`].
    pub key: FlowKey,
}

impl Default for MaglevConfig {
    fn default() -> Self {
        Self {
            size: DEFAULT_SIZE,
            seed: 0x6d61_676c_6576,
            mode: RebuildMode::Classic,
            fallback: true,
            key: FlowKey::SrcAddrPort,
        }
    }
}

/// Whether `n` is prime (trial division; table sizes are small).
pub fn is_prime(n: u32) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2u32;
    while d.saturating_mul(d) <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}

#[derive(Debug, Clone)]
struct Backend {
    id: DestId,
    addr: IpAddr,
    port: u16,
    weight: u32,
    quota_weight: u32,
    overloaded: bool,
    offset: u32,
    skip: u32,
    count: u32,
    live: bool,
}

impl Backend {
    fn eligible(&self) -> bool {
        self.live && self.weight > 0 && !self.overloaded
    }
}

/// A Maglev lookup table over weighted backends (see the [module docs](self)).
///
/// Balances on a 64-bit flow hash ([`flow_hash`](Self::flow_hash) or the caller's own). Every
/// change (insert, remove, a weight change that alters quotas) rebuilds immediately; use
/// [`from_backends`](Self::from_backends) to build a whole set at once.
#[derive(Debug, Clone)]
pub struct MaglevTable {
    cfg: MaglevConfig,
    keys: [u64; 5],
    perm_keys: (SipKey, SipKey),
    slots: Box<[u32]>,
    /// Per handle: the id and whether it may take new flows (the lookup's only other load).
    hot: Vec<(DestId, bool)>,
    backends: Vec<Backend>,
    /// Live handles sorted by the stable key; `None` after the set changed.
    order: Option<Vec<u32>>,
    free: Vec<u32>,
    index: HashMap<DestId, u32, BuildHasherDefault<IdHasher>>,
    /// Slots whose owner may take new flows (bounds the fallback walk).
    eligible_slots: u64,
}

#[inline]
fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

#[inline]
fn addr_words(a: &IpAddr) -> (u64, u64) {
    // IPv4 as its IPv4-mapped IPv6 form, so both spellings of one client hash alike.
    match a {
        IpAddr::V4(v4) => (0, 0xffff_0000_0000 | u64::from(u32::from(*v4))),
        IpAddr::V6(v6) => {
            let x = u128::from(*v6);
            ((x >> 64) as u64, x as u64)
        }
    }
}

impl MaglevTable {
    /// An empty table; fails when `cfg.size` is not a prime in `3..=MAX_TABLE_SIZE`.
    pub fn new(cfg: MaglevConfig) -> Result<Self, TableConfigError> {
        if cfg.size < 3 || cfg.size > MAX_TABLE_SIZE || !is_prime(cfg.size) {
            return Err(TableConfigError::MaglevSize {
                size: cfg.size,
                max: MAX_TABLE_SIZE,
            });
        }
        let k = |i| derive_seed(cfg.seed, i);
        Ok(Self {
            cfg,
            keys: [k(0), k(1), k(2), k(3), k(4) | 1],
            perm_keys: (SipKey::new(k(5), k(6)), SipKey::new(k(7), k(8))),
            slots: vec![NONE; cfg.size as usize].into_boxed_slice(),
            hot: Vec::new(),
            backends: Vec::new(),
            order: None,
            free: Vec::new(),
            index: HashMap::default(),
            eligible_slots: 0,
        })
    }

    /// Build a table over `(id, address, port, weight)` backends with a single rebuild.
    pub fn from_backends(
        cfg: MaglevConfig,
        backends: impl IntoIterator<Item = (DestId, IpAddr, u16, u32)>,
    ) -> Result<Self, FromBackendsError> {
        let mut t = Self::new(cfg).map_err(FromBackendsError::Config)?;
        for (id, addr, port, weight) in backends {
            t.insert_no_rebuild(id, addr, port, weight)
                .map_err(FromBackendsError::Backend)?;
        }
        t.rebuild();
        Ok(t)
    }

    /// The configuration.
    pub fn config(&self) -> &MaglevConfig {
        &self.cfg
    }

    /// The table size M.
    pub fn size(&self) -> usize {
        self.slots.len()
    }

    /// Number of backends.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are no backends.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The `(offset, skip)` of a backend address in this table.
    pub fn offset_skip(&self, addr: &IpAddr, port: u16) -> (u32, u32) {
        let mut buf = [0u8; 19];
        let len = match addr {
            IpAddr::V4(a) => {
                buf[0] = 4;
                buf[1..5].copy_from_slice(&a.octets());
                5
            }
            IpAddr::V6(a) => {
                buf[0] = 6;
                buf[1..17].copy_from_slice(&a.octets());
                17
            }
        };
        buf[len..len + 2].copy_from_slice(&port.to_be_bytes());
        let data = &buf[..len + 2];
        let m = u64::from(self.cfg.size);
        let offset = siphash_1_3(data, &self.perm_keys.0) % m;
        let skip = siphash_1_3(data, &self.perm_keys.1) % (m - 1) + 1;
        (offset as u32, skip as u32)
    }

    /// The 64-bit hash of a flow under [`MaglevConfig::key`] and the seed.
    #[inline]
    pub fn flow_hash(&self, flow: &Flow) -> u64 {
        let k = &self.keys;
        let (hi, lo) = addr_words(&flow.src);
        let mut h = mum(hi ^ k[0], lo ^ k[1]);
        let extra = match self.cfg.key {
            FlowKey::SrcAddr => 0,
            FlowKey::SrcAddrPort => u64::from(flow.src_port) | 1 << 16,
            FlowKey::FiveTuple => {
                let (dhi, dlo) = addr_words(&flow.dst);
                h ^= mum(dhi ^ k[2], dlo ^ k[3]);
                u64::from(flow.src_port)
                    | u64::from(flow.dst_port) << 16
                    | u64::from(flow.protocol) << 32
                    | 2 << 40
            }
        };
        mum(h ^ extra ^ k[2], k[4])
    }

    /// The slot a hash lands in: `⌊hash·M / 2^64⌋`.
    #[inline]
    pub fn slot_of(&self, hash: u64) -> usize {
        ((u128::from(hash) * self.slots.len() as u128) >> 64) as usize
    }

    /// The owner of slot `i` (`None` when empty or out of range).
    pub fn owner(&self, slot: usize) -> Option<DestId> {
        let h = *self.slots.get(slot)?;
        self.hot.get(h as usize).map(|b| b.0)
    }

    /// Owners of every slot, in slot order.
    pub fn owners(&self) -> impl Iterator<Item = Option<DestId>> + '_ {
        (0..self.slots.len()).map(|i| self.owner(i))
    }

    /// Number of slots `id` owns.
    pub fn slot_count(&self, id: DestId) -> Option<u32> {
        self.index
            .get(&id)
            .map(|&h| self.backends[h as usize].count)
    }

    /// The weight quotas are computed from (the last non-zero weight), and the current weight.
    pub fn weights(&self, id: DestId) -> Option<(u32, u32)> {
        let b = &self.backends[*self.index.get(&id)? as usize];
        Some((b.quota_weight, b.weight))
    }

    /// The raw owner of the hash's slot, eligible or not.
    #[inline]
    pub fn lookup(&self, hash: u64) -> Option<DestId> {
        self.owner(self.slot_of(hash))
    }

    /// The backend for a new flow with this hash: the slot owner if it is eligible (weight > 0,
    /// not OVERLOADED), else per [`MaglevConfig::fallback`] the owner of the next eligible slot
    /// or `None`.
    #[inline]
    pub fn get(&self, hash: u64) -> Option<DestId> {
        let slot = self.slot_of(hash);
        let &(id, ok) = self.hot.get(self.slots[slot] as usize)?;
        if ok {
            return Some(id);
        }
        if !self.cfg.fallback || self.eligible_slots == 0 {
            return None;
        }
        self.walk(slot)
    }

    #[cold]
    fn walk(&self, slot: usize) -> Option<DestId> {
        let m = self.slots.len();
        (1..m)
            .map(|j| self.slots[(slot + j) % m] as usize)
            .filter_map(|h| self.hot.get(h))
            .find(|b| b.1)
            .map(|b| b.0)
    }

    /// Add a backend and rebuild. Its quota weight starts at `weight` (0: no slots until it
    /// gets a non-zero weight).
    pub fn insert(
        &mut self,
        id: DestId,
        addr: IpAddr,
        port: u16,
        weight: u32,
    ) -> Result<(), SchedError> {
        self.insert_no_rebuild(id, addr, port, weight)?;
        self.rebuild();
        Ok(())
    }

    fn insert_no_rebuild(
        &mut self,
        id: DestId,
        addr: IpAddr,
        port: u16,
        weight: u32,
    ) -> Result<(), SchedError> {
        if self.index.contains_key(&id) {
            return Err(SchedError::DuplicateDest(id));
        }
        if weight > MAX_WEIGHT {
            return Err(SchedError::InvalidWeight(weight));
        }
        if self.index.len() >= self.slots.len() {
            return Err(SchedError::TooManyDests {
                limit: self.slots.len(),
            });
        }
        let (offset, skip) = self.offset_skip(&addr, port);
        let b = Backend {
            id,
            addr,
            port,
            weight,
            quota_weight: weight,
            overloaded: false,
            offset,
            skip,
            count: 0,
            live: true,
        };
        let hot = (id, b.eligible());
        let h = match self.free.pop() {
            Some(h) => {
                self.backends[h as usize] = b;
                self.hot[h as usize] = hot;
                h
            }
            None => {
                self.backends.push(b);
                self.hot.push(hot);
                (self.backends.len() - 1) as u32
            }
        };
        self.index.insert(id, h);
        self.order = None;
        Ok(())
    }

    /// Remove a backend and rebuild.
    pub fn remove(&mut self, id: DestId) -> Result<(), SchedError> {
        let h = self.index.remove(&id).ok_or(SchedError::NoSuchDest(id))?;
        let b = &mut self.backends[h as usize];
        b.live = false;
        self.hot[h as usize].1 = false;
        self.order = None;
        if b.count > 0 {
            b.count = 0;
            for s in self.slots.iter_mut().filter(|s| **s == h) {
                *s = NONE;
            }
        }
        self.free.push(h);
        self.rebuild();
        Ok(())
    }

    /// Change a backend's weight. Weight 0 quiesces it (slots kept); a non-zero weight that
    /// differs from the quota weight rebuilds.
    pub fn set_weight(&mut self, id: DestId, weight: u32) -> Result<(), SchedError> {
        if weight > MAX_WEIGHT {
            return Err(SchedError::InvalidWeight(weight));
        }
        let h = *self.index.get(&id).ok_or(SchedError::NoSuchDest(id))? as usize;
        self.set_flag(h, |b| b.weight = weight);
        let b = &mut self.backends[h];
        if weight > 0 && weight != b.quota_weight {
            b.quota_weight = weight;
            self.rebuild();
        }
        Ok(())
    }

    /// Mark a backend OVERLOADED (no new flows) or not; the table does not change.
    pub fn set_overloaded(&mut self, id: DestId, overloaded: bool) -> Result<(), SchedError> {
        let h = *self.index.get(&id).ok_or(SchedError::NoSuchDest(id))? as usize;
        self.set_flag(h, |b| b.overloaded = overloaded);
        Ok(())
    }

    fn set_flag(&mut self, h: usize, f: impl FnOnce(&mut Backend)) {
        let b = &mut self.backends[h];
        let before = b.eligible();
        f(b);
        self.hot[h].1 = b.eligible();
        match (before, b.eligible()) {
            (true, false) => self.eligible_slots -= u64::from(b.count),
            (false, true) => self.eligible_slots += u64::from(b.count),
            _ => {}
        }
    }

    /// Rebuild from scratch regardless of the mode: the canonical table of the current set.
    pub fn rebuild_classic(&mut self) {
        self.clear_slots();
        self.fill();
    }

    fn clear_slots(&mut self) {
        self.slots.fill(NONE);
        for b in &mut self.backends {
            b.count = 0;
        }
    }

    fn rebuild(&mut self) {
        if self.cfg.mode == RebuildMode::Classic {
            self.clear_slots();
        }
        self.fill();
    }

    /// Live handles sorted by the stable key (address, port, id).
    fn stable_order(&mut self) -> Vec<u32> {
        if let Some(o) = self.order.take() {
            return o;
        }
        let mut order: Vec<u32> = self.index.values().copied().collect();
        order.sort_unstable_by_key(|&h| {
            let b = &self.backends[h as usize];
            (b.addr, b.port, b.id)
        });
        order
    }

    /// Choose integer targets within one slot of `M·w/W` that keep the most slots in place.
    fn targets(&self, order: &[u32]) -> Vec<u32> {
        let m = u64::from(self.cfg.size);
        let total: u64 = order
            .iter()
            .map(|&h| u64::from(self.backends[h as usize].quota_weight))
            .sum();
        let mut t = vec![0u32; order.len()];
        if total == 0 {
            return t;
        }
        let (mut lo, mut rem) = (vec![0u64; order.len()], vec![0u64; order.len()]);
        let mut sum = 0u64;
        for (k, &h) in order.iter().enumerate() {
            let b = &self.backends[h as usize];
            let x = m * u64::from(b.quota_weight);
            (lo[k], rem[k]) = (x / total, x % total);
            let hi = lo[k] + u64::from(rem[k] > 0);
            t[k] = u64::from(b.count).clamp(lo[k], hi) as u32;
            sum += u64::from(t[k]);
        }
        let count = |k: usize| self.backends[order[k] as usize].count;
        // Move the fewest targets between floor and ceiling: first those where it saves a moved
        // slot, then those already moving (so moves concentrate on the backends that changed),
        // then by the remainder rule, then by the stable key.
        let mut cand: Vec<usize> = (0..order.len()).filter(|&k| rem[k] > 0).collect();
        if sum > m {
            cand.retain(|&k| u64::from(t[k]) > lo[k]);
            cand.sort_by_key(|&k| (t[k] <= count(k), t[k] == count(k), rem[k], k));
            for &k in cand.iter().take((sum - m) as usize) {
                t[k] -= 1;
            }
        } else if sum < m {
            cand.retain(|&k| u64::from(t[k]) == lo[k]);
            cand.sort_by_key(|&k| (count(k) <= t[k], count(k) == t[k], Reverse(rem[k]), k));
            for &k in cand.iter().take((m - sum) as usize) {
                t[k] += 1;
            }
        }
        t
    }

    fn fill(&mut self) {
        let order = self.stable_order();
        let targets = self.targets(&order);
        if targets.iter().all(|&t| t == 0) {
            self.clear_slots();
            self.eligible_slots = 0;
            self.order = Some(order);
            return;
        }
        let m = self.slots.len();
        let mut surplus = vec![0u32; self.backends.len()];
        // (handle, claims still needed, claims planned so far)
        let mut gainers: Vec<(u32, u32)> = Vec::new();
        for (k, &h) in order.iter().enumerate() {
            let c = self.backends[h as usize].count;
            match targets[k].cmp(&c) {
                Ordering::Less => surplus[h as usize] = c - targets[k],
                Ordering::Greater => gainers.push((h, targets[k] - c)),
                Ordering::Equal => {}
            }
        }
        // Candidate bitmap: free slots and slots of backends over their target.
        let mut cand = vec![0u64; m.div_ceil(64)];
        if gainers.iter().map(|g| u64::from(g.1)).sum::<u64>() == m as u64 {
            // From scratch: every slot is free (bits past M are never probed).
            cand.fill(!0);
        } else {
            for (i, &s) in self.slots.iter().enumerate() {
                if s == NONE || surplus[s as usize] > 0 {
                    cand[i / 64] |= 1 << (i % 64);
                }
            }
        }
        let need: u64 = gainers.iter().map(|g| u64::from(g.1)).sum();
        if need > 0 {
            // Gainer i makes ⌈n_i·r/R⌉ claims by the end of round r: one per round for equal
            // quotas (the paper's turns), proportionally more for heavier backends. Tracked as
            // n_i·r + R − 1 = q·R + s without divisions in the loop.
            let rounds = need.div_ceil(gainers.len() as u64);
            let mut state: Vec<(u32, u64, u64, u64)> = gainers
                .iter()
                .map(|&(h, n)| {
                    let n = u64::from(n);
                    (
                        self.backends[h as usize].offset,
                        n / rounds,
                        n % rounds,
                        rounds - 1,
                    )
                })
                .collect();
            for _ in 0..rounds {
                for (gi, &(h, _)) in gainers.iter().enumerate() {
                    let (cursor, base, extra, s) = &mut state[gi];
                    *s += *extra;
                    let carry = u64::from(*s >= rounds);
                    if carry == 1 {
                        *s -= rounds;
                    }
                    for _ in 0..*base + carry {
                        self.claim(h, cursor, &mut cand, &mut surplus);
                    }
                }
            }
        }
        self.eligible_slots = self
            .backends
            .iter()
            .filter(|b| b.eligible())
            .map(|b| u64::from(b.count))
            .sum();
        self.order = Some(order);
    }

    /// Claim the next free or surplus slot on `h`'s preference list from `cursor` on.
    #[inline]
    fn claim(&mut self, h: u32, cursor: &mut u32, cand: &mut [u64], surplus: &mut [u32]) {
        let m = self.slots.len() as u32;
        let skip = self.backends[h as usize].skip;
        // A full cycle visits every slot once; a gainer always finds one (claims never exceed
        // the free plus surplus slots), the bound only keeps a broken invariant from looping.
        let mut budget = m;
        while let Some(c) = next_candidate(cursor, skip, m, cand, &mut budget) {
            let owner = self.slots[c];
            if owner != NONE {
                let o = owner as usize;
                if surplus[o] == 0 {
                    continue;
                }
                surplus[o] -= 1;
                self.backends[o].count -= 1;
            }
            self.slots[c] = h;
            self.backends[h as usize].count += 1;
            return;
        }
        debug_assert!(false, "maglev claim found no slot");
    }
}

/// Walk the preference list from `cursor` to the next candidate slot, take its bit and return
/// it; `None` when `budget` probes found none. The build's hot loop: a bitmap of M bits.
#[inline(always)]
fn next_candidate(
    cursor: &mut u32,
    skip: u32,
    m: u32,
    cand: &mut [u64],
    budget: &mut u32,
) -> Option<usize> {
    let mut cur = *cursor;
    while *budget > 0 {
        *budget -= 1;
        let c = cur;
        cur += skip;
        if cur >= m {
            cur -= m;
        }
        let (w, bit) = ((c >> 6) as usize, 1u64 << (c & 63));
        let word = cand.get(w).copied().unwrap_or(0);
        if word & bit != 0 {
            cand[w] = word & !bit;
            *cursor = cur;
            return Some(c as usize);
        }
    }
    *cursor = cur;
    None
}

/// Why [`MaglevTable::from_backends`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FromBackendsError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(TableConfigError),
    /// A backend was rejected.
    #[error(transparent)]
    Backend(SchedError),
}

/// Maglev as a [`Scheduler`]: the [`MaglevTable`] fed by the shared destination list.
///
/// * Balances on the flow hash chosen by [`MaglevConfig::key`] (source address, source
///   address and port, or the 5-tuple).
/// * Pick: one hash and one load; an ineligible owner (weight 0 or OVERLOADED) falls back to
///   the next eligible slot or misses, per [`MaglevConfig::fallback`].
/// * Changes: add, delete and non-zero weight changes rebuild (O(M log M), about 1–2 ms at
///   M = 65537); weight 0 and OVERLOAD never touch the table.
/// * Use it for stateless or multi-director load balancing where every director must pick the
///   same backend and changes must disturb few flows; use [`RebuildMode::MinimalChurn`] when
///   directors share the change history (or re-sync with `rebuild_classic`).
#[derive(Debug, Clone)]
pub struct MaglevScheduler {
    dests: DestTable,
    table: MaglevTable,
}

impl MaglevScheduler {
    /// An empty scheduler; fails when the table size is invalid.
    pub fn new(cfg: MaglevConfig) -> Result<Self, TableConfigError> {
        Ok(Self {
            dests: DestTable::new(),
            table: MaglevTable::new(cfg)?,
        })
    }

    /// The lookup table.
    pub fn table(&self) -> &MaglevTable {
        &self.table
    }

    /// Rebuild the canonical table (see [`MaglevTable::rebuild_classic`]).
    pub fn rebuild_classic(&mut self) {
        self.table.rebuild_classic();
    }

    /// The destination list with its counters.
    pub fn dest_table(&self) -> &DestTable {
        &self.dests
    }

    fn sync_overload(&mut self, id: DestId, flipped: bool) {
        if flipped && let Some(d) = self.dests.get(id) {
            let _ = self.table.set_overloaded(id, d.overloaded);
        }
    }
}

impl Scheduler for MaglevScheduler {
    fn name(&self) -> &'static str {
        "maglev"
    }

    fn add_dest(&mut self, id: DestId, params: DestParams) -> Result<(), SchedError> {
        self.table
            .insert(id, params.addr, params.port, params.weight)?;
        if let Err(e) = self.dests.add(id, params) {
            let _ = self.table.remove(id);
            return Err(e);
        }
        Ok(())
    }

    fn remove_dest(&mut self, id: DestId) -> Result<(), SchedError> {
        self.dests.remove(id)?;
        self.table.remove(id)
    }

    fn set_weight(&mut self, id: DestId, weight: u32) -> Result<(), SchedError> {
        self.dests.set_weight(id, weight)?;
        self.table.set_weight(id, weight)
    }

    fn set_thresholds(&mut self, id: DestId, upper: u32, lower: u32) -> Result<(), SchedError> {
        let c = self.dests.set_thresholds(id, upper, lower)?;
        self.sync_overload(id, c.overload_flipped);
        Ok(())
    }

    fn conn_bound(&mut self, id: DestId, state: ConnState) {
        let flipped = self
            .dests
            .bind(id, state)
            .is_some_and(|c| c.overload_flipped);
        self.sync_overload(id, flipped);
    }

    fn conn_unbound(&mut self, id: DestId, state: ConnState) {
        let flipped = self
            .dests
            .unbind(id, state)
            .is_some_and(|c| c.overload_flipped);
        self.sync_overload(id, flipped);
    }

    fn conn_changed(&mut self, id: DestId, from: ConnState, to: ConnState) {
        self.dests.change(id, from, to);
    }

    fn pick(&mut self, flow: &Flow, _now: Instant) -> Option<DestId> {
        self.table.get(self.table.flow_hash(flow))
    }

    fn load(&self, id: DestId) -> Option<DestLoad> {
        self.dests.get(id).map(Dest::load)
    }

    fn dests(&self) -> Vec<DestId> {
        self.dests.ids()
    }
}
