//! Timestamp conversions and era resolution as properties, around 1900, today and the 2036
//! rollover.

use lvs_ntp::time::NTP_UNIX_OFFSET_SECS;
use lvs_ntp::{NtpDate, NtpDuration, NtpShort, NtpTimestamp, UnixNanos};
use proptest::prelude::*;

/// 2036-02-07T06:28:16Z as Unix seconds.
const ERA1_UNIX: i64 = 2_085_978_496;
const SEC: i128 = 1_000_000_000;
/// Half an era, the resolution window on either side of a pivot.
const HALF_ERA_NANOS: i128 = (1 << 31) * SEC;

#[test]
fn every_second_around_the_rollover() {
    let pivot = UnixNanos::from_secs(ERA1_UNIX);
    for s in -5..=5 {
        let t = UnixNanos::from_secs(ERA1_UNIX + s);
        let ts = NtpTimestamp::from_unix_nanos(t);
        assert_eq!(ts.seconds(), (s as i32) as u32, "{s}");
        assert_eq!(ts.to_unix_nanos(pivot), t);
        let era = if s < 0 { 0 } else { 1 };
        assert_eq!(NtpDate::from_unix_nanos(t).era(), era);
    }
}

#[test]
fn timestamps_of_known_dates() {
    // 1900-01-01 is timestamp 0 of era 0, 1970-01-01 is 2_208_988_800 s.
    let t1900 = UnixNanos::from_secs(-NTP_UNIX_OFFSET_SECS);
    assert_eq!(NtpTimestamp::from_unix_nanos(t1900), NtpTimestamp::ZERO);
    assert_eq!(
        NtpTimestamp::from_unix_nanos(UnixNanos::EPOCH).seconds(),
        2_208_988_800
    );
    // 2024-01-15T03:55:29Z, the fixtures' epoch, is 0xe94f2b31 s in era 0.
    let fixture = NtpTimestamp::from_parts(0xe94f_2b31, 0);
    assert_eq!(
        fixture.to_unix_nanos(UnixNanos::from_secs(1_700_000_000)),
        UnixNanos::from_secs(0xe94f_2b31 - NTP_UNIX_OFFSET_SECS)
    );
    // The same wire value read with a pivot after 2036 lands in era 1, 136 years later.
    let late = fixture.to_unix_nanos(UnixNanos::from_secs(ERA1_UNIX + 3_000_000_000));
    assert_eq!(
        late.as_nanos() - i128::from(0xe94f_2b31 - NTP_UNIX_OFFSET_SECS) * SEC,
        (1i128 << 32) * SEC
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn unix_nanos_round_trip(n in -5_000_000_000_000_000_000i128..10_000_000_000_000_000_000i128) {
        let d = NtpDate::from_unix_nanos(UnixNanos(n));
        prop_assert_eq!(d.to_unix_nanos(), UnixNanos(n));
    }

    #[test]
    fn resolve_recovers_any_time_within_68_years_of_the_pivot(
        pivot in -3_000_000_000i64..5_000_000_000i64,
        offset in -(HALF_ERA_NANOS - SEC)..(HALF_ERA_NANOS - SEC),
    ) {
        let pivot = UnixNanos::from_secs(pivot);
        let t = UnixNanos(pivot.as_nanos() + offset);
        let ts = NtpTimestamp::from_unix_nanos(t);
        prop_assert_eq!(ts.to_unix_nanos(pivot), t);
    }

    #[test]
    fn differences_are_exact_across_eras(
        a in i128::from(ERA1_UNIX - 1_000_000) * SEC..i128::from(ERA1_UNIX + 1_000_000) * SEC,
        d in -1_000_000_000_000_000i128..1_000_000_000_000_000i128,
    ) {
        let ta = NtpTimestamp::from_unix_nanos(UnixNanos(a));
        let tb = NtpTimestamp::from_unix_nanos(UnixNanos(a + d));
        // Each timestamp rounds by at most half a unit (0.12 ns): the difference is within 1 ns.
        let diff = i128::from((tb - ta).as_nanos());
        prop_assert!((diff - d).abs() <= 1, "{} vs {}", diff, d);
        prop_assert_eq!(ta + (tb - ta), tb);
    }

    #[test]
    fn duration_nanos_round_trip(n in -2_000_000_000_000_000_000i64..2_000_000_000_000_000_000i64) {
        prop_assert_eq!(NtpDuration::from_nanos(i128::from(n)).as_nanos(), n);
    }

    #[test]
    fn short_format_round_trip(bits in any::<u32>()) {
        let s = NtpShort::from_bits(bits);
        prop_assert_eq!(NtpShort::from_nanos(s.as_nanos()), s);
        prop_assert_eq!(NtpShort::from_duration(s.to_duration()), s);
    }
}
