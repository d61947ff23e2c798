//! The per-server clock filter (RFC 5905 §10): an 8-stage shift register of (offset, delay,
//! dispersion, time) samples that picks the minimum-delay sample and computes the peer
//! dispersion and jitter.
//!
//! Offsets are plain `f64` seconds in whatever frame the caller chooses; the [`Client`]
//! stores them corrected for the slews it has already asked the shell to apply, so samples of
//! different ages stay comparable while a slew is in progress.
//!
//! [`Client`]: super::Client

use lvs_core::Instant;

/// Frequency tolerance PHI (15 ppm): how fast an estimate's dispersion grows with age.
pub const PHI: f64 = 15e-6;
/// MAXDISP (16 s): the dispersion of an empty stage, and the ceiling of any dispersion.
pub const MAXDISP: f64 = 16.0;
/// Number of filter stages.
pub const NSTAGE: usize = 8;
/// SGATE: the popcorn spike gate, in multiples of the peer jitter.
pub const SGATE: f64 = 3.0;
/// The popcorn gate only applies while the peer dispersion is below this (MAXDIST, 1.5 s).
const POPCORN_MIN_DISP: f64 = 1.5;

/// One stage of the register.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stage {
    offset: f64,
    delay: f64,
    /// Dispersion when the sample was taken; it grows by PHI per second of age.
    dispersion: f64,
    time: Instant,
    /// A dummy stage (empty, or pushed for a missed poll) is never selected.
    valid: bool,
}

impl Stage {
    const EMPTY: Self = Self {
        offset: 0.0,
        delay: MAXDISP,
        dispersion: MAXDISP,
        time: Instant::ZERO,
        valid: false,
    };

    fn dispersion_at(&self, now: Instant) -> f64 {
        if !self.valid {
            return MAXDISP;
        }
        let age = now.saturating_duration_since(self.time).as_secs_f64();
        (self.dispersion + PHI * age).min(MAXDISP)
    }
}

/// One measurement: θ, δ and ε (seconds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawSample {
    /// Offset θ.
    pub offset: f64,
    /// Round-trip delay δ.
    pub delay: f64,
    /// Dispersion ε0 (precisions plus PHI × δ).
    pub dispersion: f64,
}

/// What the filter needs to know about its surroundings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilterContext {
    /// Local precision, seconds: floors the delay and the jitter.
    pub precision: f64,
    /// The association's poll interval (popcorn gate window).
    pub poll: core::time::Duration,
    /// Frequency error the popcorn gate tolerates, s/s (larger before the frequency is known).
    pub freq_tolerance: f64,
    /// Added to a sample's delay per second of age when choosing the best sample, s/s. Zero is
    /// RFC 5905's pure minimum-delay choice; before the frequency is known an old sample's
    /// offset may be off by up to MAXFREQ × its age, and this keeps the choice honest.
    pub age_penalty: f64,
}

/// What the filter tells the peer process after a sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilterOutput {
    /// θ of the selected (minimum-delay) sample, seconds.
    pub offset: f64,
    /// δ of the selected sample, seconds.
    pub delay: f64,
    /// Peer dispersion ε at `updated`, seconds.
    pub dispersion: f64,
    /// Peer jitter ψ, seconds (at least the precision).
    pub jitter: f64,
    /// When the selected sample was taken.
    pub time: Instant,
    /// When the output was computed (the dispersion grows by PHI from here).
    pub updated: Instant,
}

impl FilterOutput {
    /// The peer dispersion aged to `now`.
    pub fn dispersion_at(&self, now: Instant) -> f64 {
        let age = now.saturating_duration_since(self.updated).as_secs_f64();
        (self.dispersion + PHI * age).min(MAXDISP)
    }
}

/// Why [`ClockFilter::add`] produced no new output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// The minimum-delay sample is not newer than the last one used (RFC 5905: at most one
    /// update per sample).
    NotNewer,
    /// The minimum-delay sample jumped by more than [`SGATE`] × jitter within two polls.
    Popcorn,
    /// No valid sample in the register.
    Empty,
}

/// The 8-stage clock filter of one association.
///
/// ```
/// use core::time::Duration;
/// use lvs_core::Instant;
/// use lvs_ntp::client::filter::{ClockFilter, FilterContext, RawSample};
///
/// let mut f = ClockFilter::new();
/// let ctx = FilterContext {
///     precision: 1e-6,
///     poll: Duration::from_secs(64),
///     freq_tolerance: 15e-6,
///     age_penalty: 0.0,
/// };
/// let t = |s: u64| Instant::from_secs(s);
/// let s = |offset, delay| RawSample { offset, delay, dispersion: 1e-6 };
/// // Three samples: the one with the smallest delay wins.
/// f.add(t(0), s(0.010, 0.030), ctx).unwrap();
/// f.add(t(64), s(0.002, 0.010), ctx).unwrap();
/// let held = f.add(t(128), s(0.020, 0.050), ctx);
/// assert!(held.is_err()); // the minimum-delay sample (64 s) was already used
/// let out = f.output().unwrap();
/// assert_eq!((out.offset, out.delay, out.time), (0.002, 0.010, t(64)));
/// ```
#[derive(Clone, Debug)]
pub struct ClockFilter {
    /// Newest first.
    stages: [Stage; NSTAGE],
    output: Option<FilterOutput>,
    /// Time of the last sample handed to the system process.
    last_used: Option<Instant>,
}

impl Default for ClockFilter {
    fn default() -> Self {
        Self::new()
    }
}

impl ClockFilter {
    /// An empty filter: every stage holds the dummy (0, MAXDISP, MAXDISP).
    pub const fn new() -> Self {
        Self {
            stages: [Stage::EMPTY; NSTAGE],
            output: None,
            last_used: None,
        }
    }

    /// The last output, if any sample was ever selected.
    pub fn output(&self) -> Option<&FilterOutput> {
        self.output.as_ref()
    }

    /// Number of valid (non-dummy) stages.
    pub fn valid_stages(&self) -> usize {
        self.stages.iter().filter(|s| s.valid).count()
    }

    /// Forgets every sample (the association was reset).
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// Shifts in a dummy stage for a poll that got no answer (RFC 5905: when the three low
    /// bits of the reach register are zero). Dummies are never selected.
    pub fn push_dummy(&mut self) {
        self.stages.copy_within(0..NSTAGE - 1, 1);
        self.stages[0] = Stage::EMPTY;
    }

    /// Shifts in `sample`, taken at `now`, and recomputes the peer variables.
    ///
    /// Returns the new output when the minimum-delay sample is newer than the last one used
    /// and passes the popcorn gate: a jump larger than [`SGATE`] × jitter, plus what a
    /// frequency error of `ctx.freq_tolerance` explains since the previous output, within two
    /// poll intervals of the last sample used, is a spike.
    pub fn add(
        &mut self,
        now: Instant,
        sample: RawSample,
        ctx: FilterContext,
    ) -> Result<FilterOutput, Held> {
        let RawSample {
            offset,
            delay,
            dispersion,
        } = sample;
        let FilterContext {
            precision,
            poll,
            freq_tolerance,
            age_penalty,
        } = ctx;
        self.stages.copy_within(0..NSTAGE - 1, 1);
        self.stages[0] = Stage {
            offset,
            delay: delay.max(precision),
            dispersion: dispersion.min(MAXDISP),
            time: now,
            valid: true,
        };
        // Order the stages by delay (plus the age penalty); dummies (and stages aged to
        // MAXDISP) go last. Each stage's aged dispersion and sort key are computed once, and
        // a stable insertion sort over the eight indices orders them without moving stages.
        let mut disp_at = [MAXDISP; NSTAGE];
        let mut keys = [(true, 0.0f64); NSTAGE];
        for ((s, d), k) in self.stages.iter().zip(&mut disp_at).zip(&mut keys) {
            let age = now.saturating_duration_since(s.time).as_secs_f64();
            *d = s.dispersion_at(now);
            *k = (!s.valid || *d >= MAXDISP, s.delay + age_penalty * age);
        }
        let mut order: [usize; NSTAGE] = core::array::from_fn(|i| i);
        for i in 1..NSTAGE {
            let cur = order[i];
            let kc = keys[cur];
            let mut j = i;
            while j > 0 {
                let kp = keys[order[j - 1]];
                if kc.0.cmp(&kp.0).then(kc.1.total_cmp(&kp.1)).is_lt() {
                    order[j] = order[j - 1];
                    j -= 1;
                } else {
                    break;
                }
            }
            order[j] = cur;
        }
        let valid = order.iter().take_while(|&&i| !keys[i].0).count();
        if valid == 0 {
            return Err(Held::Empty);
        }
        let mut disp = 0.0;
        let mut weight = 0.5;
        for &i in &order {
            disp += disp_at[i] * weight;
            weight *= 0.5;
        }
        let best = self.stages[order[0]];
        let jitter = if valid > 1 {
            let sum: f64 = order[1..valid]
                .iter()
                .map(|&i| (self.stages[i].offset - best.offset).powi(2))
                .sum();
            (sum / (valid - 1) as f64).sqrt()
        } else {
            0.0
        }
        .max(precision);
        let candidate = FilterOutput {
            offset: best.offset,
            delay: best.delay,
            dispersion: disp,
            jitter,
            time: best.time,
            updated: now,
        };
        let previous = self.output.replace(candidate);
        if self.last_used.is_some_and(|t| best.time <= t) {
            return Err(Held::NotNewer);
        }
        // The popcorn gate applies once the peer is established (dispersion below the
        // distance threshold), as in ntpd, and compares with the jitter including this sample.
        if let Some(prev) = previous
            && let Some(used) = self.last_used
            && disp < POPCORN_MIN_DISP
            && (best.offset - prev.offset).abs()
                > SGATE * jitter
                    + freq_tolerance * best.time.saturating_duration_since(prev.time).as_secs_f64()
            && best.time.saturating_duration_since(used) < 2 * poll
        {
            return Err(Held::Popcorn);
        }
        self.last_used = Some(best.time);
        Ok(candidate)
    }
}
