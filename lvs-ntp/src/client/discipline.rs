//! The clock discipline (RFC 5905 §11.3 and §12): the NSET / FSET / FREQ / SPIK / SYNC state
//! machine that decides between stepping, slewing and adjusting the frequency, plus the poll
//! adaptation.
//!
//! # What the shell does with the outcome
//!
//! * **Slew** `x`: start slewing the clock by `x` (adjtime semantics: a new slew replaces what
//!   is left of the previous one). The shell's kernel applies it at up to
//!   [`DisciplineConfig::slew_rate_ppm`].
//! * **Step** `x`: add `x` to the clock now and cancel any slew in progress.
//! * **Set frequency** `ppm`: the absolute frequency correction (positive makes the clock run
//!   faster), within ±[`MAX_FREQ_PPM`].
//!
//! # How it differs from the RFC reference code
//!
//! The phase is corrected in full at every update by a slew, instead of the RFC's
//! per-second phase filter with a 16 × 2^poll s time constant (too slow to meet a 200 s
//! start-up target). To keep samples of different ages comparable while a slew is under way,
//! the discipline keeps a model of the corrections it has requested ([`Discipline::correction`]):
//! the client stores every filter sample as `θ' = θ + correction(t)`, an offset relative to the
//! clock *without* the requested slews and steps. In that frame the offsets move only with the
//! residual frequency error, so:
//!
//! * the FREQ state's direct frequency estimate is the slope of θ' over the window, exact even
//!   while the initial offset is still being slewed;
//! * in SYNC the frequency-lock term (RFC 5905 §11.3 FLL) is the slope of θ' between updates,
//!   weighted by 1/[`AVG`]; the phase-lock integral term reduces to the same observation
//!   because the phase is zeroed at each update.
//!
//! Steps keep θ' continuous too, so filters survive a step.

use core::time::Duration;

use lvs_core::Instant;

/// Largest frequency correction, ppm (MAXFREQ).
pub const MAX_FREQ_PPM: f64 = 500.0;
/// PGATE: poll-adjust gate, in multiples of the clock jitter.
pub const PGATE: f64 = 4.0;
/// LIMIT: the poll-adjust counter's bound.
pub const LIMIT: i32 = 30;
/// The clock wander assumed right after the frequency was measured or read from a file: the
/// RFC's frequency tolerance PHI.
const INITIAL_WANDER: f64 = super::filter::PHI;
/// AVG: averaging constant of the jitter estimate and the frequency-lock weight.
pub const AVG: f64 = 4.0;

/// Thresholds and start-up knowledge of the discipline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DisciplineConfig {
    /// Offsets beyond this are stepped rather than slewed (STEPT, 128 ms); `None` never steps.
    pub step_threshold: Option<Duration>,
    /// Offsets beyond this raise [`Update::Panic`] instead of a correction (PANICT, 1000 s);
    /// `None` disables the check.
    pub panic_threshold: Option<Duration>,
    /// Let the very first update exceed the panic threshold (ntpd `-g`).
    pub allow_first_panic: bool,
    /// How long an offset beyond the step threshold must persist in SYNC before it is stepped
    /// (stepout; ntpsec 300 s, classic ntpd 900 s).
    pub stepout: Duration,
    /// How long the FREQ state (no drift file) measures before the direct frequency estimate.
    pub freq_window: Duration,
    /// The frequency known from a drift file, ppm: starts in FSET instead of NSET.
    pub initial_frequency_ppm: Option<f64>,
    /// The rate at which the shell's kernel applies a slew, ppm (Linux adjtime: 500).
    pub slew_rate_ppm: f64,
    /// Largest extra frequency used to speed up the correction of a large offset, ppm (the
    /// total stays within ±[`MAX_FREQ_PPM`]); 0 corrects the phase by slews alone.
    pub phase_boost_ppm: f64,
}

impl Default for DisciplineConfig {
    /// STEPT 128 ms, PANICT 1000 s, stepout 300 s, a 64 s frequency window, no drift file,
    /// 500 ppm slews, a 250 ppm phase boost.
    fn default() -> Self {
        Self {
            step_threshold: Some(Duration::from_millis(128)),
            panic_threshold: Some(Duration::from_secs(1000)),
            allow_first_panic: false,
            stepout: Duration::from_secs(300),
            freq_window: Duration::from_secs(64),
            initial_frequency_ppm: None,
            slew_rate_ppm: 500.0,
            phase_boost_ppm: 250.0,
        }
    }
}

/// The discipline's state (RFC 5905 figure 24).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockState {
    /// No frequency file and no update yet.
    Nset,
    /// Frequency from a drift file, no update yet.
    Fset,
    /// Measuring the frequency directly (no drift file).
    Freq,
    /// An offset beyond the step threshold was seen in SYNC; waiting for stepout.
    Spike,
    /// Normal operation.
    Sync,
}

/// What one update asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Update {
    /// The sample was ignored (spike or frequency measurement in progress beyond STEPT).
    Ignored,
    /// The offset exceeds the panic threshold; nothing was changed.
    Panic {
        /// The offending offset, seconds.
        offset: f64,
    },
    /// Step the clock by `offset`, and set the frequency if it changed (a phase boost in
    /// progress is cancelled).
    Step {
        /// Seconds to add to the clock.
        offset: f64,
        /// The new absolute frequency correction, ppm.
        frequency_ppm: Option<f64>,
    },
    /// Slew the clock by `offset`, and set the frequency if it changed. A large offset is
    /// corrected partly through a temporary frequency boost that [`Discipline::deadline`]
    /// ends; `offset` is only the slew's part.
    Slew {
        /// Seconds to slew by.
        offset: f64,
        /// The new absolute frequency correction, ppm.
        frequency_ppm: Option<f64>,
    },
}

/// Offsets whose slew alone would take longer than this get a phase boost.
const BOOST_MIN_SECS: f64 = 16.0;

/// The corrections requested so far, as a function of time.
#[derive(Clone, Copy, Debug, PartialEq)]
struct SlewModel {
    /// Corrections completed before `since` (steps and finished or replaced slews).
    base: f64,
    since: Instant,
    /// The slew in progress since `since`, applied at `rate`.
    pending: f64,
    rate: f64,
    /// The phase boost in progress since `since`: this much, applied at `boost_rate` through
    /// the frequency.
    boost: f64,
    boost_rate: f64,
}

fn progress(amount: f64, rate: f64, dt: f64) -> f64 {
    (rate * dt).min(amount.abs()).copysign(amount)
}

impl SlewModel {
    fn applied_at(&self, now: Instant) -> f64 {
        let dt = now.saturating_duration_since(self.since).as_secs_f64();
        self.base
            + progress(self.pending, self.rate, dt)
            + progress(self.boost, self.boost_rate, dt)
    }

    fn requested(&self) -> f64 {
        self.base + self.pending + self.boost
    }

    fn slew(&mut self, now: Instant, amount: f64, boost: f64, boost_rate: f64) {
        self.base = self.applied_at(now);
        self.since = now;
        self.pending = amount;
        self.boost = boost;
        self.boost_rate = boost_rate;
    }

    fn step(&mut self, now: Instant, amount: f64) {
        self.base = self.applied_at(now) + amount;
        self.since = now;
        self.pending = 0.0;
        self.boost = 0.0;
    }
}

/// The local clock discipline.
///
/// ```
/// use lvs_core::Instant;
/// use lvs_ntp::client::discipline::{ClockState, Discipline, DisciplineConfig, Update};
///
/// let mut d = Discipline::new(DisciplineConfig::default(), 6, 10, 1e-6);
/// // A 200 ms offset on the first update is stepped.
/// let u = d.update(Instant::from_secs(10), Instant::from_secs(10), 0.2, 0.2);
/// assert_eq!(u, Update::Step { offset: 0.2, frequency_ppm: None });
/// assert_eq!(d.state(), ClockState::Freq);
/// // The step is part of the correction model: the same sample now reads as 0.
/// assert!((0.2 - d.correction(Instant::from_secs(11))).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct Discipline {
    cfg: DisciplineConfig,
    state: ClockState,
    /// Frequency correction, seconds per second.
    freq: f64,
    model: SlewModel,
    /// (sample time, θ') of the last accepted update, or of the start of the FREQ window.
    anchor: Option<(Instant, f64)>,
    spike_since: Option<Instant>,
    jitter: f64,
    /// RMS of the frequency changes (RFC 5905 clock wander), s/s.
    wander: f64,
    precision: f64,
    /// The frequency last handed to the shell (base plus boost), s/s.
    emitted_freq: f64,
    boost_until: Option<Instant>,
    poll: i8,
    minpoll: i8,
    maxpoll: i8,
    count: i32,
    updates: u64,
}

impl Discipline {
    /// A discipline in NSET (or FSET with a drift-file frequency), polling at `minpoll`.
    /// `precision` (seconds) floors the jitter.
    pub fn new(cfg: DisciplineConfig, minpoll: i8, maxpoll: i8, precision: f64) -> Self {
        let (state, freq) = match cfg.initial_frequency_ppm {
            Some(ppm) => (
                ClockState::Fset,
                ppm.clamp(-MAX_FREQ_PPM, MAX_FREQ_PPM) * 1e-6,
            ),
            None => (ClockState::Nset, 0.0),
        };
        Self {
            cfg,
            state,
            freq,
            model: SlewModel {
                base: 0.0,
                since: Instant::ZERO,
                pending: 0.0,
                rate: cfg.slew_rate_ppm.max(1.0) * 1e-6,
                boost: 0.0,
                boost_rate: 0.0,
            },
            anchor: None,
            spike_since: None,
            jitter: precision,
            wander: 0.0,
            precision,
            emitted_freq: freq,
            boost_until: None,
            poll: minpoll,
            minpoll,
            maxpoll: maxpoll.max(minpoll),
            count: 0,
            updates: 0,
        }
    }

    /// The state.
    pub fn state(&self) -> ClockState {
        self.state
    }

    /// The frequency correction, ppm.
    pub fn frequency_ppm(&self) -> f64 {
        self.freq * 1e6
    }

    /// The system poll exponent chosen by the poll adaptation.
    pub fn poll(&self) -> i8 {
        self.poll
    }

    /// The clock jitter estimate, seconds.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// The clock wander (RMS of recent frequency changes), ppm.
    pub fn wander_ppm(&self) -> f64 {
        self.wander * 1e6
    }

    /// How far the frequency may still be off, s/s: MAXFREQ until it was measured, then the
    /// clock wander. An old sample's offset may be off by this much per second of age.
    pub fn frequency_tolerance(&self) -> f64 {
        match self.state {
            ClockState::Nset | ClockState::Freq => MAX_FREQ_PPM * 1e-6,
            _ => self.wander,
        }
    }

    /// Updates accepted so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Forgets the frequency baseline: the next update only sets a new one. Called when the
    /// system peer changes, because two servers' offsets differ by more than the noise (path
    /// asymmetry, or a falseticker that briefly led) and the jump must not read as frequency.
    pub fn restart_baseline(&mut self) {
        self.anchor = None;
    }

    /// Sets the range the system poll adapts within (the configured servers' smallest minpoll
    /// and largest maxpoll, after a reconfiguration); the current poll is clamped into it.
    pub fn set_poll_range(&mut self, minpoll: i8, maxpoll: i8) {
        self.minpoll = minpoll;
        self.maxpoll = maxpoll.max(minpoll);
        self.poll = self.poll.clamp(self.minpoll, self.maxpoll);
    }

    /// When the phase boost in progress ends ([`Self::on_timeout`] restores the frequency).
    pub fn deadline(&self) -> Option<Instant> {
        self.boost_until
    }

    /// Ends a phase boost due at `now`; returns the frequency (ppm) the shell must set.
    pub fn on_timeout(&mut self, now: Instant) -> Option<f64> {
        if self.boost_until.is_none_or(|t| t > now) {
            return None;
        }
        self.boost_until = None;
        self.emit_frequency(self.freq)
    }

    fn emit_frequency(&mut self, freq: f64) -> Option<f64> {
        if freq == self.emitted_freq {
            return None;
        }
        self.emitted_freq = freq;
        Some(freq * 1e6)
    }

    /// The total correction (steps plus slew progress, seconds) applied to the clock by
    /// `now`, assuming slews run at the configured rate.
    pub fn correction(&self, now: Instant) -> f64 {
        self.model.applied_at(now)
    }

    /// Feeds one clock update at `now`: the combined offset `offset_prime` (Θ' of the system,
    /// in the frame of [`Self::correction`]) corrects the phase; the system peer's own
    /// `peer_prime`, whose sample was taken at `sample_time`, measures the frequency (one
    /// server's trajectory, free of the jumps that a changing set of survivors brings into
    /// the combined value).
    pub fn update(
        &mut self,
        now: Instant,
        sample_time: Instant,
        offset_prime: f64,
        peer_prime: f64,
    ) -> Update {
        let theta = offset_prime - self.model.applied_at(now);
        if let Some(panic) = self.cfg.panic_threshold
            && theta.abs() > panic.as_secs_f64()
            && !(self.updates == 0 && self.cfg.allow_first_panic)
        {
            return Update::Panic { offset: theta };
        }
        let big = self
            .cfg
            .step_threshold
            .is_some_and(|s| theta.abs() > s.as_secs_f64());
        let stepout = self.cfg.stepout.as_secs_f64();
        if big {
            match self.state {
                ClockState::Sync => {
                    self.state = ClockState::Spike;
                    self.spike_since = Some(sample_time);
                    return Update::Ignored;
                }
                ClockState::Spike | ClockState::Freq => {
                    let since = match self.state {
                        ClockState::Spike => self.spike_since,
                        _ => self.anchor.map(|(t, _)| t),
                    };
                    if since.is_some_and(|s| secs(sample_time, s) < stepout) {
                        return Update::Ignored;
                    }
                }
                ClockState::Nset | ClockState::Fset => {}
            }
            self.model.step(now, theta);
            self.boost_until = None;
            let frequency_ppm = self.emit_frequency(self.freq);
            self.spike_since = None;
            self.updates += 1;
            self.state = match self.state {
                ClockState::Nset | ClockState::Freq => {
                    self.anchor = Some((sample_time, peer_prime));
                    ClockState::Freq
                }
                _ => {
                    self.anchor = Some((sample_time, peer_prime));
                    ClockState::Sync
                }
            };
            return Update::Step {
                offset: theta,
                frequency_ppm,
            };
        }
        self.spike_since = None;
        self.updates += 1;
        let mut frequency_changed = false;
        match self.state {
            ClockState::Nset => {
                self.anchor = Some((sample_time, peer_prime));
                self.state = ClockState::Freq;
            }
            ClockState::Fset => {
                self.anchor = Some((sample_time, peer_prime));
                self.wander = INITIAL_WANDER;
                self.state = ClockState::Sync;
            }
            ClockState::Freq => {
                let (t0, p0) = *self.anchor.get_or_insert((sample_time, peer_prime));
                let mu = secs(sample_time, t0);
                if mu >= self.cfg.freq_window.as_secs_f64() {
                    self.adjust_frequency((peer_prime - p0) / mu);
                    // A fresh estimate is trusted to PHI (15 ppm), the RFC's frequency
                    // tolerance, until updates in SYNC show how much it still moves.
                    self.wander = INITIAL_WANDER;
                    frequency_changed = true;
                    self.anchor = Some((sample_time, peer_prime));
                    self.state = ClockState::Sync;
                }
            }
            ClockState::Spike | ClockState::Sync => {
                let residual = offset_prime - self.model.requested();
                if let Some((t0, p0)) = self.anchor {
                    // The frequency-lock term, normalised by at least the poll interval so that
                    // closely spaced updates (bursts) do not turn noise into frequency.
                    let mu = secs(sample_time, t0).max(self.poll_secs());
                    let delta = self.adjust_frequency((peer_prime - p0) / (AVG * mu));
                    self.wander =
                        (self.wander.powi(2) + (delta.powi(2) - self.wander.powi(2)) / AVG).sqrt();
                    frequency_changed = true;
                }
                self.anchor = Some((sample_time, peer_prime));
                self.state = ClockState::Sync;
                self.jitter = (self.jitter.powi(2)
                    + (residual.powi(2) - self.jitter.powi(2)) / AVG)
                    .sqrt()
                    .max(self.precision);
                self.adapt_poll(residual);
            }
        }
        let (slew, target) = self.correct_phase(now, theta);
        let frequency_ppm = if frequency_changed || target != self.emitted_freq {
            self.emitted_freq = target;
            Some(target * 1e6)
        } else {
            None
        };
        Update::Slew {
            offset: slew,
            frequency_ppm,
        }
    }

    /// Splits `theta` between a slew and, for a large offset, a frequency boost that ends at
    /// the same time. Returns the slew and the frequency to run at meanwhile.
    fn correct_phase(&mut self, now: Instant, theta: f64) -> (f64, f64) {
        let rate = self.model.rate;
        let dir = theta.signum();
        let max = MAX_FREQ_PPM * 1e-6;
        let boost_rate =
            (self.cfg.phase_boost_ppm.max(0.0) * 1e-6).min((max - dir * self.freq).max(0.0));
        if theta.abs() / rate <= BOOST_MIN_SECS || boost_rate <= 0.0 {
            self.model.slew(now, theta, 0.0, 0.0);
            self.boost_until = None;
            return (theta, self.freq);
        }
        let duration = theta.abs() / (rate + boost_rate);
        let slew = dir * rate * duration;
        self.model.slew(now, slew, theta - slew, boost_rate);
        self.boost_until = Some(now + Duration::from_secs_f64(duration));
        (slew, self.freq + dir * boost_rate)
    }

    fn poll_secs(&self) -> f64 {
        2f64.powi(i32::from(self.poll))
    }

    /// Adds `delta` to the frequency within ±MAXFREQ; returns the change made.
    fn adjust_frequency(&mut self, delta: f64) -> f64 {
        let max = MAX_FREQ_PPM * 1e-6;
        let old = self.freq;
        self.freq = (self.freq + delta).clamp(-max, max);
        self.freq - old
    }

    fn adapt_poll(&mut self, residual: f64) {
        let poll = i32::from(self.poll);
        if residual.abs() < PGATE * self.jitter {
            self.count += poll;
            if self.count > LIMIT {
                self.count = LIMIT;
                if self.poll < self.maxpoll {
                    self.count = 0;
                    self.poll += 1;
                }
            }
        } else {
            self.count -= 2 * poll;
            if self.count < -LIMIT {
                self.count = -LIMIT;
                if self.poll > self.minpoll {
                    self.count = 0;
                    self.poll -= 1;
                }
            }
        }
    }
}

fn secs(later: Instant, earlier: Instant) -> f64 {
    later.saturating_duration_since(earlier).as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slew_model_runs_at_the_configured_rate_and_replaces() {
        let mut m = SlewModel {
            base: 0.0,
            since: Instant::ZERO,
            pending: 0.0,
            rate: 500e-6,
            boost: 0.0,
            boost_rate: 0.0,
        };
        m.slew(Instant::ZERO, -0.1, 0.0, 0.0);
        assert!((m.applied_at(Instant::from_secs(100)) + 0.05).abs() < 1e-12);
        assert!((m.applied_at(Instant::from_secs(300)) + 0.1).abs() < 1e-12);
        m.slew(Instant::from_secs(100), 0.01, 0.0, 0.0);
        assert!((m.applied_at(Instant::from_secs(120)) + 0.04).abs() < 1e-12);
        m.step(Instant::from_secs(200), 1.0);
        assert!((m.applied_at(Instant::from_secs(300)) - 0.96).abs() < 1e-12);
        assert!((m.requested() - 0.96).abs() < 1e-12);
        // A boost runs beside the slew and stops at its amount.
        m.slew(Instant::from_secs(300), 0.05, 0.025, 250e-6);
        assert!((m.applied_at(Instant::from_secs(400)) - (0.96 + 0.05 + 0.025)).abs() < 1e-12);
        assert!((m.applied_at(Instant::from_secs(340)) - (0.96 + 0.02 + 0.01)).abs() < 1e-12);
    }
}
