//! MD5 of several single-block messages at once, for building continua quickly.
//!
//! Ketama spends much of its build time hashing point strings (40 digests per server), and each
//! string fits one 64-byte block. This computes [`LANES`] single-block digests in lock-step. The
//! 64 steps are written out with constant shifts, constants and word indices, and every step is
//! an element-wise operation on `[u32; LANES]`, so the compiler keeps them in SIMD registers
//! (SSE2 on baseline x86-64: two groups of four lanes per operation, two independent dependency
//! chains per step). The result is checked against the `md-5` crate in tests. Longer strings go
//! through `md-5` directly.

/// Messages hashed together.
pub(super) const LANES: usize = 8;
/// The longest message that fits one block (room for the 0x80 byte and the 8-byte length).
pub(super) const MAX_SINGLE_BLOCK: usize = 55;

type Lanes = [u32; LANES];

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

/// The initial chaining values A, B, C, D.
const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// Pads `msg` into one MD5 block (the 0x80 byte, zeros, the bit length little-endian), or
/// `None` when it is longer than [`MAX_SINGLE_BLOCK`] bytes.
#[cfg(test)]
pub(super) fn pad(msg: &[u8]) -> Option<[u8; 64]> {
    let mut block = [0u8; 64];
    block.get_mut(..msg.len())?.copy_from_slice(msg);
    if msg.len() > MAX_SINGLE_BLOCK {
        return None;
    }
    block[msg.len()] = 0x80;
    block[56..].copy_from_slice(&(msg.len() as u64 * 8).to_le_bytes());
    Some(block)
}

/// Up to [`LANES`] padded single-block messages, stored word-major (`words[j][lane]`) so each
/// MD5 step reads one lane array.
pub(super) struct Batch {
    words: [Lanes; 16],
    len: usize,
}

impl Batch {
    pub(super) fn new() -> Self {
        Self {
            words: [[0; LANES]; 16],
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_full(&self) -> bool {
        self.len == LANES
    }

    /// Adds an already padded block (see [`pad`]); returns false when the batch is full.
    pub(super) fn push_block(&mut self, block: &[u8; 64]) -> bool {
        if self.len == LANES {
            return false;
        }
        for (word, bytes) in self.words.iter_mut().zip(block.chunks_exact(4)) {
            word[self.len] = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        self.len += 1;
        true
    }

    pub(super) fn clear(&mut self) {
        self.len = 0;
    }

    /// The four little-endian digest words of each pushed message (lanes beyond `len` are junk).
    pub(super) fn digest_words(&self) -> [[u32; 4]; LANES] {
        let [a, b, c, d] = compress(&self.words);
        core::array::from_fn(|l| {
            [
                a[l].wrapping_add(INIT[0]),
                b[l].wrapping_add(INIT[1]),
                c[l].wrapping_add(INIT[2]),
                d[l].wrapping_add(INIT[3]),
            ]
        })
    }
}

/// Independent digests interleaved in one loop iteration: each vectorised step then has
/// `CHAINS` dependency chains to overlap, instead of waiting on the previous step's result.
const CHAINS: usize = 2;
/// Lane `l + c * STRIDE` is chain `c` of iteration `l`.
const STRIDE: usize = LANES / CHAINS;

type Chains = [u32; CHAINS];

#[inline(always)]
fn map3(x: Chains, y: Chains, z: Chains, op: impl Fn(u32, u32, u32) -> u32) -> Chains {
    core::array::from_fn(|c| op(x[c], y[c], z[c]))
}

/// One step: `a = b + rotl(a + fun(b, c, d) + k + w, S)`.
#[inline(always)]
fn step<const S: u32>(a: Chains, b: Chains, f: Chains, k: u32, w: Chains) -> Chains {
    core::array::from_fn(|c| {
        b[c].wrapping_add(
            a[c].wrapping_add(f[c])
                .wrapping_add(k)
                .wrapping_add(w[c])
                .rotate_left(S),
        )
    })
}

#[inline(always)]
fn f(x: Chains, y: Chains, z: Chains) -> Chains {
    // (x & y) | (!x & z), with one operation fewer.
    map3(x, y, z, |x, y, z| z ^ (x & (y ^ z)))
}

#[inline(always)]
fn g(x: Chains, y: Chains, z: Chains) -> Chains {
    // (x & z) | (y & !z), with one operation fewer.
    map3(x, y, z, |x, y, z| y ^ (z & (x ^ y)))
}

#[inline(always)]
fn h(x: Chains, y: Chains, z: Chains) -> Chains {
    map3(x, y, z, |x, y, z| x ^ y ^ z)
}

#[inline(always)]
fn i(x: Chains, y: Chains, z: Chains) -> Chains {
    map3(x, y, z, |x, y, z| y ^ (x | !z))
}

/// The 64 MD5 steps on one block per lane, from the initial chaining values; returns
/// `[a, b, c, d]` per lane before the final addition of the initial values.
///
/// The loop runs over lanes with a straight-line body (every index and shift a literal) and no
/// dependency between iterations, reading `w[j][lane]` and writing `out[k][lane]`
/// contiguously: the shape the loop vectoriser turns into SIMD code (on SSE2, four lanes per
/// register and [`CHAINS`] registers per step).
#[inline(always)]
fn compress(w: &[Lanes; 16]) -> [Lanes; 4] {
    let mut out = [[0u32; LANES]; 4];
    for l in 0..STRIDE {
        let [mut a, mut b, mut c, mut d] = INIT.map(|v| [v; CHAINS]);
        let m = |j: usize| -> Chains { core::array::from_fn(|c| w[j][l + c * STRIDE]) };
        macro_rules! quad {
            ($fun:ident, $k:expr, [$g0:expr, $g1:expr, $g2:expr, $g3:expr], [$s0:expr, $s1:expr, $s2:expr, $s3:expr]) => {
                a = step::<$s0>(a, b, $fun(b, c, d), K[$k], m($g0));
                d = step::<$s1>(d, a, $fun(a, b, c), K[$k + 1], m($g1));
                c = step::<$s2>(c, d, $fun(d, a, b), K[$k + 2], m($g2));
                b = step::<$s3>(b, c, $fun(c, d, a), K[$k + 3], m($g3));
            };
        }
        quad!(f, 0, [0, 1, 2, 3], [7, 12, 17, 22]);
        quad!(f, 4, [4, 5, 6, 7], [7, 12, 17, 22]);
        quad!(f, 8, [8, 9, 10, 11], [7, 12, 17, 22]);
        quad!(f, 12, [12, 13, 14, 15], [7, 12, 17, 22]);
        quad!(g, 16, [1, 6, 11, 0], [5, 9, 14, 20]);
        quad!(g, 20, [5, 10, 15, 4], [5, 9, 14, 20]);
        quad!(g, 24, [9, 14, 3, 8], [5, 9, 14, 20]);
        quad!(g, 28, [13, 2, 7, 12], [5, 9, 14, 20]);
        quad!(h, 32, [5, 8, 11, 14], [4, 11, 16, 23]);
        quad!(h, 36, [1, 4, 7, 10], [4, 11, 16, 23]);
        quad!(h, 40, [13, 0, 3, 6], [4, 11, 16, 23]);
        quad!(h, 44, [9, 12, 15, 2], [4, 11, 16, 23]);
        quad!(i, 48, [0, 7, 14, 5], [6, 10, 15, 21]);
        quad!(i, 52, [12, 3, 10, 1], [6, 10, 15, 21]);
        quad!(i, 56, [8, 15, 6, 13], [6, 10, 15, 21]);
        quad!(i, 60, [4, 11, 2, 9], [6, 10, 15, 21]);
        for (o, v) in out.iter_mut().zip([a, b, c, d]) {
            for (ch, x) in v.into_iter().enumerate() {
                o[l + ch * STRIDE] = x;
            }
        }
    }
    out
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
                assert!(batch.push_block(&pad(m).unwrap()));
            }
            assert_eq!(batch.is_full(), chunk.len() == LANES);
            let words = batch.digest_words();
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
        assert!(pad(&[0; MAX_SINGLE_BLOCK + 1]).is_none());
        assert!(pad(&[0; 64]).is_none());
        assert!(pad(&[0; 65]).is_none());
        let mut full = Batch::new();
        while !full.is_full() {
            assert!(full.push_block(&[0; 64]));
        }
        assert!(!full.push_block(&[0; 64]));
    }
}
