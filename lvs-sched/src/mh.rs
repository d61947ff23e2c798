//! `mh`: Maglev hashing as IPVS does it (Linux `ip_vs_mh.c`), with `mh-fallback` and `mh-port`.
//!
//! For the paper's Maglev with exact weighted quotas, insertion-order independence and a
//! minimal-churn mode, see [`crate::maglev`].

use core::net::IpAddr;

use lvs_core::{DestId, DestParams, Flow, Instant, SchedError, Scheduler};

use crate::dest::{Dest, DestTable};
use crate::khash::{MH_KEY1, MH_KEY2, SipKey, TableConfigError, addr_fold, hsiphash_u32};
use crate::sh::key_port;

/// The kernel's table sizes, indexed by `CONFIG_IP_VS_MH_TAB_INDEX − 8`.
pub const MH_PRIMES: [u32; 10] = [
    251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
];
const NONE: u32 = u32::MAX;

/// Configuration of [`Mh`]: `CONFIG_IP_VS_MH_TAB_INDEX` and the two scheduler flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MhConfig {
    /// `CONFIG_IP_VS_MH_TAB_INDEX`, `8..=17` (default 12: M = 4093). It also sets the weight
    /// resolution: `MH_TAB_BITS` = index / 2.
    pub tab_index: u8,
    /// `mh-fallback` (`IP_VS_SVC_F_SCHED1`): rehash with growing offsets when the slot's
    /// destination is quiesced or OVERLOADED.
    pub fallback: bool,
    /// `mh-port` (`IP_VS_SVC_F_SCHED2`): add the source port (TCP, UDP, SCTP) to the key.
    pub port: bool,
}

impl Default for MhConfig {
    fn default() -> Self {
        Self {
            tab_index: 12,
            fallback: false,
            port: false,
        }
    }
}

impl MhConfig {
    /// The table size M for this index (`None` when out of range).
    pub fn table_size(&self) -> Option<u32> {
        let i = self.tab_index.checked_sub(8)?;
        MH_PRIMES.get(usize::from(i)).copied()
    }
}

/// One destination's input to [`populate`]: `ip_vs_mh_dest_setup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DestSetup {
    /// First preferred slot, `< size`.
    pub offset: u32,
    /// Stride through the table, `1..size`, coprime with `size`.
    pub skip: u32,
    /// Slots taken per round (0: none at all).
    pub turns: u32,
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `ip_vs_mh_populate`: fill `table` (length `size`) with indices into `setups`.
///
/// Destinations take turns in slice order; each claims its next free preferred slot
/// (`offset + j·skip mod size`) `turns` times per round until the table is full. When no setup
/// has turns, every slot becomes `u32::MAX`. Returns `false`, leaving `table` untouched, when an
/// input is out of range (wrong length, offset ≥ size, a skip not coprime with size).
pub fn populate(size: usize, setups: &[DestSetup], table: &mut [u32]) -> bool {
    let valid = |s: &DestSetup| {
        (s.offset as usize) < size
            && s.skip >= 1
            && ((s.skip as usize) < size || size == 1)
            && gcd(u64::from(s.skip), size as u64) == 1
    };
    if table.len() != size || size == 0 || !setups.iter().all(valid) {
        return false;
    }
    if setups.iter().all(|s| s.turns == 0) {
        table.fill(NONE);
        return true;
    }
    let mut taken = vec![0u64; size.div_ceil(64)];
    let mut perm: Vec<u32> = setups.iter().map(|s| s.offset).collect();
    let mut n = 0;
    loop {
        for (i, s) in setups.iter().enumerate() {
            for _ in 0..s.turns {
                let mut c = perm[i] as usize;
                while taken[c / 64] & (1 << (c % 64)) != 0 {
                    c += s.skip as usize;
                    if c >= size {
                        c -= size;
                    }
                }
                perm[i] = c as u32;
                taken[c / 64] |= 1 << (c % 64);
                table[c] = i as u32;
                n += 1;
                if n == size {
                    return true;
                }
            }
        }
    }
}

/// IPVS Maglev hashing: the client address (plus the source port with `mh-port`) is hashed with
/// `hsiphash` under fixed keys into a prime-sized table built by the kernel's Maglev variant.
///
/// * Table: each destination's preference list comes from `hsiphash(port + addr_fold)` of its
///   address; weights are `last_weight` divided by their gcd and shifted right so that the
///   largest fits in `tab_index / 2` bits; destinations take that many turns per round in list
///   order. Built from `last_weight`, a quiesced (weight 0) destination keeps its slots.
///   Every node with the same destination list in the same order builds the same table.
/// * Pick: the slot's destination when it has weight > 0 and is not OVERLOADED; otherwise
///   `None`, or with `mh-fallback` a rehash with offsets 0..M until an eligible destination.
/// * Cost: one `hsiphash` (about 10 ns) and a load per pick; a rebuild costs O(M log M) on
///   every add, delete or weight change; table memory 4·M bytes.
/// * Use it where kernel-identical tables matter (mixed fleets, ECMP in front of IPVS); the
///   structural collisions of the `offset + port + addr` key and list-order dependence are
///   kept on purpose. [`crate::maglev::MaglevScheduler`] is the better Maglev otherwise.
#[derive(Debug, Clone)]
pub struct Mh {
    cfg: MhConfig,
    size: u32,
    dests: DestTable,
    lookup: Box<[u32]>,
}

impl Mh {
    /// An empty `mh` scheduler; fails when `tab_index` is outside `8..=17`.
    pub fn new(cfg: MhConfig) -> Result<Self, TableConfigError> {
        let size = cfg
            .table_size()
            .ok_or(TableConfigError::MhIndex(cfg.tab_index))?;
        Ok(Self {
            cfg,
            size,
            dests: DestTable::new(),
            lookup: vec![NONE; size as usize].into_boxed_slice(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> MhConfig {
        self.cfg
    }

    /// The table size M.
    pub fn size(&self) -> usize {
        self.size as usize
    }

    /// The kernel's `ip_vs_mh_hashkey(af, addr, port, key, offset)`.
    pub fn hashkey(addr: &IpAddr, port: u16, key: &SipKey, offset: u32) -> u32 {
        let v = offset
            .wrapping_add(u32::from(port))
            .wrapping_add(addr_fold(addr));
        hsiphash_u32(v, key)
    }

    /// A destination's `(offset, skip)` in a table of `size` slots.
    pub fn offset_skip(addr: &IpAddr, port: u16, size: u32) -> (u32, u32) {
        let offset = Self::hashkey(addr, port, &MH_KEY1, 0) % size;
        let skip = Self::hashkey(addr, port, &MH_KEY2, 0) % (size - 1) + 1;
        (offset, skip)
    }

    /// The destination in slot `i` (`None` when empty or out of range).
    pub fn slot(&self, i: usize) -> Option<DestId> {
        self.dest_at(i).map(|d| d.id)
    }

    /// The slot a client key lands in (before any fallback).
    pub fn slot_of(&self, addr: &IpAddr, port: u16) -> usize {
        (Self::hashkey(addr, port, &MH_KEY1, 0) % self.size) as usize
    }

    /// The destination list with its counters.
    pub fn dest_table(&self) -> &DestTable {
        &self.dests
    }

    fn dest_at(&self, slot: usize) -> Option<&Dest> {
        let pos = *self.lookup.get(slot)?;
        self.dests.list().get(pos as usize)
    }

    fn reassign(&mut self) {
        let list = self.dests.list();
        let g = list
            .iter()
            .map(|d| u64::from(d.last_weight))
            .filter(|&w| w > 0)
            .fold(0, |g, w| if g > 0 { gcd(w, g) } else { w });
        if g == 0 {
            self.lookup.fill(NONE);
            return;
        }
        let maxw = list
            .iter()
            .map(|d| u64::from(d.last_weight))
            .max()
            .unwrap_or(0);
        let fls = 64 - (maxw / g).leading_zeros();
        let rshift = fls.saturating_sub(u32::from(self.cfg.tab_index / 2));
        let setups: Vec<DestSetup> = list
            .iter()
            .map(|d| {
                let (offset, skip) = Self::offset_skip(&d.params.addr, d.params.port, self.size);
                let lw = u64::from(d.last_weight);
                let turns = match (lw / g) >> rshift {
                    0 => u32::from(lw != 0),
                    t => t as u32,
                };
                DestSetup {
                    offset,
                    skip,
                    turns,
                }
            })
            .collect();
        let ok = populate(self.size as usize, &setups, &mut self.lookup);
        debug_assert!(ok, "kernel setups are always valid");
    }

    fn lookup(&self, addr: &IpAddr, port: u16) -> Option<DestId> {
        crate::dest::probe_fallback(
            self.slot_of(addr, port),
            self.size as usize,
            self.cfg.fallback,
            |s| self.dest_at(s),
            |roffset| (Self::hashkey(addr, port, &MH_KEY1, roffset) % self.size) as usize,
        )
    }
}

impl Scheduler for Mh {
    fn name(&self) -> &'static str {
        "mh"
    }

    fn add_dest(&mut self, id: DestId, params: DestParams) -> Result<(), SchedError> {
        if self.dests.len() >= self.size as usize && self.dests.get(id).is_none() {
            return Err(SchedError::TooManyDests {
                limit: self.size as usize,
            });
        }
        self.dests.add(id, params)?;
        self.reassign();
        Ok(())
    }

    fn remove_dest(&mut self, id: DestId) -> Result<(), SchedError> {
        self.dests.remove(id)?;
        self.reassign();
        Ok(())
    }

    fn set_weight(&mut self, id: DestId, weight: u32) -> Result<(), SchedError> {
        self.dests.set_weight(id, weight)?;
        self.reassign();
        Ok(())
    }

    fn set_thresholds(&mut self, id: DestId, upper: u32, lower: u32) -> Result<(), SchedError> {
        // The kernel rebuilds here too (`upd_dest`); `last_weight` is unchanged, so is the table.
        self.dests.set_thresholds(id, upper, lower).map(|_| ())
    }

    fn pick(&mut self, flow: &Flow, _now: Instant) -> Option<DestId> {
        self.lookup(&flow.src, key_port(flow, self.cfg.port))
    }

    crate::dest::counting_delegates!(dests);
}
