//! The vocabulary of the state machine: states, reasons, events, timers, errors and counters.

use core::fmt;
use core::net::IpAddr;
use core::time::Duration;

use lvs_core::{Instant, TimerKey};

use crate::stats::RxStats;
use crate::wire::ChecksumVariant;

/// The state of one virtual router instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not running: before [`super::Instance::start`] and after [`super::Instance::shutdown`].
    Initialize,
    /// Waiting for the master to fall silent.
    Backup,
    /// Forwarding for the virtual addresses and sending adverts.
    Master,
    /// A tracked input with weight 0 failed (keepalived's FAULT): no adverts, no addresses.
    Fault,
}

impl State {
    /// The keepalived notify word: `MASTER`, `BACKUP`, `FAULT`, or `STOP` for
    /// [`State::Initialize`].
    pub fn notify_name(self) -> &'static str {
        match self {
            Self::Initialize => "STOP",
            Self::Backup => "BACKUP",
            Self::Master => "MASTER",
            Self::Fault => "FAULT",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.notify_name())
    }
}

/// Why the instance changed state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reason {
    /// [`super::Instance::start`] with a priority below 255: wait as backup.
    Startup,
    /// [`super::Instance::start`] as the address owner (priority 255): master at once.
    Owner,
    /// The Master_Down timer expired: no usable advert for Master_Down_Interval (or Skew_Time
    /// after the master resigned).
    MasterDown,
    /// A better master was heard: a higher priority, or the same priority from a higher
    /// primary address.
    HigherPriority {
        /// The sender.
        peer: IpAddr,
        /// Its advertised priority.
        priority: u8,
    },
    /// [`super::Instance::shutdown`].
    Shutdown,
    /// The tracked input named here (weight 0) went down.
    TrackFault {
        /// The track's name.
        track: String,
    },
    /// Every weight-0 tracked input is up again (and no sync group holds the fault).
    Recovered,
    /// [`super::Instance::handover`]: this master resigned on request.
    Handover,
    /// A [`super::SyncGroup`] moved this member to follow another one.
    SyncGroup,
}

/// Why a peer's advert shows a configuration that differs from ours. keepalived 2.2.7 drops
/// adverts on most of these differences and both routers become master; this machine reports
/// them as soon as the first such advert arrives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Drift {
    /// The peer announces a different set of virtual addresses.
    VipSet {
        /// The addresses the peer announced.
        theirs: Vec<IpAddr>,
    },
    /// Version 2: the peer's advertisement interval differs from ours.
    AdverInt {
        /// The peer's interval in seconds.
        theirs: u8,
        /// Ours.
        ours: u8,
    },
    /// Version 2: the authentication type or password differs.
    Auth,
    /// The peer's version 3 / IPv4 checksum variant differs from the one we send (or the one
    /// our receive policy accepts).
    ChecksumVariant {
        /// The variant the peer's adverts verify under.
        theirs: ChecksumVariant,
        /// The variant we send.
        ours: ChecksumVariant,
    },
    /// The peer speaks another VRRP version on our VRID.
    Version {
        /// The peer's version.
        theirs: u8,
    },
}

impl Drift {
    /// A bit identifying the kind of drift (for per-peer "already reported" flags).
    pub(crate) fn bit(&self) -> u8 {
        match self {
            Self::VipSet { .. } => 1,
            Self::AdverInt { .. } => 2,
            Self::Auth => 4,
            Self::ChecksumVariant { .. } => 8,
            Self::Version { .. } => 16,
        }
    }
}

/// What the instance tells the application (drain with `poll_event`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The desired set of virtual addresses changed (level-triggered: the shell makes the
    /// interface hold exactly these, adding and removing as needed). Emitted once at
    /// [`super::Instance::start`] (the empty set when not master, so a restart cleans up) and
    /// then at every change.
    Vips {
        /// Every address that should be configured now.
        vips: Vec<IpAddr>,
    },
    /// The state changed (keepalived's notify: MASTER, BACKUP, FAULT or STOP).
    StateChanged {
        /// The previous state.
        from: State,
        /// The new state.
        to: State,
        /// Why.
        reason: Reason,
    },
    /// Send gratuitous ARP requests (IPv4) or unsolicited neighbour advertisements (IPv6) for
    /// these addresses, `repeat` times each; the shell builds the frames and paces them.
    Announce {
        /// The addresses to announce.
        vips: Vec<IpAddr>,
        /// How many frames per address.
        repeat: u32,
    },
    /// A peer's advert shows a configuration that differs from ours (reported once per peer
    /// and kind until the peer's adverts agree again).
    Drift {
        /// The peer's address.
        peer: IpAddr,
        /// What differs.
        drift: Drift,
    },
    /// As master, a lower-priority advert arrived (keepalived `MASTER_RX_LOWER_PRI`).
    MasterRxLowerPriority {
        /// The sender.
        peer: IpAddr,
        /// Its priority.
        priority: u8,
    },
    /// A timer was served more than one advertisement interval late: the process stalled.
    /// The machine sent at most one advert and one announcement for the whole backlog.
    Late {
        /// The timer.
        timer: Timer,
        /// How late.
        by: Duration,
    },
}

/// The instance's timers (the reason part of `poll_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Master: send the next advert.
    Advert,
    /// Backup: become master unless an advert arrives first.
    MasterDown,
    /// Master: the next gratuitous ARP / NA burst (second burst or refresh).
    Announce,
}

impl TimerKey for Timer {
    const ALL: &'static [Self] = &[Self::MasterDown, Self::Advert, Self::Announce];
    fn index(self) -> usize {
        match self {
            Self::MasterDown => 0,
            Self::Advert => 1,
            Self::Announce => 2,
        }
    }
}

/// Why a configuration cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// VRID 0 is not a valid virtual router.
    #[error("VRID must be 1..=255")]
    Vrid,
    /// Priority 0 is reserved for resigning.
    #[error("priority must be 1..=255")]
    Priority,
    /// Version 2 interval 0, or version 3 interval outside 1..=4095 centiseconds.
    #[error("advertisement interval out of range")]
    Interval,
    /// Version 2 over IPv6, or a primary address of another family than the addresses.
    #[error("address family does not fit the version or the addresses")]
    Family,
    /// The down-timer advert count must be 1..=100.
    #[error("down_timer_adverts must be 1..=100")]
    DownTimerAdverts,
    /// More than 255 virtual addresses.
    #[error("more than 255 virtual addresses")]
    TooManyAddresses,
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The command needs the master state.
    #[error("not master")]
    NotMaster,
    /// Track weights are limited to -253..=253.
    #[error("track weight out of range (-253..=253)")]
    Weight,
    /// The instance index is not in the slice given to a sync group.
    #[error("sync group member out of range")]
    UnknownMember,
}

/// Counters of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InstanceStats {
    /// The receive checks' outcomes.
    pub rx: RxStats,
    /// Adverts received from our own primary address (multicast loopback), ignored.
    pub own_adverts: u64,
    /// Datagrams received while stopped ([`State::Initialize`]), ignored.
    pub inactive: u64,
    /// Adverts sent (one per destination).
    pub adverts_sent: u64,
    /// Announcement bursts requested.
    pub announces: u64,
    /// Lower-priority adverts answered at once as master.
    pub lower_prio_answers: u64,
    /// Lower-priority adverts not answered because one was answered within the interval.
    pub lower_prio_rate_limited: u64,
    /// Timers served more than one interval late.
    pub late_timers: u64,
    /// State changes.
    pub transitions: u64,
}

/// One instant plus what happens then, for [`super::Explain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scheduled {
    /// When.
    pub at: Instant,
    /// What.
    pub what: Timer,
}
