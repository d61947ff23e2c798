//! The connection table's hash index: open addressing over 32-bit slots with tags, rebuilt
//! incrementally (see [`Index`]).

const EMPTY: u32 = u32::MAX;
const TOMB: u32 = u32::MAX - 1;
/// The smallest index.
const MIN_SLOTS: usize = 2048;
/// Old slots moved per mutating operation while a rebuild runs.
const MIGRATE_PER_OP: usize = 8;

/// Maps a 32-bit key hash to the entry indices stored under it.
///
/// Each slot is one `u32`: the entry index in the low `idx_bits` bits and the top bits of the
/// key hash above them as a tag, so a probe compares tags without touching entries; an absent
/// key costs one index cache line and no entry reads. Linear probing from `hash & mask`;
/// deletions leave tombstones.
///
/// When live slots plus tombstones pass 70 % of the array, a new array is started (twice as
/// large when more than 35 % is live, else the same size, which clears the tombstones) and
/// every later mutating operation moves [`MIGRATE_PER_OP`] old slots into it, so no single call
/// pays for the whole rebuild. Old slots below the migration cursor are skipped by lookups
/// (their entries live in the new array) but still continue probe runs.
///
/// Memory: one `u32` per slot at a load between 35 % and 70 %, i.e. 5.7 to 11.4 bytes per flow.
#[derive(Debug)]
pub(super) struct Index {
    slots: Vec<u32>,
    /// Slots in use in `slots`, tombstones included.
    used: usize,
    old: Vec<u32>,
    cursor: usize,
    live: usize,
    idx_bits: u32,
}

impl Index {
    /// An index for entry indices below `max_entries` (at most 2³¹ − 3), with room for
    /// `expected` entries at a load of at most 50 %.
    pub(super) fn new(max_entries: usize, expected: usize) -> Self {
        let idx_bits = usize::BITS - (max_entries + 1).leading_zeros();
        debug_assert!(idx_bits <= 31, "max_entries out of range");
        Self {
            slots: vec![
                EMPTY;
                expected
                    .saturating_mul(2)
                    .next_power_of_two()
                    .max(MIN_SLOTS)
            ],
            used: 0,
            old: Vec::new(),
            cursor: 0,
            live: 0,
            idx_bits: idx_bits.clamp(1, 31),
        }
    }

    /// Live entries indexed.
    pub(super) fn len(&self) -> usize {
        self.live
    }

    #[inline]
    fn tag(&self, hash: u32) -> u32 {
        hash >> self.idx_bits
    }

    #[inline]
    fn slot_of(&self, hash: u32, idx: u32) -> u32 {
        (self.tag(hash) << self.idx_bits) | idx
    }

    #[inline]
    fn idx_of(&self, slot: u32) -> u32 {
        slot & ((1u32 << self.idx_bits) - 1)
    }

    /// The first entry whose key may match `match_entry`'s, verified by it.
    #[inline]
    pub(super) fn find(&self, hash: u32, mut is_match: impl FnMut(u32) -> bool) -> Option<u32> {
        let tag = self.tag(hash);
        let mask = self.slots.len() - 1;
        let mut pos = hash as usize & mask;
        loop {
            let s = self.slots[pos];
            if s == EMPTY {
                break;
            }
            if s >> self.idx_bits == tag && s != TOMB && is_match(self.idx_of(s)) {
                return Some(self.idx_of(s));
            }
            pos = (pos + 1) & mask;
        }
        if self.old.is_empty() {
            return None;
        }
        self.find_old(hash, tag, is_match).map(|(_, i)| i)
    }

    fn find_old(
        &self,
        hash: u32,
        tag: u32,
        mut is_match: impl FnMut(u32) -> bool,
    ) -> Option<(usize, u32)> {
        let mask = self.old.len() - 1;
        let mut pos = hash as usize & mask;
        loop {
            let s = self.old[pos];
            if s == EMPTY {
                return None;
            }
            if pos >= self.cursor
                && s != TOMB
                && s >> self.idx_bits == tag
                && is_match(self.idx_of(s))
            {
                return Some((pos, self.idx_of(s)));
            }
            pos = (pos + 1) & mask;
        }
    }

    /// The first entry index whose tag matches `hash` (or `u32::MAX`): reading it pulls the
    /// index line into the cache, and the entry it names is the likely match.
    #[inline]
    pub(super) fn first_candidate(&self, hash: u32) -> u32 {
        let tag = self.tag(hash);
        let mask = self.slots.len() - 1;
        let mut pos = hash as usize & mask;
        for _ in 0..8 {
            let s = self.slots[pos];
            if s == EMPTY {
                break;
            }
            if s != TOMB && s >> self.idx_bits == tag {
                return self.idx_of(s);
            }
            pos = (pos + 1) & mask;
        }
        u32::MAX
    }

    /// Add entry `idx` under `hash` (the caller knows it is not present). `hash_of` gives the
    /// stored hash of an entry, for the rebuild this may advance.
    pub(super) fn insert(&mut self, hash: u32, idx: u32, hash_of: impl Fn(u32) -> u32) {
        self.migrate(&hash_of);
        let s = self.slot_of(hash, idx);
        Self::place(&mut self.slots, s, hash);
        self.used += 1;
        self.live += 1;
        if self.old.is_empty() && self.used * 10 > self.slots.len() * 7 {
            self.start_rebuild();
            self.migrate(&hash_of);
        }
    }

    fn place(slots: &mut [u32], s: u32, hash: u32) {
        let mask = slots.len() - 1;
        let mut pos = hash as usize & mask;
        while slots[pos] != EMPTY {
            pos = (pos + 1) & mask;
        }
        slots[pos] = s;
    }

    /// Remove entry `idx` stored under `hash`. Returns whether it was indexed.
    pub(super) fn remove(&mut self, hash: u32, idx: u32, hash_of: impl Fn(u32) -> u32) -> bool {
        self.migrate(&hash_of);
        let mask = self.slots.len() - 1;
        let mut pos = hash as usize & mask;
        let want = self.slot_of(hash, idx);
        loop {
            let s = self.slots[pos];
            if s == EMPTY {
                break;
            }
            if s == want {
                // The run ends here when the next slot is empty: no tombstone needed.
                if self.slots[(pos + 1) & mask] == EMPTY {
                    self.slots[pos] = EMPTY;
                    self.used -= 1;
                } else {
                    self.slots[pos] = TOMB;
                }
                self.live -= 1;
                return true;
            }
            pos = (pos + 1) & mask;
        }
        if self.old.is_empty() {
            return false;
        }
        let tag = self.tag(hash);
        match self.find_old(hash, tag, |i| i == idx) {
            Some((p, _)) => {
                self.old[p] = TOMB;
                self.live -= 1;
                true
            }
            None => false,
        }
    }

    fn start_rebuild(&mut self) {
        let n = if self.live * 20 > self.slots.len() * 7 {
            self.slots.len() * 2
        } else {
            self.slots.len()
        };
        self.old = core::mem::replace(&mut self.slots, vec![EMPTY; n]);
        self.used = 0;
        self.cursor = 0;
    }

    fn migrate(&mut self, hash_of: &impl Fn(u32) -> u32) {
        if self.old.is_empty() {
            return;
        }
        let end = (self.cursor + MIGRATE_PER_OP).min(self.old.len());
        for pos in self.cursor..end {
            let s = self.old[pos];
            if s != EMPTY && s != TOMB {
                let idx = self.idx_of(s);
                Self::place(&mut self.slots, s, hash_of(idx));
                self.used += 1;
            }
        }
        self.cursor = end;
        if self.cursor == self.old.len() {
            self.old = Vec::new();
            self.cursor = 0;
        }
    }

    /// The entry index in slot `k` (modulo the array size) of the current array, if any: for
    /// sampling victims.
    pub(super) fn sample(&self, k: usize) -> Option<u32> {
        let s = self.slots[k & (self.slots.len() - 1)];
        (s != EMPTY && s != TOMB).then(|| self.idx_of(s))
    }

    /// Slots in the current array.
    pub(super) fn capacity(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u32) -> u32 {
        i.wrapping_mul(0x9E37_79B9).rotate_left(7)
    }

    #[test]
    fn model_with_rebuilds_and_tombstones() {
        let mut ix = Index::new(1 << 16, 0);
        let mut live = std::collections::BTreeSet::new();
        let mut x = 12345u64;
        for step in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % 40_000) as u32;
            if live.contains(&i) {
                assert!(ix.remove(h(i), i, h));
                live.remove(&i);
            } else {
                ix.insert(h(i), i, h);
                live.insert(i);
            }
            if step % 997 == 0 {
                for j in 0..40_000u32 {
                    assert_eq!(
                        ix.find(h(j), |c| c == j).is_some(),
                        live.contains(&j),
                        "{j}"
                    );
                }
            }
            assert_eq!(ix.len(), live.len());
        }
        // Churn never lets the array run full: the load stays bounded.
        assert!(ix.used * 10 <= ix.slots.len() * 8);
    }

    #[test]
    fn colliding_hashes_are_told_apart_by_the_caller() {
        let mut ix = Index::new(100, 0);
        for i in 0..50 {
            ix.insert(7, i, |_| 7);
        }
        for i in 0..50 {
            assert_eq!(ix.find(7, |c| c == i), Some(i));
        }
        assert!(ix.remove(7, 10, |_| 7));
        assert_eq!(ix.find(7, |c| c == 10), None);
        assert!(!ix.remove(7, 10, |_| 7));
    }
}
