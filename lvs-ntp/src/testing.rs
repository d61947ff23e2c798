//! Byte fixtures for tests, benchmarks and fuzz seeds, built by hand from the RFC 5905 §7.3
//! layout, with the [`NtpRepr`]s they decode to.

use crate::time::{NtpShort, NtpTimestamp};
use crate::wire::{LeapIndicator, Mode, NtpRepr, Refid};

/// The client's nonce in [`CLIENT_REQUEST`].
pub const NONCE: NtpTimestamp = NtpTimestamp::from_bits(0xd6a5_3c1e_9b07_42f8);

/// A minimal NTPv4 client request: LI 0, VN 4, mode 3, poll 6, a random nonce as transmit
/// timestamp and every other field zero.
pub const CLIENT_REQUEST: [u8; 48] = [
    0x23, 0x00, 0x06, 0x00, // LI 0, VN 4, mode 3; stratum 0; poll 6; precision 0
    0x00, 0x00, 0x00, 0x00, // root delay
    0x00, 0x00, 0x00, 0x00, // root dispersion
    0x00, 0x00, 0x00, 0x00, // refid
    0, 0, 0, 0, 0, 0, 0, 0, // reference timestamp
    0, 0, 0, 0, 0, 0, 0, 0, // origin timestamp
    0, 0, 0, 0, 0, 0, 0, 0, // receive timestamp
    0xd6, 0xa5, 0x3c, 0x1e, 0x9b, 0x07, 0x42, 0xf8, // transmit timestamp: the nonce
];

/// [`CLIENT_REQUEST`] decoded.
pub const CLIENT_REQUEST_REPR: NtpRepr = NtpRepr::client_request(NONCE, 6);

/// A stratum 2 server's reply to [`CLIENT_REQUEST`] (January 2024, era 0).
pub const SERVER_REPLY: [u8; 48] = [
    0x24, 0x02, 0x06, 0xe9, // LI 0, VN 4, mode 4; stratum 2; poll 6; precision -23
    0x00, 0x00, 0x0a, 0x3d, // root delay 0x0a3d / 65536 s (40 ms)
    0x00, 0x00, 0x02, 0x19, // root dispersion 0x0219 / 65536 s (8.2 ms)
    0xc0, 0x00, 0x02, 0x01, // refid 192.0.2.1
    0xe9, 0x4f, 0x2a, 0xf0, 0x12, 0x34, 0x56, 0x78, // reference timestamp
    0xd6, 0xa5, 0x3c, 0x1e, 0x9b, 0x07, 0x42, 0xf8, // origin = the request's nonce
    0xe9, 0x4f, 0x2b, 0x31, 0x80, 0x00, 0x00, 0x00, // receive timestamp
    0xe9, 0x4f, 0x2b, 0x31, 0x80, 0x01, 0x00, 0x00, // transmit timestamp
];

/// [`SERVER_REPLY`] decoded.
pub const SERVER_REPLY_REPR: NtpRepr = NtpRepr {
    leap: LeapIndicator::NoWarning,
    version: 4,
    mode: Mode::Server,
    stratum: 2,
    poll: 6,
    precision: -23,
    root_delay: NtpShort::from_bits(0x0a3d),
    root_dispersion: NtpShort::from_bits(0x0219),
    refid: Refid::from_bytes([192, 0, 2, 1]),
    reference: NtpTimestamp::from_parts(0xe94f_2af0, 0x1234_5678),
    origin: NONCE,
    receive: NtpTimestamp::from_parts(0xe94f_2b31, 0x8000_0000),
    transmit: NtpTimestamp::from_parts(0xe94f_2b31, 0x8001_0000),
};

/// A kiss-o'-death RATE reply to [`CLIENT_REQUEST`]: LI 3, stratum 0, refid "RATE", receive
/// and transmit timestamps zero.
pub const KOD_RATE: [u8; 48] = [
    0xe4, 0x00, 0x0a, 0xe9, // LI 3, VN 4, mode 4; stratum 0; poll 10; precision -23
    0x00, 0x00, 0x00, 0x00, // root delay
    0x00, 0x00, 0x00, 0x00, // root dispersion
    b'R', b'A', b'T', b'E', // kiss code
    0, 0, 0, 0, 0, 0, 0, 0, // reference timestamp
    0xd6, 0xa5, 0x3c, 0x1e, 0x9b, 0x07, 0x42, 0xf8, // origin = the request's nonce
    0, 0, 0, 0, 0, 0, 0, 0, // receive timestamp
    0, 0, 0, 0, 0, 0, 0, 0, // transmit timestamp
];
