//! Backend health as nutcracker keeps it: `server_failure_limit` consecutive failures eject a
//! server for `server_retry_timeout`, after which it is put back and tried again (no probe).
//! Any reply from the server clears its failure count. Time is given by the caller.

use core::time::Duration;

use lvs_core::Instant;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Server {
    failures: u32,
    ejected_until: Option<Instant>,
}

/// The health of one pool's servers, as one worker sees them.
#[derive(Debug, Clone)]
pub struct Health {
    limit: u32,
    retry: Duration,
    servers: Vec<Server>,
}

impl Health {
    /// `n` healthy servers; `limit` consecutive failures (at least 1) eject one for `retry`.
    pub fn new(n: usize, limit: u32, retry: Duration) -> Self {
        Self {
            limit: limit.max(1),
            retry,
            servers: vec![Server::default(); n],
        }
    }

    /// Server `i` failed (connect refused or timed out, reset, reply timeout, protocol fault).
    /// Returns true when this failure ejects it.
    pub fn failure(&mut self, i: usize, now: Instant) -> bool {
        let Some(s) = self.servers.get_mut(i) else {
            return false;
        };
        if s.ejected_until.is_some() {
            return false;
        }
        s.failures += 1;
        if s.failures < self.limit {
            return false;
        }
        s.failures = 0;
        s.ejected_until = Some(now + self.retry);
        true
    }

    /// Server `i` answered: its failure count starts again.
    pub fn success(&mut self, i: usize) {
        if let Some(s) = self.servers.get_mut(i) {
            s.failures = 0;
        }
    }

    /// Whether server `i` is ejected.
    pub fn is_ejected(&self, i: usize) -> bool {
        self.servers
            .get(i)
            .is_some_and(|s| s.ejected_until.is_some())
    }

    /// The ejected servers.
    pub fn ejected(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.servers.len()).filter(|&i| self.is_ejected(i))
    }

    /// The next moment an ejected server comes back.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.servers.iter().filter_map(|s| s.ejected_until).min()
    }

    /// Puts back every server whose retry time has come, appending its index to `back`.
    pub fn handle_timeout(&mut self, now: Instant, back: &mut Vec<usize>) {
        for (i, s) in self.servers.iter_mut().enumerate() {
            if s.ejected_until.is_some_and(|t| t <= now) {
                s.ejected_until = None;
                s.failures = 0;
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
}
