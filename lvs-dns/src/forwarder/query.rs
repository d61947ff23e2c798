//! Upstream query bytes: building a query, 0x20 case randomisation, and comparing a reply's
//! question with the one we sent.

use bytes::{BufMut, Bytes, BytesMut};
use lvs_core::rng::CryptoRng;

use crate::cache::{PARTITION_CD, PARTITION_DO};
use crate::wire::{HEADER_LEN, Message, Section, rtype};

/// How a reply's question compares with the one we sent.
pub(super) enum QuestionCheck {
    Exact,
    CaseOnly,
    Different,
}

pub(super) fn check_question(msg: &Message<'_>, sent: &[u8]) -> QuestionCheck {
    let got = match msg.question() {
        Some(q) if msg.header().count(Section::Question) == 1 => &msg.as_bytes()[q.offset..q.end],
        _ => return QuestionCheck::Different,
    };
    if got == sent {
        return QuestionCheck::Exact;
    }
    let n = sent.len().saturating_sub(4);
    if got.len() == sent.len() && got[..n].eq_ignore_ascii_case(&sent[..n]) && got[n..] == sent[n..]
    {
        QuestionCheck::CaseOnly
    } else {
        QuestionCheck::Different
    }
}

/// Flips ASCII letters of the wire name `name` to uppercase at random; returns whether any was.
pub(super) fn randomize_case<R: CryptoRng>(name: &mut [u8], rng: &mut R) -> bool {
    let (mut bits, mut left, mut any, mut i) = (0u64, 0u32, false, 0usize);
    while let Some(&len) = name.get(i) {
        if len == 0 {
            break;
        }
        let end = (i + 1 + usize::from(len)).min(name.len());
        for b in &mut name[i + 1..end] {
            if b.is_ascii_lowercase() {
                if left == 0 {
                    bits = rng.next_u64();
                    left = 64;
                }
                if bits & 1 == 1 {
                    b.make_ascii_uppercase();
                    any = true;
                }
                bits >>= 1;
                left -= 1;
            }
        }
        i = end;
    }
    any
}

/// An upstream query: RD, one question, our own OPT (EDNS is hop-by-hop); CD and DO as the
/// client asked (the key's `partition` byte), so DNSSEC records come back for DO clients.
pub(super) fn build_query(id: u16, question: &[u8], partition: u8, payload: u16) -> Bytes {
    let cd = partition & PARTITION_CD != 0;
    let dnssec_ok = partition & PARTITION_DO != 0;
    let mut out = BytesMut::with_capacity(HEADER_LEN + question.len() + 11);
    out.put_u16(id);
    out.put_u16(0x0100 | if cd { 0x0010 } else { 0 });
    for count in [1u16, 0, 0, 1] {
        out.put_u16(count);
    }
    out.put_slice(question);
    out.put_u8(0);
    out.put_u16(rtype::OPT);
    out.put_u16(payload);
    out.put_u32(if dnssec_ok { 0x8000 } else { 0 });
    out.put_u16(0);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_core::rng::SeedableRng;

    #[test]
    fn case_randomisation_only_touches_letters_and_is_detected() {
        let mut rng = lvs_core::sim::ChaCha8Rng::seed_from_u64(5);
        let plain = b"\x07example\x03c0m\x00".to_vec();
        let mut seen_upper = false;
        for _ in 0..20 {
            let mut n = plain.clone();
            let any = randomize_case(&mut n, &mut rng);
            assert!(n.eq_ignore_ascii_case(&plain));
            assert_eq!(n[0], 7);
            assert_eq!((n[8], n[10], n[12]), (3, b'0', 0));
            seen_upper |= any;
        }
        assert!(seen_upper);
    }

    #[test]
    fn query_layout() {
        let q = b"\x01a\x00\x00\x01\x00\x01";
        let m = build_query(0x1234, q, PARTITION_CD, 1232);
        let msg = Message::parse(&m).unwrap();
        assert_eq!(msg.id(), 0x1234);
        assert!(msg.header().rd() && msg.header().cd() && !msg.header().qr());
        assert_eq!(msg.edns().unwrap().udp_payload, 1232);
        assert!(!msg.edns().unwrap().dnssec_ok);
        let with_do = build_query(1, q, PARTITION_DO, 1232);
        let msg2 = Message::parse(&with_do).unwrap();
        assert!(msg2.edns().unwrap().dnssec_ok && !msg2.header().cd());
        assert!(matches!(check_question(&msg, q), QuestionCheck::Exact));
        assert!(matches!(
            check_question(&msg, b"\x01A\x00\x00\x01\x00\x01"),
            QuestionCheck::CaseOnly
        ));
        assert!(matches!(
            check_question(&msg, b"\x01a\x00\x00\x1c\x00\x01"),
            QuestionCheck::Different
        ));
    }
}
