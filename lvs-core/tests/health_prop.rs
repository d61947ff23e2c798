//! Property: without damping or re-entry, the reported state changes exactly when a reference
//! hysteresis model says it should: after `rise` consecutive passes while down, after `fall`
//! consecutive failures (unanswered probes included) while up, and at no other time.

use core::time::Duration;

use lvs_core::Instant;
use lvs_core::health::{CheckConfig, Checker, Event, FailReason, ProbeResult, ProbeSpec};
use proptest::prelude::*;

/// One probe's fate: answered with a pass, answered with a failure, or never answered.
#[derive(Debug, Clone, Copy)]
enum Fate {
    Pass,
    Fail,
    Silent,
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        3 => Just(Fate::Pass),
        2 => Just(Fate::Fail),
        1 => Just(Fate::Silent),
    ]
}

/// The reference: (probe index, new state) for every change.
fn model(fates: &[Fate], rise: u32, fall: u32, alpha: bool) -> Vec<(usize, bool)> {
    let (mut up, mut passes, mut fails) = (!alpha, 0, 0);
    let mut out = Vec::new();
    for (i, f) in fates.iter().enumerate() {
        if matches!(f, Fate::Pass) {
            passes += 1;
            fails = 0;
            if !up && passes >= rise {
                up = true;
                out.push((i, true));
            }
        } else {
            fails += 1;
            passes = 0;
            if up && fails >= fall {
                up = false;
                out.push((i, false));
            }
        }
    }
    out
}

/// Run the checker over `fates`, attributing every up/down event to the probe whose outcome
/// caused it.
fn run(fates: &[Fate], cfg: CheckConfig) -> Vec<(usize, bool)> {
    let mut ch = Checker::new();
    ch.add_check(Instant::ZERO, 0u32, cfg).unwrap();
    let mut out = Vec::new();
    let mut record = |ch: &mut Checker<u32>, i: usize, probes: &mut usize| {
        while let Some(ev) = ch.poll_event() {
            match ev {
                Event::Probe { .. } => *probes += 1,
                Event::Up { .. } => out.push((i, true)),
                Event::Down { reason, .. } => {
                    if reason != lvs_core::health::Reason::Alpha {
                        out.push((i, false));
                    }
                }
                Event::Weight { .. } => panic!("no weights in this test"),
            }
        }
    };
    let mut probes = 0;
    record(&mut ch, 0, &mut probes);
    for (i, f) in fates.iter().enumerate() {
        // Fire deadlines until the i-th probe is requested; an unanswered previous probe
        // times out on the way and its consequences belong to probe i - 1.
        while probes <= i {
            let (at, _) = ch.poll_timeout().expect("a check always has a deadline");
            ch.handle_timeout(at);
            record(&mut ch, i.saturating_sub(1), &mut probes);
            let now = at;
            if probes > i {
                let r = match f {
                    Fate::Pass => Some(ProbeResult::Pass),
                    Fate::Fail => Some(ProbeResult::Fail(FailReason::Mismatch)),
                    Fate::Silent => None,
                };
                if let Some(r) = r {
                    ch.report(now, 0, r).unwrap();
                    record(&mut ch, i, &mut probes);
                }
            }
        }
    }
    // Let a last unanswered probe time out.
    if let Some((at, lvs_core::health::Timer::ProbeDeadline)) = ch.poll_timeout() {
        ch.handle_timeout(at);
        record(&mut ch, fates.len() - 1, &mut probes);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn state_changes_only_after_rise_or_fall_in_a_row(
        fates in prop::collection::vec(fate(), 1..80),
        rise in 1u32..5,
        fall in 1u32..5,
        alpha in any::<bool>(),
        interval_ms in 100u64..5000,
        timeout_ms in 1u64..3000,
    ) {
        let mut cfg = CheckConfig::new("192.0.2.1:80".parse().unwrap(), ProbeSpec::Tcp);
        cfg.rise = rise;
        cfg.fall = fall;
        cfg.alpha = alpha;
        cfg.interval = Duration::from_millis(interval_ms);
        cfg.timeout = Duration::from_millis(timeout_ms);
        prop_assert_eq!(run(&fates, cfg), model(&fates, rise, fall, alpha));
    }
}
