//! The forwarder-relevant CVE classes of the design notes as tests, plus spoofing defences,
//! access control, amplification and rate limiting.

mod support;

use core::time::Duration;
use std::collections::BTreeSet;

use bytes::Bytes;
use lvs_core::Datagram;
use lvs_dns::forwarder::{
    DropReason, Event, ForwardMode, MatchElement, MatchList, Prefix, RefusedAction, RrlConfig,
};
use lvs_dns::testing::Raw;
use lvs_dns::wire::{Ede, Message, rcode, rtype};
use support::*;

const CLIENT: &str = "192.0.2.10:5353";

fn z() -> std::collections::BTreeMap<String, Data> {
    zone(&[
        ("www.example", Data::A(vec![[192, 0, 2, 1]], 300)),
        ("big.example", Data::Big),
    ])
}

/// The one outstanding upstream query: (its transmit's source, its payload).
fn outstanding(d: &mut Driver, up: &str) -> (std::net::SocketAddr, Bytes) {
    let t = d.take_to(addr(up));
    assert_eq!(t.len(), 1);
    (t[0].src.unwrap(), t[0].payload.clone())
}

fn forged(real_query: &[u8], id: u16, a: [u8; 4]) -> Bytes {
    let mut q = real_query.to_vec();
    q[0..2].copy_from_slice(&id.to_be_bytes());
    let zone = zone(&[("www.example", Data::A(vec![a], 99_999))]);
    respond(&zone, &q, false, false)
}

#[test]
fn dnspooq_25684_replies_pinned_to_server_address_and_port() {
    let mut d = Driver::new(forwarder(config(&[UP1]), 11));
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    let (src, q) = outstanding(&mut d, UP1);
    let id = u16::from_be_bytes([q[0], q[1]]);
    // Right ID and question, wrong source port, wrong source address, wrong local port.
    let evil = forged(&q, id, [6, 6, 6, 6]);
    d.datagram(Datagram::new(addr("10.0.0.2:54"), src, evil.clone()));
    d.datagram(Datagram::new(addr("10.0.0.9:53"), src, evil.clone()));
    let mut other = src;
    other.set_port(src.port() ^ 1);
    d.datagram(Datagram::new(addr(UP1), other, evil));
    assert!(d.take_to(addr(CLIENT)).is_empty());
    assert_eq!(d.fwd.stats().upstream_drops(), 3);
    // The genuine reply is still accepted.
    d.datagram(Datagram::new(
        addr(UP1),
        src,
        respond(&z(), &q, false, false),
    ));
    let r = d.take_to(addr(CLIENT));
    assert_eq!(first_a(&r[0].payload).unwrap().0, [192, 0, 2, 1]);
}

#[test]
fn dnspooq_25685_question_compared_in_full() {
    let mut d = Driver::new(forwarder(config(&[UP1]), 12));
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    let (src, q) = outstanding(&mut d, UP1);
    // Same ID, port and server, but a different question (name, then type).
    let other = query(
        u16::from_be_bytes([q[0], q[1]]),
        "wwx.example",
        rtype::A,
        true,
    );
    let zone = zone(&[("wwx.example", Data::A(vec![[6, 6, 6, 6]], 300))]);
    d.datagram(Datagram::new(
        addr(UP1),
        src,
        respond(&zone, &other, false, false),
    ));
    let mut aaaa = q.to_vec();
    let qend = aaaa.len() - 11;
    aaaa[qend - 3] = 28;
    d.datagram(Datagram::new(
        addr(UP1),
        src,
        respond(&z(), &aaaa, false, false),
    ));
    assert_eq!(
        d.fwd.stats().dropped(DropReason::UpstreamQuestionMismatch),
        2
    );
    assert!(d.take_to(addr(CLIENT)).is_empty());
}

#[test]
fn dnspooq_25686_identical_queries_share_one_upstream_query() {
    let mut d = Driver::new(forwarder(config(&[UP1]), 13));
    for i in 0..500u16 {
        let name = if i.is_multiple_of(2) {
            "www.example"
        } else {
            "WWW.Example"
        };
        d.client(
            &format!("192.0.2.{}:{}", 1 + i % 200, 1000 + i),
            query(i, name, rtype::A, true),
        );
    }
    assert_eq!(d.fwd.pending_fetches(), 1);
    assert_eq!(d.fwd.waiting_clients(), 100, "clients-per-query bound");
    assert_eq!(d.fwd.stats().dropped(DropReason::TooManyWaiters), 400);
    assert_eq!(d.serve(&[UP1], &z()), 1);
    let replies = core::mem::take(&mut d.transmits);
    assert_eq!(replies.len(), 100);
    for t in replies {
        let m = Message::parse(&t.payload).unwrap();
        let want = if m.id().is_multiple_of(2) {
            "www.example."
        } else {
            "WWW.Example."
        };
        assert_eq!(
            m.question().unwrap().name.to_string(),
            want,
            "each client's own case"
        );
    }
}

#[test]
fn cve_2021_3448_ids_and_ports_are_random_per_query() {
    let mut d = Driver::new(forwarder(config(&[UP1]), 14));
    for i in 0..200u16 {
        d.client(CLIENT, query(i, &format!("n{i}.example"), rtype::A, false));
    }
    let ups = d.take_to(addr(UP1));
    let ports: BTreeSet<u16> = ups.iter().map(|t| t.src.unwrap().port()).collect();
    let ids: BTreeSet<u16> = ups
        .iter()
        .map(|t| u16::from_be_bytes([t.payload[0], t.payload[1]]))
        .collect();
    assert_eq!(ups.len(), 200);
    assert!(ports.len() >= 195 && ids.len() >= 195);
    assert!(ports.iter().all(|&p| p >= 1024 && p != 53));
    // Never the client's ID: query i carried client ID i.
    let same = ups
        .iter()
        .enumerate()
        .filter(|(i, t)| t.payload[..2] == (*i as u16).to_be_bytes())
        .count();
    assert!(same <= 2, "{same} upstream IDs equal the client's");
}

#[test]
fn cve_2021_25220_out_of_chain_records_are_not_cached() {
    let mut d = Driver::new(forwarder(config(&[UP1]), 15));
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    let (src, q) = outstanding(&mut d, UP1);
    // The answer carries the real A plus an A for bank.example, an NS and glue.
    let id = u16::from_be_bytes([q[0], q[1]]);
    let qname_end = q.len() - 11;
    let raw = Raw::header(id, 0x8180, [1, 2, 1, 1])
        .bytes(&q[12..qname_end])
        .name_ptr("", 12)
        .rr(1, 1, 300, &[192, 0, 2, 1])
        .name("bank.example")
        .rr(1, 1, 300, &[6, 6, 6, 6])
        .name("example")
        .rr(2, 1, 300, &[2, b'n', b's', 4, b'e', b'v', b'i', b'l', 0])
        .name("ns.evil")
        .rr(1, 1, 300, &[6, 6, 6, 7])
        .0;
    d.datagram(Datagram::new(addr(UP1), src, raw));
    let r = d.take_to(addr(CLIENT));
    let m = Message::parse(&r[0].payload).unwrap();
    assert_eq!(
        m.answers().count(),
        1,
        "only the question's RRset reaches the client"
    );
    assert_eq!(d.fwd.stats().scrubbed_records, 3);
    // bank.example is not cached: asking for it goes upstream.
    d.client(CLIENT, query(2, "bank.example", rtype::A, true));
    assert_eq!(d.take_to(addr(UP1)).len(), 1);
}

#[test]
fn truncated_reply_is_not_cached_and_is_retried_over_tcp() {
    let mut d = Driver::new(forwarder(config(&[UP1]), 16));
    d.client(CLIENT, query(1, "big.example", rtype::TXT, true));
    assert_eq!(d.serve(&[UP1], &z()), 1);
    assert!(d.take_to(addr(CLIENT)).is_empty());
    assert_eq!(d.fwd.stats().tcp_retries_truncated, 1);
    assert_eq!(d.serve_tcp(&z()), 1);
    let r = d.take_to(addr(CLIENT));
    let m = Message::parse(&r[0].payload).unwrap();
    assert!(
        m.header().tc(),
        "too big for the client's 1232 bytes: TC to the client"
    );
    // Over TCP the client gets the whole answer, from the cache.
    d.fwd.handle_tcp_query(
        d.now,
        lvs_dns::forwarder::ConnId(9),
        addr(CLIENT),
        query(2, "big.example", rtype::TXT, true),
    );
    let ev = d.fwd.poll_event_all();
    let Some(Event::TcpReply { conn, message }) = ev.first() else {
        panic!("{ev:?}");
    };
    assert_eq!(conn.0, 9);
    assert_eq!(Message::parse(message).unwrap().answers().count(), 60);
}

trait PollAll {
    fn poll_event_all(&mut self) -> Vec<Event>;
}

impl PollAll for Fwd {
    fn poll_event_all(&mut self) -> Vec<Event> {
        use lvs_core::StateMachine;
        core::iter::from_fn(|| self.poll_event()).collect()
    }
}

#[test]
fn wrong_id_from_the_server_triggers_an_immediate_tcp_retry() {
    let mut d = Driver::new(forwarder(config(&[UP1]), 17));
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    let (src, q) = outstanding(&mut d, UP1);
    let id = u16::from_be_bytes([q[0], q[1]]);
    d.datagram(Datagram::new(
        addr(UP1),
        src,
        forged(&q, id ^ 0x5555, [6, 6, 6, 6]),
    ));
    assert_eq!(d.fwd.stats().tcp_retries_mismatch, 1);
    // The UDP port is closed: even the right ID is now unexpected.
    d.datagram(Datagram::new(addr(UP1), src, forged(&q, id, [6, 6, 6, 6])));
    assert_eq!(d.fwd.stats().dropped(DropReason::UpstreamUnexpected), 1);
    assert_eq!(d.serve_tcp(&z()), 1);
    let r = d.take_to(addr(CLIENT));
    assert_eq!(first_a(&r[0].payload).unwrap().0, [192, 0, 2, 1]);
}

#[test]
fn ox20_capability_is_detected_per_forwarder() {
    let mut c = config(&[UP1]);
    c.use_0x20 = true;
    let mut d = Driver::new(forwarder(c, 18));
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    let (src, q) = outstanding(&mut d, UP1);
    assert!(q.iter().any(u8::is_ascii_uppercase), "0x20 applied");
    // This server lowercases the question: dropped, the server marked, re-asked in lowercase.
    d.datagram(Datagram::new(
        addr(UP1),
        src,
        respond(&z(), &q, true, false),
    ));
    assert_eq!(d.fwd.stats().dropped(DropReason::UpstreamCaseMismatch), 1);
    let (src2, q2) = outstanding(&mut d, UP1);
    assert!(!q2.iter().any(u8::is_ascii_uppercase));
    d.datagram(Datagram::new(
        addr(UP1),
        src2,
        respond(&z(), &q2, true, false),
    ));
    assert_eq!(d.take_to(addr(CLIENT)).len(), 1);
    assert_eq!(
        d.fwd.servers()[0].case,
        lvs_dns::forwarder::CaseSupport::NoEcho
    );
}

#[test]
fn servfail_from_one_forwarder_asks_the_next_then_modes_differ() {
    for mode in [ForwardMode::Only, ForwardMode::First] {
        let mut c = config(&[UP1, UP2]);
        c.mode = mode;
        let mut d = Driver::new(forwarder(c, 19));
        d.client(CLIENT, query(1, "www.example", rtype::A, true));
        for _ in 0..6 {
            for up in [UP1, UP2] {
                for t in d.take_to(addr(up)) {
                    let mut r = respond(&z(), &t.payload, false, false).to_vec();
                    r[3] = (r[3] & 0xf0) | 2; // SERVFAIL
                    d.datagram(Datagram::new(t.dst, t.src.unwrap(), r));
                }
            }
        }
        let r = d.take_to(addr(CLIENT));
        assert_eq!(r.len(), 1);
        let m = Message::parse(&r[0].payload).unwrap();
        assert_eq!(m.rcode(), rcode::SERVFAIL);
        let ede = m.edns().unwrap().ede().map(|e| e.info_code);
        match mode {
            ForwardMode::Only => assert_eq!(ede, None),
            ForwardMode::First => assert_eq!(ede, Some(Ede::NO_REACHABLE_AUTHORITY)),
        }
        assert!(d.fwd.servers().iter().all(|s| s.failures == 1));
    }
}

#[test]
fn malformed_and_hostile_client_input() {
    let mut d = Driver::new(forwarder(config(&[UP1]), 20));
    d.client(CLIENT, Bytes::from_static(&[1, 2, 3]));
    let mut resp = query(1, "www.example", rtype::A, false).to_vec();
    resp[2] |= 0x80;
    d.client(CLIENT, resp.into());
    assert_eq!(d.fwd.stats().client_drops(), 2);
    assert!(d.transmits.is_empty(), "never answer a response or a runt");
    // QDCOUNT 2 -> FORMERR; opcode NOTIFY -> NOTIMP; EDNS version 1 -> BADVERS.
    let two = Raw::header(5, 0x0100, [2, 0, 0, 0])
        .name("a.example")
        .u16(1)
        .u16(1)
        .name("b.example")
        .u16(1)
        .u16(1)
        .0;
    d.client(CLIENT, two.into());
    let mut notify = query(6, "www.example", rtype::A, false).to_vec();
    notify[2] |= 4 << 3;
    d.client(CLIENT, notify.into());
    let mut v1 = query(7, "www.example", rtype::A, true).to_vec();
    let n = v1.len();
    v1[n - 5] = 1;
    d.client(CLIENT, v1.into());
    let r = d.take_to(addr(CLIENT));
    let rcodes: Vec<u16> = r
        .iter()
        .map(|t| Message::parse(&t.payload).unwrap().rcode())
        .collect();
    assert_eq!(rcodes, [rcode::FORMERR, rcode::NOTIMP, rcode::BADVERS]);
    assert_eq!(Message::parse(&r[0].payload).unwrap().id(), 5);
}

#[test]
fn refused_is_never_larger_than_the_query_and_drop_is_counted() {
    let mut c = config(&[UP1]);
    c.access.allow_recursion = MatchList(vec![MatchElement::Prefix(Prefix::new(
        addr("10.0.0.0:0").ip(),
        8,
    ))]);
    let mut d = Driver::new(forwarder(c.clone(), 21));
    for (edns, name) in [
        (false, "a.example"),
        (true, "x.example"),
        (true, "www.example"),
    ] {
        let q = query(1, name, rtype::ANY, edns);
        d.client(CLIENT, q.clone());
        let r = d.take_to(addr(CLIENT));
        assert!(r[0].payload.len() <= q.len());
        let m = Message::parse(&r[0].payload).unwrap();
        assert_eq!(m.rcode(), rcode::REFUSED);
        // The OPT record is echoed; EDE 18 would make the reply larger than this query.
        assert_eq!(m.edns().is_some(), edns);
    }
    assert!(d.take_to(addr(UP1)).is_empty());
    c.access.refused = RefusedAction::Drop;
    let mut d = Driver::new(forwarder(c, 22));
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    assert!(d.transmits.is_empty());
    assert_eq!(d.fwd.stats().dropped(DropReason::AclDenied), 1);
    // An allowed client is served.
    d.client("10.9.9.9:1000", query(2, "www.example", rtype::A, true));
    assert_eq!(d.take_to(addr(UP1)).len(), 1);
}

#[test]
fn rrl_drops_and_slips_per_prefix() {
    let mut c = config(&[UP1]);
    c.rrl = Some(RrlConfig {
        responses_per_second: 10,
        burst: 10,
        slip: 2,
        ..RrlConfig::default()
    });
    let mut d = Driver::new(forwarder(c, 23));
    d.client(CLIENT, query(0, "www.example", rtype::A, true));
    d.serve(&[UP1], &z());
    for i in 1..30u16 {
        d.client(
            &format!("192.0.2.{}:999", i % 250),
            query(i, "www.example", rtype::A, true),
        );
    }
    let r = d.take_to(addr(CLIENT));
    let all = core::mem::take(&mut d.transmits).len() + r.len();
    let slipped = d.fwd.stats().slipped;
    assert_eq!(all as u64, 10 + slipped);
    assert_eq!(slipped, 10);
    assert_eq!(d.fwd.stats().dropped(DropReason::RateLimited), 10);
    // Another prefix is unaffected; a second later the bucket refilled.
    d.client(
        "198.51.100.1:53000",
        query(99, "www.example", rtype::A, true),
    );
    assert_eq!(d.take_to(addr("198.51.100.1:53000")).len(), 1);
    d.advance(Duration::from_secs(1));
    d.client(CLIENT, query(100, "www.example", rtype::A, true));
    let r = d.take_to(addr(CLIENT));
    assert!(!Message::parse(&r[0].payload).unwrap().header().tc());
}
