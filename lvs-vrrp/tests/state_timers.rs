//! Timer arithmetic: RFC formulas in nanoseconds, never truncated to zero, and the deadlines a
//! running instance actually arms.

mod common;

use core::time::Duration;

use common::*;
use lvs_core::{Instant, StateMachine};
use lvs_vrrp::state::timing::{master_down_interval, skew_time, v2_interval, v3_interval};
use lvs_vrrp::state::{Settings, Timer};

#[test]
fn reference_table_values() {
    // vrp.md §4.1: (version, interval, priority) -> (MDI, skew).
    let cases = [
        (2, v2_interval(1), 100, 3_609_375_000, 609_375_000),
        (2, v2_interval(1), 254, 3_007_812_500, 7_812_500),
        (3, v3_interval(100), 100, 3_609_375_000, 609_375_000),
        (3, v3_interval(10), 100, 360_937_500, 60_937_500),
        (3, v3_interval(1), 100, 36_093_750, 6_093_750),
    ];
    for (version, interval, prio, mdi, skew) in cases {
        assert_eq!(skew_time(version, prio, interval).as_nanos(), skew);
        assert_eq!(
            master_down_interval(version, prio, interval, 3).as_nanos(),
            mdi
        );
    }
}

#[test]
fn v2_skew_scales_one_second_whatever_the_interval() {
    assert_eq!(
        skew_time(2, 100, v2_interval(5)),
        skew_time(2, 100, v2_interval(1))
    );
    assert_eq!(
        master_down_interval(2, 100, v2_interval(5), 3),
        Duration::from_nanos(15_609_375_000)
    );
}

#[test]
fn skew_is_never_zero_and_orders_every_priority_at_10ms_and_1s() {
    for (version, interval) in [
        (3, Duration::from_millis(10)),
        (3, Duration::from_secs(1)),
        (2, Duration::from_secs(1)),
    ] {
        let mut last_mdi = Duration::MAX;
        for prio in 1..=254u8 {
            let skew = skew_time(version, prio, interval);
            let mdi = master_down_interval(version, prio, interval, 3);
            assert!(skew > Duration::ZERO, "v{version} {interval:?} prio {prio}");
            assert!(mdi > 3 * interval);
            assert!(
                mdi < last_mdi,
                "higher priority must time out first (prio {prio})"
            );
            last_mdi = mdi;
        }
    }
    // Priority 254 at 10 ms: 78.125 µs, the case integer centiseconds would make zero.
    assert_eq!(
        skew_time(3, 254, Duration::from_millis(10)),
        Duration::from_nanos(78_125)
    );
}

#[test]
fn down_timer_adverts_replaces_the_factor_three() {
    assert_eq!(
        master_down_interval(3, 100, v3_interval(100), 5),
        Duration::from_nanos(5_609_375_000)
    );
    let mut s = Settings::new(addr(2));
    s.down_timer_adverts = 5;
    let mut b = lvs_vrrp::state::Instance::new(config(100, v3(100)), s).unwrap();
    b.start(Instant::ZERO);
    assert_eq!(
        b.poll_timeout(),
        Some((Instant::from_nanos(5_609_375_000), Timer::MasterDown))
    );
}

#[test]
fn instances_arm_the_formula_deadlines_for_every_priority() {
    for (version, interval) in [
        (v3(1), Duration::from_millis(10)),
        (v3(100), Duration::from_secs(1)),
        (v2(1), Duration::from_secs(1)),
    ] {
        for prio in [1u8, 2, 100, 128, 253, 254] {
            let mut b = instance(2, prio, version);
            b.start(Instant::ZERO);
            let mdi = master_down_interval(version.number(), prio, interval, 3);
            assert_eq!(b.master_down_interval(), mdi);
            assert_eq!(
                b.poll_timeout(),
                Some((Instant::ZERO + mdi, Timer::MasterDown))
            );
            // A resign shortens the wait to the skew.
            b.handle_datagram(ms(1), advert(1, 0, version));
            let skew = skew_time(version.number(), prio, interval);
            assert_eq!(b.poll_timeout(), Some((ms(1) + skew, Timer::MasterDown)));
        }
    }
}

#[test]
fn v3_backup_learns_the_master_interval_and_skew_follows_it() {
    let mut b = instance(2, 100, v3(100));
    b.start(Instant::ZERO);
    b.handle_datagram(ms(5), advert(1, 200, v3(1)));
    assert_eq!(b.master_adver_interval(), Duration::from_millis(10));
    assert_eq!(b.skew_time(), Duration::from_nanos(6_093_750));
    assert_eq!(
        b.poll_timeout(),
        Some((ms(5) + Duration::from_nanos(36_093_750), Timer::MasterDown))
    );
}

#[test]
fn skew_uses_the_effective_priority() {
    let mut b = instance(2, 100, v3(100));
    b.set_track(Instant::ZERO, "script", true, 50).unwrap();
    assert_eq!(b.priority(), 150);
    assert_eq!(b.skew_time(), skew_time(3, 150, Duration::from_secs(1)));
}
