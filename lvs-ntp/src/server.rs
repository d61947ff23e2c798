//! The stateless server responder: one request in, one reply written into a caller buffer, no
//! allocation, no clock reads (the shell passes the receive and send timestamps).
//!
//! Answers client (mode 3) requests only: symmetric, broadcast, control and private modes are
//! dropped (control and private queries belong to a separate handler). The reply mirrors the
//! request's version and poll, echoes its transmit timestamp as origin, and takes everything
//! else from [`SystemState`]. Extension fields in the request are ignored; a request carrying a
//! MAC cannot be authenticated here (no keys) and is answered with a crypto-NAK, as RFC 5905
//! prescribes for an unknown key.

use crate::time::{NtpShort, NtpTimestamp};
use crate::wire::{LeapIndicator, Mac, Mode, NtpMessage, NtpPacket, NtpRepr, Refid, WireError};

/// What the server advertises about its own clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemState {
    /// Whether the clock is synchronised to an upstream (or a reference clock).
    pub synchronized: bool,
    /// Leap warning to pass on while synchronised.
    pub leap: LeapIndicator,
    /// Our stratum while synchronised (the system peer's stratum + 1), 1..=15.
    pub stratum: u8,
    /// Clock precision, log2 seconds.
    pub precision: i8,
    /// Root delay to the primary source.
    pub root_delay: NtpShort,
    /// Root dispersion to the primary source, already grown since the last update.
    pub root_dispersion: NtpShort,
    /// Our reference identifier (system peer address or reference clock name).
    pub refid: Refid,
    /// When the clock was last updated.
    pub reference: NtpTimestamp,
    /// Serve our own clock at this stratum while not synchronised (like `local stratum`);
    /// `None` answers with leap indicator 3 and stratum 16 instead.
    pub local_stratum: Option<u8>,
}

impl SystemState {
    /// An unsynchronised server with no local stratum.
    pub const UNSYNCHRONIZED: Self = Self {
        synchronized: false,
        leap: LeapIndicator::Unsynchronized,
        stratum: 16,
        precision: -20,
        root_delay: NtpShort::ZERO,
        root_dispersion: NtpShort::ZERO,
        refid: Refid::ZERO,
        reference: NtpTimestamp::ZERO,
        local_stratum: None,
    };

    /// The refid advertised while serving the local clock: 127.127.1.1, the classic local
    /// clock address.
    pub const LOCAL_REFID: Refid = Refid::from_bytes([127, 127, 1, 1]);
}

/// Why a request got no reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DropReason {
    /// Shorter than an NTP header.
    #[error("request shorter than the NTP header")]
    Truncated,
    /// A version outside 1..=4.
    #[error("unsupported version {0}")]
    Version(u8),
    /// A mode this responder does not answer.
    #[error("mode {0:?} is not answered")]
    Mode(Mode),
    /// The extension fields or MAC did not parse.
    #[error("malformed request: {0}")]
    Malformed(WireError),
    /// The output buffer cannot hold the reply.
    #[error("output buffer too small")]
    BufferTooSmall,
}

/// Writes the reply to `request` into `out` and returns its length (48, or 52 with a
/// crypto-NAK). `recv_time` is T2, when the request arrived; `send_time` is T3, stamped as
/// late as the shell can.
pub fn respond(
    request: &[u8],
    recv_time: NtpTimestamp,
    send_time: NtpTimestamp,
    sys: &SystemState,
    out: &mut [u8],
) -> Result<usize, DropReason> {
    // Version and mode first: a 12-byte control query is a mode drop, not a truncation.
    let Some(&first) = request.first() else {
        return Err(DropReason::Truncated);
    };
    let version = (first >> 3) & 7;
    if !(1..=4).contains(&version) {
        return Err(DropReason::Version(version));
    }
    let mode = Mode::from_bits(first);
    if mode != Mode::Client {
        return Err(DropReason::Mode(mode));
    }
    NtpPacket::new_checked(request).map_err(|_| DropReason::Truncated)?;
    let msg = NtpMessage::parse(request).map_err(DropReason::Malformed)?;
    let (leap, stratum, refid, reference) = if sys.synchronized {
        (sys.leap, sys.stratum, sys.refid, sys.reference)
    } else if let Some(s) = sys.local_stratum {
        (
            LeapIndicator::NoWarning,
            s,
            SystemState::LOCAL_REFID,
            recv_time,
        )
    } else {
        (LeapIndicator::Unsynchronized, 16, sys.refid, sys.reference)
    };
    let reply = NtpRepr {
        leap,
        version,
        mode: Mode::Server,
        stratum,
        poll: msg.header.poll,
        precision: sys.precision,
        root_delay: sys.root_delay,
        root_dispersion: sys.root_dispersion,
        refid,
        reference,
        origin: msg.header.transmit,
        receive: recv_time,
        transmit: send_time,
    };
    let mac = msg.mac.map(|_| Mac::CryptoNak);
    let reply = NtpMessage {
        mac,
        ..NtpMessage::new(reply)
    };
    reply.emit(out).map_err(|_| DropReason::BufferTooSmall)
}

/// Counters of the responder's outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Replies written.
    pub answered: u64,
    /// Requests dropped as truncated or malformed.
    pub malformed: u64,
    /// Requests dropped for their version.
    pub bad_version: u64,
    /// Requests dropped for their mode.
    pub bad_mode: u64,
    /// Replies that did not fit the output buffer.
    pub no_buffer: u64,
}

impl ServerStats {
    /// Counts one outcome of [`respond`].
    pub fn record(&mut self, outcome: Result<usize, DropReason>) {
        let counter = match outcome {
            Ok(_) => &mut self.answered,
            Err(DropReason::Truncated | DropReason::Malformed(_)) => &mut self.malformed,
            Err(DropReason::Version(_)) => &mut self.bad_version,
            Err(DropReason::Mode(_)) => &mut self.bad_mode,
            Err(DropReason::BufferTooSmall) => &mut self.no_buffer,
        };
        *counter += 1;
    }
}
