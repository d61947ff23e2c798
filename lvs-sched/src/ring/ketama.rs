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
use super::{Continuum, PointRuns, RingError, ServerSpec};

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

/// Appends four points per MD5 digest of `"<prefix><i>"` for `i` in `0..groups`, in that
/// order, as one run owned by `owner`. Strings that fit one MD5 block are built in place from a
/// block holding the prefix and hashed [`md5x::LANES`] at a time; longer ones go through `md-5`.
pub(super) fn push_md5_points(out: &mut PointRuns, prefix: &[u8], groups: u32, owner: u32) {
    let mut batch = md5x::Batch::new();
    let flush = |batch: &mut md5x::Batch, out: &mut PointRuns| {
        if batch.len() == 0 {
            return;
        }
        for w in &batch.digest_words()[..batch.len()] {
            out.extend(w);
        }
        batch.clear();
    };
    let mut template = [0u8; 64];
    if let Some(head) = template.get_mut(..prefix.len()) {
        head.copy_from_slice(prefix);
    }
    let mut long = Vec::new();
    for i in 0..groups {
        let len = prefix.len() + digits(i);
        if len > md5x::MAX_SINGLE_BLOCK {
            // Two blocks or more: flush what is queued to keep the order, then hash alone.
            flush(&mut batch, out);
            long.clear();
            long.extend_from_slice(prefix);
            push_decimal(&mut long, i);
            let d = md5_digest(&long);
            let w: [u32; 4] = core::array::from_fn(|k| {
                u32::from_le_bytes([d[4 * k], d[4 * k + 1], d[4 * k + 2], d[4 * k + 3]])
            });
            out.extend(&w);
            continue;
        }
        let mut block = template;
        let mut n = i;
        for at in (prefix.len()..len).rev() {
            block[at] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        block[len] = 0x80;
        block[56..].copy_from_slice(&(len as u64 * 8).to_le_bytes());
        batch.push_block(&block);
        if batch.is_full() {
            flush(&mut batch, out);
        }
    }
    flush(&mut batch, out);
    out.end_run(owner);
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
    let mut points = PointRuns::with_capacity(nlive as usize * 160);
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
        push_md5_points(&mut points, &prefix, groups, i as u32);
    }
    Ok(points.finish())
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

    /// The continuum the slow way: one `md-5` digest per formatted string, then the standard
    /// library's stable sort.
    fn reference(servers: &[ServerSpec], ejected: &[bool]) -> (Vec<u32>, Vec<u32>) {
        let live = |i: usize| !ejected.get(i).copied().unwrap_or(false);
        let nlive = (0..servers.len()).filter(|&i| live(i)).count() as u32;
        let total: u64 = (0..servers.len())
            .filter(|&i| live(i))
            .map(|i| u64::from(servers[i].weight()))
            .sum();
        let mut pairs = Vec::new();
        for i in nutcracker_order(servers).unwrap() {
            if !live(i) {
                continue;
            }
            let groups = weighted_points(servers[i].weight(), total, nlive) / 4;
            for g in 0..groups {
                let d = md5_digest(format!("{}-{g}", servers[i].ketama_name()).as_bytes());
                for w in d.chunks_exact(4) {
                    let p = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                    pairs.push((p, i as u32));
                }
            }
        }
        pairs.sort_by_key(|p| p.0);
        pairs.into_iter().unzip()
    }

    #[test]
    fn matches_a_plain_reference_build() {
        let mut x: u32 = 0x2545_f491;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for round in 0..12u32 {
            let n = 1 + next() % 40;
            let servers: Vec<ServerSpec> = (0..n)
                .map(|i| {
                    let weight = 1 + next() % 9;
                    // Names from 1 to 82 bytes: strings past 55 bytes take two MD5 blocks.
                    let len = (next() % 82 + 1) as usize;
                    let name: String = (0..len)
                        .map(|k| (b'a' + ((k + i as usize) % 26) as u8) as char)
                        .collect();
                    let name = format!("{i}{name}");
                    let name = &name[..name.len().min(82)];
                    ServerSpec::parse(&format!("10.0.{round}.{i}:{}:{weight} {name}", 11211 + i))
                        .unwrap()
                })
                .collect();
            let ejected: Vec<bool> = (0..n).map(|_| next() % 5 == 0).collect();
            let got = ketama_points(&servers, &ejected).unwrap();
            let (points, owners) = reference(&servers, &ejected);
            assert_eq!(got.points(), &points[..], "round {round}");
            assert_eq!(got.owners(), &owners[..], "round {round}");
        }
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
