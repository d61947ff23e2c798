//! twemproxy's ketama continuum (`nc_ketama.c`).
//!
//! Only live servers are placed. With `n` live servers of total weight `W`, a server of weight
//! `w` gets `floor(w/W * 160/4 * n + 1e-10) * 4` points, computed in single precision like the C
//! code (so a share of exactly 40 can round down to 39 groups). Group `i` (from 0) is the string
//! `"<ketama name>-<i>"`; its MD5 digest yields four points, bytes `4k..4k+3` read little-endian.
//! The point string must fit nutcracker's 86-byte buffer (85 bytes and the NUL).

use super::hash::md5_digest;
use super::md5x;
use super::server::nutcracker_order;
use super::{Continuum, RingError, ServerSpec};

/// twemproxy's `KETAMA_MAX_HOSTLEN` minus the terminating NUL.
const MAX_POINT_STRING: usize = 85;

/// Number of decimal digits of `i`.
fn digits(mut i: u32) -> usize {
    let mut d = 1;
    while i >= 10 {
        i /= 10;
        d += 1;
    }
    d
}

/// Appends the decimal form of `i` to `buf`.
pub(super) fn push_decimal(buf: &mut Vec<u8>, i: u32) {
    let mut tmp = [0u8; 10];
    let mut n = i;
    let mut at = tmp.len();
    loop {
        at -= 1;
        tmp[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[at..]);
}

/// Points of weight share `weight / total` among `live` servers, the C `float` way:
/// `floor((float)(pct * 160 / 4 * (float)live + 1e-10)) * 4`.
pub(super) fn weighted_points(weight: u32, total: u64, live: u32) -> u32 {
    let pct = weight as f32 / total as f32;
    let groups = pct * 160.0 / 4.0 * live as f32;
    // twemproxy adds a double 1e-10 and casts back to float; libmemcached adds 1e-10f. Both
    // round back to `groups` unless it is 0, and floor(0 + tiny) = 0: identical results.
    let groups = (f64::from(groups) + 0.000_000_000_1) as f32;
    groups.floor() as u32 * 4
}

/// Appends four points per MD5 digest of `"<prefix><i>"` for `i` in `first..first + groups`,
/// in that order. Short strings are hashed eight at a time.
pub(super) fn push_md5_points(
    out: &mut Vec<(u32, u32)>,
    buf: &mut Vec<u8>,
    prefix: &[u8],
    first: u32,
    groups: u32,
    owner: u32,
) {
    let k = md5x::constants();
    let mut batch = md5x::Batch::new();
    let flush = |batch: &mut md5x::Batch, out: &mut Vec<(u32, u32)>| {
        let words = batch.digest_words(&k);
        for w in &words[..batch.len()] {
            out.extend(w.iter().map(|&p| (p, owner)));
        }
        batch.clear();
    };
    for i in first..first + groups {
        buf.clear();
        buf.extend_from_slice(prefix);
        push_decimal(buf, i);
        if batch.len() == md5x::LANES {
            flush(&mut batch, out);
        }
        if !batch.push(buf) {
            // Too long for one block: flush what is queued to keep the order, then hash alone.
            flush(&mut batch, out);
            let d = md5_digest(buf);
            for k in 0..4 {
                let p = u32::from_le_bytes([d[4 * k], d[4 * k + 1], d[4 * k + 2], d[4 * k + 3]]);
                out.push((p, owner));
            }
        }
    }
    if batch.len() > 0 {
        flush(&mut batch, out);
    }
}

/// Builds twemproxy's ketama continuum for `servers`, leaving out every server whose `ejected`
/// flag is set (a missing flag means live). Owners are indices into `servers`; points are laid
/// down in nutcracker's server order (sorted by name), which decides ties between equal points.
pub fn ketama_points(servers: &[ServerSpec], ejected: &[bool]) -> Result<Continuum, RingError> {
    if servers.is_empty() || servers.len() > super::MAX_SERVERS {
        return Err(RingError::ServerCount);
    }
    let live = |i: usize| !ejected.get(i).copied().unwrap_or(false);
    let mut nlive = 0u32;
    let mut total = 0u64;
    for (i, s) in servers.iter().enumerate() {
        if live(i) {
            nlive += 1;
            total += u64::from(s.weight());
        }
    }
    if total > u64::from(u32::MAX) {
        return Err(RingError::TotalWeight);
    }
    if nlive == 0 {
        return Ok(Continuum::default());
    }
    let mut pairs = Vec::with_capacity(nlive as usize * 160);
    let mut buf = Vec::with_capacity(MAX_POINT_STRING + 1);
    let mut prefix = Vec::with_capacity(MAX_POINT_STRING + 1);
    for i in nutcracker_order(servers)? {
        let s = &servers[i];
        if !live(i) {
            continue;
        }
        let groups = weighted_points(s.weight(), total, nlive) / 4;
        if groups == 0 {
            continue;
        }
        let name = s.ketama_name().as_bytes();
        if name.len() + 1 + digits(groups - 1) > MAX_POINT_STRING {
            return Err(RingError::NameTooLong);
        }
        prefix.clear();
        prefix.extend_from_slice(name);
        prefix.push(b'-');
        push_md5_points(&mut pairs, &mut buf, &prefix, 0, groups, i as u32);
    }
    Ok(Continuum::from_pairs(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_weights_get_160_points_except_where_floats_round_down() {
        // In single precision (1/n) * 160 / 4 * n falls just below 40 for these n, so every
        // server of such a pool gets 156 points; gcc's float arithmetic agrees.
        let short = [25u32, 47, 50, 55, 61];
        for n in 1..=64u32 {
            let want = if short.contains(&n) { 156 } else { 160 };
            assert_eq!(weighted_points(1, u64::from(n), n), want, "n = {n}");
        }
    }

    #[test]
    fn decimal_digits() {
        let mut b = Vec::new();
        for i in [0u32, 7, 10, 159, 4_294_967_295] {
            b.clear();
            push_decimal(&mut b, i);
            assert_eq!(b, i.to_string().as_bytes());
            assert_eq!(digits(i), b.len());
        }
    }

    #[test]
    fn point_strings_follow_the_name() {
        // "name-0" digest gives the first four points of a single-server ring.
        let s = ServerSpec::parse("127.0.0.1:22122:1 alpha").unwrap();
        let c = ketama_points(&[s], &[]).unwrap();
        assert_eq!(c.len(), 160);
        let d = md5_digest(b"alpha-0");
        let p0 = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
        assert!(c.points().contains(&p0));
    }

    #[test]
    fn long_names_are_refused() {
        let name = "n".repeat(83); // "n...n-39" would be 86 bytes
        let s = ServerSpec::parse(&format!("h:1:1 {name}")).unwrap();
        assert_eq!(ketama_points(&[s], &[]), Err(RingError::NameTooLong));
        let name = "n".repeat(82); // "n...n-39" is 85 bytes
        let s = ServerSpec::parse(&format!("h:1:1 {name}")).unwrap();
        assert!(ketama_points(&[s], &[]).is_ok());
    }
}
