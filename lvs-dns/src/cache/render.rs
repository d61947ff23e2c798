//! Building replies for clients: patching a stored answer (one `BytesMut` copy, no re-encode)
//! and the small error replies (REFUSED, SERVFAIL, FORMERR, NOTIMP, BADVERS, truncated).

use bytes::{BufMut, Bytes, BytesMut};

use super::answer::StoredAnswer;
use crate::wire::{Flags, HEADER_LEN, Header, Section, option, rtype};

/// The length of an OPT record without options.
const OPT_LEN: usize = 11;
/// The length of an EDE option without extra text.
const EDE_LEN: usize = 6;

/// What the reply must echo from the client's query.
#[derive(Clone, Copy, Debug)]
pub struct ClientView<'a> {
    /// The client's ID.
    pub id: u16,
    /// The client's question bytes (name as sent, QTYPE, QCLASS), or empty when it had none.
    pub question: &'a [u8],
    /// RD as sent.
    pub rd: bool,
    /// CD as sent.
    pub cd: bool,
    /// The client's EDNS: its UDP payload size and DO bit; `None` without OPT.
    pub edns: Option<(u16, bool)>,
    /// The size limit of this reply (the UDP payload limit, or 65535 on TCP).
    pub limit: usize,
}

/// How the TTLs of a stored answer are rewritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlMode {
    /// Fresh: every stored TTL minus these elapsed seconds (never below 0).
    Elapsed(u32),
    /// Stale: every TTL set to this value (`stale-answer-ttl`).
    Fixed(u32),
}

/// Our EDNS parameters in replies.
#[derive(Clone, Copy, Debug)]
pub struct OurEdns {
    /// The UDP payload size we advertise.
    pub payload: u16,
}

/// Renders a stored answer for one client: copies it once, patches ID, flags, the question
/// (case included) and TTLs, appends an OPT record (with an EDE when given) if the client sent
/// EDNS, and truncates to header + question + OPT with TC=1 when it exceeds `client.limit`.
pub fn render(
    stored: &StoredAnswer,
    mode: TtlMode,
    client: &ClientView<'_>,
    ede: Option<u16>,
    ours: OurEdns,
) -> Bytes {
    let extra = if client.edns.is_some() {
        OPT_LEN + ede.map_or(0, |_| EDE_LEN)
    } else {
        0
    };
    let msg = stored.msg();
    let mut out = BytesMut::with_capacity(msg.len() + extra);
    out.extend_from_slice(msg);
    let qend = usize::from(stored.question_end());
    // The question: same length by construction (the key matched case-insensitively).
    if client.question.len() == qend - HEADER_LEN {
        out[HEADER_LEN..qend].copy_from_slice(client.question);
    }
    for at in stored.ttl_offsets() {
        let at = usize::from(at);
        if let Some(field) = out.get_mut(at..at + 4) {
            let old = u32::from_be_bytes([field[0], field[1], field[2], field[3]]);
            let new = match mode {
                TtlMode::Elapsed(e) => old.saturating_sub(e),
                TtlMode::Fixed(t) => t,
            };
            field.copy_from_slice(&new.to_be_bytes());
        }
    }
    let mut h = header_of(&out);
    h.set_id(client.id);
    h.set_flags(reply_flags(client));
    if out.len() + extra > client.limit {
        out.truncate(qend);
        h.set_flags(h.flags().with(Flags::TC));
        for s in [Section::Answer, Section::Authority, Section::Additional] {
            h.set_count(s, 0);
        }
    }
    if let Some((_, dnssec_ok)) = client.edns {
        h.set_count(Section::Additional, h.count(Section::Additional) + 1);
        put_opt(&mut out, ours.payload, 0, dnssec_ok, ede);
    }
    out[..HEADER_LEN].copy_from_slice(h.as_bytes());
    out.freeze()
}

/// A reply with no records: the header (ID and RD/CD from the client, `rcode`), the client's
/// question when it had one, and an OPT record (carrying `ede`) when the client sent EDNS.
/// Anything that does not fit in `limit` is left out: first the EDE, then the OPT, then the
/// question, so a reply bounded by the query's own length is never larger than the query.
/// With `truncated`, TC is set.
pub fn minimal(
    client: &ClientView<'_>,
    rcode: u16,
    ede: Option<u16>,
    truncated: bool,
    ours: OurEdns,
) -> Bytes {
    let mut question = client.question;
    let mut opt = client.edns.map(|(_, d)| d);
    let mut ede = ede.filter(|_| opt.is_some());
    let size = |q: &[u8], o: Option<bool>, e: Option<u16>| {
        HEADER_LEN + q.len() + o.map_or(0, |_| OPT_LEN) + e.map_or(0, |_| EDE_LEN)
    };
    if size(question, opt, ede) > client.limit {
        ede = None;
    }
    if size(question, opt, ede) > client.limit && rcode < 16 {
        opt = None;
    }
    if size(question, opt, ede) > client.limit {
        question = &[];
    }
    // Extended RCODEs need an OPT record.
    let low = (rcode & 0x0f) as u8;
    let ext = (rcode >> 4) as u8;
    let opt = if ext != 0 {
        Some(opt.unwrap_or(false))
    } else {
        opt
    };
    let mut out = BytesMut::with_capacity(size(question, opt, ede));
    let mut h = Header::from_bytes([0; HEADER_LEN]);
    h.set_id(client.id);
    let mut flags = reply_flags(client);
    if truncated {
        flags = flags.with(Flags::TC);
    }
    h.set_flags(flags);
    h.set_rcode(low);
    h.set_count(Section::Question, u16::from(!question.is_empty()));
    h.set_count(Section::Additional, u16::from(opt.is_some()));
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(question);
    if let Some(dnssec_ok) = opt {
        put_opt(&mut out, ours.payload, ext, dnssec_ok, ede);
    }
    out.freeze()
}

/// QR and RA set, RD and CD copied from the client; AA, TC, AD clear (we do not validate, so
/// AD is never claimed).
fn reply_flags(client: &ClientView<'_>) -> Flags {
    let mut f = Flags::QR | Flags::RA;
    if client.rd {
        f = f.with(Flags::RD);
    }
    if client.cd {
        f = f.with(Flags::CD);
    }
    f
}

fn header_of(buf: &[u8]) -> Header {
    Header::parse(buf).unwrap_or(Header::from_bytes([0; HEADER_LEN]))
}

/// Appends an OPT record (root owner, version 0) with an optional EDE option.
fn put_opt(out: &mut BytesMut, payload: u16, ext_rcode: u8, dnssec_ok: bool, ede: Option<u16>) {
    out.put_u8(0);
    out.put_u16(rtype::OPT);
    out.put_u16(payload);
    out.put_u8(ext_rcode);
    out.put_u8(0);
    out.put_u16(if dnssec_ok { 0x8000 } else { 0 });
    match ede {
        Some(code) => {
            out.put_u16(EDE_LEN as u16);
            out.put_u16(option::EDE);
            out.put_u16(2);
            out.put_u16(code);
        }
        None => out.put_u16(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::answer::{TtlPolicy, scrub};
    use crate::testing::Raw;
    use crate::wire::{Ede, Message, rcode};

    fn stored() -> StoredAnswer {
        let bytes = Raw::header(1, 0x8180, [1, 1, 0, 0])
            .name("www.example.com")
            .u16(1)
            .u16(1)
            .name_ptr("", 12)
            .rr(1, 1, 100, &[192, 0, 2, 1])
            .0;
        let msg = Message::parse(&bytes).unwrap();
        let canon = Raw::default().name("www.example.com").0;
        scrub(&msg, &canon, 1, 1, &TtlPolicy::default())
            .unwrap()
            .answer
    }

    fn view(q: &[u8], edns: Option<(u16, bool)>, limit: usize) -> ClientView<'_> {
        ClientView {
            id: 0xabcd,
            question: q,
            rd: true,
            cd: false,
            edns,
            limit,
        }
    }

    #[test]
    fn patches_id_case_ttl_and_appends_opt() {
        let s = stored();
        let q = Raw::default().name("WwW.ExAmple.com").u16(1).u16(1).0;
        let ours = OurEdns { payload: 1232 };
        let out = render(
            &s,
            TtlMode::Elapsed(30),
            &view(&q, Some((1232, true)), 1232),
            None,
            ours,
        );
        let m = Message::parse(&out).unwrap();
        assert_eq!(m.id(), 0xabcd);
        assert!(m.header().qr() && m.header().rd() && m.header().ra() && !m.header().aa());
        let rr = m.answers().next().unwrap();
        assert_eq!(rr.ttl, 70);
        assert_eq!(rr.name.to_string(), "WwW.ExAmple.com.");
        assert!(m.edns().unwrap().dnssec_ok);
        // The stored copy is untouched.
        assert_eq!(
            Message::parse(s.msg())
                .unwrap()
                .answers()
                .next()
                .unwrap()
                .ttl,
            100
        );
        let stale = render(
            &s,
            TtlMode::Fixed(30),
            &view(&q, Some((512, false)), 512),
            Some(3),
            ours,
        );
        let m = Message::parse(&stale).unwrap();
        assert_eq!(m.answers().next().unwrap().ttl, 30);
        assert_eq!(
            m.edns().unwrap().ede().unwrap().info_code,
            Ede::STALE_ANSWER
        );
        // Too large for the limit: header + question + OPT with TC.
        let tc = render(
            &s,
            TtlMode::Elapsed(0),
            &view(&q, Some((512, false)), 40),
            None,
            ours,
        );
        let m = Message::parse(&tc).unwrap();
        assert!(m.header().tc());
        assert_eq!(m.header().count(Section::Answer), 0);
    }

    #[test]
    fn minimal_replies_never_exceed_the_limit() {
        let q = Raw::default().name("a.example").u16(1).u16(1).0;
        let ours = OurEdns { payload: 1232 };
        for limit in 12..60 {
            let v = view(&q, Some((1232, false)), limit);
            let out = minimal(&v, rcode::REFUSED, Some(Ede::PROHIBITED), false, ours);
            assert!(
                out.len() <= limit.max(HEADER_LEN),
                "limit {limit}: {}",
                out.len()
            );
            let m = Message::parse(&out).unwrap();
            assert_eq!(m.rcode(), rcode::REFUSED);
        }
        let v = view(&q, Some((1232, false)), 1232);
        let out = minimal(&v, rcode::BADVERS, None, false, ours);
        assert_eq!(Message::parse(&out).unwrap().rcode(), rcode::BADVERS);
    }
}
