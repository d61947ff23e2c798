//! `dh`: destination hashing (Linux `ip_vs_dh.c`).

use lvs_core::{DestId, DestParams, Flow, Instant, SchedError, Scheduler};

use crate::dest::DestTable;
use crate::khash::{addr_fold, hash_32};

/// `IP_VS_DH_TAB_BITS`.
pub const DH_TAB_BITS: u32 = 8;
/// Number of `dh` buckets (256).
pub const DH_TAB_SIZE: usize = 1 << DH_TAB_BITS;
const NONE: u32 = u32::MAX;

/// Destination hashing: the flow's **destination address** (the virtual or, for fwmark cache
/// clusters, the original destination) picks one of 256 buckets, `hash_32(addr_fold, 8)`.
///
/// * Table: the buckets are dealt round-robin over the destinations in list order; **weights are
///   ignored** (only weight 0 matters, at lookup). Any add or delete re-deals every bucket, so
///   nearly all keys move; a weight change keeps the table (the kernel has no `upd_dest`).
/// * Pick: the bucket's destination if its weight is > 0 and it is not OVERLOADED, otherwise
///   `None`: there is no fallback.
/// * Cost: O(1) per pick, O(256) per add/delete, 1 KiB of table.
/// * Use it to pin each destination address to one cache server (transparent proxy clusters);
///   for anything else prefer `mh` or Maglev, which move far fewer keys on changes.
#[derive(Debug, Clone)]
pub struct Dh {
    dests: DestTable,
    buckets: Box<[u32]>,
}

impl Default for Dh {
    fn default() -> Self {
        Self::new()
    }
}

impl Dh {
    /// An empty `dh` scheduler.
    pub fn new() -> Self {
        Self {
            dests: DestTable::new(),
            buckets: vec![NONE; DH_TAB_SIZE].into_boxed_slice(),
        }
    }

    /// The bucket a destination address hashes to.
    pub fn bucket_of(addr: &core::net::IpAddr) -> usize {
        hash_32(addr_fold(addr), DH_TAB_BITS) as usize
    }

    /// The destination in bucket `i` (`None` when empty or out of range).
    pub fn bucket(&self, i: usize) -> Option<DestId> {
        let pos = *self.buckets.get(i)?;
        self.dests.list().get(pos as usize).map(|d| d.id)
    }

    /// The destination list with its counters.
    pub fn dest_table(&self) -> &DestTable {
        &self.dests
    }

    fn reassign(&mut self) {
        let n = self.dests.len();
        for (i, b) in self.buckets.iter_mut().enumerate() {
            *b = if n == 0 { NONE } else { (i % n) as u32 };
        }
    }
}

impl Scheduler for Dh {
    fn name(&self) -> &'static str {
        "dh"
    }

    fn add_dest(&mut self, id: DestId, params: DestParams) -> Result<(), SchedError> {
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
        self.dests.set_weight(id, weight).map(|_| ())
    }

    fn set_thresholds(&mut self, id: DestId, upper: u32, lower: u32) -> Result<(), SchedError> {
        self.dests.set_thresholds(id, upper, lower).map(|_| ())
    }

    fn pick(&mut self, flow: &Flow, _now: Instant) -> Option<DestId> {
        let pos = self.buckets[Self::bucket_of(&flow.dst)];
        let d = self.dests.list().get(pos as usize)?;
        d.eligible().then_some(d.id)
    }

    crate::dest::counting_delegates!(dests);
}
