//! The health-check machine in virtual time: rise and fall counts, timeouts, retries,
//! re-entry, service timeout, quiesce or remove, alpha and omega, dynamic weights, misuse.

#[path = "common/health_driver.rs"]
mod driver;

use core::time::Duration;

use driver::Driver;
use lvs_core::Instant;
use lvs_core::health::judge::judge_exit_status;
use lvs_core::health::{
    CheckConfig, Checker, ConfigError, Event, FailReason, HealthError, ProbeResult, ProbeSpec,
    ProgramCheck, ProgramJudge, Reason, Timer,
};

const P: Option<ProbeResult> = Some(ProbeResult::Pass);
const F: Option<ProbeResult> = Some(ProbeResult::Fail(FailReason::Connect));

fn cfg() -> CheckConfig {
    let mut c = CheckConfig::new("192.0.2.10:80".parse().unwrap(), ProbeSpec::Tcp);
    c.interval = Duration::from_secs(1);
    c.timeout = Duration::from_millis(500);
    c
}

fn ms(s: u64) -> u64 {
    s * 1000
}

fn down(remove: bool, reason: Reason) -> Event<u32> {
    Event::Down {
        id: 1,
        remove,
        reason,
    }
}

fn up(weight: Option<u32>, reason: Reason) -> Event<u32> {
    Event::Up {
        id: 1,
        weight,
        reason,
    }
}

const FALL: Reason = Reason::Fall(FailReason::Connect);

#[test]
fn rise_and_fall_need_exact_consecutive_counts() {
    let mut c = cfg();
    c.rise = 3;
    c.fall = 2;
    let mut d = Driver::new();
    d.add(1, c);
    //            0  1  2  3  4  5  6  7  8  9  10
    let script = [P, F, P, F, F, P, P, F, P, P, P, P];
    d.run_script(Instant::from_secs(11), &script);
    assert_eq!(
        d.events_ms(),
        [(ms(4), down(false, FALL)), (ms(10), up(None, Reason::Rise))]
    );
    let st = d.checker.status(1).unwrap();
    assert!(st.up && st.healthy && !st.removed);
    assert_eq!(st.passes, 4);
    let stats = *d.checker.stats();
    assert_eq!((stats.probes, stats.passes, stats.failures), (12, 8, 4));
    assert_eq!(stats.changes, 2);
}

#[test]
fn unanswered_probes_time_out_as_failures() {
    let mut c = cfg();
    c.fall = 2;
    let mut d = Driver::new();
    d.add(1, c);
    d.run_script(Instant::from_secs(3), &[]);
    // Probes at 0 and 1 s time out at 0.5 and 1.5 s: down at 1.5 s.
    assert_eq!(
        d.events_ms()[0],
        (1500, down(false, Reason::Fall(FailReason::Timeout)))
    );
    assert_eq!(
        d.probe_times(1)[..3],
        [Instant::ZERO, Instant::from_secs(1), Instant::from_secs(2)]
    );
    assert_eq!(d.checker.stats().timeouts, 3);
    assert_eq!(
        d.checker.status(1).unwrap().last_failure,
        Some(FailReason::Timeout)
    );
}

#[test]
fn late_and_unsolicited_reports_are_ignored() {
    let mut d = Driver::new();
    d.add(1, cfg());
    // Unanswered probe at 0 s times out at 0.5 s (fall 1: down).
    d.run_script(Instant::from_millis(700), &[]);
    assert_eq!(
        d.events_ms(),
        [(500, down(false, Reason::Fall(FailReason::Timeout)))]
    );
    // The answer arrives late: no probe in flight, so it is counted and dropped.
    d.checker
        .report(Instant::from_millis(700), 1, ProbeResult::Pass)
        .unwrap();
    assert!(d.checker.poll_event().is_none());
    assert_eq!(d.checker.stats().unexpected_reports, 1);
    assert!(!d.checker.status(1).unwrap().up);
    assert_eq!(
        d.checker.poll_timeout(),
        Some((Instant::from_secs(1), Timer::Probe))
    );
}

#[test]
fn a_report_after_the_deadline_is_a_timeout_even_before_the_timer_fires() {
    let mut ch = Checker::new();
    ch.add_check(Instant::ZERO, 1u32, cfg()).unwrap();
    ch.handle_timeout(Instant::ZERO);
    assert!(matches!(ch.poll_event(), Some(Event::Probe { .. })));
    // Deadline 0.5 s; the shell reports a pass at 0.6 s without having fired the timer.
    ch.report(Instant::from_millis(600), 1, ProbeResult::Pass)
        .unwrap();
    assert_eq!(ch.stats().unexpected_reports, 1);
    assert_eq!(
        ch.poll_timeout(),
        Some((Instant::from_millis(500), Timer::ProbeDeadline))
    );
    ch.handle_timeout(Instant::from_millis(600));
    assert_eq!(
        ch.poll_event(),
        Some(Event::Down {
            id: 1,
            remove: false,
            reason: Reason::Fall(FailReason::Timeout)
        })
    );
    // A report exactly at the deadline still counts.
    ch.handle_timeout(Instant::from_secs(1));
    assert!(matches!(ch.poll_event(), Some(Event::Probe { .. })));
    ch.report(Instant::from_millis(1500), 1, ProbeResult::Pass)
        .unwrap();
    assert!(matches!(ch.poll_event(), Some(Event::Up { .. })));
}

#[test]
fn retry_interval_applies_only_while_an_up_server_is_falling() {
    let mut c = cfg();
    c.interval = Duration::from_secs(10);
    c.retry_interval = Some(Duration::from_secs(1));
    c.fall = 3;
    let mut d = Driver::new();
    d.add(1, c);
    d.run_script(Instant::from_secs(30), &[F, F, F, F, P]);
    let secs: Vec<u64> = d
        .probe_times(1)
        .iter()
        .map(|t| t.as_nanos() / 1_000_000_000)
        .collect();
    assert_eq!(secs, [0, 1, 2, 12, 22]);
    assert_eq!(
        d.events_ms(),
        [(ms(2), down(false, FALL)), (ms(22), up(None, Reason::Rise))]
    );
}

#[test]
fn reentry_waits_for_a_failure_free_period() {
    let mut c = cfg();
    c.reentry = Duration::from_secs(5);
    let mut d = Driver::new();
    d.add(1, c.clone());
    // Down at 1 s; passes from 2 s, but only at 6 s is the last failure 5 s old.
    d.run_script(Instant::from_secs(8), &[P, F, P, P, P, P, P, P, P]);
    assert_eq!(
        d.events_ms(),
        [(ms(1), down(false, FALL)), (ms(6), up(None, Reason::Rise))]
    );

    // A failure during the wait restarts it: last failure at 4 s, up at 9 s.
    let mut d = Driver::new();
    d.add(1, c);
    d.run_script(Instant::from_secs(12), &[P, F, P, P, F, P, P, P, P, P, P]);
    assert_eq!(
        d.events_ms(),
        [(ms(1), down(false, FALL)), (ms(9), up(None, Reason::Rise))]
    );
}

#[test]
fn service_timeout_turns_a_quiesced_server_into_a_removal() {
    let mut c = cfg();
    c.service_timeout = Some(Duration::from_secs(10));
    let mut d = Driver::new();
    d.add(1, c.clone());
    d.run_script(Instant::from_secs(20), &[F; 21]);
    assert_eq!(
        d.events_ms(),
        [
            (0, down(false, FALL)),
            (ms(10), down(true, Reason::ServiceTimeout))
        ]
    );
    assert!(d.checker.status(1).unwrap().removed);

    // Back before the service timeout: no removal.
    let mut d = Driver::new();
    d.add(1, c.clone());
    d.run_script(Instant::from_secs(20), &[F, F, F, P, P]);
    assert_eq!(
        d.events_ms(),
        [(0, down(false, FALL)), (ms(3), up(None, Reason::Rise))]
    );

    // Back after it: up again, no longer removed.
    let mut d = Driver::new();
    d.add(1, c);
    let mut script = vec![F; 12];
    script.push(P);
    d.run_script(Instant::from_secs(20), &script);
    assert_eq!(
        d.events_ms(),
        [
            (0, down(false, FALL)),
            (ms(10), down(true, Reason::ServiceTimeout)),
            (ms(12), up(None, Reason::Rise)),
        ]
    );
    assert!(!d.checker.status(1).unwrap().removed);
}

#[test]
fn without_quiesce_a_failed_server_is_removed_at_once() {
    let mut c = cfg();
    c.quiesce = false;
    c.service_timeout = Some(Duration::from_secs(2));
    let mut d = Driver::new();
    d.add(1, c);
    d.run_script(Instant::from_secs(10), &[F, F, F, F, F, F, P]);
    assert_eq!(
        d.events_ms(),
        [(0, down(true, FALL)), (ms(6), up(None, Reason::Rise))]
    );
}

#[test]
fn alpha_starts_down_until_rise_passes() {
    let mut c = cfg();
    c.alpha = true;
    c.rise = 2;
    let mut d = Driver::new();
    d.add(1, c.clone());
    assert_eq!(d.events_ms(), [(0, down(false, Reason::Alpha))]);
    assert!(!d.checker.status(1).unwrap().up);
    d.run_script(Instant::from_secs(5), &[P, P, P]);
    assert_eq!(d.events_ms()[1..], [(ms(1), up(None, Reason::Rise))]);

    // Without alpha nothing is emitted at start, and one pass changes nothing.
    let mut d = Driver::new();
    c.alpha = false;
    d.add(1, c);
    d.run_script(Instant::from_secs(5), &[P; 6]);
    assert!(d.log.is_empty());
}

#[test]
fn omega_reports_up_servers_removed_on_shutdown() {
    let mut c = cfg();
    c.omega = true;
    let mut d = Driver::new();
    d.add(1, c.clone());
    d.add(2, c.clone());
    c.omega = false;
    d.add(3, c);
    // Check 2 fails and is down; 1 and 3 stay up.
    d.run_until(Instant::from_secs(1), |id, _| {
        Some(if id == 2 {
            ProbeResult::Fail(FailReason::Io)
        } else {
            ProbeResult::Pass
        })
    });
    d.log.clear();
    d.checker.shutdown(Instant::from_secs(2));
    let evs: Vec<_> = core::iter::from_fn(|| d.checker.poll_event()).collect();
    assert_eq!(
        evs,
        [Event::Down {
            id: 1,
            remove: true,
            reason: Reason::Shutdown
        }]
    );
    assert_eq!(d.checker.ids().count(), 0);
    assert_eq!(d.checker.poll_timeout(), None);
    assert_eq!(
        d.checker.remove_check(Instant::from_secs(2), 1),
        Err(HealthError::NoSuchCheck)
    );
}

#[test]
fn dynamic_weights_follow_misc_exit_codes() {
    let mut c = cfg();
    c.probe = ProbeSpec::Program(
        ProgramCheck::parse(
            "/usr/lib/check %h %p",
            ProgramJudge::ExitCode { dynamic: true },
        )
        .unwrap(),
    );
    let mut d = Driver::new();
    d.add(1, c);
    // Exit codes per probe: 7 → weight 5; 7 again: unchanged; 0: keeps 5; 2 → weight 0;
    // 1 → down; 9 → up with weight 7; 255 → weight 253.
    let codes = [7, 7, 0, 2, 1, 9, 255];
    d.run_until(Instant::from_secs(6), |_, n| {
        codes.get(n).map(|&c| judge_exit_status(c, true))
    });
    let w = |weight| Event::Weight { id: 1, weight };
    assert_eq!(
        d.events_ms(),
        [
            (0, w(5)),
            (ms(3), w(0)),
            (ms(4), down(false, Reason::Fall(FailReason::ExitStatus(1)))),
            (ms(5), up(Some(7), Reason::Rise)),
            (ms(6), w(253)),
        ]
    );
}

#[test]
fn probe_requests_carry_the_expanded_program_and_deadline() {
    let mut c = cfg();
    c.target = "[2001:db8::5]:11211".parse().unwrap();
    c.probe = ProbeSpec::Program(
        ProgramCheck::parse("check -h %h -p %p", ProgramJudge::Output("OK".into())).unwrap(),
    );
    let mut ch = Checker::new();
    ch.add_check(Instant::from_secs(3), 9u32, c).unwrap();
    assert_eq!(
        ch.poll_timeout(),
        Some((Instant::from_secs(3), Timer::Probe))
    );
    ch.handle_timeout(Instant::from_secs(3));
    let Some(Event::Probe {
        id,
        target,
        probe: ProbeSpec::Program(p),
        deadline,
    }) = ch.poll_event()
    else {
        panic!("expected a program probe");
    };
    assert_eq!((id, target.port()), (9, 11211));
    assert_eq!(p.argv, ["check", "-h", "2001:db8::5", "-p", "11211"]);
    assert_eq!(deadline, Instant::from_millis(3500));
    assert_eq!(
        ch.poll_timeout(),
        Some((Instant::from_millis(3500), Timer::ProbeDeadline))
    );
    // The configuration keeps the template.
    let ProbeSpec::Program(t) = &ch.config(9).unwrap().probe else {
        panic!()
    };
    assert_eq!(t.argv[2], "%h");
}

#[test]
fn misuse_is_an_error() {
    let mut ch = Checker::new();
    let mut c = cfg();
    c.rise = 0;
    assert_eq!(
        ch.add_check(Instant::ZERO, 1u32, c),
        Err(HealthError::Config(ConfigError::ZeroCount))
    );
    let mut c = cfg();
    c.timeout = Duration::ZERO;
    assert_eq!(
        ch.add_check(Instant::ZERO, 1, c),
        Err(HealthError::Config(ConfigError::ZeroTimeout))
    );
    let mut c = cfg();
    c.retry_interval = Some(Duration::ZERO);
    assert_eq!(
        ch.add_check(Instant::ZERO, 1, c),
        Err(HealthError::Config(ConfigError::ZeroInterval))
    );
    let mut c = cfg();
    c.probe = ProbeSpec::Program(ProgramCheck {
        argv: vec![],
        judge: ProgramJudge::ExitCode { dynamic: false },
    });
    assert_eq!(
        ch.add_check(Instant::ZERO, 1, c),
        Err(HealthError::Config(ConfigError::EmptyProgram))
    );
    ch.add_check(Instant::ZERO, 1, cfg()).unwrap();
    assert_eq!(
        ch.add_check(Instant::ZERO, 1, cfg()),
        Err(HealthError::DuplicateCheck)
    );
    assert_eq!(
        ch.report(Instant::ZERO, 2, ProbeResult::Pass),
        Err(HealthError::NoSuchCheck)
    );
    // A spurious timeout call does nothing.
    ch.handle_timeout(Instant::ZERO);
    assert!(matches!(ch.poll_event(), Some(Event::Probe { .. })));
    ch.handle_timeout(Instant::from_millis(100));
    assert!(ch.poll_event().is_none());
}

#[test]
fn many_checks_run_independently() {
    let mut d = Driver::new();
    for id in 0..50u32 {
        let mut c = cfg();
        c.interval = Duration::from_millis(500 + 10 * u64::from(id));
        d.add(id, c);
    }
    // Odd ids fail every probe; even ones pass.
    d.run_until(Instant::from_secs(5), |id, _| {
        Some(if id % 2 == 1 {
            ProbeResult::Fail(FailReason::Connect)
        } else {
            ProbeResult::Pass
        })
    });
    for id in 0..50u32 {
        let st = d.checker.status(id).unwrap();
        assert_eq!(st.up, id % 2 == 0, "check {id}");
        let n = d.probe_times(id).len() as u64;
        let every = 500 + 10 * u64::from(id);
        assert_eq!(n, 5000 / every + 1, "check {id}");
    }
    assert_eq!(d.log.len(), 25);
}
