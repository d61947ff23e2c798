//! The incremental text-protocol response parser (what a backend memcached sends).

use super::Parsed;
use super::error::ResponseError;
use super::limits::Limits;
use super::meta::{MetaCode, MetaFlags, MetaResponse};
use super::text::{Tokens, digits_u64, find_byte};

/// Single-word replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// `END`: ends a get or stats reply.
    End,
    /// `STORED`
    Stored,
    /// `NOT_STORED`
    NotStored,
    /// `EXISTS`
    Exists,
    /// `NOT_FOUND`
    NotFound,
    /// `DELETED`
    Deleted,
    /// `TOUCHED`
    Touched,
    /// `OK`
    Ok,
    /// `RESET` (after `stats reset`)
    Reset,
}

impl Status {
    /// The reply word.
    pub const fn name(self) -> &'static [u8] {
        match self {
            Self::End => b"END",
            Self::Stored => b"STORED",
            Self::NotStored => b"NOT_STORED",
            Self::Exists => b"EXISTS",
            Self::NotFound => b"NOT_FOUND",
            Self::Deleted => b"DELETED",
            Self::Touched => b"TOUCHED",
            Self::Ok => b"OK",
            Self::Reset => b"RESET",
        }
    }

    fn from_line(l: &[u8]) -> Option<Self> {
        Some(match l {
            b"END" => Self::End,
            b"STORED" => Self::Stored,
            b"NOT_STORED" => Self::NotStored,
            b"EXISTS" => Self::Exists,
            b"NOT_FOUND" => Self::NotFound,
            b"DELETED" => Self::Deleted,
            b"TOUCHED" => Self::Touched,
            b"OK" => Self::Ok,
            b"RESET" => Self::Reset,
            _ => return None,
        })
    }
}

/// Words that start admin replies (slabs, lru_crawler, cache_memlimit, watch, stats dumps).
const ADMIN_WORDS: [&[u8]; 13] = [
    b"BUSY",
    b"BADCLASS",
    b"NOSPARE",
    b"NOTFULL",
    b"UNSAFE",
    b"SAME",
    b"NOTSTARTED",
    b"MEMLIMIT_TOO_SMALL",
    b"MEMLIMIT_ADJUST_FAILED",
    b"WATCHER_TOO_MANY",
    b"WATCHER_FAILED",
    b"ITEM",
    b"PREFIX",
];

/// A parsed response. Everything borrows the parser's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response<'a> {
    /// `VALUE <key> <flags> <bytes> [<cas>]` and its data block.
    Value {
        /// The key.
        key: &'a [u8],
        /// Client flags.
        flags: u32,
        /// The CAS unique (`gets`, `gats`).
        cas: Option<u64>,
        /// The value, without its CRLF.
        data: &'a [u8],
    },
    /// A single-word reply.
    Status(Status),
    /// The new value after `incr`/`decr`.
    Number(u64),
    /// `VERSION <version>`
    Version(&'a [u8]),
    /// `STAT <name> <value>`
    Stat {
        /// The statistic's name.
        name: &'a [u8],
        /// Its value (the rest of the line).
        value: &'a [u8],
    },
    /// `ERROR`, possibly followed by text (`ERROR: shutdown not enabled`); `message` is what
    /// follows the word, as sent.
    Error {
        /// The bytes after `ERROR`.
        message: &'a [u8],
    },
    /// `CLIENT_ERROR <message>`
    ClientError(&'a [u8]),
    /// `SERVER_ERROR <message>`
    ServerError(&'a [u8]),
    /// A meta response (`HD`, `VA`, `EN`, `NF`, `NS`, `EX`, `MN`).
    Meta(MetaResponse<'a>),
    /// `ME <key> <details>` (the `me` debug reply).
    MetaDebug {
        /// The key.
        key: &'a [u8],
        /// `exp=... la=... cas=... fetch=... cls=... size=...`
        details: &'a [u8],
    },
    /// An admin reply line (`BUSY ...`, `BADCLASS ...`, `ITEM ...`, `PREFIX ...` ...).
    Admin(&'a [u8]),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyKind {
    Value {
        key: (usize, usize),
        flags: u32,
        cas: Option<u64>,
    },
    Va {
        flags: (usize, usize),
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    header: usize,
    len: usize,
    kind: BodyKind,
}

/// Between-call state of the response parser: O(1) and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseState {
    limits: Limits,
    scanned: usize,
    /// While a value body arrives: the buffer length it completes at (0 otherwise).
    wait: usize,
    pending: Option<Pending>,
}

impl Default for ResponseState {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl ResponseState {
    /// A parser at the start of a stream.
    pub const fn new(limits: Limits) -> Self {
        Self {
            limits,
            scanned: 0,
            wait: 0,
            pending: None,
        }
    }

    /// Whether the parser is between responses.
    pub const fn is_idle(&self) -> bool {
        self.scanned == 0 && self.pending.is_none()
    }
}

type Out<'a> = Parsed<Response<'a>, ResponseError>;

const fn bad<'a>(error: ResponseError, consumed: usize) -> Out<'a> {
    Parsed::Invalid { error, consumed }
}

/// Parses the next response from `buf`, with the same contract as
/// [`parse`](super::request::parse). A response error means the backend stream cannot be
/// trusted any more: close it. (`consumed` then covers the offending line, or is 0 for an
/// over-long line.)
///
/// Like [`parse`](super::request::parse), an inlined front answers a call that cannot complete
/// anything (a value body still short, no new byte, or one more line byte that is not an LF)
/// without entering the parser proper.
#[inline]
pub fn parse_response<'a>(buf: &'a [u8], st: &mut ResponseState) -> Out<'a> {
    if buf.len() < st.wait {
        return Parsed::Incomplete;
    }
    let extra = buf.len().wrapping_sub(st.scanned);
    if st.wait == 0
        && extra <= 1
        && buf.len() <= st.limits.max_response_line_len
        && (extra == 0 || buf[buf.len() - 1] != b'\n')
    {
        st.scanned = buf.len();
        return Parsed::Incomplete;
    }
    parse_slow(buf, st)
}

fn parse_slow<'a>(buf: &'a [u8], st: &mut ResponseState) -> Out<'a> {
    if let Some(p) = st.pending {
        return body(buf, st, p);
    }
    let lf = match find_byte(&buf[st.scanned..], b'\n') {
        Some(i) => st.scanned + i,
        None => {
            st.scanned = buf.len();
            if buf.len() > st.limits.max_response_line_len {
                st.scanned = 0;
                return bad(ResponseError::LineTooLong, 0);
            }
            return Parsed::Incomplete;
        }
    };
    st.scanned = 0;
    if lf > st.limits.max_response_line_len {
        return bad(ResponseError::LineTooLong, 0);
    }
    let consumed = lf + 1;
    let line = match buf[..lf].strip_suffix(b"\r") {
        Some(l) => l,
        None => &buf[..lf],
    };
    let done = |value| Parsed::Complete { value, consumed };
    if let Some(s) = Status::from_line(line) {
        return done(Response::Status(s));
    }
    let (word, rest) = match find_byte(line, b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &line[line.len()..]),
    };
    match word {
        b"VALUE" => {
            let mut it = Tokens::new(rest).iter();
            let (Some(key), Some(f), Some(n)) = (it.next(), it.next(), it.next()) else {
                return bad(ResponseError::BadValueHeader, consumed);
            };
            let cas = it.next();
            if it.next().is_some() {
                return bad(ResponseError::BadValueHeader, consumed);
            }
            if key.len() > st.limits.max_key_len {
                return bad(ResponseError::KeyTooLong, consumed);
            }
            let Some(flags) = digits_u64(f).and_then(|f| u32::try_from(f).ok()) else {
                return bad(ResponseError::BadValueHeader, consumed);
            };
            let cas = match cas.map(digits_u64) {
                None => None,
                Some(Some(c)) => Some(c),
                Some(None) => return bad(ResponseError::BadValueHeader, consumed),
            };
            let len = match value_len(n, &st.limits) {
                Ok(len) => len,
                Err(e) => return bad(e, consumed),
            };
            let key = (key.as_ptr() as usize - buf.as_ptr() as usize, key.len());
            let kind = BodyKind::Value { key, flags, cas };
            body(
                buf,
                st,
                Pending {
                    header: consumed,
                    len,
                    kind,
                },
            )
        }
        b"VA" => {
            let mut it = Tokens::new(rest).iter();
            let Some(n) = it.next() else {
                return bad(ResponseError::BadValueHeader, consumed);
            };
            let len = match value_len(n, &st.limits) {
                Ok(len) => len,
                Err(e) => return bad(e, consumed),
            };
            let f = it.rest();
            let flags = (f.as_ptr() as usize - buf.as_ptr() as usize, f.len());
            let kind = BodyKind::Va { flags };
            body(
                buf,
                st,
                Pending {
                    header: consumed,
                    len,
                    kind,
                },
            )
        }
        b"VERSION" if line.len() > word.len() => done(Response::Version(rest)),
        b"STAT" => {
            let Some(sp) = find_byte(rest, b' ') else {
                return bad(ResponseError::BadStat, consumed);
            };
            if sp == 0 {
                return bad(ResponseError::BadStat, consumed);
            }
            done(Response::Stat {
                name: &rest[..sp],
                value: &rest[sp + 1..],
            })
        }
        b"CLIENT_ERROR" => done(Response::ClientError(rest)),
        b"SERVER_ERROR" => done(Response::ServerError(rest)),
        b"ME" => {
            let sp = find_byte(rest, b' ').unwrap_or(rest.len());
            let details = rest.get(sp + 1..).unwrap_or_default();
            done(Response::MetaDebug {
                key: &rest[..sp],
                details,
            })
        }
        _ if line.starts_with(b"ERROR") && matches!(line.get(5), None | Some(b' ' | b':')) => {
            done(Response::Error {
                message: &line[5..],
            })
        }
        _ if !line.is_empty() && line.iter().all(u8::is_ascii_digit) => match digits_u64(line) {
            Some(v) => done(Response::Number(v)),
            None => bad(ResponseError::Unknown, consumed),
        },
        _ if ADMIN_WORDS.contains(&word) => done(Response::Admin(line)),
        _ => match MetaCode::from_name(word) {
            Some(code) if code != MetaCode::Va => done(Response::Meta(MetaResponse {
                code,
                flags: MetaFlags::new(rest),
                data: None,
            })),
            _ => bad(ResponseError::Unknown, consumed),
        },
    }
}

fn value_len(n: &[u8], lim: &Limits) -> Result<usize, ResponseError> {
    let v = digits_u64(n).ok_or(ResponseError::BadValueHeader)?;
    match usize::try_from(v) {
        Ok(v) if v <= lim.item_size_max => Ok(v),
        _ => Err(ResponseError::ValueTooLarge),
    }
}

fn body<'a>(buf: &'a [u8], st: &mut ResponseState, p: Pending) -> Out<'a> {
    let end = p.header + p.len + 2;
    if buf.len() < end {
        st.pending = Some(p);
        st.wait = end;
        return Parsed::Incomplete;
    }
    st.pending = None;
    st.wait = 0;
    if &buf[end - 2..end] != b"\r\n" {
        return bad(ResponseError::BadDataChunk, end);
    }
    let data = &buf[p.header..p.header + p.len];
    let value = match p.kind {
        BodyKind::Value { key, flags, cas } => Response::Value {
            key: &buf[key.0..key.0 + key.1],
            flags,
            cas,
            data,
        },
        BodyKind::Va { flags } => Response::Meta(MetaResponse {
            code: MetaCode::Va,
            flags: MetaFlags::new(&buf[flags.0..flags.0 + flags.1]),
            data: Some(data),
        }),
    };
    Parsed::Complete {
        value,
        consumed: end,
    }
}
