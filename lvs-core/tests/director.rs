//! The director end to end over built frames: NAT both ways, DR, TUN, persistence, the real
//! server life cycle, UDP accounting, ICMP errors, a SYN flood against a full table.

use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;

use lvs_core::director::testing::RoundRobin as TestRr;
use lvs_core::director::{
    Director, DirectorConfig, DropReason, Forward, RealConfig, RealId, RealState, ServiceConfig,
    UdpAccounting, Verdict,
};
use lvs_core::packet::testing::{icmp_v4_error, tcp_v4_frame, udp_v4_frame};
use lvs_core::packet::{PacketView, TcpFlags, Transport, verify_checksums};
use lvs_core::service::{Persistence, ServiceId, ServiceKey};
use lvs_core::{DestId, Instant, proto};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

const VIP: [u8; 4] = [198, 51, 100, 1];
const RS1: [u8; 4] = [10, 0, 0, 11];
const RS2: [u8; 4] = [10, 0, 0, 12];
const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;

fn ip(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn director(config: DirectorConfig) -> Director {
    Director::new(config, &mut ChaCha8Rng::seed_from_u64(7), Instant::ZERO)
}

fn web(
    d: &mut Director,
    protocol: u8,
    persistence: Option<Persistence>,
    forward: Forward,
) -> (ServiceId, RealId, RealId) {
    let key = ServiceKey::Addr {
        protocol,
        addr: ip(VIP),
        port: 80,
    };
    let svc = d
        .add_service(
            ServiceConfig {
                key,
                persistence,
                one_packet: false,
            },
            TestRr::boxed(),
        )
        .unwrap();
    let port = if forward == Forward::Nat { 8080 } else { 80 };
    let mk = |a| RealConfig {
        forward,
        mac: Some([0x02, 0, 0, 0, 0, a]),
        ..RealConfig::nat(ip([10, 0, 0, a]), port)
    };
    let r1 = d.add_real(svc, mk(RS1[3])).unwrap();
    let r2 = d.add_real(svc, mk(RS2[3])).unwrap();
    (svc, r1, r2)
}

fn fwd(v: Verdict) -> (IpAddr, usize) {
    match v {
        Verdict::Forward { next_hop, len } => (next_hop, len),
        other => panic!("expected Forward, got {other:?}"),
    }
}

fn client(n: u8) -> [u8; 4] {
    [192, 0, 2, n]
}

#[test]
fn nat_rewrites_both_directions_and_tracks_tcp_state() {
    let mut d = director(DirectorConfig::default());
    let (svc, r1, _) = web(&mut d, proto::TCP, None, Forward::Nat);
    let mut syn = tcp_v4_frame(client(7), 40000, VIP, 80, SYN, b"");
    let (hop, len) = fwd(d.process(Instant::ZERO, &mut syn, 0));
    assert_eq!(hop, ip(RS1));
    let v = PacketView::parse_ethernet(&syn[..len]).unwrap();
    assert_eq!((v.dst, v.dst_port, v.ttl), (ip(RS1), 8080, 63));
    verify_checksums(&syn, &v).unwrap();
    // The scheduler saw the connection become active (SYN_RECV counts as active).
    assert_eq!(
        d.scheduler(svc).unwrap().load(DestId(r1.0)).unwrap().active,
        1
    );

    // The real server's SYN-ACK comes back through the director: source NAT to the VIP.
    let mut synack = tcp_v4_frame(RS1, 8080, client(7), 40000, SYN | ACK, b"");
    let (hop, len) = fwd(d.process(Instant::from_millis(1), &mut synack, 0));
    assert_eq!(hop, ip(client(7)));
    let v = PacketView::parse_ethernet(&synack[..len]).unwrap();
    assert_eq!((v.src, v.src_port), (ip(VIP), 80));
    verify_checksums(&synack, &v).unwrap();

    let mut ack = tcp_v4_frame(client(7), 40000, VIP, 80, ACK, b"GET / HTTP/1.0\r\n\r\n");
    fwd(d.process(Instant::from_millis(2), &mut ack, 0));
    let rows = d.connections(Instant::from_millis(2));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, "ESTABLISHED");
    // ES timeout 900 s, rounded up to the table's 1/16 s tick.
    assert!(
        (Duration::from_secs(900)..=Duration::from_millis(900_063)).contains(&rows[0].expires_in)
    );
    assert!(
        rows[0].ipvsadm_row().starts_with(
            "TCP 15:00  ESTABLISHED 192.0.2.7:40000    198.51.100.1:80    10.0.0.11:8080"
        ),
        "{}",
        rows[0].ipvsadm_row()
    );
    let st = d.real_stats(r1).unwrap();
    assert_eq!(
        (
            st.counters.conns,
            st.counters.in_pkts,
            st.counters.out_pkts,
            st.active
        ),
        (1, 2, 1, 1)
    );
    assert_eq!(
        d.service_stats(svc).unwrap().counters.in_bytes,
        40 + 40 + 18
    );

    // Client FIN, server FIN: TIME_WAIT, then the entry expires and the scheduler is told.
    let mut fin = tcp_v4_frame(client(7), 40000, VIP, 80, TcpFlags::FIN | ACK, b"");
    fwd(d.process(Instant::from_secs(1), &mut fin, 0));
    let mut fin2 = tcp_v4_frame(RS1, 8080, client(7), 40000, TcpFlags::FIN | ACK, b"");
    fwd(d.process(Instant::from_secs(1), &mut fin2, 0));
    assert_eq!(d.connections(Instant::from_secs(1))[0].state, "TIME_WAIT");
    assert_eq!(
        d.scheduler(svc)
            .unwrap()
            .load(DestId(r1.0))
            .unwrap()
            .inactive,
        1
    );
    d.handle_timeout(Instant::from_secs(122));
    assert_eq!(d.conn_count(), 0);
    let load = d.scheduler(svc).unwrap().load(DestId(r1.0)).unwrap();
    assert_eq!((load.active, load.inactive), (0, 0));
}

#[test]
fn packets_that_are_not_ours_go_to_the_local_stack() {
    let mut d = director(DirectorConfig::default());
    web(&mut d, proto::TCP, None, Forward::Nat);
    // No service on port 22.
    let mut f = tcp_v4_frame(client(7), 40000, VIP, 22, SYN, b"");
    assert_eq!(d.process(Instant::ZERO, &mut f, 0), Verdict::Local);
    // A mid-stream ACK without a connection: the local stack answers (RST).
    let mut f = tcp_v4_frame(client(7), 40000, VIP, 80, ACK, b"");
    assert_eq!(d.process(Instant::ZERO, &mut f, 0), Verdict::Local);
    let mut junk = vec![0u8; 20];
    assert_eq!(
        d.process(Instant::ZERO, &mut junk, 0),
        Verdict::Drop(DropReason::Malformed)
    );
    assert_eq!(d.drop_count(DropReason::Malformed), 1);
}

#[test]
fn connections_alternate_and_persistence_pins_a_client_prefix() {
    let mut d = director(DirectorConfig::default());
    web(&mut d, proto::TCP, None, Forward::Nat);
    let hops: Vec<IpAddr> = (1..=4)
        .map(|n| {
            fwd(d.process(
                Instant::ZERO,
                &mut tcp_v4_frame(client(n), 1000, VIP, 80, SYN, b""),
                0,
            ))
            .0
        })
        .collect();
    assert_eq!(hops, [ip(RS1), ip(RS2), ip(RS1), ip(RS2)]);

    let mut d = director(DirectorConfig::default());
    let p = Persistence {
        timeout: Duration::from_secs(300),
        v4_prefix: 24,
        v6_prefix: 128,
    };
    let (_, r1, _) = web(&mut d, proto::TCP, Some(p), Forward::Nat);
    for (n, port) in [(7, 1000), (7, 1001), (8, 1002), (9, 1003)] {
        let (hop, _) = fwd(d.process(
            Instant::ZERO,
            &mut tcp_v4_frame(client(n), port, VIP, 80, SYN, b""),
            0,
        ));
        assert_eq!(
            hop,
            ip(RS1),
            "client .{n}: the /24 sticks to one real server"
        );
    }
    assert_eq!(d.real_stats(r1).unwrap().persistent, 1);
    let rows = d.connections(Instant::ZERO);
    assert_eq!(rows.iter().filter(|r| r.template).count(), 1);
    // Connections end (SYN_RECV times out after 60 s); the template lives on 300 s after the
    // last new connection, re-armed while it still controls connections.
    d.handle_timeout(Instant::from_secs(61));
    assert_eq!(
        d.connections(Instant::from_secs(61)).len(),
        1,
        "only the template is left"
    );
    d.handle_timeout(Instant::from_secs(299));
    assert_eq!(d.conn_count(), 1);
    d.handle_timeout(Instant::from_secs(361));
    assert_eq!(d.conn_count(), 0);
    assert_eq!(d.real_stats(r1).unwrap().persistent, 0);
}

#[test]
fn a_removed_real_server_gets_no_packet_and_udp_flows_move() {
    let mut d = director(DirectorConfig::default());
    let (svc, r1, r2) = web(&mut d, proto::TCP, None, Forward::Nat);
    fwd(d.process(
        Instant::ZERO,
        &mut tcp_v4_frame(client(7), 1000, VIP, 80, SYN, b""),
        0,
    ));
    d.remove_real(r1).unwrap();
    assert_eq!(d.real(r1).unwrap().1, RealState::Removed);
    let v = d.process(
        Instant::from_millis(5),
        &mut tcp_v4_frame(client(7), 1000, VIP, 80, ACK, b""),
        0,
    );
    assert_eq!(v, Verdict::Drop(DropReason::RealRemoved));
    assert!(
        d.real(r1).is_err(),
        "no connection refers to it any more: freed"
    );
    // A new connection goes to the remaining server.
    let (hop, _) = fwd(d.process(
        Instant::from_millis(6),
        &mut tcp_v4_frame(client(8), 1000, VIP, 80, SYN, b""),
        0,
    ));
    assert_eq!(hop, ip(RS2));
    assert_eq!(d.reals_of(svc).unwrap(), [r2]);

    let mut d = director(DirectorConfig::default());
    let (_, r1, _) = web(&mut d, proto::UDP, None, Forward::Nat);
    let q = |d: &mut Director, t| {
        fwd(d.process(
            Instant::from_millis(t),
            &mut udp_v4_frame(client(7), 5000, VIP, 80, b"q"),
            0,
        ))
        .0
    };
    assert_eq!(q(&mut d, 0), ip(RS1));
    assert_eq!(q(&mut d, 1), ip(RS1), "the flow sticks");
    d.remove_real(r1).unwrap();
    assert_eq!(q(&mut d, 2), ip(RS2), "the UDP flow is scheduled again");
    assert_eq!(q(&mut d, 3), ip(RS2));
}

#[test]
fn quiesced_servers_keep_their_flows_and_take_no_new_ones_and_drains_end() {
    let mut d = director(DirectorConfig::default());
    let (_, r1, r2) = web(&mut d, proto::TCP, None, Forward::Nat);
    fwd(d.process(
        Instant::ZERO,
        &mut tcp_v4_frame(client(1), 1000, VIP, 80, SYN, b""),
        0,
    ));
    d.drain_real(r1, Instant::ZERO, Duration::from_secs(30))
        .unwrap();
    let (hop, _) = fwd(d.process(
        Instant::from_secs(1),
        &mut tcp_v4_frame(client(1), 1000, VIP, 80, ACK, b""),
        0,
    ));
    assert_eq!(hop, ip(RS1), "the existing flow stays");
    for n in 2..5 {
        let (hop, _) = fwd(d.process(
            Instant::from_secs(1),
            &mut tcp_v4_frame(client(n), 1000, VIP, 80, SYN, b""),
            0,
        ));
        assert_eq!(hop, ip(RS2));
    }
    assert_eq!(
        d.poll_timeout().map(|t| t <= Instant::from_secs(30)),
        Some(true)
    );
    d.handle_timeout(Instant::from_secs(30));
    assert!(matches!(d.real(r1), Err(_) | Ok((_, RealState::Removed))));
    d.edit_real(r2, 0, 0, 0).unwrap();
    let v = d.process(
        Instant::from_secs(31),
        &mut tcp_v4_frame(client(9), 1000, VIP, 80, SYN, b""),
        0,
    );
    assert_eq!(v, Verdict::Drop(DropReason::NoDestination));
}

#[test]
fn direct_routing_rewrites_only_macs_and_ttl() {
    let mut d = director(DirectorConfig::default());
    web(&mut d, proto::TCP, None, Forward::Dr);
    let orig = tcp_v4_frame(client(7), 40000, VIP, 80, SYN, b"");
    let mut f = orig.clone();
    let (hop, len) = fwd(d.process(Instant::ZERO, &mut f, 0));
    assert_eq!((hop, len), (ip(RS1), orig.len()));
    assert_eq!(
        &f[0..6],
        &[0x02, 0, 0, 0, 0, 11],
        "destination MAC is the real server's"
    );
    assert_eq!(&f[6..12], &DirectorConfig::default().mac);
    let v = PacketView::parse_ethernet(&f).unwrap();
    assert_eq!(
        (v.dst, v.dst_port, v.ttl),
        (ip(VIP), 80, 63),
        "addresses and ports unchanged"
    );
    verify_checksums(&f, &v).unwrap();
    // Half connection: the client's FIN in ESTABLISHED goes to FIN_WAIT.
    fwd(d.process(
        Instant::ZERO,
        &mut tcp_v4_frame(client(7), 40000, VIP, 80, ACK, b""),
        0,
    ));
    fwd(d.process(
        Instant::ZERO,
        &mut tcp_v4_frame(client(7), 40000, VIP, 80, TcpFlags::FIN | ACK, b""),
        0,
    ));
    assert_eq!(d.connections(Instant::ZERO)[0].state, "FIN_WAIT");
}

#[test]
fn tunnels_encapsulate_and_answer_too_big_packets() {
    let cfg = DirectorConfig {
        tunnel_source_v4: Some(ip([10, 0, 0, 1])),
        mtu: 1500,
        ..DirectorConfig::default()
    };
    let mut d = director(cfg);
    web(&mut d, proto::TCP, None, Forward::Tun);
    let inner = tcp_v4_frame(client(7), 40000, VIP, 80, SYN, b"");
    let mut f = inner.clone();
    let (hop, len) = fwd(d.process(Instant::ZERO, &mut f, 0));
    assert_eq!(hop, ip(RS1));
    assert_eq!(len, inner.len() + 20);
    let outer = PacketView::parse_ethernet(&f[..len]).unwrap();
    assert_eq!(
        (outer.protocol, outer.src, outer.dst, outer.ttl),
        (4, ip([10, 0, 0, 1]), ip(RS1), 63)
    );
    verify_checksums(&f, &outer).unwrap();
    let inner_view = PacketView::parse_ip(&f[34..len]).unwrap();
    assert_eq!((inner_view.dst, inner_view.dst_port), (ip(VIP), 80));

    // 1490 bytes of IP with DF do not fit 1500 - 20: fragmentation needed, MTU 1480.
    let mut big = tcp_v4_frame(client(8), 40000, VIP, 80, SYN, &[0u8; 1450]);
    let Verdict::Reply { len } = d.process(Instant::ZERO, &mut big, 0) else {
        panic!("expected an ICMP reply")
    };
    let v = PacketView::parse_ethernet(&big[..len]).unwrap();
    assert_eq!((v.src, v.dst), (ip(VIP), ip(client(8))));
    let Transport::IcmpError {
        icmp_type: 3,
        code: 4,
        quoted,
    } = v.transport
    else {
        panic!("{:?}", v.transport)
    };
    assert_eq!(quoted.flow.dst_port, 80);
    assert_eq!(u16::from_be_bytes([big[34 + 6], big[34 + 7]]), 1480);
    verify_checksums(&big[..len], &v).unwrap();
}

#[test]
fn icmp_errors_from_a_nat_real_server_are_translated_for_the_client() {
    let mut d = director(DirectorConfig::default());
    web(&mut d, proto::UDP, None, Forward::Nat);
    let mut q = udp_v4_frame(client(7), 5000, VIP, 80, b"query");
    fwd(d.process(Instant::ZERO, &mut q, 0));
    // The real server answers port unreachable about the DNATed datagram it received.
    let mut err = icmp_v4_error(
        Ipv4Addr::from(RS1),
        Ipv4Addr::from(client(7)),
        3,
        3,
        0,
        &q,
        33,
    );
    let (hop, len) = fwd(d.process(Instant::from_millis(1), &mut err, 0));
    assert_eq!(hop, ip(client(7)));
    let v = PacketView::parse_ethernet(&err[..len]).unwrap();
    assert_eq!(v.src, ip(VIP));
    let Transport::IcmpError { quoted, .. } = v.transport else {
        panic!()
    };
    assert_eq!((quoted.flow.dst, quoted.flow.dst_port), (ip(VIP), 80));
    verify_checksums(&err[..len], &v).unwrap();
}

#[test]
fn udp_activity_accounting_is_opt_in() {
    let key = |d: &Director| {
        d.find_service(ServiceKey::Addr {
            protocol: proto::UDP,
            addr: ip(VIP),
            port: 80,
        })
        .unwrap()
    };
    let mut d = director(DirectorConfig::default());
    let (_, r1, _) = web(&mut d, proto::UDP, None, Forward::Nat);
    fwd(d.process(
        Instant::ZERO,
        &mut udp_v4_frame(client(7), 5000, VIP, 80, b"q"),
        0,
    ));
    let load = d.scheduler(key(&d)).unwrap().load(DestId(r1.0)).unwrap();
    assert_eq!(
        (load.active, load.inactive),
        (0, 1),
        "kernel rule: UDP is inactive"
    );

    let cfg = DirectorConfig {
        udp_accounting: UdpAccounting::Activity {
            idle: Duration::from_secs(5),
        },
        ..Default::default()
    };
    let mut d = director(cfg);
    let (_, r1, _) = web(&mut d, proto::UDP, None, Forward::Nat);
    fwd(d.process(
        Instant::ZERO,
        &mut udp_v4_frame(client(7), 5000, VIP, 80, b"q"),
        0,
    ));
    let load = |d: &Director| d.scheduler(key(d)).unwrap().load(DestId(r1.0)).unwrap();
    assert_eq!(
        (load(&d).active, load(&d).inactive),
        (1, 0),
        "active while packets flow"
    );
    d.handle_timeout(Instant::from_secs(4));
    assert_eq!(load(&d).active, 1);
    d.handle_timeout(Instant::from_secs(6));
    assert_eq!(
        (load(&d).active, load(&d).inactive),
        (0, 1),
        "idle for 5 s: inactive"
    );
    fwd(d.process(
        Instant::from_secs(7),
        &mut udp_v4_frame(client(7), 5000, VIP, 80, b"q"),
        0,
    ));
    assert_eq!(load(&d).active, 1, "a new packet makes it active again");
    d.handle_timeout(Instant::from_secs(13));
    assert_eq!(d.conn_count(), 1, "still tracked");
    d.handle_timeout(Instant::from_secs(308));
    assert_eq!(d.conn_count(), 0, "expires 300 s after its last packet");
    assert_eq!((load(&d).active, load(&d).inactive), (0, 0));
}

#[test]
fn a_syn_flood_on_a_full_table_keeps_established_flows_served() {
    let cfg = DirectorConfig {
        max_conns: 200,
        ..DirectorConfig::default()
    };
    let mut d = director(cfg);
    web(&mut d, proto::TCP, None, Forward::Nat);
    // 50 established clients.
    for n in 0..50u8 {
        let c = [192, 0, 2, n];
        fwd(d.process(
            Instant::ZERO,
            &mut tcp_v4_frame(c, 1000, VIP, 80, SYN, b""),
            0,
        ));
        fwd(d.process(
            Instant::ZERO,
            &mut tcp_v4_frame(c, 1000, VIP, 80, ACK, b""),
            0,
        ));
    }
    // 5000 spoofed SYNs.
    for i in 0..5000u32 {
        let c = [203, 0, (i >> 8) as u8, i as u8];
        let _ = d.process(
            Instant::from_millis(1),
            &mut tcp_v4_frame(c, 2000, VIP, 80, SYN, b""),
            0,
        );
    }
    assert!(d.conn_count() <= 200);
    for n in 0..50u8 {
        let v = d.process(
            Instant::from_millis(2),
            &mut tcp_v4_frame([192, 0, 2, n], 1000, VIP, 80, ACK, b"x"),
            0,
        );
        assert!(
            matches!(v, Verdict::Forward { .. }),
            "established client {n}: {v:?}"
        );
    }
}

#[test]
fn rates_follow_the_kernel_estimator() {
    let mut d = director(DirectorConfig::default());
    let (svc, _, _) = web(&mut d, proto::UDP, None, Forward::Nat);
    // 10 new flows and 10 packets of 33 IP bytes every 2 s, for a minute.
    let mut n = 0u32;
    for period in 0..30u64 {
        for _ in 0..10 {
            n += 1;
            let c = [192, 0, (n >> 8) as u8, n as u8];
            fwd(d.process(
                Instant::from_secs(period * 2),
                &mut udp_v4_frame(c, 5000, VIP, 80, b"hello"),
                0,
            ));
        }
        d.handle_timeout(Instant::from_secs(period * 2 + 1));
    }
    let r = d.service_stats(svc).unwrap().rates;
    // Steady state: 5 connections/s, 5 packets/s, 165 bytes/s.
    assert_eq!((r.cps, r.in_pps, r.out_pps), (5, 5, 0), "{r:?}");
    assert_eq!(r.in_bps, 165, "{r:?}");
    // One quiet period: the average falls by a quarter (3.75 rounds to 4).
    d.handle_timeout(Instant::from_secs(60));
    assert_eq!(d.service_stats(svc).unwrap().rates.cps, 4);
}

#[test]
fn a_fwmark_service_keeps_http_and_https_of_one_client_together() {
    let mut d = director(DirectorConfig::default());
    let p = Persistence {
        timeout: Duration::from_secs(300),
        v4_prefix: 32,
        v6_prefix: 128,
    };
    let cfg = ServiceConfig {
        key: ServiceKey::Fwmark(1),
        persistence: Some(p),
        one_packet: false,
    };
    let svc = d.add_service(cfg, TestRr::boxed()).unwrap();
    for a in [11, 12] {
        d.add_real(
            svc,
            RealConfig {
                forward: Forward::Dr,
                ..RealConfig::nat(ip([10, 0, 0, a]), 0)
            },
        )
        .unwrap();
    }
    // The firewall marks both ports with 1; the first client's ports stick, the second client
    // is scheduled on its own.
    let (h80, _) = fwd(d.process(
        Instant::ZERO,
        &mut tcp_v4_frame(client(7), 1000, VIP, 80, SYN, b""),
        1,
    ));
    let (h443, _) = fwd(d.process(
        Instant::ZERO,
        &mut tcp_v4_frame(client(7), 1001, VIP, 443, SYN, b""),
        1,
    ));
    assert_eq!(h80, h443);
    let (other, _) = fwd(d.process(
        Instant::ZERO,
        &mut tcp_v4_frame(client(8), 1000, VIP, 443, SYN, b""),
        1,
    ));
    assert_ne!(other, h80, "round robin moved on for the next client");
    // Without the mark, port 443 on the VIP is not a service.
    assert_eq!(
        d.process(
            Instant::ZERO,
            &mut tcp_v4_frame(client(9), 1000, VIP, 443, SYN, b""),
            0
        ),
        Verdict::Local
    );
}

#[test]
fn ipv6_nat_round_trip() {
    use lvs_core::packet::testing::tcp_v6_frame;
    let vip: core::net::Ipv6Addr = "2001:db8:1::1".parse().unwrap();
    let rs: core::net::Ipv6Addr = "fd00::11".parse().unwrap();
    let c: core::net::Ipv6Addr = "2001:db8:2::7".parse().unwrap();
    let mut d = director(DirectorConfig::default());
    let key = ServiceKey::Addr {
        protocol: proto::TCP,
        addr: IpAddr::V6(vip),
        port: 443,
    };
    let svc = d
        .add_service(ServiceConfig::new(key), TestRr::boxed())
        .unwrap();
    d.add_real(svc, RealConfig::nat(IpAddr::V6(rs), 8443))
        .unwrap();
    let mut f = tcp_v6_frame(c, 40000, vip, 443, SYN, b"");
    let (hop, len) = fwd(d.process(Instant::ZERO, &mut f, 0));
    assert_eq!(hop, IpAddr::V6(rs));
    let v = PacketView::parse_ethernet(&f[..len]).unwrap();
    assert_eq!((v.dst, v.dst_port, v.ttl), (IpAddr::V6(rs), 8443, 63));
    verify_checksums(&f[..len], &v).unwrap();
    let mut r = tcp_v6_frame(rs, 8443, c, 40000, SYN | ACK, b"");
    let (hop, len) = fwd(d.process(Instant::ZERO, &mut r, 0));
    assert_eq!(hop, IpAddr::V6(c));
    let v = PacketView::parse_ethernet(&r[..len]).unwrap();
    assert_eq!((v.src, v.src_port), (IpAddr::V6(vip), 443));
    verify_checksums(&r[..len], &v).unwrap();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Random operation sequences keep the director's invariants (the `director_ops` fuzz
    /// checker): nothing forwarded to a removed real server, the table bound, and scheduler
    /// counts equal to the director's.
    #[test]
    fn random_operations_keep_the_invariants(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..600)) {
        lvs_core::fuzzing::director_ops(&data);
    }
}

#[test]
fn quiesce_server_restarts_the_least_connection_counts_when_a_server_comes_online() {
    let mut d = director(DirectorConfig::default());
    let (svc, r1, r2) = web(&mut d, proto::TCP, None, Forward::Nat);
    d.set_quiesce_server(svc, true).unwrap();
    d.edit_real(r2, 0, 0, 0).unwrap();
    for n in 0..6u8 {
        fwd(d.process(
            Instant::ZERO,
            &mut tcp_v4_frame(client(n), 1000, VIP, 80, SYN, b""),
            0,
        ));
    }
    let load = |d: &Director, r: RealId| d.scheduler(svc).unwrap().load(DestId(r.0)).unwrap();
    assert_eq!(load(&d, r1).active, 6);
    // r2 comes back online: every count starts from zero, the old flows keep flowing.
    d.edit_real(r2, 1, 0, 0).unwrap();
    assert_eq!((load(&d, r1).active, load(&d, r2).active), (0, 0));
    assert_eq!(d.real_stats(r1).unwrap().active, 0);
    let (hop, _) = fwd(d.process(
        Instant::from_secs(1),
        &mut tcp_v4_frame(client(0), 1000, VIP, 80, ACK, b""),
        0,
    ));
    assert_eq!(hop, ip(RS1), "an old flow still reaches its server");
    // Old flows ending do not disturb the fresh counts.
    d.handle_timeout(Instant::from_secs(1000));
    assert_eq!(d.conn_count(), 0);
    assert_eq!((load(&d, r1).active, load(&d, r1).inactive), (0, 0));
}

#[test]
fn drop_packet_refuses_a_share_of_new_connections_as_the_table_fills() {
    use lvs_core::director::DropPacket;
    let cfg = DirectorConfig {
        max_conns: 160,
        drop_packet: DropPacket::Auto,
        ..DirectorConfig::default()
    };
    let mut d = director(cfg);
    web(&mut d, proto::UDP, None, Forward::Nat);
    let mut admitted = 0;
    for i in 0..150u32 {
        let c = [203, 0, (i >> 8) as u8, i as u8];
        if matches!(
            d.process(Instant::ZERO, &mut udp_v4_frame(c, 5000, VIP, 80, b"q"), 0),
            Verdict::Forward { .. }
        ) {
            admitted += 1;
        }
    }
    // Nothing is refused while more than 160 / 16 = 10 slots are free.
    assert_eq!(admitted, 150);
    assert_eq!(d.drop_count(DropReason::Defense), 0);
    for i in 150..400u32 {
        let c = [203, 0, (i >> 8) as u8, i as u8];
        let _ = d.process(Instant::ZERO, &mut udp_v4_frame(c, 5000, VIP, 80, b"q"), 0);
    }
    assert!(d.drop_count(DropReason::Defense) > 0);
    assert!(d.conn_count() <= 160);

    let cfg = DirectorConfig {
        drop_packet: DropPacket::Always { rate: 4 },
        ..DirectorConfig::default()
    };
    let mut d = director(cfg);
    web(&mut d, proto::UDP, None, Forward::Nat);
    for i in 0..100u32 {
        let c = [203, 0, (i >> 8) as u8, i as u8];
        let _ = d.process(Instant::ZERO, &mut udp_v4_frame(c, 5000, VIP, 80, b"q"), 0);
    }
    assert_eq!(d.drop_count(DropReason::Defense), 25, "one in four");
}

#[test]
fn gue_and_ipv6_tunnels() {
    use lvs_core::director::TunnelType;
    let v6src: IpAddr = "fd00::1".parse().unwrap();
    let cfg = DirectorConfig {
        tunnel_source_v4: Some(ip([10, 0, 0, 1])),
        tunnel_source_v6: Some(v6src),
        ..DirectorConfig::default()
    };
    let mut d = director(cfg);
    let key = ServiceKey::Addr {
        protocol: proto::TCP,
        addr: ip(VIP),
        port: 80,
    };
    let svc = d
        .add_service(ServiceConfig::new(key), TestRr::boxed())
        .unwrap();
    let gue = TunnelType::Gue { port: 6080 };
    let rs6: IpAddr = "fd00::11".parse().unwrap();
    for (addr, tunnel) in [
        (ip(RS1), gue),
        (rs6, TunnelType::Ipip),
        (ip(RS2), TunnelType::Ipip),
    ] {
        d.add_real(
            svc,
            RealConfig {
                forward: Forward::Tun,
                tunnel,
                ..RealConfig::nat(addr, 80)
            },
        )
        .unwrap();
    }
    let send = |d: &mut Director, n: u8| {
        let mut f = tcp_v4_frame(client(n), 40000, VIP, 80, SYN, b"hello");
        let (hop, len) = fwd(d.process(Instant::ZERO, &mut f, 0));
        f.truncate(len);
        (hop, f)
    };
    // GUE over IPv4: IPv4 / UDP to 6080 / GUE (proto 4) / the original packet.
    let (hop, f) = send(&mut d, 1);
    assert_eq!(hop, ip(RS1));
    let outer = PacketView::parse_ethernet(&f).unwrap();
    assert_eq!(
        (outer.protocol, outer.dst_port, outer.dst),
        (proto::UDP, 6080, ip(RS1))
    );
    assert!((49152..=65535).contains(&outer.src_port));
    verify_checksums(&f, &outer).unwrap();
    let gue_at = outer.l4_offset + 8;
    assert_eq!(&f[gue_at..gue_at + 4], &[0, 4, 0, 0]);
    let inner = PacketView::parse_ip(&f[gue_at + 4..]).unwrap();
    assert_eq!((inner.dst, inner.dst_port, inner.ttl), (ip(VIP), 80, 63));

    // IPv4 inside IPv6 (next header 4), hop limit from the inner TTL.
    let (hop, f) = send(&mut d, 2);
    assert_eq!(hop, rs6);
    let outer = PacketView::parse_ethernet(&f).unwrap();
    assert_eq!(
        (outer.protocol, outer.src, outer.dst, outer.ttl),
        (4, v6src, rs6, 63)
    );
    assert_eq!(outer.ip_len, 40 + 20 + 20 + 5);

    // GUE over IPv6 carries a real UDP checksum.
    d.edit_real(d.reals_of(svc).unwrap()[1], 0, 0, 0).unwrap();
    let rs6b: IpAddr = "fd00::12".parse().unwrap();
    d.add_real(
        svc,
        RealConfig {
            forward: Forward::Tun,
            tunnel: gue,
            ..RealConfig::nat(rs6b, 80)
        },
    )
    .unwrap();
    let mut hops = Vec::new();
    for n in 3..7 {
        let (hop, f) = send(&mut d, n);
        if hop == rs6b {
            let outer = PacketView::parse_ethernet(&f).unwrap();
            assert_eq!((outer.protocol, outer.dst_port), (proto::UDP, 6080));
            assert_ne!(&f[outer.l4_offset + 6..outer.l4_offset + 8], &[0, 0]);
            verify_checksums(&f, &outer).unwrap();
        }
        hops.push(hop);
    }
    assert!(hops.contains(&rs6b));
    // Too big for GUE over IPv6 (1500 - 52 = 1448 bytes fit): fragmentation needed, MTU 1448.
    let mut d = director(cfg);
    let svc = d
        .add_service(ServiceConfig::new(key), TestRr::boxed())
        .unwrap();
    d.add_real(
        svc,
        RealConfig {
            forward: Forward::Tun,
            tunnel: gue,
            ..RealConfig::nat(rs6b, 80)
        },
    )
    .unwrap();
    let mut fits = tcp_v4_frame(client(9), 40000, VIP, 80, SYN, &[0u8; 1448 - 40]);
    assert!(matches!(
        d.process(Instant::ZERO, &mut fits, 0),
        Verdict::Forward { .. }
    ));
    let mut big = tcp_v4_frame(client(9), 40001, VIP, 80, SYN, &[0u8; 1449 - 40]);
    let Verdict::Reply { len } = d.process(Instant::ZERO, &mut big, 0) else {
        panic!("expected fragmentation needed")
    };
    assert_eq!(u16::from_be_bytes([big[34 + 6], big[34 + 7]]), 1448);
    verify_checksums(
        &big[..len],
        &PacketView::parse_ethernet(&big[..len]).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_batch_gives_the_same_verdicts_and_frames_as_one_by_one() {
    let mk = || {
        let mut d = director(DirectorConfig::default());
        web(&mut d, proto::TCP, None, Forward::Nat);
        d
    };
    let (mut one, mut batch) = (mk(), mk());
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for n in 0..40u8 {
        frames.push(tcp_v4_frame(client(n), 1000, VIP, 80, SYN, b""));
        frames.push(tcp_v4_frame(client(n), 1000, VIP, 80, ACK, b"x"));
        let rs = if n % 2 == 0 { RS1 } else { RS2 };
        frames.push(tcp_v4_frame(rs, 8080, client(n), 1000, ACK, b"y"));
        frames.push(vec![0u8; 10]);
    }
    let mut a = frames.clone();
    let va: Vec<Verdict> = a
        .iter_mut()
        .map(|f| one.process(Instant::ZERO, f, 0))
        .collect();
    let mut b = frames;
    let mut vb = vec![Verdict::Local; b.len()];
    batch.process_batch(Instant::ZERO, &mut b, 0, &mut vb);
    assert_eq!(va, vb);
    assert_eq!(a, b);
    assert!(
        va.iter()
            .filter(|v| matches!(v, Verdict::Forward { .. }))
            .count()
            >= 120
    );
}

#[test]
fn one_packet_scheduling_and_ipvsadm_set_timeouts() {
    let mut d = director(DirectorConfig::default());
    let key = ServiceKey::Addr {
        protocol: proto::UDP,
        addr: ip(VIP),
        port: 53,
    };
    let svc = d
        .add_service(
            ServiceConfig {
                key,
                persistence: None,
                one_packet: true,
            },
            TestRr::boxed(),
        )
        .unwrap();
    d.add_real(svc, RealConfig::nat(ip(RS1), 53)).unwrap();
    d.add_real(svc, RealConfig::nat(ip(RS2), 53)).unwrap();
    // Every datagram of the same flow is scheduled on its own and nothing is tracked.
    let hops: Vec<IpAddr> = (0..4)
        .map(|_| {
            fwd(d.process(
                Instant::ZERO,
                &mut udp_v4_frame(client(7), 5000, VIP, 53, b"q"),
                0,
            ))
            .0
        })
        .collect();
    assert_eq!(hops, [ip(RS1), ip(RS2), ip(RS1), ip(RS2)]);
    assert_eq!(d.conn_count(), 0);
    assert_eq!(d.service_stats(svc).unwrap().counters.conns, 4);

    // --set 60 30 10: ESTABLISHED 60 s, FIN_WAIT 30 s, UDP 10 s; zero keeps a value.
    let mut d = director(DirectorConfig::default());
    web(&mut d, proto::TCP, None, Forward::Nat);
    d.set_timeouts(
        Duration::from_secs(60),
        Duration::from_secs(30),
        Duration::ZERO,
    );
    assert_eq!(d.config().udp_timeout, Duration::from_secs(300));
    fwd(d.process(
        Instant::ZERO,
        &mut tcp_v4_frame(client(7), 1000, VIP, 80, SYN, b""),
        0,
    ));
    fwd(d.process(
        Instant::ZERO,
        &mut tcp_v4_frame(client(7), 1000, VIP, 80, ACK, b""),
        0,
    ));
    assert!(d.connections(Instant::ZERO)[0].expires_in <= Duration::from_millis(60_063));
    d.handle_timeout(Instant::from_secs(61));
    assert_eq!(d.conn_count(), 0);
}

/// `conn_reuse_mode`: a client that reuses its port after TIME_WAIT (NAT) or FIN_WAIT with no
/// output (DR) gets a freshly scheduled connection; mode 0 and template-controlled
/// connections keep the old real server.
#[test]
fn a_reused_client_port_is_scheduled_afresh_as_conn_reuse_mode_says() {
    const FIN: u8 = TcpFlags::FIN;
    let dest = |d: &mut Director, flags: u8, now: u64| -> IpAddr {
        let mut f = tcp_v4_frame(client(9), 41000, VIP, 80, flags, b"");
        fwd(d.process(Instant::from_secs(now), &mut f, 0)).0
    };
    let reply = |d: &mut Director, from: [u8; 4], flags: u8, now: u64| {
        let mut f = tcp_v4_frame(from, 8080, client(9), 41000, flags, b"");
        fwd(d.process(Instant::from_secs(now), &mut f, 0));
    };
    for (mode, forward, moves) in [
        (1, Forward::Nat, true),
        (0, Forward::Nat, false),
        (1, Forward::Dr, false),
        (3, Forward::Dr, true),
    ] {
        let mut d = director(DirectorConfig {
            conn_reuse_mode: mode,
            ..DirectorConfig::default()
        });
        let (svc, _, _) = web(&mut d, proto::TCP, None, forward);
        let first = dest(&mut d, SYN, 0);
        let rs = if first == ip(RS1) { RS1 } else { RS2 };
        if forward == Forward::Nat {
            // Full close seen both ways: SYN, SYN-ACK, ACK, FIN, FIN, ACK -> TIME_WAIT.
            reply(&mut d, rs, SYN | ACK, 0);
            dest(&mut d, ACK, 0);
            dest(&mut d, FIN | ACK, 1);
            reply(&mut d, rs, FIN | ACK, 1);
            dest(&mut d, ACK, 1);
        } else {
            // DR sees the client only: ACK, FIN -> FIN_WAIT (no output).
            dest(&mut d, ACK, 0);
            dest(&mut d, FIN | ACK, 1);
        }
        let conns_before = d.service_stats(svc).unwrap().counters.conns;
        let again = dest(&mut d, SYN, 2);
        assert_eq!(again != first, moves, "mode {mode} {forward:?}");
        assert_eq!(
            d.service_stats(svc).unwrap().counters.conns,
            conns_before + u64::from(moves),
            "a rescheduled SYN is a new connection (mode {mode} {forward:?})"
        );
    }

    // A connection controlled by a persistence template keeps its server.
    let mut d = director(DirectorConfig::default());
    web(
        &mut d,
        proto::TCP,
        Some(Persistence::default()),
        Forward::Nat,
    );
    let first = dest(&mut d, SYN, 0);
    let rs = if first == ip(RS1) { RS1 } else { RS2 };
    reply(&mut d, rs, SYN | ACK, 0);
    dest(&mut d, ACK, 0);
    dest(&mut d, FIN | ACK, 1);
    reply(&mut d, rs, FIN | ACK, 1);
    dest(&mut d, ACK, 1);
    assert_eq!(dest(&mut d, SYN, 2), first);
}
