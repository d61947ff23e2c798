//! Every key hash twemproxy (nutcracker) 0.5.0 offers, bit for bit, quirks included.
//!
//! twemproxy reads keys as C `char`, which is signed on x86, so several functions see a byte
//! `>= 0x80` as a negative number widened to 32 (or 64) bits. This module reproduces that
//! (x86/x86-64 behaviour, the platform Debian's `nutcracker` runs on):
//!
//! | name | what it really computes |
//! |---|---|
//! | `one_at_a_time` | Jenkins one-at-a-time, bytes sign-extended |
//! | `md5` | the first 4 bytes of the MD5 digest, little-endian |
//! | `crc16` | CRC-16/XMODEM (poly 0x1021, init 0) in a 32-bit register that is never masked: the low 16 bits are the CRC, the high bits keep the shifted-out history |
//! | `crc32` | libmemcached's variant: `((!crc32) >> 16) & 0x7fff`, **15 bits only** |
//! | `crc32a` | the standard CRC-32 (IEEE) |
//! | `fnv1_64` | FNV-1 in 64-bit arithmetic, truncated to the low 32 bits |
//! | `fnv1a_64` | FNV-1a in **32-bit** arithmetic with the low halves of the 64-bit offset and prime |
//! | `fnv1_32`, `fnv1a_32` | FNV-1 / FNV-1a 32-bit |
//! | `hsieh` | Paul Hsieh's SuperFastHash; the third tail byte is sign-extended |
//! | `murmur` | MurmurHash2 with seed `0xdeadbeef * len` |
//! | `jenkins` | Bob Jenkins' lookup3 `hashlittle` with initval 13 |
//!
//! Because the low 32 bits of a product depend only on the low 32 bits of its factors,
//! `fnv1_64` and `fnv1a_64` equal the low half of the real 64-bit FNV functions for ASCII keys;
//! they differ only where sign extension changes the XORed byte.

use core::fmt;
use core::str::FromStr;

use ::md5::{Digest, Md5};

/// A twemproxy key hash, named as in its `hash:` configuration key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashFunction {
    /// `one_at_a_time`.
    OneAtATime,
    /// `md5`.
    Md5,
    /// `crc16`.
    Crc16,
    /// `crc32` (15-bit libmemcached variant).
    Crc32,
    /// `crc32a` (standard CRC-32).
    Crc32a,
    /// `fnv1_64`.
    Fnv1_64,
    /// `fnv1a_64` (twemproxy's default).
    Fnv1a64,
    /// `fnv1_32`.
    Fnv1_32,
    /// `fnv1a_32`.
    Fnv1a32,
    /// `hsieh`.
    Hsieh,
    /// `murmur`.
    Murmur,
    /// `jenkins`.
    Jenkins,
}

impl HashFunction {
    /// Every function, in twemproxy's `HASH_CODEC` order.
    pub const ALL: [Self; 12] = [
        Self::OneAtATime,
        Self::Md5,
        Self::Crc16,
        Self::Crc32,
        Self::Crc32a,
        Self::Fnv1_64,
        Self::Fnv1a64,
        Self::Fnv1_32,
        Self::Fnv1a32,
        Self::Hsieh,
        Self::Murmur,
        Self::Jenkins,
    ];

    /// The configuration name (`fnv1a_64`, `md5`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::OneAtATime => "one_at_a_time",
            Self::Md5 => "md5",
            Self::Crc16 => "crc16",
            Self::Crc32 => "crc32",
            Self::Crc32a => "crc32a",
            Self::Fnv1_64 => "fnv1_64",
            Self::Fnv1a64 => "fnv1a_64",
            Self::Fnv1_32 => "fnv1_32",
            Self::Fnv1a32 => "fnv1a_32",
            Self::Hsieh => "hsieh",
            Self::Murmur => "murmur",
            Self::Jenkins => "jenkins",
        }
    }

    /// Hashes `key` as twemproxy does.
    pub fn hash(self, key: &[u8]) -> u32 {
        match self {
            Self::OneAtATime => one_at_a_time(key),
            Self::Md5 => md5(key),
            Self::Crc16 => crc16(key),
            Self::Crc32 => crc32(key),
            Self::Crc32a => crc32a(key),
            Self::Fnv1_64 => fnv1_64(key),
            Self::Fnv1a64 => fnv1a_64(key),
            Self::Fnv1_32 => fnv1_32(key),
            Self::Fnv1a32 => fnv1a_32(key),
            Self::Hsieh => hsieh(key),
            Self::Murmur => murmur(key),
            Self::Jenkins => jenkins(key),
        }
    }
}

impl fmt::Display for HashFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is not one of twemproxy's twelve hash names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash function name")]
pub struct UnknownHash;

impl FromStr for HashFunction {
    type Err = UnknownHash;

    fn from_str(s: &str) -> Result<Self, UnknownHash> {
        Self::ALL
            .into_iter()
            .find(|h| h.name() == s)
            .ok_or(UnknownHash)
    }
}

/// A C `char` on x86: signed, widened to 32 bits.
#[inline]
fn sx32(b: u8) -> u32 {
    i32::from(b as i8) as u32
}

/// A C `char` on x86: signed, widened to 64 bits.
#[inline]
fn sx64(b: u8) -> u64 {
    i64::from(b as i8) as u64
}

/// The 16-byte MD5 digest of `data`.
pub fn md5_digest(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

/// Jenkins one-at-a-time (bytes sign-extended).
pub fn one_at_a_time(key: &[u8]) -> u32 {
    let mut v: u32 = 0;
    for &b in key {
        v = v.wrapping_add(sx32(b));
        v = v.wrapping_add(v << 10);
        v ^= v >> 6;
    }
    v = v.wrapping_add(v << 3);
    v ^= v >> 11;
    v.wrapping_add(v << 15)
}

/// The first four MD5 digest bytes read little-endian.
pub fn md5(key: &[u8]) -> u32 {
    let d = md5_digest(key);
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

const fn crc16_table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u16) << 8;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x1021
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

const fn crc32_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC16: [u16; 256] = crc16_table();
static CRC32: [u32; 256] = crc32_table();

/// twemproxy 0.5.0's `crc16`: CRC-16/XMODEM kept in an unmasked 32-bit register.
pub fn crc16(key: &[u8]) -> u32 {
    let mut crc: u32 = 0;
    for &b in key {
        crc = (crc << 8) ^ u32::from(CRC16[((crc >> 8) as u8 ^ b) as usize]);
    }
    crc
}

fn crc32_raw(key: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in key {
        crc = (crc >> 8) ^ CRC32[usize::from((crc as u8) ^ b)];
    }
    !crc
}

/// libmemcached's CRC-32 variant: bits 16..31 of the standard CRC-32, masked to 15 bits.
pub fn crc32(key: &[u8]) -> u32 {
    (crc32_raw(key) >> 16) & 0x7fff
}

/// The standard CRC-32 (IEEE 802.3).
pub fn crc32a(key: &[u8]) -> u32 {
    crc32_raw(key)
}

const FNV_64_INIT: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_64_PRIME: u64 = 0x0100_0000_01b3;
const FNV_32_INIT: u32 = 0x811c_9dc5;
const FNV_32_PRIME: u32 = 0x0100_0193;

/// FNV-1 in 64-bit arithmetic, truncated to 32 bits (bytes sign-extended).
pub fn fnv1_64(key: &[u8]) -> u32 {
    let mut h = FNV_64_INIT;
    for &b in key {
        h = h.wrapping_mul(FNV_64_PRIME);
        h ^= sx64(b);
    }
    h as u32
}

/// twemproxy's `fnv1a_64`: FNV-1a in 32-bit arithmetic with the truncated 64-bit constants.
pub fn fnv1a_64(key: &[u8]) -> u32 {
    let mut h = FNV_64_INIT as u32;
    for &b in key {
        h ^= sx32(b);
        h = h.wrapping_mul(FNV_64_PRIME as u32);
    }
    h
}

/// FNV-1 32-bit (bytes sign-extended).
pub fn fnv1_32(key: &[u8]) -> u32 {
    let mut h = FNV_32_INIT;
    for &b in key {
        h = h.wrapping_mul(FNV_32_PRIME);
        h ^= sx32(b);
    }
    h
}

/// FNV-1a 32-bit (bytes sign-extended).
pub fn fnv1a_32(key: &[u8]) -> u32 {
    let mut h = FNV_32_INIT;
    for &b in key {
        h ^= sx32(b);
        h = h.wrapping_mul(FNV_32_PRIME);
    }
    h
}

#[inline]
fn get16(b: &[u8]) -> u32 {
    u32::from(u16::from_le_bytes([b[0], b[1]]))
}

/// Paul Hsieh's SuperFastHash as twemproxy has it (0 for the empty key).
pub fn hsieh(key: &[u8]) -> u32 {
    if key.is_empty() {
        return 0;
    }
    let mut h: u32 = 0;
    let mut chunks = key.chunks_exact(4);
    for c in &mut chunks {
        h = h.wrapping_add(get16(c));
        let tmp = (get16(&c[2..]) << 11) ^ h;
        h = (h << 16) ^ tmp;
        h = h.wrapping_add(h >> 11);
    }
    let rest = chunks.remainder();
    match rest.len() {
        3 => {
            h = h.wrapping_add(get16(rest));
            h ^= h << 16;
            h ^= sx32(rest[2]) << 18;
            h = h.wrapping_add(h >> 11);
        }
        2 => {
            h = h.wrapping_add(get16(rest));
            h ^= h << 11;
            h = h.wrapping_add(h >> 17);
        }
        1 => {
            h = h.wrapping_add(u32::from(rest[0]));
            h ^= h << 10;
            h = h.wrapping_add(h >> 1);
        }
        _ => {}
    }
    h ^= h << 3;
    h = h.wrapping_add(h >> 5);
    h ^= h << 4;
    h = h.wrapping_add(h >> 17);
    h ^= h << 25;
    h.wrapping_add(h >> 6)
}

/// MurmurHash2 with twemproxy's seed `0xdeadbeef * len` (lengths taken modulo 2^32).
pub fn murmur(key: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let len = key.len() as u32;
    let mut h = 0xdead_beef_u32.wrapping_mul(len) ^ len;
    let mut chunks = key.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        if rest.len() == 3 {
            h ^= u32::from(rest[2]) << 16;
        }
        if rest.len() >= 2 {
            h ^= u32::from(rest[1]) << 8;
        }
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

/// Bob Jenkins' lookup3 `hashlittle` with any `initval` (little-endian byte order).
pub fn lookup3(key: &[u8], initval: u32) -> u32 {
    #[inline]
    fn word(b: &[u8]) -> u32 {
        let mut w = [0u8; 4];
        w[..b.len()].copy_from_slice(b);
        u32::from_le_bytes(w)
    }
    let init = 0xdead_beef_u32
        .wrapping_add(key.len() as u32)
        .wrapping_add(initval);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut k = key;
    while k.len() > 12 {
        a = a.wrapping_add(word(&k[0..4]));
        b = b.wrapping_add(word(&k[4..8]));
        c = c.wrapping_add(word(&k[8..12]));
        // mix(a, b, c)
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(4);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(6);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(8);
        b = b.wrapping_add(a);
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(16);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(19);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(4);
        b = b.wrapping_add(a);
        k = &k[12..];
    }
    if k.is_empty() {
        return c;
    }
    a = a.wrapping_add(word(&k[..k.len().min(4)]));
    if k.len() > 4 {
        b = b.wrapping_add(word(&k[4..k.len().min(8)]));
    }
    if k.len() > 8 {
        c = c.wrapping_add(word(&k[8..]));
    }
    // final(a, b, c)
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c.wrapping_sub(b.rotate_left(24))
}

/// lookup3 with twemproxy's initval 13.
pub fn jenkins(key: &[u8]) -> u32 {
    lookup3(key, 13)
}
