//! The NTP header codec against hand-built RFC 5905 fixtures: deconstruct, construct, parse,
//! emit; truncation at every length; kiss-o'-death; round-trip properties.

use lvs_ntp::testing::{
    CLIENT_REQUEST, CLIENT_REQUEST_REPR, KOD_RATE, NONCE, SERVER_REPLY, SERVER_REPLY_REPR,
};
use lvs_ntp::wire::{
    ExtensionFields, HEADER_LEN, KissCode, LeapIndicator, Mac, Mode, NtpMessage, NtpPacket,
    NtpRepr, Refid, WireError, emit_extension, field,
};
use lvs_ntp::{NtpShort, NtpTimestamp};
use proptest::prelude::*;

#[test]
fn deconstruct_request() {
    let p = NtpPacket::new_checked(&CLIENT_REQUEST[..]).unwrap();
    assert_eq!(p.leap(), LeapIndicator::NoWarning);
    assert_eq!(p.version(), 4);
    assert_eq!(p.mode(), Mode::Client);
    assert_eq!(p.stratum(), 0);
    assert_eq!(p.poll(), 6);
    assert_eq!(p.precision(), 0);
    assert_eq!(p.root_delay(), NtpShort::ZERO);
    assert_eq!(p.refid(), Refid::ZERO);
    assert_eq!(p.origin_timestamp(), NtpTimestamp::ZERO);
    assert_eq!(p.transmit_timestamp(), NONCE);
    assert!(p.trailer().is_empty());
}

#[test]
fn deconstruct_reply() {
    let p = NtpPacket::new_checked(&SERVER_REPLY[..]).unwrap();
    assert_eq!(p.mode(), Mode::Server);
    assert_eq!(p.stratum(), 2);
    assert_eq!(p.precision(), -23);
    assert_eq!(p.root_delay().to_bits(), 0x0a3d);
    assert_eq!(p.root_dispersion().to_bits(), 0x0219);
    assert_eq!(p.refid().ipv4(), core::net::Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(p.reference_timestamp().seconds(), 0xe94f_2af0);
    assert_eq!(p.origin_timestamp(), NONCE);
    assert_eq!(p.receive_timestamp().fraction(), 0x8000_0000);
    assert_eq!(p.transmit_timestamp().fraction(), 0x8001_0000);
}

#[test]
fn construct_reply_with_setters() {
    let mut buf = [0xa5u8; 48];
    let mut p = NtpPacket::new_checked(&mut buf[..]).unwrap();
    p.set_leap(LeapIndicator::NoWarning);
    p.set_version(4);
    p.set_mode(Mode::Server);
    p.set_stratum(2);
    p.set_poll(6);
    p.set_precision(-23);
    p.set_root_delay(NtpShort::from_bits(0x0a3d));
    p.set_root_dispersion(NtpShort::from_bits(0x0219));
    p.set_refid(Refid::from_ipv4([192, 0, 2, 1].into()));
    p.set_reference_timestamp(NtpTimestamp::from_parts(0xe94f_2af0, 0x1234_5678));
    p.set_origin_timestamp(NONCE);
    p.set_receive_timestamp(NtpTimestamp::from_parts(0xe94f_2b31, 0x8000_0000));
    p.set_transmit_timestamp(NtpTimestamp::from_parts(0xe94f_2b31, 0x8001_0000));
    assert_eq!(buf, SERVER_REPLY);
}

#[test]
fn parse_fixtures() {
    let req = NtpRepr::parse(&NtpPacket::new_checked(&CLIENT_REQUEST[..]).unwrap()).unwrap();
    assert_eq!(req, CLIENT_REQUEST_REPR);
    let rep = NtpMessage::parse(&SERVER_REPLY).unwrap();
    assert_eq!(rep.header, SERVER_REPLY_REPR);
    assert!(rep.extensions.is_empty());
    assert_eq!(rep.mac, None);
}

#[test]
fn emit_fixtures() {
    let mut buf = [0xffu8; 48];
    assert_eq!(CLIENT_REQUEST_REPR.emit_into(&mut buf), Ok(HEADER_LEN));
    assert_eq!(buf, CLIENT_REQUEST);
    let mut p = NtpPacket::new_unchecked(&mut buf[..]);
    SERVER_REPLY_REPR.emit(&mut p);
    assert_eq!(buf, SERVER_REPLY);
    let mut small = [0u8; 47];
    assert_eq!(
        SERVER_REPLY_REPR.emit_into(&mut small),
        Err(WireError::BufferTooSmall)
    );
}

#[test]
fn field_ranges_tile_the_header() {
    let ranges = [
        field::ROOT_DELAY,
        field::ROOT_DISPERSION,
        field::REFERENCE_ID,
        field::REFERENCE_TS,
        field::ORIGIN_TS,
        field::RECEIVE_TS,
        field::TRANSMIT_TS,
    ];
    assert_eq!(
        [
            field::LI_VN_MODE,
            field::STRATUM,
            field::POLL,
            field::PRECISION
        ],
        [0, 1, 2, 3]
    );
    let mut at = 4;
    for r in ranges {
        assert_eq!(r.start, at);
        at = r.end;
    }
    assert_eq!(at, HEADER_LEN);
    assert_eq!(field::TRAILER.start, HEADER_LEN);
}

#[test]
fn truncation_at_every_length() {
    for len in 0..HEADER_LEN {
        assert_eq!(
            NtpPacket::new_checked(&SERVER_REPLY[..len]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            NtpMessage::parse(&SERVER_REPLY[..len]),
            Err(WireError::Truncated)
        );
    }
    // Trailers of every length up to 64 octets: only 0, 4 (key 0), 20 and 24 are MACs.
    let mut long = SERVER_REPLY.to_vec();
    long.extend_from_slice(&[0; 64]);
    for extra in 0..=64usize {
        let r = NtpMessage::parse(&long[..HEADER_LEN + extra]);
        match extra {
            0 | 4 | 20 | 24 => assert!(r.is_ok(), "{extra}: {r:?}"),
            _ => assert!(r.is_err(), "{extra}: {r:?}"),
        }
    }
}

#[test]
fn versions_and_modes() {
    for v in 0..8u8 {
        let mut b = SERVER_REPLY;
        b[0] = (b[0] & !0x38) | (v << 3);
        let r = NtpMessage::parse(&b).map(|m| m.header.version);
        if (1..=4).contains(&v) {
            assert_eq!(r, Ok(v));
        } else {
            assert_eq!(r, Err(WireError::Version(v)));
        }
    }
    for m in 0..8u8 {
        let mut b = SERVER_REPLY;
        b[0] = (b[0] & !7) | m;
        let r = NtpMessage::parse(&b).map(|msg| msg.header.mode.to_bits());
        if matches!(m, 0 | 6 | 7) {
            assert_eq!(r, Err(WireError::Mode(m)));
        } else {
            assert_eq!(r, Ok(m));
        }
    }
}

#[test]
fn kiss_of_death_rate() {
    let m = NtpMessage::parse(&KOD_RATE).unwrap();
    assert_eq!(m.header.stratum, 0);
    assert_eq!(m.header.leap, LeapIndicator::Unsynchronized);
    assert_eq!(m.header.kiss_code(), Some(KissCode::Rate));
    // The same refid above stratum 0 is not a kiss code.
    let not_kod = NtpRepr {
        stratum: 1,
        ..m.header
    };
    assert_eq!(not_kod.kiss_code(), None);
    assert_eq!(not_kod.refid.ascii(), Some("RATE"));
    for (code, kiss) in [
        (b"DENY", KissCode::Deny),
        (b"RSTR", KissCode::Rstr),
        (b"XYZ\0", KissCode::Unknown(*b"XYZ\0")),
    ] {
        let mut b = KOD_RATE;
        b[field::REFERENCE_ID].copy_from_slice(code);
        assert_eq!(
            NtpMessage::parse(&b).unwrap().header.kiss_code(),
            Some(kiss)
        );
    }
    // Stratum 0 with a binary refid carries no kiss code.
    let mut b = KOD_RATE;
    b[field::REFERENCE_ID].copy_from_slice(&[0x7f, 0, 0, 1]);
    assert_eq!(NtpMessage::parse(&b).unwrap().header.kiss_code(), None);
}

fn any_repr() -> impl Strategy<Value = NtpRepr> {
    (
        (
            0u8..4,
            1u8..=4,
            prop::sample::select(vec![1u8, 2, 3, 4, 5]),
            any::<u8>(),
        ),
        (
            any::<i8>(),
            any::<i8>(),
            any::<u32>(),
            any::<u32>(),
            any::<[u8; 4]>(),
        ),
        any::<[u64; 4]>(),
    )
        .prop_map(
            |((li, vn, mode, stratum), (poll, precision, rd, rdisp, refid), ts)| NtpRepr {
                leap: LeapIndicator::from_bits(li),
                version: vn,
                mode: Mode::from_bits(mode),
                stratum,
                poll,
                precision,
                root_delay: NtpShort::from_bits(rd),
                root_dispersion: NtpShort::from_bits(rdisp),
                refid: Refid::from_bytes(refid),
                reference: NtpTimestamp::from_bits(ts[0]),
                origin: NtpTimestamp::from_bits(ts[1]),
                receive: NtpTimestamp::from_bits(ts[2]),
                transmit: NtpTimestamp::from_bits(ts[3]),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn header_round_trip(repr in any_repr()) {
        let mut buf = [0u8; 48];
        repr.emit_into(&mut buf).unwrap();
        let back = NtpRepr::parse(&NtpPacket::new_checked(&buf[..]).unwrap()).unwrap();
        prop_assert_eq!(back, repr);
    }

    #[test]
    fn message_round_trip(
        repr in any_repr(),
        fields in prop::collection::vec((any::<u16>(), prop::collection::vec(any::<u8>(), 0..40)), 0..4),
        mac in prop::option::of((any::<u32>(), prop::bool::ANY, any::<[u8; 20]>())),
    ) {
        let mut efs = [0u8; 4 * 48];
        let mut n = 0;
        for (i, (t, v)) in fields.iter().enumerate() {
            let mut value = v.clone();
            // Without a MAC the last field must reach 28 octets.
            if mac.is_none() && i + 1 == fields.len() && value.len() < 24 {
                value.resize(24, 0);
            }
            n += emit_extension(*t, &value, &mut efs[n..]).unwrap();
        }
        let msg = NtpMessage {
            header: repr,
            extensions: ExtensionFields::new(&efs[..n]).unwrap(),
            mac: mac.as_ref().map(|(key_id, sha1, d)| Mac::Digest {
                key_id: *key_id,
                digest: if *sha1 { &d[..] } else { &d[..16] },
            }),
        };
        let mut out = [0u8; 400];
        let len = msg.emit(&mut out).unwrap();
        prop_assert_eq!(len, msg.buffer_len());
        let back = NtpMessage::parse(&out[..len]).unwrap();
        prop_assert_eq!(back, msg);
        prop_assert_eq!(back.extensions.len(), fields.len());
        for (f, (t, v)) in back.extensions.iter().zip(&fields) {
            prop_assert_eq!(f.field_type, *t);
            prop_assert_eq!(&f.value[..v.len()], &v[..]);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(msg) = NtpMessage::parse(&data) {
            let mut out = vec![0; msg.buffer_len()];
            prop_assert_eq!(msg.emit(&mut out), Ok(data.len()));
            prop_assert_eq!(out, data);
        }
    }
}
