//! Consistent-hash rings for memcached pools, placement-compatible with the real clients.
//!
//! * [`hash`]: the twelve key hashes of twemproxy (nutcracker) 0.5.0, bit-exact, quirks included
//!   (15-bit `crc32`, 32-bit `fnv1a_64`, sign-extended bytes).
//! * [`TwemproxyPool`]: a nutcracker server pool — `host:port:weight [name]` entries
//!   ([`ServerSpec`]), `hash`, `hash_tag`, and the `ketama`, `modula` or `random` distribution,
//!   with ejected servers left out exactly as `auto_eject_hosts` does.
//! * [`LibmemcachedKetama`]: libmemcached's weighted ketama (`MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED`).
//! * [`jump_hash`]: Lamping and Veach's jump consistent hash.
//! * [`diff`]: the exact share of the 32-bit hash space that changes owner between two rings,
//!   and each server's gain and loss, found by merging the two sorted continua.
//!
//! A ring is a [`Continuum`]: points sorted by value, each owned by a server index. A key hash
//! `h` belongs to the first point `>= h`; past the last point it wraps to the first. Points with
//! equal values keep their insertion order (server order, then point order), which is what
//! glibc's merge-sorting `qsort` gives twemproxy and what libmemcached's comparator asks for.
//!
//! # Example
//!
//! ```
//! use lvs_sched::ring::{diff, Distribution, HashFunction, ServerSpec, TwemproxyPool};
//!
//! let specs = ["10.0.0.1:11211:1", "10.0.0.2:11211:1", "10.0.0.3:11211:1 cache-c"];
//! let servers = specs.iter().map(|s| ServerSpec::parse(s)).collect::<Result<Vec<_>, _>>()?;
//! assert_eq!(servers[0].ketama_name(), "10.0.0.1"); // port 11211 is left out
//! assert_eq!(servers[2].ketama_name(), "cache-c");
//!
//! let pool = TwemproxyPool::new(servers, HashFunction::Fnv1a64, Distribution::Ketama)?
//!     .with_hash_tag(b"{}")?;
//! let owner = pool.pick_deterministic(b"user:{42}:profile").expect("live servers");
//! // Only the tag is hashed, so every key with the same tag lands on the same server.
//! assert_eq!(pool.pick_deterministic(b"cart:{42}"), Some(owner));
//!
//! // Eject the third server. With equal weights the others keep their 160 points each, so
//! // exactly its share of the hash space moves and nothing else.
//! let mut after = pool.clone();
//! after.set_ejected(2, true)?;
//! let d = diff::between_pools(&pool, &after);
//! let lost = d.server("cache-c").lost_fraction();
//! assert!((d.moved_fraction() - lost).abs() < 1e-12);
//! assert!(lost > 0.2 && lost < 0.5);
//! assert_eq!(d.server("cache-c").after, 0);
//! # Ok::<(), lvs_sched::ring::RingError>(())
//! ```

pub mod diff;
pub mod hash;
mod jump;
mod ketama;
mod libmemcached;
mod md5x;
mod modula;
mod pool;
mod random;
mod server;

pub use hash::HashFunction;
pub use jump::jump_hash;
pub use ketama::ketama_points;
pub use libmemcached::{LibmemcachedKetama, LibmemcachedServer};
pub use modula::modula_slots;
pub use pool::{Distribution, MAX_MODULA_SLOTS, TwemproxyPool};
pub use random::RandomRing;
pub use server::{DEFAULT_KETAMA_PORT, ServerSpec};

/// The most servers one ring accepts (bounds memory: at most 160 points per server on average).
pub const MAX_SERVERS: usize = 65_536;

/// Why a ring or server entry was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RingError {
    /// The entry is not `host:port:weight [name]` or `/path:weight [name]`.
    #[error("server entry is not \"host:port:weight [name]\" or \"/path:weight [name]\"")]
    ServerFormat,
    /// The port is not a number in 1..=65535.
    #[error("invalid port")]
    Port,
    /// The weight is not a number in 1..=2^31-1.
    #[error("invalid or zero weight")]
    Weight,
    /// A ketama point string would overflow twemproxy's 86-byte buffer (85 bytes + NUL).
    #[error("server name too long for a ketama point string")]
    NameTooLong,
    /// The live servers' weights add up to more than 2^32-1.
    #[error("total weight overflows 32 bits")]
    TotalWeight,
    /// No servers, or more than [`MAX_SERVERS`].
    #[error("server count is 0 or above the limit")]
    ServerCount,
    /// A server index is out of range.
    #[error("no such server")]
    NoSuchServer,
    /// Two servers share a ketama name (nutcracker refuses the pool).
    #[error("two servers have the same name")]
    DuplicateName,
    /// A hash tag must be exactly two bytes.
    #[error("hash tag must be two bytes")]
    HashTag,
}

/// A sorted ring of points, each owned by a server index.
///
/// Lookup is a binary search for the first point `>= hash` (wrapping to the first point),
/// narrowed first by a table indexed by the hash's top bits, so a lookup touches one or two
/// cache lines of points.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Continuum {
    points: Vec<u32>,
    owners: Vec<u32>,
    /// `index[b]` = first position whose point has top bits `>= b`; one extra entry at the end.
    index: Vec<u32>,
    shift: u32,
}

impl Continuum {
    /// Builds a continuum from `(point, owner)` pairs in insertion order. Sorting is stable, so
    /// equal points keep their insertion order.
    pub fn from_pairs(pairs: Vec<(u32, u32)>) -> Self {
        Self::sorted(&pairs[..])
    }

    /// Sorts `source`'s pairs stably by point and builds the lookup index.
    ///
    /// A three-pass LSD radix sort (digits of 11, 11 and 10 bits): one read of the source
    /// counts all three digits and the index buckets, the first two passes scatter packed
    /// `point << 32 | owner` words, and the last scatters straight into `points` and `owners`.
    /// Each pass keeps equal digits in input order, so the whole sort is stable.
    fn sorted(source: &(impl PairSource + ?Sized)) -> Self {
        let n = source.len();
        debug_assert!(u32::try_from(n).is_ok());
        let bits = if n < 2 {
            1
        } else {
            (usize::BITS - n.leading_zeros()).min(16)
        };
        let shift = 32 - bits;
        let buckets = 1usize << bits;
        // Bucket b is counted at index[b + 1]; the running sum then leaves its start at index[b].
        let mut index = vec![0u32; buckets + 1];
        let mut count = [[0u32; 2048]; 3];
        source.for_each_pair(|p, _| {
            count[0][(p & 0x7ff) as usize] += 1;
            count[1][((p >> 11) & 0x7ff) as usize] += 1;
            count[2][(p >> 22) as usize] += 1;
            index[(p >> shift) as usize + 1] += 1;
        });
        for c in &mut count {
            let mut sum = 0;
            for slot in c.iter_mut() {
                let k = *slot;
                *slot = sum;
                sum += k;
            }
        }
        let mut sum = 0;
        for slot in &mut index {
            sum += *slot;
            *slot = sum;
        }
        let [c0, c1, c2] = &mut count;
        let mut first = vec![0u64; n];
        source.for_each_pair(|p, o| {
            let at = &mut c0[(p & 0x7ff) as usize];
            first[*at as usize] = (u64::from(p) << 32) | u64::from(o);
            *at += 1;
        });
        let mut second = vec![0u64; n];
        for &v in &first {
            let at = &mut c1[((v >> 43) & 0x7ff) as usize];
            second[*at as usize] = v;
            *at += 1;
        }
        drop(first);
        let mut points = vec![0u32; n];
        let mut owners = vec![0u32; n];
        for &v in &second {
            let at = &mut c2[(v >> 54) as usize];
            points[*at as usize] = (v >> 32) as u32;
            owners[*at as usize] = v as u32;
            *at += 1;
        }
        Self {
            points,
            owners,
            index,
            shift,
        }
    }

    /// The owner of `hash`: the first point `>= hash`, wrapping past the end. `None` if empty.
    #[inline]
    pub fn lookup(&self, hash: u32) -> Option<u32> {
        if self.points.is_empty() {
            return None;
        }
        let b = (hash >> self.shift) as usize;
        let lo = self.index[b] as usize;
        let hi = self.index[b + 1] as usize;
        let pos = lo + self.points[lo..hi].partition_point(|&p| p < hash);
        let pos = if pos == self.points.len() { 0 } else { pos };
        Some(self.owners[pos])
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True when the ring has no points (no live server).
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The sorted point values.
    pub fn points(&self) -> &[u32] {
        &self.points
    }

    /// The owner of each point, parallel to [`points`](Self::points).
    pub fn owners(&self) -> &[u32] {
        &self.owners
    }

    /// How many of the 2^32 hash values each owner receives, indexed by owner (the vector is
    /// as long as the largest owner index + 1).
    pub fn ownership(&self) -> Vec<u64> {
        let len = self.owners.iter().max().map_or(0, |&m| m as usize + 1);
        let mut share = vec![0u64; len];
        let mut prev: u64 = 0; // first hash value not yet assigned
        for (&p, &o) in self.points.iter().zip(&self.owners) {
            let p = u64::from(p);
            if p + 1 > prev {
                share[o as usize] += p + 1 - prev;
                prev = p + 1;
            }
        }
        if let Some(&first) = self.owners.first() {
            share[first as usize] += (1u64 << 32) - prev;
        }
        share
    }
}

/// `(point, owner)` pairs in insertion order, visited twice by [`Continuum::sorted`].
trait PairSource {
    /// Number of pairs (at most `u32::MAX`, which [`MAX_SERVERS`] and the weight limits keep).
    fn len(&self) -> usize;
    /// Calls `f(point, owner)` for every pair in insertion order.
    fn for_each_pair(&self, f: impl FnMut(u32, u32));
}

impl PairSource for [(u32, u32)] {
    fn len(&self) -> usize {
        <[(u32, u32)]>::len(self)
    }

    fn for_each_pair(&self, mut f: impl FnMut(u32, u32)) {
        for &(p, o) in self {
            f(p, o);
        }
    }
}

/// Points laid down server by server, each server's points a run with one owner; cheaper than
/// a `(point, owner)` pair per point.
#[derive(Debug)]
pub(super) struct PointRuns {
    points: Vec<u32>,
    /// `(owner, end)`: the points from the previous run's end to `end` belong to `owner`.
    runs: Vec<(u32, usize)>,
}

impl PointRuns {
    /// Room for `points` points.
    pub(super) fn with_capacity(points: usize) -> Self {
        Self {
            points: Vec::with_capacity(points),
            runs: Vec::new(),
        }
    }

    /// Appends points to the open run.
    pub(super) fn extend(&mut self, points: &[u32]) {
        self.points.extend_from_slice(points);
    }

    /// Gives every point appended since the previous run to `owner`.
    pub(super) fn end_run(&mut self, owner: u32) {
        self.runs.push((owner, self.points.len()));
    }

    /// Sorts the runs' points into a continuum.
    pub(super) fn finish(self) -> Continuum {
        debug_assert_eq!(self.runs.last().map_or(0, |r| r.1), self.points.len());
        Continuum::sorted(&self)
    }
}

impl PairSource for PointRuns {
    fn len(&self) -> usize {
        self.runs.last().map_or(0, |r| r.1)
    }

    fn for_each_pair(&self, mut f: impl FnMut(u32, u32)) {
        let mut start = 0;
        for &(owner, end) in &self.runs {
            for &p in &self.points[start..end] {
                f(p, owner);
            }
            start = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_lower_bound_with_wrap() {
        let c = Continuum::from_pairs(vec![(100, 1), (50, 0), (100, 2), (u32::MAX - 1, 3)]);
        assert_eq!(c.points(), &[50, 100, 100, u32::MAX - 1]);
        assert_eq!(c.owners(), &[0, 1, 2, 3]);
        assert_eq!(c.lookup(0), Some(0));
        assert_eq!(c.lookup(50), Some(0));
        assert_eq!(c.lookup(51), Some(1));
        assert_eq!(c.lookup(100), Some(1));
        assert_eq!(c.lookup(101), Some(3));
        assert_eq!(c.lookup(u32::MAX), Some(0));
        assert_eq!(Continuum::default().lookup(7), None);
    }

    #[test]
    fn ownership_adds_up_to_the_whole_space() {
        let c = Continuum::from_pairs(vec![(10, 0), (20, 1), (20, 2)]);
        let s = c.ownership();
        assert_eq!(s, vec![11 + ((1u64 << 32) - 21), 10, 0]);
        assert_eq!(s.iter().sum::<u64>(), 1u64 << 32);
    }

    #[test]
    fn radix_sort_is_stable_and_matches_std() {
        let mut x: u32 = 12345;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        // Uniform points, points crowded into a few index buckets, and a mix.
        let shapes: [&dyn Fn(u32) -> u32; 3] = [&|r| r, &|r| r % 3000, &|r| r & 0xf000_0fff];
        for (k, shape) in shapes.iter().enumerate() {
            for n in [0usize, 1, 2, 17, 600, 5000] {
                let pairs: Vec<(u32, u32)> = (0..n as u32).map(|i| (shape(next()), i)).collect();
                let mut want = pairs.clone();
                want.sort_by_key(|p| p.0);
                let c = Continuum::from_pairs(pairs.clone());
                let (points, owners): (Vec<u32>, Vec<u32>) = want.into_iter().unzip();
                assert_eq!(c.points(), &points[..], "shape {k}, n {n}");
                assert_eq!(c.owners(), &owners[..], "shape {k}, n {n}");
                let mut runs = PointRuns::with_capacity(n);
                for chunk in pairs.chunk_by(|a, b| a.1 / 7 == b.1 / 7) {
                    let ps: Vec<u32> = chunk.iter().map(|p| p.0).collect();
                    runs.extend(&ps);
                    runs.end_run(chunk[0].1 / 7);
                }
                let r = runs.finish();
                assert_eq!(r.points(), &points[..], "shape {k}, n {n}");
                let grouped: Vec<u32> = owners.iter().map(|o| o / 7).collect();
                assert_eq!(r.owners(), &grouped[..], "shape {k}, n {n}");
                assert_eq!(r.index, c.index);
            }
        }
    }

    #[test]
    fn indexed_lookup_matches_plain_binary_search() {
        let mut x: u32 = 99;
        let mut pairs = Vec::new();
        for i in 0..3000u32 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            pairs.push((x, i));
        }
        let c = Continuum::from_pairs(pairs);
        for probe in (0..200_000u32).map(|i| i.wrapping_mul(2_654_435_761)) {
            let pos = c.points().partition_point(|&p| p < probe);
            let want = c.owners()[if pos == c.len() { 0 } else { pos }];
            assert_eq!(c.lookup(probe), Some(want));
        }
    }
}
