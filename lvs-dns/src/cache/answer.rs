//! Turning an upstream response into a stored answer: scrub to the question's chain, clamp the
//! TTLs, and re-encode once into a self-contained wire message with a TTL offset table.
//!
//! What survives (RFC 2181 §5.4.1 ranking: everything a forwarder hands us is at most
//! "non-authoritative answer data"):
//!
//! * answer-section records owned by the qname, or by a CNAME target reached from it through
//!   a chain of at most [`MAX_CHAIN`] CNAMEs, of the question's class;
//! * for a negative answer (NXDOMAIN, or NOERROR without data), the first SOA of the authority
//!   section whose owner is the last chain name or one of its ancestors (RFC 2308).
//!
//! Everything else (out-of-chain answers, authority NS, additional glue, DNAME, OPT) is
//! dropped and counted. The stored message has ID 0, the lowercased question, and compressed
//! owner names that point at the question, so patching the client's question case into it
//! also fixes the case of every owner that equals the qname.

use core::fmt;

use bytes::BytesMut;
use lvs_core::Instant;

use crate::wire::{
    Flags, HEADER_LEN, Message, MessageBuilder, Name, RData, Record, Section, WireError, rcode,
    rtype,
};

/// The longest CNAME chain followed (unbound `iter-scrub-cname`, BIND `max-query-restarts`).
pub const MAX_CHAIN: usize = 11;

/// Distinct record types whose TTLs are unified per RRset; past this (an ANY answer with very
/// many types) records keep their own clamped TTL, so the work stays linear.
const MAX_UNIFIED_TYPES: usize = 64;

/// TTL clamps applied when an answer is stored (seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TtlPolicy {
    /// Floor for positive TTLs (`min-cache-ttl`).
    pub min_ttl: u32,
    /// Ceiling for positive TTLs (`max-cache-ttl`).
    pub max_ttl: u32,
    /// Floor for negative TTLs (`min-ncache-ttl`).
    pub min_ncache_ttl: u32,
    /// Ceiling for negative TTLs (`max-ncache-ttl`).
    pub max_ncache_ttl: u32,
}

impl Default for TtlPolicy {
    /// BIND's defaults: no floors, one week positive, three hours negative.
    fn default() -> Self {
        Self {
            min_ttl: 0,
            max_ttl: 604_800,
            min_ncache_ttl: 0,
            max_ncache_ttl: 10_800,
        }
    }
}

/// What kind of answer a stored message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerKind {
    /// Records of the question's type (possibly after CNAMEs).
    Positive,
    /// NXDOMAIN for the last name of the chain.
    NxDomain,
    /// NOERROR without records of the question's type.
    NoData,
}

/// Why an upstream response cannot be used at all (the fetch then tries elsewhere or fails).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unusable {
    /// The CNAME chain is longer than [`MAX_CHAIN`] or loops.
    ChainTooLong,
    /// The response carries an RCODE other than NOERROR and NXDOMAIN.
    Rcode(u16),
    /// The scrubbed answer could not be re-encoded.
    Encode(WireError),
}

/// An answer in stored form: one heap block holding a complete DNS message, the offsets of
/// its TTL fields and the cache's per-entry bookkeeping, so a cached answer costs exactly one
/// allocation of [`cost`](Self::cost) bytes.
///
/// The message has ID 0, QR|RA, the lowercased question, the chain and the negative SOA; its
/// question (name, QTYPE, QCLASS) followed by the [partition](super::partition) byte is the
/// cache key, so the key is not stored a second time.
#[derive(Clone)]
pub struct StoredAnswer {
    /// `[meta: META_LEN bytes][message][TTL offsets: 2 bytes each, native order]`.
    block: Box<[u8]>,
}

// The block's metadata area. The cache owns the first four fields; scrubbing fills the rest.
/// When the entry was inserted (`Instant` nanoseconds).
const AT_INSERTED: usize = 0;
/// Until when refreshing is blocked (`Instant` nanoseconds).
const AT_BLOCKED: usize = 8;
/// The entry's lifetime in seconds (u32).
const AT_TTL: usize = 16;
/// The end of the question in the message (u16).
const AT_QEND: usize = 20;
/// The number of TTL offsets (u16).
const AT_NTTL: usize = 22;
/// The [`AnswerKind`] (u8).
const AT_KIND: usize = 24;
/// Flag bits (u8): [`FLAG_CACHEABLE`], [`FLAG_REFERENCED`].
const AT_FLAGS: usize = 25;
/// The key's partition byte.
const AT_PARTITION: usize = 26;
/// Bytes of metadata in front of the message.
pub(super) const META_LEN: usize = 27;

const FLAG_CACHEABLE: u8 = 1;
const FLAG_REFERENCED: u8 = 2;

impl StoredAnswer {
    /// Packs a scrubbed message into one exactly sized block.
    fn pack(
        msg: &[u8],
        ttl_offsets: &[u16],
        ttl: u32,
        kind: AnswerKind,
        cacheable: bool,
        question_end: u16,
    ) -> Result<Self, WireError> {
        let count = u16::try_from(ttl_offsets.len()).map_err(|_| WireError::NoSpace)?;
        if usize::from(question_end) > msg.len() || usize::from(question_end) < HEADER_LEN {
            return Err(WireError::NoSpace);
        }
        let mut block = Vec::with_capacity(META_LEN + msg.len() + 2 * ttl_offsets.len());
        block.resize(META_LEN, 0);
        block[AT_TTL..AT_TTL + 4].copy_from_slice(&ttl.to_ne_bytes());
        block[AT_QEND..AT_QEND + 2].copy_from_slice(&question_end.to_ne_bytes());
        block[AT_NTTL..AT_NTTL + 2].copy_from_slice(&count.to_ne_bytes());
        block[AT_KIND] = match kind {
            AnswerKind::Positive => 0,
            AnswerKind::NxDomain => 1,
            AnswerKind::NoData => 2,
        };
        block[AT_FLAGS] = if cacheable { FLAG_CACHEABLE } else { 0 };
        block.extend_from_slice(msg);
        for &at in ttl_offsets {
            block.extend_from_slice(&at.to_ne_bytes());
        }
        Ok(Self {
            block: block.into_boxed_slice(),
        })
    }

    fn u16_at(&self, at: usize) -> u16 {
        u16::from_ne_bytes([self.block[at], self.block[at + 1]])
    }

    fn u64_at(&self, at: usize) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.block[at..at + 8]);
        u64::from_ne_bytes(b)
    }

    fn set_u64(&mut self, at: usize, v: u64) {
        self.block[at..at + 8].copy_from_slice(&v.to_ne_bytes());
    }

    /// Where the TTL offset table starts in the block.
    fn table_start(&self) -> usize {
        self.block.len() - 2 * usize::from(self.u16_at(AT_NTTL))
    }

    /// The message: ID 0, QR|RA, the lowercased question, the chain, the negative SOA.
    pub fn msg(&self) -> &[u8] {
        &self.block[META_LEN..self.table_start()]
    }

    /// Offsets of every record's 4-byte TTL field in [`msg`](Self::msg).
    pub fn ttl_offsets(&self) -> impl ExactSizeIterator<Item = u16> + '_ {
        self.block[self.table_start()..]
            .chunks_exact(2)
            .map(|c| u16::from_ne_bytes([c[0], c[1]]))
    }

    /// The entry's lifetime in seconds: the smallest TTL it holds (0 = do not cache).
    pub fn ttl(&self) -> u32 {
        let b = &self.block[AT_TTL..AT_TTL + 4];
        u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Positive, NXDOMAIN or NODATA.
    pub fn kind(&self) -> AnswerKind {
        match self.block[AT_KIND] {
            0 => AnswerKind::Positive,
            1 => AnswerKind::NxDomain,
            _ => AnswerKind::NoData,
        }
    }

    /// Whether the answer may be cached (a negative answer needs an SOA, RFC 2308 §5).
    pub fn cacheable(&self) -> bool {
        self.block[AT_FLAGS] & FLAG_CACHEABLE != 0
    }

    /// End of the question in [`msg`](Self::msg).
    pub fn question_end(&self) -> u16 {
        self.u16_at(AT_QEND)
    }

    /// The question in wire form: the lowercased name, QTYPE and QCLASS. Followed by the
    /// partition byte, it is the cache key (see [`write_key`](super::write_key)).
    pub fn question(&self) -> &[u8] {
        let end = META_LEN + usize::from(self.question_end());
        &self.block[META_LEN + HEADER_LEN..end]
    }

    /// The bytes this answer occupies on the heap (one block: message, TTL offsets and the
    /// per-entry metadata); the cache charges this plus [`ENTRY_OVERHEAD`](super::ENTRY_OVERHEAD).
    pub fn cost(&self) -> usize {
        self.block.len()
    }

    /// Lowers the stored TTLs to the ceilings of `policy` (answer records to `max_ttl`, the
    /// negative SOA and other authority records to `max_ncache_ttl`) and recomputes
    /// [`ttl`](Self::ttl). Returns whether anything changed, or `None` when the answer can no
    /// longer be cached (its TTL became 0, or the stored message does not parse).
    pub fn reclamp(&mut self, policy: &TtlPolicy) -> Option<bool> {
        let msg = Message::parse(self.msg()).ok()?;
        let mut plan: Vec<(usize, u32)> = Vec::new();
        let mut min = u32::MAX;
        let ceilings = [
            (Section::Answer, policy.max_ttl),
            (Section::Authority, policy.max_ncache_ttl),
        ];
        for (section, ceiling) in ceilings {
            for rr in msg.records(section) {
                if rr.ttl > ceiling {
                    plan.push((rr.ttl_offset, ceiling));
                }
                min = min.min(rr.ttl.min(ceiling));
            }
        }
        if min == 0 || min == u32::MAX {
            return None;
        }
        if plan.is_empty() {
            return Some(false);
        }
        let end = self.table_start();
        let msg = self.block.get_mut(META_LEN..end)?;
        for (at, ttl) in plan {
            msg.get_mut(at..at + 4)?.copy_from_slice(&ttl.to_be_bytes());
        }
        self.block[AT_TTL..AT_TTL + 4].copy_from_slice(&min.to_ne_bytes());
        Some(true)
    }

    /// The RCODE stored in the message header.
    pub fn rcode(&self) -> u8 {
        self.msg().get(3).map_or(0, |b| b & 0x0f)
    }

    /// The key's partition byte (set by the cache when the answer is stored).
    pub(super) fn partition(&self) -> u8 {
        self.block[AT_PARTITION]
    }

    /// When the cache stored this answer.
    pub(super) fn inserted(&self) -> Instant {
        Instant::from_nanos(self.u64_at(AT_INSERTED))
    }

    /// Until when refreshing is blocked ([`Instant::ZERO`] when it never was).
    pub(super) fn refresh_blocked_until(&self) -> Instant {
        Instant::from_nanos(self.u64_at(AT_BLOCKED))
    }

    /// Whether a lookup found this entry since the CLOCK hand last passed.
    pub(super) fn referenced(&self) -> bool {
        self.block[AT_FLAGS] & FLAG_REFERENCED != 0
    }

    /// Resets the cache's bookkeeping for an insertion at `now` under `partition`.
    pub(super) fn admit(&mut self, partition: u8, now: Instant) {
        self.set_u64(AT_INSERTED, now.as_nanos());
        self.set_u64(AT_BLOCKED, 0);
        self.block[AT_PARTITION] = partition;
        self.block[AT_FLAGS] &= !FLAG_REFERENCED;
    }

    /// Sets the refresh block deadline.
    pub(super) fn set_refresh_blocked_until(&mut self, until: Instant) {
        self.set_u64(AT_BLOCKED, until.as_nanos());
    }

    /// Sets or clears the CLOCK reference bit (written only when it changes).
    pub(super) fn set_referenced(&mut self, on: bool) {
        if self.referenced() != on {
            self.block[AT_FLAGS] ^= FLAG_REFERENCED;
        }
    }
}

impl fmt::Debug for StoredAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredAnswer")
            .field("kind", &self.kind())
            .field("ttl", &self.ttl())
            .field("cacheable", &self.cacheable())
            .field("question_end", &self.question_end())
            .field("ttl_offsets", &self.ttl_offsets().collect::<Vec<_>>())
            .field("msg_len", &self.msg().len())
            .finish()
    }
}

/// The result of scrubbing: the stored answer and how many records were thrown away.
#[derive(Clone, Debug)]
pub struct Scrubbed {
    /// The answer to store and serve.
    pub answer: StoredAnswer,
    /// Records of the response that were not kept (out of chain, authority, additional).
    pub dropped: usize,
}

/// The question an upstream response is scrubbed for.
#[derive(Clone, Copy, Debug)]
pub struct Wanted<'a> {
    /// The qname, lowercased, in wire form.
    pub canonical: &'a [u8],
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
    /// Whether the query carried DO=1: keep the DNSSEC records (see [`scrub_for`]).
    pub dnssec_ok: bool,
}

/// Scrubs `reply` (already matched to our question `qname`/`qtype`/`qclass`) into a stored
/// answer for a client without DO. `canonical` is the lowercased wire form of the qname.
pub fn scrub(
    reply: &Message<'_>,
    canonical: &[u8],
    qtype: u16,
    qclass: u16,
    policy: &TtlPolicy,
) -> Result<Scrubbed, Unusable> {
    let want = Wanted {
        canonical,
        qtype,
        qclass,
        dnssec_ok: false,
    };
    scrub_for(reply, &want, policy)
}

/// Whether `t` is a DNSSEC record type that only DO=1 clients get unasked (RFC 4035 §3.2.1).
fn is_dnssec(t: u16) -> bool {
    matches!(t, rtype::RRSIG | rtype::NSEC | rtype::NSEC3)
}

/// Scrubs `reply` for `want`. Without DO, RRSIG, NSEC and NSEC3 records are dropped unless the
/// question asks for that type. With DO (DNSSEC pass-through, no validation) these are kept
/// as well:
///
/// * in the answer section, the RRSIGs owned by a chain name that cover the chain's CNAMEs
///   or the question's type;
/// * in the authority section, the NSEC/NSEC3 records and the RRSIGs over SOA, NSEC and NSEC3
///   that lie inside the zone: at or below the negative SOA's owner, or, for a positive
///   (wildcard) answer, at or below the signer of the answer's RRSIG.
pub fn scrub_for(
    reply: &Message<'_>,
    want: &Wanted<'_>,
    policy: &TtlPolicy,
) -> Result<Scrubbed, Unusable> {
    let (qtype, qclass, dnssec_ok) = (want.qtype, want.qclass, want.dnssec_ok);
    let rc = reply.rcode();
    if rc != rcode::NOERROR && rc != rcode::NXDOMAIN {
        return Err(Unusable::Rcode(rc));
    }
    let qname = reply
        .question()
        .map(|q| q.name)
        .ok_or(Unusable::Rcode(rc))?;
    let answers: Vec<Record<'_>> = reply.answers().collect();
    let mut chain: Vec<usize> = Vec::new();
    let mut current = qname;
    let mut links = 0;
    let mut positive = false;
    loop {
        let mut cname_target: Option<(usize, Name<'_>)> = None;
        let mut sigs: Vec<(usize, u16)> = Vec::new();
        let before = chain.len();
        for (i, rr) in answers.iter().enumerate() {
            if rr.class != qclass || !rr.name.eq_ignore_case(&current) {
                continue;
            }
            let wanted = rr.rtype == qtype
                || (qtype == rtype::ANY
                    && !matches!(rr.rtype, rtype::OPT | rtype::DNAME)
                    && (dnssec_ok || !is_dnssec(rr.rtype)));
            if wanted {
                chain.push(i);
            } else if rr.rtype == rtype::CNAME
                && cname_target.is_none()
                && let RData::Cname(target) = rr.data()
            {
                cname_target = Some((i, target));
            } else if dnssec_ok
                && rr.rtype == rtype::RRSIG
                && let Some(covered) = rrsig_covered(rr)
            {
                sigs.push((i, covered));
            }
        }
        let signed = |t: u16| sigs.iter().filter(move |s| s.1 == t).map(|s| s.0);
        if chain.len() > before {
            positive = true;
            chain.extend(signed(qtype));
            break;
        }
        let Some((i, target)) = cname_target else {
            break;
        };
        links += 1;
        if links > MAX_CHAIN {
            return Err(Unusable::ChainTooLong);
        }
        chain.push(i);
        chain.extend(signed(rtype::CNAME));
        current = target;
    }
    let kind = match (positive, rc) {
        (true, _) => AnswerKind::Positive,
        (false, rcode::NXDOMAIN) => AnswerKind::NxDomain,
        (false, _) => AnswerKind::NoData,
    };
    let soa = if positive {
        None
    } else {
        reply.authority().find(|rr| {
            rr.rtype == rtype::SOA && rr.class == qclass && is_at_or_below(&current, &rr.name)
        })
    };
    let mut proof: Vec<Record<'_>> = Vec::new();
    if dnssec_ok {
        let apex = match &soa {
            Some(s) => Some(s.name),
            None => chain
                .iter()
                .rev()
                .map(|&i| &answers[i])
                .find(|rr| rr.rtype == rtype::RRSIG)
                .and_then(rrsig_signer),
        };
        if let Some(apex) = apex {
            proof.extend(reply.authority().filter(|rr| {
                let kind_ok = match rr.rtype {
                    rtype::NSEC | rtype::NSEC3 => true,
                    rtype::RRSIG => rrsig_covered(rr)
                        .is_some_and(|c| matches!(c, rtype::SOA | rtype::NSEC | rtype::NSEC3)),
                    _ => false,
                };
                kind_ok && rr.class == qclass && is_at_or_below(&rr.name, &apex)
            }));
        }
    }
    let kept = chain.len() + usize::from(soa.is_some()) + proof.len();
    let total = answers.len()
        + usize::from(reply.header().count(Section::Authority))
        + reply
            .additional()
            .filter(|rr| rr.rtype != rtype::OPT)
            .count();
    let dropped = total.saturating_sub(kept);

    // Re-encode: lowercased question, chain records, SOA; names compressed against this message.
    let encode = |e: WireError| Unusable::Encode(e);
    let mut buf = BytesMut::with_capacity(reply.as_bytes().len() + 16);
    let qname_lc = Name::from_wire(want.canonical).map_err(encode)?;
    let mut b = MessageBuilder::new(&mut buf).map_err(encode)?;
    b.set_flags(Flags::QR | Flags::RA);
    b.set_rcode(if kind == AnswerKind::NxDomain {
        rcode::NXDOMAIN
    } else {
        rcode::NOERROR
    });
    b.question(&qname_lc, qtype, qclass).map_err(encode)?;
    for &i in &chain {
        b.copy_record(Section::Answer, &answers[i])
            .map_err(encode)?;
    }
    if let Some(soa) = &soa {
        b.copy_record(Section::Authority, soa).map_err(encode)?;
    }
    for rr in &proof {
        b.copy_record(Section::Authority, rr).map_err(encode)?;
    }
    b.finish().map_err(encode)?;

    let (ttl_offsets, ttl, question_end) = clamp_ttls(&mut buf, policy).map_err(encode)?;
    let cacheable = ttl > 0 && (kind == AnswerKind::Positive || soa.is_some());
    let answer = StoredAnswer::pack(&buf, &ttl_offsets, ttl, kind, cacheable, question_end)
        .map_err(encode)?;
    Ok(Scrubbed { answer, dropped })
}

/// The type an RRSIG covers (the first two bytes of its RDATA).
fn rrsig_covered(rr: &Record<'_>) -> Option<u16> {
    match rr.data() {
        RData::Other { data, .. } => data.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])),
        _ => None,
    }
}

/// The signer's name of an RRSIG (uncompressed, at RDATA offset 18, RFC 4034 §3.1).
fn rrsig_signer<'a>(rr: &Record<'a>) -> Option<Name<'a>> {
    let RData::Other { data, .. } = rr.data() else {
        return None;
    };
    let mut i = 18;
    loop {
        let len = usize::from(*data.get(i)?);
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        i += 1 + len;
    }
    Name::from_wire(data.get(18..=i)?).ok()
}

/// Rewrites the TTLs of the freshly built message `buf`: positive records clamped and unified
/// per RRset type, the negative SOA set to min(SOA TTL, MINIMUM) and clamped. Returns the TTL
/// offsets, the smallest TTL, and the end of the question.
fn clamp_ttls(buf: &mut BytesMut, p: &TtlPolicy) -> Result<(Vec<u16>, u32, u16), WireError> {
    let mut plan: Vec<(usize, u32)> = Vec::new();
    let mut per_type: Vec<(u16, u32)> = Vec::new();
    let question_end;
    {
        let msg = Message::parse(buf)?;
        question_end = msg.question().map_or(HEADER_LEN, |q| q.end);
        for rr in msg.answers() {
            let ttl = rr.ttl.clamp(p.min_ttl, p.max_ttl.max(p.min_ttl));
            plan.push((rr.ttl_offset, ttl));
            if !matches!(rr.rtype, rtype::CNAME | rtype::RRSIG) {
                let room = per_type.len() < MAX_UNIFIED_TYPES;
                match per_type.iter_mut().find(|(t, _)| *t == rr.rtype) {
                    Some((_, min)) => *min = (*min).min(ttl),
                    None if room => per_type.push((rr.rtype, ttl)),
                    None => {}
                }
            }
        }
        // Unify each RRset of the terminal name to its smallest TTL (RFC 2181 §5.2).
        for (rr, (_, ttl)) in msg.answers().zip(plan.iter_mut()) {
            if let Some((_, min)) = per_type.iter().find(|(t, _)| *t == rr.rtype)
                && !matches!(rr.rtype, rtype::CNAME | rtype::RRSIG)
            {
                *ttl = *min;
            }
        }
        for rr in msg.authority() {
            let negative = match rr.data() {
                RData::Soa(soa) => rr.ttl.min(soa.minimum),
                _ => rr.ttl,
            };
            let ttl = negative.clamp(p.min_ncache_ttl, p.max_ncache_ttl.max(p.min_ncache_ttl));
            plan.push((rr.ttl_offset, ttl));
        }
    }
    let mut offsets = Vec::with_capacity(plan.len());
    let mut min_ttl = u32::MAX;
    for (at, ttl) in plan {
        let dst = buf.get_mut(at..at + 4).ok_or(WireError::RecordTruncated)?;
        dst.copy_from_slice(&ttl.to_be_bytes());
        offsets.push(u16::try_from(at).map_err(|_| WireError::NoSpace)?);
        min_ttl = min_ttl.min(ttl);
    }
    if offsets.is_empty() {
        min_ttl = 0;
    }
    let qend = u16::try_from(question_end).map_err(|_| WireError::NoSpace)?;
    Ok((offsets, min_ttl, qend))
}

/// Whether `name` equals `ancestor` or lies below it (case-insensitive, label-wise).
pub fn is_at_or_below(name: &Name<'_>, ancestor: &Name<'_>) -> bool {
    let (n, a) = (name.label_count(), ancestor.label_count());
    n >= a
        && name
            .labels()
            .skip(n - a)
            .zip(ancestor.labels())
            .all(|(x, y)| x.eq_ignore_ascii_case(y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Raw;

    fn canon(text: &str) -> Vec<u8> {
        let n = crate::wire::NameBuf::from_text(text).unwrap();
        let mut out = [0u8; 255];
        let len = n.as_name().write_canonical(&mut out).unwrap();
        out[..len].to_vec()
    }

    #[test]
    fn subdomain_check_is_label_wise() {
        let a = crate::wire::NameBuf::from_text("www.Example.com").unwrap();
        let b = crate::wire::NameBuf::from_text("example.COM").unwrap();
        let c = crate::wire::NameBuf::from_text("ample.com").unwrap();
        assert!(is_at_or_below(&a.as_name(), &b.as_name()));
        assert!(!is_at_or_below(&a.as_name(), &c.as_name()));
        assert!(!is_at_or_below(&b.as_name(), &a.as_name()));
        assert!(is_at_or_below(&b.as_name(), &Name::ROOT));
    }

    #[test]
    fn keeps_chain_drops_the_rest_and_unifies_ttls() {
        // www -> web (CNAME 300); web A 60 and A 90; an unrelated A; NS + glue.
        let bytes = Raw::header(1, 0x8180, [1, 5, 1, 1])
            .name("www.example.com")
            .u16(1)
            .u16(1)
            .name_ptr("", 12)
            .rr(5, 1, 300, &[3, b'w', b'e', b'b', 0xc0, 16])
            .name("web.example.com")
            .rr(1, 1, 60, &[192, 0, 2, 7])
            .name("web.example.com")
            .rr(1, 1, 90, &[192, 0, 2, 8])
            .name("evil.example.org")
            .rr(1, 1, 99999, &[6, 6, 6, 6])
            .name("WEB.example.com")
            .rr(28, 1, 60, &[0; 16])
            .name("example.com")
            .rr(2, 1, 3600, &[2, b'n', b's', 0])
            .name("ns")
            .rr(1, 1, 3600, &[6, 6, 6, 7])
            .0;
        let msg = Message::parse(&bytes).unwrap();
        let s = scrub(&msg, &canon("www.example.com"), 1, 1, &TtlPolicy::default()).unwrap();
        assert_eq!(s.dropped, 4);
        let a = &s.answer;
        assert_eq!(
            (a.kind(), a.ttl(), a.cacheable()),
            (AnswerKind::Positive, 60, true)
        );
        let out = Message::parse(a.msg()).unwrap();
        let ttls: Vec<u32> = out.answers().map(|r| r.ttl).collect();
        assert_eq!(ttls, [300, 60, 60]);
        assert_eq!(out.header().count(Section::Authority), 0);
        assert!(!a.msg().windows(4).any(|w| w == [6, 6, 6, 6]));
    }

    #[test]
    fn negative_ttl_is_min_of_soa_ttl_and_minimum_and_clamped() {
        let soa = |ttl: u32, minimum: u32| {
            let mut s = Raw::default().name("ns.example").name("admin.example");
            for n in [1u32, 2, 3, 4, minimum] {
                s = s.u32(n);
            }
            Raw::header(2, 0x8183, [1, 0, 1, 0])
                .name("nope.example")
                .u16(1)
                .u16(1)
                .name("example")
                .rr(6, 1, ttl, &s.0)
                .0
        };
        let p = TtlPolicy {
            max_ncache_ttl: 500,
            ..TtlPolicy::default()
        };
        for (ttl, min, want) in [(900, 60, 60), (30, 60, 30), (9000, 7000, 500)] {
            let bytes = soa(ttl, min);
            let msg = Message::parse(&bytes).unwrap();
            let s = scrub(&msg, &canon("nope.example"), 1, 1, &p).unwrap();
            assert_eq!(s.answer.kind(), AnswerKind::NxDomain);
            assert_eq!(s.answer.ttl(), want);
            assert!(s.answer.cacheable());
        }
        // An SOA of an unrelated zone does not count: not cacheable.
        let bytes = Raw::header(2, 0x8183, [1, 0, 1, 0])
            .name("nope.example")
            .u16(1)
            .u16(1)
            .name("other")
            .rr(6, 1, 60, &{
                let mut s = Raw::default().name("a").name("b");
                for n in [1u32, 2, 3, 4, 5] {
                    s = s.u32(n);
                }
                s.0
            })
            .0;
        let msg = Message::parse(&bytes).unwrap();
        let s = scrub(&msg, &canon("nope.example"), 1, 1, &p).unwrap();
        assert!(!s.answer.cacheable());
        assert_eq!(
            Message::parse(s.answer.msg())
                .unwrap()
                .header()
                .count(Section::Authority),
            0
        );
    }

    #[test]
    fn cname_loop_and_long_chain_are_unusable() {
        let mut r = Raw::header(3, 0x8180, [1, 2, 0, 0])
            .name("a.x")
            .u16(1)
            .u16(1);
        r = r.name("a.x").rr(5, 1, 60, &[1, b'b', 1, b'x', 0]);
        r = r.name("b.x").rr(5, 1, 60, &[1, b'a', 1, b'x', 0]);
        let msg = Message::parse(&r.0).unwrap();
        let err = scrub(&msg, &canon("a.x"), 1, 1, &TtlPolicy::default()).unwrap_err();
        assert_eq!(err, Unusable::ChainTooLong);
        let servfail = Raw::header(3, 0x8182, [1, 0, 0, 0])
            .name("a.x")
            .u16(1)
            .u16(1)
            .0;
        let msg = Message::parse(&servfail).unwrap();
        let err = scrub(&msg, &canon("a.x"), 1, 1, &TtlPolicy::default()).unwrap_err();
        assert_eq!(err, Unusable::Rcode(2));
    }
}
