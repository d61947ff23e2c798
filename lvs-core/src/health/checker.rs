//! The health-check machine: many checks, keyed by an id the application chooses.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::config::CheckConfig;
use super::damping::Damper;
use super::probe::{FailReason, ProbeResult, ProbeSpec};
use super::{Event, HealthError, Reason};
use crate::{Instant, MonotonicGuard};

/// Why [`Checker::poll_timeout`] wants to be called. Ties fire in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// A probe reached its deadline without a report: it counts as a timeout failure.
    ProbeDeadline,
    /// A quiesced server has been down for its service timeout: remove it.
    ServiceTimeout,
    /// A suppressed check's penalty has decayed to the reuse threshold.
    DampingRelease,
    /// Time to start the next probe.
    Probe,
}

/// Counters over every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Probes requested.
    pub probes: u64,
    /// Reports that passed.
    pub passes: u64,
    /// Reports that failed, timeouts included.
    pub failures: u64,
    /// Probes that reached their deadline without a report.
    pub timeouts: u64,
    /// Reports for a check with no probe in flight (late or duplicate), ignored.
    pub unexpected_reports: u64,
    /// Changes of the filtered (rise/fall) state.
    pub changes: u64,
    /// Changes to up that flap damping held back.
    pub suppressed: u64,
}

/// A check's state, for status pages and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckStatus {
    /// What the application was last told: up, or down (quiesced or removed).
    pub up: bool,
    /// The rise/fall-filtered health, before flap damping.
    pub healthy: bool,
    /// Whether the application was told to remove the server.
    pub removed: bool,
    /// Whether flap damping holds the server down.
    pub suppressed: bool,
    /// Consecutive passes.
    pub passes: u32,
    /// Consecutive failures.
    pub failures: u32,
    /// The last dynamic weight reported by the probe.
    pub weight: Option<u32>,
    /// The reason of the last failure.
    pub last_failure: Option<FailReason>,
    /// Whether a probe is in flight.
    pub probing: bool,
}

#[derive(Debug)]
struct Check {
    cfg: CheckConfig,
    /// The probe as sent in events (program templates expanded).
    spec: ProbeSpec,
    healthy: bool,
    up: bool,
    removed: bool,
    passes: u32,
    fails: u32,
    last_failure: Option<(Instant, FailReason)>,
    down_since: Option<Instant>,
    started: Instant,
    deadline: Option<Instant>,
    next_probe: Option<Instant>,
    weight: Option<u32>,
    damper: Damper,
    scheduled: Option<Instant>,
}

impl Check {
    fn next(&self) -> Option<(Instant, Timer)> {
        let service = match (self.cfg.service_timeout, self.down_since) {
            (Some(t), Some(since)) if self.cfg.quiesce && !self.up && !self.removed => {
                Some(since + t)
            }
            _ => None,
        };
        let release = self
            .cfg
            .damping
            .as_ref()
            .and_then(|d| self.damper.release_at(d));
        [
            (self.deadline, Timer::ProbeDeadline),
            (service, Timer::ServiceTimeout),
            (release, Timer::DampingRelease),
            (self.next_probe, Timer::Probe),
        ]
        .into_iter()
        .filter_map(|(at, t)| at.map(|at| (at, t)))
        .fold(None, |best: Option<(Instant, Timer)>, (at, t)| match best {
            Some((b, _)) if b <= at => best,
            _ => Some((at, t)),
        })
    }
}

/// Health checks for many real servers, keyed by `K` (any small `Copy + Ord` id: a `u32`, the
/// application's own server key). One machine for all checks keeps one deadline to sleep on
/// and one event queue to drain.
///
/// Not a [`StateMachine`](crate::StateMachine) (it receives no datagrams) but driven the same
/// way: after any `&mut` call, drain [`Checker::poll_event`] until `None`, then read
/// [`Checker::poll_timeout`]. `now` never goes backwards.
///
/// Per check: a probe starts at once when the check is added and then every `interval` from the
/// start of the previous one (`retry_interval` while an up server is failing). At most one
/// probe per check is in flight; the shell abandons it at its deadline, and a report after
/// that is counted in [`Stats::unexpected_reports`] and ignored.
#[derive(Debug)]
pub struct Checker<K> {
    checks: BTreeMap<K, Check>,
    timers: BTreeSet<(Instant, K)>,
    events: VecDeque<Event<K>>,
    stats: Stats,
    clock: MonotonicGuard,
}

impl<K: Copy + Ord + core::fmt::Debug> Default for Checker<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Copy + Ord + core::fmt::Debug> Checker<K> {
    /// A checker with no checks.
    pub fn new() -> Self {
        Self {
            checks: BTreeMap::new(),
            timers: BTreeSet::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            clock: MonotonicGuard::default(),
        }
    }

    /// Start checking `id`. The first probe is requested at `now`. With `alpha` the server
    /// starts down and [`Event::Down`] (reason [`Reason::Alpha`]) is emitted at once;
    /// otherwise it starts up and nothing is emitted.
    pub fn add_check(&mut self, now: Instant, id: K, cfg: CheckConfig) -> Result<(), HealthError> {
        let now = self.clock.observe(now);
        cfg.validate()?;
        if self.checks.contains_key(&id) {
            return Err(HealthError::DuplicateCheck);
        }
        let spec = match &cfg.probe {
            ProbeSpec::Program(p) => {
                let mut p = p.clone();
                p.argv = p.expand(cfg.target);
                ProbeSpec::Program(p)
            }
            other => other.clone(),
        };
        let alpha = cfg.alpha;
        let remove = !cfg.quiesce;
        self.checks.insert(
            id,
            Check {
                spec,
                healthy: !alpha,
                up: !alpha,
                removed: alpha && remove,
                passes: 0,
                fails: 0,
                last_failure: None,
                down_since: alpha.then_some(now),
                started: now,
                deadline: None,
                next_probe: Some(now),
                weight: None,
                damper: Damper::default(),
                scheduled: None,
                cfg,
            },
        );
        if alpha {
            self.events.push_back(Event::Down {
                id,
                remove,
                reason: Reason::Alpha,
            });
        }
        self.reschedule(id);
        Ok(())
    }

    /// Stop checking `id`. With `omega`, a server that is up is reported as
    /// [`Event::Down`] with `remove: true` and reason [`Reason::Shutdown`].
    pub fn remove_check(&mut self, now: Instant, id: K) -> Result<(), HealthError> {
        self.clock.observe(now);
        let c = self.checks.remove(&id).ok_or(HealthError::NoSuchCheck)?;
        if let Some(at) = c.scheduled {
            self.timers.remove(&(at, id));
        }
        if c.cfg.omega && c.up {
            self.events.push_back(Event::Down {
                id,
                remove: true,
                reason: Reason::Shutdown,
            });
        }
        Ok(())
    }

    /// Stop every check (in id order), as [`Checker::remove_check`] does.
    pub fn shutdown(&mut self, now: Instant) {
        let ids: Vec<K> = self.checks.keys().copied().collect();
        for id in ids {
            // Every id was just listed, so removal cannot fail.
            let _ = self.remove_check(now, id);
        }
    }

    /// Feed the outcome of the probe in flight for `id`. Errors only for an unknown id; a
    /// report with no probe in flight is counted and ignored.
    pub fn report(&mut self, now: Instant, id: K, result: ProbeResult) -> Result<(), HealthError> {
        let now = self.clock.observe(now);
        let c = self.checks.get_mut(&id).ok_or(HealthError::NoSuchCheck)?;
        // No probe in flight, or past its deadline (the timeout fires at the next
        // `handle_timeout`, whatever the late report says).
        if c.deadline.is_none_or(|d| now > d) {
            self.stats.unexpected_reports += 1;
            return Ok(());
        }
        c.deadline = None;
        on_result(c, id, now, result, &mut self.events, &mut self.stats);
        self.reschedule(id);
        Ok(())
    }

    /// Fire everything due at or before `now`. A spurious call is a no-op.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.clock.observe(now);
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            if let Some(c) = self.checks.get_mut(&id) {
                c.scheduled = None;
                while let Some((at, timer)) = c.next() {
                    if at > now {
                        break;
                    }
                    fire(c, id, now, timer, &mut self.events, &mut self.stats);
                }
            }
            self.reschedule(id);
        }
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event<K>> {
        self.events.pop_front()
    }

    /// The earliest deadline over all checks, and why.
    pub fn poll_timeout(&self) -> Option<(Instant, Timer)> {
        let &(at, id) = self.timers.first()?;
        let (_, why) = self.checks.get(&id)?.next()?;
        Some((at, why))
    }

    /// A check's state.
    pub fn status(&self, id: K) -> Option<CheckStatus> {
        let c = self.checks.get(&id)?;
        Some(CheckStatus {
            up: c.up,
            healthy: c.healthy,
            removed: c.removed,
            suppressed: c.damper.is_suppressed(),
            passes: c.passes,
            failures: c.fails,
            weight: c.weight,
            last_failure: c.last_failure.map(|(_, r)| r),
            probing: c.deadline.is_some(),
        })
    }

    /// A check's flap-damping penalty at `now` (`None` without damping or for an unknown id).
    pub fn penalty(&self, id: K, now: Instant) -> Option<f64> {
        let c = self.checks.get(&id)?;
        Some(c.damper.penalty(c.cfg.damping.as_ref()?, now))
    }

    /// A check's settings.
    pub fn config(&self, id: K) -> Option<&CheckConfig> {
        self.checks.get(&id).map(|c| &c.cfg)
    }

    /// The ids of every check, in order.
    pub fn ids(&self) -> impl Iterator<Item = K> + '_ {
        self.checks.keys().copied()
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    fn reschedule(&mut self, id: K) {
        let Some(c) = self.checks.get_mut(&id) else {
            return;
        };
        let next = c.next().map(|(at, _)| at);
        if c.scheduled == next {
            return;
        }
        if let Some(old) = c.scheduled.take() {
            self.timers.remove(&(old, id));
        }
        if let Some(at) = next {
            self.timers.insert((at, id));
            c.scheduled = Some(at);
        }
    }
}

fn fire<K: Copy>(
    c: &mut Check,
    id: K,
    now: Instant,
    timer: Timer,
    events: &mut VecDeque<Event<K>>,
    stats: &mut Stats,
) {
    match timer {
        Timer::ProbeDeadline => {
            c.deadline = None;
            stats.timeouts += 1;
            on_result(
                c,
                id,
                now,
                ProbeResult::Fail(FailReason::Timeout),
                events,
                stats,
            );
        }
        Timer::ServiceTimeout => {
            c.removed = true;
            events.push_back(Event::Down {
                id,
                remove: true,
                reason: Reason::ServiceTimeout,
            });
        }
        Timer::DampingRelease => {
            let released = c
                .cfg
                .damping
                .as_ref()
                .is_some_and(|d| c.damper.try_release(d, now));
            if released && c.healthy && !c.up {
                go_up(c, id, now, Reason::Released, events);
            }
        }
        Timer::Probe => {
            stats.probes += 1;
            c.started = now;
            c.next_probe = None;
            let deadline = now + c.cfg.timeout;
            c.deadline = Some(deadline);
            events.push_back(Event::Probe {
                id,
                target: c.cfg.target,
                probe: c.spec.clone(),
                deadline,
            });
        }
    }
}

fn on_result<K: Copy>(
    c: &mut Check,
    id: K,
    now: Instant,
    result: ProbeResult,
    events: &mut VecDeque<Event<K>>,
    stats: &mut Stats,
) {
    match result {
        ProbeResult::Pass | ProbeResult::PassWeight(_) => {
            stats.passes += 1;
            c.passes = c.passes.saturating_add(1);
            c.fails = 0;
            if let ProbeResult::PassWeight(w) = result
                && c.weight != Some(w)
            {
                c.weight = Some(w);
                if c.up {
                    events.push_back(Event::Weight { id, weight: w });
                }
            }
            let settled = c
                .last_failure
                .is_none_or(|(t, _)| now.saturating_duration_since(t) >= c.cfg.reentry);
            if !c.healthy && c.passes >= c.cfg.rise && settled {
                change(c, id, now, true, Reason::Rise, events, stats);
            }
        }
        ProbeResult::Fail(r) => {
            stats.failures += 1;
            c.fails = c.fails.saturating_add(1);
            c.passes = 0;
            c.last_failure = Some((now, r));
            if c.healthy && c.fails >= c.cfg.fall {
                change(c, id, now, false, Reason::Fall(r), events, stats);
            }
        }
    }
    let retrying = c.healthy && c.fails > 0;
    let next = c.started + c.cfg.next_interval(retrying);
    c.next_probe = Some(next.max(now));
}

/// The filtered state changed: apply flap damping, then tell the application.
fn change<K: Copy>(
    c: &mut Check,
    id: K,
    now: Instant,
    healthy: bool,
    reason: Reason,
    events: &mut VecDeque<Event<K>>,
    stats: &mut Stats,
) {
    c.healthy = healthy;
    stats.changes += 1;
    let suppressed = match &c.cfg.damping {
        Some(d) => c.damper.flap(d, now),
        None => false,
    };
    match (healthy, c.up) {
        (true, false) if suppressed => stats.suppressed += 1,
        (true, false) => go_up(c, id, now, reason, events),
        (false, true) => go_down(c, id, now, reason, events),
        // Already reported as wanted (the server was held down while suppressed).
        _ => {}
    }
}

fn go_up<K: Copy>(
    c: &mut Check,
    id: K,
    _now: Instant,
    reason: Reason,
    events: &mut VecDeque<Event<K>>,
) {
    c.up = true;
    c.removed = false;
    c.down_since = None;
    events.push_back(Event::Up {
        id,
        weight: c.weight,
        reason,
    });
}

fn go_down<K: Copy>(
    c: &mut Check,
    id: K,
    now: Instant,
    reason: Reason,
    events: &mut VecDeque<Event<K>>,
) {
    c.up = false;
    c.down_since = Some(now);
    c.removed = !c.cfg.quiesce;
    events.push_back(Event::Down {
        id,
        remove: c.removed,
        reason,
    });
}
