//! Per-forwarder state: smoothed RTT with BIND's 0.7/0.3 weighting, aging of unselected
//! servers, timeout penalties, down/up tracking, re-probing and 0x20 capability.

use core::net::SocketAddr;
use core::time::Duration;

use lvs_core::Instant;

use super::config::TimingConfig;

/// The SRTT ceiling (BIND caps at 9 s).
const MAX_SRTT_US: u64 = 9_000_000;

/// Whether a forwarder echoes 0x20-randomised question case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseSupport {
    /// Not known yet: randomise and watch.
    Unknown,
    /// It echoed mixed case exactly.
    Echoes,
    /// It changed the case: send plain lowercase from now on.
    NoEcho,
}

/// What the machine knows about one forwarder.
#[derive(Clone, Debug)]
pub struct Server {
    /// Its address.
    pub addr: SocketAddr,
    /// Smoothed RTT in microseconds.
    pub srtt_us: u64,
    /// When a query was last sent to it.
    pub last_sent: Option<Instant>,
    /// Consecutive timeouts.
    pub timeouts_in_row: u32,
    /// Whether it is currently reported down.
    pub down: bool,
    /// 0x20 capability.
    pub case: CaseSupport,
    /// Queries sent (UDP and TCP).
    pub queries: u64,
    /// Valid responses received.
    pub responses: u64,
    /// Attempts that timed out.
    pub timeouts: u64,
    /// SERVFAIL/REFUSED/unusable answers and transport errors.
    pub failures: u64,
}

impl Server {
    /// A fresh server with an initial SRTT of `initial_us` (a few random microseconds, so every
    /// server gets tried early and ties break randomly).
    pub fn new(addr: SocketAddr, initial_us: u64) -> Self {
        Self {
            addr,
            srtt_us: initial_us,
            last_sent: None,
            timeouts_in_row: 0,
            down: false,
            case: CaseSupport::Unknown,
            queries: 0,
            responses: 0,
            timeouts: 0,
            failures: 0,
        }
    }

    /// The smoothed RTT.
    pub fn srtt(&self) -> Duration {
        Duration::from_micros(self.srtt_us)
    }

    /// Folds in a measured RTT: SRTT = 0.7 × SRTT + 0.3 × RTT. Returns whether the server was
    /// down (and is now up again).
    pub fn on_response(&mut self, rtt: Duration) -> bool {
        let rtt = u64::try_from(rtt.as_micros())
            .unwrap_or(MAX_SRTT_US)
            .min(MAX_SRTT_US);
        self.srtt_us = (7 * self.srtt_us + 3 * rtt) / 10;
        self.responses += 1;
        self.timeouts_in_row = 0;
        core::mem::replace(&mut self.down, false)
    }

    /// Penalises a timeout of an attempt that waited `waited`. Returns whether the server has
    /// just been declared down.
    pub fn on_timeout(&mut self, waited: Duration, down_after: u32) -> bool {
        let waited = u64::try_from(waited.as_micros()).unwrap_or(MAX_SRTT_US);
        self.srtt_us = (self.srtt_us + waited).min(MAX_SRTT_US);
        self.timeouts += 1;
        self.timeouts_in_row = self.timeouts_in_row.saturating_add(1);
        if !self.down && self.timeouts_in_row >= down_after {
            self.down = true;
            return true;
        }
        false
    }

    /// Aging of a server that was not selected: SRTT × 0.98 (BIND ages unused entries).
    pub fn age(&mut self) {
        self.srtt_us = self.srtt_us * 49 / 50;
    }

    /// The attempt timeout for try number `round` (0-based): 2 × SRTT + 50 ms, at least
    /// `min_timeout`, doubled per round, at most `max_timeout`.
    pub fn timeout(&self, round: u8, t: &TimingConfig) -> Duration {
        let base = (self.srtt() * 2 + Duration::from_millis(50)).max(t.min_timeout);
        base.saturating_mul(1 << round.min(6)).min(t.max_timeout)
    }

    /// When a hedged query to another server is due for an attempt sent at `sent`.
    pub fn hedge_at(&self, sent: Instant, t: &TimingConfig) -> Instant {
        sent + self.srtt().mul_f64(t.hedge_factor).max(t.hedge_min_delay)
    }

    /// Whether the server has not been queried for `interval` (or ever).
    pub fn probe_due(&self, now: Instant, interval: Duration) -> bool {
        self.last_sent.is_none_or(|at| now - at >= interval)
    }
}

/// Index of the server with the lowest SRTT among those whose bit is clear in `exclude`.
pub fn best(servers: &[Server], exclude: u64) -> Option<usize> {
    servers
        .iter()
        .enumerate()
        .filter(|(i, _)| exclude & (1 << i) == 0)
        .min_by_key(|(i, s)| (s.srtt_us, *i))
        .map(|(i, _)| i)
}

/// Records that `chosen` was selected: every other server ages.
pub fn selected(servers: &mut [Server], chosen: usize, now: Instant) {
    for (i, s) in servers.iter_mut().enumerate() {
        if i == chosen {
            s.last_sent = Some(now);
            s.queries += 1;
        } else {
            s.age();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], p))
    }

    #[test]
    fn srtt_is_bind_ewma_and_timeouts_push_a_server_back() {
        let t = TimingConfig::default();
        let mut a = Server::new(addr(1), 10);
        let mut b = Server::new(addr(2), 20);
        assert_eq!(best(&[a.clone(), b.clone()], 0), Some(0));
        a.on_response(Duration::from_millis(100));
        assert_eq!(a.srtt_us, (7 * 10 + 3 * 100_000) / 10);
        assert!(!a.on_timeout(t.min_timeout, 3));
        b.on_response(Duration::from_millis(20));
        let mut servers = [a, b];
        assert_eq!(best(&servers, 0), Some(1));
        assert_eq!(best(&servers, 0b10), Some(0));
        assert_eq!(best(&servers, 0b11), None);
        // Aging lets the penalised server come back after enough selections of the other.
        let mut n = 0;
        while best(&servers, 0) == Some(1) {
            selected(&mut servers, 1, Instant::ZERO);
            servers[1].on_response(Duration::from_millis(20));
            n += 1;
            assert!(n < 1000);
        }
        assert!(n > 10);
    }

    #[test]
    fn timeout_backs_off_and_is_clamped() {
        let t = TimingConfig::default();
        let s = Server::new(addr(1), 1);
        assert_eq!(s.timeout(0, &t), t.min_timeout);
        assert_eq!(s.timeout(1, &t), t.min_timeout * 2);
        assert_eq!(s.timeout(9, &t), t.max_timeout);
        let mut d = Server::new(addr(2), 1);
        assert!(!d.on_timeout(t.min_timeout, 2));
        assert!(d.on_timeout(t.min_timeout, 2));
        assert!(d.on_response(Duration::from_millis(5)));
    }
}
