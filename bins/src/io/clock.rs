//! The one place the operating system's monotonic clock is read.

use core::time::Duration;
use std::time::Instant as StdInstant;

use lvs_core::Instant;

/// Converts between the OS monotonic clock and [`lvs_core::Instant`].
///
/// [`Instant::ZERO`] is the moment the clock was created; machines see nanoseconds since then.
/// The conversion back ([`Clock::to_std`], [`Clock::timeout_until`]) turns a machine's absolute
/// deadline into a poll timeout.
///
/// ```
/// use core::time::Duration;
/// use lvs_bins::io::Clock;
/// use lvs_core::Instant;
///
/// let clock = Clock::new();
/// let a = clock.now();
/// let b = clock.now();
/// assert!(b >= a);
/// // A deadline in the past needs no sleep; one in the future at most its distance.
/// assert_eq!(clock.timeout_until(Instant::ZERO), Duration::ZERO);
/// let later = clock.now() + Duration::from_secs(60);
/// assert!(clock.timeout_until(later) <= Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: StdInstant,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A clock whose [`Instant::ZERO`] is now.
    pub fn new() -> Self {
        Self {
            origin: StdInstant::now(),
        }
    }

    /// A clock whose [`Instant::ZERO`] is `origin`.
    pub fn with_origin(origin: StdInstant) -> Self {
        Self { origin }
    }

    /// The OS instant that maps to [`Instant::ZERO`].
    pub fn origin(&self) -> StdInstant {
        self.origin
    }

    /// The current time as an [`Instant`].
    pub fn now(&self) -> Instant {
        self.from_std(StdInstant::now())
    }

    /// Convert an OS instant; instants before the origin map to [`Instant::ZERO`], and times
    /// beyond [`Instant::MAX`] (about 584 years) saturate.
    pub fn from_std(&self, t: StdInstant) -> Instant {
        let since = t.saturating_duration_since(self.origin);
        Instant::from_nanos(u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Convert back to an OS instant; `None` if the result is not representable.
    pub fn to_std(&self, t: Instant) -> Option<StdInstant> {
        self.origin.checked_add(t.since_zero())
    }

    /// How long to sleep from now until `deadline`: zero if it has passed, rounded up to the next
    /// whole millisecond so that a millisecond-resolution poll never wakes just before it.
    pub fn timeout_until(&self, deadline: Instant) -> Duration {
        let Some(at) = self.to_std(deadline) else {
            return Duration::MAX;
        };
        let d = at.saturating_duration_since(StdInstant::now());
        let sub_ms = d.subsec_nanos() % 1_000_000;
        if sub_ms == 0 {
            d
        } else {
            d.saturating_add(Duration::from_nanos(u64::from(1_000_000 - sub_ms)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact_to_the_nanosecond() {
        let clock = Clock::new();
        let t = clock.origin() + Duration::from_nanos(1_234_567_891);
        let lvs = clock.from_std(t);
        assert_eq!(lvs, Instant::from_nanos(1_234_567_891));
        assert_eq!(clock.to_std(lvs), Some(t));
    }

    #[test]
    fn before_origin_clamps_to_zero() {
        let origin = StdInstant::now() + Duration::from_secs(10);
        let clock = Clock::with_origin(origin);
        assert_eq!(clock.now(), Instant::ZERO);
    }

    #[test]
    fn timeout_rounds_up_to_milliseconds() {
        let clock = Clock::new();
        let deadline = clock.now() + Duration::from_micros(10_500);
        let d = clock.timeout_until(deadline);
        assert_eq!(d.subsec_nanos() % 1_000_000, 0);
        assert!(d <= Duration::from_millis(11));
        assert!(clock.timeout_until(Instant::MAX) > Duration::from_secs(1 << 30));
    }
}
