//! The stateless server responder.

use lvs_ntp::onwire::check_reply;
use lvs_ntp::server::{DropReason, ServerStats, SystemState, respond};
use lvs_ntp::testing::{
    CLIENT_REQUEST, CLIENT_REQUEST_REPR, NONCE, SERVER_REPLY, SERVER_REPLY_REPR,
};
use lvs_ntp::wire::{
    HEADER_LEN, LeapIndicator, Mac, Mode, NtpMessage, Refid, WireError, emit_extension,
};
use lvs_ntp::{NtpShort, NtpTimestamp};

const T2: NtpTimestamp = NtpTimestamp::from_parts(0xe94f_2b31, 0x8000_0000);
const T3: NtpTimestamp = NtpTimestamp::from_parts(0xe94f_2b31, 0x8001_0000);

fn synced() -> SystemState {
    SystemState {
        synchronized: true,
        leap: LeapIndicator::NoWarning,
        stratum: 2,
        precision: -23,
        root_delay: NtpShort::from_bits(0x0a3d),
        root_dispersion: NtpShort::from_bits(0x0219),
        refid: Refid::from_bytes([192, 0, 2, 1]),
        reference: NtpTimestamp::from_parts(0xe94f_2af0, 0x1234_5678),
        local_stratum: None,
    }
}

#[test]
fn answers_the_fixture_request_with_the_fixture_reply() {
    let mut out = [0u8; 64];
    let n = respond(&CLIENT_REQUEST, T2, T3, &synced(), &mut out).unwrap();
    assert_eq!(n, HEADER_LEN);
    assert_eq!(out[..n], SERVER_REPLY);
    let reply = NtpMessage::parse(&out[..n]).unwrap().header;
    assert_eq!(reply, SERVER_REPLY_REPR);
    assert_eq!(check_reply(&CLIENT_REQUEST_REPR, None, &reply), Ok(()));
}

#[test]
fn mirrors_version_and_poll() {
    for version in 1..=4u8 {
        let mut req = CLIENT_REQUEST;
        req[0] = (version << 3) | 3;
        req[2] = 10;
        let mut out = [0u8; 48];
        respond(&req, T2, T3, &synced(), &mut out).unwrap();
        let r = NtpMessage::parse(&out).unwrap().header;
        assert_eq!(
            (r.version, r.mode, r.poll, r.origin),
            (version, Mode::Server, 10, NONCE)
        );
    }
}

#[test]
fn unsynchronised_server_says_so() {
    let mut out = [0u8; 48];
    let sys = SystemState {
        synchronized: false,
        ..synced()
    };
    respond(&CLIENT_REQUEST, T2, T3, &sys, &mut out).unwrap();
    let r = NtpMessage::parse(&out).unwrap().header;
    assert_eq!((r.leap, r.stratum), (LeapIndicator::Unsynchronized, 16));
    assert!(check_reply(&CLIENT_REQUEST_REPR, None, &r).is_err());

    // With a local stratum the server serves its own clock.
    let local = SystemState {
        local_stratum: Some(10),
        ..sys
    };
    respond(&CLIENT_REQUEST, T2, T3, &local, &mut out).unwrap();
    let r = NtpMessage::parse(&out).unwrap().header;
    assert_eq!(
        (r.leap, r.stratum, r.refid),
        (LeapIndicator::NoWarning, 10, SystemState::LOCAL_REFID)
    );
    assert_eq!(r.reference, T2);
    assert_eq!(check_reply(&CLIENT_REQUEST_REPR, None, &r), Ok(()));
}

#[test]
fn drops_what_it_must_not_answer() {
    let mut out = [0u8; 64];
    let sys = synced();
    let mut stats = ServerStats::default();
    for mode in [0u8, 1, 2, 4, 5, 6, 7] {
        let mut req = CLIENT_REQUEST;
        req[0] = (req[0] & !7) | mode;
        let r = respond(&req, T2, T3, &sys, &mut out);
        assert_eq!(r, Err(DropReason::Mode(Mode::from_bits(mode))));
        stats.record(r);
    }
    // A 12-byte mode 6 query is a mode drop, not a truncation.
    assert_eq!(
        respond(
            &[0x16, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
            T2,
            T3,
            &sys,
            &mut out
        ),
        Err(DropReason::Mode(Mode::Control))
    );
    for v in [0u8, 5, 7] {
        let mut req = CLIENT_REQUEST;
        req[0] = (v << 3) | 3;
        let r = respond(&req, T2, T3, &sys, &mut out);
        assert_eq!(r, Err(DropReason::Version(v)));
        stats.record(r);
    }
    for len in 0..HEADER_LEN {
        let r = respond(&CLIENT_REQUEST[..len], T2, T3, &sys, &mut out);
        assert!(matches!(r, Err(DropReason::Truncated)), "{len}: {r:?}");
        stats.record(r);
    }
    let mut bad = CLIENT_REQUEST.to_vec();
    bad.extend_from_slice(&[0; 7]);
    let r = respond(&bad, T2, T3, &sys, &mut out);
    assert_eq!(r, Err(DropReason::Malformed(WireError::MacLength(7))));
    stats.record(r);
    let r = respond(&CLIENT_REQUEST, T2, T3, &sys, &mut out[..47]);
    assert_eq!(r, Err(DropReason::BufferTooSmall));
    stats.record(r);
    stats.record(respond(&CLIENT_REQUEST, T2, T3, &sys, &mut out));
    assert_eq!(
        (
            stats.bad_mode,
            stats.bad_version,
            stats.malformed,
            stats.no_buffer,
            stats.answered
        ),
        (7, 3, 49, 1, 1)
    );
}

#[test]
fn extension_fields_are_ignored_and_macs_get_a_crypto_nak() {
    let mut req = CLIENT_REQUEST.to_vec();
    let mut ef = [0u8; 32];
    let n = emit_extension(0xf323, &[0; 24], &mut ef).unwrap();
    req.extend_from_slice(&ef[..n]);
    let mut out = [0u8; 64];
    assert_eq!(respond(&req, T2, T3, &synced(), &mut out), Ok(48));

    let mut req = CLIENT_REQUEST.to_vec();
    req.extend_from_slice(&[0, 0, 0, 7]);
    req.extend_from_slice(&[0xab; 16]);
    let n = respond(&req, T2, T3, &synced(), &mut out).unwrap();
    assert_eq!(n, 52);
    let m = NtpMessage::parse(&out[..n]).unwrap();
    assert_eq!(m.mac, Some(Mac::CryptoNak));
    assert_eq!(
        respond(&req, T2, T3, &synced(), &mut out[..51]),
        Err(DropReason::BufferTooSmall)
    );
}
