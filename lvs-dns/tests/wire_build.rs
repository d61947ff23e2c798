//! The builder: round trips, compression, truncation with TC, OPT/EDE, errors; proptest round
//! trips builder -> parser and TCP split invariance.

use bytes::BytesMut;
use lvs_dns::testing::well_formed;
use lvs_dns::wire::{
    DEFAULT_PAYLOAD, Ede, Flags, Frame, Message, MessageBuilder, NameBuf, RData, Section, SliceBuf,
    TcpDecoder, WireError, advertised_payload, class, frame_prefix, option, rcode,
    reply_payload_limit, rtype,
};
use proptest::prelude::*;

mod common;
use common::{build, check, model_strategy};

fn name(t: &str) -> NameBuf {
    NameBuf::from_text(t).expect("valid name text")
}

fn a(last: u8) -> RData<'static> {
    RData::A([192, 0, 2, last].into())
}

#[test]
fn compression_shrinks_and_round_trips() {
    let q = name("www.example.com");
    let ns = name("ns1.example.com");
    let mut lens = Vec::new();
    for compress in [false, true] {
        let mut out = BytesMut::new();
        let mut b = MessageBuilder::new(&mut out).unwrap();
        b.set_compression(compress);
        b.question(&q.as_name(), rtype::A, class::IN).unwrap();
        b.record(Section::Answer, &q.as_name(), class::IN, 60, &a(1))
            .unwrap();
        b.record(
            Section::Authority,
            &name("example.com").as_name(),
            class::IN,
            60,
            &RData::Ns(ns.as_name()),
        )
        .unwrap();
        b.record(Section::Additional, &ns.as_name(), class::IN, 60, &a(2))
            .unwrap();
        lens.push(b.finish().unwrap());
        let m = Message::parse(&out).unwrap();
        let rrs: Vec<_> = m
            .answers()
            .chain(m.authority())
            .chain(m.additional())
            .collect();
        assert!(rrs[0].name.eq_exact(&q.as_name()));
        assert!(matches!(rrs[1].data(), RData::Ns(n) if n.eq_exact(&ns.as_name())));
        assert!(rrs[2].name.eq_exact(&ns.as_name()));
    }
    // Uncompressed: 12 + (17+4) + (17+14) + (13+10+17) + (17+14) = 135.
    assert_eq!(lens[0], 135);
    assert!(lens[1] < 100, "compressed {}", lens[1]);
}

#[test]
fn compression_keeps_case_and_copy_record_decompresses() {
    let fixtures = well_formed();
    let (_, src) = fixtures
        .iter()
        .find(|(n, _)| *n == "response_mx_ns_soa_edns_ede")
        .unwrap();
    let src = Message::parse(src).unwrap();
    let mut out = BytesMut::new();
    out.extend_from_slice(b"xx"); // room for a TCP prefix: the message starts at offset 2
    let mut b = MessageBuilder::new(&mut out).unwrap();
    b.set_compression(false);
    for rr in src.authority() {
        b.copy_record(Section::Authority, &rr).unwrap();
    }
    let len = b.finish().unwrap();
    let prefix = frame_prefix(len).unwrap();
    out[..2].copy_from_slice(&prefix);
    let m = Message::parse(&out[2..]).unwrap();
    let RData::Soa(s) = m.authority().nth(1).unwrap().data() else {
        panic!("not SOA")
    };
    assert_eq!(s.rname.to_string(), "hostmaster.example.com.");
    // Nothing is compressed: every name is written in full.
    assert_eq!(m.authority().next().unwrap().name.offset(), 12);
    assert_eq!(
        TcpDecoder::new().decode(&out),
        Ok(Frame::Complete(2..out.len()))
    );

    // Compression matches bytes exactly: a differently cased suffix is written again.
    let mut out = BytesMut::new();
    let mut b = MessageBuilder::new(&mut out).unwrap();
    b.question(&name("a.Example.com").as_name(), rtype::A, class::IN)
        .unwrap();
    b.record(
        Section::Answer,
        &name("b.example.com").as_name(),
        class::IN,
        1,
        &a(1),
    )
    .unwrap();
    b.finish().unwrap();
    let m = Message::parse(&out).unwrap();
    assert_eq!(
        m.answers().next().unwrap().name.to_string(),
        "b.example.com."
    );
}

#[test]
fn truncation_stops_at_the_limit_sets_tc_and_keeps_opt() {
    let q = name("many.example");
    let mut out = BytesMut::new();
    let mut b = MessageBuilder::new(&mut out).unwrap();
    b.set_limit(512);
    b.set_flags(Flags::QR | Flags::RD | Flags::RA);
    b.reserve(11 + 4 + 6); // OPT with one EDE option and 2 bytes of text
    b.question(&q.as_name(), rtype::A, class::IN).unwrap();
    let mut added = 0;
    for i in 0..100u8 {
        match b.record(Section::Answer, &q.as_name(), class::IN, 60, &a(i)) {
            Ok(()) => added += 1,
            Err(e) => {
                assert_eq!(e, WireError::NoSpace);
                break;
            }
        }
    }
    assert!(b.is_truncated());
    // Once full, nothing more is added, not even a smaller record.
    assert_eq!(
        b.record(Section::Answer, &q.as_name(), class::IN, 60, &a(0)),
        Err(WireError::NoSpace)
    );
    let mut opt = b.opt(DEFAULT_PAYLOAD, true).unwrap();
    opt.ede(&Ede {
        info_code: Ede::STALE_ANSWER,
        extra_text: b"hi",
    })
    .unwrap();
    let len = b.finish().unwrap();
    assert!(len <= 512);
    let m = Message::parse(&out).unwrap();
    assert!(m.header().tc());
    assert_eq!(m.answers().count(), added);
    let e = m.edns().unwrap();
    assert!(e.dnssec_ok);
    assert_eq!(e.ede().unwrap().text(), Some("hi"));
}

#[test]
fn dropped_additional_data_does_not_set_tc() {
    let q = name("x.example");
    let mut buf = [0u8; 80];
    let mut b = MessageBuilder::new(SliceBuf::new(&mut buf)).unwrap();
    b.question(&q.as_name(), rtype::A, class::IN).unwrap();
    b.record(Section::Answer, &q.as_name(), class::IN, 60, &a(1))
        .unwrap();
    let mut dropped = false;
    for i in 0..10 {
        if b.record(
            Section::Additional,
            &name("glue.example").as_name(),
            class::IN,
            60,
            &a(i),
        )
        .is_err()
        {
            dropped = true;
            break;
        }
    }
    assert!(dropped && !b.is_truncated());
    let len = b.finish().unwrap();
    let m = Message::parse(&buf[..len]).unwrap();
    assert!(!m.header().tc());
}

#[test]
fn rollback_drops_a_whole_rrset() {
    let q = name("set.example");
    let mut out = BytesMut::new();
    let mut b = MessageBuilder::new(&mut out).unwrap();
    b.set_limit(12 + 17 + 3 * 16); // header, question, three compressed A records
    b.question(&q.as_name(), rtype::A, class::IN).unwrap();
    let mark = b.mark();
    let mut ok = 0;
    for i in 0..4 {
        if b.record(Section::Answer, &q.as_name(), class::IN, 60, &a(i))
            .is_ok()
        {
            ok += 1;
        } else {
            b.rollback(mark);
            break;
        }
    }
    assert_eq!(ok, 3);
    b.finish().unwrap();
    let m = Message::parse(&out).unwrap();
    assert_eq!(m.answers().count(), 0);
    assert!(m.header().tc());
}

#[test]
fn misuse_is_an_error_and_writes_nothing() {
    let q = name("a.example");
    let mut out = BytesMut::new();
    let mut b = MessageBuilder::new(&mut out).unwrap();
    b.record(Section::Answer, &q.as_name(), class::IN, 1, &a(1))
        .unwrap();
    let before = b.len();
    assert_eq!(b.question(&q.as_name(), 1, 1), Err(WireError::SectionOrder));
    assert_eq!(
        b.record(Section::Question, &q.as_name(), 1, 1, &a(1)),
        Err(WireError::SectionOrder)
    );
    // An opaque A that is not 4 bytes, or an OPT outside the rules.
    assert_eq!(
        b.raw_record(Section::Answer, &q.as_name(), (rtype::A, 1, 1), &[1; 5]),
        Err(WireError::RdataMalformed)
    );
    assert_eq!(
        b.raw_record(
            Section::Answer,
            &NameBuf::from_text(".").unwrap().as_name(),
            (rtype::OPT, 512, 0),
            &[]
        ),
        Err(WireError::OptNotInAdditional)
    );
    assert_eq!(
        b.raw_record(Section::Additional, &q.as_name(), (rtype::OPT, 512, 0), &[]),
        Err(WireError::OptOwnerNotRoot)
    );
    assert_eq!(b.len(), before);
    assert!(!b.is_truncated());
    b.record(Section::Authority, &q.as_name(), class::IN, 1, &a(2))
        .unwrap();
    assert_eq!(
        b.record(Section::Answer, &q.as_name(), class::IN, 1, &a(3)),
        Err(WireError::SectionOrder)
    );
    b.opt(1232, false).unwrap();
    assert_eq!(b.opt(1232, false).err(), Some(WireError::MultipleOpt));
    b.set_rcode(rcode::BADVERS);
    b.finish().unwrap();
    let m = Message::parse(&out).unwrap();
    assert_eq!(m.rcode(), rcode::BADVERS);

    let mut out = BytesMut::new();
    let mut b = MessageBuilder::new(&mut out).unwrap();
    b.set_rcode(rcode::BADCOOKIE);
    assert_eq!(b.finish(), Err(WireError::ExtendedRcodeWithoutOpt));
}

#[test]
fn payload_negotiation() {
    assert_eq!(reply_payload_limit(None, DEFAULT_PAYLOAD), 512);
    assert_eq!(reply_payload_limit(Some(0), DEFAULT_PAYLOAD), 512);
    assert_eq!(reply_payload_limit(Some(4096), DEFAULT_PAYLOAD), 1232);
    assert_eq!(reply_payload_limit(Some(1000), DEFAULT_PAYLOAD), 1000);
    assert_eq!(reply_payload_limit(Some(65535), 65535), 4096);
    assert_eq!(reply_payload_limit(Some(600), 100), 512);
    assert_eq!(advertised_payload(100), 512);
    assert_eq!(advertised_payload(DEFAULT_PAYLOAD), 1232);
    assert_eq!(advertised_payload(9000), 4096);
}

#[test]
fn opt_options_round_trip() {
    let mut out = BytesMut::new();
    let mut b = MessageBuilder::new(&mut out).unwrap();
    let mut w = b.opt(4000, false).unwrap();
    w.option(option::COOKIE, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    w.ede(&Ede {
        info_code: Ede::PROHIBITED,
        extra_text: b"",
    })
    .unwrap();
    w.option(option::PADDING, &[0; 16]).unwrap();
    w.set_version(1);
    b.finish().unwrap();
    let m = Message::parse(&out).unwrap();
    let e = m.edns().unwrap();
    assert_eq!((e.udp_payload, e.version), (4000, 1));
    let codes: Vec<u16> = e.options().map(|o| o.code).collect();
    assert_eq!(codes, [option::COOKIE, option::EDE, option::PADDING]);
    assert_eq!(e.ede().unwrap().info_code, Ede::PROHIBITED);
    let mut data = [0u8; 8];
    let ede = Ede {
        info_code: 22,
        extra_text: b"down",
    };
    let n = ede.write_data(&mut data).unwrap();
    assert_eq!(Ede::parse(&data[..n]).unwrap(), ede);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn builder_then_parser_round_trips(m in model_strategy()) {
        let plain = build(&m, false);
        let packed = build(&m, true);
        prop_assert!(packed.len() <= plain.len());
        check(&m, &plain);
        check(&m, &packed);
        lvs_dns::fuzzing::dns_message(&packed);
    }

    #[test]
    fn tcp_split_invariance(
        picks in prop::collection::vec(0usize..8, 1..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let fixtures = well_formed();
        let mut stream = Vec::new();
        let mut expect = Vec::new();
        for p in picks {
            let msg = &fixtures[p % fixtures.len()].1;
            stream.extend_from_slice(&frame_prefix(msg.len()).unwrap());
            stream.extend_from_slice(msg);
            expect.push(msg.clone());
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.push(stream.len());
        cuts.sort_unstable();
        let mut dec = TcpDecoder::new();
        let mut buf = Vec::new();
        let mut got = Vec::new();
        let mut fed = 0;
        for cut in cuts {
            buf.extend_from_slice(&stream[fed..cut]);
            fed = cut;
            while let Frame::Complete(r) = dec.decode(&buf).unwrap() {
                got.push(buf[r].to_vec());
            }
            let used = dec.take_consumed();
            buf.drain(..used);
        }
        prop_assert_eq!(got, expect);
        prop_assert!(buf.is_empty());
    }
}

#[test]
fn compressor_writes_pointers_to_earlier_suffixes() {
    use lvs_dns::wire::{Compressor, Name, OutBuf};
    let mut out = BytesMut::new();
    out.extend_from_slice(&[0; 12]); // a header to point past
    let mut c = Compressor::new();
    let first = name("www.example.com");
    let second = name("mail.example.com");
    assert_eq!(c.write_name(&mut out, 0, &first.as_name()).unwrap(), 17);
    // "mail" + pointer to "example.com" at offset 16.
    assert_eq!(c.write_name(&mut out, 0, &second.as_name()).unwrap(), 7);
    assert_eq!(&out.filled()[29..], b"\x04mail\xc0\x10");
    let (n, end) = Name::parse(&out, 29, out.len()).unwrap();
    assert!(n.eq_exact(&second.as_name()));
    assert_eq!(end, out.len());
    // The same name again is a single pointer.
    assert_eq!(c.write_name(&mut out, 0, &second.as_name()).unwrap(), 2);
    c.clear();
    assert_eq!(c.write_name(&mut out, 0, &second.as_name()).unwrap(), 18);
}
