//! The on-wire checks (RFC 5905 §8) and the offset/delay arithmetic.

use lvs_ntp::onwire::{Reject, RxStats, check_reply, offset_delay};
use lvs_ntp::testing::{CLIENT_REQUEST_REPR, KOD_RATE, NONCE, SERVER_REPLY_REPR};
use lvs_ntp::wire::{KissCode, LeapIndicator, Mode, NtpMessage, NtpRepr, Refid, WireError};
use lvs_ntp::{NtpDuration, NtpShort, NtpTimestamp, UnixNanos};
use proptest::prelude::*;

const REQ: NtpRepr = CLIENT_REQUEST_REPR;
const OK: NtpRepr = SERVER_REPLY_REPR;

#[test]
fn the_fixture_reply_is_accepted() {
    assert_eq!(check_reply(&REQ, None, &OK), Ok(()));
    assert_eq!(
        check_reply(&REQ, Some(NtpTimestamp::from_bits(1)), &OK),
        Ok(())
    );
}

#[test]
fn each_reason_is_reported() {
    let cases: [(NtpRepr, Option<NtpTimestamp>, Reject); 12] = [
        (
            NtpRepr {
                mode: Mode::Client,
                ..OK
            },
            None,
            Reject::InvalidMode(Mode::Client),
        ),
        (
            NtpRepr {
                mode: Mode::Broadcast,
                ..OK
            },
            None,
            Reject::InvalidMode(Mode::Broadcast),
        ),
        (OK, Some(OK.transmit), Reject::Duplicate),
        (
            NtpRepr {
                origin: NtpTimestamp::from_bits(NONCE.to_bits() ^ 1),
                ..OK
            },
            None,
            Reject::Bogus,
        ),
        (
            NtpRepr {
                origin: NtpTimestamp::ZERO,
                ..OK
            },
            None,
            Reject::Bogus,
        ),
        (
            NtpRepr {
                receive: NtpTimestamp::ZERO,
                ..OK
            },
            None,
            Reject::ZeroTimestamp,
        ),
        (
            NtpRepr {
                transmit: NtpTimestamp::ZERO,
                ..OK
            },
            None,
            Reject::ZeroTimestamp,
        ),
        (
            NtpRepr {
                leap: LeapIndicator::Unsynchronized,
                ..OK
            },
            None,
            Reject::Unsynchronized,
        ),
        (NtpRepr { stratum: 16, ..OK }, None, Reject::Unsynchronized),
        (NtpRepr { stratum: 255, ..OK }, None, Reject::Unsynchronized),
        (
            NtpRepr {
                stratum: 0,
                refid: Refid::from_bytes([10, 0, 0, 1]),
                ..OK
            },
            None,
            Reject::Unsynchronized,
        ),
        (
            NtpRepr {
                root_delay: NtpShort::from_parts(2, 0),
                root_dispersion: NtpShort::from_parts(15, 0),
                ..OK
            },
            None,
            Reject::RootDistance,
        ),
    ];
    let mut stats = RxStats::default();
    for (i, (reply, last, want)) in cases.iter().enumerate() {
        let got = check_reply(&REQ, *last, reply);
        assert_eq!(got, Err(*want), "case {i}");
        stats.record(got);
    }
    assert_eq!(stats.invalid_mode, 2);
    assert_eq!(stats.duplicate, 1);
    assert_eq!(stats.bogus, 2);
    assert_eq!(stats.zero_timestamp, 2);
    assert_eq!(stats.unsynchronized, 4);
    assert_eq!(stats.root_distance, 1);
    assert_eq!(stats.accepted, 0);
    assert_eq!(stats.total(), 12);
}

#[test]
fn kiss_of_death_needs_the_nonce() {
    let kod = NtpMessage::parse(&KOD_RATE).unwrap().header;
    assert_eq!(
        check_reply(&REQ, None, &kod),
        Err(Reject::Kiss(KissCode::Rate))
    );
    // An off-path KoD with a wrong origin is just bogus.
    let spoofed = NtpRepr {
        origin: NtpTimestamp::from_bits(42),
        ..kod
    };
    assert_eq!(check_reply(&REQ, None, &spoofed), Err(Reject::Bogus));
    let mut stats = RxStats::default();
    for code in [*b"RATE", *b"DENY", *b"RSTR", *b"INIT", *b"XABC"] {
        let r = check_reply(
            &REQ,
            None,
            &NtpRepr {
                refid: Refid::from_bytes(code),
                ..kod
            },
        );
        assert_eq!(r, Err(Reject::Kiss(KissCode::from_bytes(code))));
        stats.record(r);
    }
    assert_eq!(
        (stats.kiss_rate, stats.kiss_denied, stats.kiss_other),
        (1, 2, 2)
    );
    stats.record_malformed(WireError::Truncated);
    assert_eq!(stats.malformed, 1);
}

#[test]
fn symmetric_modes() {
    let active = NtpRepr {
        mode: Mode::SymmetricActive,
        ..REQ
    };
    for (mode, ok) in [
        (Mode::SymmetricPassive, true),
        (Mode::SymmetricActive, true),
        (Mode::Server, false),
    ] {
        let r = check_reply(&active, None, &NtpRepr { mode, ..OK });
        assert_eq!(r.is_ok(), ok, "{mode:?}");
    }
    let bcast = NtpRepr {
        mode: Mode::Broadcast,
        ..REQ
    };
    assert_eq!(
        check_reply(&bcast, None, &OK),
        Err(Reject::InvalidMode(Mode::Server))
    );
}

fn at(ms: i128) -> NtpTimestamp {
    NtpTimestamp::from_unix_nanos(UnixNanos(1_705_290_929 * 1_000_000_000 + ms * 1_000_000))
}

#[test]
fn offset_and_delay_by_hand() {
    // Client sends at 0, server (10 ms ahead) receives at 10 + 5, answers at 10 + 6, the
    // reply lands at 11 on the client clock: θ = ((15 − 0) + (16 − 11)) / 2 = 10, δ = 11 − 1 = 10.
    let s = offset_delay(at(0), at(15), at(16), at(11));
    assert_eq!(s.offset.as_nanos(), 10_000_000);
    assert_eq!(s.delay.as_nanos(), 10_000_000);
    // A server behind us gives a negative offset.
    let s = offset_delay(at(100), at(90), at(91), at(111));
    assert_eq!(s.offset.as_nanos(), -15_000_000);
    assert_eq!(s.delay.as_nanos(), 10_000_000);
    // Frequency error can make the delay slightly negative; it is reported as is.
    let s = offset_delay(at(0), at(5), at(8), at(2));
    assert_eq!(s.delay.as_nanos(), -1_000_000);
}

#[test]
fn offset_and_delay_across_the_2036_rollover() {
    let era1 = 2_085_978_496i128 * 1_000_000_000;
    let t = |ms: i128| NtpTimestamp::from_unix_nanos(UnixNanos(era1 + ms * 1_000_000));
    // Client in era 0 (just before), server already in era 1.
    let s = offset_delay(t(-3), t(2), t(3), t(0));
    assert_eq!(s.offset.as_nanos(), 4_000_000);
    assert_eq!(s.delay.as_nanos(), 2_000_000);
    // Client 1000 s ahead of the server, spanning the boundary the other way.
    let s = offset_delay(t(1_000_000), t(-1), t(0), t(1_000_002));
    assert_eq!(s.offset.as_nanos(), -1_000_001_500_000);
    assert_eq!(s.delay.as_nanos(), 1_000_000);
}

#[test]
fn extreme_timestamps_saturate_the_delay() {
    let max = NtpTimestamp::from_bits(1 << 63);
    let s = offset_delay(
        NtpTimestamp::ZERO,
        NtpTimestamp::ZERO,
        NtpTimestamp::from_bits((1 << 63) - 1),
        max,
    );
    assert_eq!(s.delay, NtpDuration::MIN);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// With a symmetric path the computed offset and delay equal the true ones, wherever the
    /// clocks are on the NTP time line (including across eras).
    #[test]
    fn symmetric_paths_recover_truth(
        base in any::<u64>(),
        offset in -1_000_000_000_000_000i64..1_000_000_000_000_000i64,
        one_way in 0i64..1_000_000_000_000,
        turnaround in 0i64..1_000_000_000,
    ) {
        let c = |units: i64| NtpTimestamp::from_bits(base).wrapping_add(NtpDuration::from_bits(units));
        let t1 = c(0);
        let t2 = c(offset + one_way);
        let t3 = c(offset + one_way + turnaround);
        let t4 = c(2 * one_way + turnaround);
        let s = offset_delay(t1, t2, t3, t4);
        prop_assert_eq!(s.offset.to_bits(), offset);
        prop_assert_eq!(s.delay.to_bits(), 2 * one_way);
    }
}
