//! The drift file in ntpd's format: one line holding the frequency correction in ppm as a
//! decimal float (`%.6f`). Pure functions: the shell reads the file, and writes it atomically
//! (temporary file + rename).

use super::discipline::MAX_FREQ_PPM;

/// Why a drift file was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DriftError {
    /// The file holds no number.
    #[error("drift file is empty")]
    Empty,
    /// The first field is not a decimal number.
    #[error("drift file does not hold a number")]
    NotANumber,
    /// The value is not finite or lies outside ±500 ppm.
    #[error("drift value out of range")]
    OutOfRange,
}

/// The change (ppm) at which ntpsec rewrites the drift file (`wander_threshold`, 0.1 ppm).
pub const REWRITE_THRESHOLD_PPM: f64 = 0.1;

/// Parses a drift file: the first whitespace-separated field of the first non-empty line, in
/// ppm. Trailing fields (chrony writes a second, the skew) are ignored.
///
/// ```
/// use lvs_ntp::client::drift::{parse, DriftError};
/// assert_eq!(parse("-12.345678\n"), Ok(-12.345678));
/// assert_eq!(parse("  3.5  0.04\n"), Ok(3.5));
/// assert_eq!(parse(""), Err(DriftError::Empty));
/// assert_eq!(parse("600.0"), Err(DriftError::OutOfRange));
/// ```
pub fn parse(text: &str) -> Result<f64, DriftError> {
    let field = text
        .lines()
        .find_map(|l| l.split_whitespace().next())
        .ok_or(DriftError::Empty)?;
    // Accept plain decimal notation only (no "inf", "nan" or hexadecimal spellings).
    if !field
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
    {
        return Err(DriftError::NotANumber);
    }
    let ppm: f64 = field.parse().map_err(|_| DriftError::NotANumber)?;
    if !ppm.is_finite() || ppm.abs() > MAX_FREQ_PPM {
        return Err(DriftError::OutOfRange);
    }
    Ok(ppm)
}

/// Formats `ppm` as ntpd does (`%.6f` and a newline), clamped to ±500 ppm; a non-finite
/// value is written as 0.
///
/// ```
/// use lvs_ntp::client::drift::{format, parse};
/// assert_eq!(format(-12.3456789), "-12.345679\n");
/// assert_eq!(parse(&format(42.0)), Ok(42.0));
/// ```
pub fn format(ppm: f64) -> String {
    let v = if ppm.is_finite() {
        ppm.clamp(-MAX_FREQ_PPM, MAX_FREQ_PPM)
    } else {
        0.0
    };
    std::format!("{v:.6}\n")
}

/// Whether the frequency moved far enough from the value last written to rewrite the file.
pub fn should_rewrite(written_ppm: Option<f64>, current_ppm: f64) -> bool {
    written_ppm.is_none_or(|w| (w - current_ppm).abs() >= REWRITE_THRESHOLD_PPM)
}
