//! Value syntax of named.conf: booleans, integers, ports, durations (TTL style and ISO 8601),
//! sizes, addresses, prefixes and address match lists. Error texts follow named-checkconf.

use core::net::IpAddr;

use lvs_dns::forwarder::{MatchElement, MatchList, Prefix};

use super::parse::{ConfError, Item, Loc, Stmt};

/// The word of an item, or an error naming what was expected.
pub(crate) fn word<'a>(
    item: Option<&'a Item>,
    end: &Loc,
    what: &str,
) -> Result<(&'a str, &'a Loc), ConfError> {
    match item {
        Some(Item::Word { text, loc, .. }) => Ok((text, loc)),
        Some(Item::Block { loc, .. }) => {
            Err(ConfError::at(loc, format!("expected {what} near '{{'")))
        }
        None => Err(ConfError::at(end, format!("expected {what} near ';'"))),
    }
}

/// `yes|no|true|false|1|0`.
pub(crate) fn boolean(text: &str, loc: &Loc) -> Result<bool, ConfError> {
    match text.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Ok(true),
        "no" | "false" | "0" => Ok(false),
        _ => Err(ConfError::at(
            loc,
            format!("boolean expected near '{text}'"),
        )),
    }
}

/// A decimal integer that fits `u32`.
pub(crate) fn integer(text: &str, loc: &Loc) -> Result<u32, ConfError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfError::at(
            loc,
            format!("expected integer near '{text}'"),
        ));
    }
    text.parse()
        .map_err(|_| ConfError::at(loc, format!("integer out of range near '{text}'")))
}

/// A port number (`*` is not accepted here).
pub(crate) fn port(text: &str, loc: &Loc) -> Result<u16, ConfError> {
    let n = integer(text, loc)?;
    u16::try_from(n)
        .map_err(|_| ConfError::at(loc, format!("port number out of range near '{text}'")))
}

/// A duration in seconds: plain seconds, TTL style (`1w2d3h4m5s`) or ISO 8601 (`P1DT2H`).
pub(crate) fn duration(text: &str, loc: &Loc) -> Result<u32, ConfError> {
    let err = || {
        ConfError::at(
            loc,
            format!("expected ISO 8601 duration or TTL value near '{text}'"),
        )
    };
    let upper = text.to_ascii_uppercase();
    let total = if let Some(rest) = upper.strip_prefix('P') {
        iso8601(rest).ok_or_else(err)?
    } else if !upper.is_empty() && upper.bytes().all(|b| b.is_ascii_digit()) {
        upper.parse::<u64>().map_err(|_| err())?
    } else {
        ttl_units(&upper).ok_or_else(err)?
    };
    u32::try_from(total).map_err(|_| err())
}

fn units(s: &str, unit: impl Fn(u8) -> Option<u64>) -> Option<u64> {
    let mut total = 0u64;
    let mut num: Option<u64> = None;
    for b in s.bytes() {
        if b.is_ascii_digit() {
            num = Some(
                num.unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(u64::from(b - b'0'))?,
            );
        } else {
            total = total.checked_add(num.take()?.checked_mul(unit(b)?)?)?;
        }
    }
    if num.is_some() || s.is_empty() {
        return None;
    }
    Some(total)
}

fn ttl_units(s: &str) -> Option<u64> {
    units(s, |u| match u {
        b'S' => Some(1),
        b'M' => Some(60),
        b'H' => Some(3600),
        b'D' => Some(86_400),
        b'W' => Some(604_800),
        _ => None,
    })
}

fn iso8601(s: &str) -> Option<u64> {
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut total = 0;
    if !date.is_empty() {
        total += units(date, |u| match u {
            b'Y' => Some(31_536_000),
            b'M' => Some(2_592_000),
            b'W' => Some(604_800),
            b'D' => Some(86_400),
            _ => None,
        })?;
    }
    if let Some(t) = time {
        total += units(t, |u| match u {
            b'H' => Some(3600),
            b'M' => Some(60),
            b'S' => Some(1),
            _ => None,
        })?;
    }
    (!date.is_empty() || time.is_some()).then_some(total)
}

/// `max-cache-size` and friends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// A number of bytes.
    Bytes(u64),
    /// `unlimited`.
    Unlimited,
    /// `default`.
    Default,
    /// A percentage of physical memory.
    Percent(u8),
}

/// A size: `unlimited`, `default`, `N%`, or a number with an optional `k`, `m` or `g`.
pub(crate) fn size(text: &str, loc: &Loc) -> Result<Size, ConfError> {
    let err = || {
        ConfError::at(
            loc,
            format!("expected integer and optional unit near '{text}'"),
        )
    };
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "unlimited" => return Ok(Size::Unlimited),
        "default" => return Ok(Size::Default),
        _ => {}
    }
    if let Some(p) = lower.strip_suffix('%') {
        let n: u8 = p.parse().map_err(|_| err())?;
        if n > 100 {
            return Err(ConfError::at(
                loc,
                format!("percentage out of range near '{text}'"),
            ));
        }
        return Ok(Size::Percent(n));
    }
    let (digits, mult) = match lower.as_bytes().last() {
        Some(b'k') => (&lower[..lower.len() - 1], 1u64 << 10),
        Some(b'm') => (&lower[..lower.len() - 1], 1 << 20),
        Some(b'g') => (&lower[..lower.len() - 1], 1 << 30),
        _ => (lower.as_str(), 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let n: u64 = digits.parse().map_err(|_| err())?;
    n.checked_mul(mult).map(Size::Bytes).ok_or_else(err)
}

/// An IP address literal.
pub(crate) fn address(text: &str, loc: &Loc) -> Result<IpAddr, ConfError> {
    text.parse()
        .map_err(|_| ConfError::at(loc, format!("expected IP address near '{text}'")))
}

/// A prefix `addr/len` (IPv4 may be shortened: `10/8`), or `None` if `text` is not one.
fn prefix(text: &str, loc: &Loc) -> Result<Option<Prefix>, ConfError> {
    let (a, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = match a.parse() {
        Ok(ip) => ip,
        Err(_) => {
            // Shortened IPv4 with an explicit length: 10/8, 172.16/12.
            let parts: Vec<&str> = a.split('.').collect();
            let ok = len.is_some()
                && parts.len() < 4
                && parts.iter().all(|p| {
                    !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())
                });
            if !ok {
                return Ok(None);
            }
            let mut o = [0u8; 4];
            for (slot, p) in o.iter_mut().zip(&parts) {
                *slot = p
                    .parse()
                    .map_err(|_| ConfError::at(loc, format!("bad address '{text}'")))?;
            }
            IpAddr::from(o)
        }
    };
    let width: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let Some(len) = len else {
        return Ok(Some(Prefix::new(addr, width)));
    };
    let n: u8 = match len.parse() {
        Ok(n) if n <= width => n,
        _ => {
            return Err(ConfError::at(
                loc,
                format!("'{text}': bad prefix length '{len}'"),
            ));
        }
    };
    let bits = match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
        IpAddr::V6(v6) => u128::from(v6),
    };
    if n < 128 && bits << n != 0 {
        return Err(ConfError::at(
            loc,
            format!("'{text}': address/prefix length mismatch '{len}'"),
        ));
    }
    Ok(Some(Prefix::new(addr, n)))
}

/// Named ACLs referred to, with where (for "undefined ACL" errors).
pub(crate) type Refs = Vec<(String, Loc)>;

/// The address match list in a block's statements; ACL references are added to `refs`.
pub(crate) fn match_list(stmts: &[Stmt], refs: &mut Refs) -> Result<MatchList, ConfError> {
    stmts
        .iter()
        .map(|s| element(s, refs))
        .collect::<Result<_, _>>()
        .map(MatchList)
}

/// One element: `[!] (address | prefix | any | none | localhost | localnets | acl | key k | { list })`.
fn element(stmt: &Stmt, refs: &mut Refs) -> Result<MatchElement, ConfError> {
    let mut items = stmt.items.as_slice();
    let mut negate = false;
    if let Some(Item::Word {
        text,
        quoted: false,
        loc,
    }) = items.first()
        && let Some(rest) = text.strip_prefix('!')
    {
        negate = true;
        if rest.is_empty() {
            items = &items[1..];
        } else {
            if items.len() > 1 {
                return Err(ConfError::at(
                    loc,
                    format!("'{}' unexpected", items[1].describe()),
                ));
            }
            let e = simple_element(rest, false, loc, refs)?;
            return Ok(MatchElement::Not(Box::new(e)));
        }
    }
    let e = match items {
        [Item::Block { stmts, .. }] => MatchElement::List(match_list(stmts, refs)?),
        [Item::Word { text, quoted, loc }] => simple_element(text, *quoted, loc, refs)?,
        [
            Item::Word {
                text,
                quoted: false,
                ..
            },
            Item::Word { .. },
        ] if text == "key" => {
            // TSIG-keyed elements match signed requests only; we verify no TSIG, so the
            // element never decides (an empty nested list).
            MatchElement::List(MatchList::none())
        }
        [] => {
            return Err(ConfError::at(
                &stmt.end,
                "expected address match element near ';'",
            ));
        }
        [_, second, ..] => {
            return Err(ConfError::at(
                second.loc(),
                format!("missing ';' before '{}'", second.describe()),
            ));
        }
    };
    Ok(if negate {
        MatchElement::Not(Box::new(e))
    } else {
        e
    })
}

fn simple_element(
    text: &str,
    quoted: bool,
    loc: &Loc,
    refs: &mut Refs,
) -> Result<MatchElement, ConfError> {
    if !quoted {
        match text {
            "any" => return Ok(MatchElement::Any),
            "none" => return Ok(MatchElement::Not(Box::new(MatchElement::Any))),
            "localhost" => return Ok(MatchElement::List(MatchList::localhost())),
            "localnets" => return Ok(MatchElement::List(MatchList::local_default())),
            _ => {}
        }
        if let Some(p) = prefix(text, loc)? {
            return Ok(MatchElement::Prefix(p));
        }
    }
    refs.push((text.to_owned(), loc.clone()));
    Ok(MatchElement::Acl(text.to_owned()))
}

/// Checks standard base64 (as BIND does for key secrets).
pub(crate) fn is_base64(s: &str) -> bool {
    let body: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if body.is_empty() || !body.len().is_multiple_of(4) {
        return false;
    }
    let pad = body.iter().rev().take_while(|&&b| b == b'=').count();
    pad <= 2
        && body[..body.len() - pad]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn loc() -> Loc {
        Loc {
            file: Arc::from("t.conf"),
            line: 7,
        }
    }

    #[test]
    fn durations_in_every_style() {
        let l = loc();
        assert_eq!(duration("3600", &l).unwrap(), 3600);
        assert_eq!(duration("1h", &l).unwrap(), 3600);
        assert_eq!(
            duration("1w2d3h4m5s", &l).unwrap(),
            604_800 + 2 * 86_400 + 3 * 3600 + 245
        );
        assert_eq!(duration("P1D", &l).unwrap(), 86_400);
        assert_eq!(duration("PT1H30M", &l).unwrap(), 5400);
        assert_eq!(duration("p1w", &l).unwrap(), 604_800);
        for bad in ["2x", "", "h", "P", "1h2", "99999999999"] {
            let e = duration(bad, &l).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("t.conf:7: expected ISO 8601 duration or TTL value near '{bad}'")
            );
        }
    }

    #[test]
    fn sizes_booleans_ports() {
        let l = loc();
        assert_eq!(size("10m", &l).unwrap(), Size::Bytes(10 << 20));
        assert_eq!(size("512K", &l).unwrap(), Size::Bytes(512 << 10));
        assert_eq!(size("1000", &l).unwrap(), Size::Bytes(1000));
        assert_eq!(size("90%", &l).unwrap(), Size::Percent(90));
        assert_eq!(size("unlimited", &l).unwrap(), Size::Unlimited);
        assert!(size("101%", &l).is_err() && size("m", &l).is_err() && size("1t", &l).is_err());
        assert!(boolean("Yes", &l).unwrap() && !boolean("false", &l).unwrap());
        assert_eq!(
            boolean("maybe", &l).unwrap_err().message,
            "boolean expected near 'maybe'"
        );
        assert_eq!(port("5300", &l).unwrap(), 5300);
        assert_eq!(
            port("99999", &l).unwrap_err().message,
            "port number out of range near '99999'"
        );
    }

    #[test]
    fn prefixes_and_mismatch() {
        let l = loc();
        let p = prefix("10/8", &l).unwrap().unwrap();
        assert_eq!((p.addr, p.len), (IpAddr::from([10, 0, 0, 0]), 8));
        let p = prefix("fe80::/10", &l).unwrap().unwrap();
        assert_eq!(p.len, 10);
        let p = prefix("192.0.2.1", &l).unwrap().unwrap();
        assert_eq!(p.len, 32);
        assert_eq!(
            prefix("10.0.0.1/8", &l).unwrap_err().message,
            "'10.0.0.1/8': address/prefix length mismatch '8'"
        );
        assert!(prefix("1.2.3.4/33", &l).is_err());
        assert_eq!(prefix("trusted", &l).unwrap(), None);
        assert_eq!(prefix("10", &l).unwrap(), None);
    }

    #[test]
    fn base64_check() {
        assert!(is_base64("YWJjZA=="));
        assert!(is_base64("YWJj"));
        assert!(!is_base64("abc"));
        assert!(!is_base64("YW=j"));
        assert!(!is_base64(""));
    }
}
