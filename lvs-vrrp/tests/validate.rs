//! The receive checks, one story per drop reason, and the checksum latch.

use core::net::IpAddr;

use lvs_vrrp::config::{AddressCheck, InstanceConfig, Transport, UnicastConfig};
use lvs_vrrp::stats::{DropReason, RxStats};
use lvs_vrrp::testing::{self, VIP_V4, VIPS_V6};
use lvs_vrrp::validate::{RxInfo, validate};
use lvs_vrrp::wire::{
    Addresses, Auth, ChecksumLatch, ChecksumPolicy, ChecksumVariant, Family, LatchOutcome,
    VersionRepr, VrrpRepr, multicast_group,
};

const GROUP: IpAddr = IpAddr::V4(lvs_vrrp::wire::MULTICAST_V4);

fn rx() -> RxInfo {
    RxInfo {
        src: testing::src_v4(),
        dst: GROUP,
        ttl: 255,
    }
}

fn v2_config(auth: Auth) -> InstanceConfig {
    InstanceConfig::new(
        51,
        100,
        VersionRepr::V2 { auth, adver_int: 1 },
        Addresses::V4(vec![VIP_V4]),
    )
}

fn v3_config() -> InstanceConfig {
    InstanceConfig::new(
        51,
        100,
        VersionRepr::V3 { max_adver_int: 100 },
        Addresses::V4(vec![VIP_V4]),
    )
}

fn latch() -> ChecksumLatch {
    ChecksumLatch::new(ChecksumPolicy::Auto, 8)
}

/// Emit `repr` from `rx.src` to `rx.dst` under `variant`.
fn advert(repr: &VrrpRepr, variant: ChecksumVariant, rx: &RxInfo) -> Vec<u8> {
    let mut buf = vec![0; repr.buffer_len()];
    repr.emit(&mut buf, variant, rx.src, rx.dst).unwrap();
    buf
}

fn v3_repr() -> VrrpRepr {
    VrrpRepr {
        vrid: 51,
        priority: 200,
        version: VersionRepr::V3 { max_adver_int: 200 },
        addresses: Addresses::V4(vec![VIP_V4]),
    }
}

fn check(payload: &[u8], rx: &RxInfo, config: &InstanceConfig) -> Result<(), DropReason> {
    validate(payload, rx, config, &mut latch()).map(|_| ())
}

#[test]
fn golden_adverts_are_accepted() {
    assert_eq!(
        check(&testing::V2_PRIO150, &rx(), &v2_config(Auth::None)),
        Ok(())
    );
    assert_eq!(
        check(&testing::V2_PRIO0, &rx(), &v2_config(Auth::None)),
        Ok(())
    );
    assert_eq!(check(&testing::V3_V4_10CS, &rx(), &v3_config()), Ok(()));
    let v6 = InstanceConfig::new(
        52,
        100,
        VersionRepr::V3 { max_adver_int: 100 },
        Addresses::V6(VIPS_V6.to_vec()),
    );
    let rx6 = RxInfo {
        src: testing::src_v6(),
        dst: multicast_group(Family::V6),
        ttl: 255,
    };
    let a = validate(&testing::V3_V6_100CS, &rx6, &v6, &mut latch()).unwrap();
    assert_eq!(
        a.checksum,
        LatchOutcome::Standard(ChecksumVariant::PseudoHeader)
    );
    assert!(a.addresses_match);
}

#[test]
fn wrong_family_is_dropped() {
    let rx6 = RxInfo {
        src: testing::src_v6(),
        dst: multicast_group(Family::V6),
        ttl: 255,
    };
    assert_eq!(
        check(&testing::V3_V4_10CS, &rx6, &v3_config()),
        Err(DropReason::Family)
    );
}

#[test]
fn ttl_254_on_multicast_is_dropped() {
    let rx = RxInfo { ttl: 254, ..rx() };
    assert_eq!(
        check(&testing::V3_V4_10CS, &rx, &v3_config()),
        Err(DropReason::Ttl)
    );
}

#[test]
fn unicast_to_a_multicast_instance_and_back_is_dropped() {
    let unicast = RxInfo {
        dst: "10.9.0.2".parse().unwrap(),
        ..rx()
    };
    assert_eq!(
        check(&testing::V3_V4_10CS, &unicast, &v3_config()),
        Err(DropReason::Destination)
    );
    let mut config = v3_config();
    config.transport = Transport::Unicast(UnicastConfig::new(vec![testing::src_v4()]));
    assert_eq!(
        check(&testing::V3_V4_10CS, &rx(), &config),
        Err(DropReason::Destination)
    );
}

#[test]
fn unicast_checks_ttl_range_and_source_only_when_asked() {
    let mut u = UnicastConfig::new(vec!["10.9.0.3".parse().unwrap()]);
    let mut config = v3_config();
    config.transport = Transport::Unicast(u.clone());
    let rx = RxInfo {
        dst: "10.9.0.2".parse().unwrap(),
        ttl: 64,
        ..rx()
    };
    let payload = advert(&v3_repr(), ChecksumVariant::PseudoHeader, &rx);
    assert_eq!(
        check(&payload, &rx, &config),
        Ok(()),
        "any TTL and source by default"
    );
    u.check_src = true;
    config.transport = Transport::Unicast(u.clone());
    assert_eq!(check(&payload, &rx, &config), Err(DropReason::UnknownPeer));
    u.check_src = false;
    u.min_ttl = 250;
    config.transport = Transport::Unicast(u);
    assert_eq!(check(&payload, &rx, &config), Err(DropReason::Ttl));
}

#[test]
fn truncated_version_type_and_length_errors() {
    let config = v2_config(Auth::None);
    assert_eq!(
        check(&testing::V2_PRIO150[..19], &rx(), &config),
        Err(DropReason::Truncated)
    );
    assert_eq!(check(&[], &rx(), &config), Err(DropReason::Truncated));
    assert_eq!(
        check(&testing::V3_V4_10CS, &rx(), &config),
        Err(DropReason::Version)
    );
    let mut b = testing::V2_PRIO150;
    b[0] = 0x11;
    assert_eq!(check(&b, &rx(), &config), Err(DropReason::Version));
    b[0] = 0x22;
    assert_eq!(check(&b, &rx(), &config), Err(DropReason::Type));
    let mut padded = testing::V2_PRIO150.to_vec();
    padded.push(0);
    assert_eq!(check(&padded, &rx(), &config), Err(DropReason::Length));
}

#[test]
fn carp_advert_is_dropped_on_length() {
    // OpenBSD CARP: version 2, type 1, vhid 51, advskew 0, authlen 7, pad, advbase 1, cksum,
    // 8-byte counter, 20-byte SHA-1 HMAC: 36 bytes in all.
    let mut carp = [0u8; 36];
    carp[..8].copy_from_slice(&[0x21, 51, 0, 7, 0, 1, 0, 0]);
    assert_eq!(
        check(&carp, &rx(), &v2_config(Auth::None)),
        Err(DropReason::Truncated)
    );
    // With authlen 1 a 36-byte CARP packet is longer than the VRRPv2 message it resembles.
    carp[3] = 1;
    assert_eq!(
        check(&carp, &rx(), &v2_config(Auth::None)),
        Err(DropReason::Length)
    );
}

#[test]
fn bad_checksum_is_dropped() {
    let mut b = testing::V2_PRIO150;
    b[7] ^= 1;
    assert_eq!(
        check(&b, &rx(), &v2_config(Auth::None)),
        Err(DropReason::Checksum)
    );
}

#[test]
fn unknown_vrid_and_local_owner() {
    let mut config = v3_config();
    config.vrid = 52;
    assert_eq!(
        check(&testing::V3_V4_10CS, &rx(), &config),
        Err(DropReason::UnknownVrid)
    );
    let mut config = v3_config();
    config.priority = 255;
    assert_eq!(
        check(&testing::V3_V4_10CS, &rx(), &config),
        Err(DropReason::LocalOwner)
    );
    config.owner_ignores_adverts = false;
    assert_eq!(
        check(&testing::V3_V4_10CS, &rx(), &config),
        Ok(()),
        "keepalived's default"
    );
}

#[test]
fn v2_authentication_mismatch_either_way() {
    let with_pass = v2_config(Auth::simple_text(b"secret"));
    assert_eq!(
        check(&testing::V2_PRIO150, &rx(), &with_pass),
        Err(DropReason::AuthType)
    );
    let mut repr = VrrpRepr::parse(
        &lvs_vrrp::wire::VrrpPacket::new_checked(&testing::V2_PRIO150[..], Family::V4).unwrap(),
    )
    .unwrap();
    repr.version = VersionRepr::V2 {
        auth: Auth::simple_text(b"secret"),
        adver_int: 1,
    };
    let good = advert(&repr, ChecksumVariant::NoPseudoHeader, &rx());
    assert_eq!(check(&good, &rx(), &with_pass), Ok(()));
    assert_eq!(
        check(&good, &rx(), &v2_config(Auth::None)),
        Err(DropReason::AuthType)
    );
    repr.version = VersionRepr::V2 {
        auth: Auth::simple_text(b"secreT"),
        adver_int: 1,
    };
    let bad = advert(&repr, ChecksumVariant::NoPseudoHeader, &rx());
    assert_eq!(check(&bad, &rx(), &with_pass), Err(DropReason::AuthData));
}

#[test]
fn intervals_v2_must_match_v3_must_be_nonzero() {
    let mut config = v2_config(Auth::None);
    config.version = VersionRepr::V2 {
        auth: Auth::None,
        adver_int: 2,
    };
    assert_eq!(
        check(&testing::V2_PRIO150, &rx(), &config),
        Err(DropReason::AdverInt)
    );
    // v3: a different interval is adopted, not dropped (the golden packet says 10 cs).
    assert_eq!(check(&testing::V3_V4_10CS, &rx(), &v3_config()), Ok(()));
    let mut repr = v3_repr();
    repr.version = VersionRepr::V3 { max_adver_int: 0 };
    let zero = advert(&repr, ChecksumVariant::PseudoHeader, &rx());
    assert_eq!(
        check(&zero, &rx(), &v3_config()),
        Err(DropReason::ZeroInterval)
    );
}

#[test]
fn address_list_mismatch_is_dropped_unless_the_sender_owns_it() {
    let other: Vec<_> = vec!["10.9.0.101".parse().unwrap()];
    let extra = vec![VIP_V4, "10.9.0.101".parse().unwrap()];
    for list in [other, extra, vec![]] {
        let mut repr = v3_repr();
        repr.addresses = Addresses::V4(list);
        let payload = advert(&repr, ChecksumVariant::PseudoHeader, &rx());
        assert_eq!(
            check(&payload, &rx(), &v3_config()),
            Err(DropReason::AddressList)
        );
        let mut off = v3_config();
        off.address_check = AddressCheck::Off;
        let a = validate(&payload, &rx(), &off, &mut latch()).unwrap();
        assert!(!a.addresses_match);
        repr.priority = 255;
        let owner = advert(&repr, ChecksumVariant::PseudoHeader, &rx());
        assert_eq!(check(&owner, &rx(), &v3_config()), Ok(()));
    }
    // Order does not matter.
    let two = vec![VIP_V4, "10.9.0.101".parse().unwrap()];
    let mut config = v3_config();
    config.addresses = Addresses::V4(two.iter().rev().copied().collect());
    let mut repr = v3_repr();
    repr.addresses = Addresses::V4(two);
    let payload = advert(&repr, ChecksumVariant::PseudoHeader, &rx());
    assert!(
        validate(&payload, &rx(), &config, &mut latch())
            .unwrap()
            .addresses_match
    );
}

#[test]
fn checksum_variant_is_detected_then_latched_per_peer() {
    let config = v3_config();
    let mut latch = latch();
    let rfc9568 = advert(&v3_repr(), ChecksumVariant::NoPseudoHeader, &rx());
    let keepalived = advert(&v3_repr(), ChecksumVariant::PseudoHeader, &rx());
    let a = validate(&rfc9568, &rx(), &config, &mut latch).unwrap();
    assert_eq!(
        a.checksum,
        LatchOutcome::Detected(ChecksumVariant::NoPseudoHeader)
    );
    assert_eq!(
        latch.latched(rx().src),
        Some(ChecksumVariant::NoPseudoHeader)
    );
    let a = validate(&rfc9568, &rx(), &config, &mut latch).unwrap();
    assert_eq!(
        a.checksum,
        LatchOutcome::Latched(ChecksumVariant::NoPseudoHeader)
    );
    // The same peer switching variants is dropped until it is forgotten.
    assert_eq!(
        validate(&keepalived, &rx(), &config, &mut latch).err(),
        Some(DropReason::Checksum)
    );
    assert!(latch.forget(rx().src));
    assert!(validate(&keepalived, &rx(), &config, &mut latch).is_ok());
    // Another peer is detected independently.
    let peer2 = RxInfo {
        src: "10.9.0.3".parse().unwrap(),
        ..rx()
    };
    let p2 = advert(&v3_repr(), ChecksumVariant::NoPseudoHeader, &peer2);
    assert!(validate(&p2, &peer2, &config, &mut latch).is_ok());
    assert_eq!(
        latch.latched(peer2.src),
        Some(ChecksumVariant::NoPseudoHeader)
    );
    assert_eq!(latch.latched(rx().src), Some(ChecksumVariant::PseudoHeader));
}

#[test]
fn override_accepts_only_its_variant() {
    let config = v3_config();
    let mut latch = ChecksumLatch::new(ChecksumPolicy::Fixed(ChecksumVariant::NoPseudoHeader), 8);
    let keepalived = advert(&v3_repr(), ChecksumVariant::PseudoHeader, &rx());
    assert_eq!(
        validate(&keepalived, &rx(), &config, &mut latch).err(),
        Some(DropReason::Checksum)
    );
    let rfc9568 = advert(&v3_repr(), ChecksumVariant::NoPseudoHeader, &rx());
    let a = validate(&rfc9568, &rx(), &config, &mut latch).unwrap();
    assert_eq!(
        a.checksum,
        LatchOutcome::Fixed(ChecksumVariant::NoPseudoHeader)
    );
    assert!(latch.is_empty(), "the override latches nothing");
    latch.set_policy(ChecksumPolicy::Auto);
    assert!(validate(&keepalived, &rx(), &config, &mut latch).is_ok());
}

#[test]
fn legacy_unicast_peer_is_latched() {
    let mut config = v3_config();
    config.transport = Transport::Unicast(UnicastConfig::new(vec![testing::src_v4()]));
    let rx = RxInfo {
        dst: "10.9.0.2".parse().unwrap(),
        ..rx()
    };
    let legacy = advert(&v3_repr(), ChecksumVariant::LegacyUnicast, &rx);
    let mut latch = latch();
    let a = validate(&legacy, &rx, &config, &mut latch).unwrap();
    assert_eq!(a.checksum.variant(), ChecksumVariant::LegacyUnicast);
    assert_eq!(latch.latched(rx.src), Some(ChecksumVariant::LegacyUnicast));
}

#[test]
fn dropped_packets_latch_nothing_and_the_latch_is_bounded() {
    let mut config = v3_config();
    config.vrid = 9;
    let mut latch = ChecksumLatch::new(ChecksumPolicy::Auto, 1);
    let p = advert(&v3_repr(), ChecksumVariant::NoPseudoHeader, &rx());
    assert_eq!(
        validate(&p, &rx(), &config, &mut latch).err(),
        Some(DropReason::UnknownVrid)
    );
    assert!(latch.is_empty());
    let config = v3_config();
    assert!(validate(&p, &rx(), &config, &mut latch).is_ok());
    let peer2 = RxInfo {
        src: "10.9.0.3".parse().unwrap(),
        ..rx()
    };
    let p2 = advert(&v3_repr(), ChecksumVariant::PseudoHeader, &peer2);
    let a = validate(&p2, &peer2, &config, &mut latch).unwrap();
    assert_eq!(
        a.checksum,
        LatchOutcome::Detected(ChecksumVariant::PseudoHeader)
    );
    assert_eq!(
        (latch.len(), latch.latched(peer2.src)),
        (1, None),
        "full: verified, not latched"
    );
}

#[test]
fn stats_count_every_reason() {
    let mut stats = RxStats::default();
    let config = v2_config(Auth::None);
    let mut bad = testing::V2_PRIO150;
    bad[7] ^= 1;
    for (payload, ttl) in [
        (&testing::V2_PRIO150[..], 255),
        (&bad[..], 255),
        (&testing::V2_PRIO0[..], 1),
    ] {
        let rx = RxInfo { ttl, ..rx() };
        stats.record(&validate(payload, &rx, &config, &mut latch()));
    }
    assert_eq!(stats.accepted(), 1);
    assert_eq!(
        (
            stats[DropReason::Checksum],
            stats[DropReason::Ttl],
            stats.dropped()
        ),
        (1, 1, 2)
    );
    assert_eq!(stats.iter().filter(|&(_, n)| n > 0).count(), 2);
    for (i, r) in DropReason::ALL.into_iter().enumerate() {
        assert_eq!(r.index(), i);
        assert_eq!(r.to_string(), r.name());
    }
}
