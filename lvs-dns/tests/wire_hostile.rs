//! The hostile inputs of the design notes (§7.3, parser and TCP parts), each with its verdict;
//! truncation at every length; fixed-offset accessors on the well-formed fixtures.

use lvs_dns::testing::{Raw, hostile, well_formed};
use lvs_dns::wire::{
    Ede, Frame, Message, Name, RData, Section, TcpDecoder, WireError, rcode, rtype,
};

fn tcp_verdict(stream: &[u8]) -> Result<(), WireError> {
    let mut dec = TcpDecoder::new();
    loop {
        match dec.decode(stream)? {
            Frame::Complete(r) => {
                // A frame's content is a message candidate; a 1-byte one is too short.
                let _ = Message::parse(&stream[r]);
            }
            Frame::Incomplete { .. } => return Ok(()),
        }
    }
}

#[test]
fn every_hostile_input_gets_its_verdict() {
    for h in hostile() {
        let got = if h.tcp {
            tcp_verdict(&h.bytes)
        } else {
            Message::parse(&h.bytes).map(|_| ())
        };
        assert_eq!(got, h.expect, "{}", h.name);
    }
}

#[test]
fn every_well_formed_fixture_parses() {
    for (name, bytes) in well_formed() {
        let m = Message::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            m.section_range(Section::Additional).end,
            bytes.len(),
            "{name}"
        );
    }
}

#[test]
fn truncation_at_every_length_fails_cleanly() {
    let all = well_formed()
        .into_iter()
        .map(|(_, b)| b)
        .chain(hostile().into_iter().map(|h| h.bytes));
    for bytes in all {
        let full_ok = Message::parse(&bytes).is_ok();
        for len in 0..bytes.len() {
            let r = Message::parse(&bytes[..len]);
            if full_ok {
                // A prefix of a valid message is never itself valid: the counts promise more.
                assert!(r.is_err(), "prefix of {len} bytes accepted");
            }
            if len < 12 {
                assert_eq!(r.unwrap_err(), WireError::ShortHeader);
            }
        }
    }
}

fn fixture(name: &str) -> Vec<u8> {
    well_formed()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| b)
        .expect("fixture exists")
}

#[test]
fn header_accessors() {
    let b = fixture("response_mx_ns_soa_edns_ede");
    let m = Message::parse(&b).unwrap();
    let h = m.header();
    assert_eq!(h.id(), 7);
    assert!(h.qr() && h.aa() && h.rd() && h.ra());
    assert!(!h.tc() && !h.ad() && !h.cd() && !h.z());
    assert_eq!(h.opcode(), 0);
    assert_eq!(h.rcode(), 0);
    let counts: Vec<u16> = Section::ALL.iter().map(|&s| h.count(s)).collect();
    assert_eq!(counts, [1, 1, 2, 2]);
    assert_eq!(m.answers().count(), 1);
    assert_eq!(m.authority().count(), 2);
    assert_eq!(m.additional().count(), 2);
    assert_eq!(m.records(Section::Question).count(), 0);

    let nx_bytes = fixture("nxdomain_soa");
    let nx = Message::parse(&nx_bytes).unwrap();
    assert_eq!(nx.rcode(), rcode::NXDOMAIN);
    let mut q = lvs_dns::wire::Header::parse(&fixture("query_a_edns")).unwrap();
    assert!(!q.qr() && q.rd());
    q.set_opcode(5);
    q.set_rcode(0x0f);
    assert_eq!((q.opcode(), q.rcode(), q.id()), (5, 15, 0x1234));
}

#[test]
fn records_expose_offsets_for_in_place_ttl_patching() {
    let mut b = fixture("response_cname_a");
    let offsets: Vec<usize> = Message::parse(&b)
        .unwrap()
        .answers()
        .map(|r| r.ttl_offset)
        .collect();
    for at in offsets {
        b[at..at + 4].copy_from_slice(&42u32.to_be_bytes());
    }
    let m = Message::parse(&b).unwrap();
    assert!(m.answers().all(|r| r.ttl == 42));
}

#[test]
fn typed_rdata_decodes_compressed_names() {
    let b = fixture("response_mx_ns_soa_edns_ede");
    let m = Message::parse(&b).unwrap();
    let RData::Mx {
        preference,
        exchange,
    } = m.answers().next().unwrap().data()
    else {
        panic!("not MX");
    };
    assert_eq!(
        (preference, exchange.to_string().as_str()),
        (10, "mail.example.com.")
    );
    let soa = m.authority().find(|r| r.rtype == rtype::SOA).unwrap();
    let RData::Soa(s) = soa.data() else {
        panic!("not SOA")
    };
    assert_eq!(s.mname.to_string(), "ns1.example.com.");
    assert_eq!(s.rname.to_string(), "hostmaster.example.com.");
    assert_eq!((s.serial, s.minimum), (20_240_101, 300));

    let t = fixture("response_aaaa_txt");
    let m = Message::parse(&t).unwrap();
    let mut it = m.answers();
    let RData::Aaaa(a) = it.next().unwrap().data() else {
        panic!("not AAAA")
    };
    assert_eq!(a.to_string(), "2001:db8::1");
    let RData::Txt(txt) = it.next().unwrap().data() else {
        panic!("not TXT")
    };
    let strings: Vec<&[u8]> = txt.collect();
    assert_eq!(strings, [&b"hello"[..], b"", b"world; v=1", b"\xff"]);

    let u = fixture("response_unknown_type");
    let m = Message::parse(&u).unwrap();
    let rr = m.answers().next().unwrap();
    assert!(matches!(
        rr.data(),
        RData::Other {
            rtype: 65280,
            data: [0xc0, 0x0c, 0xde, 0xad]
        }
    ));
}

#[test]
fn edns_fields_options_and_ede() {
    let b = fixture("response_mx_ns_soa_edns_ede");
    let m = Message::parse(&b).unwrap();
    let e = m.edns().expect("OPT present");
    assert_eq!(
        (e.udp_payload, e.version, e.dnssec_ok, e.ext_rcode),
        (1232, 0, false, 0)
    );
    assert_eq!(e.options().count(), 1);
    let ede = e.ede().expect("EDE option");
    assert_eq!(
        (ede.info_code, ede.text()),
        (Ede::STALE_ANSWER, Some("stale"))
    );

    let q_bytes = fixture("query_a_edns");
    let q = Message::parse(&q_bytes).unwrap();
    assert!(q.edns().unwrap().dnssec_ok);
    let zero = hostile()
        .into_iter()
        .find(|h| h.name == "edns_payload_0")
        .unwrap();
    assert_eq!(
        Message::parse(&zero.bytes)
            .unwrap()
            .edns()
            .unwrap()
            .payload(),
        512
    );
    let v1 = hostile()
        .into_iter()
        .find(|h| h.name == "edns_version_1")
        .unwrap();
    assert_eq!(
        Message::parse(&v1.bytes).unwrap().edns().unwrap().version,
        1
    );
    assert_eq!(Ede::parse(&[0]), Err(WireError::EdeTooShort));
}

#[test]
fn extended_rcode_combines_header_and_opt() {
    // BADVERS = 16: header RCODE 0, OPT extended RCODE 1.
    let b = Raw::header(1, 0x8000, [0, 0, 0, 1])
        .bytes(&[0])
        .rr(41, 1232, 0x0100_0000, &[])
        .0;
    assert_eq!(Message::parse(&b).unwrap().rcode(), rcode::BADVERS);
}

#[test]
fn names_compare_canonicalise_and_print() {
    let b = fixture("response_aaaa_txt");
    let m = Message::parse(&b).unwrap();
    let q = m.question().unwrap().name;
    let owner = m.answers().next().unwrap().name;
    assert!(q.eq_exact(&owner) && q.eq_ignore_case(&owner));
    let lower = lvs_dns::wire::NameBuf::from_text("host.example.org").unwrap();
    assert!(q.eq_ignore_case(&lower.as_name()));
    assert!(!q.eq_exact(&lower.as_name()));
    let mut canon = [0u8; 255];
    let n = owner.write_canonical(&mut canon).unwrap();
    assert_eq!(&canon[..n], lower.as_wire());
    assert_eq!(owner.to_string(), "Host.Example.ORG.");
    assert_eq!(owner.label_count(), 3);
    assert_eq!(owner.wire_len(), 18);
    assert_eq!(
        owner.write_canonical(&mut [0u8; 17]),
        Err(WireError::NoSpace)
    );
    // Bytes >= 0x80 are never case-folded.
    let hi = lvs_dns::wire::NameBuf::from_text("\\200A").unwrap();
    let hi2 = lvs_dns::wire::NameBuf::from_text("\\160a").unwrap();
    assert!(!hi.as_name().eq_ignore_case(&hi2.as_name()));
    let n = hi.as_name().write_canonical(&mut canon).unwrap();
    assert_eq!(&canon[..n], b"\x02\xc8a\x00");
    assert_eq!(hi.as_name().to_string(), "\\200A.");
}

#[test]
fn name_text_and_wire_limits() {
    use lvs_dns::wire::NameBuf;
    assert!(NameBuf::from_text(".").unwrap().as_name().is_root());
    assert!(NameBuf::from_text("").unwrap().as_name().is_root());
    assert_eq!(NameBuf::from_text("a..b").unwrap_err(), WireError::NameText);
    assert_eq!(
        NameBuf::from_text(&"a".repeat(64)).unwrap_err(),
        WireError::LabelTooLong
    );
    assert!(NameBuf::from_text(&"a".repeat(63)).is_ok());
    // 4 labels of 63 = 256 octets with the root: too long; 61 in the last = 254 + ... fits.
    let too_long = vec!["a".repeat(63); 4].join(".");
    assert_eq!(
        NameBuf::from_text(&too_long).unwrap_err(),
        WireError::NameTooLong
    );
    let max = [
        "a".repeat(63),
        "a".repeat(63),
        "a".repeat(63),
        "a".repeat(61),
    ]
    .join(".");
    assert_eq!(NameBuf::from_text(&max).unwrap().as_wire().len(), 255);
    assert_eq!(
        NameBuf::from_text("a\\.b").unwrap().as_name().label_count(),
        1
    );
    assert_eq!(
        Name::from_wire(&[0xc0, 0]).unwrap_err(),
        WireError::PointerNotAllowed
    );
    assert_eq!(
        Name::from_wire(&[1, b'a', 0, 0]).unwrap_err(),
        WireError::TrailingBytes
    );
    assert_eq!(
        Name::from_wire(&[1, b'a']).unwrap_err(),
        WireError::NameTruncated
    );
}

#[test]
fn rdata_names_must_stay_inside_rdlength() {
    // A CNAME whose RDLENGTH (2) stops inside its target's in-place labels.
    let b = Raw::header(1, 0x8180, [1, 1, 0, 0])
        .name("a.example")
        .u16(5)
        .u16(1)
        .name_ptr("", 12)
        .rr(5, 1, 5, &[3, b'w', b'w', b'w', 0])
        .0;
    assert!(Message::parse(&b).is_ok());
    let mut short = b.clone();
    let rdlen_at = short.len() - 7;
    short[rdlen_at..rdlen_at + 2].copy_from_slice(&2u16.to_be_bytes());
    short.truncate(short.len() - 3);
    assert_eq!(
        Message::parse(&short).unwrap_err(),
        WireError::NameTruncated
    );
    // Extra bytes after a CNAME's name inside RDLENGTH are malformed too.
    let mut long = b.clone();
    long[rdlen_at..rdlen_at + 2].copy_from_slice(&6u16.to_be_bytes());
    long.push(0);
    assert_eq!(
        Message::parse(&long).unwrap_err(),
        WireError::RdataMalformed
    );
}

#[test]
fn tcp_decoder_handles_split_prefix_and_stall() {
    let msg = fixture("query_a_edns");
    let mut stream = (msg.len() as u16).to_be_bytes().to_vec();
    stream.extend_from_slice(&msg);
    let mut dec = TcpDecoder::new();
    // The length bytes split across reads.
    assert_eq!(
        dec.decode(&stream[..1]),
        Ok(Frame::Incomplete { needed: 1 })
    );
    assert_eq!(
        dec.decode(&stream[..2]),
        Ok(Frame::Incomplete { needed: msg.len() })
    );
    assert_eq!(dec.decode(&stream), Ok(Frame::Complete(2..stream.len())));
    assert_eq!(dec.take_consumed(), stream.len());
    // 65535 announced, then a stall: incomplete with the exact shortfall, no allocation.
    let stall = [0xff, 0xff, 1, 2, 3];
    assert_eq!(dec.decode(&stall), Ok(Frame::Incomplete { needed: 65532 }));
    assert_eq!(dec.consumed(), 0);
    assert_eq!(
        lvs_dns::wire::frame_prefix(0),
        Err(WireError::ZeroLengthFrame)
    );
    assert_eq!(lvs_dns::wire::frame_prefix(70000), Err(WireError::NoSpace));
}

#[test]
fn tcp_decoder_splits_1000_pipelined_queries() {
    let msg = fixture("query_a_edns");
    let mut stream = Vec::new();
    for _ in 0..1000 {
        stream.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        stream.extend_from_slice(&msg);
    }
    let mut dec = TcpDecoder::new();
    let mut n = 0;
    while let Ok(Frame::Complete(r)) = dec.decode(&stream) {
        assert!(Message::parse(&stream[r]).is_ok());
        n += 1;
    }
    assert_eq!(n, 1000);
    assert_eq!(dec.take_consumed(), stream.len());
}

mod mutated {
    use lvs_dns::testing::{hostile, well_formed};
    use proptest::prelude::*;

    fn seeds() -> Vec<Vec<u8>> {
        well_formed()
            .into_iter()
            .map(|(_, b)| b)
            .chain(hostile().into_iter().map(|h| h.bytes))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Fixtures with random bytes overwritten, inserted or cut: the fuzz invariants hold
        /// (no panic; whatever parses re-emits and re-parses equal).
        #[test]
        fn mutated_fixtures_keep_the_fuzz_invariants(
            pick in any::<prop::sample::Index>(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
        ) {
            let all = seeds();
            let mut b = all[pick.index(all.len())].clone();
            for (at, byte, kind) in edits {
                let i = at.index(b.len() + 1);
                match kind {
                    0 if i < b.len() => b[i] = byte,
                    1 => b.insert(i, byte),
                    _ => b.truncate(i),
                }
            }
            lvs_dns::fuzzing::dns_message(&b);
        }

        #[test]
        fn arbitrary_bytes_keep_the_fuzz_invariants(b in prop::collection::vec(any::<u8>(), 0..600)) {
            lvs_dns::fuzzing::dns_message(&b);
        }
    }
}
