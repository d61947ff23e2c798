//! Power of Two Choices (`twos`), after `ip_vs_twos.c`.

use core::fmt;

use lvs_core::rng::Rng;
use lvs_core::{DestId, DestParams, Flow, Instant, SchedError, Scheduler};

use crate::dest::DestTable;

/// Power of Two Choices: draw two destinations at random in proportion to weight and take the
/// one with the lower overhead / weight.
///
/// Exactly the kernel's walk: total = Σ weight of usable destinations (weight > 0, not
/// OVERLOADED) + 1; two values r1 then r2 are drawn as `next_u32() % total`; one list walk
/// subtracts each usable weight from both and takes the first destination where each reaches
/// ≤ 0 (so r = 0 selects the first usable destination, a small bias the kernel has too). The
/// second choice wins only when `w2·oh1 > w1·oh2` (overhead = active·256 + inactive), compared in
/// 128 bits where the kernel's `int` would wrap. When the total exceeds 2^32 (the kernel's `int`
/// would have overflowed) the draw uses `next_u64`.
///
/// Balances load like `wlc` without keeping every server ordered, and avoids the herd effect of
/// always choosing the single least-loaded server when several directors share stale counters.
/// Cost: O(N) per pick (two passes). The randomness is injected at construction.
pub struct Twos {
    table: DestTable,
    rng: Box<dyn Rng>,
}

impl fmt::Debug for Twos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Twos")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl Twos {
    /// A scheduler drawing from `rng`.
    pub fn new<R: Rng + 'static>(rng: R) -> Self {
        Self {
            table: DestTable::new(),
            rng: Box::new(rng),
        }
    }

    fn draw(&mut self, total: u64) -> i64 {
        let r = if total <= 1 << 32 {
            u64::from(self.rng.next_u32()) % total
        } else {
            self.rng.next_u64() % total
        };
        // total ≤ N · 2^31 + 1, far below 2^63 for any list that fits in memory.
        i64::try_from(r).unwrap_or(i64::MAX)
    }

    fn pick_pos(&mut self) -> Option<usize> {
        let total: u64 = self
            .table
            .list()
            .iter()
            .filter(|d| d.eligible())
            .map(|d| u64::from(d.params.weight))
            .sum();
        if total == 0 {
            return None;
        }
        let total = total + 1;
        let mut r1 = self.draw(total);
        let mut r2 = self.draw(total);
        let (mut c1, mut c2) = (None, None);
        for (i, d) in self.table.list().iter().enumerate() {
            if !d.eligible() {
                continue;
            }
            let w = i64::from(d.params.weight);
            r1 -= w;
            r2 -= w;
            if r1 <= 0 && c1.is_none() {
                c1 = Some(i);
            }
            if r2 <= 0 && c2.is_none() {
                c2 = Some(i);
            }
            if c1.is_some() && c2.is_some() {
                break;
            }
        }
        let list = self.table.list();
        let (c1, c2) = (c1?, c2?);
        let (d1, d2) = (&list[c1], &list[c2]);
        let lhs = u128::from(d2.params.weight) * u128::from(d1.overhead());
        let rhs = u128::from(d1.params.weight) * u128::from(d2.overhead());
        Some(if lhs > rhs { c2 } else { c1 })
    }
}

impl Scheduler for Twos {
    fn name(&self) -> &'static str {
        "twos"
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
    fn pick(&mut self, _flow: &Flow, _now: Instant) -> Option<DestId> {
        let pos = self.pick_pos()?;
        Some(self.table.list()[pos].id)
    }

    crate::dest::counting_delegates!(table);
}
