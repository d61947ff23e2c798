//! The one place the operating system's monotonic clock is read.

use core::time::Duration;
use std::time::Instant as StdInstant;

use lvs_core::Instant;

/// Converts between the OS monotonic clock (`CLOCK_MONOTONIC`) and [`lvs_core::Instant`].
///
/// [`Instant::ZERO`] is the moment the clock was created; machines see nanoseconds since then.
/// The clock reads `CLOCK_MONOTONIC` itself, the clock a `timerfd` is armed on, so a timer armed
/// for [`Clock::monotonic_at`] of a deadline has fired exactly when [`Clock::now`] reaches
/// that deadline: a woken loop never finds its deadline a few nanoseconds short.
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
/// // The same instant on CLOCK_MONOTONIC, as a timerfd wants it.
/// assert!(clock.monotonic_at(later) > clock.monotonic_at(a));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The OS instant of [`Instant::ZERO`] (for the `std` conversions).
    origin: StdInstant,
    /// `CLOCK_MONOTONIC` at [`Instant::ZERO`], in nanoseconds.
    origin_mono: u64,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// `CLOCK_MONOTONIC` now, in nanoseconds.
fn monotonic_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
    debug_assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC)");
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Clock {
    /// A clock whose [`Instant::ZERO`] is now.
    pub fn new() -> Self {
        let origin_mono = monotonic_nanos();
        Self {
            origin: StdInstant::now(),
            origin_mono,
        }
    }

    /// A clock whose [`Instant::ZERO`] is `origin`.
    ///
    /// `std`'s `Instant` is `CLOCK_MONOTONIC` on Linux; its offset to the raw clock is taken
    /// once here, so the two agree to within the few nanoseconds between two clock reads.
    pub fn with_origin(origin: StdInstant) -> Self {
        let mono = monotonic_nanos();
        let std_now = StdInstant::now();
        let origin_mono = if origin <= std_now {
            mono.saturating_sub(duration_nanos(std_now - origin))
        } else {
            mono.saturating_add(duration_nanos(origin - std_now))
        };
        Self {
            origin,
            origin_mono,
        }
    }

    /// The OS instant that maps to [`Instant::ZERO`].
    pub fn origin(&self) -> StdInstant {
        self.origin
    }

    /// The current time as an [`Instant`] (read from `CLOCK_MONOTONIC`; before the origin it
    /// is [`Instant::ZERO`]).
    pub fn now(&self) -> Instant {
        Instant::from_nanos(monotonic_nanos().saturating_sub(self.origin_mono))
    }

    /// `t` as an absolute `CLOCK_MONOTONIC` time (what `timerfd_settime` with
    /// `TFD_TIMER_ABSTIME` takes); saturates at `u64::MAX` nanoseconds.
    pub fn monotonic_at(&self, t: Instant) -> Duration {
        Duration::from_nanos(self.origin_mono.saturating_add(t.as_nanos()))
    }

    /// Convert an OS instant; instants before the origin map to [`Instant::ZERO`], and times
    /// beyond [`Instant::MAX`] (about 584 years) saturate.
    pub fn from_std(&self, t: StdInstant) -> Instant {
        let since = t.saturating_duration_since(self.origin);
        Instant::from_nanos(duration_nanos(since))
    }

    /// Convert back to an OS instant; `None` if the result is not representable.
    pub fn to_std(&self, t: Instant) -> Option<StdInstant> {
        self.origin.checked_add(t.since_zero())
    }

    /// How long to sleep from now until `deadline`: zero if it has passed, rounded up to the next
    /// whole millisecond so that a millisecond-resolution poll never wakes just before it.
    ///
    /// [`EventLoop`](super::EventLoop) uses this only as a coarse fallback: a `timerfd` armed
    /// at [`Clock::monotonic_at`] wakes it at the deadline itself.
    pub fn timeout_until(&self, deadline: Instant) -> Duration {
        if deadline == Instant::MAX {
            return Duration::MAX;
        }
        let d = deadline.saturating_duration_since(self.now());
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
    fn now_agrees_with_std_instant() {
        // Both read CLOCK_MONOTONIC: now() lies between two std readings mapped through the
        // same clock (allowing the nanoseconds between the two origin reads).
        let clock = Clock::with_origin(StdInstant::now() - Duration::from_secs(1));
        let before = clock.from_std(StdInstant::now());
        let now = clock.now();
        let after = clock.from_std(StdInstant::now());
        let slack = Duration::from_millis(1);
        assert!(now + slack >= before, "{now} < {before}");
        assert!(now <= after + slack, "{now} > {after}");
    }

    #[test]
    fn monotonic_at_is_offset_by_the_origin() {
        let clock = Clock::new();
        let a = clock.monotonic_at(Instant::ZERO);
        let b = clock.monotonic_at(Instant::from_nanos(1_500));
        assert_eq!(b - a, Duration::from_nanos(1_500));
        // The raw clock has passed the origin.
        assert!(Duration::from_nanos(monotonic_nanos()) >= a);
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
