//! `sh`: source hashing (Linux `ip_vs_sh.c`), with the `sh-fallback` and `sh-port` flags.

use core::net::IpAddr;

use lvs_core::{DestId, DestParams, Flow, Instant, SchedError, Scheduler, proto};

use crate::dest::{Dest, DestTable};
use crate::khash::{TableConfigError, addr_fold, hash_32};

const NONE: u32 = u32::MAX;

/// Configuration of [`Sh`]: `CONFIG_IP_VS_SH_TAB_BITS` and the two scheduler flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShConfig {
    /// log2 of the bucket count, `4..=20` (kernel default 8: 256 buckets).
    pub bits: u8,
    /// `sh-fallback` (`IP_VS_SVC_F_SCHED1`): probe other buckets when the hashed destination is
    /// quiesced or OVERLOADED.
    pub fallback: bool,
    /// `sh-port` (`IP_VS_SVC_F_SCHED2`): add the source port (TCP, UDP, SCTP) to the key.
    pub port: bool,
}

impl Default for ShConfig {
    fn default() -> Self {
        Self {
            bits: 8,
            fallback: false,
            port: false,
        }
    }
}

/// The port IPVS adds to the `sh` / `mh` key: the source port for TCP, UDP and SCTP, else 0.
pub(crate) fn key_port(flow: &Flow, use_port: bool) -> u16 {
    match flow.protocol {
        proto::TCP | proto::UDP | proto::SCTP if use_port => flow.src_port,
        _ => 0,
    }
}

/// Source hashing: the client address (plus the source port with `sh-port`) picks one of
/// 2^bits buckets, `(offset + hash_32(port + addr_fold, bits)) & mask`.
///
/// * Table: each destination in list order takes `weight` consecutive buckets per cycle until
///   the table is full; a weight-0 destination still takes one, so quiescing does not reshuffle.
///   Weights summing above the table size starve the destinations at the end of the list. Every
///   add, delete or weight change re-deals the table, which moves most keys.
/// * Pick: the bucket's destination when it has weight > 0 and is not OVERLOADED; otherwise
///   `None`, or with `sh-fallback` the kernel's deterministic probe over up to 2^bits offsets.
/// * Cost: O(1) per pick (fallback up to O(2^bits)), O(2^bits) per configuration change.
/// * Use it for source affinity without persistence templates; prefer `mh` or Maglev when
///   destinations come and go.
#[derive(Debug, Clone)]
pub struct Sh {
    cfg: ShConfig,
    dests: DestTable,
    buckets: Box<[u32]>,
}

impl Sh {
    /// An empty `sh` scheduler; fails when `bits` is outside `4..=20`.
    pub fn new(cfg: ShConfig) -> Result<Self, TableConfigError> {
        if !(4..=20).contains(&cfg.bits) {
            return Err(TableConfigError::ShBits(cfg.bits));
        }
        Ok(Self {
            cfg,
            dests: DestTable::new(),
            buckets: vec![NONE; 1 << cfg.bits].into_boxed_slice(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> ShConfig {
        self.cfg
    }

    /// Number of buckets.
    pub fn size(&self) -> usize {
        self.buckets.len()
    }

    /// The kernel's `ip_vs_sh_hashkey(af, addr, port, offset)`.
    pub fn hashkey(&self, addr: &IpAddr, port: u16, offset: u32) -> usize {
        let h = hash_32(
            u32::from(port).wrapping_add(addr_fold(addr)),
            u32::from(self.cfg.bits),
        );
        (offset.wrapping_add(h) as usize) & (self.buckets.len() - 1)
    }

    /// The destination in bucket `i` (`None` when empty or out of range).
    pub fn bucket(&self, i: usize) -> Option<DestId> {
        self.dest_at(i).map(|d| d.id)
    }

    /// The destination list with its counters.
    pub fn dest_table(&self) -> &DestTable {
        &self.dests
    }

    fn dest_at(&self, bucket: usize) -> Option<&Dest> {
        let pos = *self.buckets.get(bucket)?;
        self.dests.list().get(pos as usize)
    }

    fn reassign(&mut self) {
        let list = self.dests.list();
        if list.is_empty() {
            self.buckets.fill(NONE);
            return;
        }
        let (mut p, mut count) = (0usize, 0u32);
        for b in self.buckets.iter_mut() {
            *b = p as u32;
            count += 1;
            if count >= list[p].params.weight {
                p = (p + 1) % list.len();
                count = 0;
            }
        }
    }

    fn lookup(&self, addr: &IpAddr, port: u16) -> Option<DestId> {
        crate::dest::probe_fallback(
            self.hashkey(addr, port, 0),
            self.buckets.len(),
            self.cfg.fallback,
            |b| self.dest_at(b),
            |roffset| self.hashkey(addr, port, roffset),
        )
    }
}

impl Scheduler for Sh {
    fn name(&self) -> &'static str {
        "sh"
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
        self.dests.set_weight(id, weight)?;
        self.reassign();
        Ok(())
    }

    fn set_thresholds(&mut self, id: DestId, upper: u32, lower: u32) -> Result<(), SchedError> {
        // The kernel re-deals here too (`upd_dest`), which yields the same table.
        self.dests.set_thresholds(id, upper, lower).map(|_| ())
    }

    fn pick(&mut self, flow: &Flow, _now: Instant) -> Option<DestId> {
        self.lookup(&flow.src, key_port(flow, self.cfg.port))
    }

    crate::dest::counting_delegates!(dests);
}
