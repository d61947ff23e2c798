//! Differential test against `hickory-proto`: on real-shaped fixtures and on proptest-generated
//! messages both parsers must accept, and agree on the header, the questions, every record's
//! fields and typed RDATA, and the EDNS values. The hostile inputs are run through both too;
//! where the verdicts differ the difference must be one of the documented ones below.

use hickory_proto::op::Message as HMessage;
use hickory_proto::rr::{Name as HName, RData as HRData};
use lvs_dns::testing::{hostile, well_formed};
use lvs_dns::wire::{Message, Name, RData, Section, rtype};
use proptest::prelude::*;

mod common;

fn labels_eq(ours: &Name<'_>, theirs: &HName) -> bool {
    ours.labels().eq(theirs.iter())
}

/// Both accept `bytes` and decode the same fields.
fn agree(bytes: &[u8]) {
    let ours = Message::parse(bytes).unwrap_or_else(|e| panic!("ours rejects: {e}"));
    let theirs = HMessage::from_vec(bytes).unwrap_or_else(|e| panic!("hickory rejects: {e}"));
    let (h, m) = (ours.header(), &theirs.metadata);
    assert_eq!(h.id(), m.id);
    assert_eq!(
        h.qr(),
        m.message_type == hickory_proto::op::MessageType::Response
    );
    assert_eq!(h.opcode(), u8::from(m.op_code));
    assert_eq!(
        (h.aa(), h.tc(), h.rd(), h.ra(), h.ad(), h.cd()),
        (
            m.authoritative,
            m.truncation,
            m.recursion_desired,
            m.recursion_available,
            m.authentic_data,
            m.checking_disabled
        )
    );
    assert_eq!(ours.rcode(), u16::from(m.response_code));

    let qs: Vec<_> = ours.questions().collect();
    assert_eq!(qs.len(), theirs.queries.len());
    for (q, t) in qs.iter().zip(&theirs.queries) {
        assert!(labels_eq(&q.name, &t.name), "{} vs {}", q.name, t.name);
        assert_eq!(q.qtype, u16::from(t.query_type));
        assert_eq!(q.qclass, u16::from(t.query_class));
    }

    let sections = [
        (Section::Answer, &theirs.answers),
        (Section::Authority, &theirs.authorities),
        (Section::Additional, &theirs.additionals),
    ];
    for (s, theirs_rrs) in sections {
        // hickory lifts the OPT record out of the additional section.
        let rrs: Vec<_> = ours.records(s).filter(|r| r.rtype != rtype::OPT).collect();
        assert_eq!(rrs.len(), theirs_rrs.len(), "{s:?} count");
        for (r, t) in rrs.iter().zip(theirs_rrs.iter()) {
            assert!(
                labels_eq(&r.name, &t.name),
                "owner {} vs {}",
                r.name,
                t.name
            );
            assert_eq!(r.rtype, u16::from(t.record_type()));
            assert_eq!(r.class, u16::from(t.dns_class));
            assert_eq!(r.ttl, t.ttl);
            rdata_agree(&r.data(), &t.data, r.rdata());
        }
    }

    match (ours.edns(), &theirs.edns) {
        (None, None) => {}
        (Some(e), Some(t)) => {
            assert_eq!(
                e.payload(),
                t.max_payload(),
                "payload below 512 reads as 512"
            );
            assert_eq!(e.version, t.version());
            assert_eq!(e.dnssec_ok, t.flags().dnssec_ok);
            assert_eq!(e.ext_rcode, t.rcode_high());
            let ours: Vec<u16> = e.options().map(|o| o.code).collect();
            let theirs: Vec<u16> = t
                .options()
                .options
                .iter()
                .map(|(c, _)| u16::from(*c))
                .collect();
            assert_eq!(ours, theirs, "EDNS option codes");
        }
        (a, b) => panic!("EDNS presence differs: ours {a:?}, hickory {b:?}"),
    }
}

fn rdata_agree(ours: &RData<'_>, theirs: &HRData, raw: &[u8]) {
    match (ours, theirs) {
        (RData::A(a), HRData::A(t)) => assert_eq!(*a, t.0),
        (RData::Aaaa(a), HRData::AAAA(t)) => assert_eq!(*a, t.0),
        (RData::Ns(n), HRData::NS(t)) => assert!(labels_eq(n, &t.0)),
        (RData::Cname(n), HRData::CNAME(t)) => assert!(labels_eq(n, &t.0)),
        (RData::Ptr(n), HRData::PTR(t)) => assert!(labels_eq(n, &t.0)),
        (
            RData::Mx {
                preference,
                exchange,
            },
            HRData::MX(t),
        ) => {
            assert_eq!(*preference, t.preference);
            assert!(labels_eq(exchange, &t.exchange));
        }
        (RData::Soa(s), HRData::SOA(t)) => {
            assert!(labels_eq(&s.mname, &t.mname) && labels_eq(&s.rname, &t.rname));
            assert_eq!(
                (s.serial, s.refresh, s.retry, s.expire, s.minimum),
                (
                    t.serial,
                    t.refresh as u32,
                    t.retry as u32,
                    t.expire as u32,
                    t.minimum
                )
            );
        }
        (RData::Txt(s), HRData::TXT(t)) => {
            assert!(Iterator::eq(*s, t.txt_data.iter().map(|b| &b[..])));
        }
        (
            RData::Srv {
                priority,
                weight,
                port,
                target,
            },
            HRData::SRV(t),
        ) => {
            assert_eq!((*priority, *weight, *port), (t.priority, t.weight, t.port));
            assert!(labels_eq(target, &t.target));
        }
        (RData::Other { data, .. }, HRData::Unknown { rdata, .. }) => {
            assert_eq!(*data, &rdata.anything[..]);
        }
        (ours, theirs) => {
            panic!("RDATA kinds differ: ours {ours:?}, hickory {theirs:?} (raw {raw:?})")
        }
    }
}

#[test]
fn fixtures_agree() {
    for (name, bytes) in well_formed() {
        eprintln!("fixture {name}");
        agree(&bytes);
    }
}

/// Hostile inputs where the two parsers are known to give different verdicts, and why.
const KNOWN_DIVERGENCES: &[(&str, &str)] = &[
    (
        "pointer_into_header",
        "hickory follows a pointer into the 12-byte header; RFC 9267 says reject it",
    ),
    (
        "trailing_bytes",
        "hickory ignores bytes after the last counted record",
    ),
    (
        "opt_option_past_rdlength",
        "hickory tolerates an option running past the OPT RDLENGTH; RFC 6891 §6.1.2 framing",
    ),
    (
        "pointer_chain_128",
        "hickory has no hop limit (its strictly-backward rule alone bounds the chase)",
    ),
];

#[test]
fn hostile_verdicts_agree_except_documented() {
    let mut diverged = Vec::new();
    for h in hostile().into_iter().filter(|h| !h.tcp) {
        let ours = Message::parse(&h.bytes).is_ok();
        let theirs = HMessage::from_vec(&h.bytes).is_ok();
        if ours != theirs {
            diverged.push(h.name);
        } else if ours {
            agree(&h.bytes);
        }
    }
    let documented: Vec<&str> = KNOWN_DIVERGENCES.iter().map(|(n, _)| *n).collect();
    assert_eq!(diverged, documented, "verdict differences changed");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn generated_messages_agree(m in common::model_strategy(), compress in any::<bool>()) {
        agree(&common::build(&m, compress));
    }
}
