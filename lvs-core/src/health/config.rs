//! A check's settings.

use core::net::SocketAddr;
use core::time::Duration;

use super::damping::{Damping, DampingError};
use super::probe::ProbeSpec;

/// The settings of one health check (one real server, one probe).
///
/// keepalived and Piranha names: `interval` is `delay_loop` / nanny `-t`; `retry_interval` is
/// `delay_before_retry`; `fall` is `retry + 1`; `quiesce` is `inhibit_on_failure`; `reentry`
/// is nanny's `--reentrytime`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckConfig {
    /// Where the probe goes (the real server's address and the port to check).
    pub target: SocketAddr,
    /// What the probe does.
    pub probe: ProbeSpec,
    /// Time from the start of one probe to the start of the next.
    pub interval: Duration,
    /// The interval while an up server is failing but has not yet failed `fall` times
    /// (keepalived `delay_before_retry`); `None` keeps `interval`.
    pub retry_interval: Option<Duration>,
    /// How long a probe may take; no report by then counts as a
    /// [`Timeout`](super::FailReason::Timeout) failure.
    pub timeout: Duration,
    /// Consecutive passes that bring a down server up.
    pub rise: u32,
    /// Consecutive failures that take an up server down.
    pub fall: u32,
    /// A down server comes back only when its last failed probe is at least this old (and
    /// `rise` passes have been seen): it must stay healthy for the whole re-entry time. Probing
    /// continues at `interval` meanwhile, and any failure restarts the wait. Nanny's default
    /// is 180 s; here the default is 0 (off).
    pub reentry: Duration,
    /// When `quiesce` is set: how long a server may stay down (quiesced) before it is removed
    /// ([`Down { remove: true }`](super::Event::Down)); `None` never removes it.
    pub service_timeout: Option<Duration>,
    /// On failure, quiesce the server (weight 0, connections kept) instead of removing it
    /// (keepalived `inhibit_on_failure`). Default `true`.
    pub quiesce: bool,
    /// Start down until `rise` passes prove the server alive (keepalived `alpha`). Without it a
    /// check starts up and needs `fall` failures to go down.
    pub alpha: bool,
    /// Report an up server as removed when its check is removed or the checker shuts down
    /// (keepalived `omega`).
    pub omega: bool,
    /// Flap damping; `None` turns it off.
    pub damping: Option<Damping>,
}

impl CheckConfig {
    /// A check of `target` with `probe`: every 10 s, 5 s timeout, rise 1, fall 1, no
    /// re-entry wait, quiesce on failure, no service timeout, no alpha, omega or damping.
    pub fn new(target: SocketAddr, probe: ProbeSpec) -> Self {
        Self {
            target,
            probe,
            interval: Duration::from_secs(10),
            retry_interval: None,
            timeout: Duration::from_secs(5),
            rise: 1,
            fall: 1,
            reentry: Duration::ZERO,
            service_timeout: None,
            quiesce: true,
            alpha: false,
            omega: false,
            damping: None,
        }
    }

    /// Check the settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.interval.is_zero() || self.retry_interval.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::ZeroInterval);
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        if self.rise == 0 || self.fall == 0 {
            return Err(ConfigError::ZeroCount);
        }
        if let ProbeSpec::Program(p) = &self.probe
            && p.argv.is_empty()
        {
            return Err(ConfigError::EmptyProgram);
        }
        if let Some(d) = &self.damping {
            d.validate()?;
        }
        Ok(())
    }

    /// The interval to the next probe, given whether an up server is part-way through a fall.
    pub(crate) fn next_interval(&self, retrying: bool) -> Duration {
        match self.retry_interval {
            Some(r) if retrying => r,
            _ => self.interval,
        }
    }
}

/// Invalid check settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `interval` or `retry_interval` is zero.
    #[error("probe interval must be non-zero")]
    ZeroInterval,
    /// `timeout` is zero.
    #[error("probe timeout must be non-zero")]
    ZeroTimeout,
    /// `rise` or `fall` is zero.
    #[error("rise and fall must be at least 1")]
    ZeroCount,
    /// A program check without a program.
    #[error("program check has an empty argument vector")]
    EmptyProgram,
    /// The damping parameters are invalid.
    #[error(transparent)]
    Damping(#[from] DampingError),
}
