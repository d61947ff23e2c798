//! Reconfiguring a synchronised client in simulation (what SIGHUP does in lvs-ntpd): a server
//! added at run time is polled with iburst and joins the survivors; removing the system peer
//! hands the clock to another server without a step or a jump in the offset.

mod support;

use lvs_core::{Instant, StateMachine};
use lvs_ntp::client::{Event, Tally, Timer};
use support::{Scenario, ServerSpec, World};

const SEEDS: u64 = 10;
const ADD_AT: f64 = 600.0;
const REMOVE_AT: f64 = 1800.0;
const END: f64 = 3600.0;

/// Three good servers, the client configured with the first two; 20 ms and 30 ppm off.
fn scenario(seed: u64) -> Scenario {
    let mut sc = Scenario::single(seed);
    sc.servers = (0..3)
        .map(|i| {
            let mut s = ServerSpec::new(i, 0.0, 100e-6);
            s.config.iburst = true;
            s
        })
        .collect();
    sc.clock_offset = 0.02;
    sc.clock_freq_ppm = 30.0;
    sc.duration = END;
    sc
}

fn at(secs: f64) -> Instant {
    Instant::from_nanos((secs * 1e9) as u64)
}

#[test]
fn servers_added_and_removed_at_run_time() {
    let (mut peer_gaps, mut rmss) = (Vec::new(), Vec::new());
    for seed in 0..SEEDS {
        let mut w = World::new(scenario(seed));
        let r = w.reconfigure(&[0, 1]);
        assert_eq!((r.kept, r.removed), (2, 1), "seed {seed}");
        w.run_until(ADD_AT);
        let sync = w.trace.sync_time(1e-3).expect("synchronised");
        assert!(sync < 300.0, "seed {seed}: sync after {sync} s");
        assert!(
            w.trace.requests[2] == 0,
            "seed {seed}: server 2 not configured"
        );
        let kept_before: Vec<_> = w.client.associations(at(ADD_AT)).collect();

        // Add server 2.
        let r = w.reconfigure(&[0, 1, 2]);
        assert_eq!((r.kept, r.added, r.removed), (2, 1, 0), "seed {seed}");
        let kept_after: Vec<_> = w.client.associations(at(ADD_AT)).take(2).collect();
        assert_eq!(
            kept_after, kept_before,
            "seed {seed}: kept associations changed"
        );
        let (first, _) = w.client.poll_timeout().expect("a deadline");
        assert!(
            first < at(ADD_AT + 1.0),
            "seed {seed}: first poll at {first}"
        );
        w.run_until(ADD_AT + 60.0);
        let times = &w.trace.request_times[2];
        assert!(times.len() >= 8, "seed {seed}: {times:?}");
        assert!(times[0] >= ADD_AT && times[0] < ADD_AT + 1.0, "seed {seed}");
        for pair in times[..8].windows(2) {
            assert!(
                (pair[1] - pair[0] - 2.0).abs() < 1e-6,
                "seed {seed}: {times:?}"
            );
        }
        let new = w
            .client
            .association(2, at(ADD_AT + 60.0))
            .expect("mobilised");
        assert!(new.reach != 0, "seed {seed}: {new:?}");
        assert!(
            matches!(new.tally, Tally::Candidate | Tally::SystemPeer),
            "seed {seed}: {new:?}"
        );
        w.run_until(REMOVE_AT);

        // Remove the system peer.
        let peer = w.client.system_peer().expect("a system peer");
        let gone = w.server_index(peer).expect("a scenario server");
        let keep: Vec<usize> = (0..3).filter(|&i| i != gone).collect();
        let others_before = w.trace.other.len();
        let r = w.reconfigure(&keep);
        assert!(r.peer_removed, "seed {seed}");
        let new_peer = w.client.system_peer().expect("another system peer at once");
        assert_ne!(new_peer, peer);
        assert!(
            w.trace.other[others_before..]
                .iter()
                .any(|e| e.1 == Event::SystemPeer { server: new_peer }),
            "seed {seed}: {:?}",
            &w.trace.other[others_before..]
        );
        assert!(
            w.client.poll_timeout().is_some_and(|(_, why)| match why {
                Timer::Poll { association } => association < 2,
                Timer::Discipline => true,
            }),
            "seed {seed}"
        );
        let requests_to_gone = w.trace.requests[gone];
        w.run();
        assert_eq!(
            w.trace.requests[gone], requests_to_gone,
            "seed {seed}: a removed server was polled"
        );
        assert!(w.trace.steps.is_empty(), "seed {seed}: {:?}", w.trace.steps);
        let (rms, max) = w.trace.rms_max_after(REMOVE_AT);
        assert!(rms < 300e-6, "seed {seed}: RMS {rms} after the removal");
        assert!(max < 1e-3, "seed {seed}: max {max} after the removal");
        let (_, max_before) = w.trace.rms_max_after(sync);
        assert!(max_before < 1e-3, "seed {seed}");
        let updates_after = w.trace.slews.iter().filter(|s| s.0 > REMOVE_AT).count();
        assert!(updates_after > 0, "seed {seed}: the new peer never updated");
        let when = w
            .trace
            .slews
            .iter()
            .find(|s| s.0 > REMOVE_AT)
            .map_or(f64::INFINITY, |s| s.0);
        peer_gaps.push(when - REMOVE_AT);
        rmss.push(rms * 1e6);
    }
    let (gm, gs) = support::mean_sd(&peer_gaps);
    let (rm, rs) = support::mean_sd(&rmss);
    println!(
        "reconfigure, {SEEDS} seeds: first update from the new peer {gm:.0} ± {gs:.0} s after \
         the removal; RMS afterwards {rm:.1} ± {rs:.1} µs"
    );
}
