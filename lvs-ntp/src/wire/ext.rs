//! Extension fields (RFC 7822) and the MAC trailer, and [`NtpMessage`], a whole datagram.
//!
//! After the 48-byte header come zero or more extension fields, then an optional MAC. The two
//! are told apart by length, as RFC 7822 prescribes: while more than [`MAX_MAC_LEN`] octets
//! remain, the next bytes are an extension field (type u16, length u16 counting the whole field,
//! value zero-padded to a multiple of 4, at least 16 octets); what remains is a MAC of 0, 4
//! (crypto-NAK), 20 (key ID + MD5) or 24 (key ID + SHA-1) octets. Without a MAC the last field
//! must be at least [`LAST_EXTENSION_MIN_LEN`] octets, so it cannot be mistaken for one.

use super::{HEADER_LEN, NtpPacket, NtpRepr, WireError};

/// Minimum length of an extension field (RFC 7822 §3).
pub const EXTENSION_MIN_LEN: usize = 16;
/// Minimum length of the last extension field when no MAC follows (RFC 7822 §7.5).
pub const LAST_EXTENSION_MIN_LEN: usize = 28;
/// The longest MAC (key ID + SHA-1 digest); a longer remainder is an extension field.
pub const MAX_MAC_LEN: usize = 24;
/// The most extension fields accepted in one packet (NTS requests carry a handful).
pub const MAX_EXTENSION_FIELDS: usize = 32;

const EF_HEADER_LEN: usize = 4;

/// One extension field, borrowed from the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExtensionField<'a> {
    /// The field type (e.g. 0x0104 NTS Unique Identifier).
    pub field_type: u16,
    /// The value including its zero padding (the length field counts the padded size).
    pub value: &'a [u8],
}

/// The validated extension fields of a packet: a borrowed byte range that iterates as
/// [`ExtensionField`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ExtensionFields<'a> {
    raw: &'a [u8],
    count: usize,
}

/// Splits the next extension field off `bytes`, validating its length.
fn split_field(bytes: &[u8]) -> Result<(ExtensionField<'_>, &[u8]), WireError> {
    let Some(&[t0, t1, l0, l1]) = bytes.get(..EF_HEADER_LEN) else {
        return Err(WireError::ExtensionOverrun);
    };
    let len = u16::from_be_bytes([l0, l1]);
    let n = usize::from(len);
    if n < EXTENSION_MIN_LEN || n % 4 != 0 {
        return Err(WireError::ExtensionLength(len));
    }
    let Some(value) = bytes.get(EF_HEADER_LEN..n) else {
        return Err(WireError::ExtensionOverrun);
    };
    let field = ExtensionField {
        field_type: u16::from_be_bytes([t0, t1]),
        value,
    };
    Ok((field, bytes.get(n..).unwrap_or_default()))
}

impl<'a> ExtensionFields<'a> {
    /// Validates `raw` as a sequence of whole extension fields (at most
    /// [`MAX_EXTENSION_FIELDS`]), e.g. after writing them with [`emit_extension`].
    pub fn new(raw: &'a [u8]) -> Result<Self, WireError> {
        let mut rest = raw;
        let mut count = 0;
        while !rest.is_empty() {
            if count == MAX_EXTENSION_FIELDS {
                return Err(WireError::TooManyExtensions);
            }
            rest = split_field(rest)?.1;
            count += 1;
        }
        Ok(Self { raw, count })
    }

    /// The raw bytes of all fields.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// Number of fields.
    pub const fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no fields.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Iterates over the fields.
    pub const fn iter(&self) -> ExtensionIter<'a> {
        ExtensionIter { rest: self.raw }
    }

    /// The first field of type `field_type`.
    pub fn find(&self, field_type: u16) -> Option<ExtensionField<'a>> {
        self.iter().find(|f| f.field_type == field_type)
    }

    /// Length of the last field, if any.
    fn last_len(&self) -> Option<usize> {
        self.iter().last().map(|f| f.value.len() + EF_HEADER_LEN)
    }
}

impl<'a> IntoIterator for ExtensionFields<'a> {
    type Item = ExtensionField<'a>;
    type IntoIter = ExtensionIter<'a>;
    fn into_iter(self) -> ExtensionIter<'a> {
        self.iter()
    }
}

/// Iterator over [`ExtensionFields`].
#[derive(Clone, Debug)]
pub struct ExtensionIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ExtensionIter<'a> {
    type Item = ExtensionField<'a>;
    fn next(&mut self) -> Option<ExtensionField<'a>> {
        // The bytes were validated at construction; an error here cannot happen, and would
        // end the iteration rather than panic.
        let (field, rest) = split_field(self.rest).ok()?;
        self.rest = rest;
        Some(field)
    }
}

/// Writes one extension field at the start of `out`: the header, `value`, then zero padding
/// up to a multiple of 4 and at least [`EXTENSION_MIN_LEN`] octets. To end a packet without a
/// MAC, pad the last value so the field reaches [`LAST_EXTENSION_MIN_LEN`]. Returns the field
/// length.
pub fn emit_extension(field_type: u16, value: &[u8], out: &mut [u8]) -> Result<usize, WireError> {
    let len = (EF_HEADER_LEN + value.len())
        .next_multiple_of(4)
        .max(EXTENSION_MIN_LEN);
    let Ok(len16) = u16::try_from(len) else {
        return Err(WireError::ValueTooLong);
    };
    let Some(dst) = out.get_mut(..len) else {
        return Err(WireError::BufferTooSmall);
    };
    dst[..2].copy_from_slice(&field_type.to_be_bytes());
    dst[2..4].copy_from_slice(&len16.to_be_bytes());
    let (v, pad) = dst[EF_HEADER_LEN..].split_at_mut(value.len());
    v.copy_from_slice(value);
    pad.fill(0);
    Ok(len)
}

/// The MAC trailer of an authenticated (or refused) packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mac<'a> {
    /// A 4-byte MAC whose key ID is zero: the server could not authenticate the request.
    CryptoNak,
    /// A key ID and a digest of 16 (MD5) or 20 (SHA-1) octets.
    Digest {
        /// The symmetric key identifier.
        key_id: u32,
        /// The digest, borrowed from the packet.
        digest: &'a [u8],
    },
}

impl<'a> Mac<'a> {
    /// Parses a MAC trailer of exactly 4, 20 or 24 octets.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        let Some((&[k0, k1, k2, k3], digest)) = bytes.split_first_chunk::<4>() else {
            return Err(WireError::MacLength(bytes.len() as u8));
        };
        let key_id = u32::from_be_bytes([k0, k1, k2, k3]);
        match digest.len() {
            0 if key_id == 0 => Ok(Self::CryptoNak),
            0 => Err(WireError::CryptoNak),
            16 | 20 => Ok(Self::Digest { key_id, digest }),
            _ => Err(WireError::MacLength(
                u8::try_from(bytes.len()).unwrap_or(u8::MAX),
            )),
        }
    }

    /// Length on the wire: 4 (crypto-NAK), 20 or 24.
    pub const fn wire_len(&self) -> usize {
        match self {
            Self::CryptoNak => 4,
            Self::Digest { digest, .. } => 4 + digest.len(),
        }
    }

    /// Whether this is the crypto-NAK.
    pub const fn is_crypto_nak(&self) -> bool {
        matches!(self, Self::CryptoNak)
    }

    /// Writes the MAC at the start of `out`; returns its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let (key_id, digest): (u32, &[u8]) = match *self {
            Self::CryptoNak => (0, &[]),
            Self::Digest { key_id, digest } => {
                if !matches!(digest.len(), 16 | 20) {
                    return Err(WireError::MacLength(
                        u8::try_from(digest.len().saturating_add(4)).unwrap_or(u8::MAX),
                    ));
                }
                (key_id, digest)
            }
        };
        let Some(dst) = out.get_mut(..4 + digest.len()) else {
            return Err(WireError::BufferTooSmall);
        };
        dst[..4].copy_from_slice(&key_id.to_be_bytes());
        dst[4..].copy_from_slice(digest);
        Ok(dst.len())
    }
}

/// A whole NTP datagram: the header, the extension fields and the optional MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NtpMessage<'a> {
    /// The header.
    pub header: NtpRepr,
    /// The extension fields (empty for most packets).
    pub extensions: ExtensionFields<'a>,
    /// The MAC trailer, if any.
    pub mac: Option<Mac<'a>>,
}

impl<'a> NtpMessage<'a> {
    /// A message with only a header.
    pub const fn new(header: NtpRepr) -> Self {
        Self {
            header,
            extensions: ExtensionFields { raw: &[], count: 0 },
            mac: None,
        }
    }

    /// Parses a datagram: header ([`NtpRepr::parse`]), extension fields and MAC.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        let packet = NtpPacket::new_checked(bytes)?;
        let header = NtpRepr::parse(&packet)?;
        let trailer = bytes.get(HEADER_LEN..).unwrap_or_default();
        let mut rest = trailer;
        let mut count = 0;
        while rest.len() > MAX_MAC_LEN {
            if count == MAX_EXTENSION_FIELDS {
                return Err(WireError::TooManyExtensions);
            }
            rest = split_field(rest)?.1;
            count += 1;
        }
        let raw = trailer
            .get(..trailer.len() - rest.len())
            .unwrap_or_default();
        let mac = if rest.is_empty() {
            None
        } else {
            Some(Mac::parse(rest)?)
        };
        Ok(Self {
            header,
            extensions: ExtensionFields { raw, count },
            mac,
        })
    }

    /// Length of the emitted datagram.
    pub const fn buffer_len(&self) -> usize {
        let mac = match &self.mac {
            Some(m) => m.wire_len(),
            None => 0,
        };
        HEADER_LEN + self.extensions.raw.len() + mac
    }

    /// Writes the datagram at the start of `out`; returns its length. Fails if `out` is too
    /// small, or if the message would not parse back the same (a MAC-less message whose last
    /// extension field is shorter than [`LAST_EXTENSION_MIN_LEN`], or a bad digest length).
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if self.mac.is_none()
            && self
                .extensions
                .last_len()
                .is_some_and(|n| n < LAST_EXTENSION_MIN_LEN)
        {
            return Err(WireError::LastExtensionTooShort);
        }
        let mut at = self.header.emit_into(out)?;
        let ext = self.extensions.raw;
        let Some(dst) = out.get_mut(at..at + ext.len()) else {
            return Err(WireError::BufferTooSmall);
        };
        dst.copy_from_slice(ext);
        at += ext.len();
        if let Some(mac) = &self.mac {
            at += mac.emit(out.get_mut(at..).unwrap_or_default())?;
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::NtpTimestamp;

    fn header() -> NtpRepr {
        NtpRepr::client_request(NtpTimestamp::from_bits(0x0123_4567_89ab_cdef), 6)
    }

    fn with_trailer(trailer: &[u8]) -> Vec<u8> {
        let mut v = vec![0; HEADER_LEN];
        header().emit_into(&mut v).unwrap();
        v.extend_from_slice(trailer);
        v
    }

    #[test]
    fn emit_extension_pads() {
        let mut buf = [0xffu8; 40];
        assert_eq!(emit_extension(0x0104, &[1, 2, 3], &mut buf), Ok(16));
        assert_eq!(&buf[..8], &[0x01, 0x04, 0, 16, 1, 2, 3, 0]);
        assert!(buf[8..16].iter().all(|&b| b == 0));
        assert_eq!(emit_extension(0x0204, &[7; 25], &mut buf), Ok(32));
        assert_eq!(
            emit_extension(1, &[0; 40], &mut buf),
            Err(WireError::BufferTooSmall)
        );
        let big = vec![0; 70_000];
        let mut out = vec![0; 70_010];
        assert_eq!(
            emit_extension(1, &big, &mut out),
            Err(WireError::ValueTooLong)
        );
    }

    #[test]
    fn ef_then_mac_and_ef_alone() {
        let mut t = [0u8; 64];
        let n = emit_extension(0x0104, &[9; 12], &mut t).unwrap();
        assert_eq!(n, 16);
        // 16-byte field + MD5 MAC.
        let mut trailer = t[..n].to_vec();
        trailer.extend_from_slice(&[0, 0, 0, 5]);
        trailer.extend_from_slice(&[0xaa; 16]);
        let bytes = with_trailer(&trailer);
        let m = NtpMessage::parse(&bytes).unwrap();
        assert_eq!(m.extensions.len(), 1);
        let f = m.extensions.iter().next().unwrap();
        assert_eq!((f.field_type, f.value), (0x0104, &[9u8; 12][..]));
        assert_eq!(
            m.mac,
            Some(Mac::Digest {
                key_id: 5,
                digest: &[0xaa; 16]
            })
        );
        // A lone 16-byte field is ambiguous with a MAC and is rejected.
        let bytes = with_trailer(&t[..16]);
        assert_eq!(NtpMessage::parse(&bytes), Err(WireError::MacLength(16)));
        // A lone 28-byte field is fine.
        let n = emit_extension(0xf323, &[1; 24], &mut t).unwrap();
        let bytes = with_trailer(&t[..n]);
        let m = NtpMessage::parse(&bytes).unwrap();
        assert_eq!(m.extensions.find(0xf323).unwrap().value, &[1; 24][..]);
        assert_eq!(m.mac, None);
    }

    #[test]
    fn macs() {
        let nak = with_trailer(&[0; 4]);
        assert_eq!(NtpMessage::parse(&nak).unwrap().mac, Some(Mac::CryptoNak));
        let bad = with_trailer(&[0, 0, 0, 1]);
        assert_eq!(NtpMessage::parse(&bad), Err(WireError::CryptoNak));
        let sha1 = with_trailer(&[[0, 0, 1, 0].as_slice(), &[7; 20]].concat());
        let m = NtpMessage::parse(&sha1).unwrap();
        assert_eq!(m.mac.unwrap().wire_len(), 24);
        for len in [1, 2, 3, 5, 8, 16, 19, 21, 23] {
            let b = with_trailer(&vec![0; len]);
            assert_eq!(
                NtpMessage::parse(&b),
                Err(WireError::MacLength(len as u8)),
                "{len}"
            );
        }
    }

    #[test]
    fn hostile_lengths() {
        let mut tr = vec![0u8; 40];
        // Length 0, 15, 18 (not a multiple of 4), 65532 (past the end).
        for (len, err) in [
            (0u16, WireError::ExtensionLength(0)),
            (15, WireError::ExtensionLength(15)),
            (18, WireError::ExtensionLength(18)),
            (65532, WireError::ExtensionOverrun),
            (44, WireError::ExtensionOverrun),
        ] {
            tr[2..4].copy_from_slice(&len.to_be_bytes());
            assert_eq!(NtpMessage::parse(&with_trailer(&tr)), Err(err), "{len}");
        }
        // Too many fields.
        let many: Vec<u8> = (0..=MAX_EXTENSION_FIELDS)
            .flat_map(|_| [0u8, 1, 0, 16].into_iter().chain([0; 12]))
            .collect();
        let b = with_trailer(&[many.as_slice(), &[0; 12]].concat());
        assert_eq!(NtpMessage::parse(&b), Err(WireError::TooManyExtensions));
        assert_eq!(
            ExtensionFields::new(&many),
            Err(WireError::TooManyExtensions)
        );
        assert_eq!(ExtensionFields::new(&many[..16 * 32]).unwrap().len(), 32);
    }

    #[test]
    fn emit_round_trip_and_refusals() {
        let mut efs = [0u8; 64];
        let n = emit_extension(0x0104, &[3; 32], &mut efs).unwrap();
        let ext = ExtensionFields::new(&efs[..n]).unwrap();
        let digest = [0x55; 20];
        let msg = NtpMessage {
            header: header(),
            extensions: ext,
            mac: Some(Mac::Digest {
                key_id: 9,
                digest: &digest,
            }),
        };
        let mut out = [0u8; 200];
        let len = msg.emit(&mut out).unwrap();
        assert_eq!(len, msg.buffer_len());
        assert_eq!(len, 48 + 36 + 24);
        assert_eq!(NtpMessage::parse(&out[..len]).unwrap(), msg);
        for short in 0..len {
            assert_eq!(msg.emit(&mut out[..short]), Err(WireError::BufferTooSmall));
        }
        // A short last field without a MAC would read back as a MAC.
        let n = emit_extension(1, &[], &mut efs).unwrap();
        let short = NtpMessage {
            extensions: ExtensionFields::new(&efs[..n]).unwrap(),
            ..NtpMessage::new(header())
        };
        assert_eq!(short.emit(&mut out), Err(WireError::LastExtensionTooShort));
        let odd = NtpMessage {
            mac: Some(Mac::Digest {
                key_id: 1,
                digest: &[0; 3],
            }),
            ..NtpMessage::new(header())
        };
        assert_eq!(odd.emit(&mut out), Err(WireError::MacLength(7)));
    }
}
