//! RDATA: the layouts this codec understands, validation, and a typed view ([`RData`]).
//!
//! Names inside RDATA are decompressed for the RFC 1035 types (RFC 3597 §4 says receivers must)
//! and for the later types that RFC 3597 says receivers should decompress (RP, AFSDB, RT, PX,
//! SRV); only the RFC 1035 ones are ever compressed when written. Every other type is opaque.

use core::net::{Ipv4Addr, Ipv6Addr};

use super::name::{Compressor, Name, encode_name};
use super::{OutBuf, WireError, class, rtype};

/// Where the names sit in a name-bearing RDATA: `prefix` fixed bytes, `names` names, then
/// `suffix` fixed bytes, filling RDLENGTH exactly.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    prefix: usize,
    names: usize,
    suffix: usize,
    /// Whether the names may be compressed when written (RFC 1035 types only).
    compress: bool,
}

pub(crate) fn layout(t: u16) -> Option<Layout> {
    let l = |prefix, names, suffix, compress| {
        Some(Layout {
            prefix,
            names,
            suffix,
            compress,
        })
    };
    match t {
        rtype::NS
        | rtype::MD
        | rtype::MF
        | rtype::CNAME
        | rtype::MB
        | rtype::MG
        | rtype::MR
        | rtype::PTR => l(0, 1, 0, true),
        rtype::MINFO => l(0, 2, 0, true),
        rtype::MX => l(2, 1, 0, true),
        rtype::SOA => l(0, 2, 20, true),
        rtype::RP => l(0, 2, 0, false),
        rtype::AFSDB | rtype::RT => l(2, 1, 0, false),
        rtype::PX => l(2, 2, 0, false),
        rtype::SRV => l(6, 1, 0, false),
        _ => None,
    }
}

/// Checks the RDATA at `msg[start..end]` for type `t`. Names may point anywhere earlier in
/// `msg`; their in-place bytes must stay inside the RDATA.
pub(crate) fn validate(
    msg: &[u8],
    t: u16,
    rclass: u16,
    start: usize,
    end: usize,
) -> Result<(), WireError> {
    let data = msg.get(start..end).ok_or(WireError::RdataTruncated)?;
    // RFC 2136 updates carry empty RDATA with class ANY or NONE for any type.
    if data.is_empty() && matches!(rclass, class::ANY | class::NONE) {
        return Ok(());
    }
    match t {
        rtype::A if data.len() != 4 => Err(WireError::RdataMalformed),
        rtype::AAAA if data.len() != 16 => Err(WireError::RdataMalformed),
        rtype::TXT | rtype::HINFO => {
            let mut strings = CharStrings { data };
            let mut n = 0;
            while let Some(s) = strings.next_checked()? {
                let _ = s;
                n += 1;
            }
            if t == rtype::HINFO && n != 2 {
                return Err(WireError::RdataMalformed);
            }
            Ok(())
        }
        rtype::OPT => super::edns::validate_options(data),
        _ => match layout(t) {
            Some(l) => walk_layout(msg, l, start, end, |_| {}).map(|_| ()),
            None => Ok(()),
        },
    }
}

/// Walks a name-bearing RDATA, calling `each` on every name. Returns the offset of the suffix.
fn walk_layout<'a>(
    msg: &'a [u8],
    l: Layout,
    start: usize,
    end: usize,
    mut each: impl FnMut(Name<'a>),
) -> Result<usize, WireError> {
    let mut pos = start + l.prefix;
    if pos > end {
        return Err(WireError::RdataMalformed);
    }
    for _ in 0..l.names {
        let (name, next) = Name::parse(msg, pos, end)?;
        each(name);
        pos = next;
    }
    if pos + l.suffix != end {
        return Err(WireError::RdataMalformed);
    }
    Ok(pos)
}

/// Writes the RDATA at `msg[start..end]` (already validated) to `out`, decompressing its names
/// and, when `comp` is given and the type allows it, compressing them against the table.
pub(crate) fn encode_from_message<B: OutBuf>(
    out: &mut B,
    base: usize,
    room: usize,
    msg: &[u8],
    t: u16,
    (start, end): (usize, usize),
    comp: Option<&mut Compressor>,
) -> Result<usize, WireError> {
    let data = msg.get(start..end).ok_or(WireError::RdataTruncated)?;
    let Some(l) = layout(t).filter(|_| !data.is_empty()) else {
        if data.len() > room {
            return Err(WireError::NoSpace);
        }
        out.append(data)?;
        return Ok(data.len());
    };
    let mut comp = comp.filter(|_| l.compress);
    let mut written = 0;
    let prefix = &data[..l.prefix.min(data.len())];
    if prefix.len() > room {
        return Err(WireError::NoSpace);
    }
    out.append(prefix)?;
    written += prefix.len();
    let mut pos = start + l.prefix;
    for _ in 0..l.names {
        let (name, next) = Name::parse(msg, pos, end)?;
        written += encode_name(out, base, room - written, &name, comp.as_deref_mut())?;
        pos = next;
    }
    let suffix = msg.get(pos..end).ok_or(WireError::RdataMalformed)?;
    if suffix.len() > room - written {
        return Err(WireError::NoSpace);
    }
    out.append(suffix)?;
    Ok(written + suffix.len())
}

/// A record's RDATA, decoded for the common types. Also the input of
/// [`MessageBuilder::record`](super::MessageBuilder::record).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum RData<'a> {
    /// TYPE A.
    A(Ipv4Addr),
    /// TYPE AAAA.
    Aaaa(Ipv6Addr),
    /// TYPE NS: a name server.
    Ns(Name<'a>),
    /// TYPE CNAME: the canonical name.
    Cname(Name<'a>),
    /// TYPE PTR.
    Ptr(Name<'a>),
    /// TYPE MX.
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The mail host.
        exchange: Name<'a>,
    },
    /// TYPE SOA.
    Soa(Soa<'a>),
    /// TYPE TXT: one or more character-strings.
    Txt(CharStrings<'a>),
    /// TYPE SRV (RFC 2782).
    Srv {
        /// Lower is tried first.
        priority: u16,
        /// Relative weight among equal priorities.
        weight: u16,
        /// Service port.
        port: u16,
        /// The host.
        target: Name<'a>,
    },
    /// Any other type, carried opaquely (RFC 3597). When decoded from a message this also
    /// covers the rarer name-bearing types (MB, MINFO, RP, ...); re-encode those with
    /// [`MessageBuilder::copy_record`](super::MessageBuilder::copy_record), which
    /// decompresses their names.
    Other {
        /// The TYPE.
        rtype: u16,
        /// The RDATA bytes.
        data: &'a [u8],
    },
}

/// SOA RDATA.
#[derive(Clone, Copy, Debug)]
pub struct Soa<'a> {
    /// Primary name server.
    pub mname: Name<'a>,
    /// Responsible mailbox.
    pub rname: Name<'a>,
    /// Zone serial.
    pub serial: u32,
    /// Refresh interval, seconds.
    pub refresh: u32,
    /// Retry interval, seconds.
    pub retry: u32,
    /// Expiry, seconds.
    pub expire: u32,
    /// Negative-caching TTL bound (RFC 2308).
    pub minimum: u32,
}

/// A sequence of `<character-string>`s (a length byte then that many bytes), as in TXT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CharStrings<'a> {
    data: &'a [u8],
}

impl<'a> CharStrings<'a> {
    /// Validates `data` as character-strings that fill it exactly.
    pub fn new(data: &'a [u8]) -> Result<Self, WireError> {
        let mut probe = Self { data };
        while probe.next_checked()?.is_some() {}
        Ok(Self { data })
    }

    /// The wire bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    fn next_checked(&mut self) -> Result<Option<&'a [u8]>, WireError> {
        let Some((&len, rest)) = self.data.split_first() else {
            return Ok(None);
        };
        let s = rest
            .get(..usize::from(len))
            .ok_or(WireError::RdataMalformed)?;
        self.data = &rest[usize::from(len)..];
        Ok(Some(s))
    }
}

impl<'a> Iterator for CharStrings<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.next_checked().ok().flatten()
    }
}

impl<'a> RData<'a> {
    /// Decodes the (validated) RDATA at `msg[start..end]` of type `t`.
    pub(crate) fn decode(msg: &'a [u8], t: u16, start: usize, end: usize) -> Self {
        let data = msg.get(start..end).unwrap_or_default();
        Self::decode_typed(msg, t, start, end, data).unwrap_or(RData::Other { rtype: t, data })
    }

    fn decode_typed(
        msg: &'a [u8],
        t: u16,
        start: usize,
        end: usize,
        data: &'a [u8],
    ) -> Option<Self> {
        let name_at = |at: usize| Name::parse(msg, at, end).ok();
        let u16_at = |at: usize| Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?));
        Some(match t {
            rtype::A => RData::A(Ipv4Addr::from(<[u8; 4]>::try_from(data).ok()?)),
            rtype::AAAA => RData::Aaaa(Ipv6Addr::from(<[u8; 16]>::try_from(data).ok()?)),
            rtype::NS => RData::Ns(name_at(start)?.0),
            rtype::CNAME => RData::Cname(name_at(start)?.0),
            rtype::PTR => RData::Ptr(name_at(start)?.0),
            rtype::MX => RData::Mx {
                preference: u16_at(0)?,
                exchange: name_at(start + 2)?.0,
            },
            rtype::SRV => RData::Srv {
                priority: u16_at(0)?,
                weight: u16_at(2)?,
                port: u16_at(4)?,
                target: name_at(start + 6)?.0,
            },
            rtype::SOA => {
                let (mname, next) = name_at(start)?;
                let (rname, next) = name_at(next)?;
                let nums = msg.get(next..end)?;
                let n = |i: usize| {
                    Some(u32::from_be_bytes(
                        nums.get(i * 4..i * 4 + 4)?.try_into().ok()?,
                    ))
                };
                RData::Soa(Soa {
                    mname,
                    rname,
                    serial: n(0)?,
                    refresh: n(1)?,
                    retry: n(2)?,
                    expire: n(3)?,
                    minimum: n(4)?,
                })
            }
            rtype::TXT => RData::Txt(CharStrings::new(data).ok()?),
            _ => return None,
        })
    }

    /// The TYPE this RDATA belongs to.
    pub fn rtype(&self) -> u16 {
        match self {
            RData::A(_) => rtype::A,
            RData::Aaaa(_) => rtype::AAAA,
            RData::Ns(_) => rtype::NS,
            RData::Cname(_) => rtype::CNAME,
            RData::Ptr(_) => rtype::PTR,
            RData::Mx { .. } => rtype::MX,
            RData::Soa(_) => rtype::SOA,
            RData::Txt(_) => rtype::TXT,
            RData::Srv { .. } => rtype::SRV,
            RData::Other { rtype, .. } => *rtype,
        }
    }

    /// Appends the RDATA (not RDLENGTH) to `out`, within `room` bytes. Names of RFC 1035 types
    /// are compressed when `comp` is given; SRV targets never are.
    pub(crate) fn encode<B: OutBuf>(
        &self,
        out: &mut B,
        base: usize,
        room: usize,
        comp: Option<&mut Compressor>,
    ) -> Result<usize, WireError> {
        let fixed = |out: &mut B, bytes: &[u8], room: usize| {
            if bytes.len() > room {
                return Err(WireError::NoSpace);
            }
            out.append(bytes).map(|()| bytes.len())
        };
        match self {
            RData::A(a) => fixed(out, &a.octets(), room),
            RData::Aaaa(a) => fixed(out, &a.octets(), room),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => encode_name(out, base, room, n, comp),
            RData::Mx {
                preference,
                exchange,
            } => {
                let w = fixed(out, &preference.to_be_bytes(), room)?;
                Ok(w + encode_name(out, base, room - w, exchange, comp)?)
            }
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                let mut head = [0u8; 6];
                head[..2].copy_from_slice(&priority.to_be_bytes());
                head[2..4].copy_from_slice(&weight.to_be_bytes());
                head[4..].copy_from_slice(&port.to_be_bytes());
                let w = fixed(out, &head, room)?;
                Ok(w + encode_name(out, base, room - w, target, None)?)
            }
            RData::Soa(s) => {
                let mut comp = comp;
                let mut w = encode_name(out, base, room, &s.mname, comp.as_deref_mut())?;
                w += encode_name(out, base, room - w, &s.rname, comp)?;
                let mut nums = [0u8; 20];
                for (i, v) in [s.serial, s.refresh, s.retry, s.expire, s.minimum]
                    .into_iter()
                    .enumerate()
                {
                    nums[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
                }
                Ok(w + fixed(out, &nums, room - w)?)
            }
            RData::Txt(t) => fixed(out, t.data, room),
            RData::Other { data, .. } => fixed(out, data, room),
        }
    }
}
