//! The randomness convention.
//!
//! A machine that needs entropy (DNS query IDs, NTP nonces, VRRP start-up skew, the `twos`
//! scheduler, hash keys) takes an RNG **at construction**, as a generic `R: rand_core::Rng` or a
//! `Box<dyn rand_core::Rng>`; it never reaches for a global or thread-local generator (clippy
//! forbids it in the protocol crates). Machines whose randomness must be unpredictable to an
//! attacker (DNS IDs and ports) ask for [`CryptoRng`].
//!
//! Binaries seed from the operating system. Tests and the simulator start from one `u64` seed,
//! print it, and give each node its own stream with [`derive_seed`], so a failing run replays
//! exactly.

pub use rand_core::{CryptoRng, Rng, SeedableRng, TryRng};

/// A well-mixed seed for stream `index` derived from a root `seed` (SplitMix64 finaliser).
///
/// Different indices give statistically independent seeds; the same pair always gives the same
/// seed.
///
/// ```
/// use lvs_core::rng::derive_seed;
/// assert_eq!(derive_seed(42, 1), derive_seed(42, 1));
/// assert_ne!(derive_seed(42, 1), derive_seed(42, 2));
/// assert_ne!(derive_seed(42, 1), derive_seed(43, 1));
/// ```
pub fn derive_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform value in `0..bound` from `rng` without modulo bias (Lemire's method).
/// Returns 0 when `bound` is 0.
///
/// ```
/// use lvs_core::rng::{uniform_below, SeedableRng};
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
/// for _ in 0..1000 {
///     assert!(uniform_below(&mut rng, 10) < 10);
/// }
/// ```
pub fn uniform_below<R: Rng + ?Sized>(rng: &mut R, bound: u64) -> u64 {
    if bound == 0 {
        return 0;
    }
    let threshold = bound.wrapping_neg() % bound;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(bound);
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_below_covers_range_evenly() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            counts[uniform_below(&mut rng, 6) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        assert_eq!(uniform_below(&mut rng, 0), 0);
        assert_eq!(uniform_below(&mut rng, 1), 0);
    }
}
