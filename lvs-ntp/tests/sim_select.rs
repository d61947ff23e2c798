//! Source selection against falsetickers (ntp.md §6.2 S5): five servers, some of them wrong.

mod support;

use lvs_core::Instant;
use lvs_ntp::client::{Event, Tally};
use support::{Scenario, ServerSpec, World};

const SEEDS: u64 = 20;

fn five(seed: u64, offsets: [f64; 5]) -> Scenario {
    let mut sc = Scenario::single(seed);
    sc.servers = offsets
        .iter()
        .enumerate()
        .map(|(i, &o)| {
            let mut s = ServerSpec::new(i as u8, o, 100e-6);
            s.config.iburst = true;
            s
        })
        .collect();
    sc.clock_offset = 0.02;
    sc.clock_freq_ppm = 30.0;
    sc.duration = 4000.0;
    sc
}

/// Runs `sc` in one-minute slices and checks after each that no falseticker is combined.
fn run_checked(sc: Scenario, bad: &[usize]) -> World {
    let seed = sc.seed;
    let end = sc.duration;
    let mut w = World::new(sc);
    let mut t = 0.0;
    while t < end {
        t += 60.0;
        w.run_until(t);
        let now = Instant::from_nanos((t * 1e9) as u64);
        for &i in bad {
            let s = w.client.association(i, now).expect("configured");
            assert!(
                !matches!(s.tally, Tally::Candidate | Tally::SystemPeer),
                "seed {seed}: falseticker {i} is {:?} at {t} s",
                s.tally
            );
        }
    }
    w
}

#[test]
fn one_or_two_falsetickers_of_five_are_rejected() {
    let (mut syncs, mut rmss) = (Vec::new(), Vec::new());
    for seed in 0..SEEDS {
        for (bad, offsets) in [
            (&[3usize][..], [0.0, 0.0, 0.0, 0.050, 0.0]),
            (&[1, 4][..], [0.0, 0.060, 0.0, 0.0, -0.045]),
            (&[0, 2][..], [0.080, 0.0, 0.081, 0.0, 0.0]),
        ] {
            let w = run_checked(five(seed, offsets), bad);
            let now = Instant::from_secs(4000);
            let tallies: Vec<Tally> = w.client.associations(now).map(|a| a.tally).collect();
            for &i in bad {
                assert_eq!(
                    tallies[i],
                    Tally::Falseticker,
                    "seed {seed}: {tallies:?} (falsetickers {bad:?})"
                );
            }
            let sync = w.trace.sync_time(1e-3).expect("synchronised");
            assert!(sync < 300.0, "seed {seed}: sync after {sync} s");
            let (rms, _) = w.trace.rms_max_after(sync);
            assert!(rms < 300e-6, "seed {seed}: RMS {rms}");
            assert!(w.trace.steps.is_empty(), "seed {seed}: no step");
            syncs.push(sync);
            rmss.push(rms * 1e6);
        }
    }
    let (sm, ss) = support::mean_sd(&syncs);
    let (rm, rs) = support::mean_sd(&rmss);
    println!(
        "S5 1–2 falsetickers of 5, {} runs: sync {sm:.1} ± {ss:.1} s; RMS {rm:.1} ± {rs:.1} µs",
        syncs.len()
    );
}

/// Three of five servers are wrong, each differently: no majority clique exists. At start-up
/// every correctness interval is still about a second wide, so the first updates cannot tell
/// (as in any RFC 5905 implementation); once the intervals shrink, selection finds no
/// majority and the clock is left alone.
#[test]
fn three_scattered_falsetickers_leave_no_majority() {
    for seed in 0..SEEDS {
        let sc = five(seed, [0.0, 0.050, 0.0, -0.070, 0.140]);
        let mut w = World::new(sc);
        w.run_until(120.0);
        let before = (
            w.trace.slews.len(),
            w.trace.steps.len(),
            w.trace.frequencies.len(),
        );
        let peers_before = w.trace.other.len();
        w.run_until(4000.0);
        assert!(w.client.stats().no_majority > 0, "seed {seed}");
        assert_eq!(
            (
                w.trace.slews.len(),
                w.trace.steps.len(),
                w.trace.frequencies.len()
            ),
            before,
            "seed {seed}: the clock was adjusted without a majority"
        );
        assert_eq!(
            w.trace.other.len(),
            peers_before,
            "seed {seed}: {:?}",
            w.trace.other
        );
        let now = Instant::from_secs(4000);
        assert!(
            w.client
                .associations(now)
                .all(|a| a.tally == Tally::Falseticker),
            "seed {seed}"
        );
        // Unsupervised for an hour, the 30 ppm oscillator drifted away.
        assert!(w.clock.offset.abs() > 0.05);
        assert!(
            !w.trace
                .other
                .iter()
                .any(|e| matches!(e.1, Event::Step { .. }))
        );
    }
}
