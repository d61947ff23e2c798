//! Locality-Based Least-Connection (`lblc`), after `ip_vs_lblc.c`, and the destination-IP cache
//! with its garbage collector that `lblc` and `lblcr` share.
//!
//! The cache has the kernel's shape: 1024 chained buckets (`CONFIG_IP_VS_LBLC_TAB_BITS` = 10)
//! indexed by `hash_32(ntohl(addr_fold), 10)` (IPv6 folded by XOR of its four words), a GC tick
//! every 60 s, a partial sweep of entries idle for 6 min when the table holds more than 16 384
//! entries (at most min((entries − 16384)·4/3, 8192) per tick, from a rover), and a full sweep of
//! entries idle longer than the expiration (24 h by default) every 30th tick. Being Sans-IO, the
//! timer is driven by the `now` passed to `pick`: the first pick arms it, and each pick first
//! runs every tick that fell due, at its own deadline. Long idle gaps are crossed arithmetically
//! where the ticks provably do nothing, so a pick after years of silence stays cheap.
//!
//! One bound the kernel lacks: the cache holds at most [`LocalityConfig::max_entries`] entries;
//! beyond that a miss is scheduled without being cached, which is what the kernel does when its
//! allocation fails.

use core::net::IpAddr;
use core::time::Duration;

use lvs_core::{ConnState, DestId, DestLoad, DestParams, Flow, Instant, SchedError, Scheduler};

use crate::dest::{Dest, DestTable};
use crate::least::Wlc;
use crate::reference::NaiveScan;

/// GC tick interval (`CHECK_EXPIRE_INTERVAL`).
pub const CHECK_EXPIRE_INTERVAL: Duration = Duration::from_secs(60);
/// Idle time after which the partial sweep may drop an entry (`ENTRY_TIMEOUT`).
pub const ENTRY_TIMEOUT: Duration = Duration::from_secs(6 * 60);
/// Default `lblc_expiration` / `lblcr_expiration`: 24 h.
pub const DEFAULT_EXPIRATION: Duration = Duration::from_secs(24 * 60 * 60);
/// Every this many ticks the GC runs a full expiration sweep.
pub const COUNT_FOR_FULL_EXPIRATION: u32 = 30;
/// Hash table bits (1024 buckets).
pub const TAB_BITS: u32 = 10;
const TAB_SIZE: usize = 1 << TAB_BITS;
/// Entries above which the partial sweep runs (16 × 1024).
pub const MAX_SIZE: usize = TAB_SIZE * 16;

/// Tunables of the locality schedulers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalityConfig {
    /// Idle time after which the full sweep drops an entry (`lblc_expiration` sysctl), and for
    /// lblcr also how long a set must stay unmodified before it shrinks.
    pub expiration: Duration,
    /// Hard limit on cached destination addresses (not in the kernel; see the module docs).
    pub max_entries: usize,
}

impl Default for LocalityConfig {
    fn default() -> Self {
        Self {
            expiration: DEFAULT_EXPIRATION,
            max_entries: 1 << 20,
        }
    }
}

/// The kernel's bucket for a destination address: `hash_32(ntohl(fold), 10)`.
pub fn bucket_of(addr: IpAddr) -> usize {
    let fold = match addr {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(a) => {
            let o = a.octets();
            o.chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .fold(0, |x, w| x ^ w)
        }
    };
    (fold.wrapping_mul(0x61C8_8647) >> (32 - TAB_BITS)) as usize
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A cache entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry<V> {
    pub(crate) addr: IpAddr,
    pub(crate) lastuse: u64,
    pub(crate) value: V,
}

/// The bucketed cache with the kernel's GC.
#[derive(Debug, Clone)]
pub(crate) struct Cache<V> {
    buckets: Vec<Vec<Entry<V>>>,
    entries: usize,
    counter: u32,
    rover: usize,
    /// Next tick deadline in nanoseconds; `None` until the first pick arms the timer.
    next_tick: Option<u64>,
    /// A lower bound on the earliest `lastuse + expiration` of any entry.
    min_expiry: u64,
    last_now: u64,
    /// Process every tick one by one, as the kernel's timer does (tests compare both ways).
    step_each_tick: bool,
    pub(crate) cfg: LocalityConfig,
}

impl<V> Cache<V> {
    pub(crate) fn new(cfg: LocalityConfig) -> Self {
        Self {
            buckets: (0..TAB_SIZE).map(|_| Vec::new()).collect(),
            entries: 0,
            counter: 1,
            rover: 0,
            next_tick: None,
            min_expiry: u64::MAX,
            last_now: 0,
            step_each_tick: false,
            cfg,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries
    }

    pub(crate) fn set_expiration(&mut self, expiration: Duration) {
        self.cfg.expiration = expiration;
        self.min_expiry = 0;
    }

    pub(crate) fn get(&self, addr: IpAddr) -> Option<&Entry<V>> {
        self.buckets[bucket_of(addr)]
            .iter()
            .find(|e| e.addr == addr)
    }

    pub(crate) fn get_mut(&mut self, addr: IpAddr) -> Option<&mut Entry<V>> {
        self.buckets[bucket_of(addr)]
            .iter_mut()
            .find(|e| e.addr == addr)
    }

    /// Add a new entry (the caller checked it is absent). Returns false at the hard limit.
    pub(crate) fn insert(&mut self, addr: IpAddr, now: u64, value: V) -> bool {
        if self.entries >= self.cfg.max_entries {
            return false;
        }
        self.buckets[bucket_of(addr)].push(Entry {
            addr,
            lastuse: now,
            value,
        });
        self.entries += 1;
        let exp = now.saturating_add(nanos(self.cfg.expiration));
        self.min_expiry = self.min_expiry.min(exp);
        true
    }

    /// Every entry, in bucket order (for pruning and tests).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry<V>> {
        self.buckets.iter().flatten()
    }

    /// Clamp `now` to be monotonic and run every GC tick due at or before it. Returns the
    /// clamped time in nanoseconds.
    pub(crate) fn advance(&mut self, now: Instant) -> u64 {
        let now = now.as_nanos().max(self.last_now);
        self.last_now = now;
        let tick = nanos(CHECK_EXPIRE_INTERVAL);
        let Some(mut next) = self.next_tick else {
            self.next_tick = Some(now.saturating_add(tick));
            return now;
        };
        while next <= now && next != u64::MAX {
            let due = (now - next) / tick + 1;
            if self.counter.is_multiple_of(COUNT_FOR_FULL_EXPIRATION) {
                let noop = self.entries == 0 || next < self.min_expiry;
                if noop && self.entries <= MAX_SIZE && !self.step_each_tick {
                    // Whole 30-tick cycles whose full sweeps remove nothing leave the state as
                    // it is: cross them at once.
                    let cycle = u64::from(COUNT_FOR_FULL_EXPIRATION);
                    let mut cycles = due / cycle;
                    if self.entries > 0 {
                        cycles = cycles.min((self.min_expiry - next - 1) / (tick * cycle) + 1);
                    }
                    if cycles > 0 {
                        next = next.saturating_add(cycles * cycle * tick);
                        continue;
                    }
                }
                if !noop || self.step_each_tick {
                    self.full_check(next);
                }
                self.counter = 1;
            } else if self.entries <= MAX_SIZE {
                let until_full =
                    u64::from(COUNT_FOR_FULL_EXPIRATION - self.counter % COUNT_FOR_FULL_EXPIRATION);
                let k = if self.step_each_tick {
                    1
                } else {
                    due.min(until_full)
                };
                self.counter += k as u32;
                next = next.saturating_add((k - 1) * tick);
            } else {
                self.partial_check(next);
            }
            next = next.saturating_add(tick);
        }
        self.next_tick = Some(next);
        now
    }

    fn full_check(&mut self, now: u64) {
        let exp = nanos(self.cfg.expiration);
        let mut min_expiry = u64::MAX;
        for bucket in &mut self.buckets {
            let before = bucket.len();
            bucket.retain(|e| now < e.lastuse.saturating_add(exp));
            self.entries -= before - bucket.len();
            for e in bucket.iter() {
                min_expiry = min_expiry.min(e.lastuse.saturating_add(exp));
            }
        }
        // The kernel walks all 1024 buckets from rover + 1, which leaves the rover in place.
        self.min_expiry = min_expiry;
    }

    fn partial_check(&mut self, now: u64) {
        let timeout = nanos(ENTRY_TIMEOUT);
        let excess = self.entries.saturating_sub(MAX_SIZE);
        let mut goal = (excess * 4 / 3).min(MAX_SIZE / 2) as i64;
        let mut j = self.rover;
        for _ in 0..TAB_SIZE {
            j = (j + 1) & (TAB_SIZE - 1);
            let bucket = &mut self.buckets[j];
            let before = bucket.len();
            bucket.retain(|e| now < e.lastuse.saturating_add(timeout));
            let removed = before - bucket.len();
            self.entries -= removed;
            goal -= removed as i64;
            if goal <= 0 {
                break;
            }
        }
        self.rover = j;
    }
}

/// The weighted least-connection search over all destinations that the locality schedulers
/// fall back to: the indexed [`Wlc`] or the [`NaiveScan`] reference.
pub trait WlcBackend: Scheduler {
    /// Whether the "some destination is under half its weight" test may use a maintained count
    /// (`true`) or must scan like the kernel (`false`).
    const INDEXED: bool;
    /// A fresh, empty backend.
    fn fresh() -> Self;
    /// The destination table.
    fn dest_table(&self) -> &DestTable;
    /// The wlc choice over all destinations.
    fn wlc_best(&self) -> Option<usize>;
}

impl WlcBackend for Wlc {
    const INDEXED: bool = true;
    fn fresh() -> Self {
        Self::new()
    }
    fn dest_table(&self) -> &DestTable {
        self.table()
    }
    fn wlc_best(&self) -> Option<usize> {
        self.best()
    }
}

impl WlcBackend for NaiveScan {
    const INDEXED: bool = false;
    fn fresh() -> Self {
        Self::wlc()
    }
    fn dest_table(&self) -> &DestTable {
        self.table()
    }
    fn wlc_best(&self) -> Option<usize> {
        self.best()
    }
}

/// A destination with fewer than half as many active connections as its weight.
fn underloaded(d: &Dest) -> bool {
    u64::from(d.active) * 2 < u64::from(d.params.weight)
}

/// The destination list, its wlc index and the count of under-half-loaded destinations, kept in
/// step on every notification. Shared by lblc and lblcr.
#[derive(Debug, Clone)]
pub(crate) struct Dests<B> {
    pub(crate) backend: B,
    under: usize,
}

impl<B: WlcBackend> Dests<B> {
    pub(crate) fn new() -> Self {
        Self {
            backend: B::fresh(),
            under: 0,
        }
    }

    pub(crate) fn table(&self) -> &DestTable {
        self.backend.dest_table()
    }

    /// Apply `f` to the backend, keeping the under-half count in step for `id`.
    pub(crate) fn with<T>(&mut self, id: DestId, f: impl FnOnce(&mut B) -> T) -> T {
        let before = self.table().get(id).is_some_and(underloaded);
        let out = f(&mut self.backend);
        let after = self.table().get(id).is_some_and(underloaded);
        match (before, after) {
            (false, true) => self.under += 1,
            (true, false) => self.under -= 1,
            _ => {}
        }
        out
    }

    /// The kernel's `is_overloaded`: more active connections than weight while some destination
    /// is below half of its weight. (It does not look at the OVERLOAD flag.)
    pub(crate) fn is_overloaded(&self, d: &Dest) -> bool {
        if d.active <= d.params.weight {
            return false;
        }
        if B::INDEXED {
            self.under > 0
        } else {
            self.table().list().iter().any(underloaded)
        }
    }

    pub(crate) fn wlc(&self) -> Option<usize> {
        self.backend.wlc_best()
    }
}

/// Locality-Based Least-Connection: each destination IP (the packet's, as for a cache cluster)
/// is served by one real server, chosen by `wlc` on first sight and kept while it is usable.
///
/// The cached server is kept if it is still in the list, has weight > 0 and is not
/// "overloaded", which here means more active connections than its weight while some server is
/// below half of its weight; the OVERLOAD flag is *not* checked on a hit (a kernel quirk kept on
/// purpose). Otherwise `wlc` picks over all servers (there the OVERLOAD flag is honoured) and the
/// entry is replaced. Entries expire as described in the [module docs](self).
///
/// Balances locality first (one server per destination address, to keep caches warm) and load
/// second. Use it for transparent web caches keyed by destination. Cost: a hit is O(1) (hash
/// lookup plus a maintained count for the overload probe, where the kernel scans); a miss adds an
/// O(1) read of the wlc index root; notifications are O(log N); GC ticks are amortised O(1).
#[derive(Debug, Clone)]
pub struct Lblc<B: WlcBackend = Wlc> {
    dests: Dests<B>,
    cache: Cache<DestId>,
}

impl Lblc<Wlc> {
    /// An empty scheduler with the kernel's defaults.
    pub fn new() -> Self {
        Self::with_config(LocalityConfig::default())
    }

    /// An empty scheduler with the given tunables.
    pub fn with_config(cfg: LocalityConfig) -> Self {
        Self::with_backend_config(cfg)
    }
}

impl Default for Lblc<Wlc> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: WlcBackend> Lblc<B> {
    /// An empty scheduler over any wlc backend (the reference uses [`NaiveScan`]).
    pub fn with_backend_config(cfg: LocalityConfig) -> Self {
        Self {
            dests: Dests::new(),
            cache: Cache::new(cfg),
        }
    }

    /// Change the expiration (the `lblc_expiration` sysctl).
    pub fn set_expiration(&mut self, expiration: Duration) {
        self.cache.set_expiration(expiration);
    }

    /// Number of cached destination addresses.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// The server cached for a destination address.
    pub fn cached(&self, addr: IpAddr) -> Option<DestId> {
        self.cache.get(addr).map(|e| e.value)
    }
}

impl<B: WlcBackend> Scheduler for Lblc<B> {
    fn name(&self) -> &'static str {
        "lblc"
    }
    fn add_dest(&mut self, id: DestId, params: DestParams) -> Result<(), SchedError> {
        self.dests.with(id, |b| b.add_dest(id, params))
    }
    fn remove_dest(&mut self, id: DestId) -> Result<(), SchedError> {
        self.dests.with(id, |b| b.remove_dest(id))
    }
    fn set_weight(&mut self, id: DestId, weight: u32) -> Result<(), SchedError> {
        self.dests.with(id, |b| b.set_weight(id, weight))
    }
    fn set_thresholds(&mut self, id: DestId, upper: u32, lower: u32) -> Result<(), SchedError> {
        self.dests.backend.set_thresholds(id, upper, lower)
    }
    fn conn_bound(&mut self, id: DestId, state: ConnState) {
        self.dests.with(id, |b| b.conn_bound(id, state));
    }
    fn conn_unbound(&mut self, id: DestId, state: ConnState) {
        self.dests.with(id, |b| b.conn_unbound(id, state));
    }
    fn conn_changed(&mut self, id: DestId, from: ConnState, to: ConnState) {
        self.dests.with(id, |b| b.conn_changed(id, from, to));
    }

    fn pick(&mut self, flow: &Flow, now: Instant) -> Option<DestId> {
        let now = self.cache.advance(now);
        let table = self.dests.table();
        if let Some(en) = self.cache.get_mut(flow.dst) {
            en.lastuse = now;
            if let Some(d) = table.get(en.value)
                && d.params.weight > 0
                && !self.dests.is_overloaded(d)
            {
                return Some(d.id);
            }
        }
        let id = table.list()[self.dests.wlc()?].id;
        match self.cache.get_mut(flow.dst) {
            Some(en) => en.value = id,
            None => {
                self.cache.insert(flow.dst, now, id);
            }
        }
        Some(id)
    }

    fn load(&self, id: DestId) -> Option<DestLoad> {
        self.dests.table().get(id).map(Dest::load)
    }
    fn dests(&self) -> Vec<DestId> {
        self.dests.table().ids()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn state(c: &Cache<u32>) -> (Vec<(IpAddr, u64)>, u32, usize, Option<u64>) {
        let mut v: Vec<_> = c.iter().map(|e| (e.addr, e.lastuse)).collect();
        v.sort();
        (v, c.counter, c.rover, c.next_tick)
    }

    #[test]
    fn skipping_idle_ticks_matches_stepping_every_tick() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut rnd = move |m: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % m
        };
        for round in 0..300 {
            let cfg = LocalityConfig {
                expiration: Duration::from_secs(600 + rnd(20_000)),
                max_entries: 64,
            };
            let mut fast = Cache::<u32>::new(cfg);
            let mut slow = Cache::<u32>::new(cfg);
            slow.step_each_tick = true;
            let mut now = Instant::ZERO;
            for step in 0..40 {
                let gap = match rnd(4) {
                    0 => rnd(120),
                    1 => rnd(4_000),
                    2 => rnd(20_000),
                    _ => rnd(100_000),
                };
                now += Duration::from_secs(gap);
                let t = fast.advance(now);
                assert_eq!(slow.advance(now), t);
                let addr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, rnd(40) as u8));
                for c in [&mut fast, &mut slow] {
                    match c.get_mut(addr) {
                        Some(e) => e.lastuse = t,
                        None => {
                            c.insert(addr, t, 0);
                        }
                    }
                }
                assert_eq!(state(&fast), state(&slow), "round {round} step {step}");
            }
        }
    }
}
