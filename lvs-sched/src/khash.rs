//! The Linux kernel's hash functions as the IPVS hash schedulers use them, bit for bit.
//!
//! * [`hash_32`]: `include/linux/hash.h`, a multiply by `GOLDEN_RATIO_32` keeping the high bits
//!   (used by `dh` and `sh`).
//! * [`hsiphash`]: `lib/siphash.c` on 64-bit kernels, where "HalfSipHash" is really
//!   SipHash-1-3 with two 64-bit key words truncated to 32 bits (used by `mh`). 32-bit kernels
//!   run a different function and build different `mh` tables; we reproduce the 64-bit one, which
//!   is what every x86-64 and arm64 director runs.
//! * [`siphash_2_4`]: the secure variant, kept because the kernel's own self-test vectors check
//!   the shared round function through it.
//! * [`addr_fold`]: how IPVS reduces an address to 32 bits (IPv6: XOR of the four words).
//!
//! Byte order: the kernel hashes `ntohl(addr_fold)` etc. as host integers; `mh` then feeds the
//! 4-byte host representation of a `u32` to `hsiphash`, which on the little-endian hosts we
//! reproduce is `v.to_le_bytes()`.

use core::net::IpAddr;

/// `GOLDEN_RATIO_32` of `include/linux/hash.h`.
pub const GOLDEN_RATIO_32: u32 = 0x61C8_8647;

/// The kernel's `hash_32(val, bits)`: `(val × GOLDEN_RATIO_32) >> (32 − bits)`.
///
/// `bits` must be in `1..=32`; 0 (undefined in the kernel) yields 0.
///
/// ```
/// use lvs_sched::khash::hash_32;
/// assert_eq!(hash_32(1, 8), 0x61);
/// assert_eq!(hash_32(0, 12), 0);
/// ```
#[inline]
pub fn hash_32(val: u32, bits: u32) -> u32 {
    if bits == 0 || bits > 32 {
        return 0;
    }
    val.wrapping_mul(GOLDEN_RATIO_32) >> (32 - bits)
}

/// IPVS `addr_fold`: an IPv4 address as a host-order `u32`; an IPv6 address as the XOR of its
/// four 32-bit words (taken in network order, then converted, which commutes with the XOR).
///
/// ```
/// use core::net::IpAddr;
/// use lvs_sched::khash::addr_fold;
/// assert_eq!(addr_fold(&"10.0.0.1".parse::<IpAddr>().unwrap()), 0x0a00_0001);
/// assert_eq!(addr_fold(&"::1".parse::<IpAddr>().unwrap()), 1);
/// ```
#[inline]
pub fn addr_fold(addr: &IpAddr) -> u32 {
    match addr {
        IpAddr::V4(a) => u32::from_be_bytes(a.octets()),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            w(0) ^ w(4) ^ w(8) ^ w(12)
        }
    }
}

/// A SipHash key as two 64-bit words (`siphash_key_t`, and `hsiphash_key_t` on 64-bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SipKey {
    /// `key[0]`.
    pub k0: u64,
    /// `key[1]`.
    pub k1: u64,
}

impl SipKey {
    /// A key from its two words.
    pub const fn new(k0: u64, k1: u64) -> Self {
        Self { k0, k1 }
    }
}

/// The first fixed key of `ip_vs_mh.c` (offset and lookups): 2654435761 in both words.
pub const MH_KEY1: SipKey = SipKey::new(2_654_435_761, 2_654_435_761);
/// The second fixed key of `ip_vs_mh.c` (skip): 2654446892 in both words.
pub const MH_KEY2: SipKey = SipKey::new(2_654_446_892, 2_654_446_892);

#[derive(Clone, Copy)]
struct SipState([u64; 4]);

impl SipState {
    #[inline(always)]
    fn new(key: &SipKey) -> Self {
        Self([
            key.k0 ^ 0x736f_6d65_7073_6575,
            key.k1 ^ 0x646f_7261_6e64_6f6d,
            key.k0 ^ 0x6c79_6765_6e65_7261,
            key.k1 ^ 0x7465_6462_7974_6573,
        ])
    }

    #[inline(always)]
    fn round(&mut self) {
        let [v0, v1, v2, v3] = &mut self.0;
        *v0 = v0.wrapping_add(*v1);
        *v1 = v1.rotate_left(13) ^ *v0;
        *v0 = v0.rotate_left(32);
        *v2 = v2.wrapping_add(*v3);
        *v3 = v3.rotate_left(16) ^ *v2;
        *v0 = v0.wrapping_add(*v3);
        *v3 = v3.rotate_left(21) ^ *v0;
        *v2 = v2.wrapping_add(*v1);
        *v1 = v1.rotate_left(17) ^ *v2;
        *v2 = v2.rotate_left(32);
    }

    #[inline(always)]
    fn compress(&mut self, m: u64, c_rounds: usize) {
        self.0[3] ^= m;
        for _ in 0..c_rounds {
            self.round();
        }
        self.0[0] ^= m;
    }

    #[inline(always)]
    fn finish(mut self, d_rounds: usize) -> u64 {
        self.0[2] ^= 0xff;
        for _ in 0..d_rounds {
            self.round();
        }
        self.0[0] ^ self.0[1] ^ self.0[2] ^ self.0[3]
    }
}

#[inline(always)]
fn sip(data: &[u8], key: &SipKey, c_rounds: usize, d_rounds: usize) -> u64 {
    let mut s = SipState::new(key);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        s.compress(u64::from_le_bytes(w), c_rounds);
    }
    let mut last = [0u8; 8];
    let rest = chunks.remainder();
    last[..rest.len()].copy_from_slice(rest);
    // The final block carries the length modulo 256 in its top byte.
    let b = u64::from_le_bytes(last) | ((data.len() as u64) << 56);
    s.compress(b, c_rounds);
    s.finish(d_rounds)
}

/// SipHash-2-4 (`siphash()` in the kernel).
pub fn siphash_2_4(data: &[u8], key: &SipKey) -> u64 {
    sip(data, key, 2, 4)
}

/// SipHash-1-3 with a 64-bit result (the body of `hsiphash` on 64-bit kernels).
#[inline]
pub fn siphash_1_3(data: &[u8], key: &SipKey) -> u64 {
    sip(data, key, 1, 3)
}

/// The kernel's `hsiphash(data, len, key)` on a 64-bit kernel: SipHash-1-3 truncated to 32 bits.
#[inline]
pub fn hsiphash(data: &[u8], key: &SipKey) -> u32 {
    siphash_1_3(data, key) as u32
}

/// `hsiphash(&v, sizeof(v), key)` for a host `u32` on a little-endian 64-bit kernel, without
/// touching memory: the one call `ip_vs_mh.c` makes.
#[inline]
pub fn hsiphash_u32(v: u32, key: &SipKey) -> u32 {
    let mut s = SipState::new(key);
    s.compress(u64::from(v) | (4u64 << 56), 1);
    s.finish(3) as u32
}

/// A hash scheduler's table geometry is out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableConfigError {
    /// `sh` table bits outside `4..=20` (`CONFIG_IP_VS_SH_TAB_BITS`).
    #[error("sh table bits {0} outside 4..=20")]
    ShBits(u8),
    /// `mh` table index outside `8..=17` (`CONFIG_IP_VS_MH_TAB_INDEX`).
    #[error("mh table index {0} outside 8..=17")]
    MhIndex(u8),
    /// A Maglev table size that is not a prime in the supported range.
    #[error("maglev table size {size} is not a prime in 3..={max}")]
    MaglevSize {
        /// The rejected size.
        size: u32,
        /// The largest size accepted.
        max: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u32_fast_path_matches_the_byte_path() {
        for v in [0u32, 1, 0x0a00_0001, u32::MAX, 0xdead_beef] {
            assert_eq!(
                hsiphash_u32(v, &MH_KEY1),
                hsiphash(&v.to_le_bytes(), &MH_KEY1)
            );
            assert_eq!(
                hsiphash_u32(v, &MH_KEY2),
                hsiphash(&v.to_le_bytes(), &MH_KEY2)
            );
        }
    }
}
