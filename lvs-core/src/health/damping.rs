//! Flap damping, as BGP route-flap damping (RFC 2439) does it.
//!
//! Every state change of a check adds a fixed penalty; the penalty decays exponentially with a
//! half-life. When it reaches the suppress threshold the check is suppressed (held down); it
//! is released once the penalty has decayed to the reuse threshold. A ceiling bounds the
//! penalty, and so the longest suppression: `half_life × log2(max_penalty / reuse)`.

use core::time::Duration;

use crate::Instant;

/// Flap-damping parameters. Penalties are unitless (BGP uses 1000 per flap).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Damping {
    /// Added on every state change.
    pub penalty: f64,
    /// Suppress when the penalty reaches this.
    pub suppress: f64,
    /// Release when the penalty has decayed to this.
    pub reuse: f64,
    /// Time for the penalty to halve.
    pub half_life: Duration,
    /// Ceiling on the penalty.
    pub max_penalty: f64,
}

impl Default for Damping {
    /// 1000 per change, suppress at 2000, reuse at 750, half-life 60 s, ceiling 6000 (so at most
    /// 3 minutes of suppression after the last flap).
    fn default() -> Self {
        Self {
            penalty: 1000.0,
            suppress: 2000.0,
            reuse: 750.0,
            half_life: Duration::from_secs(60),
            max_penalty: 6000.0,
        }
    }
}

/// Why a [`Damping`] cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DampingError {
    /// Every value must be finite and positive, the half-life non-zero.
    #[error("damping values must be finite and positive, with a non-zero half-life")]
    NotPositive,
    /// `reuse < suppress <= max_penalty` does not hold.
    #[error("damping thresholds must satisfy reuse < suppress <= max_penalty")]
    Thresholds,
}

impl Damping {
    /// Check the parameters.
    pub fn validate(&self) -> Result<(), DampingError> {
        let vals = [self.penalty, self.suppress, self.reuse, self.max_penalty];
        if vals.iter().any(|v| !v.is_finite() || *v <= 0.0) || self.half_life.is_zero() {
            return Err(DampingError::NotPositive);
        }
        if !(self.reuse < self.suppress && self.suppress <= self.max_penalty) {
            return Err(DampingError::Thresholds);
        }
        Ok(())
    }
}

/// The penalty of one check: a value as of an instant, decayed lazily.
///
/// ```
/// use core::time::Duration;
/// use lvs_core::Instant;
/// use lvs_core::health::{Damper, Damping};
///
/// let cfg = Damping::default(); // +1000 per change, suppress 2000, reuse 750, half-life 60 s
/// let mut d = Damper::default();
/// assert!(!d.flap(&cfg, Instant::ZERO));
/// assert!(d.flap(&cfg, Instant::ZERO)); // 2000: suppressed
/// // 2000 halves to 1000 after 60 s and reaches 750 after 60 s × log2(2000/750) ≈ 84.9 s.
/// let at = d.release_at(&cfg).unwrap();
/// assert_eq!(at.as_nanos() / 1_000_000_000, 84);
/// assert!(!d.try_release(&cfg, at - Duration::from_millis(1)));
/// assert!(d.try_release(&cfg, at));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Damper {
    penalty: f64,
    at: Instant,
    suppressed: bool,
}

impl Damper {
    /// The penalty at `now` (not before the last update).
    pub fn penalty(&self, cfg: &Damping, now: Instant) -> f64 {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.penalty * (-dt / cfg.half_life.as_secs_f64()).exp2()
    }

    /// Whether the check is suppressed.
    pub fn is_suppressed(&self) -> bool {
        self.suppressed
    }

    /// Record a state change at `now`; returns whether the check is (now) suppressed.
    pub fn flap(&mut self, cfg: &Damping, now: Instant) -> bool {
        let p = self.penalty(cfg, now) + cfg.penalty;
        self.penalty = p.min(cfg.max_penalty);
        self.at = now.max(self.at);
        if self.penalty >= cfg.suppress {
            self.suppressed = true;
        }
        self.suppressed
    }

    /// When a suppressed check's penalty will have decayed to the reuse threshold.
    pub fn release_at(&self, cfg: &Damping) -> Option<Instant> {
        if !self.suppressed {
            return None;
        }
        if self.penalty <= cfg.reuse {
            return Some(self.at);
        }
        let halvings = (self.penalty / cfg.reuse).log2();
        let nanos = (cfg.half_life.as_nanos() as f64 * halvings).ceil();
        // Bounded: penalty <= max_penalty, so `halvings` is small; saturate anyway.
        let nanos = if nanos >= u64::MAX as f64 {
            u64::MAX
        } else {
            nanos as u64
        };
        Some(self.at + Duration::from_nanos(nanos))
    }

    /// Release the check if its penalty has decayed to the reuse threshold by `now`; returns
    /// whether it was released by this call.
    pub fn try_release(&mut self, cfg: &Damping, now: Instant) -> bool {
        match self.release_at(cfg) {
            Some(at) if now >= at => {
                self.penalty = self.penalty(cfg, now);
                self.at = now.max(self.at);
                self.suppressed = false;
                true
            }
            _ => false,
        }
    }
}
