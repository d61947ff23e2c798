//! DNSSEC pass-through without validation (BIND `forward only` with `dnssec-validation no`):
//! DO goes upstream as the client set it, RRSIG/NSEC records reach DO clients only, DO and
//! non-DO answers live in separate cache entries, and AD is never set by the forwarder.

mod support;

use bytes::{Bytes, BytesMut};
use lvs_core::Datagram;
use lvs_dns::wire::{Flags, Message, MessageBuilder, NameBuf, RData, Section, class, rcode, rtype};
use support::*;

const CLIENT: &str = "192.0.2.10:5353";

fn n(text: &str) -> NameBuf {
    NameBuf::from_text(text).unwrap()
}

/// RRSIG RDATA covering `covered`, signed by `signer`.
fn rrsig(covered: u16, signer: &str) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&covered.to_be_bytes());
    d.extend_from_slice(&[13, 2]);
    d.extend_from_slice(&300u32.to_be_bytes());
    d.extend_from_slice(&2_000_000_000u32.to_be_bytes());
    d.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    d.extend_from_slice(&4242u16.to_be_bytes());
    let mut w = [0u8; 255];
    let len = n(signer).as_name().write_canonical(&mut w).unwrap();
    d.extend_from_slice(&w[..len]);
    d.extend_from_slice(&[0xab; 64]);
    d
}

/// NSEC RDATA: the next name (uncompressed) and a bitmap with A and RRSIG.
fn nsec(next: &str) -> Vec<u8> {
    let mut w = [0u8; 255];
    let len = n(next).as_name().write_canonical(&mut w).unwrap();
    let mut d = w[..len].to_vec();
    d.extend_from_slice(&[0, 6, 0x40, 0, 0, 0, 0, 0x03]);
    d
}

fn soa() -> Vec<u8> {
    let mut s = b"\x02ns\x07example\x00\x05admin\x07example\x00".to_vec();
    for v in [1u32, 3600, 600, 86400, 60] {
        s.extend_from_slice(&v.to_be_bytes());
    }
    s
}

/// A signed upstream: `www.example` A (signed), `alias.example` CNAME www (signed, plus a
/// stray RRSIG over MX), anything else NXDOMAIN with SOA, NSEC and their RRSIGs, plus an NSEC
/// from another zone. It signs whatever the query's DO bit says, and sets AD regardless.
fn signed_upstream(query: &[u8]) -> Bytes {
    let q = Message::parse(query).unwrap();
    let qq = q.question().unwrap();
    let dnssec = q.edns().is_some_and(|e| e.dnssec_ok);
    let mut out = BytesMut::new();
    let mut b = MessageBuilder::new(&mut out).unwrap();
    b.set_id(q.id());
    b.set_flags(Flags::QR | Flags::RD | Flags::RA | Flags::AD);
    b.question(&qq.name, qq.qtype, qq.qclass).unwrap();
    let name = qq.name.to_string().to_ascii_lowercase();
    let (www, alias, zone) = (n("www.example"), n("alias.example"), n("example"));
    let a = RData::A([192, 0, 2, 1].into());
    let rr = |b: &mut MessageBuilder<&mut BytesMut>, s, owner: &NameBuf, t, data: &[u8]| {
        b.raw_record(s, &owner.as_name(), (t, class::IN, 300), data)
            .unwrap();
    };
    match name.as_str() {
        "www.example." | "alias.example." => {
            if name.starts_with("alias") {
                let target = RData::Cname(www.as_name());
                b.record(Section::Answer, &alias.as_name(), class::IN, 300, &target)
                    .unwrap();
                if dnssec {
                    rr(
                        &mut b,
                        Section::Answer,
                        &alias,
                        rtype::RRSIG,
                        &rrsig(rtype::CNAME, "example"),
                    );
                    rr(
                        &mut b,
                        Section::Answer,
                        &alias,
                        rtype::RRSIG,
                        &rrsig(rtype::MX, "example"),
                    );
                }
            }
            b.record(Section::Answer, &www.as_name(), class::IN, 300, &a)
                .unwrap();
            if dnssec {
                rr(
                    &mut b,
                    Section::Answer,
                    &www,
                    rtype::RRSIG,
                    &rrsig(rtype::A, "example"),
                );
            }
        }
        _ => {
            b.set_rcode(rcode::NXDOMAIN);
            rr(&mut b, Section::Authority, &zone, rtype::SOA, &soa());
            if dnssec {
                rr(
                    &mut b,
                    Section::Authority,
                    &zone,
                    rtype::RRSIG,
                    &rrsig(rtype::SOA, "example"),
                );
                rr(
                    &mut b,
                    Section::Authority,
                    &zone,
                    rtype::NSEC,
                    &nsec("www.example"),
                );
                rr(
                    &mut b,
                    Section::Authority,
                    &zone,
                    rtype::RRSIG,
                    &rrsig(rtype::NSEC, "example"),
                );
                let other = n("other.zone");
                rr(
                    &mut b,
                    Section::Authority,
                    &other,
                    rtype::NSEC,
                    &nsec("z.other.zone"),
                );
            }
        }
    }
    b.finish().unwrap();
    out.freeze()
}

/// A client query, with EDNS and DO when `dnssec`.
fn ask(id: u16, name: &str, dnssec: bool) -> Bytes {
    let mut out = BytesMut::new();
    let mut b = MessageBuilder::new(&mut out).unwrap();
    b.set_id(id);
    b.set_flags(Flags::RD);
    b.question(&n(name).as_name(), rtype::A, class::IN).unwrap();
    b.opt(1232, dnssec).unwrap();
    b.finish().unwrap();
    out.freeze()
}

/// Answers every upstream query from the signed upstream; returns their DO bits.
fn serve(d: &mut Driver) -> Vec<bool> {
    let mut dos = Vec::new();
    for t in d.take_to(addr(UP1)) {
        dos.push(
            Message::parse(&t.payload)
                .unwrap()
                .edns()
                .unwrap()
                .dnssec_ok,
        );
        let reply = signed_upstream(&t.payload);
        d.datagram(Datagram::new(t.dst, t.src.unwrap(), reply));
    }
    dos
}

/// (section, type) of every record but OPT.
fn records(reply: &[u8]) -> Vec<(Section, u16)> {
    let m = Message::parse(reply).unwrap();
    let mut v: Vec<(Section, u16)> = m.answers().map(|r| (Section::Answer, r.rtype)).collect();
    v.extend(m.authority().map(|r| (Section::Authority, r.rtype)));
    v
}

fn one_reply(d: &mut Driver) -> Bytes {
    let r = d.take_to(addr(CLIENT));
    assert_eq!(r.len(), 1);
    r[0].payload.clone()
}

#[test]
fn do_clients_get_signatures_others_do_not_and_the_cache_keeps_them_apart() {
    let mut d = Driver::new(forwarder(config(&[UP1]), 1));
    d.client(CLIENT, ask(1, "www.example", true));
    assert_eq!(serve(&mut d), [true], "DO goes upstream");
    let signed = one_reply(&mut d);
    let m = Message::parse(&signed).unwrap();
    assert!(!m.header().ad(), "we do not validate, so we never claim AD");
    assert!(m.edns().unwrap().dnssec_ok);
    let want_signed = [(Section::Answer, rtype::A), (Section::Answer, rtype::RRSIG)];
    assert_eq!(records(&signed), want_signed);

    // The same name without DO is a different entry: fetched with DO=0, no RRSIG.
    d.client(CLIENT, ask(2, "www.example", false));
    assert_eq!(serve(&mut d), [false]);
    let plain = one_reply(&mut d);
    assert_eq!(records(&plain), [(Section::Answer, rtype::A)]);
    assert!(!Message::parse(&plain).unwrap().edns().unwrap().dnssec_ok);

    // Both are now cache hits, each with its own content.
    d.client(CLIENT, ask(3, "www.example", false));
    d.client(CLIENT, ask(4, "www.example", true));
    assert!(d.take_to(addr(UP1)).is_empty());
    let r = d.take_to(addr(CLIENT));
    assert_eq!(records(&r[0].payload), [(Section::Answer, rtype::A)]);
    assert_eq!(records(&r[1].payload), want_signed);
    assert!(!Message::parse(&r[1].payload).unwrap().header().ad());
    assert_eq!(d.fwd.stats().cache_hits, 2);
}

#[test]
fn a_do_query_and_a_plain_one_in_flight_are_not_coalesced() {
    let mut d = Driver::new(forwarder(config(&[UP1]), 2));
    d.client(CLIENT, ask(1, "www.example", true));
    d.client(CLIENT, ask(2, "www.example", false));
    assert_eq!(serve(&mut d), [true, false]);
    let r = d.take_to(addr(CLIENT));
    assert_eq!(r.len(), 2);
    for t in r {
        let m = Message::parse(&t.payload).unwrap();
        let dnssec = m.edns().unwrap().dnssec_ok;
        let sigs = m.answers().filter(|rr| rr.rtype == rtype::RRSIG).count();
        assert_eq!(sigs, usize::from(dnssec), "id {}", m.id());
    }
    assert_eq!(d.fwd.stats().coalesced, 0);
}

#[test]
fn chain_signatures_are_kept_and_stray_ones_dropped() {
    let mut d = Driver::new(forwarder(config(&[UP1]), 3));
    d.client(CLIENT, ask(1, "alias.example", true));
    serve(&mut d);
    let r = one_reply(&mut d);
    let m = Message::parse(&r).unwrap();
    let got: Vec<(String, u16)> = m
        .answers()
        .map(|rr| (rr.name.to_string(), rr.rtype))
        .collect();
    assert_eq!(
        got,
        [
            ("alias.example.".to_owned(), rtype::CNAME),
            ("alias.example.".to_owned(), rtype::RRSIG),
            ("www.example.".to_owned(), rtype::A),
            ("www.example.".to_owned(), rtype::RRSIG),
        ]
    );
    let covered: Vec<u16> = m
        .answers()
        .filter_map(|rr| match rr.data() {
            RData::Other {
                rtype: rtype::RRSIG,
                data,
            } => Some(u16::from_be_bytes([data[0], data[1]])),
            _ => None,
        })
        .collect();
    assert_eq!(
        covered,
        [rtype::CNAME, rtype::A],
        "the RRSIG over MX is not ours to cache"
    );
}

#[test]
fn negative_proofs_reach_do_clients_only_and_stay_in_zone() {
    let mut d = Driver::new(forwarder(config(&[UP1]), 4));
    d.client(CLIENT, ask(1, "nope.example", true));
    d.client(CLIENT, ask(2, "nope.example", false));
    serve(&mut d);
    let r = d.take_to(addr(CLIENT));
    let by_id = |id: u16| {
        r.iter()
            .find(|t| Message::parse(&t.payload).unwrap().id() == id)
            .unwrap()
            .payload
            .clone()
    };
    let signed = by_id(1);
    assert_eq!(Message::parse(&signed).unwrap().rcode(), rcode::NXDOMAIN);
    assert_eq!(
        records(&signed),
        [
            (Section::Authority, rtype::SOA),
            (Section::Authority, rtype::RRSIG),
            (Section::Authority, rtype::NSEC),
            (Section::Authority, rtype::RRSIG),
        ],
        "the other zone's NSEC is dropped"
    );
    assert_eq!(records(&by_id(2)), [(Section::Authority, rtype::SOA)]);
    // Cached: the DO entry still carries the proof, with decremented TTLs.
    d.advance(core::time::Duration::from_secs(5));
    d.client(CLIENT, ask(3, "nope.example", true));
    assert!(d.take_to(addr(UP1)).is_empty());
    let hit = one_reply(&mut d);
    assert_eq!(records(&hit).len(), 4);
    let m = Message::parse(&hit).unwrap();
    assert!(m.authority().all(|rr| rr.ttl < 300));
}

#[test]
fn any_without_do_leaves_dnssec_records_out() {
    let mut d = Driver::new(forwarder(config(&[UP1]), 5));
    let mut q = BytesMut::new();
    let mut b = MessageBuilder::new(&mut q).unwrap();
    b.set_id(9);
    b.set_flags(Flags::RD);
    b.question(&n("www.example").as_name(), rtype::ANY, class::IN)
        .unwrap();
    b.finish().unwrap();
    d.client(CLIENT, q.freeze());
    // A non-conforming upstream signs although DO=0.
    for t in d.take_to(addr(UP1)) {
        let mut fake = t.payload.to_vec();
        // Set DO in a copy of the upstream query, so the fake upstream signs.
        let m = Message::parse(&fake).unwrap();
        let opt = m.section_range(Section::Additional).start;
        fake[opt + 7] |= 0x80;
        let reply = signed_upstream(&fake);
        assert_eq!(records(&reply).len(), 2, "the fake upstream signed");
        d.datagram(Datagram::new(t.dst, t.src.unwrap(), reply));
    }
    let r = one_reply(&mut d);
    assert_eq!(records(&r), [(Section::Answer, rtype::A)]);
}
