//! What the client reports: events for the shell, timers, association snapshots, counters.

use core::net::SocketAddr;

use crate::onwire::RxStats;
use crate::time::NtpDuration;
use crate::wire::{KissCode, LeapIndicator, Refid};

/// What the client asks of the application.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// Slew the clock by `offset` (adjtime semantics: replaces the rest of any slew in
    /// progress). Positive advances the clock.
    Slew {
        /// Amount to slew.
        offset: NtpDuration,
    },
    /// Add `offset` to the clock now and cancel any slew in progress.
    Step {
        /// Amount to step.
        offset: NtpDuration,
    },
    /// Set the absolute frequency correction (positive makes the clock run faster).
    SetFrequency {
        /// Parts per million, within ±500.
        ppm: f64,
    },
    /// The offset exceeds the panic threshold: no correction was made. The shell decides
    /// (ntpd exits and asks for a manual set).
    Panic {
        /// The offending offset.
        offset: NtpDuration,
    },
    /// The leap warning voted by the survivors changed; arm or disarm the kernel.
    Leap(LeapIndicator),
    /// A new system peer was selected.
    SystemPeer {
        /// Its address.
        server: SocketAddr,
    },
    /// The server's reach register dropped to zero.
    Unreachable {
        /// Its address.
        server: SocketAddr,
    },
    /// The server sent a RATE kiss; its minimum poll was raised.
    RateLimited {
        /// Its address.
        server: SocketAddr,
        /// The new minimum poll exponent.
        minpoll: i8,
    },
    /// The server sent DENY or RSTR; the association stopped polling.
    Demobilised {
        /// Its address.
        server: SocketAddr,
        /// The kiss code.
        code: KissCode,
    },
}

/// Why a deadline exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The poll (or burst) timer of an association, by configuration index.
    Poll {
        /// Index into the configured servers.
        association: usize,
    },
    /// The end of a phase boost: the frequency returns to its base value.
    Discipline,
}

impl Timer {
    /// Tie-break order: the discipline first, then associations by index.
    pub(crate) fn order(self) -> usize {
        match self {
            Self::Discipline => 0,
            Self::Poll { association } => association + 1,
        }
    }
}

/// An association's state in the last selection, as `ntpq -p` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tally {
    /// Not a candidate: unreachable, unsynchronised or too distant (` `).
    Reject,
    /// Outside the intersection interval (`x`).
    Falseticker,
    /// Pruned by the cluster algorithm (`-`).
    Outlier,
    /// Survivor, combined (`+`).
    Candidate,
    /// The system peer (`*`).
    SystemPeer,
}

impl Tally {
    /// The `ntpq -p` tally character.
    pub const fn code(self) -> char {
        match self {
            Self::Reject => ' ',
            Self::Falseticker => 'x',
            Self::Outlier => '-',
            Self::Candidate => '+',
            Self::SystemPeer => '*',
        }
    }
}

/// A snapshot of one association.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AssociationStatus {
    /// Server address.
    pub addr: SocketAddr,
    /// Still polling (not demobilised).
    pub active: bool,
    /// Selection tally.
    pub tally: Tally,
    /// Reach register.
    pub reach: u8,
    /// Current poll exponent.
    pub poll: i8,
    /// Server stratum (16 until the first good reply).
    pub stratum: u8,
    /// Server refid.
    pub refid: Refid,
    /// Offset of the filter's selected sample relative to the clock now, seconds.
    pub offset: Option<f64>,
    /// Its round-trip delay, seconds.
    pub delay: Option<f64>,
    /// Peer jitter, seconds.
    pub jitter: Option<f64>,
    /// Root distance now, seconds.
    pub root_distance: Option<f64>,
    /// The kiss code that demobilised it, if any.
    pub kiss: Option<KissCode>,
    /// Reply counters.
    pub rx: RxStats,
}

/// Client-wide counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Reply outcomes over all associations.
    pub rx: RxStats,
    /// Datagrams from an address that is no configured server.
    pub unknown_source: u64,
    /// Datagrams for a demobilised association.
    pub inactive: u64,
    /// Valid replies whose request was never reported sent ([`Client::note_sent`](super::Client::note_sent)).
    pub no_send_time: u64,
    /// `note_sent` calls that matched no outstanding request.
    pub unmatched_send_report: u64,
    /// Replies with an impossible delay (negative beyond 1 s, or above 16 s).
    pub bad_delay: u64,
    /// Samples held back by the popcorn spike suppressor.
    pub popcorn: u64,
    /// Clock selections that found no majority clique.
    pub no_majority: u64,
    /// Updates the discipline ignored (spikes, stepout pending).
    pub ignored_updates: u64,
}
