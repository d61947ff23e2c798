//! Flap damping: a flapping server is held down, and released once its penalty has decayed.

#[path = "common/health_driver.rs"]
mod driver;

use core::time::Duration;

use driver::Driver;
use lvs_core::Instant;
use lvs_core::health::{
    CheckConfig, ConfigError, Damper, Damping, DampingError, Event, FailReason, HealthError,
    ProbeResult, ProbeSpec, Reason, Timer,
};

fn cfg() -> CheckConfig {
    let mut c = CheckConfig::new("192.0.2.10:80".parse().unwrap(), ProbeSpec::Tcp);
    c.interval = Duration::from_secs(1);
    c.timeout = Duration::from_millis(500);
    c.damping = Some(Damping::default());
    c
}

fn flap(n: usize) -> Option<ProbeResult> {
    Some(if n.is_multiple_of(2) {
        ProbeResult::Fail(FailReason::Connect)
    } else {
        ProbeResult::Pass
    })
}

#[test]
fn a_flapping_server_is_held_down_then_released_after_decay() {
    let mut d = Driver::new();
    d.add(1, cfg());
    // Fail, pass, fail, ... for 10 probes (0..=9 s), then healthy for good.
    d.run_until(Instant::from_secs(9), |_, n| flap(n));
    let evs = d.events_ms();
    // Down at 0 s (1000), up at 1 s (≈1988.5, just below 2000), down at 2 s (≈2966:
    // suppressed); from then on the rises at 3, 5, 7 and 9 s are held back.
    assert_eq!(evs.len(), 3, "{evs:?}");
    assert!(matches!(evs[0], (0, Event::Down { .. })));
    assert!(matches!(evs[1], (1000, Event::Up { .. })));
    assert!(matches!(evs[2], (2000, Event::Down { .. })));
    let st = d.checker.status(1).unwrap();
    assert!(st.suppressed && st.healthy && !st.up);
    assert_eq!(d.checker.stats().suppressed, 4);
    assert_eq!(d.checker.stats().changes, 10);

    // The penalty is capped at 6000; release is due when it has decayed to 750.
    let p9 = d.checker.penalty(1, Instant::from_secs(9)).unwrap();
    assert!(p9 > 2000.0 && p9 <= 6000.0, "{p9}");
    let expect = 9.0 + 60.0 * (p9 / 750.0).log2();
    d.log.clear();
    d.run_until(Instant::from_secs(400), |_, _| Some(ProbeResult::Pass));
    let evs = d.events_ms();
    assert_eq!(evs.len(), 1, "{evs:?}");
    let (at, ev) = &evs[0];
    assert_eq!(
        *ev,
        Event::Up {
            id: 1,
            weight: None,
            reason: Reason::Released
        }
    );
    assert!(
        (*at as f64 / 1000.0 - expect).abs() < 0.002,
        "{at} vs {expect}"
    );
    let p = d.checker.penalty(1, Instant::from_millis(*at)).unwrap();
    assert!((p - 750.0).abs() < 0.1, "{p}");
    assert!(!d.checker.status(1).unwrap().suppressed);
}

#[test]
fn one_flap_after_release_is_not_suppressed() {
    let mut d = Driver::new();
    d.add(1, cfg());
    d.run_until(Instant::from_secs(9), |_, n| flap(n));
    d.run_until(Instant::from_secs(400), |_, _| Some(ProbeResult::Pass));
    d.log.clear();
    // Released at ≈ 189 s with 750; by 400 s that has decayed far below 750, so one more
    // change (+1000) stays under the suppress threshold and is reported.
    let base = d.checker.penalty(1, Instant::from_secs(400)).unwrap();
    assert!(base < 750.0);
    d.run_until(Instant::from_secs(401), |_, _| {
        Some(ProbeResult::Fail(FailReason::Io))
    });
    assert!(matches!(d.log[..], [(_, Event::Down { .. })]));
    let after = d.checker.penalty(1, d.now).unwrap();
    assert!(after < 2000.0 && !d.checker.status(1).unwrap().suppressed);
}

#[test]
fn a_release_while_unhealthy_keeps_the_server_down() {
    let mut d = Driver::new();
    d.add(1, cfg());
    // Flap until suppressed (3 changes), then fail for good: no up at release time.
    d.run_until(Instant::from_secs(2), |_, n| flap(n));
    assert!(d.checker.status(1).unwrap().suppressed);
    d.log.clear();
    d.run_until(Instant::from_secs(200), |_, _| {
        Some(ProbeResult::Fail(FailReason::Connect))
    });
    assert!(d.log.is_empty(), "{:?}", d.log);
    let st = d.checker.status(1).unwrap();
    assert!(!st.suppressed && !st.up && !st.healthy);
    // It comes back by rise once healthy.
    d.run_until(Instant::from_secs(201), |_, _| Some(ProbeResult::Pass));
    assert_eq!(
        d.events_ms(),
        [(
            201_000,
            Event::Up {
                id: 1,
                weight: None,
                reason: Reason::Rise
            }
        )]
    );
}

#[test]
fn the_checker_penalty_follows_the_damper_arithmetic() {
    let mut d = Driver::new();
    let mut c = cfg();
    c.interval = Duration::from_secs(3600);
    d.add(1, c);
    // Probe at 0 fails (down). No further probe for an hour: feed the flaps by hand.
    d.run_until(Instant::ZERO, |_, _| {
        Some(ProbeResult::Fail(FailReason::Io))
    });
    assert_eq!(
        d.checker.poll_timeout(),
        Some((Instant::from_secs(3600), Timer::Probe))
    );
    let damping = Damping::default();
    let mut reference = Damper::default();
    assert!(!reference.flap(&damping, Instant::ZERO));
    // The checker's penalty follows the same arithmetic.
    let p = d.checker.penalty(1, Instant::from_secs(60)).unwrap();
    assert!((p - reference.penalty(&damping, Instant::from_secs(60))).abs() < 1e-9);
    assert!((p - 500.0).abs() < 1e-6, "{p}");
}

#[test]
fn damping_parameters_are_validated() {
    let bad = |d: Damping| {
        let mut c = cfg();
        c.damping = Some(d);
        lvs_core::health::Checker::<u32>::new()
            .add_check(Instant::ZERO, 1, c)
            .unwrap_err()
    };
    let base = Damping::default();
    assert_eq!(
        bad(Damping {
            reuse: 3000.0,
            ..base
        }),
        HealthError::Config(ConfigError::Damping(DampingError::Thresholds))
    );
    assert_eq!(
        bad(Damping {
            half_life: Duration::ZERO,
            ..base
        }),
        HealthError::Config(ConfigError::Damping(DampingError::NotPositive))
    );
    assert_eq!(
        bad(Damping {
            penalty: f64::NAN,
            ..base
        }),
        HealthError::Config(ConfigError::Damping(DampingError::NotPositive))
    );
}
