//! [`Instance`]: one virtual router, its transitions, timers and commands.

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::collections::VecDeque;

use bytes::BytesMut;
use lvs_core::{Datagram, Instant, MonotonicGuard, PacketMeta, StateMachine, TimerTable, Transmit};

use super::peers::{Peer, PeerTable};
use super::settings::Settings;
use super::timing::{master_down_interval, skew_time, v2_interval, v3_interval};
use super::track::{Track, Tracks};
use super::types::{CommandError, ConfigError, Event, InstanceStats, Reason, State, Timer};
use crate::config::{InstanceConfig, Transport};
use crate::wire::{
    ChecksumLatch, ChecksumVariant, Family, MAX_ADVER_INT_MAX, VersionRepr, VrrpRepr,
    multicast_group,
};

/// Which announcement the [`Timer::Announce`] deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AnnouncePhase {
    /// The second burst, `garp_master_delay` after becoming master.
    Second,
    /// A periodic refresh.
    Refresh,
}

/// One VRRP virtual router instance (RFC 3768 / RFC 5798 / RFC 9568 with keepalived's
/// extensions) as a Sans-IO [`StateMachine`].
///
/// * **Inputs**: received adverts ([`StateMachine::handle_datagram`], the VRRP payload with
///   the IP source, destination and TTL in [`Datagram::meta`]), timeouts, and commands:
///   [`Instance::start`], [`Instance::shutdown`], [`Instance::handover`],
///   [`Instance::reclaim`], [`Instance::set_track`], [`Instance::remove_track`].
/// * **Outputs**: adverts as [`Transmit`]s (TTL 255, to the group or to each unicast peer) and
///   [`Event`]s: the desired VIP set, state changes, announcement requests, drift warnings.
/// * **Queries**: [`Instance::state`], [`Instance::priority`], [`Instance::desired_vips`],
///   [`Instance::explain`], [`Instance::peers`], [`Instance::stats`].
///
/// Follow the drain rule: after any `&mut` call, drain `poll_transmit` and `poll_event` until
/// both return `None`, then read `poll_timeout`.
#[derive(Debug)]
pub struct Instance {
    pub(super) config: InstanceConfig,
    pub(super) settings: Settings,
    pub(super) version: u8,
    /// Our own advertisement interval.
    pub(super) adver_interval: Duration,
    /// Master_Adver_Interval: learned from the master (v3), else ours.
    pub(super) master_adver_interval: Duration,
    pub(super) send_variant: ChecksumVariant,
    pub(super) state: State,
    pub(super) since: Instant,
    pub(super) reason: Reason,
    pub(super) timers: TimerTable<Timer, 3>,
    guard: MonotonicGuard,
    pub(super) tracks: Tracks,
    pub(super) group_fault: bool,
    /// After [`Instance::handover`]: accept lower-priority masters until [`Instance::reclaim`].
    pub(super) yielded: bool,
    /// preempt_delay: when the first lower-priority advert arrived.
    pub(super) preempt_hold_since: Option<Instant>,
    /// The master as we last heard it: address, priority, when.
    pub(super) master: Option<(IpAddr, u8, Instant)>,
    pub(super) peers: PeerTable,
    pub(super) latch: ChecksumLatch,
    pub(super) stats: InstanceStats,
    repr: VrrpRepr,
    buf: BytesMut,
    out: VecDeque<Transmit>,
    pub(super) events: VecDeque<Event>,
    /// Whether the last emitted VIP set was the full one (`None`: nothing emitted yet).
    vips_emitted: Option<bool>,
    announce_phase: AnnouncePhase,
    last_announce: Option<Instant>,
    pub(super) last_lower_answer: Option<Instant>,
    /// The last Master_Down_Interval computed on the receive path, keyed by the effective
    /// priority and Master_Adver_Interval it was computed for.
    down_cache: Option<(u8, Duration, Duration)>,
}

impl Instance {
    /// A stopped instance ([`State::Initialize`]); call [`Instance::start`] to run it.
    pub fn new(config: InstanceConfig, settings: Settings) -> Result<Self, ConfigError> {
        if config.vrid == 0 {
            return Err(ConfigError::Vrid);
        }
        if config.priority == 0 {
            return Err(ConfigError::Priority);
        }
        if !(1..=100).contains(&settings.down_timer_adverts) {
            return Err(ConfigError::DownTimerAdverts);
        }
        if config.addresses.len() > 255 {
            return Err(ConfigError::TooManyAddresses);
        }
        let family = config.family();
        let primary_family = match settings.primary {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        };
        if primary_family != family {
            return Err(ConfigError::Family);
        }
        let (version, adver_interval) = match config.version {
            VersionRepr::V2 { adver_int, .. } => {
                if family == Family::V6 {
                    return Err(ConfigError::Family);
                }
                if adver_int == 0 {
                    return Err(ConfigError::Interval);
                }
                (2, v2_interval(adver_int))
            }
            VersionRepr::V3 { max_adver_int } => {
                if max_adver_int == 0 || max_adver_int > MAX_ADVER_INT_MAX {
                    return Err(ConfigError::Interval);
                }
                (3, v3_interval(max_adver_int))
            }
        };
        let send_variant = match (version, family) {
            (3, Family::V4) => settings.send_checksum,
            _ => ChecksumVariant::default_for(version),
        };
        let repr = VrrpRepr {
            vrid: config.vrid,
            priority: config.priority,
            version: config.version,
            addresses: config.addresses.clone(),
        };
        Ok(Self {
            latch: ChecksumLatch::new(settings.checksum_policy, settings.peer_capacity),
            peers: PeerTable::new(settings.peer_capacity),
            config,
            settings,
            version,
            adver_interval,
            master_adver_interval: adver_interval,
            send_variant,
            state: State::Initialize,
            since: Instant::ZERO,
            reason: Reason::Shutdown,
            timers: TimerTable::new(),
            guard: MonotonicGuard::default(),
            tracks: Tracks::default(),
            group_fault: false,
            yielded: false,
            preempt_hold_since: None,
            master: None,
            stats: InstanceStats::default(),
            buf: BytesMut::with_capacity(4 * repr.buffer_len().max(64)),
            repr,
            out: VecDeque::new(),
            events: VecDeque::new(),
            vips_emitted: None,
            announce_phase: AnnouncePhase::Second,
            last_announce: None,
            last_lower_answer: None,
            down_cache: None,
        })
    }

    // ----- queries -------------------------------------------------------------------------

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The effective priority: the base priority plus the tracked weights, clamped to 1..=254
    /// (255 for the owner).
    pub fn priority(&self) -> u8 {
        self.tracks.effective(self.config.priority)
    }

    /// The configured (base) priority.
    pub fn base_priority(&self) -> u8 {
        self.config.priority
    }

    /// Whether this instance owns the addresses (priority 255).
    pub fn is_owner(&self) -> bool {
        self.config.priority == 255
    }

    /// The addresses that should be configured now: every virtual address as master, none
    /// otherwise.
    pub fn desired_vips(&self) -> Vec<IpAddr> {
        if self.state == State::Master {
            self.config.addresses.iter().collect()
        } else {
            Vec::new()
        }
    }

    /// Accept_Mode: whether, as master, packets addressed to the virtual addresses are
    /// accepted (the shell installs or removes its drop rules accordingly).
    pub fn accept_mode(&self) -> bool {
        self.settings.accept || self.is_owner()
    }

    /// The receive-side configuration.
    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    /// The behaviour settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Our advertisement interval.
    pub fn advert_interval(&self) -> Duration {
        self.adver_interval
    }

    /// Master_Adver_Interval: the master's interval as learned from its adverts (version 3),
    /// else ours.
    pub fn master_adver_interval(&self) -> Duration {
        self.master_adver_interval
    }

    /// Skew_Time for our effective priority.
    pub fn skew_time(&self) -> Duration {
        skew_time(self.version, self.priority(), self.master_adver_interval)
    }

    /// Master_Down_Interval for our effective priority.
    pub fn master_down_interval(&self) -> Duration {
        master_down_interval(
            self.version,
            self.priority(),
            self.master_adver_interval,
            self.settings.down_timer_adverts,
        )
    }

    /// [`Self::master_down_interval`], remembered while the priority and the master's interval
    /// stay the same (every advert of a steady master re-arms the down timer with it).
    pub(super) fn master_down_interval_cached(&mut self) -> Duration {
        let key = (self.priority(), self.master_adver_interval);
        match self.down_cache {
            Some((p, i, d)) if (p, i) == key => d,
            _ => {
                let d = self.master_down_interval();
                self.down_cache = Some((key.0, key.1, d));
                d
            }
        }
    }

    /// The counters.
    pub fn stats(&self) -> &InstanceStats {
        &self.stats
    }

    /// Every peer heard recently (bounded by [`Settings::peer_capacity`]).
    pub fn peers(&self) -> impl Iterator<Item = &Peer> {
        self.peers.iter()
    }

    /// The peer at `addr`, if it was heard.
    pub fn peer(&self, addr: IpAddr) -> Option<&Peer> {
        self.peers.get(addr)
    }

    /// The tracked inputs.
    pub fn tracks(&self) -> impl Iterator<Item = &Track> {
        self.tracks.iter()
    }

    /// Whether a weight-0 tracked input of this instance is down (its own fault, as opposed
    /// to one a sync group imposes).
    pub fn own_fault(&self) -> bool {
        self.tracks.fault().is_some()
    }

    // ----- commands ------------------------------------------------------------------------

    /// Start: the owner becomes master at once, others wait as backup for
    /// Master_Down_Interval, and a failed weight-0 input means fault. Always emits
    /// [`Event::Vips`] (empty unless master) so the shell can clean up after a crash. A no-op
    /// when already running.
    pub fn start(&mut self, now: Instant) {
        let now = self.guard.observe(now);
        if self.state != State::Initialize {
            return;
        }
        self.vips_emitted = None;
        self.master_adver_interval = self.adver_interval;
        if let Some(reason) = self.fault_reason() {
            self.set_state(now, State::Fault, reason);
        } else if self.is_owner() {
            self.become_master(now, Reason::Owner);
        } else {
            self.become_backup(now, Reason::Startup);
        }
    }

    /// Stop: a master sends one advert with priority 0 so a backup takes over after Skew_Time;
    /// every timer stops and the state becomes [`State::Initialize`] (notify STOP).
    pub fn shutdown(&mut self, now: Instant) {
        let now = self.guard.observe(now);
        if self.state == State::Initialize {
            return;
        }
        if self.state == State::Master {
            self.send_advert(0);
        }
        self.timers.stop_all();
        self.master = None;
        self.yielded = false;
        self.set_state(now, State::Initialize, Reason::Shutdown);
    }

    /// Graceful handover (master only): send priority 0 so the best backup takes over within
    /// its Skew_Time plus one round trip, and stay backup, accepting the new master whatever
    /// its priority, until [`Instance::reclaim`]. If nobody takes over, this instance becomes
    /// master again after Master_Down_Interval.
    pub fn handover(&mut self, now: Instant) -> Result<(), CommandError> {
        let now = self.guard.observe(now);
        if self.state != State::Master {
            return Err(CommandError::NotMaster);
        }
        self.send_advert(0);
        self.yielded = true;
        self.become_backup(now, Reason::Handover);
        Ok(())
    }

    /// End a [`Instance::handover`]: preempt again (if configured). A preempting backup with
    /// the highest priority takes over when the lower-priority master's adverts stop
    /// resetting its timer.
    pub fn reclaim(&mut self, now: Instant) {
        self.guard.observe(now);
        self.yielded = false;
    }

    /// Set tracked input `name` (created if new) to `up` with `weight` (-253..=253; see the
    /// [`track`](super::track) rules). The effective priority changes at once; as in
    /// keepalived no advert is forced, the next regular one carries it. A weight-0 input
    /// going down enters [`State::Fault`]; the last one coming back up leaves it.
    pub fn set_track(
        &mut self,
        now: Instant,
        name: &str,
        up: bool,
        weight: i16,
    ) -> Result<(), CommandError> {
        let now = self.guard.observe(now);
        if !(-253..=253).contains(&weight) {
            return Err(CommandError::Weight);
        }
        self.tracks.set(name, up, weight);
        self.reevaluate_fault(now);
        Ok(())
    }

    /// Remove tracked input `name`; returns whether it existed.
    pub fn remove_track(&mut self, now: Instant, name: &str) -> bool {
        let now = self.guard.observe(now);
        let removed = self.tracks.remove(name);
        self.reevaluate_fault(now);
        removed
    }

    // ----- sync group hooks ----------------------------------------------------------------

    /// A sync group imposes (or lifts) a fault.
    pub(super) fn sync_fault(&mut self, now: Instant, fault: bool) {
        let now = self.guard.observe(now);
        self.group_fault = fault;
        self.reevaluate_fault(now);
    }

    /// A sync group moves this member to `to` (master or backup) when it is running.
    pub(super) fn sync_follow(&mut self, now: Instant, to: State) {
        let now = self.guard.observe(now);
        match (self.state, to) {
            (State::Backup, State::Master) => self.become_master(now, Reason::SyncGroup),
            (State::Master, State::Backup) => {
                self.send_advert(0);
                self.become_backup(now, Reason::SyncGroup);
            }
            _ => {}
        }
    }

    // ----- transitions ---------------------------------------------------------------------

    fn fault_reason(&self) -> Option<Reason> {
        match self.tracks.fault() {
            Some(t) => Some(Reason::TrackFault {
                track: t.name.clone(),
            }),
            None => self.group_fault.then_some(Reason::SyncGroup),
        }
    }

    fn reevaluate_fault(&mut self, now: Instant) {
        match (self.state, self.fault_reason()) {
            (State::Backup | State::Master, Some(reason)) => {
                if self.state == State::Master {
                    // keepalived sends priority 0 when leaving master for fault.
                    self.send_advert(0);
                }
                self.timers.stop_all();
                self.preempt_hold_since = None;
                self.set_state(now, State::Fault, reason);
            }
            (State::Fault, None) => {
                self.master_adver_interval = self.adver_interval;
                if self.is_owner() {
                    self.become_master(now, Reason::Recovered);
                } else {
                    self.become_backup(now, Reason::Recovered);
                }
            }
            _ => {}
        }
    }

    pub(super) fn set_state(&mut self, now: Instant, to: State, reason: Reason) {
        if to != self.state {
            self.stats.transitions = self.stats.transitions.saturating_add(1);
            self.events.push_back(Event::StateChanged {
                from: self.state,
                to,
                reason: reason.clone(),
            });
            self.state = to;
            self.since = now;
            self.reason = reason;
        }
        let full = to == State::Master;
        if self.vips_emitted != Some(full) {
            self.vips_emitted = Some(full);
            self.events.push_back(Event::Vips {
                vips: self.desired_vips(),
            });
        }
    }

    /// Send an advert, arm the advert timer, announce, and become master.
    pub(super) fn become_master(&mut self, now: Instant, reason: Reason) {
        self.timers.stop(Timer::MasterDown);
        self.send_advert(self.priority());
        self.timers.set(Timer::Advert, now + self.adver_interval);
        self.master = None;
        self.yielded = false;
        self.preempt_hold_since = None;
        self.last_lower_answer = None;
        self.set_state(now, State::Master, reason);
        let a = self.settings.announce;
        self.announce(now, a.master_repeat);
        if !a.master_delay.is_zero() {
            self.announce_phase = AnnouncePhase::Second;
            self.timers.set(Timer::Announce, now + a.master_delay);
        } else if !a.refresh.is_zero() {
            self.announce_phase = AnnouncePhase::Refresh;
            self.timers.set(Timer::Announce, now + a.refresh);
        }
    }

    /// Stop the master's timers, arm Master_Down, and become backup.
    pub(super) fn become_backup(&mut self, now: Instant, reason: Reason) {
        self.timers.stop(Timer::Advert);
        self.timers.stop(Timer::Announce);
        self.timers
            .set(Timer::MasterDown, now + self.master_down_interval());
        self.set_state(now, State::Backup, reason);
    }

    /// Request an announcement burst; collapsed when one was already requested at `now`.
    pub(super) fn announce(&mut self, now: Instant, repeat: u32) {
        if repeat == 0 || self.config.addresses.is_empty() || self.last_announce == Some(now) {
            return;
        }
        self.last_announce = Some(now);
        self.stats.announces = self.stats.announces.saturating_add(1);
        self.events.push_back(Event::Announce {
            vips: self.config.addresses.iter().collect(),
            repeat,
        });
    }

    /// Queue one advert with `priority` to every destination.
    pub(super) fn send_advert(&mut self, priority: u8) {
        self.repr.priority = priority;
        let src = self.settings.primary;
        let (count, ttl) = match &self.config.transport {
            Transport::Multicast => (1, crate::wire::TTL),
            Transport::Unicast(u) => (u.peers.len(), self.settings.unicast_ttl),
        };
        for i in 0..count {
            let dst = match &self.config.transport {
                Transport::Multicast => multicast_group(self.config.family()),
                Transport::Unicast(u) => u.peers[i],
            };
            let len = self.repr.buffer_len();
            self.buf.clear();
            self.buf.resize(len, 0);
            // `new` checked every field `emit` can refuse, so this cannot fail.
            if self
                .repr
                .emit(&mut self.buf[..], self.send_variant, src, dst)
                .is_err()
            {
                continue;
            }
            let payload = self.buf.split().freeze();
            self.stats.adverts_sent = self.stats.adverts_sent.saturating_add(1);
            self.out.push_back(Transmit {
                src: Some(SocketAddr::new(src, 0)),
                dst: SocketAddr::new(dst, 0),
                payload,
                meta: PacketMeta {
                    ttl: Some(ttl),
                    ifindex: None,
                },
            });
        }
    }

    /// Report a deadline `at` served at `now` if it is more than one interval late.
    fn check_late(&mut self, timer: Timer, at: Instant, now: Instant) {
        let late = now.saturating_duration_since(at);
        if late > self.adver_interval.max(self.master_adver_interval) {
            self.stats.late_timers = self.stats.late_timers.saturating_add(1);
            self.events.push_back(Event::Late { timer, by: late });
        }
    }

    /// An advert just went out off-schedule: the next one is due one interval from `now`. A
    /// deadline this replaces that was long overdue is reported as a stall.
    pub(super) fn rearm_advert(&mut self, now: Instant) {
        if let Some(at) = self.timers.get(Timer::Advert) {
            self.check_late(Timer::Advert, at, now);
        }
        self.timers.set(Timer::Advert, now + self.adver_interval);
    }

    /// Fire one due timer that was due at `at`.
    fn fire(&mut self, timer: Timer, at: Instant, now: Instant) {
        self.check_late(timer, at, now);
        match (timer, self.state) {
            (Timer::MasterDown, State::Backup) => self.become_master(now, Reason::MasterDown),
            (Timer::Advert, State::Master) => {
                self.send_advert(self.priority());
                // From `now`, not from `at`: a stall never produces a burst of catch-up adverts.
                self.timers.set(Timer::Advert, now + self.adver_interval);
            }
            (Timer::Announce, State::Master) => {
                let a = self.settings.announce;
                let repeat = match self.announce_phase {
                    AnnouncePhase::Second => a.master_repeat,
                    AnnouncePhase::Refresh => a.refresh_repeat,
                };
                self.announce(now, repeat);
                if !a.refresh.is_zero() {
                    self.announce_phase = AnnouncePhase::Refresh;
                    self.timers.set(Timer::Announce, now + a.refresh);
                }
            }
            _ => {}
        }
    }
}

impl StateMachine for Instance {
    type Event = Event;
    type Timer = Timer;

    fn handle_datagram(&mut self, now: Instant, datagram: Datagram) {
        let now = self.guard.observe(now);
        self.receive(now, &datagram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        let now = self.guard.observe(now);
        for &timer in <Timer as lvs_core::TimerKey>::ALL {
            if let Some(at) = self.timers.get(timer)
                && at <= now
            {
                self.timers.stop(timer);
                self.fire(timer, at, now);
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<(Instant, Timer)> {
        self.timers.next()
    }
}
