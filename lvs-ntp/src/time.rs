//! NTP time formats as plain data: the 64-bit timestamp, the 32-bit short format, signed
//! durations, era-resolved dates and Unix nanoseconds.
//!
//! An [`NtpTimestamp`] on the wire carries no era: it counts 2^-32 s units modulo 2^32 s
//! (about 136 years) from 1900-01-01 00:00:00 UTC. Era 0 ends, and era 1 begins, at
//! 2036-02-07 06:28:16 UTC. Only differences are meaningful on their own
//! ([`NtpTimestamp::wrapping_sub`] gives ±68 years of unambiguity); to place a timestamp on an
//! absolute time line, resolve it against a pivot ([`NtpTimestamp::resolve`]), which picks the
//! era that puts it nearest to the pivot. The shell samples the system clock as [`UnixNanos`] and
//! passes it in; nothing here reads a clock.

use core::fmt;
use core::ops::{Add, Neg, Sub};
use core::time::Duration;

/// Seconds from the NTP prime epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const NTP_UNIX_OFFSET_SECS: i64 = 2_208_988_800;

const NANOS_PER_SEC: i128 = 1_000_000_000;
const FRAC_UNITS: i128 = 1 << 32;

/// Rounds `frac / 2^32` seconds to the nearest nanosecond (may return exactly 1e9).
fn frac_to_nanos(frac: u32) -> u64 {
    (u64::from(frac) * 1_000_000_000 + (1 << 31)) >> 32
}

/// Rounds `nanos` (< 1e9) to the nearest 2^-32 s unit; never reaches 2^32.
fn nanos_to_frac(nanos: u32) -> u32 {
    let f = ((u64::from(nanos) << 32) + 500_000_000) / 1_000_000_000;
    // nanos < 1e9 keeps f below 2^32 - 3; the fallback is unreachable but total.
    u32::try_from(f).unwrap_or(u32::MAX)
}

/// A point in time as Unix nanoseconds (signed: 1900 is negative), as the shell samples its
/// realtime clock. Pure data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixNanos(pub i128);

impl UnixNanos {
    /// The Unix epoch, 1970-01-01 00:00:00 UTC.
    pub const EPOCH: Self = Self(0);

    /// `secs` whole seconds after the Unix epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs as i128 * NANOS_PER_SEC)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_nanos(self) -> i128 {
        self.0
    }
}

/// The 64-bit NTP timestamp: 32 bits of seconds and 32 bits of fraction since the start of
/// its (unknown) era. The value 0 means "unknown" in packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct NtpTimestamp(u64);

impl NtpTimestamp {
    /// The zero timestamp ("unknown / not set").
    pub const ZERO: Self = Self(0);

    /// From the raw 64-bit wire value.
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The raw 64-bit wire value.
    pub const fn to_bits(self) -> u64 {
        self.0
    }

    /// From whole seconds of the era and a 2^-32 s fraction.
    pub const fn from_parts(seconds: u32, fraction: u32) -> Self {
        Self(((seconds as u64) << 32) | fraction as u64)
    }

    /// Whole seconds within the era.
    pub const fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// Fraction of a second in units of 2^-32 s.
    pub const fn fraction(self) -> u32 {
        self.0 as u32
    }

    /// Whether this is the zero ("unknown") timestamp.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self - earlier` modulo 2^32 s, read as signed: exact when the true difference is within
    /// ±68 years, whatever eras the two timestamps are in.
    pub const fn wrapping_sub(self, earlier: Self) -> NtpDuration {
        NtpDuration(self.0.wrapping_sub(earlier.0) as i64)
    }

    /// `self + d` modulo 2^32 s.
    pub const fn wrapping_add(self, d: NtpDuration) -> Self {
        Self(self.0.wrapping_add(d.0 as u64))
    }

    /// The date in the era that puts this timestamp nearest to `pivot`: the result lies in
    /// `[pivot - 2^31 s, pivot + 2^31 s)`. Saturates at the ends of [`NtpDate`]'s range.
    pub fn resolve(self, pivot: NtpDate) -> NtpDate {
        let diff = self.wrapping_sub(pivot.timestamp());
        NtpDate::from_units(pivot.units() + i128::from(diff.0))
    }

    /// Resolves against `pivot` (see [`Self::resolve`]) and converts to Unix nanoseconds,
    /// rounded to the nearest nanosecond.
    pub fn to_unix_nanos(self, pivot: UnixNanos) -> UnixNanos {
        self.resolve(NtpDate::from_unix_nanos(pivot))
            .to_unix_nanos()
    }

    /// The timestamp of a Unix time (era dropped), rounded to the nearest 2^-32 s.
    pub fn from_unix_nanos(t: UnixNanos) -> Self {
        NtpDate::from_unix_nanos(t).timestamp()
    }
}

impl Sub for NtpTimestamp {
    type Output = NtpDuration;
    /// Same as [`NtpTimestamp::wrapping_sub`].
    fn sub(self, rhs: Self) -> NtpDuration {
        self.wrapping_sub(rhs)
    }
}

impl Add<NtpDuration> for NtpTimestamp {
    type Output = Self;
    /// Same as [`NtpTimestamp::wrapping_add`].
    fn add(self, rhs: NtpDuration) -> Self {
        self.wrapping_add(rhs)
    }
}

impl fmt::Display for NtpTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}.{:08x}", self.seconds(), self.fraction())
    }
}

/// A signed span in units of 2^-32 s (±68 years), the result of subtracting timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpDuration(i64);

impl NtpDuration {
    /// Zero.
    pub const ZERO: Self = Self(0);
    /// The largest representable span (just under 2^31 s).
    pub const MAX: Self = Self(i64::MAX);
    /// The most negative representable span (-2^31 s).
    pub const MIN: Self = Self(i64::MIN);

    /// From a signed count of 2^-32 s units.
    pub const fn from_bits(bits: i64) -> Self {
        Self(bits)
    }

    /// The signed count of 2^-32 s units.
    pub const fn to_bits(self) -> i64 {
        self.0
    }

    /// From nanoseconds, rounded to the nearest unit and saturating at ±2^31 s.
    pub fn from_nanos(nanos: i128) -> Self {
        let saturated = if nanos < 0 { i64::MIN } else { i64::MAX };
        let Some(scaled) = nanos.checked_mul(FRAC_UNITS) else {
            return Self(saturated);
        };
        let units = (scaled + nanos.signum() * (NANOS_PER_SEC / 2)) / NANOS_PER_SEC;
        Self(i64::try_from(units).unwrap_or(saturated))
    }

    /// The span in nanoseconds, rounded to the nearest nanosecond (exact to ±0.12 ns).
    pub fn as_nanos(self) -> i64 {
        let v = i128::from(self.0) * NANOS_PER_SEC;
        let rounded = (v + v.signum() * (FRAC_UNITS / 2)) / FRAC_UNITS;
        // |self| <= 2^31 s, so the nanosecond count fits in i64 (about 2.1e18).
        i64::try_from(rounded).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
    }

    /// The span in seconds as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / FRAC_UNITS as f64
    }

    /// The absolute value as a [`Duration`] (saturating for [`NtpDuration::MIN`]).
    pub fn abs_duration(self) -> Duration {
        let nanos = self.as_nanos().unsigned_abs();
        Duration::from_nanos(nanos)
    }

    /// `self + rhs`, saturating.
    pub const fn saturating_add(self, rhs: Self) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }

    /// `self - rhs`, saturating.
    pub const fn saturating_sub(self, rhs: Self) -> Self {
        Self(self.0.saturating_sub(rhs.0))
    }
}

impl Neg for NtpDuration {
    type Output = Self;
    /// Saturating negation.
    fn neg(self) -> Self {
        Self(self.0.saturating_neg())
    }
}

impl fmt::Display for NtpDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.9}s", self.as_secs_f64())
    }
}

/// The 32-bit NTP short format: 16 bits of seconds and 16 bits of fraction, unsigned (root
/// delay and root dispersion).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpShort(u32);

impl NtpShort {
    /// Zero.
    pub const ZERO: Self = Self(0);
    /// The largest value, just under 65536 s.
    pub const MAX: Self = Self(u32::MAX);

    /// From the raw wire value.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The raw wire value.
    pub const fn to_bits(self) -> u32 {
        self.0
    }

    /// From whole seconds and a 2^-16 s fraction.
    pub const fn from_parts(seconds: u16, fraction: u16) -> Self {
        Self(((seconds as u32) << 16) | fraction as u32)
    }

    /// Whole seconds.
    pub const fn seconds(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// Fraction in units of 2^-16 s.
    pub const fn fraction(self) -> u16 {
        self.0 as u16
    }

    /// The value in nanoseconds, rounded to the nearest nanosecond.
    pub const fn as_nanos(self) -> u64 {
        (self.0 as u64 * 1_000_000_000 + (1 << 15)) >> 16
    }

    /// From nanoseconds, rounded to the nearest 2^-16 s and saturating at [`NtpShort::MAX`].
    pub fn from_nanos(nanos: u64) -> Self {
        let units = (u128::from(nanos) << 16) + 500_000_000;
        Self(u32::try_from(units / 1_000_000_000).unwrap_or(u32::MAX))
    }

    /// The value as a [`Duration`] (rounded to the nanosecond).
    pub const fn to_duration(self) -> Duration {
        Duration::from_nanos(self.as_nanos())
    }

    /// From a [`Duration`], rounded and saturating.
    pub fn from_duration(d: Duration) -> Self {
        Self::from_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    /// The value in seconds as a float.
    pub fn as_secs_f64(self) -> f64 {
        f64::from(self.0) / 65536.0
    }

    /// `self + rhs`, saturating.
    pub const fn saturating_add(self, rhs: Self) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }
}

/// An era-resolved NTP date: signed seconds since 1900-01-01 00:00:00 UTC (era 0) and a 2^-32 s
/// fraction, the RFC 5905 "date format" with the era folded into a 64-bit seconds count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpDate {
    secs: i64,
    frac: u32,
}

impl NtpDate {
    /// 1900-01-01 00:00:00 UTC: era 0, offset 0.
    pub const PRIME_EPOCH: Self = Self { secs: 0, frac: 0 };
    /// 2036-02-07 06:28:16 UTC: the first instant of era 1.
    pub const ERA1: Self = Self {
        secs: 1 << 32,
        frac: 0,
    };
    /// The earliest representable date.
    pub const MIN: Self = Self {
        secs: i64::MIN,
        frac: 0,
    };
    /// The latest representable date.
    pub const MAX: Self = Self {
        secs: i64::MAX,
        frac: u32::MAX,
    };

    /// From signed seconds since 1900 (era 0) and a 2^-32 s fraction.
    pub const fn new(secs: i64, frac: u32) -> Self {
        Self { secs, frac }
    }

    /// From the RFC 5905 date fields: era number, seconds within the era and fraction.
    pub const fn from_era(era: i32, timestamp: NtpTimestamp) -> Self {
        Self {
            secs: ((era as i64) << 32) | timestamp.seconds() as i64,
            frac: timestamp.fraction(),
        }
    }

    /// Signed whole seconds since 1900-01-01 (era 0); the fraction is always added on top.
    pub const fn secs(self) -> i64 {
        self.secs
    }

    /// Fraction of a second in 2^-32 s units.
    pub const fn fraction(self) -> u32 {
        self.frac
    }

    /// The era number (0 until 2036-02-07 06:28:16 UTC, 1 after it, -1 before 1900).
    pub const fn era(self) -> i64 {
        self.secs >> 32
    }

    /// The 64-bit wire timestamp (era dropped).
    pub const fn timestamp(self) -> NtpTimestamp {
        NtpTimestamp::from_parts(self.secs as u32, self.frac)
    }

    fn units(self) -> i128 {
        (i128::from(self.secs) << 32) | i128::from(self.frac)
    }

    fn from_units(units: i128) -> Self {
        let min = Self::MIN.units();
        let max = Self::MAX.units();
        let u = units.clamp(min, max);
        Self {
            secs: (u >> 32) as i64,
            frac: u as u32,
        }
    }

    /// From Unix nanoseconds, rounded to the nearest 2^-32 s; saturating.
    pub fn from_unix_nanos(t: UnixNanos) -> Self {
        let secs = t.0.div_euclid(NANOS_PER_SEC) + i128::from(NTP_UNIX_OFFSET_SECS);
        let nanos = t.0.rem_euclid(NANOS_PER_SEC) as u32;
        let Ok(secs) = i64::try_from(secs) else {
            return if secs < 0 { Self::MIN } else { Self::MAX };
        };
        Self {
            secs,
            frac: nanos_to_frac(nanos),
        }
    }

    /// Unix nanoseconds, rounded to the nearest nanosecond. Exact inverse of
    /// [`Self::from_unix_nanos`] for every nanosecond value.
    pub fn to_unix_nanos(self) -> UnixNanos {
        let secs = i128::from(self.secs) - i128::from(NTP_UNIX_OFFSET_SECS);
        UnixNanos(secs * NANOS_PER_SEC + i128::from(frac_to_nanos(self.frac)))
    }

    /// `self - earlier` as a signed span, saturating at ±2^31 s.
    pub fn saturating_sub(self, earlier: Self) -> NtpDuration {
        let d = self.units() - earlier.units();
        NtpDuration(i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2036-02-07T06:28:16Z in Unix seconds.
    const ERA1_UNIX: i64 = (1 << 32) - NTP_UNIX_OFFSET_SECS;

    #[test]
    fn era_boundary_is_2036_02_07_06_28_16() {
        // 2036-02-07 is day 24_143 after 1970-01-01; 06:28:16 is 23_296 s into it.
        assert_eq!(ERA1_UNIX, 24_143 * 86_400 + 23_296);
        assert_eq!(
            NtpDate::ERA1.to_unix_nanos(),
            UnixNanos::from_secs(ERA1_UNIX)
        );
        assert_eq!(NtpDate::ERA1.era(), 1);
        assert_eq!(NtpDate::ERA1.timestamp(), NtpTimestamp::ZERO);
        let last0 = NtpDate::new((1 << 32) - 1, u32::MAX);
        assert_eq!(last0.era(), 0);
        assert_eq!(last0.timestamp().to_bits(), u64::MAX);
    }

    #[test]
    fn resolve_across_the_2036_rollover() {
        let before = UnixNanos::from_secs(ERA1_UNIX - 1);
        let after = UnixNanos::from_secs(ERA1_UNIX + 1);
        let ts_before = NtpTimestamp::from_unix_nanos(before);
        let ts_after = NtpTimestamp::from_unix_nanos(after);
        assert_eq!(ts_before, NtpTimestamp::from_parts(u32::MAX, 0));
        assert_eq!(ts_after, NtpTimestamp::from_parts(1, 0));
        // Pivot on either side of the boundary resolves both correctly.
        for pivot in [before, after, UnixNanos::from_secs(ERA1_UNIX)] {
            assert_eq!(ts_before.to_unix_nanos(pivot), before);
            assert_eq!(ts_after.to_unix_nanos(pivot), after);
        }
        assert_eq!(ts_after.resolve(NtpDate::from_unix_nanos(before)).era(), 1);
        assert_eq!(ts_before.resolve(NtpDate::from_unix_nanos(after)).era(), 0);
        // The difference across the rollover is just 2 s.
        assert_eq!((ts_after - ts_before).as_nanos(), 2_000_000_000);
    }

    #[test]
    fn resolve_window_edges() {
        let pivot = NtpDate::new(1 << 32, 0);
        // Just under +2^31 s stays ahead; exactly +2^31 s maps to -2^31 s.
        let ahead = NtpTimestamp::from_parts((1 << 31) - 1, u32::MAX);
        assert_eq!(
            ahead.resolve(pivot),
            NtpDate::new((1 << 32) + (1 << 31) - 1, u32::MAX)
        );
        let half = NtpTimestamp::from_parts(1 << 31, 0);
        assert_eq!(half.resolve(pivot), NtpDate::new((1 << 32) - (1 << 31), 0));
    }

    #[test]
    fn prime_epoch_1900_and_before() {
        let t1900 = UnixNanos::from_secs(-NTP_UNIX_OFFSET_SECS);
        assert_eq!(NtpDate::from_unix_nanos(t1900), NtpDate::PRIME_EPOCH);
        assert_eq!(NtpTimestamp::ZERO.to_unix_nanos(t1900), t1900);
        // One second before 1900 is the last second of era -1.
        let before = UnixNanos::from_secs(-NTP_UNIX_OFFSET_SECS - 1);
        let d = NtpDate::from_unix_nanos(before);
        assert_eq!(d.era(), -1);
        assert_eq!(d.timestamp(), NtpTimestamp::from_parts(u32::MAX, 0));
        assert_eq!(d.timestamp().to_unix_nanos(t1900), before);
    }

    #[test]
    fn unix_epoch_and_fraction_rounding() {
        let ts = NtpTimestamp::from_unix_nanos(UnixNanos::from_secs(0));
        assert_eq!(ts, NtpTimestamp::from_parts(2_208_988_800, 0));
        // Half a second is exactly 2^31 units.
        let half = NtpTimestamp::from_unix_nanos(UnixNanos(500_000_000));
        assert_eq!(half.fraction(), 1 << 31);
        // The largest fraction rounds up into the next second.
        let d = NtpDate::new(NTP_UNIX_OFFSET_SECS, u32::MAX);
        assert_eq!(d.to_unix_nanos(), UnixNanos(1_000_000_000));
        // Negative Unix times keep a positive fraction.
        let d = NtpDate::from_unix_nanos(UnixNanos(-1));
        assert_eq!(d.secs(), NTP_UNIX_OFFSET_SECS - 1);
        assert_eq!(d.to_unix_nanos(), UnixNanos(-1));
    }

    #[test]
    fn from_era_matches_rfc_table() {
        // RFC 5905 figure 4: 8 Feb 2036 is era 1, era offset 63,104.
        let d = NtpDate::from_era(1, NtpTimestamp::from_parts(63_104, 0));
        assert_eq!(d.secs(), (1 << 32) + 63_104);
        assert_eq!(d.era(), 1);
    }

    #[test]
    fn duration_and_short_conversions() {
        assert_eq!(NtpDuration::from_nanos(1_000_000_000).to_bits(), 1 << 32);
        assert_eq!(
            NtpDuration::from_nanos(-1_000_000_000).to_bits(),
            -(1 << 32)
        );
        assert_eq!(NtpDuration::from_bits(-(1 << 31)).as_nanos(), -500_000_000);
        assert_eq!(NtpDuration::MIN.as_nanos(), -2_147_483_648_000_000_000);
        assert_eq!(NtpDuration::from_nanos(i128::MAX), NtpDuration::MAX);
        assert_eq!(NtpShort::from_parts(1, 0x8000).as_nanos(), 1_500_000_000);
        assert_eq!(
            NtpShort::from_nanos(1_500_000_000),
            NtpShort::from_parts(1, 0x8000)
        );
        assert_eq!(NtpShort::from_nanos(u64::MAX), NtpShort::MAX);
        assert_eq!(NtpShort::from_bits(1).as_nanos(), 15_259);
        assert_eq!(
            NtpShort::from_duration(Duration::from_millis(250)).to_bits(),
            0x4000
        );
    }

    #[test]
    fn saturation_at_the_ends() {
        assert_eq!(NtpDate::from_unix_nanos(UnixNanos(i128::MAX)), NtpDate::MAX);
        assert_eq!(NtpDate::from_unix_nanos(UnixNanos(i128::MIN)), NtpDate::MIN);
        assert_eq!(
            NtpTimestamp::from_bits(1 << 62).resolve(NtpDate::MAX),
            NtpDate::MAX
        );
        assert_eq!(
            NtpTimestamp::from_bits(1 << 62)
                .resolve(NtpDate::MIN)
                .secs(),
            i64::MIN + (1 << 30)
        );
    }
}
