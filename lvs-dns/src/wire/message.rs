//! The zero-copy message view: [`Header`], [`Message`], [`Question`], [`Record`].

use core::ops::Range;

use super::edns::Edns;
use super::name::Name;
use super::rdata::{RData, validate};
use super::{HEADER_LEN, Section, WireError, rtype};

/// Smallest possible question: the root name plus QTYPE and QCLASS.
const MIN_QUESTION: usize = 5;
/// Smallest possible record: the root name plus TYPE, CLASS, TTL and RDLENGTH.
const MIN_RECORD: usize = 11;

/// The header flag bits (the second 16-bit word without OPCODE and RCODE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u16);

impl Flags {
    /// QR: this is a response.
    pub const QR: Self = Self(0x8000);
    /// AA: authoritative answer.
    pub const AA: Self = Self(0x0400);
    /// TC: truncated.
    pub const TC: Self = Self(0x0200);
    /// RD: recursion desired.
    pub const RD: Self = Self(0x0100);
    /// RA: recursion available.
    pub const RA: Self = Self(0x0080);
    /// Z: reserved, must be zero.
    pub const Z: Self = Self(0x0040);
    /// AD: authentic data (RFC 4035).
    pub const AD: Self = Self(0x0020);
    /// CD: checking disabled (RFC 4035).
    pub const CD: Self = Self(0x0010);
    /// Every flag bit.
    pub const ALL: Self = Self(0x87f0);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of both sets.
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// This set without `other`'s bits.
    #[must_use]
    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }
}

/// The 12-byte header, copied out of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    bytes: [u8; HEADER_LEN],
}

impl Header {
    /// Reads the header at the start of `buf`. Needs only the first 12 bytes, so a server can
    /// still answer FORMERR with the right ID when the rest fails to parse.
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let bytes = buf
            .get(..HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(WireError::ShortHeader)?;
        Ok(Self { bytes })
    }

    /// A header from its 12 wire bytes.
    pub const fn from_bytes(bytes: [u8; HEADER_LEN]) -> Self {
        Self { bytes }
    }

    /// The wire bytes.
    pub const fn as_bytes(&self) -> &[u8; HEADER_LEN] {
        &self.bytes
    }

    fn word(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.bytes[at], self.bytes[at + 1]])
    }

    /// The message ID.
    pub fn id(&self) -> u16 {
        self.word(0)
    }

    /// The flag bits (QR, AA, TC, RD, RA, Z, AD, CD).
    pub fn flags(&self) -> Flags {
        Flags(self.word(2) & Flags::ALL.0)
    }

    /// QR: response (true) or query.
    pub fn qr(&self) -> bool {
        self.flags().contains(Flags::QR)
    }

    /// The 4-bit OPCODE.
    pub fn opcode(&self) -> u8 {
        (self.bytes[2] >> 3) & 0x0f
    }

    /// AA: authoritative answer.
    pub fn aa(&self) -> bool {
        self.flags().contains(Flags::AA)
    }

    /// TC: truncated.
    pub fn tc(&self) -> bool {
        self.flags().contains(Flags::TC)
    }

    /// RD: recursion desired.
    pub fn rd(&self) -> bool {
        self.flags().contains(Flags::RD)
    }

    /// RA: recursion available.
    pub fn ra(&self) -> bool {
        self.flags().contains(Flags::RA)
    }

    /// The reserved Z bit.
    pub fn z(&self) -> bool {
        self.flags().contains(Flags::Z)
    }

    /// AD: authentic data.
    pub fn ad(&self) -> bool {
        self.flags().contains(Flags::AD)
    }

    /// CD: checking disabled.
    pub fn cd(&self) -> bool {
        self.flags().contains(Flags::CD)
    }

    /// The low 4 bits of RCODE as carried in the header (see [`Message::rcode`] for the full
    /// 12-bit value with EDNS).
    pub fn rcode(&self) -> u8 {
        self.bytes[3] & 0x0f
    }

    /// The entry count of `section` (QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT).
    pub fn count(&self, section: Section) -> u16 {
        self.word(4 + 2 * section.index())
    }

    /// Sets the ID.
    pub fn set_id(&mut self, id: u16) {
        self.bytes[..2].copy_from_slice(&id.to_be_bytes());
    }

    /// Replaces the flag bits, keeping OPCODE and RCODE.
    pub fn set_flags(&mut self, flags: Flags) {
        let word = (self.word(2) & !Flags::ALL.0) | (flags.0 & Flags::ALL.0);
        self.bytes[2..4].copy_from_slice(&word.to_be_bytes());
    }

    /// Sets the OPCODE (low 4 bits of `op`).
    pub fn set_opcode(&mut self, op: u8) {
        self.bytes[2] = (self.bytes[2] & 0x87) | ((op & 0x0f) << 3);
    }

    /// Sets the header RCODE (low 4 bits of `rcode`).
    pub fn set_rcode(&mut self, rcode: u8) {
        self.bytes[3] = (self.bytes[3] & 0xf0) | (rcode & 0x0f);
    }

    /// Sets a section count.
    pub fn set_count(&mut self, section: Section, count: u16) {
        let at = 4 + 2 * section.index();
        self.bytes[at..at + 2].copy_from_slice(&count.to_be_bytes());
    }
}

/// A validated DNS message borrowing its buffer. Construction checks everything (see the
/// [module docs](super)); the accessors and iterators never fail afterwards.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    buf: &'a [u8],
    header: Header,
    /// Start offset of each section, then the end of the message.
    bounds: [usize; 5],
    /// Offset of the OPT record, if any.
    opt: Option<usize>,
}

impl<'a> Message<'a> {
    /// Parses and validates `buf` as one complete DNS message.
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let header = Header::parse(buf)?;
        // Each entry needs a minimum number of bytes; reject impossible counts before looping.
        let mut need = HEADER_LEN;
        for s in Section::ALL {
            let min = if s == Section::Question {
                MIN_QUESTION
            } else {
                MIN_RECORD
            };
            need += usize::from(header.count(s)) * min;
            if need > buf.len() {
                return Err(WireError::CountTooLarge(s));
            }
        }
        let mut bounds = [HEADER_LEN; 5];
        let mut pos = HEADER_LEN;
        for _ in 0..header.count(Section::Question) {
            pos = read_question(buf, pos)?.end;
        }
        let mut opt = None;
        for s in [Section::Answer, Section::Authority, Section::Additional] {
            bounds[s.index()] = pos;
            for _ in 0..header.count(s) {
                let rr = read_record(buf, pos, true)?;
                if rr.rtype == rtype::OPT {
                    if s != Section::Additional {
                        return Err(WireError::OptNotInAdditional);
                    }
                    if opt.is_some() {
                        return Err(WireError::MultipleOpt);
                    }
                    if !rr.name.is_root() {
                        return Err(WireError::OptOwnerNotRoot);
                    }
                    opt = Some(pos);
                }
                pos = rr.end();
            }
        }
        bounds[4] = pos;
        if pos != buf.len() {
            return Err(WireError::TrailingBytes);
        }
        Ok(Self {
            buf,
            header,
            bounds,
            opt,
        })
    }

    /// The whole message.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The message ID.
    pub fn id(&self) -> u16 {
        self.header.id()
    }

    /// The full RCODE: the header's 4 bits, extended by the OPT record's upper 8 bits.
    pub fn rcode(&self) -> u16 {
        let high = self.edns().map_or(0, |e| u16::from(e.ext_rcode));
        (high << 4) | u16::from(self.header.rcode())
    }

    /// Byte range of a section (the question section spans its questions).
    pub fn section_range(&self, section: Section) -> Range<usize> {
        let i = section.index();
        self.bounds[i]..self.bounds[i + 1]
    }

    /// The questions.
    pub fn questions(&self) -> Questions<'a> {
        Questions {
            buf: self.buf,
            pos: HEADER_LEN,
            left: self.header.count(Section::Question),
        }
    }

    /// The first question, if any (the usual QDCOUNT = 1 case).
    pub fn question(&self) -> Option<Question<'a>> {
        self.questions().next()
    }

    /// The records of an answer, authority or additional section (empty for
    /// [`Section::Question`]).
    pub fn records(&self, section: Section) -> Records<'a> {
        let left = match section {
            Section::Question => 0,
            s => self.header.count(s),
        };
        Records {
            buf: self.buf,
            pos: self.bounds[section.index()],
            left,
        }
    }

    /// The answer section.
    pub fn answers(&self) -> Records<'a> {
        self.records(Section::Answer)
    }

    /// The authority section.
    pub fn authority(&self) -> Records<'a> {
        self.records(Section::Authority)
    }

    /// The additional section (the OPT record included).
    pub fn additional(&self) -> Records<'a> {
        self.records(Section::Additional)
    }

    /// The OPT record, if present.
    pub fn opt(&self) -> Option<Record<'a>> {
        read_record(self.buf, self.opt?, false).ok()
    }

    /// The EDNS(0) parameters, if an OPT record is present.
    pub fn edns(&self) -> Option<Edns<'a>> {
        Edns::from_record(&self.opt()?)
    }
}

/// One question.
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    /// QNAME.
    pub name: Name<'a>,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
    /// Offset of the question's first byte.
    pub offset: usize,
    /// Offset just after the question.
    pub end: usize,
}

/// One resource record.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    msg: &'a [u8],
    /// Owner name.
    pub name: Name<'a>,
    /// TYPE.
    pub rtype: u16,
    /// CLASS (for OPT: the UDP payload size).
    pub class: u16,
    /// TTL (for OPT: extended RCODE, version and flags).
    pub ttl: u32,
    /// Offset of the record's first byte (its owner name).
    pub offset: usize,
    /// Offset of the 4-byte TTL field, for patching TTLs in a stored message.
    pub ttl_offset: usize,
    /// Offset of the RDATA (just after RDLENGTH).
    pub rdata_offset: usize,
    rdlen: u16,
}

impl<'a> Record<'a> {
    /// The raw RDATA. Names inside may be compressed, i.e. point elsewhere in the message.
    pub fn rdata(&self) -> &'a [u8] {
        self.msg
            .get(self.rdata_offset..self.end())
            .unwrap_or_default()
    }

    /// Offset just after the record.
    pub fn end(&self) -> usize {
        self.rdata_offset + usize::from(self.rdlen)
    }

    /// The message this record belongs to (what compressed RDATA names point into).
    pub fn message_bytes(&self) -> &'a [u8] {
        self.msg
    }

    /// The RDATA decoded by type.
    pub fn data(&self) -> RData<'a> {
        RData::decode(self.msg, self.rtype, self.rdata_offset, self.end())
    }

    /// Writes the RDATA with every name decompressed into `out` (a stable form for caching or
    /// comparing); returns the length written.
    pub fn write_rdata_uncompressed(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let mut w = super::SliceBuf::new(out);
        super::rdata::encode_from_message(
            &mut w,
            0,
            usize::MAX,
            self.msg,
            self.rtype,
            (self.rdata_offset, self.end()),
            None,
        )
    }
}

fn be16(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(buf.get(at..at + 2)?.try_into().ok()?))
}

fn read_question(buf: &[u8], pos: usize) -> Result<Question<'_>, WireError> {
    let (name, at) = Name::parse(buf, pos, buf.len())?;
    let (Some(qtype), Some(qclass)) = (be16(buf, at), be16(buf, at + 2)) else {
        return Err(WireError::QuestionTruncated);
    };
    Ok(Question {
        name,
        qtype,
        qclass,
        offset: pos,
        end: at + 4,
    })
}

/// Reads the record at `pos`; with `check`, also validates its RDATA for its type.
fn read_record(buf: &[u8], pos: usize, check: bool) -> Result<Record<'_>, WireError> {
    let (name, at) = Name::parse(buf, pos, buf.len())?;
    let fixed = buf.get(at..at + 10).ok_or(WireError::RecordTruncated)?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let class = u16::from_be_bytes([fixed[2], fixed[3]]);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]);
    let rdata_offset = at + 10;
    let end = rdata_offset + usize::from(rdlen);
    if end > buf.len() {
        return Err(WireError::RdataTruncated);
    }
    if check {
        validate(buf, rtype, class, rdata_offset, end)?;
    }
    Ok(Record {
        msg: buf,
        name,
        rtype,
        class,
        ttl,
        offset: pos,
        ttl_offset: at + 4,
        rdata_offset,
        rdlen,
    })
}

/// Iterator over a validated message's questions.
#[derive(Clone, Debug)]
pub struct Questions<'a> {
    buf: &'a [u8],
    pos: usize,
    left: u16,
}

impl<'a> Iterator for Questions<'a> {
    type Item = Question<'a>;

    fn next(&mut self) -> Option<Question<'a>> {
        self.left = self.left.checked_sub(1)?;
        let q = read_question(self.buf, self.pos).ok()?;
        self.pos = q.end;
        Some(q)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::from(self.left), Some(usize::from(self.left)))
    }
}

/// Iterator over one section of a validated message.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    buf: &'a [u8],
    pos: usize,
    left: u16,
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        self.left = self.left.checked_sub(1)?;
        let rr = read_record(self.buf, self.pos, false).ok()?;
        self.pos = rr.end();
        Some(rr)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::from(self.left), Some(usize::from(self.left)))
    }
}

impl core::ops::BitOr for Flags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        self.with(rhs)
    }
}
