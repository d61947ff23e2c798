//! Monotonic time as plain data.
//!
//! Every machine in lvs is told the time; none reads a clock. [`Instant`] is a `u64` count of
//! nanoseconds from an arbitrary epoch, [`Instant::ZERO`], and is combined with
//! [`core::time::Duration`]. Simulations start at `ZERO`; the binaries convert from the operating
//! system's monotonic clock in exactly one place. Arithmetic saturates instead of panicking, so a
//! hostile or buggy input cannot crash a machine through time overflow.

use core::fmt;
use core::ops::{Add, AddAssign, Sub, SubAssign};
use core::time::Duration;

/// A point on a monotonic clock, in nanoseconds since [`Instant::ZERO`].
///
/// ```
/// use core::time::Duration;
/// use lvs_core::Instant;
///
/// let t = Instant::ZERO + Duration::from_millis(1500);
/// assert_eq!(t.as_nanos(), 1_500_000_000);
/// assert_eq!(t - Instant::ZERO, Duration::from_millis(1500));
/// // Subtracting a later instant saturates to zero instead of panicking.
/// assert_eq!(Instant::ZERO - t, Duration::ZERO);
/// assert_eq!(t.to_string(), "1.500000000s");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch: where every simulation starts.
    pub const ZERO: Self = Self(0);
    /// The farthest representable instant (about 584 years after `ZERO`).
    pub const MAX: Self = Self(u64::MAX);

    /// An instant `nanos` nanoseconds after [`Instant::ZERO`].
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// An instant `millis` milliseconds after [`Instant::ZERO`] (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(1_000_000))
    }

    /// An instant `secs` seconds after [`Instant::ZERO`] (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds since [`Instant::ZERO`].
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time elapsed since [`Instant::ZERO`] as a [`Duration`].
    pub const fn since_zero(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// `self - earlier`, or zero when `earlier` is later than `self`.
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self - earlier`, or `None` when `earlier` is later than `self`.
    pub const fn checked_duration_since(self, earlier: Self) -> Option<Duration> {
        match self.0.checked_sub(earlier.0) {
            Some(n) => Some(Duration::from_nanos(n)),
            None => None,
        }
    }

    /// `self + d`, or `None` on overflow.
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        let n = u64::try_from(d.as_nanos()).ok()?;
        self.0.checked_add(n).map(Self)
    }

    /// `self - d`, or `None` if that would fall before [`Instant::ZERO`].
    pub fn checked_sub(self, d: Duration) -> Option<Self> {
        let n = u64::try_from(d.as_nanos()).ok()?;
        self.0.checked_sub(n).map(Self)
    }

    /// `self + d`, clamped to [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Self {
        self.checked_add(d).unwrap_or(Self::MAX)
    }

    /// `self - d`, clamped to [`Instant::ZERO`].
    pub fn saturating_sub(self, d: Duration) -> Self {
        self.checked_sub(d).unwrap_or(Self::ZERO)
    }
}

impl Add<Duration> for Instant {
    type Output = Self;
    fn add(self, rhs: Duration) -> Self {
        self.saturating_add(rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Self;
    fn sub(self, rhs: Duration) -> Self {
        self.saturating_sub(rhs)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl Sub for Instant {
    type Output = Duration;
    fn sub(self, rhs: Self) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Renders as seconds with nanosecond precision, e.g. `12.000500000s`: stable text for logs and
/// golden files.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}s",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::ZERO - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(
            Instant::from_secs(3) - Instant::from_secs(1),
            Duration::from_secs(2)
        );
        assert_eq!(
            Instant::from_secs(1).checked_duration_since(Instant::from_secs(2)),
            None
        );
        assert_eq!(Instant::ZERO.checked_add(Duration::MAX), None);
    }

    #[test]
    fn ordering_and_display() {
        let mut t = Instant::from_millis(999);
        t += Duration::from_millis(2);
        assert!(t > Instant::from_secs(1));
        assert_eq!(t.to_string(), "1.001000000s");
        assert_eq!(format!("{:?}", Instant::ZERO), "0.000000000s");
        t -= Duration::from_millis(1);
        assert_eq!(t, Instant::from_secs(1));
    }
}
