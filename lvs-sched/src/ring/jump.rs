//! Jump consistent hash (Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash
//! Algorithm", 2014): maps a 64-bit key to one of `buckets` buckets so that growing from `n` to
//! `n + 1` buckets moves only `1/(n + 1)` of the keys, with no table at all.

/// The bucket in `0..buckets` for `key`; `None` when `buckets` is 0.
pub fn jump_hash(mut key: u64, buckets: u32) -> Option<u32> {
    if buckets == 0 {
        return None;
    }
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    Some(b as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_vectors() {
        // The vectors used by ClickHouse's jumpConsistentHash tests and the Rust/Go ports.
        assert_eq!(jump_hash(1, 1), Some(0));
        assert_eq!(jump_hash(42, 57), Some(43));
        assert_eq!(jump_hash(256, 1024), Some(520));
        assert_eq!(jump_hash(0xDEAD_10CC, 1), Some(0));
        assert_eq!(jump_hash(0xDEAD_10CC, 666), Some(361));
        assert_eq!(jump_hash(16_045_690_984_833_335_023, 255), Some(237));
        assert_eq!(jump_hash(7, 0), None);
    }

    #[test]
    fn growing_moves_keys_only_to_the_new_bucket() {
        for key in (0..2000u64).map(|k| k.wrapping_mul(0x9E37_79B9_7F4A_7C15)) {
            for n in 1..40 {
                let a = jump_hash(key, n).unwrap();
                let b = jump_hash(key, n + 1).unwrap();
                assert!(a == b || b == n, "key {key} n {n}: {a} -> {b}");
            }
        }
    }
}
