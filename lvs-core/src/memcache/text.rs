//! Byte-level helpers shared by the text parsers: a word-at-a-time byte search, the space-only
//! tokenizer, memcached's C number parsing (`safe_strtoul` and friends on LP64), strict decimal
//! parsing for responses, base64 as memcached decodes it, and decimal formatting.

/// Index of the first `needle` in `hay`, eight bytes at a time.
#[inline]
pub(crate) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let rep = LO.wrapping_mul(u64::from(needle));
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) ^ rep;
        // A zero byte of `w` is a match; the lowest flagged byte is always a true match.
        let t = w.wrapping_sub(LO) & !w & HI;
        if t != 0 {
            return Some(base + (t.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|p| base + p)
}

/// Index of the first LF or NUL in `hay`, eight bytes at a time: one pass finds a command
/// line's end and the NUL that cuts it short in memcached.
#[inline]
pub(crate) fn find_lf_or_nul(hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const LF: u64 = LO * b'\n' as u64;
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let w = x ^ LF;
        // Each half flags its true matches exactly up to the first one, so the lowest flagged
        // byte of the union is a true LF or NUL.
        let t = (w.wrapping_sub(LO) & !w | x.wrapping_sub(LO) & !x) & HI;
        if t != 0 {
            return Some(base + (t.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n' || b == 0)
        .map(|p| base + p)
}

/// Space-separated tokens of a line section, kept as the raw section (no allocation).
///
/// Runs of spaces collapse and leading or trailing spaces are ignored, as memcached's tokenizer
/// does. Only the space byte separates; a TAB is part of a token.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Tokens<'a> {
    raw: &'a [u8],
}

impl<'a> Tokens<'a> {
    /// The tokens of `raw` (which must not contain a line terminator to be meaningful).
    pub const fn new(raw: &'a [u8]) -> Self {
        Self { raw }
    }

    /// The raw section, exactly as received (spaces included).
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// Whether there is no token at all.
    pub fn is_empty(&self) -> bool {
        self.raw.iter().all(|&b| b == b' ')
    }

    /// An iterator over the tokens.
    pub const fn iter(&self) -> TokenIter<'a> {
        TokenIter { rest: self.raw }
    }
}

impl core::fmt::Debug for Tokens<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|t| t.escape_ascii().to_string()))
            .finish()
    }
}

impl<'a> IntoIterator for Tokens<'a> {
    type Item = &'a [u8];
    type IntoIter = TokenIter<'a>;
    fn into_iter(self) -> TokenIter<'a> {
        self.iter()
    }
}

/// Iterator over the tokens of a [`Tokens`] section.
#[derive(Clone, Debug)]
pub struct TokenIter<'a> {
    rest: &'a [u8],
}

impl<'a> TokenIter<'a> {
    /// The unread part of the section, leading spaces removed.
    pub(crate) fn rest(&self) -> &'a [u8] {
        skip_spaces(self.rest)
    }
}

impl<'a> Iterator for TokenIter<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let s = skip_spaces(self.rest);
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let end = s.iter().position(|&b| b == b' ').unwrap_or(s.len());
        self.rest = &s[end..];
        Some(&s[..end])
    }
}

#[inline]
pub(crate) fn skip_spaces(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ').count();
    &s[n..]
}

/// C's `isspace` in the C locale.
const fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strtoul`-style scan: leading white space, one optional sign, at least one digit, then the
/// end of the token or a white-space byte (what memcached's `safe_strto*` accept). Returns the
/// sign and the magnitude, saturated just above `2^64`.
fn c_scan(tok: &[u8]) -> Option<(bool, u128)> {
    const SAT: u128 = 1 << 66;
    let mut i = tok.iter().take_while(|&&b| is_c_space(b)).count();
    let mut neg = false;
    if let Some(&s @ (b'+' | b'-')) = tok.get(i) {
        neg = s == b'-';
        i += 1;
    }
    let start = i;
    let mut mag: u128 = 0;
    while let Some(&d) = tok.get(i) {
        if !d.is_ascii_digit() {
            break;
        }
        mag = (mag * 10 + u128::from(d - b'0')).min(SAT);
        i += 1;
    }
    if i == start {
        return None;
    }
    match tok.get(i) {
        None => Some((neg, mag)),
        Some(&b) if is_c_space(b) => Some((neg, mag)),
        Some(_) => None,
    }
}

/// A token of 1 to 9 plain digits (what clients send almost always), without the general
/// scan: such a number needs no sign, white space or overflow handling.
#[inline]
fn short_digits(tok: &[u8]) -> Option<u32> {
    if tok.is_empty() || tok.len() > 9 {
        return None;
    }
    let mut v: u32 = 0;
    for &d in tok {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u32::from(d);
    }
    Some(v)
}

/// memcached's `safe_strtoull`: a u64; a negative value is refused only when the wrapped result
/// looks negative as an i64 (so `-0` is 0 and `-18446744073709551615` is 1).
#[inline]
pub(crate) fn c_strtoull(tok: &[u8]) -> Option<u64> {
    if let Some(v) = short_digits(tok) {
        return Some(u64::from(v));
    }
    c_strtoull_slow(tok)
}

fn c_strtoull_slow(tok: &[u8]) -> Option<u64> {
    let (neg, mag) = c_scan(tok)?;
    let mag = u64::try_from(mag).ok()?;
    let v = if neg { mag.wrapping_neg() } else { mag };
    if (v as i64) < 0 && tok.contains(&b'-') {
        return None;
    }
    Some(v)
}

/// memcached's `safe_strtoul` on LP64, stored into a u32: values of 2^32 and above are
/// silently truncated.
#[inline]
pub(crate) fn c_strtoul32(tok: &[u8]) -> Option<u32> {
    if let Some(v) = short_digits(tok) {
        return Some(v);
    }
    c_strtoull_slow(tok).map(|v| v as u32)
}

/// memcached's `safe_strtol`: parsed as a 64-bit `long`, stored into an i32 (truncating).
#[inline]
pub(crate) fn c_strtol32(tok: &[u8]) -> Option<i32> {
    if let Some(v) = short_digits(tok) {
        // At most 999,999,999: fits.
        return Some(v as i32);
    }
    c_strtol32_slow(tok)
}

fn c_strtol32_slow(tok: &[u8]) -> Option<i32> {
    let (neg, mag) = c_scan(tok)?;
    let v: i64 = if neg {
        if mag > 1 << 63 {
            return None;
        }
        (mag as u64).wrapping_neg() as i64
    } else {
        i64::try_from(mag).ok()?
    };
    Some(v as i32)
}

/// Plain unsigned decimal (digits only, no sign), as servers write numbers.
pub(crate) fn digits_u64(tok: &[u8]) -> Option<u64> {
    if tok.is_empty() || tok.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &d in tok {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(v)
}

const B64_INVALID: u8 = 0x80;

const fn b64_value(b: u8) -> u8 {
    match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        b'=' => 0,
        _ => B64_INVALID,
    }
}

/// Decodes a base64 meta key the way memcached does: bytes outside the alphabet are skipped,
/// the count of alphabet bytes (with `=`) must be a non-zero multiple of four, decoding stops
/// after the first padded block, and a block with more than two `=` fails. Writes into `out`
/// when given (it must hold `src.len() / 4 * 3` bytes) and returns the decoded length; `None`
/// is memcached's "error decoding key" (its decoder's zero return).
pub fn decode_base64_key(src: &[u8], mut out: Option<&mut [u8]>) -> Option<usize> {
    let count = src.iter().filter(|&&b| b64_value(b) != B64_INVALID).count();
    if count == 0 || count % 4 != 0 {
        return None;
    }
    if out.as_ref().is_some_and(|o| o.len() < count / 4 * 3) {
        return None;
    }
    let mut block = [0u8; 4];
    let (mut n, mut pad, mut len) = (0, 0, 0);
    for &b in src {
        let v = b64_value(b);
        if v == B64_INVALID {
            continue;
        }
        if b == b'=' {
            pad += 1;
        }
        block[n] = v;
        n += 1;
        if n == 4 {
            let bytes = [
                (block[0] << 2) | (block[1] >> 4),
                (block[1] << 4) | (block[2] >> 2),
                (block[2] << 6) | block[3],
            ];
            if let Some(o) = out.as_deref_mut() {
                o[len..len + 3].copy_from_slice(&bytes);
            }
            len += 3;
            n = 0;
            if pad > 0 {
                if pad > 2 {
                    return None;
                }
                len -= pad;
                break;
            }
        }
    }
    (len > 0).then_some(len)
}

/// Appends the decimal form of `v`.
pub(crate) fn put_u64(out: &mut impl bytes::BufMut, v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let mut v = v;
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.put_slice(&tmp[i..]);
}

/// Appends the decimal form of a signed `v`.
pub(crate) fn put_i64(out: &mut impl bytes::BufMut, v: i64) {
    if v < 0 {
        out.put_u8(b'-');
    }
    put_u64(out, v.unsigned_abs());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_byte_matches_naive_search() {
        let hay: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) | 1).collect();
        for n in 0..=hay.len() {
            for needle in [0u8, b'\n', 0x80, 0xff, hay.get(n).copied().unwrap_or(3)] {
                let h = &hay[..n];
                assert_eq!(find_byte(h, needle), h.iter().position(|&b| b == needle));
            }
        }
        assert_eq!(find_byte(b"\x0a\x0a", b'\n'), Some(0));
        assert_eq!(find_byte(b"abcdefgh\x00\x01\n", b'\n'), Some(10));
        for n in 0..40 {
            for (a, b) in [(n, n + 3), (n + 5, n), (n, n)] {
                let mut h = [b'k'; 48];
                h[a] = b'\n';
                h[b] = 0;
                h[(a + b) % 48] = 0x8a;
                let h = &h[..(n + 1 + n % 9).min(48)];
                assert_eq!(
                    find_lf_or_nul(h),
                    h.iter().position(|&b| b == b'\n' || b == 0),
                    "{h:?}"
                );
            }
        }
    }

    #[test]
    fn c_numbers_follow_memcached() {
        assert_eq!(c_strtoul32(b"4294967297"), Some(1));
        assert_eq!(c_strtoul32(b"-1"), None);
        assert_eq!(c_strtoul32(b"-0"), Some(0));
        assert_eq!(c_strtoul32(b"18446744073709551616"), None);
        assert_eq!(c_strtoul32(b"5\tjunk"), Some(5));
        assert_eq!(c_strtoul32(b"\t7"), Some(7));
        assert_eq!(c_strtoul32(b"5x"), None);
        assert_eq!(c_strtoul32(b"+"), None);
        assert_eq!(c_strtoull(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(c_strtoull(b"-18446744073709551615"), Some(1));
        assert_eq!(c_strtoull(b"184467440737095516150"), None);
        assert_eq!(c_strtol32(b"-1"), Some(-1));
        assert_eq!(c_strtol32(b"+5"), Some(5));
        assert_eq!(c_strtol32(b"2147483648"), Some(i32::MIN));
        assert_eq!(c_strtol32(b"4294967301"), Some(5));
        assert_eq!(c_strtol32(b"9223372036854775808"), None);
        assert_eq!(c_strtol32(b"-9223372036854775808"), Some(0));
        assert_eq!(digits_u64(b"18446744073709551616"), None);
        assert_eq!(digits_u64(b"-1"), None);
    }

    #[test]
    fn base64_keys_decode_like_memcached() {
        let mut out = [0u8; 8];
        assert_eq!(decode_base64_key(b"Zm9v", Some(&mut out)), Some(3));
        assert_eq!(&out[..3], b"foo");
        assert_eq!(decode_base64_key(b"Zm8=", Some(&mut out)), Some(2));
        assert_eq!(&out[..2], b"fo");
        assert_eq!(decode_base64_key(b"Zg==", None), Some(1));
        assert_eq!(decode_base64_key(b"Zm9", None), None);
        assert_eq!(decode_base64_key(b"====", None), None);
        assert_eq!(decode_base64_key(b"!!!!", None), None);
        assert_eq!(decode_base64_key(b"Zm!9v", None), Some(3));
    }

    #[test]
    fn tokens_split_on_spaces_only() {
        let t = Tokens::new(b"  a\tb  c ");
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![&b"a\tb"[..], b"c"]);
        assert!(Tokens::new(b"   ").is_empty());
        let mut v = Vec::new();
        put_i64(&mut v, -42);
        v.push(b' ');
        put_u64(&mut v, u64::MAX);
        assert_eq!(v, b"-42 18446744073709551615");
    }
}
