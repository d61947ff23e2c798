//! Fuzz entry points. Each `fuzz/fuzz_targets/*.rs` target is one call into this module, and
//! `tests/ntp_corpus.rs` replays the committed seeds through the same functions.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::mode6::{
    self, ControlHeader, FilterStage, HEADER_LEN, MAX_DATA, MAX_PACKET, PeerStatus, PeerVars,
    Responder, Select, Snapshot, SystemStatus, SystemVars, clock_source, peer_event, sys_event,
};
use crate::onwire::{check_reply, offset_delay};
use crate::server::{SystemState, respond};
use crate::testing::{CLIENT_REQUEST_REPR, SERVER_REPLY_REPR};
use crate::time::NtpTimestamp;
use crate::wire::{LeapIndicator, NtpMessage, NtpPacket, NtpRepr, Refid};

/// Parses `data` as an NTP datagram (header, extension fields, MAC). If it parses, emitting it
/// must reproduce `data` byte for byte and parse back equal; the reply checks run against a
/// fixed request; and the server responder's answer to it, if any, must pass those checks.
/// Panics only on a broken invariant.
pub fn ntp_packet(data: &[u8]) {
    if let Ok(view) = NtpPacket::new_checked(data) {
        // Every accessor must be total after new_checked.
        let _ = (
            view.leap(),
            view.version(),
            view.mode(),
            view.stratum(),
            view.refid(),
        );
        let _ = (
            view.root_delay(),
            view.reference_timestamp(),
            view.trailer().len(),
        );
    }

    if let Ok(msg) = NtpMessage::parse(data) {
        let mut out = vec![0; msg.buffer_len()];
        let n = msg.emit(&mut out).expect("a parsed message emits");
        assert_eq!(&out[..n], data, "emit does not reproduce the input");
        assert_eq!(NtpMessage::parse(&out[..n]), Ok(msg), "re-parse differs");
        assert_eq!(msg.extensions.iter().count(), msg.extensions.len());

        let reply = msg.header;
        let _ = check_reply(&CLIENT_REQUEST_REPR, None, &reply);
        // The same reply with a matching origin reaches the later checks.
        let matched = NtpRepr {
            origin: CLIENT_REQUEST_REPR.transmit,
            ..reply
        };
        let outcome = check_reply(
            &CLIENT_REQUEST_REPR,
            Some(SERVER_REPLY_REPR.transmit),
            &matched,
        );
        if outcome.is_ok() {
            let _ = offset_delay(reply.origin, reply.receive, reply.transmit, reply.reference);
        }
    }

    let sys = SystemState {
        synchronized: true,
        stratum: 3,
        refid: SERVER_REPLY_REPR.refid,
        reference: SERVER_REPLY_REPR.reference,
        leap: SERVER_REPLY_REPR.leap,
        ..SystemState::UNSYNCHRONIZED
    };
    let (t2, t3) = (SERVER_REPLY_REPR.receive, SERVER_REPLY_REPR.transmit);
    let mut out = [0u8; 64];
    if let Ok(n) = respond(data, t2, t3, &sys, &mut out) {
        let request = NtpMessage::parse(data)
            .expect("answered requests parse")
            .header;
        let reply = NtpMessage::parse(&out[..n]).expect("our replies parse");
        let outcome = check_reply(&request, None, &reply.header);
        if request.transmit == NtpTimestamp::ZERO {
            assert!(outcome.is_err(), "a zero nonce cannot be matched");
        } else {
            assert_eq!(outcome, Ok(()), "our reply fails our own checks");
        }
    }
}

/// The system variables the `ntp_mode6` target answers from: a stratum-3 server synchronised
/// to 192.0.2.1 (association 101).
pub const MODE6_SYSTEM: SystemVars<'static> = SystemVars {
    status: SystemStatus {
        leap: LeapIndicator::NoWarning,
        source: clock_source::NTP,
        event_count: 4,
        last_event: sys_event::CLOCK_SYNC,
    },
    stratum: 3,
    precision: -20,
    root_delay: 0.0125,
    root_dispersion: 0.0213,
    refid: Refid::from_bytes([192, 0, 2, 1]),
    reference: NtpTimestamp::from_parts(0xec00_0000, 0x8000_0000),
    clock: NtpTimestamp::from_parts(0xec00_0040, 0x4000_0000),
    poll: 6,
    min_poll: 3,
    peer: 101,
    offset: -0.000_123_456,
    frequency: -12.345_678,
    sys_jitter: 0.000_045_6,
    clk_jitter: 0.000_012_3,
    clk_wander: 0.004_321,
    processor: "x86_64",
    system: "Linux/6.1.0",
    version: "lvs-ntpd 0.1.0 (mode 6 fixture, with a \"quote\")",
};

const fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), port)
}

const STAGE: FilterStage = FilterStage {
    delay: 0.000_250,
    offset: -0.000_125,
    dispersion: 0.000_015,
};

/// The associations of the fixture: the system peer, a falseticker, and a server never heard.
pub const MODE6_PEERS: [PeerVars; 3] = [
    PeerVars {
        association: 101,
        status: PeerStatus {
            configured: true,
            reachable: true,
            select: Select::SystemPeer,
            event_count: 2,
            last_event: peer_event::SYS_PEER,
        },
        src: v4(192, 0, 2, 1, 123),
        dst: Some(v4(192, 0, 2, 9, 40123)),
        leap: LeapIndicator::NoWarning,
        host_mode: 3,
        peer_mode: 4,
        stratum: 2,
        peer_poll: 6,
        host_poll: 6,
        precision: -23,
        root_delay: 0.001,
        root_dispersion: 0.002,
        refid: Refid::from_bytes([10, 1, 1, 1]),
        reference: NtpTimestamp::from_parts(0xec00_0030, 0),
        received: NtpTimestamp::from_parts(0xec00_0038, 0x1000_0000),
        transmit: NtpTimestamp::from_parts(0xec00_0038, 0x0fff_0000),
        reach: 0o377,
        unreach: 0,
        delay: 0.000_250,
        offset: -0.000_125,
        jitter: 0.000_031,
        dispersion: 0.000_950,
        filter: [
            Some(STAGE),
            Some(STAGE),
            Some(STAGE),
            None,
            None,
            None,
            None,
            None,
        ],
    },
    PeerVars {
        association: 102,
        status: PeerStatus {
            configured: true,
            reachable: true,
            select: Select::Falseticker,
            event_count: 1,
            last_event: peer_event::REACHABLE,
        },
        src: v4(198, 51, 100, 7, 123),
        dst: None,
        leap: LeapIndicator::NoWarning,
        host_mode: 3,
        peer_mode: 4,
        stratum: 1,
        peer_poll: 6,
        host_poll: 6,
        precision: -20,
        root_delay: 0.0,
        root_dispersion: 0.0001,
        refid: Refid::from_bytes(*b"GPS\0"),
        reference: NtpTimestamp::from_parts(0xec00_0031, 0),
        received: NtpTimestamp::from_parts(0xec00_0039, 0),
        transmit: NtpTimestamp::from_parts(0xec00_0039, 0),
        reach: 0o17,
        unreach: 0,
        delay: 0.0101,
        offset: 0.050_2,
        jitter: 0.000_3,
        dispersion: 0.0012,
        filter: [Some(STAGE); 8],
    },
    PeerVars {
        association: 103,
        status: PeerStatus {
            configured: false,
            reachable: false,
            select: Select::Reject,
            event_count: 1,
            last_event: peer_event::MOBILIZE,
        },
        src: v4(203, 0, 113, 5, 123),
        dst: None,
        leap: LeapIndicator::Unsynchronized,
        host_mode: 3,
        peer_mode: 0,
        stratum: 16,
        peer_poll: 6,
        host_poll: 6,
        precision: 0,
        root_delay: 0.0,
        root_dispersion: 0.0,
        refid: Refid::ZERO,
        reference: NtpTimestamp::ZERO,
        received: NtpTimestamp::ZERO,
        transmit: NtpTimestamp::ZERO,
        reach: 0,
        unreach: 3,
        delay: 0.0,
        offset: 0.0,
        jitter: 0.0,
        dispersion: 16.0,
        filter: [None; 8],
    },
];

/// Answers `data` as a mode-6 request from the fixture ([`MODE6_SYSTEM`], [`MODE6_PEERS`]) and
/// checks every fragment: at most [`MAX_PACKET`] bytes, padded to 4, a response to the same
/// sequence, opcode and association, offsets contiguous from 0, the more bit on all but the
/// last, and the reassembled data equal to the response. Panics only on a broken invariant.
pub fn ntp_mode6(data: &[u8]) {
    let _ = ControlHeader::parse(data);
    let snapshot = Snapshot {
        system: MODE6_SYSTEM,
        peers: &MODE6_PEERS,
    };
    let mut responder = Responder::new();
    let Ok(response) = responder.answer(data, &snapshot) else {
        assert!(
            mode6::parse_request(data).is_err(),
            "an ignored request parses"
        );
        return;
    };
    let request = mode6::parse_request(data).expect("answered requests parse");
    let mut joined = Vec::new();
    let mut packet = [0u8; MAX_PACKET];
    let n = response.fragments();
    assert!((1..=mode6::MAX_FRAGMENTS).contains(&n));
    for i in 0..n {
        let len = response
            .write_fragment(i, &mut packet)
            .expect("fragment fits");
        assert!(len <= MAX_PACKET && len % 4 == 0, "fragment length {len}");
        let h = ControlHeader::parse(&packet[..len]).expect("our header parses");
        assert!(h.response && h.version == request.header.version);
        assert_eq!(
            (h.sequence, h.opcode, h.association),
            (
                request.header.sequence,
                request.header.opcode,
                request.header.association
            )
        );
        assert_eq!(h.more, i + 1 < n, "more bit of fragment {i}");
        assert_eq!(
            usize::from(h.offset),
            joined.len(),
            "offset of fragment {i}"
        );
        let count = usize::from(h.count);
        assert!(count <= MAX_DATA && HEADER_LEN + count <= len);
        assert!(packet[HEADER_LEN + count..len].iter().all(|&b| b == 0));
        joined.extend_from_slice(&packet[HEADER_LEN..HEADER_LEN + count]);
    }
    assert!(response.write_fragment(n, &mut packet).is_none());
    assert_eq!(joined, response.data());
    if let Some(code) = response.error() {
        assert!(joined.is_empty() && code <= 7);
    } else if request.header.opcode == mode6::opcode::READVAR {
        for (name, _) in mode6::parse_variables(&joined) {
            assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic()));
        }
    }
}
