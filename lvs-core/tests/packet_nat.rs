//! Packet view and NAT rewrite tests: parsing, checksums after every rewrite, NAT followed by
//! reverse NAT is the identity, ICMP error translation, and no panic on truncated input.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_core::packet::testing::{
    icmp_v4_error, icmp_v6_error, sctp_v4_frame, tcp_v4_frame, tcp_v6_frame, udp_v4_frame,
    udp_v6_frame,
};
use lvs_core::packet::{
    Family, PacketView, ParseError, RewriteError, Side, TcpFlags, Transport, decrement_ttl,
    rewrite, rewrite_forward, rewrite_icmp_error, verify_checksums,
};
use proptest::prelude::*;

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

#[test]
fn parses_tcp_udp_sctp_and_ipv6() {
    let f = tcp_v4_frame(
        [192, 0, 2, 7],
        40000,
        [198, 51, 100, 1],
        80,
        TcpFlags::SYN,
        b"",
    );
    let v = PacketView::parse_ethernet(&f).unwrap();
    assert_eq!(
        (v.family, v.l3_offset, v.ip_header_len, v.l4_offset),
        (Family::V4, 14, 20, 34)
    );
    assert_eq!(
        (v.src, v.src_port, v.dst, v.dst_port),
        (v4([192, 0, 2, 7]), 40000, v4([198, 51, 100, 1]), 80)
    );
    assert!(v.tcp_flags().unwrap().has(TcpFlags::SYN));
    assert!(!v.tcp_flags().unwrap().has(TcpFlags::ACK));
    verify_checksums(&f, &v).unwrap();

    let f = udp_v4_frame([192, 0, 2, 7], 5353, [198, 51, 100, 1], 53, b"query");
    let v = PacketView::parse_ethernet(&f).unwrap();
    assert_eq!(
        (v.transport, v.dst_port, v.ip_len),
        (Transport::Udp, 53, 20 + 8 + 5)
    );

    let f = sctp_v4_frame([192, 0, 2, 7], 3000, [198, 51, 100, 1], 3868);
    let v = PacketView::parse_ethernet(&f).unwrap();
    assert_eq!(
        (v.transport, v.src_port, v.dst_port),
        (Transport::Sctp, 3000, 3868)
    );
    verify_checksums(&f, &v).unwrap();

    let c: Ipv6Addr = "2001:db8::7".parse().unwrap();
    let vip: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
    let f = tcp_v6_frame(c, 40000, vip, 443, TcpFlags::SYN, b"");
    let v = PacketView::parse_ethernet(&f).unwrap();
    assert_eq!(
        (v.family, v.ip_header_len, v.dst_port, v.ttl),
        (Family::V6, 40, 443, 64)
    );
    verify_checksums(&f, &v).unwrap();
}

#[test]
fn vlan_tag_is_reported() {
    let f = tcp_v4_frame(
        [192, 0, 2, 7],
        40000,
        [198, 51, 100, 1],
        80,
        TcpFlags::SYN,
        b"",
    );
    // Insert an 802.1Q tag (TPID 0x8100, VID 42) after the MAC addresses.
    let mut tagged = f[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 42]);
    tagged.extend_from_slice(&f[12..]);
    let v = PacketView::parse_ethernet(&tagged).unwrap();
    assert_eq!((v.vlan, v.l3_offset, v.dst_port), (Some(42), 18, 80));
}

#[test]
fn non_ip_and_truncated_frames_are_typed_errors() {
    let mut arp = vec![0xff; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0u8; 28]);
    assert!(matches!(
        PacketView::parse_ethernet(&arp),
        Err(ParseError::NotIp | ParseError::Malformed)
    ));
    let f = tcp_v4_frame(
        [192, 0, 2, 7],
        40000,
        [198, 51, 100, 1],
        80,
        TcpFlags::SYN,
        b"abc",
    );
    for len in 0..f.len() {
        // Every strict prefix is a typed error: the IP total length no longer fits.
        assert!(
            PacketView::parse_ethernet(&f[..len]).is_err(),
            "prefix {len}"
        );
    }
}

#[test]
fn icmp_error_maps_to_the_quoted_flow_reversed() {
    // The real server's reply 10.0.0.2:8080 -> client was refused by the client's side.
    let reply = tcp_v4_frame(
        [10, 0, 0, 2],
        8080,
        [192, 0, 2, 7],
        40000,
        TcpFlags::ACK,
        b"data",
    );
    let err = icmp_v4_error(
        Ipv4Addr::new(203, 0, 113, 9),
        Ipv4Addr::new(10, 0, 0, 2),
        3,
        4,
        1400,
        &reply,
        28,
    );
    let v = PacketView::parse_ethernet(&err).unwrap();
    let Transport::IcmpError {
        icmp_type: 3,
        code: 4,
        quoted,
    } = v.transport
    else {
        panic!("{:?}", v.transport)
    };
    assert_eq!((quoted.flow.src_port, quoted.flow.dst_port), (8080, 40000));
    let f = v.lookup_flow();
    assert_eq!(
        (f.src, f.src_port, f.dst, f.dst_port),
        (v4([192, 0, 2, 7]), 40000, v4([10, 0, 0, 2]), 8080)
    );
    verify_checksums(&err, &v).unwrap();
}

#[test]
fn icmp_error_translation_rewrites_outer_and_quoted_headers() {
    // NAT outbound: the real server 10.0.0.2 says port unreachable about the DNATed packet
    // client -> 10.0.0.2:8080; the client must see it from the VIP about VIP:80.
    let dnated = udp_v4_frame([192, 0, 2, 7], 5000, [10, 0, 0, 2], 8080, b"hello");
    let mut err = icmp_v4_error(
        Ipv4Addr::new(10, 0, 0, 2),
        Ipv4Addr::new(192, 0, 2, 7),
        3,
        3,
        0,
        &dnated,
        33,
    );
    let mut v = PacketView::parse_ethernet(&err).unwrap();
    rewrite_icmp_error(
        &mut err,
        &mut v,
        Some((Side::Src, v4([198, 51, 100, 1]))),
        (Side::Dst, v4([198, 51, 100, 1]), 80),
    )
    .unwrap();
    let again = PacketView::parse_ethernet(&err).unwrap();
    assert_eq!(again, v);
    verify_checksums(&err, &again).unwrap();
    let Transport::IcmpError { quoted, .. } = again.transport else {
        panic!()
    };
    assert_eq!(
        (quoted.flow.dst, quoted.flow.dst_port),
        (v4([198, 51, 100, 1]), 80)
    );
    assert_eq!(again.src, v4([198, 51, 100, 1]));

    // IPv6 packet-too-big inbound: rewrite the outer destination and the quoted source.
    let c: Ipv6Addr = "2001:db8::7".parse().unwrap();
    let vip: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
    let rs: Ipv6Addr = "fd00::2".parse().unwrap();
    let reply = tcp_v6_frame(vip, 443, c, 40000, TcpFlags::ACK, &[0u8; 100]);
    let mut err = icmp_v6_error(
        "2001:db8:ffff::1".parse().unwrap(),
        vip,
        2,
        0,
        1280,
        &reply,
        48,
    );
    let mut v = PacketView::parse_ethernet(&err).unwrap();
    verify_checksums(&err, &v).unwrap();
    rewrite_icmp_error(
        &mut err,
        &mut v,
        Some((Side::Dst, IpAddr::V6(rs))),
        (Side::Src, IpAddr::V6(rs), 8443),
    )
    .unwrap();
    let again = PacketView::parse_ethernet(&err).unwrap();
    verify_checksums(&err, &again).unwrap();
    assert_eq!(again.dst, IpAddr::V6(rs));
    let Transport::IcmpError { quoted, .. } = again.transport else {
        panic!()
    };
    assert_eq!(
        (quoted.flow.src, quoted.flow.src_port),
        (IpAddr::V6(rs), 8443)
    );
}

#[test]
fn udp_without_checksum_keeps_zero_on_ipv4() {
    let mut f = udp_v4_frame([192, 0, 2, 7], 5000, [198, 51, 100, 1], 53, b"q");
    f[14 + 20 + 6] = 0;
    f[14 + 20 + 7] = 0;
    let mut v = PacketView::parse_ethernet(&f).unwrap();
    rewrite(&mut f, &mut v, Side::Dst, v4([10, 0, 0, 2]), 5353).unwrap();
    assert_eq!(&f[40..42], &[0, 0]);
    verify_checksums(&f, &v).unwrap();
}

#[test]
fn refused_rewrites_are_typed() {
    let mut f = tcp_v4_frame([192, 0, 2, 7], 1, [198, 51, 100, 1], 80, TcpFlags::SYN, b"");
    let mut v = PacketView::parse_ethernet(&f).unwrap();
    let before = f.clone();
    assert_eq!(
        rewrite(&mut f, &mut v, Side::Dst, "fd00::1".parse().unwrap(), 80),
        Err(RewriteError::FamilyMismatch)
    );
    assert_eq!(f, before, "a refused rewrite leaves the frame untouched");
    let mut err = icmp_v4_error(
        Ipv4Addr::new(1, 2, 3, 4),
        Ipv4Addr::new(5, 6, 7, 8),
        3,
        3,
        0,
        &before,
        28,
    );
    let mut ev = PacketView::parse_ethernet(&err).unwrap();
    assert_eq!(
        rewrite(&mut err, &mut ev, Side::Dst, v4([1, 1, 1, 1]), 1),
        Err(RewriteError::NoPorts)
    );
    assert_eq!(
        rewrite_icmp_error(&mut f, &mut v, None, (Side::Dst, v4([1, 1, 1, 1]), 1)),
        Err(RewriteError::NotIcmpError)
    );
}

#[test]
fn ttl_decrement_patches_the_header_checksum() {
    let mut f = tcp_v4_frame([192, 0, 2, 7], 1, [198, 51, 100, 1], 80, TcpFlags::SYN, b"");
    let mut v = PacketView::parse_ethernet(&f).unwrap();
    assert_eq!(decrement_ttl(&mut f, &mut v), 63);
    let again = PacketView::parse_ethernet(&f).unwrap();
    assert_eq!(again.ttl, 63);
    verify_checksums(&f, &again).unwrap();
}

#[test]
fn sctp_port_rewrite_recomputes_crc32c() {
    let mut f = sctp_v4_frame([192, 0, 2, 7], 3000, [198, 51, 100, 1], 3868);
    let mut v = PacketView::parse_ethernet(&f).unwrap();
    rewrite(&mut f, &mut v, Side::Dst, v4([10, 0, 0, 2]), 13868).unwrap();
    let again = PacketView::parse_ethernet(&f).unwrap();
    assert_eq!(again.dst_port, 13868);
    verify_checksums(&f, &again).unwrap();
}

/// Equal bytes, except that a transport checksum of 0x0000 may come back as its one's-complement
/// twin 0xffff (an incremental update never yields +0); UDP's 0 ("no checksum") never changes.
fn same_frame(a: &[u8], b: &[u8], csum_at: usize) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let twins = |x: &[u8], y: &[u8]| {
        x == y || (x == [0, 0] && y == [0xff, 0xff]) || (x == [0xff, 0xff] && y == [0, 0])
    };
    a[..csum_at] == b[..csum_at]
        && twins(&a[csum_at..csum_at + 2], &b[csum_at..csum_at + 2])
        && a[csum_at + 2..] == b[csum_at + 2..]
}

fn arb_v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn nat_then_reverse_nat_is_identity_v4(
        c in any::<[u8; 4]>(), cp in 1u16.., vip in any::<[u8; 4]>(), vp in 1u16..,
        rs in any::<[u8; 4]>(), rp in 1u16.., flags in 0u8..0x20, payload in proptest::collection::vec(any::<u8>(), 0..200),
        udp in any::<bool>(),
    ) {
        let orig = if udp { udp_v4_frame(c, cp, vip, vp, &payload) } else { tcp_v4_frame(c, cp, vip, vp, flags, &payload) };
        let mut f = orig.clone();
        let mut v = PacketView::parse_ethernet(&f).unwrap();
        rewrite(&mut f, &mut v, Side::Dst, v4(rs), rp).unwrap();
        let mid = PacketView::parse_ethernet(&f).unwrap();
        prop_assert_eq!(mid, v);
        prop_assert!(verify_checksums(&f, &mid).is_ok());
        rewrite(&mut f, &mut v, Side::Dst, v4(vip), vp).unwrap();
        prop_assert!(verify_checksums(&f, &v).is_ok());
        let csum_at = v.l4_offset + if udp { 6 } else { 16 };
        prop_assert!(same_frame(&f, &orig, csum_at));
    }

    #[test]
    fn snat_reply_then_reverse_is_identity_v6(
        c in arb_v6(), cp in 1u16.., vip in arb_v6(), vp in 1u16.., rs in arb_v6(), rp in 1u16..,
        payload in proptest::collection::vec(any::<u8>(), 0..200), udp in any::<bool>(),
    ) {
        let orig = if udp { udp_v6_frame(rs, rp, c, cp, &payload) } else { tcp_v6_frame(rs, rp, c, cp, TcpFlags::ACK, &payload) };
        let mut f = orig.clone();
        let mut v = PacketView::parse_ethernet(&f).unwrap();
        rewrite(&mut f, &mut v, Side::Src, IpAddr::V6(vip), vp).unwrap();
        prop_assert!(verify_checksums(&f, &PacketView::parse_ethernet(&f).unwrap()).is_ok());
        rewrite(&mut f, &mut v, Side::Src, IpAddr::V6(rs), rp).unwrap();
        let csum_at = v.l4_offset + if udp { 6 } else { 16 };
        prop_assert!(same_frame(&f, &orig, csum_at));
    }

    /// The forwarding fast path is byte-identical to rewrite + TTL decrement, both families,
    /// both sides, TCP and UDP (with and without an IPv4 UDP checksum).
    #[test]
    fn rewrite_forward_equals_rewrite_then_decrement(
        c in any::<[u8; 4]>(), cp in 1u16.., vip in any::<[u8; 4]>(), vp in 1u16..,
        rs in any::<[u8; 4]>(), rp in 1u16.., c6 in arb_v6(), r6 in arb_v6(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        udp in any::<bool>(), v6 in any::<bool>(), src in any::<bool>(), no_udp_sum in any::<bool>(),
    ) {
        let mut orig = match (v6, udp) {
            (false, false) => tcp_v4_frame(c, cp, vip, vp, TcpFlags::ACK, &payload),
            (false, true) => udp_v4_frame(c, cp, vip, vp, &payload),
            (true, false) => tcp_v6_frame(c6, cp, r6, vp, TcpFlags::ACK, &payload),
            (true, true) => udp_v6_frame(c6, cp, r6, vp, &payload),
        };
        if udp && !v6 && no_udp_sum {
            orig[14 + 20 + 6] = 0;
            orig[14 + 20 + 7] = 0;
        }
        let side = if src { Side::Src } else { Side::Dst };
        let to = if v6 { IpAddr::V6(c6) } else { v4(rs) };
        let mut a = orig.clone();
        let mut va = PacketView::parse_ethernet(&a).unwrap();
        rewrite(&mut a, &mut va, side, to, rp).unwrap();
        decrement_ttl(&mut a, &mut va);
        let mut b = orig.clone();
        let mut vb = PacketView::parse_ethernet(&b).unwrap();
        rewrite_forward(&mut b, &mut vb, side, to, rp).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(va, vb);
        prop_assert!(verify_checksums(&b, &PacketView::parse_ethernet(&b).unwrap()).is_ok());
    }

    /// Real frames with random bytes flipped go through the `packet_frame` fuzz checker.
    #[test]
    fn mutated_frames_keep_the_fuzz_invariants(
        selector in any::<u8>(), udp in any::<bool>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
    ) {
        let mut f = if udp { udp_v4_frame([192, 0, 2, 7], 5000, [198, 51, 100, 1], 53, b"payload") }
            else { tcp_v4_frame([192, 0, 2, 7], 5000, [198, 51, 100, 1], 80, TcpFlags::SYN, b"payload") };
        for (at, x) in flips {
            let i = at % f.len();
            f[i] ^= x;
        }
        let mut data = vec![selector];
        data.extend_from_slice(&f);
        lvs_core::fuzzing::packet_frame(&data);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(mut v) = PacketView::parse_ethernet(&data) {
            let mut d = data.clone();
            let _ = verify_checksums(&d, &v);
            let _ = rewrite(&mut d, &mut v, Side::Dst, v4([10, 0, 0, 1]), 80);
        }
        let _ = PacketView::parse_ip(&data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The fast path of `parse_ethernet` and the etherparse path agree on every frame: clean
    /// ones, tagged ones, and ones with random bytes flipped in the headers.
    #[test]
    fn fast_and_slow_parsers_agree(
        kind in 0u8..6, vlan in any::<bool>(), payload in proptest::collection::vec(any::<u8>(), 0..64),
        flips in proptest::collection::vec((0usize..80, any::<u8>()), 0..3), pad in 0usize..8,
    ) {
        let c6: Ipv6Addr = "2001:db8::7".parse().unwrap();
        let v6: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let mut f = match kind {
            0 => tcp_v4_frame([192, 0, 2, 7], 40000, [198, 51, 100, 1], 80, TcpFlags::SYN, &payload),
            1 => udp_v4_frame([192, 0, 2, 7], 40000, [198, 51, 100, 1], 53, &payload),
            2 => tcp_v6_frame(c6, 40000, v6, 443, TcpFlags::ACK, &payload),
            3 => udp_v6_frame(c6, 40000, v6, 53, &payload),
            4 => sctp_v4_frame([192, 0, 2, 7], 3000, [198, 51, 100, 1], 3868),
            _ => icmp_v4_error(Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::new(5, 6, 7, 8), 3, 3, 0,
                               &udp_v4_frame([5, 6, 7, 8], 1, [1, 2, 3, 4], 2, b"x"), 29),
        };
        if vlan {
            let mut t = f[..12].to_vec();
            t.extend_from_slice(&[0x81, 0x00, 0x20, 0x07]);
            t.extend_from_slice(&f[12..]);
            f = t;
        }
        f.extend(std::iter::repeat_n(0u8, pad));
        for (at, x) in flips {
            let i = at % f.len();
            f[i] ^= x;
        }
        prop_assert_eq!(PacketView::parse_ethernet(&f), PacketView::parse_ethernet_slow(&f));
    }
}
