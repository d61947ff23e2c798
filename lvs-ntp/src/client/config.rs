//! Client configuration: the servers and the client-wide settings.

use core::net::SocketAddr;
use core::time::Duration;

use super::MAX_SERVERS;
use super::discipline::DisciplineConfig;

/// One configured server (`server <addr> iburst burst prefer minpoll 6 maxpoll 10`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address and port to poll.
    pub addr: SocketAddr,
    /// Send a burst of 8 requests 2 s apart while the server is unreachable (fast start).
    pub iburst: bool,
    /// Send a burst of 8 requests 2 s apart at every poll while reachable.
    pub burst: bool,
    /// Prefer this server as system peer whenever it survives selection.
    pub prefer: bool,
    /// Minimum poll exponent (log2 s).
    pub minpoll: i8,
    /// Maximum poll exponent (log2 s).
    pub maxpoll: i8,
}

impl ServerConfig {
    /// A server with the RFC defaults: minpoll 6 (64 s), maxpoll 10 (1024 s), no bursts.
    pub const fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            iburst: false,
            burst: false,
            prefer: false,
            minpoll: 6,
            maxpoll: 10,
        }
    }

    /// The same server with `iburst`.
    pub const fn with_iburst(mut self) -> Self {
        self.iburst = true;
        self
    }
}

/// Client-wide settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientConfig {
    /// The discipline's thresholds and drift-file frequency.
    pub discipline: DisciplineConfig,
    /// Local clock precision, log2 s (−20 ≈ 1 µs).
    pub precision: i8,
    /// MAXDIST: servers whose root distance exceeds this are unfit (ntpsec 1.5 s).
    pub max_distance: Duration,
    /// Survivors needed before the clock is disciplined (CMIN / `minsane`).
    pub min_sane: usize,
    /// The cluster algorithm stops pruning at this many survivors (NMIN / `minclock`).
    pub min_clock: usize,
    /// The first poll of each server falls at a random point within this span after start
    /// (RFC 4330: randomise the first query).
    pub first_poll_spread: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            discipline: DisciplineConfig::default(),
            precision: -20,
            max_distance: Duration::from_millis(1500),
            min_sane: 1,
            min_clock: 3,
            first_poll_spread: Duration::from_secs(1),
        }
    }
}

/// A configuration the client cannot run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No server configured.
    #[error("no servers configured")]
    NoServers,
    /// More than [`MAX_SERVERS`] servers.
    #[error("more than {MAX_SERVERS} servers")]
    TooManyServers,
    /// The same address twice.
    #[error("server {0} configured twice")]
    DuplicateServer(SocketAddr),
    /// minpoll above maxpoll, or outside 0..=17.
    #[error("invalid poll range for {0}")]
    PollRange(SocketAddr),
}
