//! The golden packets captured from keepalived 2.2.7, each with the four wire tests
//! (deconstruct, construct, parse, emit), plus truncation at every length.

use core::net::IpAddr;

use lvs_vrrp::config::InstanceConfig;
use lvs_vrrp::stats::DropReason;
use lvs_vrrp::testing::{self, SRC_V6, VIP_V4, VIPS_V6};
use lvs_vrrp::validate::{RxInfo, validate};
use lvs_vrrp::wire::{
    Addresses, Auth, ChecksumLatch, ChecksumPolicy, ChecksumVariant, Family, VersionRepr,
    VrrpPacket, VrrpRepr, WireError, field, multicast_group,
};

/// One golden packet: its bytes, how it was carried, and what it means.
struct Golden {
    bytes: &'static [u8],
    family: Family,
    src: IpAddr,
    variant: ChecksumVariant,
    repr: VrrpRepr,
    checksum: u16,
}

impl Golden {
    fn dst(&self) -> IpAddr {
        multicast_group(self.family)
    }
}

fn v2(priority: u8, bytes: &'static [u8], checksum: u16) -> Golden {
    Golden {
        bytes,
        family: Family::V4,
        src: testing::src_v4(),
        variant: ChecksumVariant::NoPseudoHeader,
        repr: VrrpRepr {
            vrid: 51,
            priority,
            version: VersionRepr::V2 {
                auth: Auth::None,
                adver_int: 1,
            },
            addresses: Addresses::V4(vec![VIP_V4]),
        },
        checksum,
    }
}

fn v2_prio150() -> Golden {
    v2(150, &testing::V2_PRIO150, 0x3e5d)
}

fn v2_prio0() -> Golden {
    v2(0, &testing::V2_PRIO0, 0xd45d)
}

fn v3_v4() -> Golden {
    Golden {
        bytes: &testing::V3_V4_10CS,
        family: Family::V4,
        src: testing::src_v4(),
        variant: ChecksumVariant::PseudoHeader,
        repr: VrrpRepr {
            vrid: 51,
            priority: 150,
            version: VersionRepr::V3 { max_adver_int: 10 },
            addresses: Addresses::V4(vec![VIP_V4]),
        },
        checksum: 0x43bb,
    }
}

fn v3_v6() -> Golden {
    Golden {
        bytes: &testing::V3_V6_100CS,
        family: Family::V6,
        src: SRC_V6.into(),
        variant: ChecksumVariant::PseudoHeader,
        repr: VrrpRepr {
            vrid: 52,
            priority: 150,
            version: VersionRepr::V3 { max_adver_int: 100 },
            addresses: Addresses::V6(VIPS_V6.to_vec()),
        },
        checksum: 0xaa39,
    }
}

fn all() -> Vec<Golden> {
    vec![v2_prio150(), v2_prio0(), v3_v4(), v3_v6()]
}

fn deconstruct(g: &Golden) {
    let p = VrrpPacket::new_checked(g.bytes, g.family).unwrap();
    assert_eq!(p.version(), g.repr.version.number());
    assert_eq!(p.msg_type(), 1);
    assert_eq!(p.vrid(), g.repr.vrid);
    assert_eq!(p.priority(), g.repr.priority);
    assert_eq!(usize::from(p.addr_count()), g.repr.addresses.len());
    assert_eq!(p.checksum(), g.checksum);
    assert_eq!(p.packet_len(), g.bytes.len());
    assert!(p.addresses().eq(g.repr.addresses.iter()));
    match g.repr.version {
        VersionRepr::V2 { auth, adver_int } => {
            assert_eq!(p.auth_type(), Some(auth.type_byte()));
            assert_eq!(p.adver_int(), Some(adver_int));
            assert_eq!(p.auth_data(), Some(auth.data()));
        }
        VersionRepr::V3 { max_adver_int } => {
            assert_eq!(p.max_adver_int(), max_adver_int);
            assert_eq!(p.reserved(), 0);
            assert_eq!(
                (p.auth_type(), p.adver_int(), p.auth_data()),
                (None, None, None)
            );
        }
    }
    assert!(p.verify_checksum(g.variant, g.src, g.dst()));
    assert_eq!(p.detect_checksum(g.src, g.dst()), Some(g.variant));
}

fn construct(g: &Golden) {
    let mut buf = vec![0xa5; g.bytes.len()];
    let mut p = VrrpPacket::new_unchecked(&mut buf[..], g.family);
    p.set_version(g.repr.version.number());
    p.set_msg_type(1);
    p.set_vrid(g.repr.vrid);
    p.set_priority(g.repr.priority);
    p.set_addr_count(u8::try_from(g.repr.addresses.len()).unwrap());
    p.set_checksum(0);
    match g.repr.version {
        VersionRepr::V2 { auth, adver_int } => {
            p.set_auth_type(auth.type_byte());
            p.set_adver_int(adver_int);
            p.auth_data_mut().unwrap().copy_from_slice(&auth.data());
        }
        VersionRepr::V3 { max_adver_int } => {
            p.set_reserved(0);
            p.set_max_adver_int(max_adver_int);
            assert!(p.auth_data_mut().is_none());
        }
    }
    p.check_len().unwrap();
    let mut at = 0;
    for a in g.repr.addresses.iter() {
        let octets: Vec<u8> = match a {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        p.addr_bytes_mut()[at..at + octets.len()].copy_from_slice(&octets);
        at += octets.len();
    }
    p.fill_checksum(g.variant, g.src, g.dst()).unwrap();
    assert_eq!(&buf[..], g.bytes);
}

fn parse(g: &Golden) {
    let p = VrrpPacket::new_checked(g.bytes, g.family).unwrap();
    assert_eq!(VrrpRepr::parse(&p).unwrap(), g.repr);
}

fn emit(g: &Golden) {
    assert_eq!(g.repr.buffer_len(), g.bytes.len());
    let mut buf = vec![0xff; g.bytes.len() + 3];
    let n = g.repr.emit(&mut buf, g.variant, g.src, g.dst()).unwrap();
    assert_eq!(&buf[..n], g.bytes);
    assert_eq!(&buf[n..], &[0xff; 3], "emit writes nothing past buffer_len");
    let short = &mut buf[..g.bytes.len() - 1];
    assert_eq!(
        g.repr.emit(short, g.variant, g.src, g.dst()),
        Err(WireError::BufferTooSmall)
    );
}

macro_rules! four_tests {
    ($name:ident, $golden:expr) => {
        mod $name {
            #[test]
            fn deconstruct() {
                super::deconstruct(&$golden);
            }
            #[test]
            fn construct() {
                super::construct(&$golden);
            }
            #[test]
            fn parse() {
                super::parse(&$golden);
            }
            #[test]
            fn emit() {
                super::emit(&$golden);
            }
        }
    };
}

four_tests!(golden_v2_prio150, super::v2_prio150());
four_tests!(golden_v2_prio0, super::v2_prio0());
four_tests!(golden_v3_ipv4, super::v3_v4());
four_tests!(golden_v3_ipv6, super::v3_v6());

#[test]
fn truncation_at_every_length_is_an_error() {
    for g in all() {
        let config =
            InstanceConfig::new(g.repr.vrid, 100, g.repr.version, g.repr.addresses.clone());
        for len in 0..g.bytes.len() {
            let cut = &g.bytes[..len];
            assert_eq!(
                VrrpPacket::new_checked(cut, g.family),
                Err(WireError::Truncated),
                "{len} bytes"
            );
            let unchecked = VrrpPacket::new_unchecked(cut, g.family);
            assert_eq!(VrrpRepr::parse(&unchecked), Err(WireError::Truncated));
            let rx = RxInfo {
                src: g.src,
                dst: g.dst(),
                ttl: 255,
            };
            let mut latch = ChecksumLatch::new(ChecksumPolicy::Auto, 4);
            let outcome = validate(cut, &rx, &config, &mut latch);
            assert_eq!(outcome.err(), Some(DropReason::Truncated), "{len} bytes");
        }
        let rx = RxInfo {
            src: g.src,
            dst: g.dst(),
            ttl: 255,
        };
        let mut latch = ChecksumLatch::new(ChecksumPolicy::Auto, 4);
        assert!(
            validate(g.bytes, &rx, &config, &mut latch).is_ok(),
            "the whole packet passes"
        );
    }
}

#[test]
fn rfc9568_checksum_of_the_v3_ipv4_capture() {
    let g = v3_v4();
    let p = VrrpPacket::new_checked(g.bytes, g.family).unwrap();
    assert!(!p.verify_checksum(ChecksumVariant::NoPseudoHeader, g.src, g.dst()));
    let mut buf = g.bytes.to_vec();
    let mut p = VrrpPacket::new_checked(&mut buf[..], g.family).unwrap();
    p.fill_checksum(ChecksumVariant::NoPseudoHeader, g.src, g.dst())
        .unwrap();
    assert_eq!(p.checksum(), testing::V3_V4_10CS_NO_PSEUDO_CHECKSUM);
    assert_eq!(
        p.detect_checksum(g.src, g.dst()),
        Some(ChecksumVariant::NoPseudoHeader)
    );
    // Sent to the group, the legacy unicast form equals the pseudo-header form.
    p.fill_checksum(ChecksumVariant::LegacyUnicast, g.src, g.dst())
        .unwrap();
    assert_eq!(p.checksum(), 0x43bb);
}

#[test]
fn legacy_unicast_checksum_uses_the_group_address() {
    let g = v3_v4();
    let unicast: IpAddr = "10.9.0.2".parse().unwrap();
    let mut buf = g.bytes.to_vec();
    let mut p = VrrpPacket::new_checked(&mut buf[..], g.family).unwrap();
    // keepalived <= 1.3.6 unicast: the checksum was computed as if sent to 224.0.0.18.
    p.fill_checksum(ChecksumVariant::LegacyUnicast, g.src, unicast)
        .unwrap();
    assert_eq!(p.checksum(), 0x43bb);
    assert!(!p.verify_checksum(ChecksumVariant::PseudoHeader, g.src, unicast));
    assert_eq!(
        p.detect_checksum(g.src, unicast),
        Some(ChecksumVariant::LegacyUnicast)
    );
    // With the real destination it is the pseudo-header form.
    p.fill_checksum(ChecksumVariant::PseudoHeader, g.src, unicast)
        .unwrap();
    assert_ne!(p.checksum(), 0x43bb);
    assert_eq!(
        p.detect_checksum(g.src, unicast),
        Some(ChecksumVariant::PseudoHeader)
    );
}

#[test]
fn variants_that_do_not_apply_are_refused() {
    let g = v2_prio150();
    let p = VrrpPacket::new_checked(g.bytes, g.family).unwrap();
    for v in [
        ChecksumVariant::PseudoHeader,
        ChecksumVariant::LegacyUnicast,
    ] {
        assert!(!p.verify_checksum(v, g.src, g.dst()));
        assert_eq!(
            g.repr.emit(&mut [0; 64], v, g.src, g.dst()),
            Err(WireError::ChecksumVariant)
        );
    }
    let g = v3_v6();
    for v in [
        ChecksumVariant::NoPseudoHeader,
        ChecksumVariant::LegacyUnicast,
    ] {
        assert_eq!(
            g.repr.emit(&mut [0; 64], v, g.src, g.dst()),
            Err(WireError::ChecksumVariant)
        );
    }
}

#[test]
fn malformed_headers_are_typed_errors() {
    let mut b = testing::V2_PRIO150;
    b[0] = 0x41;
    assert_eq!(
        VrrpPacket::new_checked(&b[..], Family::V4),
        Err(WireError::Version)
    );
    b[0] = 0x22;
    let p = VrrpPacket::new_checked(&b[..], Family::V4).unwrap();
    assert_eq!(VrrpRepr::parse(&p), Err(WireError::Type));
    b[0] = 0x21;
    b[field::AUTH_TYPE] = 2;
    let p = VrrpPacket::new_checked(&b[..], Family::V4).unwrap();
    assert_eq!(VrrpRepr::parse(&p), Err(WireError::AuthType));
    assert_eq!(
        VrrpPacket::new_checked(&testing::V2_PRIO150[..], Family::V6),
        Err(WireError::Family)
    );
    // v3 reserved bits are ignored on receive.
    let mut b = testing::V3_V4_10CS;
    b[4] |= 0xf0;
    let p = VrrpPacket::new_checked(&b[..], Family::V4).unwrap();
    assert_eq!((p.reserved(), p.max_adver_int()), (0xf, 10));
    assert_eq!(VrrpRepr::parse(&p).unwrap(), v3_v4().repr);
}

#[test]
fn emit_refuses_what_the_wire_cannot_carry() {
    let (src, dst) = (testing::src_v4(), multicast_group(Family::V4));
    let mut r = v3_v4().repr;
    r.version = VersionRepr::V3 {
        max_adver_int: 4096,
    };
    assert_eq!(
        r.emit(&mut [0; 64], ChecksumVariant::PseudoHeader, src, dst),
        Err(WireError::Interval)
    );
    r.version = VersionRepr::V3 { max_adver_int: 10 };
    r.addresses = Addresses::V4(vec![VIP_V4; 256]);
    assert_eq!(
        r.emit(&mut [0; 2048], ChecksumVariant::PseudoHeader, src, dst),
        Err(WireError::TooManyAddresses)
    );
    let mut r = v3_v6().repr;
    r.version = VersionRepr::V2 {
        auth: Auth::None,
        adver_int: 1,
    };
    let (src, dst) = (testing::src_v6(), multicast_group(Family::V6));
    assert_eq!(
        r.emit(&mut [0; 64], ChecksumVariant::NoPseudoHeader, src, dst),
        Err(WireError::Family)
    );
}

#[test]
fn simple_text_auth_round_trips() {
    let (src, dst) = (testing::src_v4(), multicast_group(Family::V4));
    let repr = VrrpRepr {
        vrid: 51,
        priority: 150,
        version: VersionRepr::V2 {
            auth: Auth::simple_text(b"longpassword"),
            adver_int: 1,
        },
        addresses: Addresses::V4(vec![VIP_V4]),
    };
    let mut buf = [0; 20];
    repr.emit(&mut buf, ChecksumVariant::NoPseudoHeader, src, dst)
        .unwrap();
    assert_eq!(buf[4], 1);
    assert_eq!(
        &buf[12..],
        b"longpass",
        "only the first 8 characters are sent"
    );
    let p = VrrpPacket::new_checked(&buf[..], Family::V4).unwrap();
    assert!(p.verify_checksum(ChecksumVariant::NoPseudoHeader, src, dst));
    assert_eq!(VrrpRepr::parse(&p).unwrap(), repr);
    assert_eq!(Auth::simple_text(b"pw").data(), *b"pw\0\0\0\0\0\0");
}
