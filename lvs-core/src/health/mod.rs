//! Health checks as Sans-IO state machines.
//!
//! A [`Checker`] runs many checks, each keyed by an id the application chooses (one check per
//! real server). It never opens a socket or spawns a program: when a probe is due it emits
//! [`Event::Probe`] with a [`ProbeSpec`] (TCP connect, nanny send/expect, UDP, HTTP GET with
//! status and MD5 digest, an external program, DNS, memcached) and a deadline; the shell runs
//! it, judges the raw outcome with the pure helpers in [`judge`], and calls
//! [`Checker::report`]. No report by the deadline counts as a [`FailReason::Timeout`].
//!
//! What a check does with the results:
//! * **rise / fall**: `rise` consecutive passes bring a down server up, `fall` consecutive
//!   failures take an up server down ([`Event::Up`], [`Event::Down`]);
//! * **re-entry** (Piranha's nanny): a down server must also have been failure-free for
//!   `reentry` before it comes back;
//! * **quiesce or remove**: down means `Down { remove: false }` (weight 0) when `quiesce` is
//!   set (keepalived `inhibit_on_failure`), else `Down { remove: true }`; a quiesced server
//!   still down after `service_timeout` gets `Down { remove: true }`;
//! * **alpha / omega** (keepalived): start down until proven alive; report up servers as
//!   removed when their check is removed or the checker shuts down;
//! * **dynamic weights** (keepalived `misc_dynamic`): [`ProbeResult::PassWeight`] produces
//!   [`Event::Weight`] (see [`judge::judge_exit_status`] for the exit-code rule);
//! * **flap damping** (as BGP route-flap damping): each state change adds a penalty that
//!   decays exponentially ([`Damping`]); above the suppress threshold the server is held down,
//!   and released ([`Reason::Released`]) once the penalty has decayed to the reuse threshold.
//!
//! [`DirectorBinding`] applies the events to a [`Director`](crate::director::Director):
//! quiesce on down, drain on removal, restore (or re-add) on up.
//!
//! # Driving it
//!
//! The same drain rule as every machine: after any `&mut` call drain [`Checker::poll_event`],
//! then sleep until [`Checker::poll_timeout`]. `now` never goes backwards.
//!
//! ```
//! use core::time::Duration;
//! use lvs_core::Instant;
//! use lvs_core::health::{CheckConfig, Checker, Event, FailReason, ProbeResult, ProbeSpec, Reason};
//!
//! let mut cfg = CheckConfig::new("192.0.2.10:80".parse().unwrap(), ProbeSpec::Tcp);
//! cfg.interval = Duration::from_secs(2);
//! cfg.timeout = Duration::from_secs(1);
//! cfg.fall = 2;
//! let mut checker = Checker::new();
//! checker.add_check(Instant::ZERO, 7u32, cfg).unwrap();
//!
//! // The "network": the server answers twice, then stops answering.
//! let mut answers = [true, true, false, false].into_iter();
//! let mut log = Vec::new();
//! while let Some((at, _why)) = checker.poll_timeout() {
//!     if at > Instant::from_secs(10) { break; }
//!     checker.handle_timeout(at);
//!     while let Some(ev) = checker.poll_event() {
//!         match ev {
//!             Event::Probe { id, .. } => {
//!                 // A real shell connects to the target here; this one answers at once or
//!                 // never (then the deadline turns the silence into a timeout failure).
//!                 if answers.next() == Some(true) {
//!                     let done = at + Duration::from_millis(3);
//!                     checker.report(done, id, ProbeResult::Pass).unwrap();
//!                 }
//!             }
//!             other => log.push((at, other)),
//!         }
//!     }
//! }
//! // Probes at 0, 2, 4 and 6 s; the ones at 4 and 6 s time out after 1 s: down at 7 s.
//! assert_eq!(log, [(
//!     Instant::from_secs(7),
//!     Event::Down { id: 7, remove: false, reason: Reason::Fall(FailReason::Timeout) },
//! )]);
//! ```

mod checker;
mod config;
mod damping;
mod director;
pub mod judge;
mod probe;

use core::net::SocketAddr;

pub use checker::{CheckStatus, Checker, Stats, Timer};
pub use config::{CheckConfig, ConfigError};
pub use damping::{Damper, Damping, DampingError};
pub use director::{Applied, DirectorBinding};
pub use probe::{
    DnsCheck, FailReason, HttpCheck, NANNY_HTTP_SEND, ProbeResult, ProbeSpec, ProgramCheck,
    ProgramJudge, SendExpect, TemplateError, expand, split_command, unescape,
};

use crate::Instant;

/// What a [`Checker`] tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<K> {
    /// Run this probe against `target` and [`report`](Checker::report) the outcome before
    /// `deadline` (afterwards it counts as a timeout and a late report is ignored).
    Probe {
        /// The check.
        id: K,
        /// The address and port to probe.
        target: SocketAddr,
        /// What to do (program templates already expanded).
        probe: ProbeSpec,
        /// When the probe is abandoned.
        deadline: Instant,
    },
    /// The server is up: give it its configured weight, or `weight` when a dynamic check has
    /// reported one.
    Up {
        /// The check.
        id: K,
        /// The last dynamic weight, if the probe reports weights.
        weight: Option<u32>,
        /// Why.
        reason: Reason,
    },
    /// The server is down: quiesce it (`remove: false`, weight 0, connections kept) or remove
    /// it (`remove: true`).
    Down {
        /// The check.
        id: K,
        /// Remove rather than quiesce.
        remove: bool,
        /// Why.
        reason: Reason,
    },
    /// An up server's dynamic weight changed (keepalived `misc_dynamic`).
    Weight {
        /// The check.
        id: K,
        /// The new weight.
        weight: u32,
    },
}

/// Why a server went up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// `rise` consecutive passes (and the re-entry time) since the last failure.
    Rise,
    /// `fall` consecutive failures; the last one's reason.
    Fall(FailReason),
    /// The check starts down (`alpha`).
    Alpha,
    /// A quiesced server stayed down for the service timeout.
    ServiceTimeout,
    /// Flap damping released a healthy server.
    Released,
    /// The check was removed or the checker shut down (`omega`).
    Shutdown,
}

/// Misuse of the [`Checker`] interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HealthError {
    /// A check with this id exists.
    #[error("a check with this id exists")]
    DuplicateCheck,
    /// No check with this id.
    #[error("no such check")]
    NoSuchCheck,
    /// The check's settings are invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}
