//! [`Explain`]: why an instance is in its state, who is master, who is next, and when the
//! next transition can happen.

use core::fmt;
use core::net::IpAddr;
use core::time::Duration;

use lvs_core::{Instant, StateMachine};

use super::Instance;
use super::types::{Reason, Scheduled, State, Timer};

/// A router as seen by [`Explain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouterView {
    /// Its primary address.
    pub addr: IpAddr,
    /// Its (effective) priority.
    pub priority: u8,
    /// When it was last heard (`None` for this instance).
    pub heard: Option<Instant>,
}

/// A snapshot answering "why this state, who is master, who is next, and when can it change".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explain {
    /// When the snapshot was taken.
    pub now: Instant,
    /// The state.
    pub state: State,
    /// Since when.
    pub since: Instant,
    /// Why it was entered.
    pub reason: Reason,
    /// The effective priority.
    pub priority: u8,
    /// The configured priority.
    pub base_priority: u8,
    /// The master: this instance, or the last router whose advert we accepted as master's.
    pub master: Option<RouterView>,
    /// Who takes over if the master fails, as far as this instance can tell: as backup, this
    /// instance (backups are silent, so a better one is unknown until it speaks); as master,
    /// the best other router heard so far.
    pub next: Option<RouterView>,
    /// The next deadline and what it does.
    pub scheduled: Option<Scheduled>,
    /// The earliest time the state can change on its own (a backup's Master_Down deadline);
    /// `None` when only a received advert or a command can change it.
    pub next_transition: Option<Instant>,
    /// Master_Down_Interval and Skew_Time for our effective priority.
    pub master_down_interval: Duration,
    /// Skew_Time for our effective priority.
    pub skew_time: Duration,
    /// Tracked inputs that are down.
    pub down_tracks: Vec<String>,
    /// Whether a sync group holds this instance in fault.
    pub group_fault: bool,
    /// Whether a handover is in force (lower-priority masters accepted until `reclaim`).
    pub yielded: bool,
    /// Peers whose configuration differs from ours (see [`super::Event::Drift`]).
    pub drifting_peers: Vec<IpAddr>,
}

impl Instance {
    /// Explain the current state at `now` (a query; it does not change the machine).
    pub fn explain(&self, now: Instant) -> Explain {
        let me = RouterView {
            addr: self.settings.primary,
            priority: self.priority(),
            heard: None,
        };
        let master = match self.state {
            State::Master => Some(me),
            _ => self.master.map(|(addr, priority, at)| RouterView {
                addr,
                priority,
                heard: Some(at),
            }),
        };
        let next = match self.state {
            State::Backup => Some(me),
            State::Master => self
                .peers
                .iter()
                .filter(|p| p.accepted && p.priority > 0)
                .max_by_key(|p| (p.priority, p.addr))
                .map(|p| RouterView {
                    addr: p.addr,
                    priority: p.priority,
                    heard: Some(p.last_seen),
                }),
            State::Initialize | State::Fault => None,
        };
        Explain {
            now,
            state: self.state,
            since: self.since,
            reason: self.reason.clone(),
            priority: self.priority(),
            base_priority: self.base_priority(),
            master,
            next,
            scheduled: self.poll_timeout().map(|(at, what)| Scheduled { at, what }),
            next_transition: match self.state {
                State::Backup => self.timers.get(Timer::MasterDown),
                _ => None,
            },
            master_down_interval: self.master_down_interval(),
            skew_time: self.skew_time(),
            down_tracks: self.tracks.down(),
            group_fault: self.group_fault,
            yielded: self.yielded,
            drifting_peers: self
                .peers
                .iter()
                .filter(|p| p.drifting())
                .map(|p| p.addr)
                .collect(),
        }
    }
}

impl fmt::Display for Explain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} since {} ({:?}), priority {} (base {})",
            self.state, self.since, self.reason, self.priority, self.base_priority
        )?;
        match self.master {
            Some(m) => match m.heard {
                Some(at) => writeln!(f, "master: {} priority {} heard {}", m.addr, m.priority, at)?,
                None => writeln!(f, "master: this instance ({})", m.addr)?,
            },
            None => writeln!(f, "master: unknown")?,
        }
        match self.next {
            Some(n) if n.heard.is_none() => writeln!(f, "next: this instance")?,
            Some(n) => writeln!(f, "next: {} priority {}", n.addr, n.priority)?,
            None => writeln!(f, "next: unknown")?,
        }
        match self.next_transition {
            Some(at) => writeln!(
                f,
                "becomes master at {at} unless an advert arrives (in {:?})",
                at.saturating_duration_since(self.now)
            )?,
            None => writeln!(f, "no timed transition pending")?,
        }
        if !self.down_tracks.is_empty() {
            writeln!(f, "tracks down: {}", self.down_tracks.join(", "))?;
        }
        if self.yielded {
            writeln!(f, "handover in force: call reclaim to preempt again")?;
        }
        for p in &self.drifting_peers {
            writeln!(f, "configuration drift with {p}")?;
        }
        Ok(())
    }
}
