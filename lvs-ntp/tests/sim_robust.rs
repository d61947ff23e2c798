//! Robustness scenarios (ntp.md §6.2 S7, S8): popcorn spikes, the 2036 era rollover and
//! leap warnings.

mod support;

use lvs_core::Instant;
use lvs_ntp::client::Event;
use lvs_ntp::wire::LeapIndicator;
use support::{ERA1_UNIX, Scenario, run};

const SEEDS: u64 = 20;

fn synced(seed: u64) -> Scenario {
    let mut sc = Scenario::single(seed);
    sc.servers[0].config.iburst = true;
    sc.duration = 4000.0;
    sc
}

/// One reply delayed by 0.5 s (a 250 ms offset error) after the clock has settled.
#[test]
fn popcorn_spike_causes_no_step_and_no_excursion() {
    for seed in 0..SEEDS {
        // Replies 1–8 are the iburst; reply 20 arrives well after sync.
        for n in [12u64, 20, 25] {
            let mut sc = synced(seed);
            sc.spike = Some((0, n, 0.5));
            let w = run(sc);
            assert!(w.trace.steps.is_empty(), "seed {seed} spike {n}: stepped");
            let sync = w.trace.sync_time(1e-3).expect("synchronised");
            assert!(sync <= 210.0, "seed {seed} spike {n}: sync {sync}");
            // No slew ever asks for more than the 0.1 s start-up correction.
            assert!(
                w.trace.slews.iter().all(|s| s.1.abs() <= 0.1),
                "seed {seed} spike {n}: {:?}",
                w.trace.slews
            );
        }
    }
}

/// The same run across 2036-02-07T06:28:16Z and in 2025 gives the same clock trajectory.
#[test]
fn era_rollover_causes_no_jump() {
    for seed in 0..SEEDS {
        let mut before = synced(seed);
        before.duration = 8000.0;
        let mut across = before.clone();
        // The rollover falls about an hour into the run, after sync.
        across.start_unix = ERA1_UNIX - 3600;
        let a = run(before);
        let b = run(across);
        assert!(
            b.trace.steps.is_empty() && b.trace.panics == 0,
            "seed {seed}"
        );
        assert_eq!(a.trace.samples.len(), b.trace.samples.len());
        let worst = a
            .trace
            .samples
            .iter()
            .zip(&b.trace.samples)
            .map(|(x, y)| (x.1 - y.1).abs())
            .fold(0.0f64, f64::max);
        assert!(
            worst < 1e-6,
            "seed {seed}: trajectories differ by {worst} s"
        );
        let sync = b.trace.sync_time(1e-3).expect("synchronised");
        let (_, max) = b.trace.rms_max_after(sync);
        assert!(max < 1e-3, "seed {seed}: max offset {max} after sync");
        // The reference timestamp the server side would advertise is in era 1 now (its
        // seconds wrapped past zero).
        let sys = b.client.system_state(Instant::from_secs(8000));
        assert!(sys.synchronized);
        assert!(sys.reference.seconds() < 10_000, "{}", sys.reference);
    }
}

/// A server announcing a leap second: the survivors' vote arms it and the server side
/// passes it on.
#[test]
fn leap_warning_is_voted_and_advertised() {
    let mut sc = synced(3);
    sc.servers[0].leap = LeapIndicator::InsertSecond;
    sc.duration = 600.0;
    let w = run(sc);
    assert!(
        w.trace
            .other
            .iter()
            .any(|e| e.1 == Event::Leap(LeapIndicator::InsertSecond))
    );
    let sys = w.client.system_state(Instant::from_secs(600));
    assert_eq!(sys.leap, LeapIndicator::InsertSecond);
    assert_eq!(sys.stratum, 2);
}
