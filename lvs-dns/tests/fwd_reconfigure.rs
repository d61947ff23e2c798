//! `Forwarder::reconfigure` (`rndc reload`): the cache survives a changed configuration,
//! lower TTL ceilings shorten stored entries, a smaller budget evicts down to it, and fetches
//! in flight move to the new forwarders.

mod support;

use core::time::Duration;

use lvs_dns::forwarder::{ConfigError, DropReason, MatchList};
use lvs_dns::wire::{Message, rcode, rtype};
use support::*;

const CLIENT: &str = "192.0.2.10:5353";

fn zone_www(ttl: u32) -> std::collections::BTreeMap<String, Data> {
    let mut entries = vec![
        ("www.example".to_owned(), Data::A(vec![[192, 0, 2, 1]], ttl)),
        ("gone.example".to_owned(), Data::NxDomain(900, 900)),
    ];
    for i in 0..60 {
        entries.push((
            format!("n{i}.example"),
            Data::A(vec![[198, 51, 100, i]], ttl),
        ));
    }
    entries.into_iter().collect()
}

#[test]
fn the_cache_survives_a_new_forwarder_list() {
    let z = zone_www(300);
    let mut d = Driver::new(forwarder(config(&[UP1]), 1));
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    assert_eq!(d.serve(&[UP1], &z), 1);
    d.take_to(addr(CLIENT));

    d.advance(Duration::from_secs(5));
    let r = d.fwd.reconfigure(d.now, config(&[UP2])).unwrap();
    assert_eq!((r.forwarders_added, r.forwarders_removed), (1, 1));
    assert_eq!(r.cache.kept, 1);
    assert_eq!(d.fwd.servers().len(), 1);
    assert_eq!(d.fwd.servers()[0].addr, addr(UP2));

    d.client(CLIENT, query(2, "www.example", rtype::A, true));
    assert!(d.take_to(addr(UP1)).is_empty() && d.take_to(addr(UP2)).is_empty());
    let hit = d.take_to(addr(CLIENT));
    assert_eq!(first_a(&hit[0].payload), Some(([192, 0, 2, 1], 295)));

    // A miss goes to the new forwarder only.
    d.client(CLIENT, query(3, "n1.example", rtype::A, true));
    assert!(d.take_to(addr(UP1)).is_empty());
    assert_eq!(d.serve(&[UP2], &z), 1);
    assert_eq!(
        first_a(&d.take_to(addr(CLIENT))[0].payload).unwrap().0,
        [198, 51, 100, 1]
    );
}

#[test]
fn a_surviving_forwarder_keeps_what_the_machine_learnt() {
    let z = zone_www(300);
    let mut d = Driver::new(forwarder(config(&[UP1]), 2));
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    d.advance(Duration::from_millis(30));
    d.serve(&[UP1], &z);
    let srtt = d.fwd.servers()[0].srtt_us;
    assert!(srtt > 1000);
    let r = d.fwd.reconfigure(d.now, config(&[UP2, UP1])).unwrap();
    assert_eq!((r.forwarders_added, r.forwarders_removed), (1, 0));
    let kept = d
        .fwd
        .servers()
        .iter()
        .find(|s| s.addr == addr(UP1))
        .unwrap();
    assert_eq!((kept.srtt_us, kept.responses), (srtt, 1));
}

#[test]
fn lower_ttl_ceilings_shorten_cached_entries() {
    let z = zone_www(300);
    let mut d = Driver::new(forwarder(config(&[UP1]), 3));
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    d.client(CLIENT, query(2, "gone.example", rtype::A, true));
    d.serve(&[UP1], &z);
    d.take_to(addr(CLIENT));
    d.advance(Duration::from_secs(10));

    let mut c = config(&[UP1]);
    c.cache.ttl.max_ttl = 60;
    c.cache.ttl.max_ncache_ttl = 30;
    let r = d.fwd.reconfigure(d.now, c).unwrap();
    assert_eq!((r.cache.kept, r.cache.shortened), (2, 2));

    d.client(CLIENT, query(3, "www.example", rtype::A, true));
    d.client(CLIENT, query(4, "gone.example", rtype::A, true));
    assert!(
        d.take_to(addr(UP1)).is_empty(),
        "both still valid: served from the cache"
    );
    let r = d.take_to(addr(CLIENT));
    assert_eq!(first_a(&r[0].payload).unwrap().1, 50);
    let nx = Message::parse(&r[1].payload).unwrap();
    assert_eq!(nx.rcode(), rcode::NXDOMAIN);
    assert_eq!(nx.authority().next().unwrap().ttl, 20);

    // Past the new negative ceiling the NXDOMAIN is fetched again; the A entry is still fresh.
    d.advance(Duration::from_secs(21));
    d.client(CLIENT, query(5, "gone.example", rtype::A, true));
    d.client(CLIENT, query(6, "www.example", rtype::A, true));
    assert_eq!(d.serve(&[UP1], &z), 1);
    // Past the new positive ceiling too.
    d.advance(Duration::from_secs(30));
    d.client(CLIENT, query(7, "www.example", rtype::A, true));
    assert_eq!(d.serve(&[UP1], &z), 1);
}

#[test]
fn a_smaller_budget_evicts_down_to_it() {
    let z = zone_www(3600);
    let mut d = Driver::new(forwarder(config(&[UP1]), 4));
    for i in 0..60u16 {
        d.client(CLIENT, query(i, &format!("n{i}.example"), rtype::A, false));
    }
    assert_eq!(d.serve(&[UP1], &z), 60);
    d.take_to(addr(CLIENT));
    assert_eq!(d.fwd.cache().len(), 60);
    // Touch the first ten, so CLOCK keeps them.
    for i in 0..10u16 {
        d.client(
            CLIENT,
            query(100 + i, &format!("n{i}.example"), rtype::A, false),
        );
    }
    assert_eq!(d.take_to(addr(CLIENT)).len(), 10);
    let per_entry = d.fwd.cache().bytes() / 60;
    let budget = per_entry * 20;
    let mut c = config(&[UP1]);
    c.cache.max_size = budget;
    let r = d.fwd.reconfigure(d.now, c).unwrap();
    assert!(
        d.fwd.cache().bytes() <= budget,
        "{} > {budget}",
        d.fwd.cache().bytes()
    );
    assert_eq!(r.cache.kept, d.fwd.cache().len());
    assert_eq!(r.cache.kept + r.cache.evicted, 60);
    assert!(r.cache.evicted >= 40);
    for i in 0..10u16 {
        d.client(
            CLIENT,
            query(200 + i, &format!("n{i}.example"), rtype::A, false),
        );
    }
    assert!(
        d.take_to(addr(UP1)).is_empty(),
        "recently used entries survive"
    );
    assert_eq!(d.take_to(addr(CLIENT)).len(), 10);
}

#[test]
fn a_fetch_to_a_removed_forwarder_moves_to_the_new_one() {
    let z = zone_www(300);
    let mut d = Driver::new(forwarder(config(&[UP1]), 5));
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    let old = d.take_to(addr(UP1));
    assert_eq!(old.len(), 1);
    d.advance(Duration::from_millis(10));
    let r = d.fwd.reconfigure(d.now, config(&[UP2])).unwrap();
    assert_eq!(r.fetches_kept, 1);
    assert_eq!(d.fwd.in_flight_udp().count(), 1);
    assert!(d.fwd.in_flight_udp().all(|(_, s)| s == addr(UP2)));
    // The old forwarder's reply is no longer accepted.
    let late = respond(&z, &old[0].payload, false, false);
    d.datagram(lvs_core::Datagram::new(
        addr(UP1),
        old[0].src.unwrap(),
        late,
    ));
    assert_eq!(d.fwd.stats().dropped(DropReason::UpstreamUnexpected), 1);
    assert!(d.take_to(addr(CLIENT)).is_empty());
    assert_eq!(d.serve(&[UP2], &z), 1);
    let reply = d.take_to(addr(CLIENT));
    assert_eq!(first_a(&reply[0].payload).unwrap().0, [192, 0, 2, 1]);
    assert_eq!((d.fwd.pending_fetches(), d.fwd.waiting_clients()), (0, 0));
}

#[test]
fn new_acls_apply_and_an_invalid_configuration_changes_nothing() {
    let z = zone_www(300);
    let mut d = Driver::new(forwarder(config(&[UP1]), 6));
    d.client(CLIENT, query(1, "www.example", rtype::A, true));
    d.serve(&[UP1], &z);
    d.take_to(addr(CLIENT));
    assert_eq!(
        d.fwd.reconfigure(d.now, config(&[])).unwrap_err(),
        ConfigError::NoForwarders
    );
    assert_eq!(d.fwd.servers()[0].addr, addr(UP1));
    let mut c = config(&[UP1]);
    c.access.allow_query = MatchList::none();
    d.fwd.reconfigure(d.now, c).unwrap();
    d.client(CLIENT, query(2, "www.example", rtype::A, true));
    let r = d.take_to(addr(CLIENT));
    assert_eq!(
        Message::parse(&r[0].payload).unwrap().rcode(),
        rcode::REFUSED
    );
    assert_eq!(d.fwd.cache().len(), 1, "refusing does not touch the cache");
}
