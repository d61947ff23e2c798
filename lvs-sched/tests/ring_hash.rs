//! Published test vectors for the twemproxy hash functions. Each function's full behaviour,
//! including the sign-extension quirks on bytes >= 0x80, is also pinned by the golden
//! placements recorded from a live nutcracker (`ring_golden.rs`).

use lvs_sched::ring::HashFunction;
use lvs_sched::ring::hash::{
    crc16, crc32, crc32a, fnv1_32, fnv1_64, fnv1a_32, fnv1a_64, hsieh, jenkins, lookup3, md5,
    md5_digest, murmur, one_at_a_time,
};

#[test]
fn md5_is_the_low_word_of_the_rfc1321_digest() {
    // RFC 1321 appendix A.5.
    assert_eq!(
        md5_digest(b"abc"),
        [
            0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0, 0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1,
            0x7f, 0x72
        ]
    );
    assert_eq!(md5(b""), 0xd98c_1dd4); // d41d8cd9...
    assert_eq!(md5(b"abc"), 0x9850_0190);
}

#[test]
fn crc_check_values() {
    // The catalogue check value over "123456789".
    assert_eq!(crc32a(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b"123456789"), (0xCBF4_3926 >> 16) & 0x7fff);
    assert_eq!(crc32(b"123456789"), 0x4BF4);
    // CRC-16/XMODEM's check value is 0x31C3; twemproxy's register keeps the bits above 16.
    assert_eq!(crc16(b"123456789") & 0xffff, 0x31C3);
    assert_eq!(crc16(b""), 0);
    assert_eq!(crc32a(b""), 0);
}

#[test]
fn crc32_is_only_fifteen_bits() {
    for k in [&b"a"[..], b"hello", b"\xff\xfe", b"key:12345"] {
        assert!(crc32(k) < 0x8000);
    }
}

#[test]
fn fnv_vectors() {
    // The FNV reference test suite (also Go's hash/fnv tests).
    assert_eq!(fnv1_32(b""), 0x811c_9dc5);
    assert_eq!(fnv1_32(b"a"), 0x050c_5d7e);
    assert_eq!(fnv1_32(b"abc"), 0x439c_2f4b);
    assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
    assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
    assert_eq!(fnv1a_32(b"abc"), 0x1a47_e90b);
    // The 64-bit variants: the low halves of FNV-1 64 / FNV-1a 64.
    assert_eq!(fnv1_64(b""), 0x8422_2325);
    assert_eq!(fnv1_64(b"a"), 0x8601_b7be); // af63bd4c8601b7be
    assert_eq!(fnv1_64(b"abc"), 0x6baf_adcb); // d8dcca186bafadcb
    assert_eq!(fnv1a_64(b""), 0x8422_2325);
    assert_eq!(fnv1a_64(b"a"), 0x8601_ec8c); // af63dc4c8601ec8c
    assert_eq!(fnv1a_64(b"abc"), 0x0541_574b); // e71fa2190541574b
}

#[test]
fn signed_char_quirk_changes_high_bytes_only() {
    // A byte >= 0x80 is XORed in as 0xffffff80.. (a signed char), so twemproxy's FNV of "\x80"
    // differs from the reference FNV-1a 32 of that byte (0x050c5d7e ^ ... computed unsigned).
    let unsigned_fnv1a = |k: &[u8]| {
        k.iter().fold(0x811c_9dc5_u32, |h, &b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        })
    };
    assert_eq!(fnv1a_32(b"abc"), unsigned_fnv1a(b"abc"));
    assert_ne!(fnv1a_32(b"\x80"), unsigned_fnv1a(b"\x80"));
    assert_eq!(
        fnv1a_32(b"\x80"),
        (0x811c_9dc5_u32 ^ 0xffff_ff80).wrapping_mul(0x0100_0193)
    );
}

#[test]
fn one_at_a_time_vectors() {
    // Wikipedia, "Jenkins hash function".
    assert_eq!(one_at_a_time(b"a"), 0xca2e_9442);
    assert_eq!(
        one_at_a_time(b"The quick brown fox jumps over the lazy dog"),
        0x519e_91f5
    );
}

#[test]
fn lookup3_vectors() {
    // lookup3.c's own driver: hashlittle("", 0, 0) and "Four score and seven years ago".
    assert_eq!(lookup3(b"", 0), 0xdead_beef);
    assert_eq!(lookup3(b"", 0xdead_beef), 0xbd5b_7dde);
    assert_eq!(lookup3(b"Four score and seven years ago", 0), 0x1777_0551);
    assert_eq!(lookup3(b"Four score and seven years ago", 1), 0xcd62_8161);
    assert_eq!(jenkins(b""), 0xdead_beef + 13);
}

#[test]
fn empty_keys() {
    assert_eq!(hsieh(b""), 0);
    assert_eq!(murmur(b""), 0);
    assert_eq!(one_at_a_time(b""), 0);
}

#[test]
fn names_round_trip() {
    for h in HashFunction::ALL {
        assert_eq!(h.name().parse::<HashFunction>(), Ok(h));
        assert_eq!(h.to_string(), h.name());
    }
    assert!("sha1".parse::<HashFunction>().is_err());
    assert_eq!(HashFunction::Md5.hash(b"abc"), md5(b"abc"));
}
