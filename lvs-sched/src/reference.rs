//! Naive reference implementations: the kernel's O(N) scans, written loop for loop after
//! `ip_vs_{lc,wlc,sed,nq,fo,ovf}.c` (with the same widened arithmetic as the fast versions).
//!
//! They exist to check the indexed schedulers: property tests and the fuzz target drive a fast
//! scheduler and its reference through the same operations and require the same pick every
//! time. They are also the baseline in the benchmarks. Do not use them in production.

use lvs_core::{ConnState, DestId, DestLoad, DestParams, Flow, Instant, SchedError, Scheduler};

use crate::dest::{Dest, DestTable};

fn wide(x: u64, w: u32) -> u128 {
    u128::from(x) * u128::from(w)
}

fn usable(d: &Dest) -> bool {
    !d.overloaded && d.params.weight > 0
}

/// `ip_vs_lc_schedule`: skip OVERLOAD and weight 0; keep the first strictly smaller overhead.
pub fn lc_scan(list: &[Dest]) -> Option<usize> {
    let mut least: Option<(usize, u64)> = None;
    for (i, d) in list.iter().enumerate() {
        if d.overloaded || d.params.weight == 0 {
            continue;
        }
        let doh = d.overhead();
        if least.is_none_or(|(_, loh)| doh < loh) {
            least = Some((i, doh));
        }
    }
    least.map(|(i, _)| i)
}

/// `ip_vs_wlc_schedule` (also the miss path of lblc and lblcr): the first usable destination,
/// then every later non-overloaded one replaces it when `loh·w_d > doh·w_least`.
pub fn wlc_scan(list: &[Dest]) -> Option<usize> {
    let first = list.iter().position(usable)?;
    let mut least = first;
    let mut loh = list[first].overhead();
    for (i, d) in list.iter().enumerate().skip(first + 1) {
        if d.overloaded {
            continue;
        }
        let doh = d.overhead();
        if wide(loh, d.params.weight) > wide(doh, list[least].params.weight) {
            least = i;
            loh = doh;
        }
    }
    Some(least)
}

/// `ip_vs_sed_schedule`: as wlc with overhead = active + 1.
pub fn sed_scan(list: &[Dest]) -> Option<usize> {
    let first = list.iter().position(usable)?;
    let mut least = first;
    let mut loh = u64::from(list[first].active) + 1;
    for (i, d) in list.iter().enumerate().skip(first + 1) {
        if d.overloaded {
            continue;
        }
        let doh = u64::from(d.active) + 1;
        if wide(loh, d.params.weight) > wide(doh, list[least].params.weight) {
            least = i;
            loh = doh;
        }
    }
    Some(least)
}

/// `ip_vs_nq_schedule`: the first usable idle destination, else the sed minimum.
pub fn nq_scan(list: &[Dest]) -> Option<usize> {
    let mut least: Option<(usize, u64)> = None;
    for (i, d) in list.iter().enumerate() {
        if d.overloaded || d.params.weight == 0 {
            continue;
        }
        let doh = u64::from(d.active) + 1;
        if d.active == 0 {
            return Some(i);
        }
        if least
            .is_none_or(|(l, loh)| wide(loh, d.params.weight) > wide(doh, list[l].params.weight))
        {
            least = Some((i, doh));
        }
    }
    least.map(|(i, _)| i)
}

/// `ip_vs_fo_schedule`: the first strictly highest weight among non-overloaded destinations.
pub fn fo_scan(list: &[Dest]) -> Option<usize> {
    let mut best = None;
    let mut hw = 0u32;
    for (i, d) in list.iter().enumerate() {
        if !d.overloaded && d.params.weight > hw {
            best = Some(i);
            hw = d.params.weight;
        }
    }
    best
}

/// `ip_vs_ovf_schedule`: like fo, skipping destinations whose active count exceeds the weight.
pub fn ovf_scan(list: &[Dest]) -> Option<usize> {
    let mut best: Option<(usize, u32)> = None;
    for (i, d) in list.iter().enumerate() {
        let w = d.params.weight;
        if d.overloaded || d.active > w || w == 0 {
            continue;
        }
        if best.is_none_or(|(_, hw)| w > hw) {
            best = Some((i, w));
        }
    }
    best.map(|(i, _)| i)
}

/// A scheduler that scans the whole list on every pick, like the kernel.
#[derive(Debug, Clone)]
pub struct NaiveScan {
    name: &'static str,
    scan: fn(&[Dest]) -> Option<usize>,
    table: DestTable,
}

impl NaiveScan {
    fn with(name: &'static str, scan: fn(&[Dest]) -> Option<usize>) -> Self {
        Self {
            name,
            scan,
            table: DestTable::new(),
        }
    }

    /// The naive `lc`.
    pub fn lc() -> Self {
        Self::with("lc", lc_scan)
    }
    /// The naive `wlc`.
    pub fn wlc() -> Self {
        Self::with("wlc", wlc_scan)
    }
    /// The naive `sed`.
    pub fn sed() -> Self {
        Self::with("sed", sed_scan)
    }
    /// The naive `nq`.
    pub fn nq() -> Self {
        Self::with("nq", nq_scan)
    }
    /// The naive `fo`.
    pub fn fo() -> Self {
        Self::with("fo", fo_scan)
    }
    /// The naive `ovf`.
    pub fn ovf() -> Self {
        Self::with("ovf", ovf_scan)
    }

    /// The naive scheduler for an ipvsadm name among lc, wlc, sed, nq, fo, ovf.
    pub fn by_name(name: &str) -> Option<Self> {
        Some(match name {
            "lc" => Self::lc(),
            "wlc" => Self::wlc(),
            "sed" => Self::sed(),
            "nq" => Self::nq(),
            "fo" => Self::fo(),
            "ovf" => Self::ovf(),
            _ => return None,
        })
    }

    /// The destination table.
    pub fn table(&self) -> &DestTable {
        &self.table
    }

    /// The list position the scan chooses.
    pub fn best(&self) -> Option<usize> {
        (self.scan)(self.table.list())
    }
}

impl Scheduler for NaiveScan {
    fn name(&self) -> &'static str {
        self.name
    }
    fn add_dest(&mut self, id: DestId, params: DestParams) -> Result<(), SchedError> {
        self.table.add(id, params).map(drop)
    }
    fn remove_dest(&mut self, id: DestId) -> Result<(), SchedError> {
        self.table.remove(id).map(drop)
    }
    fn set_weight(&mut self, id: DestId, weight: u32) -> Result<(), SchedError> {
        self.table.set_weight(id, weight).map(drop)
    }
    fn set_thresholds(&mut self, id: DestId, upper: u32, lower: u32) -> Result<(), SchedError> {
        self.table.set_thresholds(id, upper, lower).map(drop)
    }
    fn conn_bound(&mut self, id: DestId, state: ConnState) {
        self.table.bind(id, state);
    }
    fn conn_unbound(&mut self, id: DestId, state: ConnState) {
        self.table.unbind(id, state);
    }
    fn conn_changed(&mut self, id: DestId, from: ConnState, to: ConnState) {
        self.table.change(id, from, to);
    }
    fn pick(&mut self, _flow: &Flow, _now: Instant) -> Option<DestId> {
        self.best().map(|p| self.table.list()[p].id)
    }
    fn load(&self, id: DestId) -> Option<DestLoad> {
        self.table.get(id).map(Dest::load)
    }
    fn dests(&self) -> Vec<DestId> {
        self.table.ids()
    }
}
