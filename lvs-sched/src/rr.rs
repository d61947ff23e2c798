//! Round-Robin (`rr`), after `ip_vs_rr.c`.

use lvs_core::{DestId, DestParams, Flow, Instant, SchedError, Scheduler};

use crate::dest::DestTable;

/// Round-Robin: a cursor walks the circular list and takes the next destination with weight > 0
/// that is not OVERLOADED.
///
/// Balances on nothing but turn order: every usable server gets the same share whatever its
/// weight or load. Use it for identical servers and short, uniform requests. Cost: O(1) per pick
/// while most servers are usable, O(N) worst case (one full lap).
///
/// Like the kernel, the cursor starts at the list head; removing the destination under the
/// cursor moves the cursor back to the previous one (or the head), so the destination after it
/// is next.
#[derive(Debug, Clone, Default)]
pub struct Rr {
    table: DestTable,
    /// Position of the last destination chosen; `None` is the list head.
    cursor: Option<usize>,
}

impl Rr {
    /// An empty scheduler.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Scheduler for Rr {
    fn name(&self) -> &'static str {
        "rr"
    }

    fn add_dest(&mut self, id: DestId, params: DestParams) -> Result<(), SchedError> {
        self.table.add(id, params).map(drop)
    }

    fn remove_dest(&mut self, id: DestId) -> Result<(), SchedError> {
        let (pos, _) = self.table.remove(id)?;
        self.cursor = match self.cursor {
            Some(c) if c == pos => pos.checked_sub(1),
            Some(c) if c > pos => Some(c - 1),
            other => other,
        };
        Ok(())
    }

    fn set_weight(&mut self, id: DestId, weight: u32) -> Result<(), SchedError> {
        self.table.set_weight(id, weight).map(drop)
    }

    fn set_thresholds(&mut self, id: DestId, upper: u32, lower: u32) -> Result<(), SchedError> {
        self.table.set_thresholds(id, upper, lower).map(drop)
    }

    fn pick(&mut self, _flow: &Flow, _now: Instant) -> Option<DestId> {
        let list = self.table.list();
        let n = list.len();
        let start = self.cursor.map_or(0, |c| c + 1);
        // From the head: one pass. From a destination: the rest of the list, then up to and
        // including the cursor itself.
        let found = (start..n)
            .chain(0..self.cursor.map_or(0, |c| c + 1))
            .find(|&i| list[i].eligible())?;
        self.cursor = Some(found);
        Some(list[found].id)
    }

    crate::dest::counting_delegates!(table);
}
