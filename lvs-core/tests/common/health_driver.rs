//! A virtual-time driver for `lvs_core::health::Checker` shared by the health tests: it jumps
//! from deadline to deadline, answers each probe request from a script at the same instant
//! (or never, so the deadline turns it into a timeout), and logs every other event.

#![allow(dead_code, unreachable_pub)]

use lvs_core::Instant;
use lvs_core::health::{CheckConfig, Checker, Event, ProbeResult};

pub struct Driver {
    pub checker: Checker<u32>,
    /// Every non-probe event with the time it was emitted.
    pub log: Vec<(Instant, Event<u32>)>,
    /// Every probe request: (time, check id, deadline).
    pub probes: Vec<(Instant, u32, Instant)>,
    pub now: Instant,
}

impl Driver {
    pub fn new() -> Self {
        Self {
            checker: Checker::new(),
            log: Vec::new(),
            probes: Vec::new(),
            now: Instant::ZERO,
        }
    }

    /// Add a check at the current time and log what that emits.
    pub fn add(&mut self, id: u32, cfg: CheckConfig) {
        self.checker.add_check(self.now, id, cfg).unwrap();
        self.drain(&mut |_, _| None);
    }

    /// Run until the next deadline would be after `until`. `answer(id, n)` is asked for the
    /// `n`-th probe of check `id` (from 0); `None` leaves it unanswered.
    pub fn run_until(
        &mut self,
        until: Instant,
        mut answer: impl FnMut(u32, usize) -> Option<ProbeResult>,
    ) {
        while let Some((at, _why)) = self.checker.poll_timeout() {
            if at > until {
                break;
            }
            self.now = at;
            self.checker.handle_timeout(at);
            self.drain(&mut answer);
        }
        self.now = self.now.max(until);
    }

    /// Run with a per-probe script for every check: probe `n` gets `script[n]`, and past its
    /// end the last entry repeats (`None`, or an empty script, leaves probes unanswered).
    pub fn run_script(&mut self, until: Instant, script: &[Option<ProbeResult>]) {
        self.run_until(until, |_, n| {
            script.get(n).or(script.last()).copied().flatten()
        });
    }

    fn drain(&mut self, answer: &mut dyn FnMut(u32, usize) -> Option<ProbeResult>) {
        while let Some(ev) = self.checker.poll_event() {
            match ev {
                Event::Probe { id, deadline, .. } => {
                    let n = self.probes.iter().filter(|p| p.1 == id).count();
                    self.probes.push((self.now, id, deadline));
                    if let Some(r) = answer(id, n) {
                        self.checker.report(self.now, id, r).unwrap();
                    }
                }
                other => self.log.push((self.now, other)),
            }
        }
    }

    /// The times of the probes of check `id`.
    pub fn probe_times(&self, id: u32) -> Vec<Instant> {
        self.probes
            .iter()
            .filter(|p| p.1 == id)
            .map(|p| p.0)
            .collect()
    }

    /// The logged events as (seconds with millisecond precision, event).
    pub fn events_ms(&self) -> Vec<(u64, Event<u32>)> {
        self.log
            .iter()
            .map(|(t, e)| (t.as_nanos() / 1_000_000, e.clone()))
            .collect()
    }
}
