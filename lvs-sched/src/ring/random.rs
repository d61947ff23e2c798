//! twemproxy's `random` distribution (`nc_random.c`): one slot per live server, weights
//! ignored, and a key goes to slot `random() % slots` whatever the key. The randomness is
//! injected: given the same 32-bit draws as glibc's `random()`, the choices are the same.

use lvs_core::rng::Rng;

/// A random picker over the live servers, owning its RNG.
#[derive(Debug, Clone)]
pub struct RandomRing<R> {
    slots: Vec<u32>,
    rng: R,
}

impl<R: Rng> RandomRing<R> {
    /// One slot per live server (`ejected[i]` true leaves server `i` out; missing means live).
    pub fn new(servers: usize, ejected: &[bool], rng: R) -> Self {
        let slots = (0..servers)
            .filter(|&i| !ejected.get(i).copied().unwrap_or(false))
            .map(|i| i as u32)
            .collect();
        Self { slots, rng }
    }

    /// Picks a server: `draw % live`, with `draw` the RNG's next 32-bit value.
    pub fn pick(&mut self) -> Option<usize> {
        pick_slot(&self.slots, &mut self.rng)
    }

    /// The live server indices.
    pub fn slots(&self) -> &[u32] {
        &self.slots
    }
}

/// `slots[draw % len]`, `None` when empty (no draw is taken then).
pub(super) fn pick_slot<R: Rng + ?Sized>(slots: &[u32], rng: &mut R) -> Option<usize> {
    if slots.is_empty() {
        return None;
    }
    let draw = rng.next_u32();
    Some(slots[(draw % slots.len() as u32) as usize] as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_core::rng::SeedableRng;

    #[test]
    fn picks_only_live_servers_and_covers_them() {
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut r = RandomRing::new(4, &[false, true], rng);
        assert_eq!(r.slots(), &[0, 2, 3]);
        let mut seen = [0u32; 4];
        for _ in 0..3000 {
            seen[r.pick().unwrap()] += 1;
        }
        assert_eq!(seen[1], 0);
        assert!(seen[0] > 800 && seen[2] > 800 && seen[3] > 800, "{seen:?}");
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        assert_eq!(RandomRing::new(2, &[true, true], rng).pick(), None);
    }
}
