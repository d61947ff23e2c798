//! Weighted Round-Robin: the kernel's interleave (`wrr`, after `ip_vs_wrr.c`) and an opt-in
//! smooth variant (`swrr`, nginx style) that is **not** in the kernel.

use lvs_core::{ConnState, DestId, DestLoad, DestParams, Flow, Instant, SchedError, Scheduler};

use crate::dest::{Dest, DestTable};

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Weighted Round-Robin with the kernel's gcd / max-weight interleave.
///
/// `di` is the gcd of the positive weights (1 if none), `mw` the maximum weight minus `di − 1`,
/// and `cw` starts at `mw`. A pick walks on from the cursor to the next destination that is not
/// OVERLOADED and has weight ≥ `cw`; each time the walk passes the end of the list `cw` drops by
/// `di`, and when it reaches 0 it restarts at `mw`. Weights 4, 3, 2 give the cycle
/// `AABABCABC`. Every add, remove, weight or threshold change moves the cursor back to the head
/// and adjusts `cw` (to `mw` when above it or 0, else to ⌊cw/di⌋·di + 1 when di > 1).
///
/// Balances on turn order in proportion to weight, ignoring load. Use it for servers of
/// different capacity and short, uniform requests. Cost: O(N) per pick worst case (one pass),
/// about O(1) amortised. Where the kernel would spin through empty passes (every server with a
/// large enough weight OVERLOADED), this implementation jumps over them arithmetically with the
/// same outcome.
#[derive(Debug, Clone)]
pub struct Wrr {
    table: DestTable,
    /// Last destination chosen; `None` is the list head.
    cursor: Option<usize>,
    cw: i64,
    mw: i64,
    di: i64,
    fast_forward: bool,
}

impl Default for Wrr {
    fn default() -> Self {
        Self::new()
    }
}

impl Wrr {
    /// An empty scheduler.
    pub fn new() -> Self {
        Self {
            table: DestTable::new(),
            cursor: None,
            cw: 0,
            mw: 0,
            di: 1,
            fast_forward: true,
        }
    }

    /// The same scheduler without the empty-pass jump: the kernel's loop as written, for tests.
    pub fn naive() -> Self {
        Self {
            fast_forward: false,
            ..Self::new()
        }
    }

    /// The current weight threshold (`cw`), for tests and diagnostics.
    pub fn current_weight(&self) -> i64 {
        self.cw
    }

    /// The largest configured weight.
    pub fn max_weight(&self) -> u32 {
        self.table
            .list()
            .iter()
            .map(|d| d.params.weight)
            .max()
            .unwrap_or(0)
    }

    /// `ip_vs_wrr_dest_changed`.
    fn dest_changed(&mut self) {
        let list = self.table.list();
        let di = list
            .iter()
            .map(|d| i64::from(d.params.weight))
            .filter(|&w| w > 0)
            .fold(0, |g, w| if g > 0 { gcd(w, g) } else { w });
        let di = if di == 0 { 1 } else { di };
        let max = list
            .iter()
            .map(|d| i64::from(d.params.weight))
            .max()
            .unwrap_or(0);
        self.cursor = None;
        self.di = di;
        self.mw = max - (di - 1);
        if self.cw > self.mw || self.cw == 0 {
            self.cw = self.mw;
        } else if di > 1 {
            self.cw = (self.cw / di) * di + 1;
        }
    }

    fn pick_pos(&mut self) -> Option<usize> {
        if self.mw == 0 {
            return None;
        }
        let list = self.table.list();
        let n = list.len();
        let last = self.cursor;
        let mut from = self.cursor.map_or(0, |c| c + 1);
        let mut stop: Option<usize> = None;
        let (mut last_pass, mut restarted) = (false, false);
        let mut usable_max: Option<i64> = None;
        loop {
            for (i, d) in list.iter().enumerate().take(n).skip(from) {
                if !d.overloaded && i64::from(d.params.weight) >= self.cw {
                    self.cursor = Some(i);
                    return Some(i);
                }
                if stop == Some(i) {
                    self.cursor = Some(i);
                    return None;
                }
            }
            from = 0;
            self.cw -= self.di;
            if self.cw <= 0 {
                self.cw = self.mw;
                if last_pass || last.is_none() {
                    self.cursor = None;
                    return None;
                }
                restarted = true;
            }
            last_pass = self.cw <= self.di;
            if last_pass && restarted && last.is_some() {
                stop = last;
            }
            if self.fast_forward && stop.is_none() {
                // Passes from the head at cw > (largest usable weight) find nothing; jump over
                // them while cw stays ≥ max(that weight, di), where no wrap or stop can occur.
                let m = *usable_max.get_or_insert_with(|| {
                    list.iter()
                        .filter(|d| !d.overloaded)
                        .map(|d| i64::from(d.params.weight))
                        .max()
                        .unwrap_or(0)
                });
                let floor = m.max(self.di);
                if self.cw > floor {
                    let k = (self.cw - floor) / self.di;
                    self.cw -= k * self.di;
                    last_pass = self.cw <= self.di;
                    if last_pass && restarted && last.is_some() {
                        stop = last;
                    }
                }
            }
        }
    }
}

/// Forwards the configuration and counter calls shared by both WRR flavours to the table.
macro_rules! table_scheduler_common {
    () => {
        fn conn_bound(&mut self, id: DestId, state: ConnState) {
            self.table.bind(id, state);
        }
        fn conn_unbound(&mut self, id: DestId, state: ConnState) {
            self.table.unbind(id, state);
        }
        fn conn_changed(&mut self, id: DestId, from: ConnState, to: ConnState) {
            self.table.change(id, from, to);
        }
        fn load(&self, id: DestId) -> Option<DestLoad> {
            self.table.get(id).map(Dest::load)
        }
        fn dests(&self) -> Vec<DestId> {
            self.table.ids()
        }
    };
}

impl Scheduler for Wrr {
    fn name(&self) -> &'static str {
        "wrr"
    }
    fn add_dest(&mut self, id: DestId, params: DestParams) -> Result<(), SchedError> {
        self.table.add(id, params)?;
        self.dest_changed();
        Ok(())
    }
    fn remove_dest(&mut self, id: DestId) -> Result<(), SchedError> {
        self.table.remove(id)?;
        self.dest_changed();
        Ok(())
    }
    fn set_weight(&mut self, id: DestId, weight: u32) -> Result<(), SchedError> {
        self.table.set_weight(id, weight)?;
        self.dest_changed();
        Ok(())
    }
    fn set_thresholds(&mut self, id: DestId, upper: u32, lower: u32) -> Result<(), SchedError> {
        // The kernel edits weight and thresholds in one `upd_dest` call, which resets the walk.
        self.table.set_thresholds(id, upper, lower)?;
        self.dest_changed();
        Ok(())
    }
    fn pick(&mut self, _flow: &Flow, _now: Instant) -> Option<DestId> {
        let pos = self.pick_pos()?;
        Some(self.table.list()[pos].id)
    }
    table_scheduler_common!();
}

/// Smooth Weighted Round-Robin (nginx style). **Not the kernel's `wrr`**: an opt-in variant.
///
/// Every pick adds each usable destination's weight to its running score, takes the highest
/// score (first in list order on ties) and subtracts the total weight from the winner. Weights
/// 4, 3, 2 give the cycle `ABCABACBA` (against the kernel's `AABABCABC`): picks are spread
/// out, and every cycle of Σweight picks gives each server exactly its weight. Quiesced (weight 0) and OVERLOADED
/// destinations are skipped. Any add, remove or weight change resets every score to 0.
///
/// Balances on turn order in proportion to weight, like `wrr`, but without sending a burst to
/// the heaviest server first. Cost: O(N) per pick.
#[derive(Debug, Clone, Default)]
pub struct SmoothWrr {
    table: DestTable,
    score: Vec<i64>,
}

impl SmoothWrr {
    /// An empty scheduler.
    pub fn new() -> Self {
        Self::default()
    }

    fn reset(&mut self) {
        self.score.clear();
        self.score.resize(self.table.len(), 0);
    }
}

impl Scheduler for SmoothWrr {
    fn name(&self) -> &'static str {
        "swrr"
    }
    fn add_dest(&mut self, id: DestId, params: DestParams) -> Result<(), SchedError> {
        self.table.add(id, params)?;
        self.reset();
        Ok(())
    }
    fn remove_dest(&mut self, id: DestId) -> Result<(), SchedError> {
        self.table.remove(id)?;
        self.reset();
        Ok(())
    }
    fn set_weight(&mut self, id: DestId, weight: u32) -> Result<(), SchedError> {
        self.table.set_weight(id, weight)?;
        self.reset();
        Ok(())
    }
    fn set_thresholds(&mut self, id: DestId, upper: u32, lower: u32) -> Result<(), SchedError> {
        self.table.set_thresholds(id, upper, lower).map(drop)
    }
    fn pick(&mut self, _flow: &Flow, _now: Instant) -> Option<DestId> {
        let list = self.table.list();
        let mut total = 0i64;
        let mut best: Option<usize> = None;
        for (i, d) in list.iter().enumerate() {
            if !d.eligible() {
                continue;
            }
            let w = i64::from(d.params.weight);
            self.score[i] += w;
            total += w;
            if best.is_none_or(|b| self.score[i] > self.score[b]) {
                best = Some(i);
            }
        }
        let b = best?;
        self.score[b] -= total;
        Some(list[b].id)
    }
    table_scheduler_common!();
}
