//! The NTP client as a Sans-IO machine: one association per configured server, the clock
//! filter, selection, cluster and combine algorithms, and the clock discipline (RFC 5905
//! §§8–13). Clock changes are [`Event`]s the shell applies.
//!
//! # Timestamps: who samples what
//!
//! The machine never reads a clock. Requests carry a **random 64-bit nonce** from the injected
//! RNG as their transmit timestamp (as chrony, ntpsec and ntpd-rs do): it leaks nothing about
//! the local clock and an off-path attacker cannot guess it, so the origin check of every reply
//! (and every kiss-o'-death) is meaningful. The true send time T1 stays local:
//!
//! 1. [`Client::poll_transmit`](lvs_core::StateMachine::poll_transmit) hands out a request;
//! 2. the shell sends it and reports the wall-clock time of the send with
//!    [`Client::note_sent`] (a user-space reading right after `sendto`, or the kernel's
//!    transmit timestamp when it arrives later);
//! 3. the reply goes to [`Client::handle_reply`] with the wall-clock time sampled at receive
//!    (T4; ideally the kernel's receive timestamp).
//!
//! A reply whose request was never reported sent is counted in
//! [`ClientStats::no_send_time`] and dropped. The plain
//! [`lvs_core::StateMachine::handle_datagram`] is accepted too:
//! it derives T4 from T1 plus the monotonic time between queueing the request and the reply,
//! which is exact when the monotonic clock runs at the disciplined rate (Linux
//! `CLOCK_MONOTONIC`) and otherwise off by at most the frequency error times the round trip.
//!
//! # The pipeline
//!
//! reply → [`onwire::check_reply`](crate::onwire::check_reply) (one reply per request; KoD
//! RATE raises the poll, DENY/RSTR demobilise) → θ, δ, ε → the association's
//! [`filter::ClockFilter`] → when it yields a newer sample: [`select::intersection`],
//! [`select::cluster`], [`select::combine`] → [`discipline::Discipline::update`] →
//! [`Event::Step`] / [`Event::Slew`] / [`Event::SetFrequency`] / [`Event::Panic`], and the
//! system variables the server side advertises ([`Client::system_state`]).

mod config;
pub mod discipline;
pub mod drift;
pub mod filter;
mod peer;
mod reconfigure;
pub mod select;
mod types;
mod view;

pub use config::{ClientConfig, ConfigError, ServerConfig};
pub use reconfigure::Reconfigured;
pub use types::{AssociationStatus, ClientStats, Event, Tally, Timer};

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::VecDeque;

use lvs_core::rng::{Rng, uniform_below};
use lvs_core::{Datagram, Instant, MonotonicGuard, StateMachine, Transmit};

use crate::onwire::{Reject, check_reply, offset_delay};
use crate::server::SystemState;
use crate::time::{NtpDuration, NtpShort, NtpTimestamp, UnixNanos};
use crate::wire::{HEADER_LEN, LeapIndicator, NtpMessage, NtpRepr, Refid};
use discipline::{ClockState, Discipline, Update};
use filter::{FilterContext, Held, MAXDISP, PHI, RawSample};
use peer::Association;
use select::{Candidate, cluster, combine, intersection, selection_jitter};

/// MINDISP (5 ms): the floor of a root dispersion increment and of a distance's delay term.
pub const MINDISP: f64 = 0.005;
/// The request a reply is checked against when none is outstanding.
const NO_REQUEST: NtpRepr = NtpRepr::client_request(NtpTimestamp::ZERO, 0);

/// Most servers one client accepts (bounds every per-reply buffer).
pub const MAX_SERVERS: usize = 64;

/// The system variables (RFC 5905 §11.2.3).
#[derive(Clone, Copy, Debug)]
struct SystemVars {
    synchronized: bool,
    leap: LeapIndicator,
    stratum: u8,
    refid: Refid,
    root_delay: f64,
    root_dispersion: f64,
    reference: NtpTimestamp,
    updated: Instant,
    peer: Option<usize>,
    offset: f64,
    jitter: f64,
    /// Sample time of the last update (updates only ever use newer samples).
    last_sample: Option<Instant>,
}

/// Buffers reused by every selection so the reply path does not allocate.
#[derive(Clone, Debug, Default)]
struct Scratch {
    candidates: Vec<Candidate>,
    survivors: Vec<Candidate>,
    endpoints: Vec<(f64, i8)>,
    outliers: Vec<usize>,
}

/// The NTP client machine. See the [module docs](self) for the timestamp protocol.
#[derive(Debug)]
pub struct Client<R> {
    config: ClientConfig,
    rng: R,
    assocs: Vec<Association>,
    discipline: Discipline,
    sys: SystemVars,
    precision: f64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: ClientStats,
    guard: MonotonicGuard,
    scratch: Scratch,
}

impl<R: Rng> Client<R> {
    /// A client polling `servers`, started at `now`. With a drift-file frequency in
    /// `config.discipline`, the first event is [`Event::SetFrequency`].
    pub fn new(
        config: ClientConfig,
        servers: impl IntoIterator<Item = ServerConfig>,
        mut rng: R,
        now: Instant,
    ) -> Result<Self, ConfigError> {
        let servers = validate(servers)?;
        if servers.is_empty() {
            return Err(ConfigError::NoServers);
        }
        let assocs: Vec<Association> = servers
            .into_iter()
            .map(|s| Association::new(s, first_poll(&mut rng, config.first_poll_spread, now)))
            .collect();
        let minpoll = assocs.iter().map(|a| a.config.minpoll).min().unwrap_or(6);
        let maxpoll = assocs.iter().map(|a| a.config.maxpoll).max().unwrap_or(10);
        let precision = 2f64.powi(i32::from(config.precision));
        let n = assocs.len();
        let mut events = VecDeque::with_capacity(16 + 2 * n);
        if let Some(ppm) = config.discipline.initial_frequency_ppm {
            events.push_back(Event::SetFrequency {
                ppm: ppm.clamp(-discipline::MAX_FREQ_PPM, discipline::MAX_FREQ_PPM),
            });
        }
        let mut guard = MonotonicGuard::default();
        guard.observe(now);
        Ok(Self {
            config,
            rng,
            assocs,
            discipline: Discipline::new(config.discipline, minpoll, maxpoll, precision),
            sys: SystemVars {
                synchronized: false,
                leap: LeapIndicator::Unsynchronized,
                stratum: 16,
                refid: Refid::ZERO,
                root_delay: 0.0,
                root_dispersion: 0.0,
                reference: NtpTimestamp::ZERO,
                updated: now,
                peer: None,
                offset: 0.0,
                jitter: 0.0,
                last_sample: None,
            },
            precision,
            transmits: VecDeque::with_capacity(n),
            events,
            stats: ClientStats::default(),
            guard,
            scratch: Scratch {
                candidates: Vec::with_capacity(n),
                survivors: Vec::with_capacity(n),
                endpoints: Vec::with_capacity(3 * n),
                outliers: Vec::with_capacity(n),
            },
        })
    }

    /// Records T1, the wall-clock time at which `transmit` (a request from
    /// [`poll_transmit`](StateMachine::poll_transmit)) left. Returns whether it matched the
    /// association's outstanding request; a late report for a superseded request is counted
    /// and ignored.
    pub fn note_sent(&mut self, transmit: &Transmit, wall_tx: UnixNanos) -> bool {
        let nonce = transmit
            .payload
            .get(40..HEADER_LEN)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(|b| NtpTimestamp::from_bits(u64::from_be_bytes(b)));
        let matched = self.assocs.iter_mut().find(|a| a.addr() == transmit.dst);
        if let (Some(nonce), Some(a)) = (nonce, matched)
            && let Some(out) = a.outstanding.as_mut()
            && out.request.transmit == nonce
        {
            out.t1 = Some(NtpTimestamp::from_unix_nanos(wall_tx));
            return true;
        }
        self.stats.unmatched_send_report += 1;
        false
    }

    /// Feeds one reply with T4, the wall-clock time sampled when it was received.
    pub fn handle_reply(&mut self, now: Instant, wall_rx: UnixNanos, datagram: Datagram) {
        self.receive(now, Some(wall_rx), datagram);
    }

    /// Counters.
    pub fn stats(&self) -> &ClientStats {
        &self.stats
    }

    /// The discipline (state, frequency, system poll, jitter).
    pub fn discipline(&self) -> &Discipline {
        &self.discipline
    }

    /// The frequency correction in ppm, for the drift file ([`drift::format`]).
    pub fn frequency_ppm(&self) -> f64 {
        self.discipline.frequency_ppm()
    }

    /// The system peer's address, once one was selected.
    pub fn system_peer(&self) -> Option<SocketAddr> {
        self.sys.peer.map(|i| self.assocs[i].addr())
    }

    /// The combined offset of the last clock update, seconds, and the system jitter.
    pub fn last_update(&self) -> Option<(f64, f64)> {
        self.sys
            .last_sample
            .map(|_| (self.sys.offset, self.sys.jitter))
    }

    /// A snapshot of association `index` (configuration order).
    pub fn association(&self, index: usize, now: Instant) -> Option<AssociationStatus> {
        let a = self.assocs.get(index)?;
        let out = a.filter.output();
        Some(AssociationStatus {
            addr: a.addr(),
            active: a.is_active(),
            tally: a.tally,
            reach: a.reach,
            poll: a.hpoll,
            stratum: a.stratum,
            refid: a.refid,
            offset: out.map(|o| o.offset - self.discipline.correction(now)),
            delay: out.map(|o| o.delay),
            jitter: out.map(|o| o.jitter),
            root_distance: a.root_distance(now),
            kiss: a.kiss,
            rx: a.rx,
        })
    }

    /// Snapshots of every association, in configuration order.
    pub fn associations(&self, now: Instant) -> impl Iterator<Item = AssociationStatus> + '_ {
        (0..self.assocs.len()).filter_map(move |i| self.association(i, now))
    }

    /// What the server side advertises at `now`: stratum, refid, root delay, root dispersion
    /// grown by PHI since the last update, leap indicator and whether we are synchronised.
    /// Until the first update (or once the dispersion reaches 16 s) it is
    /// [`SystemState::UNSYNCHRONIZED`] with our precision.
    pub fn system_state(&self, now: Instant) -> SystemState {
        let unsync = SystemState {
            precision: self.config.precision,
            ..SystemState::UNSYNCHRONIZED
        };
        if !self.sys.synchronized {
            return unsync;
        }
        let age = now
            .saturating_duration_since(self.sys.updated)
            .as_secs_f64();
        let dispersion = self.sys.root_dispersion + PHI * age;
        if dispersion >= MAXDISP {
            return unsync;
        }
        SystemState {
            synchronized: true,
            leap: self.sys.leap,
            stratum: self.sys.stratum,
            precision: self.config.precision,
            root_delay: short(self.sys.root_delay),
            root_dispersion: short(dispersion),
            refid: self.sys.refid,
            reference: self.sys.reference,
            local_stratum: None,
        }
    }

    fn receive(&mut self, now: Instant, wall_rx: Option<UnixNanos>, d: Datagram) {
        let now = self.guard.observe(now);
        let Some(i) = self.assocs.iter().position(|a| a.addr() == d.src) else {
            self.stats.unknown_source += 1;
            return;
        };
        let a = &mut self.assocs[i];
        if !a.is_active() {
            self.stats.inactive += 1;
            return;
        }
        let reply = match NtpMessage::parse(&d.payload) {
            Ok(m) => m.header,
            Err(e) => {
                a.rx.record_malformed(e);
                self.stats.rx.record_malformed(e);
                return;
            }
        };
        // With nothing outstanding, check against a request with no nonce: the reply is then
        // classified as a duplicate or as bogus, in the RFC's order.
        let request = a.outstanding.map_or(NO_REQUEST, |o| o.request);
        let outcome = check_reply(&request, a.last_transmit, &reply);
        a.rx.record(outcome);
        self.stats.rx.record(outcome);
        match outcome {
            Ok(()) => {}
            // Not an answer to our request: keep waiting for the real one.
            Err(Reject::InvalidMode(_) | Reject::Duplicate | Reject::Bogus) => return,
            Err(Reject::Kiss(code)) => {
                a.outstanding = None;
                let server = a.addr();
                if code.is_rate() {
                    a.on_rate_kiss(now, reply.poll);
                    let minpoll = a.minpoll;
                    self.events
                        .push_back(Event::RateLimited { server, minpoll });
                } else if code.is_access_denied() {
                    a.demobilise(code);
                    if self.sys.peer == Some(i) {
                        self.sys.peer = None;
                    }
                    self.events.push_back(Event::Demobilised { server, code });
                }
                return;
            }
            // An answer, but unusable (unsynchronised server, zero timestamps, distance).
            Err(_) => {
                a.outstanding = None;
                return;
            }
        }
        let Some(out) = a.outstanding.take() else {
            return;
        };
        a.last_transmit = Some(reply.transmit);
        let Some(t1) = out.t1 else {
            self.stats.no_send_time += 1;
            return;
        };
        a.reach |= 1;
        a.unreach = 0;
        a.last_reply = Some(now);
        a.leap = reply.leap;
        a.stratum = reply.stratum;
        a.refid = reply.refid;
        a.root_delay = reply.root_delay.as_secs_f64();
        a.root_dispersion = reply.root_dispersion.as_secs_f64();
        a.precision = exp2_i8(reply.precision);
        let t4 = match wall_rx {
            Some(w) => NtpTimestamp::from_unix_nanos(w),
            None => {
                let rtt = now.saturating_duration_since(out.queued).as_nanos();
                t1.wrapping_add(NtpDuration::from_nanos(i128::try_from(rtt).unwrap_or(0)))
            }
        };
        let sample = offset_delay(t1, reply.receive, reply.transmit, t4);
        let theta = sample.offset.as_secs_f64();
        let delta = sample.delay.as_secs_f64();
        if !(-1.0..MAXDISP).contains(&delta) {
            self.stats.bad_delay += 1;
            return;
        }
        let sample = RawSample {
            offset: theta + self.discipline.correction(now),
            delay: delta,
            dispersion: a.precision + self.precision + PHI * delta.max(0.0),
        };
        // An old sample's offset may be off by the frequency uncertainty times its age: that
        // much drift is no spike, and it counts against the sample like delay does (δ/2 is
        // the delay's share of the offset error, hence the factor 2).
        let tolerance = self.discipline.frequency_tolerance();
        let ctx = FilterContext {
            precision: self.precision,
            poll: a.poll_interval(),
            freq_tolerance: tolerance.max(PHI),
            age_penalty: 2.0 * tolerance,
        };
        match a.filter.add(now, sample, ctx) {
            // A sample that is not the newest minimum still lets a peer that just became fit
            // take part; the system process only ever uses a sample once.
            Ok(_) | Err(Held::NotNewer) => self.clock_select(now, Some(t4)),
            Err(Held::Popcorn) => self.stats.popcorn += 1,
            Err(Held::Empty) => {}
        }
    }

    /// Selection, cluster, combine and (for a newer system-peer sample) the clock update.
    /// Without `wall` (a reconfiguration, not a reply) it stops once the tallies and the
    /// system peer are chosen: the next reply updates the clock.
    fn clock_select(&mut self, now: Instant, wall: Option<NtpTimestamp>) {
        let max_distance = self.config.max_distance.as_secs_f64();
        // Λ ages at PHI; while the frequency is less certain than that, an old sample is off
        // by up to the larger tolerance times its age, and its distance says so.
        let extra_aging = (self.discipline.frequency_tolerance() - PHI).max(0.0);
        let s = &mut self.scratch;
        s.candidates.clear();
        for (i, a) in self.assocs.iter_mut().enumerate() {
            a.tally = Tally::Reject;
            if let Some(distance) = a.fit(now, max_distance)
                && let Some(out) = a.filter.output()
            {
                let age = now.saturating_duration_since(out.time).as_secs_f64();
                s.candidates.push(Candidate {
                    id: i,
                    offset: out.offset,
                    distance: distance + extra_aging * age,
                    jitter: out.jitter,
                    stratum: a.stratum,
                });
            }
        }
        let min_sane = self.config.min_sane.max(1);
        if s.candidates.len() < min_sane {
            return;
        }
        let Some(interval) = intersection(&s.candidates, &mut s.endpoints) else {
            self.stats.no_majority += 1;
            for c in &s.candidates {
                self.assocs[c.id].tally = Tally::Falseticker;
            }
            return;
        };
        s.survivors.clear();
        for c in &s.candidates {
            if interval.contains(c) {
                s.survivors.push(*c);
                self.assocs[c.id].tally = Tally::Candidate;
            } else {
                self.assocs[c.id].tally = Tally::Falseticker;
            }
        }
        if s.survivors.len() < min_sane {
            return;
        }
        s.survivors
            .sort_unstable_by(|a, b| a.merit().total_cmp(&b.merit()).then(a.id.cmp(&b.id)));
        s.outliers.clear();
        cluster(&mut s.survivors, self.config.min_clock, &mut s.outliers);
        for &id in &s.outliers {
            self.assocs[id].tally = Tally::Outlier;
        }
        // The system peer: a surviving `prefer` server, else the current one if it survived
        // (clock-hop hysteresis), else the best merit.
        let pick = s
            .survivors
            .iter()
            .position(|c| self.assocs[c.id].config.prefer)
            .or_else(|| {
                let current = self.sys.peer?;
                s.survivors.iter().position(|c| c.id == current)
            })
            .unwrap_or(0);
        s.survivors.swap(0, pick);
        let peer_id = s.survivors[0].id;
        self.assocs[peer_id].tally = Tally::SystemPeer;
        let Some(combined) = combine(&s.survivors) else {
            return;
        };
        let jitter = selection_jitter(&s.survivors, 0).hypot(combined.peer_jitter);
        let mut votes = [0usize; 2];
        for c in &s.survivors {
            match self.assocs[c.id].leap {
                LeapIndicator::InsertSecond => votes[0] += 1,
                LeapIndicator::DeleteSecond => votes[1] += 1,
                _ => {}
            }
        }
        let n = s.survivors.len();
        let leap = if 2 * votes[0] > n {
            LeapIndicator::InsertSecond
        } else if 2 * votes[1] > n {
            LeapIndicator::DeleteSecond
        } else {
            LeapIndicator::NoWarning
        };
        if self.sys.peer != Some(peer_id) {
            if self.sys.peer.is_some() {
                self.discipline.restart_baseline();
            }
            self.sys.peer = Some(peer_id);
            let server = self.assocs[peer_id].addr();
            self.events.push_back(Event::SystemPeer { server });
        }
        let Some(wall) = wall else {
            return;
        };
        let peer = &self.assocs[peer_id];
        let Some(&out) = peer.filter.output() else {
            return;
        };
        if self.sys.last_sample.is_some_and(|t| out.time <= t) {
            return;
        }
        self.sys.last_sample = Some(out.time);
        let theta = match self
            .discipline
            .update(now, out.time, combined.offset, out.offset)
        {
            Update::Ignored => {
                self.stats.ignored_updates += 1;
                return;
            }
            Update::Panic { offset } => {
                self.events.push_back(Event::Panic {
                    offset: duration(offset),
                });
                return;
            }
            Update::Step {
                offset,
                frequency_ppm,
            } => {
                if let Some(ppm) = frequency_ppm {
                    self.events.push_back(Event::SetFrequency { ppm });
                }
                self.events.push_back(Event::Step {
                    offset: duration(offset),
                });
                offset
            }
            Update::Slew {
                offset,
                frequency_ppm,
            } => {
                if let Some(ppm) = frequency_ppm {
                    self.events.push_back(Event::SetFrequency { ppm });
                }
                self.events.push_back(Event::Slew {
                    offset: duration(offset),
                });
                offset
            }
        };
        let stratum = peer.stratum.saturating_add(1).min(16);
        let increment = (out.dispersion_at(now) + jitter + theta.abs()).max(MINDISP);
        let was_leap = self.sys.leap;
        self.sys = SystemVars {
            synchronized: stratum < 16,
            leap,
            stratum,
            refid: Refid::from_ip(peer.addr().ip()),
            root_delay: peer.root_delay + out.delay,
            root_dispersion: peer.root_dispersion + increment,
            reference: wall,
            updated: now,
            offset: theta,
            jitter,
            ..self.sys
        };
        let warns = |l| matches!(l, LeapIndicator::InsertSecond | LeapIndicator::DeleteSecond);
        if leap != was_leap && (warns(leap) || warns(was_leap)) {
            self.events.push_back(Event::Leap(leap));
        }
    }

    /// Whether the discipline has left its start-up states.
    pub fn is_synchronized(&self) -> bool {
        self.sys.synchronized && self.discipline.state() != ClockState::Nset
    }
}

impl<R: Rng> StateMachine for Client<R> {
    type Event = Event;
    type Timer = Timer;

    /// A reply without a receive wall-clock time: T4 is derived from T1 (see the module docs).
    /// Prefer [`Client::handle_reply`].
    fn handle_datagram(&mut self, now: Instant, datagram: Datagram) {
        self.receive(now, None, datagram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        let now = self.guard.observe(now);
        if let Some(ppm) = self.discipline.on_timeout(now) {
            self.events.push_back(Event::SetFrequency { ppm });
        }
        let system_poll = self.discipline.poll();
        for a in &mut self.assocs {
            if a.next_poll.is_none_or(|t| t > now) {
                continue;
            }
            let out = a.on_poll(now, system_poll, &mut self.rng);
            if out.became_unreachable {
                a.tally = Tally::Reject;
                self.events
                    .push_back(Event::Unreachable { server: a.addr() });
            }
            let mut buf = [0u8; HEADER_LEN];
            // A 48-byte buffer always holds the header.
            if out.request.emit_into(&mut buf).is_ok() {
                self.transmits
                    .push_back(Transmit::new(a.addr(), buf.to_vec()));
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<(Instant, Timer)> {
        let boost = self.discipline.deadline().map(|t| (t, Timer::Discipline));
        self.assocs
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.next_poll.map(|t| (t, Timer::Poll { association: i })))
            .chain(boost)
            .min_by_key(|&(t, timer)| (t, timer.order()))
    }
}

/// Checks a server list: at most [`MAX_SERVERS`], poll exponents within 0..=17 and
/// minpoll ≤ maxpoll, no address twice. An empty list is valid here.
fn validate(
    servers: impl IntoIterator<Item = ServerConfig>,
) -> Result<Vec<ServerConfig>, ConfigError> {
    let mut out: Vec<ServerConfig> = Vec::new();
    for s in servers {
        if out.len() == MAX_SERVERS {
            return Err(ConfigError::TooManyServers);
        }
        let range = 0..=17;
        if !range.contains(&s.minpoll) || !range.contains(&s.maxpoll) || s.minpoll > s.maxpoll {
            return Err(ConfigError::PollRange(s.addr));
        }
        if out.iter().any(|c| c.addr == s.addr) {
            return Err(ConfigError::DuplicateServer(s.addr));
        }
        out.push(s);
    }
    Ok(out)
}

/// A first poll at a random point within `spread` after `now` (RFC 4330: randomise the first
/// query).
fn first_poll<R: Rng + ?Sized>(rng: &mut R, spread: Duration, now: Instant) -> Instant {
    let spread = u64::try_from(spread.as_nanos()).unwrap_or(u64::MAX);
    now + Duration::from_nanos(uniform_below(rng, spread))
}

/// 2^`p`, exactly: every `i8` exponent gives a normal `f64`, so the power of two is built from
/// its exponent bits (the same value `2f64.powi(p)` computes, without the call per reply).
fn exp2_i8(p: i8) -> f64 {
    let biased = (i16::from(p) + 1023).unsigned_abs();
    f64::from_bits(u64::from(biased) << 52)
}

fn duration(secs: f64) -> NtpDuration {
    NtpDuration::from_nanos((secs * 1e9).round() as i128)
}

fn short(secs: f64) -> NtpShort {
    NtpShort::from_nanos((secs.max(0.0) * 1e9) as u64)
}

#[cfg(test)]
mod tests {
    use super::exp2_i8;

    #[test]
    fn exp2_matches_powi_for_every_exponent() {
        for p in i8::MIN..=i8::MAX {
            assert_eq!(exp2_i8(p), 2f64.powi(i32::from(p)), "2^{p}");
        }
    }
}
