//! Domain names: validated, lazily decoded views ([`Name`]), a small owned form for names
//! built from text ([`NameBuf`]), and the compressing name writer ([`Compressor`]).
//!
//! Decoding rules (RFC 1035 §4.1.4, RFC 9267):
//! * a length byte `00xxxxxx` is a label of at most 63 octets, `11xxxxxx` starts a 14-bit
//!   pointer, `01`/`10` are rejected;
//! * a pointer must target an offset strictly before the start of the run of labels that
//!   contains it (the name's first byte, or the previous pointer's target). Those starts then
//!   strictly decrease, so no loop can form; on top of that at most [`MAX_POINTER_HOPS`]
//!   pointers are followed, iteratively;
//! * a pointer into the 12-byte header is rejected;
//! * the decompressed wire length, counted as we go, is at most 255 octets.

use core::fmt;

use super::buf::OutBuf;
use super::{HEADER_LEN, WireError};

/// Longest label, in octets.
pub const MAX_LABEL_LEN: usize = 63;
/// Longest name in uncompressed wire form, length bytes and the root included.
pub const MAX_NAME_LEN: usize = 255;
/// Most compression pointers followed while decoding one name. A 255-octet name has at most
/// 127 labels and a sane compressor emits at most one pointer per name.
pub const MAX_POINTER_HOPS: usize = 127;
/// Most labels in a name (excluding the root).
pub const MAX_LABELS: usize = 127;

/// Whether pointers may appear: inside a message they may, in a standalone name they may not.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Message,
    Standalone,
}

/// A validated domain name inside a buffer: either a (possibly compressed) name in a DNS
/// message, or a standalone uncompressed wire-form name. Decoding is lazy: [`Name::labels`]
/// walks the buffer, following pointers, each time.
#[derive(Clone, Copy)]
pub struct Name<'a> {
    buf: &'a [u8],
    start: usize,
    wire_len: u8,
    labels: u8,
}

impl<'a> Name<'a> {
    /// The root name, `.`.
    pub const ROOT: Name<'static> = Name {
        buf: &[0],
        start: 0,
        wire_len: 1,
        labels: 0,
    };

    /// Validates the name starting at `start` in the DNS message `msg`. The in-place part (the
    /// bytes up to the root or the first pointer) must end at or before `limit`; pointer targets
    /// may be anywhere earlier in the message. Returns the name and the offset just after its
    /// in-place part.
    pub fn parse(msg: &'a [u8], start: usize, limit: usize) -> Result<(Self, usize), WireError> {
        scan(msg, start, limit.min(msg.len()), Context::Message)
    }

    /// Validates `wire` as exactly one uncompressed wire-form name (no pointers, nothing after
    /// the root label).
    pub fn from_wire(wire: &'a [u8]) -> Result<Self, WireError> {
        let (name, end) = scan(wire, 0, wire.len(), Context::Standalone)?;
        if end != wire.len() {
            return Err(WireError::TrailingBytes);
        }
        Ok(name)
    }

    /// The labels, first (leftmost) to last, without the root.
    pub fn labels(&self) -> Labels<'a> {
        Labels {
            buf: self.buf,
            pos: self.start,
            hops: 0,
        }
    }

    /// Uncompressed wire length: length bytes, label bytes and the root byte.
    pub fn wire_len(&self) -> usize {
        usize::from(self.wire_len)
    }

    /// Number of labels, not counting the root.
    pub fn label_count(&self) -> usize {
        usize::from(self.labels)
    }

    /// Whether this is the root name.
    pub fn is_root(&self) -> bool {
        self.labels == 0
    }

    /// Offset of the name's first byte in the buffer it was parsed from.
    pub fn offset(&self) -> usize {
        self.start
    }

    /// Equality as DNS defines it: ASCII letters compare case-insensitively (RFC 4343), every
    /// other byte exactly. Allocates nothing.
    pub fn eq_ignore_case(&self, other: &Name<'_>) -> bool {
        self.wire_len == other.wire_len
            && self.labels == other.labels
            && self
                .labels()
                .zip(other.labels())
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }

    /// Byte-exact equality, case included (what a 0x20-randomised question must match).
    pub fn eq_exact(&self, other: &Name<'_>) -> bool {
        self.wire_len == other.wire_len
            && self.labels == other.labels
            && self.labels().zip(other.labels()).all(|(a, b)| a == b)
    }

    /// Writes the uncompressed wire form into `out`; returns the length written.
    pub fn write_uncompressed(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.write_with(out, |b| b)
    }

    /// Writes the canonical form into `out`: uncompressed, ASCII letters lowercased, bytes
    /// from 0x80 up untouched (RFC 4034 §6.2). Returns the length written. A 255-byte buffer
    /// always suffices.
    pub fn write_canonical(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.write_with(out, |b| b.to_ascii_lowercase())
    }

    fn write_with(&self, out: &mut [u8], map: impl Fn(u8) -> u8) -> Result<usize, WireError> {
        let out = out.get_mut(..self.wire_len()).ok_or(WireError::NoSpace)?;
        let mut at = 0;
        for label in self.labels() {
            // The label count and wire length were validated, so this always fits.
            let Some(dst) = out.get_mut(at..=at + label.len()) else {
                return Err(WireError::NoSpace);
            };
            dst[0] = label.len() as u8;
            for (d, s) in dst[1..].iter_mut().zip(label) {
                *d = map(*s);
            }
            at += 1 + label.len();
        }
        *out.get_mut(at).ok_or(WireError::NoSpace)? = 0;
        Ok(at + 1)
    }
}

impl fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Presentation format: labels joined by dots with a trailing dot; `.`, `\` and bytes outside
/// printable ASCII are escaped (`\.`, `\\`, `\DDD`).
impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            for &b in label {
                match b {
                    b'.' | b'\\' => write!(f, "\\{}", char::from(b))?,
                    0x21..=0x7e => write!(f, "{}", char::from(b))?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

/// Iterator over a [`Name`]'s labels, following compression pointers.
#[derive(Clone, Debug)]
pub struct Labels<'a> {
    buf: &'a [u8],
    pos: usize,
    hops: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // The name was validated; the checks here only keep a misuse from looping or panicking.
        loop {
            let len = *self.buf.get(self.pos)?;
            match len & 0xc0 {
                0x00 if len == 0 => return None,
                0x00 => {
                    let label = self
                        .buf
                        .get(self.pos + 1..self.pos + 1 + usize::from(len))?;
                    self.pos += 1 + usize::from(len);
                    return Some(label);
                }
                0xc0 if self.hops < MAX_POINTER_HOPS => {
                    let lo = *self.buf.get(self.pos + 1)?;
                    self.pos = (usize::from(len & 0x3f) << 8) | usize::from(lo);
                    self.hops += 1;
                }
                _ => return None,
            }
        }
    }
}

/// The validating scan behind [`Name::parse`] and [`Name::from_wire`]: iterative, linear in
/// the decompressed length, bounded hops.
fn scan(
    buf: &[u8],
    start: usize,
    limit: usize,
    ctx: Context,
) -> Result<(Name<'_>, usize), WireError> {
    let mut pos = start;
    // Start of the current run of in-place labels; pointers must target strictly before it.
    let mut run_start = start;
    // Where the name ends in place: set at the first pointer, or at the root label.
    let mut end = None;
    let mut hops = 0;
    let mut wire_len = 1usize; // the root byte
    let mut labels = 0u8;
    loop {
        // Before the first pointer, bytes must lie before `limit`; after it, anywhere earlier.
        let bound = if end.is_none() { limit } else { buf.len() };
        let len = *buf
            .get(pos)
            .filter(|_| pos < bound)
            .ok_or(WireError::NameTruncated)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                let end = end.unwrap_or(pos + 1);
                let name = Name {
                    buf,
                    start,
                    wire_len: wire_len as u8,
                    labels,
                };
                return Ok((name, end));
            }
            0x00 => {
                let len = usize::from(len);
                if pos + 1 + len >= bound {
                    // The label, and at least the root byte after it, must fit.
                    return Err(WireError::NameTruncated);
                }
                wire_len += 1 + len;
                if wire_len > MAX_NAME_LEN {
                    return Err(WireError::NameTooLong);
                }
                labels += 1;
                pos += 1 + len;
            }
            0xc0 => {
                if ctx == Context::Standalone {
                    return Err(WireError::PointerNotAllowed);
                }
                let lo = *buf
                    .get(pos + 1)
                    .filter(|_| pos + 1 < bound)
                    .ok_or(WireError::NameTruncated)?;
                let target = (usize::from(len & 0x3f) << 8) | usize::from(lo);
                if target < HEADER_LEN {
                    return Err(WireError::PointerIntoHeader);
                }
                if target >= run_start {
                    return Err(WireError::PointerNotBackward);
                }
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return Err(WireError::TooManyPointers);
                }
                end.get_or_insert(pos + 2);
                run_start = target;
                pos = target;
            }
            _ => {
                // Lengths 64-191: top bits 01 or 10, the retired extended/binary label types
                // (a label of more than 63 octets cannot even be expressed).
                return Err(WireError::ReservedLabelType);
            }
        }
    }
}

/// A name built from text or copied out of a message, owned in a fixed 255-byte array (no heap).
#[derive(Clone)]
pub struct NameBuf {
    wire: [u8; MAX_NAME_LEN],
    len: u8,
}

impl NameBuf {
    /// Parses presentation format: `www.example.com`, with or without the trailing dot; `.` or
    /// the empty string is the root. Escapes `\X` and `\DDD` are understood.
    pub fn from_text(text: &str) -> Result<Self, WireError> {
        let mut wire = [0u8; MAX_NAME_LEN];
        let text = text.as_bytes();
        let text = if text == b"." { &[][..] } else { text };
        let mut at = 0usize; // where the current label's length byte goes
        let mut label_len = 0usize;
        let mut i = 0;
        let push = |wire: &mut [u8; MAX_NAME_LEN], at: usize, len: &mut usize, b: u8| {
            *len += 1;
            if *len > MAX_LABEL_LEN {
                return Err(WireError::LabelTooLong);
            }
            *wire.get_mut(at + *len).ok_or(WireError::NameTooLong)? = b;
            Ok(())
        };
        while i < text.len() {
            match text[i] {
                b'.' => {
                    if label_len == 0 {
                        return Err(WireError::NameText);
                    }
                    wire[at] = label_len as u8;
                    at += 1 + label_len;
                    label_len = 0;
                    i += 1;
                }
                b'\\' => {
                    let rest = &text[i + 1..];
                    let digits = rest
                        .iter()
                        .take(3)
                        .take_while(|d| d.is_ascii_digit())
                        .count();
                    let (b, used) = match (digits, rest.first()) {
                        (3, _) => {
                            let v = rest[..3]
                                .iter()
                                .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
                            (u8::try_from(v).map_err(|_| WireError::NameText)?, 3)
                        }
                        (0, Some(&c)) => (c, 1),
                        _ => return Err(WireError::NameText),
                    };
                    push(&mut wire, at, &mut label_len, b)?;
                    i += 1 + used;
                }
                b => {
                    push(&mut wire, at, &mut label_len, b)?;
                    i += 1;
                }
            }
        }
        if label_len > 0 {
            wire[at] = label_len as u8;
            at += 1 + label_len;
        }
        // The root byte.
        if at >= MAX_NAME_LEN {
            return Err(WireError::NameTooLong);
        }
        wire[at] = 0;
        Ok(Self {
            wire,
            len: (at + 1) as u8,
        })
    }

    /// Copies any name (for example one decoded from a message) into owned uncompressed form.
    pub fn from_name(name: &Name<'_>) -> Self {
        let mut wire = [0u8; MAX_NAME_LEN];
        // A validated name is at most 255 bytes, so this cannot fail; fall back to the root.
        let len = name.write_uncompressed(&mut wire).unwrap_or(1);
        Self {
            wire,
            len: len as u8,
        }
    }

    /// The uncompressed wire form.
    pub fn as_wire(&self) -> &[u8] {
        &self.wire[..usize::from(self.len)]
    }

    /// A [`Name`] view of this name.
    pub fn as_name(&self) -> Name<'_> {
        // Built by this module, so always valid; the root is the impossible fallback.
        Name::from_wire(self.as_wire()).unwrap_or(Name::ROOT)
    }
}

impl fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameBuf({})", self.as_name())
    }
}

impl PartialEq for NameBuf {
    /// Case-insensitive, as DNS names compare.
    fn eq(&self, other: &Self) -> bool {
        self.as_name().eq_ignore_case(&other.as_name())
    }
}

impl Eq for NameBuf {}

/// Entries in the compression table. Later names simply go uncompressed once it is full, which
/// keeps the cost per written name bounded (CVE-2023-4408 was a compressor gone quadratic).
pub const COMPRESSION_ENTRIES: usize = 32;

/// A fixed table of the offsets (from the message start) of name suffixes already written, used
/// to replace a repeated suffix by a pointer. Matching is byte-exact, so compression never
/// changes the case of what is written.
#[derive(Clone, Debug)]
pub struct Compressor {
    /// (offset in message, uncompressed wire length of the suffix there).
    entries: [(u16, u8); COMPRESSION_ENTRIES],
    len: usize,
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Compressor {
    /// An empty table.
    pub const fn new() -> Self {
        Self {
            entries: [(0, 0); COMPRESSION_ENTRIES],
            len: 0,
        }
    }

    /// Forgets every entry (for a new message).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends `name` to `out`, whose message starts at byte `msg_start` of it: the longest
    /// suffix already in the table becomes a pointer, and the suffixes written in full are
    /// remembered. Returns the bytes written. (Without compression use
    /// [`Name::write_uncompressed`].)
    pub fn write_name<B: OutBuf>(
        &mut self,
        out: &mut B,
        msg_start: usize,
        name: &Name<'_>,
    ) -> Result<usize, WireError> {
        encode_name(out, msg_start, usize::MAX, name, Some(self))
    }

    /// Forgets entries at or after message offset `offset` (after a rollback).
    pub(crate) fn forget_from(&mut self, offset: usize) {
        while self.len > 0 && usize::from(self.entries[self.len - 1].0) >= offset {
            self.len -= 1;
        }
    }

    fn find(&self, msg: &[u8], suffix: Labels<'_>, wire_len: usize) -> Option<u16> {
        self.entries[..self.len]
            .iter()
            .filter(|(_, l)| usize::from(*l) == wire_len)
            .find(|(off, _)| {
                let there = Labels {
                    buf: msg,
                    pos: usize::from(*off),
                    hops: 0,
                };
                labels_eq_exact(there, suffix.clone())
            })
            .map(|(off, _)| *off)
    }

    fn remember(&mut self, offset: usize, wire_len: usize) {
        if self.len < COMPRESSION_ENTRIES && offset < 0x4000 {
            self.entries[self.len] = (offset as u16, wire_len as u8);
            self.len += 1;
        }
    }
}

fn labels_eq_exact(a: Labels<'_>, mut b: Labels<'_>) -> bool {
    for la in a {
        if b.next() != Some(la) {
            return false;
        }
    }
    b.next().is_none()
}

/// Appends `name` to `out`, whose message starts at `base`, using at most `room` bytes. With a
/// compressor, the longest suffix already in its table becomes a pointer and the newly written
/// suffixes are remembered. Returns the bytes written.
pub(crate) fn encode_name<B: OutBuf>(
    out: &mut B,
    base: usize,
    room: usize,
    name: &Name<'_>,
    mut comp: Option<&mut Compressor>,
) -> Result<usize, WireError> {
    // Byte position (in the name's own buffer) of every label, and each suffix's wire length.
    let mut starts = [0usize; MAX_LABELS];
    let mut n = 0;
    let mut it = name.labels();
    loop {
        let here = resolve(name.buf, it.pos);
        let Some(_) = it.next() else { break };
        if n == MAX_LABELS {
            return Err(WireError::NameTooLong);
        }
        starts[n] = here;
        n += 1;
    }
    // Find the longest suffix already written.
    let mut keep = n;
    let mut pointer = None;
    if let Some(c) = comp.as_deref() {
        let msg = out.filled().get(base..).unwrap_or_default();
        let mut suffix_len = name.wire_len();
        for (i, &at) in starts[..n].iter().enumerate() {
            let suffix = Labels {
                buf: name.buf,
                pos: at,
                hops: 0,
            };
            if let Some(off) = c.find(msg, suffix, suffix_len) {
                keep = i;
                pointer = Some(off);
                break;
            }
            suffix_len -= 1 + usize::from(name.buf[at]);
        }
    }
    let in_place: usize = starts[..keep]
        .iter()
        .map(|&at| 1 + usize::from(name.buf[at]))
        .sum();
    let total = in_place + if pointer.is_some() { 2 } else { 1 };
    if total > room {
        return Err(WireError::NoSpace);
    }
    let first = out.filled().len() - base;
    let mut suffix_len = name.wire_len();
    for &at in &starts[..keep] {
        let len = usize::from(name.buf[at]);
        let offset = out.filled().len() - base;
        out.append(&name.buf[at..=at + len])?;
        if let Some(c) = comp.as_deref_mut() {
            c.remember(offset, suffix_len);
        }
        suffix_len -= 1 + len;
    }
    match pointer {
        Some(off) => out.append(&(0xc000 | off).to_be_bytes())?,
        None => out.append(&[0])?,
    }
    debug_assert_eq!(out.filled().len() - base - first, total);
    Ok(total)
}

/// Follows pointers from `pos` to the byte where the next label (or the root) really is.
fn resolve(buf: &[u8], mut pos: usize) -> usize {
    for _ in 0..=MAX_POINTER_HOPS {
        match (buf.get(pos), buf.get(pos + 1)) {
            (Some(&hi), Some(&lo)) if hi & 0xc0 == 0xc0 => {
                pos = (usize::from(hi & 0x3f) << 8) | usize::from(lo);
            }
            _ => return pos,
        }
    }
    pos
}
