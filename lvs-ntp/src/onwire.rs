//! The on-wire protocol (RFC 5905 §8): the sanity checks a reply must pass before it is used,
//! and the offset and delay computed from its four timestamps.

use crate::time::{NtpDuration, NtpShort, NtpTimestamp};
use crate::wire::{KissCode, LeapIndicator, Mode, NtpRepr, WireError};

/// MAXDISP: a root distance at or beyond this (16 s) makes a server unfit.
pub const MAX_DISPERSION: NtpShort = NtpShort::from_parts(16, 0);

/// Why a reply was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Reject {
    /// The reply's mode does not answer the request's (a client expects a server reply).
    #[error("reply mode {0:?} does not answer the request")]
    InvalidMode(Mode),
    /// The same transmit timestamp as the last reply accepted: a replay.
    #[error("duplicate packet")]
    Duplicate,
    /// The origin timestamp is not the nonce of our outstanding request (stale, or spoofed).
    #[error("origin timestamp does not match the request")]
    Bogus,
    /// A kiss-o'-death from the server; its receive and transmit timestamps are meaningless.
    #[error("kiss-o'-death {0}")]
    Kiss(KissCode),
    /// The receive or transmit timestamp is zero.
    #[error("zero receive or transmit timestamp")]
    ZeroTimestamp,
    /// The server is not synchronised: leap indicator 3, stratum 16 or above, or stratum 0
    /// without a kiss code.
    #[error("server unsynchronised")]
    Unsynchronized,
    /// Root delay / 2 + root dispersion is at least [`MAX_DISPERSION`].
    #[error("root distance too large")]
    RootDistance,
}

/// Checks a parsed `reply` against the `request` we sent (its `transmit` is the nonce the
/// reply must echo as origin) and the transmit timestamp of the last reply accepted from this
/// server (`None` before the first).
///
/// The order follows RFC 5905 and current practice: mode, duplicate, nonce (so that an
/// off-path attacker cannot inject a kiss-o'-death), kiss code, zero timestamps, then the
/// server's synchronisation and root distance. After an `Ok`, the caller should forget the
/// nonce so that at most one reply per request is accepted.
pub fn check_reply(
    request: &NtpRepr,
    last_transmit: Option<NtpTimestamp>,
    reply: &NtpRepr,
) -> Result<(), Reject> {
    let mode_ok = match request.mode {
        Mode::Client => reply.mode == Mode::Server,
        Mode::SymmetricActive => {
            matches!(reply.mode, Mode::SymmetricActive | Mode::SymmetricPassive)
        }
        Mode::SymmetricPassive => reply.mode == Mode::SymmetricActive,
        _ => false,
    };
    if !mode_ok {
        return Err(Reject::InvalidMode(reply.mode));
    }
    if last_transmit == Some(reply.transmit) {
        return Err(Reject::Duplicate);
    }
    if request.transmit.is_zero() || reply.origin != request.transmit {
        return Err(Reject::Bogus);
    }
    if let Some(code) = reply.kiss_code() {
        return Err(Reject::Kiss(code));
    }
    if reply.receive.is_zero() || reply.transmit.is_zero() {
        return Err(Reject::ZeroTimestamp);
    }
    if reply.leap == LeapIndicator::Unsynchronized || reply.stratum == 0 || reply.stratum >= 16 {
        return Err(Reject::Unsynchronized);
    }
    let distance =
        u64::from(reply.root_delay.to_bits() / 2) + u64::from(reply.root_dispersion.to_bits());
    if distance >= u64::from(MAX_DISPERSION.to_bits()) {
        return Err(Reject::RootDistance);
    }
    Ok(())
}

/// Clock offset θ and round-trip delay δ of one exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sample {
    /// θ = ((T2 − T1) + (T3 − T4)) / 2: positive when the server's clock is ahead of ours.
    pub offset: NtpDuration,
    /// δ = (T4 − T1) − (T3 − T2): may be slightly negative through frequency error; callers
    /// clamp it to their precision.
    pub delay: NtpDuration,
}

/// θ and δ from T1 (our send time), T2 (server receive), T3 (server transmit) and T4 (our
/// receive time), per RFC 5905 §8.
///
/// The first-order differences are taken modulo 2^64 and read as signed (exact across era
/// rollovers while each is within ±68 years); the second-order sums are done in 128 bits, so
/// the offset is exact to within half a unit (2^-33 s, rounded toward −∞) and the delay exact
/// unless it exceeds ±68 years, where it saturates.
///
/// T1 is the local send time, which need not be the nonce sent in the request.
pub fn offset_delay(
    t1: NtpTimestamp,
    t2: NtpTimestamp,
    t3: NtpTimestamp,
    t4: NtpTimestamp,
) -> Sample {
    let d21 = i128::from(t2.wrapping_sub(t1).to_bits());
    let d34 = i128::from(t3.wrapping_sub(t4).to_bits());
    let d41 = i128::from(t4.wrapping_sub(t1).to_bits());
    let d32 = i128::from(t3.wrapping_sub(t2).to_bits());
    // The mean of two i64 values always fits in i64.
    let offset = i64::try_from((d21 + d34) >> 1).unwrap_or(i64::MAX);
    let delay = d41 - d32;
    let delay = i64::try_from(delay).unwrap_or(if delay < 0 { i64::MIN } else { i64::MAX });
    Sample {
        offset: NtpDuration::from_bits(offset),
        delay: NtpDuration::from_bits(delay),
    }
}

/// Counters of received replies by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxStats {
    /// Replies that passed every check.
    pub accepted: u64,
    /// Datagrams that did not parse.
    pub malformed: u64,
    /// [`Reject::InvalidMode`].
    pub invalid_mode: u64,
    /// [`Reject::Duplicate`].
    pub duplicate: u64,
    /// [`Reject::Bogus`].
    pub bogus: u64,
    /// [`Reject::Kiss`] with RATE.
    pub kiss_rate: u64,
    /// [`Reject::Kiss`] with DENY or RSTR.
    pub kiss_denied: u64,
    /// [`Reject::Kiss`] with any other code.
    pub kiss_other: u64,
    /// [`Reject::ZeroTimestamp`].
    pub zero_timestamp: u64,
    /// [`Reject::Unsynchronized`].
    pub unsynchronized: u64,
    /// [`Reject::RootDistance`].
    pub root_distance: u64,
}

impl RxStats {
    /// Counts the outcome of [`check_reply`].
    pub fn record(&mut self, outcome: Result<(), Reject>) {
        let counter = match outcome {
            Ok(()) => &mut self.accepted,
            Err(Reject::InvalidMode(_)) => &mut self.invalid_mode,
            Err(Reject::Duplicate) => &mut self.duplicate,
            Err(Reject::Bogus) => &mut self.bogus,
            Err(Reject::Kiss(code)) if code.is_rate() => &mut self.kiss_rate,
            Err(Reject::Kiss(code)) if code.is_access_denied() => &mut self.kiss_denied,
            Err(Reject::Kiss(_)) => &mut self.kiss_other,
            Err(Reject::ZeroTimestamp) => &mut self.zero_timestamp,
            Err(Reject::Unsynchronized) => &mut self.unsynchronized,
            Err(Reject::RootDistance) => &mut self.root_distance,
        };
        *counter += 1;
    }

    /// Counts a datagram that failed to parse.
    pub fn record_malformed(&mut self, _error: WireError) {
        self.malformed += 1;
    }

    /// Every reply counted, accepted or not.
    pub fn total(&self) -> u64 {
        self.accepted
            + self.malformed
            + self.invalid_mode
            + self.duplicate
            + self.bogus
            + self.kiss_rate
            + self.kiss_denied
            + self.kiss_other
            + self.zero_timestamp
            + self.unsynchronized
            + self.root_distance
    }
}
