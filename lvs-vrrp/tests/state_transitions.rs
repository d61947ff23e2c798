//! One story per row of the transition table (RFC 3768 / RFC 5798 §6.4 and keepalived), with a
//! single instance fed by hand at `Instant::ZERO + k ms`.

mod common;

use core::time::Duration;

use common::*;
use lvs_core::{Instant, StateMachine};
use lvs_vrrp::state::{Event, Instance, LowerPriority, Reason, Settings, State, Timer};

/// v3, 1 s, priority 100: MDI 3.609375 s, skew 609.375 ms.
const MDI_US: u64 = 3_609_375;
const SKEW_US: u64 = 609_375;

fn at_us(us: u64) -> Instant {
    Instant::from_nanos(us * 1000)
}

fn started_backup() -> Instance {
    let mut b = instance(2, 100, v3(100));
    b.start(Instant::ZERO);
    drain(&mut b);
    b
}

/// A master (priority 100) reached through Master_Down at 3.609375 s.
fn started_master(tune: impl FnOnce(&mut Settings)) -> (Instance, Instant) {
    let mut s = Settings::new(addr(2));
    tune(&mut s);
    let mut m = Instance::new(config(100, v3(100)), s).unwrap();
    m.start(Instant::ZERO);
    let t = at_us(MDI_US);
    m.handle_timeout(t);
    drain(&mut m);
    assert_eq!(m.state(), State::Master);
    (m, t)
}

#[test]
fn owner_starts_as_master_advertises_and_announces_at_once() {
    let mut m = instance(1, 255, v3(100));
    m.start(Instant::ZERO);
    let (tx, ev) = drain(&mut m);
    assert_eq!(m.state(), State::Master);
    assert_eq!(tx.len(), 1);
    assert_eq!(tx_priority(&tx[0]), 255);
    assert_eq!(tx[0].dst.ip(), group());
    assert_eq!(tx[0].meta.ttl, Some(255));
    assert_eq!(tx[0].src.map(|s| s.ip()), Some(addr(1)));
    assert_eq!(
        ev[0],
        Event::StateChanged {
            from: State::Initialize,
            to: State::Master,
            reason: Reason::Owner
        }
    );
    assert_eq!(
        ev[1],
        Event::Vips {
            vips: vec![VIP.into()]
        }
    );
    assert!(matches!(&ev[2], Event::Announce { repeat: 5, .. }));
    assert_eq!(m.poll_timeout(), Some((ms(1000), Timer::Advert)));
}

#[test]
fn backup_starts_waiting_one_master_down_interval_with_no_addresses() {
    let mut b = instance(2, 100, v3(100));
    b.start(Instant::ZERO);
    let (tx, ev) = drain(&mut b);
    assert!(tx.is_empty());
    assert_eq!(transitions(&ev), [State::Backup]);
    assert!(ev.contains(&Event::Vips { vips: vec![] }));
    assert_eq!(b.poll_timeout(), Some((at_us(MDI_US), Timer::MasterDown)));
    assert_eq!(b.master_adver_interval(), Duration::from_secs(1));
}

#[test]
fn backup_shutdown_cancels_the_timer_and_stops_silently() {
    let mut b = started_backup();
    b.shutdown(ms(500));
    let (tx, ev) = drain(&mut b);
    assert!(tx.is_empty());
    assert_eq!(b.state(), State::Initialize);
    assert_eq!(
        ev,
        [Event::StateChanged {
            from: State::Backup,
            to: State::Initialize,
            reason: Reason::Shutdown
        }]
    );
    assert_eq!(b.poll_timeout(), None);
    // A stopped instance ignores adverts.
    b.handle_datagram(ms(600), advert(1, 200, v3(100)));
    assert_eq!(b.stats().inactive, 1);
}

#[test]
fn backup_becomes_master_when_the_master_down_timer_fires() {
    let mut b = started_backup();
    b.handle_timeout(at_us(MDI_US - 1));
    assert_eq!(b.state(), State::Backup);
    b.handle_timeout(at_us(MDI_US));
    let (tx, ev) = drain(&mut b);
    assert_eq!(b.state(), State::Master);
    assert_eq!(tx.len(), 1);
    assert_eq!(tx_priority(&tx[0]), 100);
    assert_eq!(transitions(&ev), [State::Master]);
    assert!(ev.contains(&Event::Vips {
        vips: vec![VIP.into()]
    }));
    assert_eq!(announces(&ev), 1);
    assert_eq!(
        b.poll_timeout(),
        Some((at_us(MDI_US + 1_000_000), Timer::Advert))
    );
}

#[test]
fn backup_waits_only_skew_time_after_the_master_resigns() {
    let mut b = started_backup();
    b.handle_datagram(ms(1000), advert(1, 200, v3(100)));
    b.handle_datagram(ms(1500), advert(1, 0, v3(100)));
    assert_eq!(
        b.poll_timeout(),
        Some((at_us(1_500_000 + SKEW_US), Timer::MasterDown))
    );
    b.handle_timeout(at_us(1_500_000 + SKEW_US));
    assert_eq!(b.state(), State::Master);
}

#[test]
fn backup_resets_its_timer_on_a_higher_priority_advert_and_learns_the_interval() {
    let mut b = started_backup();
    // The master advertises every 2 s: MDI becomes 3·2 + 1.21875 s.
    b.handle_datagram(ms(1000), advert(1, 200, v3(200)));
    assert_eq!(b.master_adver_interval(), Duration::from_secs(2));
    assert_eq!(
        b.poll_timeout(),
        Some((at_us(1_000_000 + 7_218_750), Timer::MasterDown))
    );
    // Equal priority also resets.
    b.handle_datagram(ms(3000), advert(1, 100, v3(200)));
    assert_eq!(
        b.poll_timeout(),
        Some((at_us(3_000_000 + 7_218_750), Timer::MasterDown))
    );
    assert_eq!(b.state(), State::Backup);
}

#[test]
fn nopreempt_backup_accepts_a_lower_priority_master() {
    let mut s = Settings::new(addr(2));
    s.preempt = false;
    let mut b = Instance::new(config(200, v3(100)), s).unwrap();
    b.start(Instant::ZERO);
    b.handle_datagram(ms(1000), advert(1, 50, v3(100)));
    let mdi = b.master_down_interval();
    assert_eq!(b.poll_timeout(), Some((ms(1000) + mdi, Timer::MasterDown)));
}

#[test]
fn preempting_backup_discards_a_lower_priority_advert_without_resetting_its_timer() {
    let mut b = started_backup();
    b.handle_datagram(ms(1000), advert(1, 200, v3(100)));
    let deadline = at_us(1_000_000 + MDI_US);
    b.handle_datagram(ms(2000), advert(1, 50, v3(100)));
    b.handle_datagram(ms(3000), advert(1, 50, v3(100)));
    assert_eq!(b.poll_timeout(), Some((deadline, Timer::MasterDown)));
    b.handle_timeout(deadline);
    assert_eq!(b.state(), State::Master);
}

#[test]
fn master_advertises_on_every_advert_timer() {
    let (mut m, t0) = started_master(|_| {});
    for k in 1..=3u64 {
        let t = t0 + Duration::from_secs(k);
        m.handle_timeout(t);
        let (tx, _) = drain(&mut m);
        assert_eq!(tx.len(), 1);
        assert_eq!(tx_priority(&tx[0]), 100);
        assert_eq!(
            m.poll_timeout().map(|x| x.0),
            Some(t + Duration::from_secs(1))
        );
    }
}

#[test]
fn master_shutdown_sends_priority_zero_and_stops() {
    let (mut m, t0) = started_master(|_| {});
    m.shutdown(t0 + Duration::from_millis(10));
    let (tx, ev) = drain(&mut m);
    assert_eq!(tx.len(), 1);
    assert_eq!(tx_priority(&tx[0]), 0);
    assert_eq!(m.state(), State::Initialize);
    assert_eq!(transitions(&ev), [State::Initialize]);
    assert!(ev.contains(&Event::Vips { vips: vec![] }));
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn master_answers_a_priority_zero_advert_and_rearms() {
    let (mut m, t0) = started_master(|_| {});
    let t = t0 + Duration::from_millis(300);
    m.handle_datagram(t, advert(1, 0, v3(100)));
    let (tx, _) = drain(&mut m);
    assert_eq!(tx.len(), 1);
    assert_eq!(tx_priority(&tx[0]), 100);
    assert_eq!(
        m.poll_timeout(),
        Some((t + Duration::from_secs(1), Timer::Advert))
    );
}

#[test]
fn master_yields_to_a_higher_priority_advert_and_learns_its_interval() {
    let (mut m, t0) = started_master(|_| {});
    let t = t0 + Duration::from_millis(300);
    m.handle_datagram(t, advert(1, 150, v3(50)));
    let (tx, ev) = drain(&mut m);
    assert!(tx.is_empty());
    assert_eq!(m.state(), State::Backup);
    assert_eq!(
        ev[0],
        Event::StateChanged {
            from: State::Master,
            to: State::Backup,
            reason: Reason::HigherPriority {
                peer: addr(1),
                priority: 150
            }
        }
    );
    assert!(ev.contains(&Event::Vips { vips: vec![] }));
    assert_eq!(m.master_adver_interval(), Duration::from_millis(500));
    // 3·0.5 s + (156·0.5/256) s
    assert_eq!(
        m.poll_timeout(),
        Some((t + Duration::from_nanos(1_804_687_500), Timer::MasterDown))
    );
}

#[test]
fn equal_priority_ties_break_by_primary_address() {
    // We are 10.0.0.2. A peer at 10.0.0.3 with equal priority wins.
    let (mut m, t0) = started_master(|_| {});
    m.handle_datagram(t0 + Duration::from_millis(100), advert(1, 100, v3(100)));
    assert_eq!(m.state(), State::Master);
    m.handle_datagram(t0 + Duration::from_millis(200), advert(3, 100, v3(100)));
    assert_eq!(m.state(), State::Backup);
}

#[test]
fn master_answers_a_lower_priority_advert_at_once_by_default() {
    let (mut m, t0) = started_master(|_| {});
    let t = t0 + Duration::from_millis(300);
    m.handle_datagram(t, advert(1, 50, v3(100)));
    let (tx, ev) = drain(&mut m);
    assert_eq!(m.state(), State::Master);
    assert_eq!(tx.len(), 1);
    assert!(ev.contains(&Event::MasterRxLowerPriority {
        peer: addr(1),
        priority: 50
    }));
    assert_eq!(announces(&ev), 1);
    assert_eq!(
        m.poll_timeout().map(|x| x.0),
        Some(t + Duration::from_secs(1))
    );
}

#[test]
fn master_discards_a_lower_priority_advert_under_the_rfc_5798_rule() {
    let (mut m, t0) = started_master(|s| s.lower_priority = LowerPriority::Discard);
    m.handle_datagram(t0 + Duration::from_millis(300), advert(1, 50, v3(100)));
    let (tx, ev) = drain(&mut m);
    assert_eq!(m.state(), State::Master);
    assert!(tx.is_empty());
    assert_eq!(announces(&ev), 0);
    assert_eq!(
        m.poll_timeout().map(|x| x.0),
        Some(t0 + Duration::from_secs(1))
    );
}

#[test]
fn a_weight_zero_track_failure_faults_a_master_which_resigns() {
    let (mut m, t0) = started_master(|_| {});
    let t = t0 + Duration::from_millis(100);
    m.set_track(t, "eth0", false, 0).unwrap();
    let (tx, ev) = drain(&mut m);
    assert_eq!(m.state(), State::Fault);
    assert_eq!(tx.len(), 1);
    assert_eq!(tx_priority(&tx[0]), 0);
    assert_eq!(
        ev[0],
        Event::StateChanged {
            from: State::Master,
            to: State::Fault,
            reason: Reason::TrackFault {
                track: "eth0".into()
            }
        }
    );
    assert!(ev.contains(&Event::Vips { vips: vec![] }));
    assert_eq!(m.poll_timeout(), None);
    // Recovery waits as backup.
    let t2 = t + Duration::from_secs(5);
    m.set_track(t2, "eth0", true, 0).unwrap();
    let (_, ev) = drain(&mut m);
    assert_eq!(transitions(&ev), [State::Backup]);
    assert_eq!(
        m.poll_timeout(),
        Some((t2 + m.master_down_interval(), Timer::MasterDown))
    );
}

#[test]
fn an_instance_started_with_a_failed_track_starts_in_fault() {
    let mut b = instance(2, 100, v3(100));
    b.set_track(Instant::ZERO, "link", false, 0).unwrap();
    b.start(Instant::ZERO);
    let (_, ev) = drain(&mut b);
    assert_eq!(transitions(&ev), [State::Fault]);
    assert_eq!(b.poll_timeout(), None);
    // A fault instance learns who is master but does not act.
    b.handle_datagram(ms(100), advert(1, 200, v3(100)));
    assert_eq!(b.state(), State::Fault);
    assert_eq!(b.explain(ms(100)).master.map(|m| m.addr), Some(addr(1)));
}

#[test]
fn owner_ignores_adverts_even_higher_addresses() {
    let mut m = instance(1, 255, v3(100));
    m.start(Instant::ZERO);
    m.handle_datagram(ms(10), advert(9, 255, v3(100)));
    assert_eq!(m.state(), State::Master);
    assert_eq!(m.stats().rx[lvs_vrrp::stats::DropReason::LocalOwner], 1);
}
