//! EDNS(0) (RFC 6891): the OPT record's fields, its options, Extended DNS Errors (RFC 8914) and
//! UDP payload negotiation.

use super::message::Record;
use super::{WireError, rtype};

/// The UDP payload size we advertise and answer with by default (DNS Flag Day 2020).
pub const DEFAULT_PAYLOAD: u16 = 1232;
/// Every payload size below this is treated as this (RFC 6891 §6.2.3), and it is the limit
/// for clients without EDNS (RFC 1035 §4.2.1).
pub const MIN_PAYLOAD: u16 = 512;
/// The largest payload size we ever configure or honour.
pub const MAX_PAYLOAD: u16 = 4096;

/// EDNS option codes (IANA "DNS EDNS0 Option Codes").
pub mod option {
    /// Name server identifier (RFC 5001).
    pub const NSID: u16 = 3;
    /// Client subnet (RFC 7871).
    pub const ECS: u16 = 8;
    /// Cookie (RFC 7873).
    pub const COOKIE: u16 = 10;
    /// TCP keepalive (RFC 7828).
    pub const TCP_KEEPALIVE: u16 = 11;
    /// Padding (RFC 7830).
    pub const PADDING: u16 = 12;
    /// Extended DNS Error (RFC 8914).
    pub const EDE: u16 = 15;
}

/// The size limit for a UDP reply to a client: the client's advertised payload (or 512 without
/// EDNS), at least 512, and at most our own maximum (itself clamped to [512, 4096]).
pub fn reply_payload_limit(client_payload: Option<u16>, our_max: u16) -> u16 {
    let ours = advertised_payload(our_max);
    client_payload
        .unwrap_or(MIN_PAYLOAD)
        .max(MIN_PAYLOAD)
        .min(ours)
}

/// The payload size to advertise for a configured value, clamped to [512, 4096]. Use
/// [`DEFAULT_PAYLOAD`] when nothing is configured.
pub fn advertised_payload(configured: u16) -> u16 {
    configured.clamp(MIN_PAYLOAD, MAX_PAYLOAD)
}

/// The EDNS(0) parameters carried by an OPT record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns<'a> {
    /// Requestor's UDP payload size (the OPT CLASS), as sent; see [`Edns::payload`].
    pub udp_payload: u16,
    /// Upper 8 bits of the 12-bit RCODE.
    pub ext_rcode: u8,
    /// EDNS version; only 0 exists.
    pub version: u8,
    /// DO: DNSSEC answers wanted (RFC 3225).
    pub dnssec_ok: bool,
    /// The other 15 flag bits (must be zero).
    pub z: u16,
    options: &'a [u8],
}

impl<'a> Edns<'a> {
    /// Reads the fields of an OPT record (None if `rr` is not OPT).
    pub fn from_record(rr: &Record<'a>) -> Option<Self> {
        if rr.rtype != rtype::OPT {
            return None;
        }
        let [ext_rcode, version, f1, f2] = rr.ttl.to_be_bytes();
        let flags = u16::from_be_bytes([f1, f2]);
        Some(Self {
            udp_payload: rr.class,
            ext_rcode,
            version,
            dnssec_ok: flags & 0x8000 != 0,
            z: flags & 0x7fff,
            options: rr.rdata(),
        })
    }

    /// The payload size with values below 512 read as 512 (RFC 6891 §6.2.3).
    pub fn payload(&self) -> u16 {
        self.udp_payload.max(MIN_PAYLOAD)
    }

    /// The options, in wire order.
    pub fn options(&self) -> EdnsOptions<'a> {
        EdnsOptions { data: self.options }
    }

    /// The first Extended DNS Error option, if any (None also if it is malformed).
    pub fn ede(&self) -> Option<Ede<'a>> {
        self.options()
            .find(|o| o.code == option::EDE)
            .and_then(|o| Ede::parse(o.data).ok())
    }

    /// The OPT TTL field for these values.
    pub fn ttl(&self) -> u32 {
        let flags = (u16::from(self.dnssec_ok) << 15) | (self.z & 0x7fff);
        u32::from_be_bytes([
            self.ext_rcode,
            self.version,
            (flags >> 8) as u8,
            flags as u8,
        ])
    }
}

/// One EDNS option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdnsOption<'a> {
    /// OPTION-CODE.
    pub code: u16,
    /// OPTION-DATA.
    pub data: &'a [u8],
}

/// Iterator over the options of an OPT RDATA (validated when the message was parsed).
#[derive(Clone, Debug)]
pub struct EdnsOptions<'a> {
    data: &'a [u8],
}

impl<'a> EdnsOptions<'a> {
    /// Validates `data` as a sequence of options that fills it exactly.
    pub fn new(data: &'a [u8]) -> Result<Self, WireError> {
        validate_options(data)?;
        Ok(Self { data })
    }

    fn next_checked(&mut self) -> Result<Option<EdnsOption<'a>>, WireError> {
        if self.data.is_empty() {
            return Ok(None);
        }
        let head = self.data.get(..4).ok_or(WireError::OptionTruncated)?;
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let data = self
            .data
            .get(4..4 + len)
            .ok_or(WireError::OptionTruncated)?;
        self.data = &self.data[4 + len..];
        Ok(Some(EdnsOption { code, data }))
    }
}

impl<'a> Iterator for EdnsOptions<'a> {
    type Item = EdnsOption<'a>;

    fn next(&mut self) -> Option<EdnsOption<'a>> {
        self.next_checked().ok().flatten()
    }
}

pub(crate) fn validate_options(data: &[u8]) -> Result<(), WireError> {
    let mut it = EdnsOptions { data };
    while it.next_checked()?.is_some() {}
    Ok(())
}

/// An Extended DNS Error (RFC 8914): an INFO-CODE and optional UTF-8 EXTRA-TEXT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ede<'a> {
    /// INFO-CODE (e.g. 3 Stale Answer, 18 Prohibited, 22 No Reachable Authority).
    pub info_code: u16,
    /// EXTRA-TEXT bytes (meant to be UTF-8, not NUL-terminated).
    pub extra_text: &'a [u8],
}

impl<'a> Ede<'a> {
    /// Other error.
    pub const OTHER: u16 = 0;
    /// Stale answer.
    pub const STALE_ANSWER: u16 = 3;
    /// Cached error.
    pub const CACHED_ERROR: u16 = 13;
    /// Prohibited.
    pub const PROHIBITED: u16 = 18;
    /// Stale NXDOMAIN answer.
    pub const STALE_NXDOMAIN: u16 = 19;
    /// Not authoritative.
    pub const NOT_AUTHORITATIVE: u16 = 20;
    /// Not supported.
    pub const NOT_SUPPORTED: u16 = 21;
    /// No reachable authority.
    pub const NO_REACHABLE_AUTHORITY: u16 = 22;
    /// Network error.
    pub const NETWORK_ERROR: u16 = 23;

    /// Parses EDE option data.
    pub fn parse(data: &'a [u8]) -> Result<Self, WireError> {
        let (code, extra_text) = data.split_at_checked(2).ok_or(WireError::EdeTooShort)?;
        Ok(Self {
            info_code: u16::from_be_bytes([code[0], code[1]]),
            extra_text,
        })
    }

    /// The extra text, if it is valid UTF-8.
    pub fn text(&self) -> Option<&'a str> {
        core::str::from_utf8(self.extra_text).ok()
    }

    /// Length of the option data ([`Ede::write_data`] output).
    pub fn data_len(&self) -> usize {
        2 + self.extra_text.len()
    }

    /// Writes the option data into `out`; returns the length written.
    pub fn write_data(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let out = out.get_mut(..self.data_len()).ok_or(WireError::NoSpace)?;
        out[..2].copy_from_slice(&self.info_code.to_be_bytes());
        out[2..].copy_from_slice(self.extra_text);
        Ok(out.len())
    }
}
