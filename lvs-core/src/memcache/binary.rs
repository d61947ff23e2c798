//! The binary protocol (deprecated since memcached 1.6.0, still auto-detected): a zero-copy
//! header view and an incremental packet parser.
//!
//! Panic contract: after [`Header::new_checked`] succeeds, no accessor panics.

use super::Parsed;
use super::limits::Limits;

/// Request magic byte.
pub const MAGIC_REQUEST: u8 = 0x80;
/// Response magic byte.
pub const MAGIC_RESPONSE: u8 = 0x81;
/// Header length.
pub const HEADER_LEN: usize = 24;

mod field {
    use core::ops::Range;
    pub(super) const MAGIC: usize = 0;
    pub(super) const OPCODE: usize = 1;
    pub(super) const KEY_LEN: Range<usize> = 2..4;
    pub(super) const EXTRAS_LEN: usize = 4;
    pub(super) const DATA_TYPE: usize = 5;
    pub(super) const VBUCKET_STATUS: Range<usize> = 6..8;
    pub(super) const TOTAL_BODY: Range<usize> = 8..12;
    pub(super) const OPAQUE: Range<usize> = 12..16;
    pub(super) const CAS: Range<usize> = 16..24;
}

/// Why a binary packet was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum BinaryError {
    /// Fewer than 24 bytes.
    #[error("truncated binary header")]
    Truncated,
    /// The magic byte is not the one expected.
    #[error("bad magic byte {0:#04x}")]
    BadMagic(u8),
    /// Extras plus key exceed the total body length.
    #[error("extras and key longer than the body")]
    BadLengths,
    /// The body exceeds the item size limit; the parser swallows it. `opcode` and `opaque`
    /// let a server answer with status 0x03 (value too large).
    #[error("body too large")]
    TooLarge {
        /// The request's opcode.
        opcode: u8,
        /// The request's opaque, to echo.
        opaque: u32,
    },
}

/// A zero-copy view of a 24-byte binary header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps `buffer` without checks; accessors may panic if it is shorter than 24 bytes.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps `buffer` after checking its length, magic byte and that extras plus key fit in
    /// the body.
    pub fn new_checked(buffer: T) -> Result<Self, BinaryError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(BinaryError::Truncated);
        }
        if b[0] != MAGIC_REQUEST && b[0] != MAGIC_RESPONSE {
            return Err(BinaryError::BadMagic(b[0]));
        }
        let h = Self::new_unchecked(buffer);
        if u32::from(h.key_len()) + u32::from(h.extras_len()) > h.total_body() {
            return Err(BinaryError::BadLengths);
        }
        Ok(h)
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.b()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn be32(&self, r: core::ops::Range<usize>) -> u32 {
        let b = &self.b()[r];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// 0x80 request, 0x81 response.
    pub fn magic(&self) -> u8 {
        self.b()[field::MAGIC]
    }
    /// The opcode.
    pub fn opcode(&self) -> u8 {
        self.b()[field::OPCODE]
    }
    /// Key length.
    pub fn key_len(&self) -> u16 {
        self.be16(field::KEY_LEN)
    }
    /// Extras length.
    pub fn extras_len(&self) -> u8 {
        self.b()[field::EXTRAS_LEN]
    }
    /// Data type (0 = raw bytes).
    pub fn data_type(&self) -> u8 {
        self.b()[field::DATA_TYPE]
    }
    /// vbucket id (requests) or status (responses).
    pub fn vbucket_or_status(&self) -> u16 {
        self.be16(field::VBUCKET_STATUS)
    }
    /// Extras + key + value length.
    pub fn total_body(&self) -> u32 {
        self.be32(field::TOTAL_BODY)
    }
    /// Opaque, echoed in the response.
    pub fn opaque(&self) -> u32 {
        self.be32(field::OPAQUE)
    }
    /// CAS.
    pub fn cas(&self) -> u64 {
        let b = &self.b()[field::CAS];
        u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }
}

/// The header fields as plain values, to build packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HeaderRepr {
    /// 0x80 or 0x81.
    pub magic: u8,
    /// The opcode.
    pub opcode: u8,
    /// Key length.
    pub key_len: u16,
    /// Extras length.
    pub extras_len: u8,
    /// Data type.
    pub data_type: u8,
    /// vbucket (request) or status (response).
    pub vbucket_or_status: u16,
    /// Extras + key + value length.
    pub total_body: u32,
    /// Opaque.
    pub opaque: u32,
    /// CAS.
    pub cas: u64,
}

impl HeaderRepr {
    /// Reads a checked header.
    pub fn parse<T: AsRef<[u8]>>(h: &Header<T>) -> Self {
        Self {
            magic: h.magic(),
            opcode: h.opcode(),
            key_len: h.key_len(),
            extras_len: h.extras_len(),
            data_type: h.data_type(),
            vbucket_or_status: h.vbucket_or_status(),
            total_body: h.total_body(),
            opaque: h.opaque(),
            cas: h.cas(),
        }
    }

    /// The 24 header bytes.
    pub fn emit(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[field::MAGIC] = self.magic;
        b[field::OPCODE] = self.opcode;
        b[field::KEY_LEN].copy_from_slice(&self.key_len.to_be_bytes());
        b[field::EXTRAS_LEN] = self.extras_len;
        b[field::DATA_TYPE] = self.data_type;
        b[field::VBUCKET_STATUS].copy_from_slice(&self.vbucket_or_status.to_be_bytes());
        b[field::TOTAL_BODY].copy_from_slice(&self.total_body.to_be_bytes());
        b[field::OPAQUE].copy_from_slice(&self.opaque.to_be_bytes());
        b[field::CAS].copy_from_slice(&self.cas.to_be_bytes());
        b
    }
}

/// A complete binary packet, borrowing the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The header.
    pub header: Header<&'a [u8]>,
    /// Extras.
    pub extras: &'a [u8],
    /// Key.
    pub key: &'a [u8],
    /// Value.
    pub value: &'a [u8],
}

/// Between-call state of the binary parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BinaryState {
    limits: Limits,
    magic: u8,
    skip: usize,
}

impl BinaryState {
    /// A parser for requests (magic 0x80).
    pub const fn requests(limits: Limits) -> Self {
        Self {
            limits,
            magic: MAGIC_REQUEST,
            skip: 0,
        }
    }

    /// A parser for responses (magic 0x81).
    pub const fn responses(limits: Limits) -> Self {
        Self {
            limits,
            magic: MAGIC_RESPONSE,
            skip: 0,
        }
    }
}

/// Parses the next binary packet, with the contract of [`parse`](super::request::parse).
/// A body over the limit is reported once as [`BinaryError::TooLarge`] (consuming the header)
/// and then swallowed through `Skipped`; a bad magic or bad lengths report `consumed: 0`:
/// close the connection.
pub fn parse_binary<'a>(buf: &'a [u8], st: &mut BinaryState) -> Parsed<Packet<'a>, BinaryError> {
    if st.skip > 0 {
        if buf.is_empty() {
            return Parsed::Incomplete;
        }
        let n = st.skip.min(buf.len());
        st.skip -= n;
        return Parsed::Skipped { consumed: n };
    }
    if buf.len() < HEADER_LEN {
        return Parsed::Incomplete;
    }
    let header = match Header::new_checked(&buf[..HEADER_LEN]) {
        Ok(h) if h.magic() == st.magic => h,
        Ok(h) => {
            return Parsed::Invalid {
                error: BinaryError::BadMagic(h.magic()),
                consumed: 0,
            };
        }
        Err(error) => return Parsed::Invalid { error, consumed: 0 },
    };
    let body = header.total_body() as usize;
    if body > st.limits.item_size_max {
        st.skip = body;
        return Parsed::Invalid {
            error: BinaryError::TooLarge {
                opcode: header.opcode(),
                opaque: header.opaque(),
            },
            consumed: HEADER_LEN,
        };
    }
    let end = HEADER_LEN + body;
    if buf.len() < end {
        return Parsed::Incomplete;
    }
    let e = HEADER_LEN + usize::from(header.extras_len());
    let k = e + usize::from(header.key_len());
    Parsed::Complete {
        value: Packet {
            header,
            extras: &buf[HEADER_LEN..e],
            key: &buf[e..k],
            value: &buf[k..end],
        },
        consumed: end,
    }
}
