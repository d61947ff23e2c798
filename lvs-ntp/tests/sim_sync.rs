//! Start-up and steady-state accuracy of the client against the clock model (ntp.md §6.2 S1,
//! S4): sync times and RMS offsets over many seeds.

mod support;

use lvs_ntp::client::Event;
use support::{Scenario, mean_sd, run};

const SEEDS: u64 = 20;

/// chrony's default scenario with iburst: one server, 100 µs jitter, the client 0.1 s off and
/// 100 ppm fast or slow, 10 000 s.
#[test]
fn single_server_syncs_within_target_and_holds() {
    let mut syncs = Vec::new();
    let mut rmss = Vec::new();
    for seed in 0..SEEDS {
        let mut sc = Scenario::single(seed);
        sc.duration = 10_000.0;
        sc.servers[0].config.iburst = true;
        sc.clock_offset = if seed % 2 == 0 { 0.1 } else { -0.1 };
        sc.clock_freq_ppm = if seed % 4 < 2 { 100.0 } else { -100.0 };
        let w = run(sc);
        let sync = w.trace.sync_time(1e-3).expect("synchronised by the end");
        let (rms, max) = w.trace.rms_max_after(sync);
        assert!(
            (120.0..=210.0).contains(&sync),
            "seed {seed}: sync after {sync} s"
        );
        assert!(rms <= 300e-6, "seed {seed}: RMS {rms}");
        assert!(max < 1e-3, "seed {seed}: max {max}");
        assert!(w.trace.steps.is_empty(), "seed {seed}: 0.1 s is slewed");
        assert_eq!(w.trace.panics, 0);
        let freq_err = w.client.frequency_ppm() + w.clock.freq_err * 1e6;
        assert!(
            freq_err.abs() < 0.1,
            "seed {seed}: frequency error {freq_err} ppm"
        );
        syncs.push(sync);
        rmss.push(rms * 1e6);
    }
    let (sm, ss) = mean_sd(&syncs);
    let (rm, rs) = mean_sd(&rmss);
    let worst = rmss.iter().fold(0.0f64, |a, &b| a.max(b));
    println!(
        "S1 iburst, {SEEDS} seeds: sync {sm:.1} ± {ss:.1} s (min {:.0}, max {:.0}); \
         RMS after sync {rm:.1} ± {rs:.1} µs (worst {worst:.1})",
        syncs.iter().fold(f64::MAX, |a, &b| a.min(b)),
        syncs.iter().fold(0.0f64, |a, &b| a.max(b)),
    );
}

/// The same without iburst: the RFC filter needs four samples at 64 s before a server is fit,
/// so the first update only comes after about three minutes.
#[test]
fn single_server_without_iburst_syncs_within_ten_minutes() {
    let mut syncs = Vec::new();
    let mut rmss = Vec::new();
    for seed in 0..SEEDS {
        let mut sc = Scenario::single(seed);
        sc.duration = 10_000.0;
        sc.clock_freq_ppm = if seed % 2 == 0 { 100.0 } else { -100.0 };
        let w = run(sc);
        let sync = w.trace.sync_time(1e-3).expect("synchronised by the end");
        let (rms, max) = w.trace.rms_max_after(sync);
        assert!(sync <= 600.0, "seed {seed}: sync after {sync} s");
        assert!(
            rms <= 300e-6 && max < 1e-3,
            "seed {seed}: RMS {rms} max {max}"
        );
        syncs.push(sync);
        rmss.push(rms * 1e6);
    }
    let (sm, ss) = mean_sd(&syncs);
    let (rm, rs) = mean_sd(&rmss);
    println!("S1 no iburst, {SEEDS} seeds: sync {sm:.1} ± {ss:.1} s; RMS {rm:.1} ± {rs:.1} µs");
}

/// iburst with the frequency known from a drift file (S4): a 0.5 s offset is stepped once at
/// the first update and the clock is within 1 ms before 10 s, for good.
#[test]
fn iburst_with_known_drift_syncs_within_ten_seconds() {
    let mut firsts = Vec::new();
    let mut syncs = Vec::new();
    for seed in 0..SEEDS {
        let mut sc = Scenario::single(seed);
        sc.duration = 3600.0;
        sc.servers[0].config.iburst = true;
        sc.clock_offset = if seed % 2 == 0 { 0.5 } else { -0.5 };
        sc.clock_freq_ppm = 100.0;
        // The drift file: the correction that cancels the oscillator's error.
        sc.config.discipline.initial_frequency_ppm = Some(-100.0);
        let w = run(sc);
        let sync = w.trace.sync_time(1e-3).expect("synchronised");
        assert!(sync <= 10.0, "seed {seed}: sync after {sync} s");
        assert_eq!(w.trace.steps.len(), 1, "seed {seed}: exactly one step");
        let first = w.trace.steps[0].0;
        assert!(first <= 8.0, "seed {seed}: first step at {first} s");
        assert_eq!(
            w.trace.frequencies.first().map(|f| f.1),
            Some(-100.0),
            "the drift-file frequency is set first"
        );
        firsts.push(first);
        syncs.push(sync);
    }
    let (fm, fs) = mean_sd(&firsts);
    let (sm, ss) = mean_sd(&syncs);
    println!("S4 iburst + drift file: first step {fm:.2} ± {fs:.2} s; sync {sm:.2} ± {ss:.2} s");
}

/// A large offset with an unknown frequency: one step, never another.
#[test]
fn large_initial_offset_is_stepped_exactly_once() {
    for seed in 0..SEEDS {
        let mut sc = Scenario::single(seed);
        sc.duration = 7200.0;
        sc.servers[0].config.iburst = true;
        sc.clock_offset = -0.5;
        sc.clock_freq_ppm = 100.0;
        let w = run(sc);
        assert_eq!(w.trace.steps.len(), 1, "seed {seed}");
        let sync = w.trace.sync_time(1e-3).expect("synchronised");
        assert!(sync <= 120.0, "seed {seed}: sync after {sync} s");
        assert!(
            !w.trace
                .other
                .iter()
                .any(|e| matches!(e.1, Event::Panic { .. }))
        );
    }
}

/// Beyond the panic threshold nothing is corrected; with the `-g` allowance the first update
/// steps.
#[test]
fn panic_threshold_is_honoured() {
    let mut sc = Scenario::single(1);
    sc.duration = 600.0;
    sc.servers[0].config.iburst = true;
    sc.clock_offset = 2000.0;
    let w = run(sc.clone());
    assert!(w.trace.panics > 0);
    assert!(w.trace.steps.is_empty() && w.trace.slews.is_empty());
    sc.config.discipline.allow_first_panic = true;
    let w = run(sc);
    assert_eq!(w.trace.panics, 0);
    assert_eq!(w.trace.steps.len(), 1);
    assert!(w.trace.sync_time(1e-3).is_some());
}
