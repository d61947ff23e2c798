//! Timer arithmetic (RFC 3768 §6.1, RFC 5798 / RFC 9568 §6.1), in nanoseconds.
//!
//! Everything is computed from [`Duration`]s with integer nanoseconds, never in whole
//! centiseconds, so Skew_Time never truncates to zero: at a 10 ms interval and priority 254 it is
//! 78.125 µs, and different priorities always give different down intervals.
//!
//! | | Skew_Time | Master_Down_Interval |
//! |---|---|---|
//! | v2 | `(256 − Priority) / 256` s | `3 · Advertisement_Interval + Skew_Time` |
//! | v3 | `(256 − Priority) · Master_Adver_Interval / 256` | `3 · Master_Adver_Interval + Skew_Time` |
//!
//! The factor 3 is keepalived's `down_timer_adverts` (1..=100, default 3, the RFC value).
//!
//! ```
//! use core::time::Duration;
//! use lvs_vrrp::state::timing::{master_down_interval, skew_time};
//!
//! // v2, 1 s, priority 100: 609.375 ms skew, 3.609375 s down interval.
//! assert_eq!(skew_time(2, 100, Duration::from_secs(1)), Duration::from_micros(609_375));
//! assert_eq!(master_down_interval(2, 100, Duration::from_secs(1), 3), Duration::from_micros(3_609_375));
//! // v3, 10 ms, priority 254: 78.125 µs, not zero.
//! assert_eq!(skew_time(3, 254, Duration::from_millis(10)), Duration::from_nanos(78_125));
//! ```

use core::time::Duration;

/// The version 3 interval of `centis` centiseconds.
pub fn v3_interval(centis: u16) -> Duration {
    Duration::from_millis(u64::from(centis) * 10)
}

/// The version 2 interval of `secs` seconds.
pub fn v2_interval(secs: u8) -> Duration {
    Duration::from_secs(u64::from(secs))
}

/// Skew_Time for a router of `priority` (its effective priority; 255 for the owner).
/// `master_adver_interval` only matters for version 3; version 2 always scales one second.
pub fn skew_time(version: u8, priority: u8, master_adver_interval: Duration) -> Duration {
    let base = if version == 2 {
        Duration::from_secs(1)
    } else {
        master_adver_interval
    };
    let nanos = (256 - u128::from(priority)) * base.as_nanos() / 256;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Master_Down_Interval: `down_adverts` intervals plus Skew_Time. For version 2
/// `master_adver_interval` is the configured Advertisement_Interval.
pub fn master_down_interval(
    version: u8,
    priority: u8,
    master_adver_interval: Duration,
    down_adverts: u32,
) -> Duration {
    master_adver_interval
        .saturating_mul(down_adverts)
        .saturating_add(skew_time(version, priority, master_adver_interval))
}
