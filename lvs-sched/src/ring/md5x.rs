//! MD5 of up to eight short messages at once, for building continua quickly.
//!
//! Ketama spends nearly all of its build time hashing point strings (40 digests per server), and
//! each string fits one 64-byte block. This computes eight single-block digests in lock-step,
//! lane by lane, which the compiler turns into SIMD arithmetic; the result is checked against
//! the `md-5` crate in tests. Longer strings go through `md-5` directly.

/// Messages hashed together.
pub(super) const LANES: usize = 8;
/// The longest message that fits one block (room for the 0x80 byte and the 8-byte length).
pub(super) const MAX_SINGLE_BLOCK: usize = 55;

type Lanes = [u32; LANES];

const SHIFTS: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
    14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15,
    21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];

/// The additive constants: `floor(|sin(i + 1)| * 2^32)` (RFC 1321 section 3.4), as a table
/// (computing 64 sines per server cost a tenth of a 1000-server ketama build); the test
/// `constants_are_the_sines` recomputes them.
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// The additive constants (see [`K`]).
pub(super) fn constants() -> [u32; 64] {
    K
}

/// Eight padded single-block messages.
pub(super) struct Batch {
    blocks: [[u8; 64]; LANES],
    len: usize,
}

impl Batch {
    pub(super) fn new() -> Self {
        Self {
            blocks: [[0; 64]; LANES],
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Adds a message of at most [`MAX_SINGLE_BLOCK`] bytes; returns false when full or too long.
    pub(super) fn push(&mut self, msg: &[u8]) -> bool {
        if self.len == LANES || msg.len() > MAX_SINGLE_BLOCK {
            return false;
        }
        let b = &mut self.blocks[self.len];
        b.fill(0);
        b[..msg.len()].copy_from_slice(msg);
        b[msg.len()] = 0x80;
        b[56..].copy_from_slice(&(msg.len() as u64 * 8).to_le_bytes());
        self.len += 1;
        true
    }

    pub(super) fn clear(&mut self) {
        self.len = 0;
    }

    /// The four little-endian digest words of each pushed message (lanes beyond `len` are junk).
    pub(super) fn digest_words(&self, k: &[u32; 64]) -> [[u32; 4]; LANES] {
        let mut w = [[0u32; LANES]; 16];
        for (l, blk) in self.blocks.iter().enumerate() {
            for (j, word) in w.iter_mut().enumerate() {
                word[l] = u32::from_le_bytes([
                    blk[4 * j],
                    blk[4 * j + 1],
                    blk[4 * j + 2],
                    blk[4 * j + 3],
                ]);
            }
        }
        let mut a = [0x6745_2301u32; LANES];
        let mut b = [0xefcd_ab89u32; LANES];
        let mut c = [0x98ba_dcfeu32; LANES];
        let mut d = [0x1032_5476u32; LANES];
        // One step updates a whole lane array: x = y + rotl(x + f(y, z, u) + k + w[g], s).
        // The roles of a, b, c, d rotate every step, so no values are shuffled between arrays.
        macro_rules! step {
            ($x:ident, $y:ident, $z:ident, $u:ident, $i:expr, $g:expr, $f:expr) => {{
                let i: usize = $i;
                let g: usize = $g;
                let (s, kk) = (SHIFTS[i], k[i]);
                let f: Lanes = $f(&$y, &$z, &$u);
                let mut t = [0u32; LANES];
                for l in 0..LANES {
                    t[l] = $x[l]
                        .wrapping_add(f[l])
                        .wrapping_add(kk)
                        .wrapping_add(w[g][l]);
                }
                for l in 0..LANES {
                    t[l] = t[l].rotate_left(s);
                }
                for l in 0..LANES {
                    $x[l] = $y[l].wrapping_add(t[l]);
                }
            }};
        }
        macro_rules! round {
            ($start:expr, $g:expr, $f:expr) => {
                for q in 0..4 {
                    let i = $start + 4 * q;
                    step!(a, b, c, d, i, $g(i), $f);
                    step!(d, a, b, c, i + 1, $g(i + 1), $f);
                    step!(c, d, a, b, i + 2, $g(i + 2), $f);
                    step!(b, c, d, a, i + 3, $g(i + 3), $f);
                }
            };
        }
        fn lanes(op: impl Fn(u32, u32, u32) -> u32, x: &Lanes, y: &Lanes, z: &Lanes) -> Lanes {
            let mut r = [0u32; LANES];
            for l in 0..LANES {
                r[l] = op(x[l], y[l], z[l]);
            }
            r
        }
        let ff = |x: &Lanes, y: &Lanes, z: &Lanes| lanes(|x, y, z| (x & y) | (!x & z), x, y, z);
        let gg = |x: &Lanes, y: &Lanes, z: &Lanes| lanes(|x, y, z| (x & z) | (y & !z), x, y, z);
        let hh = |x: &Lanes, y: &Lanes, z: &Lanes| lanes(|x, y, z| x ^ y ^ z, x, y, z);
        let ii = |x: &Lanes, y: &Lanes, z: &Lanes| lanes(|x, y, z| y ^ (x | !z), x, y, z);
        round!(0, |i: usize| i, ff);
        round!(16, |i: usize| (5 * i + 1) % 16, gg);
        round!(32, |i: usize| (3 * i + 5) % 16, hh);
        round!(48, |i: usize| (7 * i) % 16, ii);
        let mut out = [[0u32; 4]; LANES];
        for (l, o) in out.iter_mut().enumerate() {
            *o = [
                a[l].wrapping_add(0x6745_2301),
                b[l].wrapping_add(0xefcd_ab89),
                c[l].wrapping_add(0x98ba_dcfe),
                d[l].wrapping_add(0x1032_5476),
            ];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::hash::md5_digest;

    #[test]
    fn constants_are_the_sines() {
        for (i, &k) in K.iter().enumerate() {
            assert_eq!(
                k,
                (((i + 1) as f64).sin().abs() * 4_294_967_296.0) as u32,
                "K[{i}]"
            );
        }
    }

    #[test]
    fn matches_the_md5_crate_for_every_single_block_length() {
        let k = constants();
        let mut batch = Batch::new();
        let mut msgs = Vec::new();
        for len in 0..=MAX_SINGLE_BLOCK {
            msgs.push((0..len).map(|i| (i * 7 + len) as u8).collect::<Vec<u8>>());
        }
        msgs.push(b"10.0.0.1:11212-0".to_vec());
        msgs.push(b"abc".to_vec());
        for chunk in msgs.chunks(LANES) {
            batch.clear();
            for m in chunk {
                assert!(batch.push(m));
            }
            let words = batch.digest_words(&k);
            for (m, w) in chunk.iter().zip(words) {
                let d = md5_digest(m);
                for (j, word) in w.iter().enumerate() {
                    assert_eq!(
                        word.to_le_bytes(),
                        [d[4 * j], d[4 * j + 1], d[4 * j + 2], d[4 * j + 3]]
                    );
                }
            }
        }
        assert!(!batch.push(&[0; MAX_SINGLE_BLOCK + 1]));
    }
}
