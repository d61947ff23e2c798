//! Fuzz entry point for the consistent-hash rings.

use crate::ring::diff::{self, RingDiff, SPACE};
use crate::ring::{
    Distribution, HashFunction, LibmemcachedKetama, LibmemcachedServer, ServerSpec, TwemproxyPool,
    jump_hash,
};

/// A tiny cursor over the fuzz input.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

fn check_diff<K: Ord + core::fmt::Debug>(d: &RingDiff<K>, both_live: bool) {
    let (mut gained, mut lost) = (0u64, 0u64);
    for (k, s) in d.servers() {
        assert!(s.before <= SPACE && s.after <= SPACE, "{k:?} {s:?}");
        assert!(s.lost <= s.before && s.gained <= s.after, "{k:?} {s:?}");
        assert_eq!(s.before - s.lost + s.gained, s.after, "{k:?} {s:?}");
        for f in [
            s.before_fraction(),
            s.after_fraction(),
            s.gained_fraction(),
            s.lost_fraction(),
        ] {
            assert!((0.0..=1.0).contains(&f));
        }
        gained += s.gained;
        lost += s.lost;
    }
    assert!(d.moved() <= SPACE);
    assert!((0.0..=1.0).contains(&d.moved_fraction()));
    // A moved value leaves one owner and reaches another, unless one ring has no live server.
    assert!(gained <= d.moved() && lost <= d.moved() && gained + lost >= d.moved());
    if both_live {
        assert_eq!((gained, lost), (d.moved(), d.moved()));
    }
}

/// Builds twemproxy and libmemcached rings from fuzzed server lists and weights, looks up fuzzed
/// keys, ejects servers and diffs the rings. Panics only if an invariant breaks: a lookup
/// returns a missing or ejected server, or a diff's shares do not add up.
pub fn ring_ops(data: &[u8]) {
    let mut input = Input(data);
    let hash = HashFunction::ALL[usize::from(input.byte()) % 12];
    let flags = input.byte();
    let distribution = match flags % 3 {
        0 => Distribution::Ketama,
        1 => Distribution::Modula,
        _ => Distribution::Random,
    };
    let n = usize::from(input.byte() % 12) + 1;
    let mut specs = Vec::with_capacity(n);
    let mut lm = Vec::with_capacity(n);
    for i in 0..n {
        let kind = input.byte();
        let w = u32::from(input.byte());
        let port = u16::from_le_bytes([input.byte(), input.byte()]);
        let entry = if kind & 0x80 != 0 {
            // Raw text straight into the parser.
            let len = usize::from(kind & 0x1f);
            String::from_utf8_lossy(input.bytes(len)).into_owned()
        } else if kind & 0x40 != 0 {
            format!("10.0.0.{i}:{port}:{w} node{kind}")
        } else {
            format!("10.0.0.{i}:{port}:{w}")
        };
        match ServerSpec::parse(&entry) {
            Ok(s) => {
                assert!(s.weight() >= 1);
                specs.push(s);
            }
            Err(_) => continue,
        }
        lm.push(LibmemcachedServer::new(&format!("10.0.0.{i}"), port, w));
    }
    let keys: Vec<Vec<u8>> = input.0.chunks(7).map(<[u8]>::to_vec).collect();

    if let Ok(pool) = TwemproxyPool::new(specs.clone(), hash, distribution) {
        let pool = if flags & 0x10 != 0 {
            pool.with_hash_tag(b"{}").unwrap_or_else(|_| unreachable!())
        } else {
            pool
        };
        let mut rng = Counter(u64::from(flags));
        for k in &keys {
            let got = pool.pick(k, &mut rng);
            let i = got.unwrap_or_else(|| panic!("all servers live, no pick for {k:?}"));
            assert!(i < pool.servers().len());
        }
        let mut after = pool.clone();
        for (i, k) in keys.iter().enumerate().take(pool.servers().len()) {
            if k.first().is_some_and(|b| b & 1 == 1) {
                // Fewer live servers can give one server more point groups, and so a longer
                // point string; that is the only way an ejection can be refused.
                if let Err(e) = after.set_ejected(i, true) {
                    assert_eq!(e, crate::ring::RingError::NameTooLong);
                }
            }
        }
        for k in &keys {
            if let Some(i) = after.pick(k, &mut rng) {
                assert!(!after.is_ejected(i), "ejected server {i} picked");
            }
        }
        if let Some(c) = pool.continuum() {
            let share: u64 = c.ownership().iter().sum();
            assert_eq!(share, if c.is_empty() { 0 } else { SPACE });
        }
        let live = |p: &TwemproxyPool| p.continuum().is_some_and(|c| !c.is_empty());
        check_diff(
            &diff::between_pools(&pool, &after),
            live(&pool) && live(&after),
        );
    }

    if let Ok(ring) = LibmemcachedKetama::new(lm) {
        let mut after = ring.clone();
        let _ = after.set_ejected(usize::from(flags) % ring.servers().len(), true);
        for k in &keys {
            let i = ring.pick(k).unwrap_or_else(|| panic!("no pick for {k:?}"));
            assert!(i < ring.servers().len());
        }
        let live = !ring.continuum().is_empty() && !after.continuum().is_empty();
        check_diff(&diff::between_libmemcached(&ring, &after), live);
    }

    for k in &keys {
        let key = k.iter().fold(0u64, |a, &b| a.rotate_left(8) ^ u64::from(b));
        let buckets = u32::from(flags) + 1;
        let b = jump_hash(key, buckets).unwrap_or_else(|| unreachable!());
        assert!(b < buckets);
    }
}

/// A deterministic counter "RNG" so the fuzz function needs no seed handling.
pub(crate) struct Counter(pub(crate) u64);

impl lvs_core::rng::TryRng for Counter {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        Ok((self.0 >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let hi = u64::from(self.try_next_u32()?);
        Ok(hi << 32 | u64::from(self.try_next_u32()?))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(4) {
            let v = self.try_next_u32()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}
