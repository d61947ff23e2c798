//! The message builder: appends a header, questions, records and an OPT record to an
//! [`OutBuf`], back-patching counts and RDLENGTH, with optional name compression and a size
//! limit past which it stops adding records and sets TC.

use super::edns::{Ede, option};
use super::message::{Flags, Header, Record};
use super::name::{Compressor, Name, encode_name};
use super::rdata::{RData, encode_from_message, validate};
use super::{HEADER_LEN, OutBuf, Section, WireError, rtype};

/// Largest DNS message (the TCP length prefix is 16 bits).
const MAX_MESSAGE: usize = 65535;

/// Builds one DNS message at the end of an [`OutBuf`].
///
/// Entries must be added in wire order: questions, then answer, authority and additional
/// records. When an entry does not fit in the size limit (or the buffer), nothing of it is
/// written, the builder stops accepting records and the call fails with
/// [`WireError::NoSpace`]; if that entry belonged to the question, answer or authority section
/// TC is set (RFC 2181 §9: dropped additional data does not set TC). [`MessageBuilder::mark`]
/// and [`MessageBuilder::rollback`] drop a partly written RRset as a whole. The OPT record may
/// still be added after truncation, and [`MessageBuilder::reserve`] keeps room for it.
#[derive(Debug)]
pub struct MessageBuilder<B: OutBuf> {
    out: B,
    base: usize,
    limit: usize,
    reserve: usize,
    section: Section,
    counts: [u16; 4],
    comp: Compressor,
    compress: bool,
    full: bool,
    ext_rcode: u8,
    /// Message-relative offset of the OPT record's TTL field.
    opt_ttl_at: Option<usize>,
}

/// A point to roll a [`MessageBuilder`] back to.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    len: usize,
    counts: [u16; 4],
    section: Section,
    opt_ttl_at: Option<usize>,
}

impl<B: OutBuf> MessageBuilder<B> {
    /// Starts a message at the current end of `out` with a zeroed header. The size limit is
    /// 65535 bytes and compression is on.
    pub fn new(mut out: B) -> Result<Self, WireError> {
        let base = out.filled().len();
        out.append(&[0; HEADER_LEN])?;
        Ok(Self {
            out,
            base,
            limit: MAX_MESSAGE,
            reserve: 0,
            section: Section::Question,
            counts: [0; 4],
            comp: Compressor::new(),
            compress: true,
            full: false,
            ext_rcode: 0,
            opt_ttl_at: None,
        })
    }

    /// Sets the size limit (clamped to [12, 65535]), e.g. the UDP payload negotiated with
    /// [`reply_payload_limit`](super::reply_payload_limit).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.clamp(HEADER_LEN, MAX_MESSAGE);
    }

    /// Turns name compression on or off for the names written from now on.
    pub fn set_compression(&mut self, on: bool) {
        self.compress = on;
    }

    /// Keeps `bytes` of the limit free for a later OPT record: records may not use them.
    pub fn reserve(&mut self, bytes: usize) {
        self.reserve = bytes;
    }

    /// The message length so far.
    pub fn len(&self) -> usize {
        self.out.filled().len() - self.base
    }

    /// Whether only the header is written.
    pub fn is_empty(&self) -> bool {
        self.len() == HEADER_LEN
    }

    /// Whether TC was set because an entry did not fit.
    pub fn is_truncated(&self) -> bool {
        self.header().tc()
    }

    /// The message bytes so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.out.filled().get(self.base..).unwrap_or_default()
    }

    /// The header as written so far.
    pub fn header(&self) -> Header {
        Header::parse(self.as_bytes()).unwrap_or(Header::from_bytes([0; HEADER_LEN]))
    }

    fn edit_header(&mut self, f: impl FnOnce(&mut Header)) {
        let mut h = self.header();
        f(&mut h);
        let base = self.base;
        if let Some(dst) = self.out.filled_mut().get_mut(base..base + HEADER_LEN) {
            dst.copy_from_slice(h.as_bytes());
        }
    }

    /// Sets the ID.
    pub fn set_id(&mut self, id: u16) {
        self.edit_header(|h| h.set_id(id));
    }

    /// Sets the flag bits (QR, AA, TC, RD, RA, AD, CD).
    pub fn set_flags(&mut self, flags: Flags) {
        self.edit_header(|h| h.set_flags(flags));
    }

    /// Sets the OPCODE.
    pub fn set_opcode(&mut self, op: u8) {
        self.edit_header(|h| h.set_opcode(op));
    }

    /// Sets the full 12-bit RCODE: the low 4 bits go in the header, the upper 8 in the OPT
    /// record (which [`MessageBuilder::finish`] then requires).
    pub fn set_rcode(&mut self, rcode: u16) {
        self.edit_header(|h| h.set_rcode((rcode & 0x0f) as u8));
        self.ext_rcode = (rcode >> 4) as u8;
        if let Some(at) = self.opt_ttl_at {
            let at = self.base + at;
            let ext = self.ext_rcode;
            if let Some(b) = self.out.filled_mut().get_mut(at) {
                *b = ext;
            }
        }
    }

    /// Appends a question.
    pub fn question(&mut self, name: &Name<'_>, qtype: u16, qclass: u16) -> Result<(), WireError> {
        if self.section != Section::Question {
            return Err(WireError::SectionOrder);
        }
        self.entry(Section::Question, |b, room| {
            let comp = b.compress.then_some(&mut b.comp);
            let n = encode_name(&mut b.out, b.base, room, name, comp)?;
            let mut tail = [0u8; 4];
            tail[..2].copy_from_slice(&qtype.to_be_bytes());
            tail[2..].copy_from_slice(&qclass.to_be_bytes());
            b.put(&tail, room - n)?;
            Ok(())
        })
    }

    /// Appends a record with typed RDATA. Names in RFC 1035 RDATA are compressed when
    /// compression is on; [`RData::Other`] bytes are checked against their type's layout.
    pub fn record(
        &mut self,
        section: Section,
        owner: &Name<'_>,
        class: u16,
        ttl: u32,
        rdata: &RData<'_>,
    ) -> Result<(), WireError> {
        let check = matches!(rdata, RData::Other { .. });
        self.rr(
            section,
            owner,
            (rdata.rtype(), class, ttl),
            check,
            |b, room| {
                let comp = b.compress.then_some(&mut b.comp);
                rdata.encode(&mut b.out, b.base, room, comp)
            },
        )
    }

    /// Appends a record whose RDATA is carried opaquely (RFC 3597). The RDATA must not contain
    /// compression pointers; it is checked against the layout of the types this codec knows.
    pub fn raw_record(
        &mut self,
        section: Section,
        owner: &Name<'_>,
        (rtype, class, ttl): (u16, u16, u32),
        rdata: &[u8],
    ) -> Result<(), WireError> {
        let rd = RData::Other { rtype, data: rdata };
        self.record(section, owner, class, ttl, &rd)
    }

    /// Copies a record parsed from another message, decompressing every name (owner and RDATA)
    /// and re-compressing against this message where allowed.
    pub fn copy_record(&mut self, section: Section, rr: &Record<'_>) -> Result<(), WireError> {
        let span = (rr.rdata_offset, rr.end());
        self.rr(
            section,
            &rr.name,
            (rr.rtype, rr.class, rr.ttl),
            false,
            |b, room| {
                let comp = b.compress.then_some(&mut b.comp);
                encode_from_message(
                    &mut b.out,
                    b.base,
                    room,
                    rr.message_bytes(),
                    rr.rtype,
                    span,
                    comp,
                )
            },
        )
    }

    /// Appends the OPT record (owner root, CLASS = `payload`, version 0) to the additional
    /// section; add options through the returned writer. It may use the reserved room and is
    /// accepted even after truncation.
    pub fn opt(&mut self, payload: u16, dnssec_ok: bool) -> Result<OptWriter<'_, B>, WireError> {
        if self.opt_ttl_at.is_some() {
            return Err(WireError::MultipleOpt);
        }
        if self.section > Section::Additional {
            return Err(WireError::SectionOrder);
        }
        if self.counts[Section::Additional.index()] == u16::MAX {
            return Err(WireError::CountOverflow);
        }
        self.reserve = 0;
        let start = self.len();
        let mut rec = [0u8; 11];
        rec[1..3].copy_from_slice(&rtype::OPT.to_be_bytes());
        rec[3..5].copy_from_slice(&payload.to_be_bytes());
        rec[5] = self.ext_rcode;
        rec[7] = if dnssec_ok { 0x80 } else { 0 };
        self.put(&rec, self.room())?;
        self.section = Section::Additional;
        self.opt_ttl_at = Some(start + 5);
        self.bump(Section::Additional);
        Ok(OptWriter {
            b: self,
            rdlen_at: start + 9,
        })
    }

    /// A point to return to with [`MessageBuilder::rollback`].
    pub fn mark(&self) -> Mark {
        Mark {
            len: self.len(),
            counts: self.counts,
            section: self.section,
            opt_ttl_at: self.opt_ttl_at,
        }
    }

    /// Removes everything added after `mark` (TC and the stop-adding state stay).
    pub fn rollback(&mut self, mark: Mark) {
        self.out.truncate(self.base + mark.len);
        self.comp.forget_from(mark.len);
        self.counts = mark.counts;
        self.section = mark.section;
        self.opt_ttl_at = mark.opt_ttl_at;
        let counts = self.counts;
        self.edit_header(|h| {
            for s in Section::ALL {
                h.set_count(s, counts[s.index()]);
            }
        });
    }

    /// Ends the message; returns its length. Fails if an extended RCODE was set without OPT.
    pub fn finish(self) -> Result<usize, WireError> {
        if self.ext_rcode != 0 && self.opt_ttl_at.is_none() {
            return Err(WireError::ExtendedRcodeWithoutOpt);
        }
        Ok(self.len())
    }

    /// Bytes still available for records.
    fn room(&self) -> usize {
        self.limit.saturating_sub(self.len())
    }

    fn put(&mut self, bytes: &[u8], room: usize) -> Result<(), WireError> {
        if bytes.len() > room {
            return Err(WireError::NoSpace);
        }
        self.out.append(bytes)
    }

    fn bump(&mut self, section: Section) {
        self.counts[section.index()] += 1;
        let n = self.counts[section.index()];
        self.edit_header(|h| h.set_count(section, n));
    }

    /// Writes one entry through `write`; on failure removes what it wrote and, for lack of
    /// space, enters the truncated state.
    fn entry(
        &mut self,
        section: Section,
        write: impl FnOnce(&mut Self, usize) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        if section < self.section {
            return Err(WireError::SectionOrder);
        }
        if self.full {
            return Err(WireError::NoSpace);
        }
        if self.counts[section.index()] == u16::MAX {
            return Err(WireError::CountOverflow);
        }
        let start = self.len();
        let room = self.room().saturating_sub(self.reserve);
        match write(self, room) {
            Ok(()) => {
                self.section = section;
                self.bump(section);
                Ok(())
            }
            Err(e) => {
                self.opt_ttl_at = self.opt_ttl_at.filter(|&at| at < start);
                self.out.truncate(self.base + start);
                self.comp.forget_from(start);
                if e == WireError::NoSpace {
                    self.full = true;
                    if section != Section::Additional {
                        let flags = self.header().flags().with(Flags::TC);
                        self.set_flags(flags);
                    }
                }
                Err(e)
            }
        }
    }

    fn rr(
        &mut self,
        section: Section,
        owner: &Name<'_>,
        (ty, class, ttl): (u16, u16, u32),
        check: bool,
        rdata: impl FnOnce(&mut Self, usize) -> Result<usize, WireError>,
    ) -> Result<(), WireError> {
        if section == Section::Question {
            return Err(WireError::SectionOrder);
        }
        let is_opt = ty == rtype::OPT;
        if is_opt {
            // The same rules the parser enforces (RFC 6891 §6.1.1).
            if section != Section::Additional {
                return Err(WireError::OptNotInAdditional);
            }
            if self.opt_ttl_at.is_some() {
                return Err(WireError::MultipleOpt);
            }
            if !owner.is_root() {
                return Err(WireError::OptOwnerNotRoot);
            }
        }
        self.entry(section, |b, room| {
            let comp = b.compress.then_some(&mut b.comp);
            let n = encode_name(&mut b.out, b.base, room, owner, comp)?;
            if is_opt {
                b.opt_ttl_at = Some(b.len() + 4);
            }
            let mut fixed = [0u8; 10];
            fixed[..2].copy_from_slice(&ty.to_be_bytes());
            fixed[2..4].copy_from_slice(&class.to_be_bytes());
            fixed[4..8].copy_from_slice(&ttl.to_be_bytes());
            b.put(&fixed, room - n)?;
            let rd_start = b.len();
            let rdlen = rdata(b, room - n - 10)?;
            let rdlen16 = u16::try_from(rdlen).map_err(|_| WireError::NoSpace)?;
            let at = b.base + rd_start - 2;
            if let Some(dst) = b.out.filled_mut().get_mut(at..at + 2) {
                dst.copy_from_slice(&rdlen16.to_be_bytes());
            }
            if check {
                validate(b.as_bytes(), ty, class, rd_start, rd_start + rdlen)?;
            }
            Ok(())
        })
    }
}

/// Adds options to the OPT record just written, back-patching its RDLENGTH.
#[derive(Debug)]
pub struct OptWriter<'b, B: OutBuf> {
    b: &'b mut MessageBuilder<B>,
    rdlen_at: usize,
}

impl<B: OutBuf> OptWriter<'_, B> {
    /// Appends an option. Fails with [`WireError::NoSpace`] (writing nothing) past the limit.
    pub fn option(&mut self, code: u16, data: &[u8]) -> Result<&mut Self, WireError> {
        self.parts(code, &[data])
    }

    /// Appends an Extended DNS Error option (RFC 8914).
    pub fn ede(&mut self, ede: &Ede<'_>) -> Result<&mut Self, WireError> {
        self.parts(option::EDE, &[&ede.info_code.to_be_bytes(), ede.extra_text])
    }

    /// Sets the EDNS version (0 unless answering BADVERS tests).
    pub fn set_version(&mut self, version: u8) -> &mut Self {
        if let Some(at) = self.b.opt_ttl_at {
            let at = self.b.base + at + 1;
            if let Some(v) = self.b.out.filled_mut().get_mut(at) {
                *v = version;
            }
        }
        self
    }

    fn parts(&mut self, code: u16, parts: &[&[u8]]) -> Result<&mut Self, WireError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let at = self.b.base + self.rdlen_at;
        let old = self
            .b
            .out
            .filled()
            .get(at..at + 2)
            .map_or(0, |r| usize::from(u16::from_be_bytes([r[0], r[1]])));
        let new = u16::try_from(old + 4 + len).map_err(|_| WireError::NoSpace)?;
        let len16 = u16::try_from(len).map_err(|_| WireError::NoSpace)?;
        if 4 + len > self.b.room() {
            return Err(WireError::NoSpace);
        }
        let start = self.b.out.filled().len();
        let mut head = [0u8; 4];
        head[..2].copy_from_slice(&code.to_be_bytes());
        head[2..].copy_from_slice(&len16.to_be_bytes());
        let res = [&head[..]]
            .iter()
            .chain(parts)
            .try_for_each(|p| self.b.out.append(p));
        if let Err(e) = res {
            self.b.out.truncate(start);
            return Err(e);
        }
        if let Some(dst) = self.b.out.filled_mut().get_mut(at..at + 2) {
            dst.copy_from_slice(&new.to_be_bytes());
        }
        Ok(self)
    }
}
