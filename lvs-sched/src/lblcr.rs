//! Locality-Based Least-Connection with Replication (`lblcr`), after `ip_vs_lblcr.c`.

use core::hash::BuildHasherDefault;
use core::net::IpAddr;
use core::time::Duration;
use std::collections::HashMap;

use lvs_core::{ConnState, DestId, DestLoad, DestParams, Flow, Instant, SchedError, Scheduler};

use crate::dest::{Dest, DestTable, IdHasher};
use crate::lblc::{Cache, Dests, LocalityConfig, WlcBackend};
use crate::least::Wlc;

/// The servers replicating one destination address. Newest member first, as the kernel's
/// `list_add` leaves them.
#[derive(Debug, Clone)]
pub(crate) struct DestSet {
    members: Vec<DestId>,
    lastmod: u64,
}

impl DestSet {
    /// `ip_vs_dest_set_insert` with the duplicate check.
    fn insert(&mut self, id: DestId, now: u64) {
        if !self.members.contains(&id) {
            self.members.insert(0, id);
            self.lastmod = now;
        }
    }

    /// `ip_vs_dest_set_erase`.
    fn erase(&mut self, id: DestId, now: u64) {
        if let Some(i) = self.members.iter().position(|&m| m == id) {
            self.members.remove(i);
            self.lastmod = now;
        }
    }
}

type Trash = HashMap<DestId, Dest, BuildHasherDefault<IdHasher>>;

/// A set member as the kernel sees it: its record and whether it is AVAILABLE (still listed).
/// Removed servers keep the counters and weight they had when removed, like the kernel's
/// "trash" entries that sets still reference.
fn resolve<'a>(table: &'a DestTable, trash: &'a Trash, id: DestId) -> Option<(&'a Dest, bool)> {
    table
        .get(id)
        .map(|d| (d, true))
        .or_else(|| trash.get(&id).map(|d| (d, false)))
}

fn wide(x: u64, w: u32) -> u128 {
    u128::from(x) * u128::from(w)
}

/// `ip_vs_dest_set_min`: the first AVAILABLE, weight > 0, non-OVERLOAD member, replaced by any
/// later non-OVERLOAD AVAILABLE member with a strictly lower overhead / weight.
fn set_min(table: &DestTable, trash: &Trash, set: &DestSet) -> Option<DestId> {
    let mut least: Option<&Dest> = None;
    for &m in &set.members {
        let Some((d, available)) = resolve(table, trash, m) else {
            continue;
        };
        if d.overloaded {
            continue;
        }
        match least {
            None => {
                if d.params.weight > 0 && available {
                    least = Some(d);
                }
            }
            Some(l) => {
                if wide(l.overhead(), d.params.weight) > wide(d.overhead(), l.params.weight)
                    && available
                {
                    least = Some(d);
                }
            }
        }
    }
    least.map(|d| d.id)
}

/// `ip_vs_dest_set_max`: the first weight > 0 member, replaced by any later weight > 0 member
/// with a strictly higher overhead / weight. Neither OVERLOAD nor availability is checked.
fn set_max(table: &DestTable, trash: &Trash, set: &DestSet) -> Option<DestId> {
    let mut most: Option<&Dest> = None;
    for &m in &set.members {
        let Some((d, _)) = resolve(table, trash, m) else {
            continue;
        };
        match most {
            None => {
                if d.params.weight > 0 {
                    most = Some(d);
                }
            }
            Some(x) => {
                if wide(x.overhead(), d.params.weight) < wide(d.overhead(), x.params.weight)
                    && d.params.weight > 0
                {
                    most = Some(d);
                }
            }
        }
    }
    most.map(|d| d.id)
}

/// Locality-Based Least-Connection with Replication: each destination IP maps to a *set* of
/// servers that grows under load and shrinks slowly.
///
/// A hit picks the wlc-minimum of the set (members still listed, weight > 0, not OVERLOADED).
/// If the set has more than one member and has not changed for the expiration (24 h by
/// default), its wlc-*maximum* member (any member with weight > 0, even OVERLOADED or removed)
/// is dropped. If no member qualified, or the chosen one is "overloaded" (more active
/// connections than weight while some server is below half of its weight, as in
/// [`Lblc`](crate::lblc::Lblc)), `wlc` over all servers picks one and it joins the set. A miss
/// runs `wlc` and creates a one-member set. Cache expiry is as for `lblc`.
///
/// Balances locality with replication: a hot destination address spreads over several servers
/// instead of overloading one. Use it for cache clusters with uneven popularity. Cost: O(set)
/// per hit plus O(1) for the index reads; notifications O(log N).
#[derive(Debug, Clone)]
pub struct Lblcr<B: WlcBackend = Wlc> {
    dests: Dests<B>,
    cache: Cache<DestSet>,
    trash: Trash,
}

impl Lblcr<Wlc> {
    /// An empty scheduler with the kernel's defaults.
    pub fn new() -> Self {
        Self::with_config(LocalityConfig::default())
    }

    /// An empty scheduler with the given tunables.
    pub fn with_config(cfg: LocalityConfig) -> Self {
        Self::with_backend_config(cfg)
    }
}

impl Default for Lblcr<Wlc> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: WlcBackend> Lblcr<B> {
    /// An empty scheduler over any wlc backend (the reference uses
    /// [`NaiveScan`](crate::reference::NaiveScan)).
    pub fn with_backend_config(cfg: LocalityConfig) -> Self {
        Self {
            dests: Dests::new(),
            cache: Cache::new(cfg),
            trash: Trash::default(),
        }
    }

    /// Change the expiration (the `lblcr_expiration` sysctl).
    pub fn set_expiration(&mut self, expiration: Duration) {
        self.cache.set_expiration(expiration);
    }

    /// Number of cached destination addresses.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// The server set cached for a destination address, newest member first.
    pub fn cached(&self, addr: IpAddr) -> Option<Vec<DestId>> {
        self.cache.get(addr).map(|e| e.value.members.clone())
    }

    /// Forget removed servers that no set references any more.
    fn prune_trash(&mut self) {
        let mut referenced: HashMap<DestId, (), BuildHasherDefault<IdHasher>> = HashMap::default();
        for e in self.cache.iter() {
            for &m in &e.value.members {
                referenced.insert(m, ());
            }
        }
        self.trash.retain(|id, _| referenced.contains_key(id));
    }
}

impl<B: WlcBackend> Scheduler for Lblcr<B> {
    fn name(&self) -> &'static str {
        "lblcr"
    }
    fn add_dest(&mut self, id: DestId, params: DestParams) -> Result<(), SchedError> {
        self.dests.with(id, |b| b.add_dest(id, params))?;
        self.trash.remove(&id);
        Ok(())
    }
    fn remove_dest(&mut self, id: DestId) -> Result<(), SchedError> {
        let snapshot = self.dests.table().get(id).copied();
        self.dests.with(id, |b| b.remove_dest(id))?;
        if let Some(d) = snapshot {
            self.trash.insert(id, d);
        }
        if self.trash.len() > 64 + self.dests.table().len() {
            self.prune_trash();
        }
        Ok(())
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
        let exp = u64::try_from(self.cache.cfg.expiration.as_nanos()).unwrap_or(u64::MAX);
        let table = self.dests.table();
        if let Some(en) = self.cache.get_mut(flow.dst) {
            en.lastuse = now;
            let chosen = set_min(table, &self.trash, &en.value);
            let set = &mut en.value;
            if set.members.len() > 1
                && now > set.lastmod.saturating_add(exp)
                && let Some(m) = set_max(table, &self.trash, set)
            {
                set.erase(m, now);
            }
            if let Some(d) = chosen.and_then(|id| table.get(id))
                && !self.dests.is_overloaded(d)
            {
                return Some(d.id);
            }
            let id = table.list()[self.dests.wlc()?].id;
            en.value.insert(id, now);
            return Some(id);
        }
        let id = table.list()[self.dests.wlc()?].id;
        let set = DestSet {
            members: vec![id],
            lastmod: now,
        };
        self.cache.insert(flow.dst, now, set);
        Some(id)
    }

    fn load(&self, id: DestId) -> Option<DestLoad> {
        self.dests.table().get(id).map(Dest::load)
    }
    fn dests(&self) -> Vec<DestId> {
        self.dests.table().ids()
    }
}
