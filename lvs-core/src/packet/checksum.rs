//! Internet checksum (RFC 1071) and incremental updates (RFC 1624).
//!
//! Rewrites on the hot path patch a checksum from the old and new bytes of the changed field,
//! `HC' = ~(~HC + ~m + m')`, never re-summing the packet.

use core::net::IpAddr;

/// Add `data` (big-endian 16-bit words, odd tail padded with zero) to a 32-bit accumulator.
pub fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    let mut words = rest.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [b] = words.remainder() {
        acc += u64::from(*b) << 8;
    }
    acc
}

/// Fold an accumulator to 16 bits (not complemented).
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum field value for `data` (complement of the folded sum).
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(0, data))
}

/// The pseudo-header sum for TCP/UDP/ICMPv6 checksums.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, len: u32) -> u64 {
    let mut acc = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => sum(sum(0, &s.octets()), &d.octets()),
        (s, d) => {
            let s = match s {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            let d = match d {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            sum(sum(0, &s.octets()), &d.octets())
        }
    };
    acc += u64::from(protocol);
    acc += u64::from(len);
    acc
}

/// Update checksum field `check` when the bytes `old` are replaced by `new` (equal, even
/// lengths, aligned to 16-bit words within the summed data).
pub fn update(check: u16, old: &[u8], new: &[u8]) -> u16 {
    debug_assert_eq!(old.len(), new.len());
    // ~HC + ~m + m'  with m summed as its one's complement: add the complement of each old word.
    let mut acc = u64::from(!check);
    let mut o = old.chunks_exact(2);
    for w in &mut o {
        acc += u64::from(!u16::from_be_bytes([w[0], w[1]]));
    }
    acc = sum(acc, new);
    !fold(acc)
}

/// [`update`] for one 16-bit word.
pub fn update_word(check: u16, old: u16, new: u16) -> u16 {
    update(check, &old.to_be_bytes(), &new.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 0001 f203 f4f5 f6f7 sums to ddf2 (folded).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn incremental_update_matches_full_recompute() {
        let mut data: Vec<u8> = (0u8..40).map(|i| i.wrapping_mul(37)).collect();
        data[10] = 0;
        data[11] = 0;
        let c = checksum(&data);
        data[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&data), 0);
        let old = [data[20], data[21], data[22], data[23]];
        let new = [10, 0, 0, 42];
        data[20..24].copy_from_slice(&new);
        let patched = update(c, &old, &new);
        data[10..12].copy_from_slice(&patched.to_be_bytes());
        assert_eq!(checksum(&data), 0, "patched checksum verifies");
    }

    #[test]
    fn odd_tail_is_padded() {
        assert_eq!(fold(sum(0, &[0xab])), 0xab00);
    }
}
