//! Properties over random schedules of client queries and upstream behaviour: every client
//! query gets exactly one reply or one counted drop, the pending table stays bounded, and
//! everything drains once time moves on.

mod support;

use core::time::Duration;

use bytes::Bytes;
use lvs_core::Datagram;
use lvs_dns::forwarder::{Event, StaleConfig, TcpFailure};
use lvs_dns::wire::rtype;
use proptest::prelude::*;
use support::*;

const NAMES: [&str; 5] = [
    "www.example",
    "WWW.example",
    "gone.example",
    "big.example",
    "other.example",
];

#[derive(Clone, Debug)]
enum Op {
    Query { name: usize, client: u8, edns: bool },
    Tcp { name: usize },
    Advance(u64),
    Answer(usize),
    ServFail(usize),
    Lose(usize),
    Garbage(usize, Vec<u8>),
    Tcp2(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..NAMES.len(), 0u8..6, any::<bool>()).prop_map(|(name, client, edns)| Op::Query { name, client, edns }),
        1 => (0..NAMES.len()).prop_map(|name| Op::Tcp { name }),
        3 => (0u64..2500).prop_map(Op::Advance),
        3 => (0usize..4).prop_map(Op::Answer),
        1 => (0usize..4).prop_map(Op::ServFail),
        1 => (0usize..4).prop_map(Op::Lose),
        1 => ((0usize..4), prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(k, g)| Op::Garbage(k, g)),
        1 => any::<bool>().prop_map(Op::Tcp2),
    ]
}

fn client_addr(c: u8) -> String {
    format!("192.0.2.{}:{}", 10 + c, 4000 + u16::from(c))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_query_gets_one_reply_or_a_counted_drop(ops in prop::collection::vec(op(), 1..80), stale in any::<bool>()) {
        let z = zone(&[
            ("www.example", Data::A(vec![[192, 0, 2, 1]], 3)),
            ("gone.example", Data::NxDomain(5, 5)),
            ("big.example", Data::Big),
        ]);
        let mut c = config(&[UP1, UP2]);
        c.max_pending = 3;
        c.clients_per_query = 4;
        if stale {
            c.stale = StaleConfig { cache_enable: true, answer_enable: true, ..StaleConfig::default() };
        }
        let mut d = Driver::new(forwarder(c, 31));
        let mut sent_queries = 0u64;
        let mut client_replies = 0u64;
        let mut tcp_replies = 0u64;
        let mut id = 0u16;
        for op in ops {
            match op {
                Op::Query { name, client, edns } => {
                    id = id.wrapping_add(1);
                    sent_queries += 1;
                    d.client(&client_addr(client), query(id, NAMES[name], rtype::A, edns));
                }
                Op::Tcp { name } => {
                    id = id.wrapping_add(1);
                    sent_queries += 1;
                    let q = query(id, NAMES[name], rtype::A, true);
                    d.fwd.handle_tcp_query(d.now, lvs_dns::forwarder::ConnId(u64::from(id)), addr("192.0.2.99:1"), q);
                    d.advance(Duration::ZERO);
                    // Nothing is due; drain what the call queued.
                    use lvs_core::StateMachine;
                    while let Some(t) = d.fwd.poll_transmit() { d.transmits.push(t); }
                    while let Some(e) = d.fwd.poll_event() { d.events.push(e); }
                }
                Op::Advance(ms) => d.advance(Duration::from_millis(ms)),
                Op::Answer(k) | Op::ServFail(k) | Op::Lose(k) | Op::Garbage(k, _) => {
                    let ups: Vec<usize> = d.transmits.iter().enumerate()
                        .filter(|(_, t)| t.dst == addr(UP1) || t.dst == addr(UP2))
                        .map(|(i, _)| i).collect();
                    if ups.is_empty() { continue; }
                    let t = d.transmits.remove(ups[k % ups.len()]);
                    let src = t.src.unwrap();
                    let reply: Option<Bytes> = match &op {
                        Op::Answer(_) => Some(respond(&z, &t.payload, false, false)),
                        Op::ServFail(_) => {
                            let mut r = respond(&z, &t.payload, false, false).to_vec();
                            r[3] = (r[3] & 0xf0) | 2;
                            Some(r.into())
                        }
                        Op::Garbage(_, g) => Some(Bytes::from(g.clone())),
                        _ => None,
                    };
                    if let Some(r) = reply {
                        d.datagram(Datagram::new(t.dst, src, r));
                    }
                }
                Op::Tcp2(ok) => {
                    let events = core::mem::take(&mut d.events);
                    for e in events {
                        match e {
                            Event::UpstreamTcp { token, message, .. } => {
                                let r = if ok { Ok(respond(&z, &message, false, true)) } else { Err(TcpFailure::Closed) };
                                d.fwd.handle_upstream_tcp(d.now, token, r);
                                use lvs_core::StateMachine;
                                while let Some(t) = d.fwd.poll_transmit() { d.transmits.push(t); }
                                while let Some(e) = d.fwd.poll_event() { d.events.push(e); }
                            }
                            Event::TcpReply { .. } => tcp_replies += 1,
                            other => d.events.push(other),
                        }
                    }
                }
            }
            // Replies to clients leave the transmit list as they are counted.
            let before = d.transmits.len();
            d.transmits.retain(|t| t.dst == addr(UP1) || t.dst == addr(UP2));
            client_replies += (before - d.transmits.len()) as u64;
            let s = d.fwd.stats();
            prop_assert_eq!(s.queries_udp + s.queries_tcp, sent_queries);
            prop_assert_eq!(
                sent_queries,
                s.replies + s.client_drops() + d.fwd.waiting_clients() as u64,
                "query accounting"
            );
            prop_assert!(d.fwd.pending_fetches() <= 3);
            prop_assert!(d.fwd.waiting_clients() <= 3 * 4);
            prop_assert!(d.fwd.in_flight_udp().count() <= 3 * (2 * 2 + 4));
        }
        // Everything resolves once time moves on.
        d.advance(Duration::from_secs(30));
        let events = core::mem::take(&mut d.events);
        tcp_replies += events.iter().filter(|e| matches!(e, Event::TcpReply { .. })).count() as u64;
        client_replies += d.transmits.iter().filter(|t| t.dst != addr(UP1) && t.dst != addr(UP2)).count() as u64;
        prop_assert_eq!(d.fwd.waiting_clients(), 0);
        prop_assert_eq!(d.fwd.pending_fetches(), 0);
        prop_assert_eq!(d.fwd.in_flight_udp().count(), 0);
        let s = d.fwd.stats();
        prop_assert_eq!(s.replies, client_replies + tcp_replies);
        prop_assert_eq!(sent_queries, s.replies + s.client_drops());
    }
}
