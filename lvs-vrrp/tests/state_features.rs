//! Single-instance stories for keepalived's features and the extensions: tracking, unicast,
//! announcements, preempt_delay, fast preempt, handover, stalls, drift, explain, sync groups.

mod common;

use core::net::IpAddr;
use core::time::Duration;

use common::*;
use lvs_core::{Instant, StateMachine};
use lvs_vrrp::config::{Transport, UnicastConfig};
use lvs_vrrp::state::{
    CommandError, ConfigError, Drift, Event, Instance, Reason, Settings, State, SyncGroup, Timer,
};
use lvs_vrrp::stats::DropReason;
use lvs_vrrp::wire::{Addresses, Auth, ChecksumVariant, VersionRepr, VrrpRepr};

fn master_with(tune: impl FnOnce(&mut Settings)) -> (Instance, Instant) {
    let mut s = Settings::new(addr(2));
    tune(&mut s);
    let mut m = Instance::new(config(100, v3(100)), s).unwrap();
    m.start(Instant::ZERO);
    let t = Instant::ZERO + m.master_down_interval();
    m.handle_timeout(t);
    drain(&mut m);
    assert_eq!(m.state(), State::Master);
    (m, t)
}

#[test]
fn invalid_configurations_are_refused() {
    let s = Settings::new(addr(2));
    let bad = |c, s: &Settings| Instance::new(c, s.clone()).unwrap_err();
    assert_eq!(bad(config(0, v3(100)), &s), ConfigError::Priority);
    assert_eq!(bad(config(100, v3(0)), &s), ConfigError::Interval);
    assert_eq!(bad(config(100, v3(4096)), &s), ConfigError::Interval);
    assert_eq!(bad(config(100, v2(0)), &s), ConfigError::Interval);
    let mut c = config(100, v3(100));
    c.vrid = 0;
    assert_eq!(bad(c, &s), ConfigError::Vrid);
    let v6 = Settings::new("fe80::1".parse().unwrap());
    assert_eq!(bad(config(100, v3(100)), &v6), ConfigError::Family);
    let mut s3 = s.clone();
    s3.down_timer_adverts = 0;
    assert_eq!(
        bad(config(100, v3(100)), &s3),
        ConfigError::DownTimerAdverts
    );
}

#[test]
fn track_weights_change_the_advertised_priority_at_the_next_tick_only() {
    let (mut m, t0) = master_with(|_| {});
    m.set_track(t0, "script", false, -60).unwrap();
    assert_eq!(m.priority(), 40);
    let (tx, ev) = drain(&mut m);
    assert!(tx.is_empty(), "a priority change forces no advert");
    assert!(ev.is_empty());
    m.handle_timeout(t0 + Duration::from_secs(1));
    let (tx, _) = drain(&mut m);
    assert_eq!(tx_priority(&tx[0]), 40);
    let t1 = t0 + Duration::from_secs(1);
    assert_eq!(m.set_track(t1, "x", true, 254), Err(CommandError::Weight));
    assert!(m.remove_track(t1, "script"));
    assert_eq!(m.priority(), 100);
}

#[test]
fn owner_priority_is_fixed_whatever_the_tracks() {
    let mut m = instance(1, 255, v3(100));
    m.set_track(Instant::ZERO, "script", false, -100).unwrap();
    assert_eq!(m.priority(), 255);
}

#[test]
fn unicast_adverts_go_to_each_peer_with_the_unicast_ttl() {
    let mut c = config(255, v3(100));
    c.transport = Transport::Unicast(UnicastConfig::new(vec![addr(3), addr(4)]));
    let mut s = Settings::new(addr(2));
    s.unicast_ttl = 64;
    let mut m = Instance::new(c, s).unwrap();
    m.start(Instant::ZERO);
    let (tx, _) = drain(&mut m);
    let dsts: Vec<IpAddr> = tx.iter().map(|t| t.dst.ip()).collect();
    assert_eq!(dsts, [addr(3), addr(4)]);
    assert!(tx.iter().all(|t| t.meta.ttl == Some(64)));
    // The pseudo-header uses each real destination, so the checksums differ.
    assert_ne!(tx[0].payload, tx[1].payload);
}

#[test]
fn announcements_follow_garp_master_delay_and_refresh() {
    let (mut m, t0) = master_with(|s| {
        s.announce.master_delay = Duration::from_secs(5);
        s.announce.refresh = Duration::from_secs(60);
        s.announce.refresh_repeat = 2;
    });
    assert_eq!(m.stats().announces, 1);
    let second = t0 + Duration::from_secs(5);
    m.handle_timeout(second);
    let (_, ev) = drain(&mut m);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Announce { repeat: 5, .. }))
    );
    let refresh = second + Duration::from_secs(60);
    assert_eq!(
        m.explain(second).scheduled.map(|s| s.what),
        Some(Timer::Advert)
    );
    m.handle_timeout(refresh);
    let (_, ev) = drain(&mut m);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Announce { repeat: 2, .. }))
    );
    assert_eq!(m.stats().announces, 3);
}

#[test]
fn a_stalled_master_sends_one_advert_and_one_burst_for_the_whole_backlog() {
    let (mut m, t0) = master_with(|s| s.announce.refresh = Duration::from_secs(1));
    let thaw = t0 + Duration::from_secs(8);
    // Eight lower-priority adverts queued during the freeze arrive at once.
    for _ in 0..8 {
        m.handle_datagram(thaw, advert(1, 50, v3(100)));
    }
    m.handle_timeout(thaw);
    let (tx, ev) = drain(&mut m);
    assert_eq!(tx.len(), 1, "one advert, not a backlog");
    assert_eq!(announces(&ev), 1, "one burst, not a backlog");
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Late {
            timer: Timer::Advert,
            ..
        }
    )));
    assert_eq!(m.stats().lower_prio_rate_limited, 7);
    assert_eq!(
        m.poll_timeout().map(|x| x.0),
        Some(thaw + Duration::from_secs(1))
    );
}

#[test]
fn preempt_delay_holds_a_better_backup_in_place_for_the_delay() {
    let mut s = Settings::new(addr(2));
    s.preempt_delay = Duration::from_secs(2);
    let mut b = Instance::new(config(200, v3(100)), s).unwrap();
    b.start(Instant::ZERO);
    // Lower-priority adverts reset the timer for 2 s after the first one ...
    for t in [1000, 2000, 2999] {
        b.handle_datagram(ms(t), advert(1, 100, v3(100)));
    }
    let mdi = b.master_down_interval();
    assert_eq!(b.poll_timeout(), Some((ms(2999) + mdi, Timer::MasterDown)));
    // ... then they are discarded and the timer runs out.
    b.handle_datagram(ms(3000), advert(1, 100, v3(100)));
    b.handle_datagram(ms(4000), advert(1, 100, v3(100)));
    assert_eq!(b.poll_timeout(), Some((ms(2999) + mdi, Timer::MasterDown)));
    b.handle_timeout(ms(2999) + mdi);
    assert_eq!(b.state(), State::Master);
}

#[test]
fn fast_preempt_takes_over_after_skew_instead_of_the_full_interval() {
    let mut s = Settings::new(addr(2));
    s.fast_preempt = true;
    let mut b = Instance::new(config(150, v3(100)), s).unwrap();
    b.start(Instant::ZERO);
    b.handle_datagram(ms(1000), advert(1, 200, v3(100)));
    // The master's priority drops to 100 (its track failed).
    b.handle_datagram(ms(2000), advert(1, 100, v3(100)));
    let skew = b.skew_time();
    assert_eq!(b.poll_timeout(), Some((ms(2000) + skew, Timer::MasterDown)));
}

#[test]
fn handover_resigns_and_stays_backup_until_reclaim() {
    let (mut m, t0) = master_with(|_| {});
    assert_eq!(
        instance(9, 100, v3(100)).handover(t0),
        Err(CommandError::NotMaster)
    );
    let t = t0 + Duration::from_millis(100);
    m.handover(t).unwrap();
    let (tx, ev) = drain(&mut m);
    assert_eq!(tx_priority(&tx[0]), 0);
    assert_eq!(transitions(&ev), [State::Backup]);
    assert!(m.explain(t).yielded);
    // A lower-priority successor is accepted as master.
    let t2 = t + Duration::from_millis(700);
    m.handle_datagram(t2, advert(1, 50, v3(100)));
    let mdi = m.master_down_interval();
    assert_eq!(m.poll_timeout(), Some((t2 + mdi, Timer::MasterDown)));
    // After reclaim, it preempts again: the next lower advert does not reset the timer.
    m.reclaim(t2);
    m.handle_datagram(t2 + Duration::from_secs(1), advert(1, 50, v3(100)));
    assert_eq!(m.poll_timeout(), Some((t2 + mdi, Timer::MasterDown)));
}

#[test]
fn own_adverts_and_bad_packets_are_counted_not_acted_on() {
    let mut b = instance(2, 100, v3(100));
    b.start(Instant::ZERO);
    b.handle_datagram(ms(1), advert(2, 200, v3(100)));
    assert_eq!(b.stats().own_adverts, 1);
    let mut d = advert(1, 200, v3(100));
    d.meta.ttl = Some(254);
    b.handle_datagram(ms(2), d);
    let mut d = advert(1, 200, v3(100));
    d.payload = d.payload.slice(..5);
    b.handle_datagram(ms(3), d);
    assert_eq!(b.stats().rx[DropReason::Ttl], 1);
    assert_eq!(b.stats().rx[DropReason::Truncated], 1);
    assert_eq!(
        b.poll_timeout().map(|x| x.0),
        Some(Instant::ZERO + b.master_down_interval())
    );
}

fn drifts(ev: &[Event]) -> Vec<Drift> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Drift { drift, .. } => Some(drift.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_peer_with_another_vip_set_is_reported_once_before_split_brain() {
    let mut b = instance(2, 100, v3(100));
    b.start(Instant::ZERO);
    drain(&mut b);
    let other: IpAddr = "10.0.0.200".parse().unwrap();
    let repr = VrrpRepr {
        vrid: VRID,
        priority: 200,
        version: v3(100),
        addresses: Addresses::V4(vec![VIP, "10.0.0.200".parse().unwrap()]),
    };
    for k in 0..3 {
        b.handle_datagram(
            ms(k * 1000),
            advert_with(addr(1), &repr, ChecksumVariant::PseudoHeader),
        );
    }
    let (_, ev) = drain(&mut b);
    assert_eq!(
        drifts(&ev),
        [Drift::VipSet {
            theirs: vec![VIP.into(), other]
        }]
    );
    assert_eq!(b.stats().rx[DropReason::AddressList], 3);
    let peer = b.peer(addr(1)).unwrap();
    assert!(!peer.accepted && peer.drifting());
    assert_eq!(peer.adverts, 3);
    assert_eq!(b.explain(ms(2000)).drifting_peers, [addr(1)]);
    // The peer fixes its config: the flag clears.
    b.handle_datagram(ms(3000), advert(1, 200, v3(100)));
    assert!(!b.peer(addr(1)).unwrap().drifting());
}

#[test]
fn v2_interval_and_auth_mismatches_are_reported() {
    let mut b = instance(2, 100, v2(1));
    b.start(Instant::ZERO);
    drain(&mut b);
    b.handle_datagram(ms(1), advert(1, 200, v2(2)));
    let pass = VersionRepr::V2 {
        auth: Auth::simple_text(b"secret"),
        adver_int: 1,
    };
    b.handle_datagram(ms(2), advert(3, 200, pass));
    let (_, ev) = drain(&mut b);
    assert_eq!(
        drifts(&ev),
        [Drift::AdverInt { theirs: 2, ours: 1 }, Drift::Auth]
    );
}

#[test]
fn a_checksum_variant_we_do_not_send_is_reported() {
    // We send the RFC 5798 / keepalived variant; the peer follows RFC 9568.
    let mut b = instance(2, 100, v3(100));
    b.start(Instant::ZERO);
    drain(&mut b);
    let repr = VrrpRepr {
        vrid: VRID,
        priority: 200,
        version: v3(100),
        addresses: Addresses::V4(vec![VIP]),
    };
    b.handle_datagram(
        ms(1),
        advert_with(addr(1), &repr, ChecksumVariant::NoPseudoHeader),
    );
    let (_, ev) = drain(&mut b);
    assert_eq!(
        drifts(&ev),
        [Drift::ChecksumVariant {
            theirs: ChecksumVariant::NoPseudoHeader,
            ours: ChecksumVariant::PseudoHeader
        }]
    );
    // Accepted (auto-latched), so no split brain on our side.
    assert_eq!(b.stats().rx.accepted(), 1);
}

#[test]
fn explain_says_who_is_master_and_when_we_take_over() {
    let mut b = instance(2, 100, v3(100));
    b.start(Instant::ZERO);
    b.handle_datagram(ms(1000), advert(1, 200, v3(100)));
    let e = b.explain(ms(1500));
    assert_eq!(e.state, State::Backup);
    assert_eq!(e.reason, Reason::Startup);
    let master = e.master.unwrap();
    assert_eq!(
        (master.addr, master.priority, master.heard),
        (addr(1), 200, Some(ms(1000)))
    );
    assert_eq!(e.next.map(|n| n.addr), Some(addr(2)));
    assert_eq!(e.next_transition, Some(ms(1000) + b.master_down_interval()));
    let text = e.to_string();
    assert!(text.contains("BACKUP since"), "{text}");
    assert!(text.contains("master: 10.0.0.1 priority 200"), "{text}");
    // As master, the former master is next.
    b.handle_timeout(ms(1000) + b.master_down_interval());
    let e = b.explain(ms(5000));
    assert_eq!(e.master.map(|m| m.addr), Some(addr(2)));
    assert_eq!(e.next.map(|n| (n.addr, n.priority)), Some((addr(1), 200)));
    assert_eq!(e.next_transition, None);
}

#[test]
fn sync_group_members_fault_and_follow_together() {
    let mut v = vec![instance(2, 100, v3(100)), instance(2, 100, v3(100))];
    let mut g = SyncGroup::new([0, 1]);
    for i in &mut v {
        i.start(Instant::ZERO);
    }
    assert_eq!(g.reconcile(Instant::ZERO, &mut v), Ok(false));
    // Member 0 times out first (fed directly); member 1 follows to master.
    let t = Instant::ZERO + v[0].master_down_interval();
    v[0].handle_timeout(t);
    assert_eq!(g.reconcile(t, &mut v), Ok(true));
    assert_eq!(v[1].state(), State::Master);
    let (tx, ev) = drain(&mut v[1]);
    assert_eq!(tx.len(), 1);
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::StateChanged {
            reason: Reason::SyncGroup,
            ..
        }
    )));
    // Member 1's link fails: both fault.
    v[1].set_track(t, "eth1", false, 0).unwrap();
    assert_eq!(g.reconcile(t, &mut v), Ok(true));
    assert_eq!((v[0].state(), v[1].state()), (State::Fault, State::Fault));
    assert!(g.is_faulted());
    // Recovery: both back to backup.
    v[1].set_track(t, "eth1", true, 0).unwrap();
    assert_eq!(g.reconcile(t, &mut v), Ok(true));
    assert_eq!((v[0].state(), v[1].state()), (State::Backup, State::Backup));
    // Member 0 loses to a better peer as master: member 1 follows to backup.
    let t2 = t + v[0].master_down_interval();
    v[0].handle_timeout(t2);
    v[1].handle_timeout(t2);
    g.reconcile(t2, &mut v).unwrap();
    v[0].handle_datagram(t2, advert(1, 200, v3(100)));
    assert_eq!(g.reconcile(t2, &mut v), Ok(true));
    assert_eq!((v[0].state(), v[1].state()), (State::Backup, State::Backup));
    assert_eq!(
        SyncGroup::new([5]).reconcile(t2, &mut v),
        Err(CommandError::UnknownMember)
    );
}
