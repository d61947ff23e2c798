//! The forwarder's cache behaviour, driven by hand: hits, TTL decrement, clamps, negative
//! caching, CD partitioning, case echo, serve-stale states and prefetch.

mod support;

use core::time::Duration;

use lvs_core::Instant;
use lvs_dns::forwarder::StaleConfig;
use lvs_dns::wire::{Ede, Message, Section, rcode, rtype};
use proptest::prelude::*;
use support::*;

const CLIENT: &str = "192.0.2.10:5353";

fn zone_a(ttl: u32) -> std::collections::BTreeMap<String, Data> {
    zone(&[
        ("www.example", Data::A(vec![[192, 0, 2, 1]], ttl)),
        ("alias.example", Data::Cname("www.example".into(), 600)),
        ("gone.example", Data::NxDomain(900, 60)),
    ])
}

#[test]
fn miss_then_hit_with_decremented_ttl_and_the_clients_case() {
    let z = zone_a(300);
    let mut d = Driver::new(forwarder(config(&[UP1]), 1));
    d.client(CLIENT, query(7, "www.example", rtype::A, true));
    assert_eq!(d.serve(&[UP1], &z), 1);
    let first = d.take_to(addr(CLIENT));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].src, Some(addr(LISTEN)));
    assert_eq!(first_a(&first[0].payload), Some(([192, 0, 2, 1], 300)));

    d.advance(Duration::from_millis(12_500));
    d.client(CLIENT, query(8, "WwW.ExAmPlE", rtype::A, false));
    assert!(
        d.take_to(addr(UP1)).is_empty(),
        "a hit must not go upstream"
    );
    let hit = d.take_to(addr(CLIENT));
    let m = Message::parse(&hit[0].payload).unwrap();
    assert_eq!(m.id(), 8);
    assert_eq!(m.question().unwrap().name.to_string(), "WwW.ExAmPlE.");
    assert_eq!(m.answers().next().unwrap().name.to_string(), "WwW.ExAmPlE.");
    assert_eq!(first_a(&hit[0].payload), Some(([192, 0, 2, 1], 288)));
    assert!(m.edns().is_none(), "no OPT for a client without EDNS");
    assert!(m.header().ra() && m.header().rd() && !m.header().aa() && !m.header().ad());
    assert_eq!(d.fwd.stats().cache_hits, 1);
}

#[test]
fn cname_chain_and_negative_answers_are_cached_per_rfc_2308() {
    let z = zone_a(300);
    let mut d = Driver::new(forwarder(config(&[UP1]), 2));
    d.client(CLIENT, query(1, "alias.example", rtype::A, true));
    d.client(CLIENT, query(2, "gone.example", rtype::A, true));
    d.client(CLIENT, query(3, "www.example", rtype::AAAA, true));
    assert_eq!(d.serve(&[UP1], &z), 3);
    d.take_to(addr(CLIENT));
    d.advance(Duration::from_secs(10));
    for (id, name, qtype) in [
        (4, "alias.example", rtype::A),
        (5, "gone.example", rtype::A),
        (6, "www.example", rtype::AAAA),
    ] {
        d.client(CLIENT, query(id, name, qtype, true));
    }
    assert!(d.take_to(addr(UP1)).is_empty());
    let r = d.take_to(addr(CLIENT));
    let chain = Message::parse(&r[0].payload).unwrap();
    let ttls: Vec<(u16, u32)> = chain.answers().map(|rr| (rr.rtype, rr.ttl)).collect();
    assert_eq!(ttls, [(rtype::CNAME, 590), (rtype::A, 290)]);
    // NXDOMAIN: TTL min(900, MINIMUM 60) - 10 s, SOA replayed.
    let nx = Message::parse(&r[1].payload).unwrap();
    assert_eq!(nx.rcode(), rcode::NXDOMAIN);
    assert_eq!(nx.authority().next().unwrap().ttl, 50);
    // NODATA: NOERROR, no answers, the SOA with min(300, 60) - 10 s.
    let nodata = Message::parse(&r[2].payload).unwrap();
    assert_eq!(nodata.rcode(), rcode::NOERROR);
    assert_eq!(nodata.header().count(Section::Answer), 0);
    assert_eq!(nodata.authority().next().unwrap().ttl, 50);
    // After the negative TTL the NXDOMAIN goes upstream again; the CNAME chain does not yet.
    d.advance(Duration::from_secs(51));
    d.client(CLIENT, query(7, "gone.example", rtype::A, true));
    d.client(CLIENT, query(8, "alias.example", rtype::A, true));
    assert_eq!(d.take_to(addr(UP1)).len(), 1);
}

#[test]
fn max_cache_ttl_and_max_ncache_ttl_clamp() {
    let z = zone(&[
        ("long.example", Data::A(vec![[192, 0, 2, 9]], 2_000_000_000)),
        ("nx.example", Data::NxDomain(99_999, 99_999)),
    ]);
    let mut c = config(&[UP1]);
    c.cache.ttl.max_ttl = 3600;
    c.cache.ttl.max_ncache_ttl = 120;
    let mut d = Driver::new(forwarder(c, 3));
    d.client(CLIENT, query(1, "long.example", rtype::A, true));
    d.client(CLIENT, query(2, "nx.example", rtype::A, true));
    d.serve(&[UP1], &z);
    let r = d.take_to(addr(CLIENT));
    assert_eq!(first_a(&r[0].payload).unwrap().1, 3600);
    let nx = Message::parse(&r[1].payload).unwrap();
    assert_eq!(nx.authority().next().unwrap().ttl, 120);
}

#[test]
fn cd_bit_partitions_the_cache() {
    let z = zone_a(300);
    let mut d = Driver::new(forwarder(config(&[UP1]), 4));
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    d.serve(&[UP1], &z);
    let mut q = query(2, "www.example", rtype::A, true).to_vec();
    q[3] |= 0x10; // CD
    d.client(CLIENT, q.into());
    let up = d.take_to(addr(UP1));
    assert_eq!(up.len(), 1, "CD=1 must not be served from a CD=0 entry");
    assert!(Message::parse(&up[0].payload).unwrap().header().cd());
}

fn stale_config() -> lvs_dns::forwarder::ForwarderConfig {
    let mut c = config(&[UP1]);
    c.stale = StaleConfig {
        cache_enable: true,
        answer_enable: true,
        ..StaleConfig::default()
    };
    c.timing.min_timeout = Duration::from_secs(1);
    c
}

#[test]
fn stale_answer_after_client_timeout_then_refresh_hold_off() {
    let z = zone_a(20);
    let mut d = Driver::new(forwarder(stale_config(), 5));
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    d.serve(&[UP1], &z);
    d.take_to(addr(CLIENT));
    // Expired; the forwarder is dead from now on (its queries are never answered).
    d.advance(Duration::from_secs(25));
    let asked = d.now;
    d.client(CLIENT, query(2, "www.example", rtype::A, true));
    assert_eq!(
        d.take_to(addr(UP1)).len(),
        1,
        "a stale entry is refreshed first"
    );
    d.advance(Duration::from_millis(1799));
    assert!(d.take_to(addr(CLIENT)).is_empty());
    d.advance(Duration::from_millis(1));
    let r = d.take_to(addr(CLIENT));
    assert_eq!(r.len(), 1, "stale answer at the 1.8 s client timeout");
    assert_eq!(d.now - asked, Duration::from_millis(1800));
    let m = Message::parse(&r[0].payload).unwrap();
    assert_eq!(m.answers().next().unwrap().ttl, 30);
    assert_eq!(
        m.edns().unwrap().ede().unwrap().info_code,
        Ede::STALE_ANSWER
    );
    // Let the fetch fail completely; within 30 s stale is served without asking upstream.
    d.advance(Duration::from_secs(15));
    d.take_to(addr(UP1));
    d.client(CLIENT, query(3, "www.example", rtype::A, true));
    assert!(d.take_to(addr(UP1)).is_empty());
    assert_eq!(d.take_to(addr(CLIENT)).len(), 1);
    // After the hold-off the next query asks again.
    d.advance(Duration::from_secs(31));
    d.client(CLIENT, query(4, "www.example", rtype::A, true));
    assert_eq!(d.take_to(addr(UP1)).len(), 1);
    // Past max-stale-ttl the entry is gone: a plain miss, SERVFAIL when the fetch fails.
    d.advance(Duration::from_secs(90_000));
    d.take_to(addr(CLIENT));
    d.client(CLIENT, query(5, "www.example", rtype::A, true));
    d.advance(Duration::from_secs(20));
    let r = d.take_to(addr(CLIENT));
    assert_eq!(
        Message::parse(&r[0].payload).unwrap().rcode(),
        rcode::SERVFAIL
    );
}

#[test]
fn serve_stale_off_means_servfail() {
    let z = zone_a(20);
    let mut d = Driver::new(forwarder(stale_config(), 6));
    d.fwd.set_serve_stale(false);
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    d.serve(&[UP1], &z);
    d.take_to(addr(CLIENT));
    d.advance(Duration::from_secs(25));
    d.client(CLIENT, query(2, "www.example", rtype::A, true));
    d.advance(Duration::from_secs(20));
    let r = d.take_to(addr(CLIENT));
    assert_eq!(r.len(), 1, "exactly one reply");
    assert_eq!(
        Message::parse(&r[0].payload).unwrap().rcode(),
        rcode::SERVFAIL
    );
}

#[test]
fn prefetch_in_the_last_tenth_of_the_ttl() {
    let z = zone_a(100);
    let mut d = Driver::new(forwarder(config(&[UP1]), 7));
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    assert_eq!(d.serve(&[UP1], &z), 1);
    d.advance_to(Instant::from_secs(50));
    d.client(CLIENT, query(2, "www.example", rtype::A, true));
    assert_eq!(d.serve(&[UP1], &z), 0, "no prefetch at 50 % of the TTL");
    d.advance_to(Instant::from_secs(91));
    d.client(CLIENT, query(3, "www.example", rtype::A, true));
    assert_eq!(
        d.take_to(addr(CLIENT)).len(),
        2 + 1,
        "hits answered at once"
    );
    assert_eq!(d.serve(&[UP1], &z), 1, "a hit in the last 10 % prefetches");
    assert_eq!(d.fwd.stats().prefetches, 1);
    d.advance_to(Instant::from_secs(105));
    d.client(CLIENT, query(4, "www.example", rtype::A, true));
    assert_eq!(d.serve(&[UP1], &z), 0, "the refreshed entry still serves");
    let r = d.take_to(addr(CLIENT));
    assert_eq!(first_a(&r[0].payload).unwrap().1, 86);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// TTLs never grow across hits, and a served answer is never older than its TTL (no
    /// stale serving configured here).
    #[test]
    fn ttl_never_grows_across_hits(ttl in 1u32..500, gaps in prop::collection::vec(0u64..40_000, 1..30)) {
        let z = zone_a(ttl);
        let mut d = Driver::new(forwarder(config(&[UP1]), 8));
        let mut last: Option<u32> = None;
        let mut fetched_at = Instant::ZERO;
        for (i, gap) in gaps.into_iter().enumerate() {
            d.advance(Duration::from_millis(gap));
            let hits = d.fwd.stats().cache_hits;
            d.client(CLIENT, query(i as u16, "www.example", rtype::A, true));
            let is_hit = d.fwd.stats().cache_hits > hits;
            // A miss is answered by this fetch; a prefetch replaces the entry after the reply.
            let fetched = d.serve(&[UP1], &z) > 0;
            let r = d.take_to(addr(CLIENT));
            prop_assert_eq!(r.len(), 1);
            let (_, got) = first_a(&r[0].payload).unwrap();
            if is_hit {
                if let Some(prev) = last {
                    prop_assert!(got <= prev, "TTL grew from {} to {}", prev, got);
                }
                let age = (d.now - fetched_at).as_secs();
                prop_assert!(u64::from(got) + age <= u64::from(ttl), "answer older than its TTL");
            } else {
                prop_assert!(fetched);
                prop_assert_eq!(got, ttl);
            }
            if fetched {
                fetched_at = d.now;
            }
            last = if fetched { None } else { Some(got) };
        }
    }
}
