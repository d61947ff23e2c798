//! The ISCCC wire format: a 4-byte length, a 4-byte version (1), then a table ("alist") of
//! `{key length (1), key, type (1), value length (4), value}` elements. Values are strings
//! (type 0), binary data (type 1), nested tables (type 2) or lists (type 3).

use super::RndcError;

/// Largest frame accepted (the length prefix's value): BIND's control channel reads at most
/// 32 KiB per request.
pub const MAX_FRAME: usize = 32 * 1024;
/// Deepest nesting of tables and lists accepted.
pub const MAX_DEPTH: usize = 10;
/// The only protocol version.
pub const VERSION: u32 = 1;

const T_STRING: u8 = 0;
const T_BINARY: u8 = 1;
const T_TABLE: u8 = 2;
const T_LIST: u8 = 3;

/// One value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Type 0: text.
    String(Vec<u8>),
    /// Type 1: bytes (BIND emits every scalar, numbers included, as binary data).
    Binary(Vec<u8>),
    /// Type 2: an ordered table of keyed values.
    Table(Table),
    /// Type 3: a list.
    List(Vec<Self>),
}

impl Value {
    /// The bytes of a string or binary value.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Self::String(b) | Self::Binary(b) => Some(b),
            Self::Table(_) | Self::List(_) => None,
        }
    }

    /// A string or binary value as UTF-8 text.
    pub fn text(&self) -> Option<&str> {
        self.bytes().and_then(|b| core::str::from_utf8(b).ok())
    }

    /// A decimal unsigned 32-bit number (how ISCCC carries `_ser`, `_tim`, `_exp`, `_nonce`).
    pub fn uint32(&self) -> Option<u32> {
        self.text().and_then(|t| t.parse().ok())
    }

    /// The table, if this is one.
    pub fn table(&self) -> Option<&Table> {
        match self {
            Self::Table(t) => Some(t),
            _ => None,
        }
    }
}

/// An ordered table; keys are at most 255 bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table(pub Vec<(Vec<u8>, Value)>);

impl Table {
    /// The first value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(k, _)| k == key.as_bytes())
            .map(|(_, v)| v)
    }

    /// The nested table under `key`.
    pub fn table(&self, key: &str) -> Option<&Self> {
        self.get(key).and_then(Value::table)
    }

    /// Appends a binary value holding `text`.
    pub fn put_text(&mut self, key: &str, text: &str) {
        self.0.push((
            key.as_bytes().to_vec(),
            Value::Binary(text.as_bytes().to_vec()),
        ));
    }

    /// Appends a decimal number (as binary data, like BIND).
    pub fn put_u32(&mut self, key: &str, n: u32) {
        self.put_text(key, &n.to_string());
    }

    /// Appends a nested table.
    pub fn put_table(&mut self, key: &str, t: Self) {
        self.0.push((key.as_bytes().to_vec(), Value::Table(t)));
    }
}

/// The length of the first complete frame in `buf` (prefix included), `Ok(None)` when more
/// bytes are needed, an error when the announced length is out of bounds.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, RndcError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    if !(4..=MAX_FRAME).contains(&len) {
        return Err(RndcError::FrameLength(len));
    }
    Ok((buf.len() >= len + 4).then_some(len + 4))
}

/// A decoded message: the top-level table, and where the signed region starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The top-level table.
    pub table: Table,
    /// Byte range of the body (after length and version) that the HMAC covers: everything
    /// after a leading `_auth` element. `None` when the message does not start with `_auth`.
    pub signed: Option<core::ops::Range<usize>>,
}

/// Decodes one frame (length prefix included; exactly one frame, no trailing bytes).
pub fn decode(frame: &[u8]) -> Result<Decoded, RndcError> {
    let Some(len) = frame_len(frame)? else {
        return Err(RndcError::Truncated);
    };
    if len != frame.len() {
        return Err(RndcError::TrailingBytes);
    }
    let body = &frame[4..];
    let version = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
    if version != VERSION {
        return Err(RndcError::Version(version));
    }
    let mut r = Reader { buf: body, pos: 4 };
    let mut table = Table::default();
    let mut signed = None;
    while r.pos < body.len() {
        let (k, v) = r.element(1)?;
        if table.0.is_empty() && k == b"_auth" {
            signed = Some(r.pos..body.len());
        }
        table.0.push((k, v));
    }
    Ok(Decoded { table, signed })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RndcError> {
        let end = self.pos.checked_add(n).ok_or(RndcError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(RndcError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, RndcError> {
        Ok(self.take(1)?[0])
    }

    fn element(&mut self, depth: usize) -> Result<(Vec<u8>, Value), RndcError> {
        let klen = usize::from(self.u8()?);
        let key = self.take(klen)?.to_vec();
        let v = self.value(depth)?;
        Ok((key, v))
    }

    fn value(&mut self, depth: usize) -> Result<Value, RndcError> {
        let t = self.u8()?;
        let l = self.take(4)?;
        let len = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
        let data = self.take(len)?;
        let nested = |depth: usize| {
            if depth >= MAX_DEPTH {
                Err(RndcError::TooDeep)
            } else {
                Ok(Reader { buf: data, pos: 0 })
            }
        };
        Ok(match t {
            T_STRING => Value::String(data.to_vec()),
            T_BINARY => Value::Binary(data.to_vec()),
            T_TABLE => {
                let mut r = nested(depth)?;
                let mut t = Table::default();
                while r.pos < data.len() {
                    t.0.push(r.element(depth + 1)?);
                }
                Value::Table(t)
            }
            T_LIST => {
                let mut r = nested(depth)?;
                let mut l = Vec::new();
                while r.pos < data.len() {
                    l.push(r.value(depth + 1)?);
                }
                Value::List(l)
            }
            other => return Err(RndcError::ValueType(other)),
        })
    }
}

fn put_value(out: &mut Vec<u8>, v: &Value) -> Result<(), RndcError> {
    let start = out.len();
    out.extend_from_slice(&[0; 5]);
    let t = match v {
        Value::String(b) => {
            out.extend_from_slice(b);
            T_STRING
        }
        Value::Binary(b) => {
            out.extend_from_slice(b);
            T_BINARY
        }
        Value::Table(t) => {
            put_table(out, t)?;
            T_TABLE
        }
        Value::List(l) => {
            for v in l {
                put_value(out, v)?;
            }
            T_LIST
        }
    };
    let len = u32::try_from(out.len() - start - 5).map_err(|_| RndcError::TooLarge)?;
    out[start] = t;
    out[start + 1..start + 5].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Appends the elements of `t` (no surrounding type or length).
pub fn put_table(out: &mut Vec<u8>, t: &Table) -> Result<(), RndcError> {
    for (k, v) in &t.0 {
        let klen = u8::try_from(k.len()).map_err(|_| RndcError::KeyTooLong)?;
        out.push(klen);
        out.extend_from_slice(k);
        put_value(out, v)?;
    }
    Ok(())
}

/// Encodes `t` as one unsigned frame (length, version, elements).
pub fn encode(t: &Table) -> Result<Vec<u8>, RndcError> {
    let mut out = vec![0, 0, 0, 0];
    out.extend_from_slice(&VERSION.to_be_bytes());
    put_table(&mut out, t)?;
    finish(out)
}

/// Writes the length prefix of a frame built after 4 placeholder bytes.
pub(crate) fn finish(mut out: Vec<u8>) -> Result<Vec<u8>, RndcError> {
    let len = out.len() - 4;
    if len > MAX_FRAME {
        return Err(RndcError::TooLarge);
    }
    let len = u32::try_from(len).map_err(|_| RndcError::TooLarge)?;
    out[..4].copy_from_slice(&len.to_be_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_nested_values() {
        let mut inner = Table::default();
        inner.put_u32("_ser", 42);
        let mut t = Table::default();
        t.put_table("_ctrl", inner);
        t.0.push((
            b"l".to_vec(),
            Value::List(vec![Value::String(b"x".to_vec())]),
        ));
        let wire = encode(&t).unwrap();
        // length 4+ ... ; version 1; key "_ctrl"; type table.
        assert_eq!(&wire[4..8], &[0, 0, 0, 1]);
        assert_eq!(&wire[8..15], b"\x05_ctrl\x02");
        let d = decode(&wire).unwrap();
        assert_eq!(d.table, t);
        assert_eq!(d.signed, None);
        assert_eq!(
            d.table
                .table("_ctrl")
                .unwrap()
                .get("_ser")
                .unwrap()
                .uint32(),
            Some(42)
        );
    }

    #[test]
    fn exact_bytes_of_a_small_table() {
        let mut t = Table::default();
        t.put_text("a", "hi");
        let wire = encode(&t).unwrap();
        assert_eq!(
            wire,
            [0, 0, 0, 13, 0, 0, 0, 1, 1, b'a', 1, 0, 0, 0, 2, b'h', b'i']
        );
    }

    #[test]
    fn rejects_bad_frames() {
        assert_eq!(frame_len(&[0, 0]), Ok(None));
        assert_eq!(frame_len(&[0, 1, 0, 0]), Err(RndcError::FrameLength(65536)));
        assert_eq!(frame_len(&[0, 0, 0, 1]), Err(RndcError::FrameLength(1)));
        let mut t = Table::default();
        t.put_text("a", "hi");
        let mut wire = encode(&t).unwrap();
        wire[7] = 2;
        assert_eq!(decode(&wire), Err(RndcError::Version(2)));
        wire[7] = 1;
        wire[10] = 9;
        assert_eq!(decode(&wire), Err(RndcError::ValueType(9)));
        wire[10] = 1;
        wire[14] = 200;
        assert_eq!(decode(&wire), Err(RndcError::Truncated));
        wire[14] = 2;
        wire.push(0);
        assert_eq!(decode(&wire), Err(RndcError::TrailingBytes));
    }

    #[test]
    fn rejects_deep_nesting() {
        let mut v = Value::Table(Table::default());
        for _ in 0..MAX_DEPTH + 1 {
            v = Value::Table(Table(vec![(b"t".to_vec(), v)]));
        }
        let Value::Table(t) = v else { unreachable!() };
        let wire = encode(&t).unwrap();
        assert_eq!(decode(&wire), Err(RndcError::TooDeep));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x = 0x1234_5678_u32;
        for _ in 0..2000 {
            let mut buf = vec![0, 0, 0, 0, 0, 0, 0, 1];
            for _ in 0..(x % 40) {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                buf.push((x >> 16) as u8 % 8);
            }
            let len = u32::try_from(buf.len() - 4).unwrap();
            buf[..4].copy_from_slice(&len.to_be_bytes());
            let _ = decode(&buf);
        }
    }
}
