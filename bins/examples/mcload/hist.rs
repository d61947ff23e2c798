//! Latency histogram with fixed buckets. Self-contained so that `tests/mcload_smoke.rs`
//! compiles it and runs its unit tests.

/// Latencies in fixed log-linear buckets: values below 128 ns exactly, above that 64 buckets
/// per power of two. 3,776 counters cover all of `u64`.
pub(crate) struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Histogram {
    const SUB_BITS: u32 = 6;
    const SUB: u64 = 1 << Self::SUB_BITS;

    pub(crate) fn new() -> Self {
        Self {
            counts: vec![0; Self::index(u64::MAX) + 1],
            total: 0,
        }
    }

    fn index(v: u64) -> usize {
        if v < 2 * Self::SUB {
            return v as usize;
        }
        let shift = 63 - v.leading_zeros() - Self::SUB_BITS;
        ((u64::from(shift) + 1) * Self::SUB + (v >> shift) - Self::SUB) as usize
    }

    /// The largest value of bucket `i`.
    fn upper(i: usize) -> u64 {
        let i = i as u64;
        if i < 2 * Self::SUB {
            return i;
        }
        let shift = i / Self::SUB - 1;
        let m = i % Self::SUB + Self::SUB;
        ((u128::from(m + 1) << shift) - 1).min(u128::from(u64::MAX)) as u64
    }

    pub(crate) fn record(&mut self, v: u64) {
        self.counts[Self::index(v)] += 1;
        self.total += 1;
    }

    /// The value below or at which a fraction `q` of the samples lie (0 when empty).
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        let want = ((q * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return Self::upper(i);
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_contiguous_and_bounded() {
        let mut prev = Histogram::index(0);
        for v in [
            1u64,
            127,
            128,
            129,
            255,
            256,
            1000,
            1 << 20,
            u64::MAX / 3,
            u64::MAX,
        ] {
            let i = Histogram::index(v);
            assert!(i >= prev, "{v}");
            assert!(Histogram::upper(i) >= v, "{v}");
            // Relative error under 1/64.
            assert!(
                (Histogram::upper(i) - v) as f64 <= v as f64 / 64.0 + 1.0,
                "{v}"
            );
            prev = i;
        }
        for i in 1..Histogram::index(u64::MAX) {
            assert_eq!(Histogram::index(Histogram::upper(i - 1) + 1), i);
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut h = Histogram::new();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5);
        assert!((500_000..=508_000).contains(&p50), "{p50}");
        let p99 = h.quantile(0.99);
        assert!((990_000..=1_006_000).contains(&p99), "{p99}");
        assert_eq!(Histogram::new().quantile(0.5), 0);
    }
}
