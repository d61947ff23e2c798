//! A read-only subset of NTP control messages ("mode 6", RFC 1305 appendix B, as ntpd's
//! `ntp_control.c` answers them), enough for the stock `ntpq -p`, `ntpq -c rv`, `ntpq -c as`
//! and `ntpstat` to query a daemon built on this crate.
//!
//! # What is answered
//!
//! | opcode | answer |
//! |---|---|
//! | 0 unspecified | the system (or peer) status word, no data |
//! | 1 READSTAT, association 0 | the system status word and the association list: pairs of (association ID, peer status word), big-endian |
//! | 1 READSTAT, association N | the peer status word and the peer's default variables |
//! | 2 READVAR, association 0 | the system status word and the system variables (all defaults, or those named in the request) |
//! | 2 READVAR, association N | the peer status word and its variables |
//! | 3 WRITEVAR, 5 WRITECLOCK, 8 CONFIGURE, 9 SAVECONFIG | error 1 (permission): this server is read-only |
//! | 4 READCLOCK | error 4 (bad association): there are no reference clocks |
//! | anything else (traps, MRU list, nonces ...) | error 3 (bad opcode) |
//!
//! Variables use ntpd's names, order and formats: times in milliseconds (3 decimals for root
//! delay and dispersion, 6 for offsets, delays and jitters), timestamps as `0x%08x.%08x`, the
//! reach register in hex, strings quoted; items are separated by `", "` and lines broken
//! (`",\r\n"`) before 72 characters; text ends with `"\r\n"` when it fits. A variable list in
//! the request (`"stratum,refid"`) selects variables, emitted in ntpd's order; an unknown name
//! is error 5, an unknown association error 4. The status words follow ntpd's layout (see
//! [`SystemStatus`] and [`PeerStatus`]).
//!
//! Responses are cut into fragments of at most [`MAX_DATA`] bytes with increasing offsets and
//! the "more" bit on all but the last, each padded to a multiple of 4 bytes ([`Response`]).
//! Requests that are not control requests (responses, fragments, offsets, versions outside
//! 1..=4, shorter than the 12-byte header) get no answer at all, as ntpd does; access control
//! (`restrict ... noquery`) is the caller's business before [`Responder::answer`].
//!
//! # Bounds
//!
//! Nothing here panics on any input. The [`Responder`] allocates its text buffer once
//! ([`MAX_RESPONSE`] bytes) and reuses it; a response never grows beyond it (an association
//! list is cut at [`MAX_RESPONSE`] / 4 entries).
//!
//! ```
//! use lvs_ntp::fuzzing::{MODE6_PEERS, MODE6_SYSTEM};
//! use lvs_ntp::mode6::{Responder, Snapshot, parse_variables};
//!
//! let snapshot = Snapshot { system: MODE6_SYSTEM, peers: &MODE6_PEERS };
//! let mut responder = Responder::new();
//! // ntpq's "rv 0 stratum,refid": version 2, mode 6, READVAR, sequence 7, association 0.
//! let mut request = vec![0x16, 0x02, 0, 7, 0, 0, 0, 0, 0, 0, 0, 13];
//! request.extend_from_slice(b"stratum,refid\0\0\0");
//! let response = responder.answer(&request, &snapshot).unwrap();
//! assert_eq!(response.fragments(), 1);
//! let mut packet = [0u8; lvs_ntp::mode6::MAX_PACKET];
//! let n = response.write_fragment(0, &mut packet).unwrap();
//! assert_eq!(&packet[..4], &[0x16, 0x82, 0, 7]); // a response to sequence 7
//! assert_eq!(n % 4, 0);
//! let vars: Vec<_> = parse_variables(response.data()).collect();
//! assert_eq!(vars, [("stratum", "3"), ("refid", "192.0.2.1")]);
//! ```

use crate::client::Tally;
use crate::wire::LeapIndicator;

mod answer;

pub use answer::{FilterStage, Mode6Stats, PeerVars, Responder, Response, Snapshot, SystemVars};

/// The control header: 12 bytes.
pub const HEADER_LEN: usize = 12;
/// The most data bytes in one fragment (ntpd's `CTL_MAX_DATA_LEN`).
pub const MAX_DATA: usize = 468;
/// The largest fragment on the wire: header plus data (a multiple of 4).
pub const MAX_PACKET: usize = HEADER_LEN + MAX_DATA;
/// The most fragments one response is cut into.
pub const MAX_FRAGMENTS: usize = 24;
/// The largest response text.
pub const MAX_RESPONSE: usize = MAX_FRAGMENTS * MAX_DATA;
/// ntpd breaks the variable text into lines shorter than this.
pub(crate) const LINE_LIMIT: usize = 72;
/// The control mode.
const MODE_CONTROL: u8 = 6;
const RESPONSE: u8 = 0x80;
const ERROR: u8 = 0x40;
const MORE: u8 = 0x20;
const OPCODE_MASK: u8 = 0x1f;

/// Control opcodes (the low five bits of the second byte).
pub mod opcode {
    /// Unspecified: returns the status word.
    pub const UNSPEC: u8 = 0;
    /// Read status (association list, or one peer).
    pub const READSTAT: u8 = 1;
    /// Read variables.
    pub const READVAR: u8 = 2;
    /// Write variables.
    pub const WRITEVAR: u8 = 3;
    /// Read reference clock variables.
    pub const READCLOCK: u8 = 4;
    /// Write reference clock variables.
    pub const WRITECLOCK: u8 = 5;
    /// Set a trap.
    pub const SETTRAP: u8 = 6;
    /// Asynchronous message (trap delivery).
    pub const ASYNCMSG: u8 = 7;
    /// Run-time configuration.
    pub const CONFIGURE: u8 = 8;
    /// Save the configuration.
    pub const SAVECONFIG: u8 = 9;
    /// Read the MRU list.
    pub const READ_MRU: u8 = 10;
    /// Read an ordered list (interface statistics, restrict list).
    pub const READ_ORDLIST_A: u8 = 11;
    /// Request a nonce (for the MRU list).
    pub const REQ_NONCE: u8 = 12;
    /// Clear a trap.
    pub const UNSETTRAP: u8 = 31;
}

/// The error codes of an error response (the high byte of its status word).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 0: unspecified.
    Unspecified = 0,
    /// 1: authentication failure / not permitted.
    Permission = 1,
    /// 2: invalid message length or format.
    BadFormat = 2,
    /// 3: invalid opcode.
    BadOpcode = 3,
    /// 4: unknown association ID.
    BadAssociation = 4,
    /// 5: unknown variable name.
    UnknownVariable = 5,
    /// 6: invalid variable value.
    BadValue = 6,
    /// 7: administratively prohibited.
    Restricted = 7,
}

/// Why a packet got no answer at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Mode6Error {
    /// Shorter than the 12-byte control header.
    #[error("shorter than the control header")]
    Truncated,
    /// Not mode 6.
    #[error("mode {0} is not a control message")]
    NotControl(u8),
    /// The response, error or more bit is set: not a request.
    #[error("not a request (response, error or more bit set)")]
    NotRequest,
    /// A request fragment (nonzero offset).
    #[error("fragmented request")]
    Fragment,
    /// A version outside 1..=4.
    #[error("unsupported version {0}")]
    Version(u8),
    /// The output buffer is too small.
    #[error("output buffer too small")]
    BufferTooSmall,
}

/// The fields of a control header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ControlHeader {
    /// Leap indicator bits (responses carry the system's).
    pub leap: u8,
    /// Version 1..=4.
    pub version: u8,
    /// Response bit.
    pub response: bool,
    /// Error bit.
    pub error: bool,
    /// More fragments follow.
    pub more: bool,
    /// Opcode, 0..=31.
    pub opcode: u8,
    /// Sequence number, echoed in responses.
    pub sequence: u16,
    /// Status word (system, peer, or error code in the high byte).
    pub status: u16,
    /// Association ID (0: the system).
    pub association: u16,
    /// Byte offset of this fragment's data.
    pub offset: u16,
    /// Data bytes in this fragment.
    pub count: u16,
}

impl ControlHeader {
    /// Reads the header at the start of `bytes` (mode must be 6).
    pub fn parse(bytes: &[u8]) -> Result<Self, Mode6Error> {
        let Some(h) = bytes.first_chunk::<HEADER_LEN>() else {
            return Err(Mode6Error::Truncated);
        };
        if h[0] & 7 != MODE_CONTROL {
            return Err(Mode6Error::NotControl(h[0] & 7));
        }
        let word = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        Ok(Self {
            leap: h[0] >> 6,
            version: (h[0] >> 3) & 7,
            response: h[1] & RESPONSE != 0,
            error: h[1] & ERROR != 0,
            more: h[1] & MORE != 0,
            opcode: h[1] & OPCODE_MASK,
            sequence: word(2),
            status: word(4),
            association: word(6),
            offset: word(8),
            count: word(10),
        })
    }

    /// Writes the header into the first 12 bytes of `out`.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, Mode6Error> {
        let Some(h) = out.first_chunk_mut::<HEADER_LEN>() else {
            return Err(Mode6Error::BufferTooSmall);
        };
        h[0] = (self.leap & 3) << 6 | (self.version & 7) << 3 | MODE_CONTROL;
        h[1] = u8::from(self.response) << 7
            | u8::from(self.error) << 6
            | u8::from(self.more) << 5
            | (self.opcode & OPCODE_MASK);
        for (i, w) in [
            self.sequence,
            self.status,
            self.association,
            self.offset,
            self.count,
        ]
        .into_iter()
        .enumerate()
        {
            h[2 + 2 * i..4 + 2 * i].copy_from_slice(&w.to_be_bytes());
        }
        Ok(HEADER_LEN)
    }
}

/// A control request: its header and its data (`None` when the count exceeds the bytes
/// received or ntpd's limit, which is answered with error 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The header.
    pub header: ControlHeader,
    /// The request data (a variable list), without padding or MAC.
    pub data: Option<&'a [u8]>,
}

/// Parses a control request, with ntpd's reasons to ignore a packet.
pub fn parse_request(packet: &[u8]) -> Result<Request<'_>, Mode6Error> {
    let header = ControlHeader::parse(packet)?;
    if header.response || header.error || header.more {
        return Err(Mode6Error::NotRequest);
    }
    if header.offset != 0 {
        return Err(Mode6Error::Fragment);
    }
    if !(1..=4).contains(&header.version) {
        return Err(Mode6Error::Version(header.version));
    }
    let count = usize::from(header.count);
    let data = (count <= MAX_DATA)
        .then(|| packet.get(HEADER_LEN..HEADER_LEN + count))
        .flatten();
    Ok(Request { header, data })
}

/// System event codes (the low four bits of the system status word).
pub mod sys_event {
    /// Started without a frequency (no drift file): `ntpstat` says "time server re-starting".
    pub const FREQ_NOT_SET: u8 = 1;
    /// Started with the drift-file frequency.
    pub const FREQ_SET: u8 = 2;
    /// A spike was detected.
    pub const SPIKE_DETECT: u8 = 3;
    /// Measuring the frequency.
    pub const FREQ_MODE: u8 = 4;
    /// The clock is synchronised.
    pub const CLOCK_SYNC: u8 = 5;
    /// The panic threshold was exceeded.
    pub const PANIC_STOP: u8 = 7;
    /// The system peer was lost.
    pub const NO_SYSTEM_PEER: u8 = 8;
    /// The clock was stepped.
    pub const CLOCK_STEP: u8 = 12;
}

/// Peer event codes (the low four bits of a peer status word).
pub mod peer_event {
    /// Association mobilised.
    pub const MOBILIZE: u8 = 1;
    /// Association demobilised.
    pub const DEMOBILIZE: u8 = 2;
    /// The server became unreachable.
    pub const UNREACHABLE: u8 = 3;
    /// The server became reachable.
    pub const REACHABLE: u8 = 4;
    /// A RATE kiss was received.
    pub const RATE_EXCEEDED: u8 = 7;
    /// A DENY or RSTR kiss was received.
    pub const ACCESS_DENIED: u8 = 8;
    /// The association became the system peer.
    pub const SYS_PEER: u8 = 10;
}

/// Clock source codes of the system status word.
pub mod clock_source {
    /// Unspecified (not synchronised).
    pub const UNSPECIFIED: u8 = 0;
    /// The local clock ("local net" in `ntpstat`).
    pub const LOCAL: u8 = 5;
    /// An NTP server.
    pub const NTP: u8 = 6;
}

/// The system status word: LI (2 bits), clock source (6), event count (4), last event (4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SystemStatus {
    /// The system leap indicator (3: not synchronised).
    pub leap: LeapIndicator,
    /// See [`clock_source`].
    pub source: u8,
    /// Events since the counter was last read, modulo 16.
    pub event_count: u8,
    /// See [`sys_event`].
    pub last_event: u8,
}

impl SystemStatus {
    /// The 16-bit word.
    pub const fn word(self) -> u16 {
        (self.leap.to_bits() as u16) << 14
            | ((self.source & 0x3f) as u16) << 8
            | ((self.event_count & 0xf) as u16) << 4
            | (self.last_event & 0xf) as u16
    }
}

/// The selection state in a peer status word (ntpq's tally character).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Select {
    /// ` ` rejected.
    Reject = 0,
    /// `x` falseticker.
    Falseticker = 1,
    /// `.` excess.
    Excess = 2,
    /// `-` outlier.
    Outlier = 3,
    /// `+` candidate.
    Candidate = 4,
    /// `#` backup.
    Backup = 5,
    /// `*` system peer.
    SystemPeer = 6,
    /// `o` PPS peer.
    PpsPeer = 7,
}

impl From<Tally> for Select {
    fn from(t: Tally) -> Self {
        match t {
            Tally::Reject => Self::Reject,
            Tally::Falseticker => Self::Falseticker,
            Tally::Outlier => Self::Outlier,
            Tally::Candidate => Self::Candidate,
            Tally::SystemPeer => Self::SystemPeer,
        }
    }
}

/// A peer status word: configured (0x80), authentication enabled (0x40), authentic (0x20),
/// reachable (0x10) and the [`Select`] code in the high byte; event count and last event in
/// the low byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerStatus {
    /// Configured (not mobilised from a pool).
    pub configured: bool,
    /// The reach register is not zero.
    pub reachable: bool,
    /// Selection state.
    pub select: Select,
    /// Events modulo 16.
    pub event_count: u8,
    /// See [`peer_event`].
    pub last_event: u8,
}

impl PeerStatus {
    /// The 16-bit word.
    pub const fn word(self) -> u16 {
        let mut high = self.select as u16;
        if self.configured {
            high |= 0x80;
        }
        if self.reachable {
            high |= 0x10;
        }
        high << 8 | ((self.event_count & 0xf) as u16) << 4 | (self.last_event & 0xf) as u16
    }
}

/// Splits response text into `(name, value)` pairs the way ntpq does: items separated by
/// commas outside double quotes, surrounding white space and quotes removed. Non-text bytes
/// end the iteration.
pub fn parse_variables(text: &[u8]) -> impl Iterator<Item = (&str, &str)> {
    let text = core::str::from_utf8(text)
        .unwrap_or_else(|e| core::str::from_utf8(&text[..e.valid_up_to()]).unwrap_or_default());
    let mut rest = text;
    core::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            let mut quoted = false;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    if c == '"' {
                        quoted = !quoted;
                    }
                    c == ',' && !quoted
                })
                .map_or(rest.len(), |(i, _)| i);
            let item = rest[..end].trim_matches(|c: char| c.is_whitespace() || c == '\0');
            rest = rest.get(end + 1..).unwrap_or("");
            if item.is_empty() {
                continue;
            }
            let (name, value) = item.split_once('=').unwrap_or((item, ""));
            return Some((name.trim(), value.trim().trim_matches('"')));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words() {
        let s = SystemStatus {
            leap: LeapIndicator::Unsynchronized,
            source: clock_source::NTP,
            event_count: 3,
            last_event: sys_event::FREQ_NOT_SET,
        };
        assert_eq!(s.word(), 0xc631);
        let p = PeerStatus {
            configured: true,
            reachable: true,
            select: Select::SystemPeer,
            event_count: 2,
            last_event: peer_event::SYS_PEER,
        };
        assert_eq!(p.word(), 0x962a);
    }

    #[test]
    fn header_round_trip() {
        let h = ControlHeader {
            leap: 3,
            version: 2,
            response: true,
            more: true,
            opcode: 2,
            sequence: 0x1234,
            status: 0x0615,
            association: 7,
            offset: 468,
            count: 100,
            ..ControlHeader::default()
        };
        let mut b = [0u8; 12];
        assert_eq!(h.emit(&mut b), Ok(12));
        assert_eq!(b, [0xd6, 0xa2, 0x12, 0x34, 6, 0x15, 0, 7, 1, 0xd4, 0, 100]);
        assert_eq!(ControlHeader::parse(&b), Ok(h));
        assert_eq!(h.emit(&mut [0u8; 11]), Err(Mode6Error::BufferTooSmall));
        for n in 0..12 {
            assert_eq!(ControlHeader::parse(&b[..n]), Err(Mode6Error::Truncated));
        }
    }

    #[test]
    fn requests_ntpd_ignores() {
        let ok = [0x16, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(parse_request(&ok).is_ok());
        let mut r = ok;
        r[1] |= 0x80;
        assert_eq!(parse_request(&r), Err(Mode6Error::NotRequest));
        let mut r = ok;
        r[9] = 4;
        assert_eq!(parse_request(&r), Err(Mode6Error::Fragment));
        let mut r = ok;
        r[0] = 0x2e; // version 5
        assert_eq!(parse_request(&r), Err(Mode6Error::Version(5)));
        let mut r = ok;
        r[0] = 0x23; // mode 3
        assert_eq!(parse_request(&r), Err(Mode6Error::NotControl(3)));
        let mut r = ok;
        r[11] = 4; // count beyond the packet
        assert_eq!(parse_request(&r).map(|q| q.data), Ok(None));
    }

    #[test]
    fn variables_split_like_ntpq() {
        let text = b"version=\"a, b\", leap=3,\r\nstratum=16, x, \r\n\0\0";
        let v: Vec<_> = parse_variables(text).collect();
        assert_eq!(
            v,
            [
                ("version", "a, b"),
                ("leap", "3"),
                ("stratum", "16"),
                ("x", "")
            ]
        );
    }
}
