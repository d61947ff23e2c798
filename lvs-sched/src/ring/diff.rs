//! Exact ring differences: which part of the 2^32 hash space changes owner between two rings.
//!
//! Both continua are walked together (a merge of their sorted points). Between two consecutive
//! boundaries each ring has a single owner, so every hash value is accounted for exactly, with
//! no sampling. Owners are compared by label (a server's identity, e.g. its ketama name), so the
//! two rings may list their servers in different orders or have different servers.
//!
//! Invariants of a [`RingDiff`]: the moved count equals the sum of every server's gain and the
//! sum of every server's loss; for each server, `after = before - lost + gained`; all fractions
//! lie in `[0, 1]`.

use std::collections::BTreeMap;

use super::{Continuum, LibmemcachedKetama, TwemproxyPool};

/// The size of the hash space, 2^32.
pub const SPACE: u64 = 1 << 32;

/// One server's share before and after, and what it gained and lost (counts of hash values).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerDelta {
    /// Hash values it owned before.
    pub before: u64,
    /// Hash values it owns after.
    pub after: u64,
    /// Hash values it owns after but did not before.
    pub gained: u64,
    /// Hash values it owned before but does not after.
    pub lost: u64,
}

impl ServerDelta {
    /// `before` as a fraction of the hash space.
    pub fn before_fraction(&self) -> f64 {
        self.before as f64 / SPACE as f64
    }

    /// `after` as a fraction of the hash space.
    pub fn after_fraction(&self) -> f64 {
        self.after as f64 / SPACE as f64
    }

    /// `gained` as a fraction of the hash space.
    pub fn gained_fraction(&self) -> f64 {
        self.gained as f64 / SPACE as f64
    }

    /// `lost` as a fraction of the hash space.
    pub fn lost_fraction(&self) -> f64 {
        self.lost as f64 / SPACE as f64
    }
}

/// The difference between two rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingDiff<K: Ord> {
    moved: u64,
    servers: BTreeMap<K, ServerDelta>,
}

impl<K: Ord> RingDiff<K> {
    /// Hash values whose owner changed (including to or from "no live server").
    pub fn moved(&self) -> u64 {
        self.moved
    }

    /// `moved` as a fraction of the hash space.
    pub fn moved_fraction(&self) -> f64 {
        self.moved as f64 / SPACE as f64
    }

    /// One server's delta (all zero for a label in neither ring).
    pub fn server<Q>(&self, label: &Q) -> ServerDelta
    where
        K: core::borrow::Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.servers.get(label).copied().unwrap_or_default()
    }

    /// Every server seen in either ring, by label.
    pub fn servers(&self) -> impl Iterator<Item = (&K, &ServerDelta)> {
        self.servers.iter()
    }
}

/// Per-owner-index accumulators for one side of the walk.
#[derive(Default)]
struct Side {
    share: Vec<u64>,
    changed: Vec<u64>,
}

impl Side {
    fn add(&mut self, owner: u32, len: u64, changed: bool) {
        let o = owner as usize;
        if self.share.len() <= o {
            self.share.resize(o + 1, 0);
            self.changed.resize(o + 1, 0);
        }
        self.share[o] += len;
        if changed {
            self.changed[o] += len;
        }
    }
}

/// The run of hash values starting at `start` that one owner keeps: `(last value, owner)`.
fn run(c: &Continuum, i: usize) -> Option<(u64, u32)> {
    let (p, o) = (c.points(), c.owners());
    if p.is_empty() {
        None
    } else if i < p.len() {
        Some((u64::from(p[i]), o[i]))
    } else {
        Some((SPACE - 1, o[0]))
    }
}

/// Compares two continua. `label_before(owner)` and `label_after(owner)` name the owners of
/// each ring; equal labels mean the same server.
pub fn between<K, FA, FB>(
    before: &Continuum,
    label_before: FA,
    after: &Continuum,
    label_after: FB,
) -> RingDiff<K>
where
    K: Ord + Clone,
    FA: Fn(u32) -> K,
    FB: Fn(u32) -> K,
{
    let (mut a, mut b) = (Side::default(), Side::default());
    let mut moved = 0u64;
    let (pa, pb) = (before.points(), after.points());
    let (mut ia, mut ib) = (0usize, 0usize);
    let mut start = 0u64;
    // Labels of each owner index, computed once.
    let la: Vec<K> = label_table(before, &label_before);
    let lb: Vec<K> = label_table(after, &label_after);
    while start < SPACE {
        while ia < pa.len() && u64::from(pa[ia]) < start {
            ia += 1;
        }
        while ib < pb.len() && u64::from(pb[ib]) < start {
            ib += 1;
        }
        let ra = run(before, ia);
        let rb = run(after, ib);
        let end = match (ra, rb) {
            (Some((ea, _)), Some((eb, _))) => ea.min(eb),
            (Some((e, _)), None) | (None, Some((e, _))) => e,
            (None, None) => SPACE - 1,
        };
        let len = end - start + 1;
        let oa = ra.map(|r| r.1);
        let ob = rb.map(|r| r.1);
        let changed = match (oa, ob) {
            (Some(x), Some(y)) => la[x as usize] != lb[y as usize],
            (None, None) => false,
            _ => true,
        };
        if changed {
            moved += len;
        }
        if let Some(x) = oa {
            a.add(x, len, changed);
        }
        if let Some(y) = ob {
            b.add(y, len, changed);
        }
        start = end + 1;
    }
    let mut servers: BTreeMap<K, ServerDelta> = BTreeMap::new();
    for (o, (&share, &lost)) in a.share.iter().zip(&a.changed).enumerate() {
        let d = servers.entry(la[o].clone()).or_default();
        d.before += share;
        d.lost += lost;
    }
    for (o, (&share, &gained)) in b.share.iter().zip(&b.changed).enumerate() {
        let d = servers.entry(lb[o].clone()).or_default();
        d.after += share;
        d.gained += gained;
    }
    RingDiff { moved, servers }
}

fn label_table<K, F: Fn(u32) -> K>(c: &Continuum, label: &F) -> Vec<K> {
    let n = c.owners().iter().max().map_or(0, |&m| m + 1);
    (0..n).map(label).collect()
}

/// Compares two twemproxy ketama pools, servers labelled by their ketama name. A pool that is
/// not ketama counts as having no live server.
pub fn between_pools(before: &TwemproxyPool, after: &TwemproxyPool) -> RingDiff<String> {
    let empty = Continuum::default();
    between(
        before.continuum().unwrap_or(&empty),
        |o| before.servers()[o as usize].ketama_name().to_owned(),
        after.continuum().unwrap_or(&empty),
        |o| after.servers()[o as usize].ketama_name().to_owned(),
    )
}

/// Compares two libmemcached weighted-ketama rings, servers labelled `host:port`.
pub fn between_libmemcached(
    before: &LibmemcachedKetama,
    after: &LibmemcachedKetama,
) -> RingDiff<String> {
    let label = |r: &LibmemcachedKetama, o: u32| {
        let s = &r.servers()[o as usize];
        format!("{}:{}", s.host, s.port)
    };
    between(
        before.continuum(),
        |o| label(before, o),
        after.continuum(),
        |o| label(after, o),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(pairs: &[(u32, u32)]) -> Continuum {
        Continuum::from_pairs(pairs.to_vec())
    }

    #[test]
    fn identical_rings_move_nothing() {
        let r = c(&[(10, 0), (20, 1), (30, 2)]);
        let d = between(&r, |o| o, &r, |o| o);
        assert_eq!(d.moved(), 0);
        assert_eq!(d.server(&1).before, 10);
        assert_eq!(d.server(&0).after, SPACE - 20);
    }

    #[test]
    fn removing_a_point_moves_exactly_its_arc() {
        let a = c(&[(10, 0), (20, 1), (30, 2)]);
        let b = c(&[(10, 0), (30, 2)]);
        let d = between(&a, |o| o, &b, |o| o);
        assert_eq!(d.moved(), 10); // 11..=20 go from 1 to 2
        assert_eq!(
            d.server(&1),
            ServerDelta {
                before: 10,
                after: 0,
                gained: 0,
                lost: 10
            }
        );
        assert_eq!(d.server(&2).gained, 10);
    }

    #[test]
    fn empty_rings_and_wrap() {
        let a = c(&[(u32::MAX, 0)]);
        let e = Continuum::default();
        let d = between(&a, |o| o, &e, |o| o);
        assert_eq!(d.moved(), SPACE);
        assert_eq!(d.server(&0).lost, SPACE);
        let d = between(&e, |o| o, &e, |o| o);
        assert_eq!(d.moved(), 0);
        // Same owner everywhere, different points: nothing moves.
        let b = c(&[(5, 0), (7, 0)]);
        assert_eq!(between(&a, |o| o, &b, |o| o).moved(), 0);
    }

    #[test]
    fn labels_decide_identity() {
        let a = c(&[(10, 0), (20, 1)]);
        let b = c(&[(10, 1), (20, 0)]);
        let names = ["x", "y"];
        let swapped = ["y", "x"];
        let d = between(&a, |o| names[o as usize], &b, |o| swapped[o as usize]);
        assert_eq!(d.moved(), 0);
        let d = between(&a, |o| names[o as usize], &b, |o| names[o as usize]);
        assert_eq!(d.moved(), SPACE);
    }
}
