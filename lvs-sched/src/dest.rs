//! The destination list every scheduler keeps: list order, weights, thresholds, connection
//! counters and the kernel's OVERLOAD hysteresis, in one place so every scheduler applies the
//! same rules.
//!
//! Rules (Linux `ip_vs_ctl.c` / `ip_vs_conn.c`):
//! * overhead = active × 256 + inactive;
//! * bind: when `upper ≠ 0` and active + inactive ≥ upper after counting the connection, the
//!   destination becomes OVERLOADED;
//! * unbind: after uncounting, with `lower ≠ 0` the flag clears when the total drops below
//!   `lower`; otherwise with `upper ≠ 0` it clears when total × 4 < upper × 3; with neither it
//!   clears;
//! * configuration: setting `upper` to 0, or raising it, clears the flag;
//! * `last_weight` is the most recent non-zero weight (only `mh` reads it).

use core::hash::{BuildHasherDefault, Hasher};
use std::collections::HashMap;

use lvs_core::{ConnState, DestId, DestLoad, DestParams, SchedError};

/// Implements the `Scheduler` methods that only keep the [`DestTable`] in `$table` up to date
/// or read it (`conn_bound`, `conn_unbound`, `conn_changed`, `load`, `dests`), for schedulers
/// whose decisions do not depend on connection counts beyond the table's own rules.
macro_rules! counting_delegates {
    ($table:ident) => {
        fn conn_bound(&mut self, id: lvs_core::DestId, state: lvs_core::ConnState) {
            self.$table.bind(id, state);
        }

        fn conn_unbound(&mut self, id: lvs_core::DestId, state: lvs_core::ConnState) {
            self.$table.unbind(id, state);
        }

        fn conn_changed(
            &mut self,
            id: lvs_core::DestId,
            from: lvs_core::ConnState,
            to: lvs_core::ConnState,
        ) {
            self.$table.change(id, from, to);
        }

        fn load(&self, id: lvs_core::DestId) -> Option<lvs_core::DestLoad> {
            self.$table.get(id).map($crate::dest::Dest::load)
        }

        fn dests(&self) -> Vec<lvs_core::DestId> {
            self.$table.ids()
        }
    };
}
pub(crate) use counting_delegates;

/// The kernel's `sh`/`mh` lookup with optional fallback: the destination in the hashed slot
/// `first` if it may take the flow; otherwise, with `fallback`, probe `slot_for(offset)` for
/// the offsets `(first + k) % size`, k in `0..size`, and take the first eligible destination;
/// an empty slot ends the search (`ip_vs_sh_get_fallback` / `ip_vs_mh_get_fallback`).
pub(crate) fn probe_fallback<'a>(
    first: usize,
    size: usize,
    fallback: bool,
    dest_at: impl Fn(usize) -> Option<&'a Dest>,
    slot_for: impl Fn(u32) -> usize,
) -> Option<DestId> {
    let d = dest_at(first)?;
    if d.eligible() {
        return Some(d.id);
    }
    if !fallback {
        return None;
    }
    for k in 0..size {
        let roffset = ((k + first) % size) as u32;
        let d = dest_at(slot_for(roffset))?;
        if d.eligible() {
            return Some(d.id);
        }
    }
    None
}

/// The largest weight IPVS accepts (`INT_MAX`).
pub const MAX_WEIGHT: u32 = i32::MAX as u32;

/// One destination as schedulers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dest {
    /// The caller's id.
    pub id: DestId,
    /// Address, port, weight and thresholds.
    pub params: DestParams,
    /// Most recent non-zero weight (0 if it never had one).
    pub last_weight: u32,
    /// Active connections.
    pub active: u32,
    /// Inactive connections.
    pub inactive: u32,
    /// The OVERLOAD flag.
    pub overloaded: bool,
}

impl Dest {
    /// active × 256 + inactive.
    pub fn overhead(&self) -> u64 {
        (u64::from(self.active) << 8) + u64::from(self.inactive)
    }

    /// Weight > 0 and not OVERLOADED: may take a new connection.
    pub fn eligible(&self) -> bool {
        self.params.weight > 0 && !self.overloaded
    }

    /// The load snapshot.
    pub fn load(&self) -> DestLoad {
        DestLoad {
            weight: self.params.weight,
            active: self.active,
            inactive: self.inactive,
            overloaded: self.overloaded,
        }
    }

    fn total(&self) -> u64 {
        u64::from(self.active) + u64::from(self.inactive)
    }
}

/// A multiply-shift hasher for `DestId` keys. Ids are chosen by the operator's configuration,
/// not by packets, so flooding is not a concern; determinism and speed are.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// What changed in a destination after a notification, so index-keeping schedulers can update
/// only what moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// List position of the destination.
    pub pos: usize,
    /// Whether the OVERLOAD flag flipped.
    pub overload_flipped: bool,
}

/// Ids below this are found through a direct array (one load, no hashing); larger ids, which
/// callers rarely use, through a hash map.
const DENSE_IDS: u32 = 1 << 16;
/// "Not present" in the direct array.
const ABSENT: u32 = u32::MAX;

/// The destination list in list (insertion) order with O(1) id lookup.
///
/// Small ids (below 65,536: the director numbers its real servers from 0) map to their list
/// position through a direct array, so counting a connection costs one load instead of a hash
/// lookup; other ids go through a hash map.
#[derive(Debug, Clone, Default)]
pub struct DestTable {
    list: Vec<Dest>,
    /// Position by id for ids below [`DENSE_IDS`] ([`ABSENT`] when not present).
    dense: Vec<u32>,
    /// Position by id for the other ids.
    index: HashMap<DestId, usize, BuildHasherDefault<IdHasher>>,
}

impl DestTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Destinations in list order.
    pub fn list(&self) -> &[Dest] {
        &self.list
    }

    /// Number of destinations.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// List position of `id`.
    #[inline]
    pub fn position(&self, id: DestId) -> Option<usize> {
        if id.0 < DENSE_IDS {
            match self.dense.get(id.0 as usize) {
                Some(&p) if p != ABSENT => Some(p as usize),
                _ => None,
            }
        } else {
            self.index.get(&id).copied()
        }
    }

    /// Record `id` at list position `pos`.
    fn set_position(&mut self, id: DestId, pos: usize) {
        if id.0 < DENSE_IDS {
            let i = id.0 as usize;
            if self.dense.len() <= i {
                self.dense.resize(i + 1, ABSENT);
            }
            // Positions stay below the list length, itself far below u32::MAX in practice;
            // a list that large could not be held anyway.
            self.dense[i] = u32::try_from(pos).unwrap_or(ABSENT);
        } else {
            self.index.insert(id, pos);
        }
    }

    /// The destination `id`.
    pub fn get(&self, id: DestId) -> Option<&Dest> {
        self.position(id).map(|p| &self.list[p])
    }

    /// Append a destination. Returns its list position.
    pub fn add(&mut self, id: DestId, params: DestParams) -> Result<usize, SchedError> {
        if self.position(id).is_some() {
            return Err(SchedError::DuplicateDest(id));
        }
        if params.weight > MAX_WEIGHT {
            return Err(SchedError::InvalidWeight(params.weight));
        }
        let pos = self.list.len();
        self.list.push(Dest {
            id,
            params,
            last_weight: params.weight,
            active: 0,
            inactive: 0,
            overloaded: false,
        });
        self.set_position(id, pos);
        Ok(pos)
    }

    /// Remove a destination, keeping the order of the others. Returns its former position and
    /// record. O(N): configuration changes only.
    pub fn remove(&mut self, id: DestId) -> Result<(usize, Dest), SchedError> {
        let pos = self.position(id).ok_or(SchedError::NoSuchDest(id))?;
        if id.0 < DENSE_IDS {
            self.dense[id.0 as usize] = ABSENT;
        } else {
            self.index.remove(&id);
        }
        let dest = self.list.remove(pos);
        for p in pos..self.list.len() {
            let moved = self.list[p].id;
            self.set_position(moved, p);
        }
        Ok((pos, dest))
    }

    /// Set the weight; returns the position and the old weight.
    pub fn set_weight(&mut self, id: DestId, weight: u32) -> Result<(usize, u32), SchedError> {
        if weight > MAX_WEIGHT {
            return Err(SchedError::InvalidWeight(weight));
        }
        let pos = self.position(id).ok_or(SchedError::NoSuchDest(id))?;
        let d = &mut self.list[pos];
        let old = d.params.weight;
        d.params.weight = weight;
        if weight > 0 {
            d.last_weight = weight;
        }
        Ok((pos, old))
    }

    /// Set the thresholds with the kernel's flag rule (clear on `upper == 0` or a raise).
    pub fn set_thresholds(
        &mut self,
        id: DestId,
        upper: u32,
        lower: u32,
    ) -> Result<Change, SchedError> {
        let pos = self.position(id).ok_or(SchedError::NoSuchDest(id))?;
        let d = &mut self.list[pos];
        let before = d.overloaded;
        if upper == 0 || upper > d.params.upper_threshold {
            d.overloaded = false;
        }
        d.params.upper_threshold = upper;
        d.params.lower_threshold = lower;
        Ok(Change {
            pos,
            overload_flipped: before != d.overloaded,
        })
    }

    /// Count a new connection. `None` when `id` is unknown.
    pub fn bind(&mut self, id: DestId, state: ConnState) -> Option<Change> {
        let pos = self.position(id)?;
        let d = &mut self.list[pos];
        match state {
            ConnState::Active => d.active = d.active.saturating_add(1),
            ConnState::Inactive => d.inactive = d.inactive.saturating_add(1),
        }
        let before = d.overloaded;
        let upper = d.params.upper_threshold;
        if upper != 0 && d.total() >= u64::from(upper) {
            d.overloaded = true;
        }
        Some(Change {
            pos,
            overload_flipped: before != d.overloaded,
        })
    }

    /// Uncount a connection. `None` when `id` is unknown.
    pub fn unbind(&mut self, id: DestId, state: ConnState) -> Option<Change> {
        let pos = self.position(id)?;
        let d = &mut self.list[pos];
        match state {
            ConnState::Active => d.active = d.active.saturating_sub(1),
            ConnState::Inactive => d.inactive = d.inactive.saturating_sub(1),
        }
        let before = d.overloaded;
        let (upper, lower) = (d.params.upper_threshold, d.params.lower_threshold);
        let total = d.total();
        if lower != 0 {
            if total < u64::from(lower) {
                d.overloaded = false;
            }
        } else if upper != 0 {
            if total * 4 < u64::from(upper) * 3 {
                d.overloaded = false;
            }
        } else {
            d.overloaded = false;
        }
        Some(Change {
            pos,
            overload_flipped: before != d.overloaded,
        })
    }

    /// Move a connection between active and inactive. `None` when `id` is unknown.
    pub fn change(&mut self, id: DestId, from: ConnState, to: ConnState) -> Option<Change> {
        let pos = self.position(id)?;
        let d = &mut self.list[pos];
        if from != to {
            match from {
                ConnState::Active => d.active = d.active.saturating_sub(1),
                ConnState::Inactive => d.inactive = d.inactive.saturating_sub(1),
            }
            match to {
                ConnState::Active => d.active = d.active.saturating_add(1),
                ConnState::Inactive => d.inactive = d.inactive.saturating_add(1),
            }
        }
        Some(Change {
            pos,
            overload_flipped: false,
        })
    }

    /// Ids in list order.
    pub fn ids(&self) -> Vec<DestId> {
        self.list.iter().map(|d| d.id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};

    fn p(w: u32) -> DestParams {
        DestParams::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 80, w)
    }

    #[test]
    fn overload_hysteresis_follows_the_kernel() {
        let mut t = DestTable::new();
        t.add(DestId(1), p(1)).unwrap();
        t.set_thresholds(DestId(1), 4, 0).unwrap();
        for _ in 0..3 {
            assert!(
                !t.bind(DestId(1), ConnState::Inactive)
                    .unwrap()
                    .overload_flipped
            );
        }
        // 4th connection reaches upper = 4.
        assert!(
            t.bind(DestId(1), ConnState::Active)
                .unwrap()
                .overload_flipped
        );
        assert!(t.get(DestId(1)).unwrap().overloaded);
        // total 3: 3*4 = 12 is not < 4*3 = 12, still overloaded.
        t.unbind(DestId(1), ConnState::Active).unwrap();
        assert!(t.get(DestId(1)).unwrap().overloaded);
        // total 2: 8 < 12, clears.
        assert!(
            t.unbind(DestId(1), ConnState::Inactive)
                .unwrap()
                .overload_flipped
        );
        // With a lower threshold of 2 the flag clears only below 2.
        t.set_thresholds(DestId(1), 3, 2).unwrap();
        t.bind(DestId(1), ConnState::Inactive).unwrap();
        assert!(t.get(DestId(1)).unwrap().overloaded);
        t.unbind(DestId(1), ConnState::Inactive).unwrap();
        assert!(
            t.get(DestId(1)).unwrap().overloaded,
            "total 2 is not below lower 2"
        );
        t.unbind(DestId(1), ConnState::Inactive).unwrap();
        assert!(!t.get(DestId(1)).unwrap().overloaded);
    }

    #[test]
    fn small_and_large_ids_find_their_positions_across_removals() {
        let mut t = DestTable::new();
        let ids = [
            DestId(3),
            DestId(70_000),
            DestId(0),
            DestId(u32::MAX),
            DestId(65_535),
            DestId(65_536),
        ];
        for (w, &id) in ids.iter().enumerate() {
            t.add(id, p(w as u32 + 1)).unwrap();
        }
        assert_eq!(
            t.add(DestId(65_536), p(1)),
            Err(SchedError::DuplicateDest(DestId(65_536)))
        );
        assert_eq!(
            t.add(DestId(0), p(1)),
            Err(SchedError::DuplicateDest(DestId(0)))
        );
        t.remove(DestId(70_000)).unwrap();
        t.remove(DestId(0)).unwrap();
        let left = [DestId(3), DestId(u32::MAX), DestId(65_535), DestId(65_536)];
        assert_eq!(t.ids(), left);
        for (pos, &id) in left.iter().enumerate() {
            assert_eq!(t.position(id), Some(pos), "{id}");
            assert_eq!(t.get(id).unwrap().id, id);
        }
        for gone in [DestId(70_000), DestId(0), DestId(1), DestId(1 << 20)] {
            assert_eq!(t.position(gone), None, "{gone}");
        }
        assert_eq!(t.remove(DestId(0)), Err(SchedError::NoSuchDest(DestId(0))));
        // A removed id can come back, at the end of the list.
        t.add(DestId(0), p(9)).unwrap();
        assert_eq!(t.position(DestId(0)), Some(4));
    }

    #[test]
    fn raising_or_clearing_upper_clears_overload() {
        let mut t = DestTable::new();
        t.add(DestId(1), p(1)).unwrap();
        t.set_thresholds(DestId(1), 1, 0).unwrap();
        t.bind(DestId(1), ConnState::Inactive).unwrap();
        assert!(t.get(DestId(1)).unwrap().overloaded);
        // Same upper: kept.
        assert!(!t.set_thresholds(DestId(1), 1, 0).unwrap().overload_flipped);
        assert!(t.set_thresholds(DestId(1), 5, 0).unwrap().overload_flipped);
        t.set_thresholds(DestId(1), 1, 0).unwrap();
        t.bind(DestId(1), ConnState::Inactive).unwrap();
        assert!(t.get(DestId(1)).unwrap().overloaded);
        t.set_thresholds(DestId(1), 0, 0).unwrap();
        assert!(!t.get(DestId(1)).unwrap().overloaded);
    }

    #[test]
    fn removal_keeps_list_order_and_last_weight_tracks_nonzero() {
        let mut t = DestTable::new();
        for i in 0..4 {
            t.add(DestId(i), p(i + 1)).unwrap();
        }
        assert_eq!(
            t.add(DestId(2), p(1)),
            Err(SchedError::DuplicateDest(DestId(2)))
        );
        t.remove(DestId(1)).unwrap();
        assert_eq!(t.ids(), [DestId(0), DestId(2), DestId(3)]);
        assert_eq!(t.position(DestId(3)), Some(2));
        t.set_weight(DestId(3), 0).unwrap();
        assert_eq!(t.get(DestId(3)).unwrap().last_weight, 4);
        assert!(t.bind(DestId(9), ConnState::Active).is_none());
        assert_eq!(
            t.set_weight(DestId(3), u32::MAX),
            Err(SchedError::InvalidWeight(u32::MAX))
        );
    }
}
