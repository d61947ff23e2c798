//! Backend health as nutcracker keeps it: `server_failure_limit` consecutive failures eject a
//! server for `server_retry_timeout`, after which it is put back and tried again (no probe).
//! Any reply from the server clears its failure count. Time is given by the caller.
//!
//! With active health checks ([`Health::with_checks`]), `fall` consecutive probe failures
//! also eject a server, and an ejected server (whatever ejected it) comes back only after
//! `rise` consecutive probe successes, never on a timer.

use core::time::Duration;

use lvs_core::Instant;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Server {
    /// Consecutive request failures.
    failures: u32,
    ejected: bool,
    /// When a passive ejection ends (none under health checks).
    ejected_until: Option<Instant>,
    /// Consecutive probe successes.
    probe_ok: u32,
    /// Consecutive probe failures.
    probe_failed: u32,
}

/// What one probe result changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeChange {
    /// Nothing: the server stays as it was.
    None,
    /// The `fall`-th consecutive failure ejected the server.
    Ejected,
    /// The `rise`-th consecutive success put the ejected server back.
    Restored,
}

/// The health of one pool's servers, as one worker sees them.
#[derive(Debug, Clone)]
pub struct Health {
    limit: u32,
    retry: Duration,
    /// `(rise, fall)` when the servers are probed.
    checks: Option<(u32, u32)>,
    servers: Vec<Server>,
}

impl Health {
    /// `n` healthy servers; `limit` consecutive failures (at least 1) eject one for `retry`.
    pub fn new(n: usize, limit: u32, retry: Duration) -> Self {
        Self {
            limit: limit.max(1),
            retry,
            checks: None,
            servers: vec![Server::default(); n],
        }
    }

    /// The servers are probed: `fall` consecutive probe failures eject one, and an ejected
    /// one comes back after `rise` consecutive probe successes (both at least 1), in place
    /// of the retry time.
    #[must_use]
    pub fn with_checks(mut self, rise: u32, fall: u32) -> Self {
        self.checks = Some((rise.max(1), fall.max(1)));
        self
    }

    /// Whether the servers are probed.
    pub fn checked(&self) -> bool {
        self.checks.is_some()
    }

    fn eject(checked: bool, retry: Duration, s: &mut Server, now: Instant) {
        s.failures = 0;
        s.probe_ok = 0;
        s.probe_failed = 0;
        s.ejected = true;
        s.ejected_until = (!checked).then(|| now + retry);
    }

    /// Server `i` failed (connect refused or timed out, reset, reply timeout, protocol fault).
    /// Returns true when this failure ejects it.
    pub fn failure(&mut self, i: usize, now: Instant) -> bool {
        let checked = self.checked();
        let Some(s) = self.servers.get_mut(i) else {
            return false;
        };
        if s.ejected {
            return false;
        }
        s.failures += 1;
        if s.failures < self.limit {
            return false;
        }
        Self::eject(checked, self.retry, s, now);
        true
    }

    /// Server `i` answered: its failure count starts again.
    pub fn success(&mut self, i: usize) {
        if let Some(s) = self.servers.get_mut(i) {
            s.failures = 0;
        }
    }

    /// A probe of server `i` succeeded (`ok`) or failed: a success resets the run of
    /// failures and a failure the run of successes. Ignored without health checks.
    pub fn probe(&mut self, i: usize, ok: bool, now: Instant) -> ProbeChange {
        let Some((rise, fall)) = self.checks else {
            return ProbeChange::None;
        };
        let Some(s) = self.servers.get_mut(i) else {
            return ProbeChange::None;
        };
        if ok {
            s.probe_failed = 0;
            s.probe_ok = s.probe_ok.saturating_add(1);
            if s.ejected && s.probe_ok >= rise {
                *s = Server::default();
                return ProbeChange::Restored;
            }
        } else {
            s.probe_ok = 0;
            s.probe_failed = s.probe_failed.saturating_add(1);
            if !s.ejected && s.probe_failed >= fall {
                Self::eject(true, self.retry, s, now);
                return ProbeChange::Ejected;
            }
        }
        ProbeChange::None
    }

    /// Whether server `i` is ejected.
    pub fn is_ejected(&self, i: usize) -> bool {
        self.servers.get(i).is_some_and(|s| s.ejected)
    }

    /// The ejected servers.
    pub fn ejected(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.servers.len()).filter(|&i| self.is_ejected(i))
    }

    /// The next moment an ejected server comes back on its own (never under health checks).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.servers.iter().filter_map(|s| s.ejected_until).min()
    }

    /// Puts back every server whose retry time has come, appending its index to `back`.
    pub fn handle_timeout(&mut self, now: Instant, back: &mut Vec<usize>) {
        for (i, s) in self.servers.iter_mut().enumerate() {
            if s.ejected_until.is_some_and(|t| t <= now) {
                *s = Server::default();
                back.push(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    #[test]
    fn limit_consecutive_failures_eject_for_the_retry_time() {
        let mut h = Health::new(2, 2, Duration::from_millis(500));
        assert!(!h.failure(1, at(0)));
        assert!(!h.is_ejected(1));
        assert!(h.failure(1, at(10)));
        assert!(h.is_ejected(1) && !h.is_ejected(0));
        assert_eq!(h.ejected().collect::<Vec<_>>(), [1]);
        assert_eq!(h.poll_timeout(), Some(at(510)));
        // Failures while ejected change nothing.
        assert!(!h.failure(1, at(20)));
        let mut back = Vec::new();
        h.handle_timeout(at(509), &mut back);
        assert!(back.is_empty());
        h.handle_timeout(at(510), &mut back);
        assert_eq!(back, [1]);
        assert!(!h.is_ejected(1));
        assert_eq!(h.poll_timeout(), None);
        // Back with a clean count: one failure does not eject again.
        assert!(!h.failure(1, at(600)));
    }

    #[test]
    fn a_reply_resets_the_count() {
        let mut h = Health::new(1, 2, Duration::from_secs(1));
        assert!(!h.failure(0, at(0)));
        h.success(0);
        assert!(!h.failure(0, at(1)));
        assert!(h.failure(0, at(2)));
    }

    #[test]
    fn limit_one_ejects_at_once_and_unknown_servers_are_ignored() {
        let mut h = Health::new(1, 0, Duration::from_secs(1));
        assert!(h.failure(0, at(0)));
        assert!(!h.failure(7, at(0)));
        h.success(7);
        assert!(!h.is_ejected(7));
    }

    #[test]
    fn fall_probe_failures_eject_and_rise_successes_restore() {
        let mut h = Health::new(2, 3, Duration::from_millis(500)).with_checks(2, 3);
        assert!(h.checked());
        assert_eq!(h.probe(1, false, at(0)), ProbeChange::None);
        assert_eq!(h.probe(1, false, at(100)), ProbeChange::None);
        assert!(!h.is_ejected(1));
        assert_eq!(h.probe(1, false, at(200)), ProbeChange::Ejected);
        assert!(h.is_ejected(1) && !h.is_ejected(0));
        // No retry timer: only probes bring it back, however long it waits.
        assert_eq!(h.poll_timeout(), None);
        let mut back = Vec::new();
        h.handle_timeout(at(1_000_000), &mut back);
        assert!(back.is_empty() && h.is_ejected(1));
        // More failures while ejected change nothing.
        assert_eq!(h.probe(1, false, at(300)), ProbeChange::None);
        assert_eq!(h.probe(1, true, at(400)), ProbeChange::None);
        assert!(h.is_ejected(1));
        assert_eq!(h.probe(1, true, at(500)), ProbeChange::Restored);
        assert!(!h.is_ejected(1));
        // Back with clean counts: fall failures are needed again.
        assert_eq!(h.probe(1, false, at(600)), ProbeChange::None);
        assert_eq!(h.probe(1, false, at(700)), ProbeChange::None);
        assert_eq!(h.probe(1, false, at(800)), ProbeChange::Ejected);
    }

    #[test]
    fn a_probe_result_resets_the_opposite_run() {
        let mut h = Health::new(1, 1, Duration::from_secs(1)).with_checks(3, 2);
        // Failure, success, failure: never two failures in a row.
        for t in 0..10 {
            let ok = t % 2 == 1;
            assert_eq!(h.probe(0, ok, at(t)), ProbeChange::None);
        }
        assert!(!h.is_ejected(0));
        assert_eq!(h.probe(0, false, at(10)), ProbeChange::None);
        assert_eq!(h.probe(0, false, at(11)), ProbeChange::Ejected);
        // Success, success, failure, then three successes.
        assert_eq!(h.probe(0, true, at(12)), ProbeChange::None);
        assert_eq!(h.probe(0, true, at(13)), ProbeChange::None);
        assert_eq!(h.probe(0, false, at(14)), ProbeChange::None);
        assert_eq!(h.probe(0, true, at(15)), ProbeChange::None);
        assert_eq!(h.probe(0, true, at(16)), ProbeChange::None);
        assert!(h.is_ejected(0));
        assert_eq!(h.probe(0, true, at(17)), ProbeChange::Restored);
    }

    #[test]
    fn a_passive_ejection_under_checks_waits_for_rise_successes() {
        let mut h = Health::new(1, 2, Duration::from_millis(10)).with_checks(2, 5);
        // Successes before the ejection do not count toward coming back.
        assert_eq!(h.probe(0, true, at(0)), ProbeChange::None);
        assert!(!h.failure(0, at(1)));
        assert!(h.failure(0, at(2)));
        assert!(h.is_ejected(0));
        assert_eq!(h.poll_timeout(), None);
        let mut back = Vec::new();
        h.handle_timeout(at(100_000), &mut back);
        assert!(back.is_empty());
        assert_eq!(h.probe(0, true, at(3)), ProbeChange::None);
        assert_eq!(h.probe(0, true, at(4)), ProbeChange::Restored);
        assert!(!h.is_ejected(0));
    }

    #[test]
    fn probes_are_ignored_without_checks_and_for_unknown_servers() {
        let mut h = Health::new(1, 1, Duration::from_secs(1));
        assert!(!h.checked());
        for t in 0..5 {
            assert_eq!(h.probe(0, false, at(t)), ProbeChange::None);
        }
        assert!(!h.is_ejected(0));
        let mut h = h.with_checks(0, 0);
        assert_eq!(h.probe(3, false, at(0)), ProbeChange::None);
        // rise and fall of 0 act as 1.
        assert_eq!(h.probe(0, false, at(0)), ProbeChange::Ejected);
        assert_eq!(h.probe(0, true, at(1)), ProbeChange::Restored);
    }
}
