//! Fuzz entry points. `fuzz/fuzz_targets/vrrp_packet.rs` is a one-line call into
//! [`vrrp_packet`], and `tests/vrrp_corpus.rs` replays the committed corpus in
//! `fuzz/corpus/vrrp_packet/` through the same function. It panics only when an invariant of
//! this crate is broken.

use core::net::IpAddr;

use crate::config::InstanceConfig;
use crate::stats::RxStats;
use crate::testing;
use crate::validate::{RxInfo, validate};
use crate::wire::{
    Addresses, Auth, ChecksumLatch, ChecksumPolicy, ChecksumVariant, Family, VersionRepr,
    VrrpPacket, VrrpRepr, multicast_group,
};

/// The fixed instances the fuzzer validates against: v2 and v3 over IPv4 (VRID 51, VIP
/// 10.9.0.100) and v3 over IPv6 (VRID 52), matching the golden packets.
fn cases() -> [(InstanceConfig, IpAddr); 3] {
    let v4 = Addresses::V4(vec![testing::VIP_V4]);
    [
        (
            InstanceConfig::new(
                51,
                100,
                VersionRepr::V2 {
                    auth: Auth::None,
                    adver_int: 1,
                },
                v4.clone(),
            ),
            testing::src_v4(),
        ),
        (
            InstanceConfig::new(51, 100, VersionRepr::V3 { max_adver_int: 100 }, v4),
            testing::src_v4(),
        ),
        (
            InstanceConfig::new(
                52,
                100,
                VersionRepr::V3 { max_adver_int: 100 },
                Addresses::V6(testing::VIPS_V6.to_vec()),
            ),
            testing::src_v6(),
        ),
    ]
}

/// Arbitrary bytes as a VRRP payload over IPv4 and over IPv6:
///
/// * validation against fixed instances never panics, counts exactly one outcome, and an
///   accepted packet verifies under the variant it reports;
/// * every accessor of a checked view stays in bounds;
/// * a repr that parses emits (under the variant that verified, or the default one) into
///   exactly [`VrrpRepr::buffer_len`] bytes that parse back to an equal repr, and that pass
///   validation again when the original did.
pub fn vrrp_packet(data: &[u8]) {
    for (config, src) in cases() {
        let family = config.family();
        let dst = multicast_group(family);
        let rx = RxInfo { src, dst, ttl: 255 };
        let mut latch = ChecksumLatch::new(ChecksumPolicy::Auto, 4);
        let mut stats = RxStats::default();
        let outcome = validate(data, &rx, &config, &mut latch);
        let accepted = outcome.as_ref().ok().map(|a| a.checksum.variant());
        if let Ok(a) = &outcome {
            assert_eq!(
                a.packet.message(),
                data,
                "accepted packets have no trailing bytes"
            );
            assert!(a.packet.verify_checksum(a.checksum.variant(), src, dst));
        }
        stats.record(&outcome);
        assert_eq!(stats.accepted() + stats.dropped(), 1);

        let Ok(packet) = VrrpPacket::new_checked(data, family) else {
            continue;
        };
        exercise_accessors(&packet, src, dst);
        let Ok(repr) = VrrpRepr::parse(&packet) else {
            continue;
        };
        let variant =
            accepted.unwrap_or_else(|| ChecksumVariant::default_for(repr.version.number()));
        let mut buf = vec![0; repr.buffer_len()];
        let n = repr
            .emit(&mut buf, variant, src, dst)
            .expect("a parsed repr emits");
        assert_eq!(n, repr.buffer_len());
        let again = VrrpPacket::new_checked(&buf[..n], family).expect("emitted packet checks");
        assert!(
            again.verify_checksum(variant, src, dst),
            "emitted checksum verifies"
        );
        assert_eq!(
            VrrpRepr::parse(&again).expect("emitted packet parses"),
            repr
        );
        if accepted.is_some() {
            let mut fresh = ChecksumLatch::new(ChecksumPolicy::Fixed(variant), 4);
            validate(&buf, &rx, &config, &mut fresh).expect("re-emitted advert validates");
        }
    }
}

fn exercise_accessors(packet: &VrrpPacket<&[u8]>, src: IpAddr, dst: IpAddr) {
    let _ = (
        packet.vrid(),
        packet.priority(),
        packet.checksum(),
        packet.reserved(),
    );
    let _ = (
        packet.auth_type(),
        packet.adver_int(),
        packet.max_adver_int(),
    );
    assert_eq!(packet.auth_data().is_some(), packet.version() == 2);
    assert_eq!(packet.addresses().count(), usize::from(packet.addr_count()));
    assert!(packet.message().len() <= packet.as_ref().len());
    if let Some(v) = packet.detect_checksum(src, dst) {
        assert!(packet.verify_checksum(v, src, dst));
    }
    let mut copy = packet.message().to_vec();
    let mut view = VrrpPacket::new_checked(&mut copy[..], packet.family()).expect("same length");
    let v = ChecksumVariant::default_for(packet.version());
    if view.fill_checksum(v, src, dst).is_ok() {
        assert!(view.verify_checksum(v, src, dst));
    }
    assert_eq!(packet.family() == Family::V6, view.family() == Family::V6);
}
