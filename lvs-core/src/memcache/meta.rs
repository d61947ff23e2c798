//! Meta protocol pieces: commands, flag sections and memcached 1.6.18's flag validation.

use super::error::ErrorKind;
use super::text::{TokenIter, Tokens, c_strtol32, c_strtoul32, c_strtoull, decode_base64_key};

/// The meta commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetaCommand {
    /// `mg <key> <flags>*`
    Get,
    /// `ms <key> <datalen> <flags>*` followed by a data block.
    Set,
    /// `md <key> <flags>*`
    Delete,
    /// `ma <key> <flags>*`
    Arithmetic,
    /// `mn`: a no-op that ends a quiet batch.
    Noop,
    /// `me <key> [b]`: debug dump of an item.
    Debug,
}

impl MetaCommand {
    /// The two-byte command name.
    pub const fn name(self) -> &'static [u8] {
        match self {
            Self::Get => b"mg",
            Self::Set => b"ms",
            Self::Delete => b"md",
            Self::Arithmetic => b"ma",
            Self::Noop => b"mn",
            Self::Debug => b"me",
        }
    }
}

/// One meta flag: its byte and the token glued to it (`T30` is `T` with `30`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaFlag<'a> {
    /// The flag byte.
    pub flag: u8,
    /// The token after the flag byte (possibly empty).
    pub token: &'a [u8],
}

/// A meta flag section: the raw bytes plus a bitmask of the flag bytes present (below 128).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct MetaFlags<'a> {
    raw: Tokens<'a>,
    mask: u128,
}

impl core::fmt::Debug for MetaFlags<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.raw.fmt(f)
    }
}

impl<'a> MetaFlags<'a> {
    /// A flag section over `raw`, computing its mask.
    pub fn new(raw: &'a [u8]) -> Self {
        let raw = Tokens::new(raw);
        let mask = raw
            .iter()
            .filter(|t| t[0] < 128)
            .fold(0u128, |m, t| m | 1 << t[0]);
        Self { raw, mask }
    }

    pub(crate) const fn with_mask(raw: &'a [u8], mask: u128) -> Self {
        Self {
            raw: Tokens::new(raw),
            mask,
        }
    }

    /// The raw section as received.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.raw.as_bytes()
    }

    /// Whether flag `f` is present.
    pub const fn has(&self, f: u8) -> bool {
        f < 128 && self.mask & (1 << f) != 0
    }

    /// The token of the first flag `f`, if present.
    pub fn get(&self, f: u8) -> Option<&'a [u8]> {
        if !self.has(f) {
            return None;
        }
        self.iter().find(|m| m.flag == f).map(|m| m.token)
    }

    /// The opaque token (`O`), echoed in the response.
    pub fn opaque(&self) -> Option<&'a [u8]> {
        self.get(b'O')
    }

    /// Quiet mode (`q`).
    pub const fn quiet(&self) -> bool {
        self.has(b'q')
    }

    /// The key is base64 (`b`).
    pub const fn base64_key(&self) -> bool {
        self.has(b'b')
    }

    /// The flags in order.
    pub fn iter(&self) -> impl Iterator<Item = MetaFlag<'a>> + use<'a> {
        self.raw.iter().map(|t| MetaFlag {
            flag: t[0],
            token: &t[1..],
        })
    }
}

/// A parsed meta request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaRequest<'a> {
    /// Which command.
    pub command: MetaCommand,
    /// The key as sent (base64 text when [`MetaFlags::base64_key`]); empty for `mn`.
    pub key: &'a [u8],
    /// The flags (for `me`, the tokens after the key).
    pub flags: MetaFlags<'a>,
    /// The data block of `ms`, without its CRLF.
    pub data: Option<&'a [u8]>,
}

/// What flag validation learned.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Preparsed {
    pub(crate) mask: u128,
    pub(crate) mode: Option<u8>,
    pub(crate) client_flags: u32,
    /// Decoded key length when `b` is present.
    pub(crate) key_len: Option<usize>,
}

/// memcached 1.6.18's `_meta_flag_preparse`: a repeated flag (or a byte of 127 and above) and
/// an unknown flag stop at once; other errors are remembered, the last one wins.
pub(crate) fn preparse(flags: TokenIter<'_>, key: &[u8]) -> Result<Preparsed, ErrorKind> {
    let mut p = Preparsed::default();
    let mut error: Option<ErrorKind> = None;
    for tok in flags {
        let o = tok[0];
        if o >= 127 || p.mask & (1 << o) != 0 {
            return Err(ErrorKind::DuplicateFlag);
        }
        p.mask |= 1 << o;
        let arg = &tok[1..];
        match o {
            b'b' => match decode_base64_key(key, None) {
                Some(n) => p.key_len = Some(n),
                None => error = Some(ErrorKind::DecodingKey),
            },
            b'N' | b'T' | b'R' => {
                if c_strtol32(arg).is_none() {
                    error = Some(ErrorKind::BadToken);
                }
            }
            b'F' => match c_strtoul32(arg) {
                Some(f) => p.client_flags = f,
                // memcached flags the error without changing the message.
                None => error = Some(error.unwrap_or(ErrorKind::BadFormat)),
            },
            b'C' => {
                if c_strtoull(arg).is_none() {
                    error = Some(ErrorKind::BadToken);
                }
            }
            b'M' => {
                if tok.len() == 2 {
                    p.mode = Some(tok[1]);
                } else {
                    error = Some(ErrorKind::MTokenLength);
                }
            }
            b'J' => {
                if c_strtoull(arg).is_none() {
                    error = Some(ErrorKind::InvalidInitial);
                }
            }
            b'D' => {
                if c_strtoull(arg).is_none() {
                    error = Some(ErrorKind::InvalidDeltaValue);
                }
            }
            b'l' | b'O' | b'P' | b'L' | b'k' | b's' | b't' | b'c' | b'f' | b'v' | b'h' | b'u'
            | b'q' | b'I' => {}
            _ => return Err(ErrorKind::InvalidFlag),
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(p),
    }
}

/// Whether any `O` token (flag byte included) is longer than memcached's 32 bytes.
pub(crate) fn opaque_too_long(flags: TokenIter<'_>) -> bool {
    flags.into_iter().any(|t| t[0] == b'O' && t.len() > 32)
}

/// Meta response codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetaCode {
    /// `HD`: success without a value.
    Hd,
    /// `VA <size>`: a value follows.
    Va,
    /// `EN`: miss.
    En,
    /// `NF`: not found.
    Nf,
    /// `NS`: not stored.
    Ns,
    /// `EX`: CAS mismatch.
    Ex,
    /// `MN`: end of a batch.
    Mn,
}

impl MetaCode {
    /// The two-byte code.
    pub const fn name(self) -> &'static [u8] {
        match self {
            Self::Hd => b"HD",
            Self::Va => b"VA",
            Self::En => b"EN",
            Self::Nf => b"NF",
            Self::Ns => b"NS",
            Self::Ex => b"EX",
            Self::Mn => b"MN",
        }
    }

    pub(crate) fn from_name(n: &[u8]) -> Option<Self> {
        Some(match n {
            b"HD" => Self::Hd,
            b"VA" => Self::Va,
            b"EN" => Self::En,
            b"NF" => Self::Nf,
            b"NS" => Self::Ns,
            b"EX" => Self::Ex,
            b"MN" => Self::Mn,
            _ => return None,
        })
    }
}

/// A parsed meta response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaResponse<'a> {
    /// The status code.
    pub code: MetaCode,
    /// The returned flags (`k`, `O`, `c`, `f`, `t`, `W`, `X`, `Z` ...).
    pub flags: MetaFlags<'a>,
    /// The value of a `VA` response, without its CRLF.
    pub data: Option<&'a [u8]>,
}
