//! Property tests: emit-then-parse round trips for random adverts, and arbitrary bytes through
//! the fuzz entry point.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_vrrp::config::InstanceConfig;
use lvs_vrrp::validate::{RxInfo, validate};
use lvs_vrrp::wire::{
    Addresses, Auth, ChecksumLatch, ChecksumPolicy, ChecksumVariant, Family, VersionRepr,
    VrrpPacket, VrrpRepr, multicast_group,
};
use proptest::prelude::*;

fn v4_addrs() -> impl Strategy<Value = Addresses> {
    prop::collection::vec(any::<u32>().prop_map(Ipv4Addr::from), 0..=255).prop_map(Addresses::V4)
}

fn v6_addrs() -> impl Strategy<Value = Addresses> {
    prop::collection::vec(any::<u128>().prop_map(Ipv6Addr::from), 0..=255).prop_map(Addresses::V6)
}

fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        Just(Auth::None),
        any::<[u8; 8]>().prop_map(Auth::SimpleText)
    ]
}

/// A random advert with a checksum variant that applies to it and a source of its family.
fn advert() -> impl Strategy<Value = (VrrpRepr, ChecksumVariant, IpAddr)> {
    let v2 = (any::<u8>(), any::<u8>(), auth(), any::<u8>(), v4_addrs()).prop_map(
        |(vrid, priority, auth, adver_int, addresses)| {
            let version = VersionRepr::V2 { auth, adver_int };
            (
                VrrpRepr {
                    vrid,
                    priority,
                    version,
                    addresses,
                },
                ChecksumVariant::NoPseudoHeader,
            )
        },
    );
    let v3_v4 = (
        any::<u8>(),
        any::<u8>(),
        0..=0x0fffu16,
        v4_addrs(),
        prop::sample::select(ChecksumVariant::ALL.to_vec()),
    )
        .prop_map(|(vrid, priority, max_adver_int, addresses, variant)| {
            let version = VersionRepr::V3 { max_adver_int };
            (
                VrrpRepr {
                    vrid,
                    priority,
                    version,
                    addresses,
                },
                variant,
            )
        });
    let v3_v6 = (any::<u8>(), any::<u8>(), 0..=0x0fffu16, v6_addrs()).prop_map(
        |(vrid, priority, max_adver_int, addresses)| {
            let version = VersionRepr::V3 { max_adver_int };
            (
                VrrpRepr {
                    vrid,
                    priority,
                    version,
                    addresses,
                },
                ChecksumVariant::PseudoHeader,
            )
        },
    );
    (prop_oneof![v2, v3_v4, v3_v6], any::<u32>(), any::<u128>()).prop_map(|((r, v), a4, a6)| {
        let src = match r.family() {
            Family::V4 => IpAddr::V4(a4.into()),
            Family::V6 => IpAddr::V6(a6.into()),
        };
        (r, v, src)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn emit_then_parse_round_trips((repr, variant, src) in advert()) {
        let dst = multicast_group(repr.family());
        let mut buf = vec![0; repr.buffer_len()];
        let n = repr.emit(&mut buf, variant, src, dst).unwrap();
        prop_assert_eq!(n, buf.len());
        let packet = VrrpPacket::new_checked(&buf[..], repr.family()).unwrap();
        prop_assert_eq!(packet.packet_len(), n);
        prop_assert!(packet.verify_checksum(variant, src, dst));
        prop_assert!(packet.detect_checksum(src, dst).is_some());
        prop_assert_eq!(VrrpRepr::parse(&packet).unwrap(), repr.clone());

        // A backup configured like the sender (but not the owner) accepts it, unless the
        // v3 interval is zero.
        let mut config = InstanceConfig::new(repr.vrid, 100, repr.version, repr.addresses.clone());
        config.owner_ignores_adverts = true;
        let mut latch = ChecksumLatch::new(ChecksumPolicy::Fixed(variant), 4);
        let rx = RxInfo { src, dst, ttl: 255 };
        let outcome = validate(&buf, &rx, &config, &mut latch);
        if repr.version == (VersionRepr::V3 { max_adver_int: 0 }) {
            prop_assert!(outcome.is_err());
        } else {
            let accepted = outcome.unwrap();
            prop_assert!(accepted.addresses_match);
            prop_assert_eq!(accepted.checksum.variant(), variant);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        first in prop::sample::select(vec![0x21u8, 0x31, 0x22, 0x41, 0x00]),
        rest in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut data = vec![first];
        data.extend_from_slice(&rest);
        lvs_vrrp::fuzzing::vrrp_packet(&data);
        lvs_vrrp::fuzzing::vrrp_packet(&rest);
    }
}
