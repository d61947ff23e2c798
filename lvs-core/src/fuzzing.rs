//! Fuzz entry points. Each `fuzz/fuzz_targets/*.rs` target is a one-line call into a function
//! here, and `cargo test` replays the committed corpus in `fuzz/corpus/<target>/` through the
//! same function. Every function panics only when an invariant of this crate is broken.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::time::Duration;
use std::collections::HashMap;

use crate::Instant;
use crate::conntrack::{ConnFlags, ConnKey, ConnTable, NewConn, TableFull};
use crate::packet::{
    Family, PacketView, Side, Transport, decrement_ttl, rewrite, rewrite_icmp_error,
    verify_checksums,
};

/// Arbitrary bytes as an Ethernet frame and as a raw IP packet: parsing never panics, and every
/// rewrite that succeeds leaves a frame that parses back to the updated view. ICMP error
/// translation leaves every checksum valid.
pub fn packet_frame(data: &[u8]) {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    assert_eq!(
        PacketView::parse_ethernet(frame),
        PacketView::parse_ethernet_slow(frame),
        "the fast path and etherparse agree"
    );
    for ethernet in [true, false] {
        let parse = |b: &[u8]| {
            if ethernet {
                PacketView::parse_ethernet(b)
            } else {
                PacketView::parse_ip(b)
            }
        };
        let Ok(mut view) = parse(frame) else {
            continue;
        };
        let _ = verify_checksums(frame, &view);
        let mut buf = frame.to_vec();
        let addr = match view.family {
            Family::V4 => IpAddr::V4(Ipv4Addr::new(10, selector, 0, 1)),
            Family::V6 => IpAddr::V6(Ipv6Addr::new(0xfd00, u16::from(selector), 0, 0, 0, 0, 0, 1)),
        };
        let side = if selector & 1 == 0 {
            Side::Dst
        } else {
            Side::Src
        };
        let port = u16::from(selector) * 257;
        if rewrite(&mut buf, &mut view, side, addr, port).is_ok() {
            let again = parse(&buf).expect("a rewritten frame parses");
            assert_eq!(again, view, "rewritten frame parses to the updated view");
        }
        decrement_ttl(&mut buf, &mut view);
        let again = parse(&buf).expect("a frame with a decremented TTL parses");
        assert_eq!(again.ttl, view.ttl);
        if let Transport::IcmpError { quoted, .. } = view.transport {
            let qaddr = match quoted.flow.family() {
                Family::V4 => IpAddr::V4(Ipv4Addr::new(10, 0, selector, 2)),
                Family::V6 => {
                    IpAddr::V6(Ipv6Addr::new(0xfd00, 0, u16::from(selector), 0, 0, 0, 0, 2))
                }
            };
            if rewrite_icmp_error(&mut buf, &mut view, Some((side, addr)), (side, qaddr, port))
                .is_ok()
            {
                let again = parse(&buf).expect("a translated ICMP error parses");
                verify_checksums(&buf, &again)
                    .expect("a translated ICMP error has valid checksums");
            }
        }
    }
}

/// Bytes as a sequence of connection-table operations checked against a plain map: lookups
/// agree, the length agrees, nothing expires early and nothing stays more than one tick past
/// its deadline.
pub fn conntrack_ops(data: &[u8]) {
    const MAX: usize = 64;
    let mut rng = rand_core_from(data);
    let mut t = ConnTable::new(MAX, &mut rng, Instant::ZERO);
    let mut model: HashMap<u32, Instant> = HashMap::new();
    let mut now = Instant::ZERO;
    let key = |k: u32| ConnKey {
        protocol: 6,
        caddr: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + (k >> 4))),
        cport: (k & 0xf) as u16,
        vip: 0,
        vport: 80,
    };
    for op in data.chunks_exact(3) {
        let k = u32::from(op[1] % 128);
        let d = Duration::from_millis(u64::from(op[2]) * 250 + 1);
        match op[0] % 4 {
            0 => {
                if model.contains_key(&k) {
                    continue;
                }
                let new = NewConn {
                    key: key(k),
                    svc: 0,
                    dest: k,
                    state: 0,
                    flags: ConnFlags(0),
                    control: u32::MAX,
                };
                match t.insert(now, new, d) {
                    Ok(_) => {
                        model.insert(k, now + d);
                    }
                    Err(TableFull) => assert_eq!(model.len(), MAX, "refused below the bound"),
                }
            }
            1 => {
                let id = t.lookup_in(&key(k));
                assert_eq!(id.is_some(), model.contains_key(&k), "lookup of {k}");
                if let Some(id) = id {
                    assert_eq!(t.remove(id).dest, k);
                    model.remove(&k);
                }
            }
            2 => {
                if let Some(id) = t.lookup_in(&key(k)) {
                    t.refresh(id, now, d);
                    model.insert(k, now + d);
                }
            }
            _ => {
                now += Duration::from_millis(u64::from(op[1]) * u64::from(op[2]) * 4);
                let mut expired = Vec::new();
                t.handle_timeout(now, |_, c| {
                    expired.push(c.dest);
                    None
                });
                for k in expired {
                    let due = model.remove(&k).expect("expired entry was live");
                    assert!(due <= now, "{k} expired early");
                }
                for (k, due) in &model {
                    assert!(*due + Duration::from_millis(63) > now, "{k} overdue");
                }
            }
        }
        assert_eq!(t.len(), model.len());
    }
}

/// A deterministic RNG for the table's hash keys, seeded from the input.
fn rand_core_from(data: &[u8]) -> SplitMix {
    SplitMix(data.iter().fold(0x9e37_79b9_7f4a_7c15, |a, &b| {
        a.rotate_left(5) ^ u64::from(b)
    }))
}

struct SplitMix(u64);

impl rand_core::TryRng for SplitMix {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        Ok(crate::rng::derive_seed(self.0, 0))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

/// Bytes as a sequence of director operations (frames in both directions, real-server changes,
/// time): no panic, no frame ever forwarded to a removed real server, the table bound holds,
/// and the scheduler's connection counts always equal the director's.
pub fn director_ops(data: &[u8]) {
    use crate::director::testing::RoundRobin;
    use crate::director::{
        Director, DirectorConfig, Forward, RealConfig, RealId, RealState, ServiceConfig, Verdict,
    };
    use crate::packet::testing::{tcp_v4_frame, udp_v4_frame};
    use crate::service::{Persistence, ServiceKey};
    use crate::{DestId, proto};

    let Some((&setup, ops)) = data.split_first() else {
        return;
    };
    let vip = [198, 51, 100, 1];
    let cfg = DirectorConfig {
        max_conns: 32,
        tunnel_source_v4: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
        udp_accounting: if setup & 1 == 0 {
            crate::director::UdpAccounting::Kernel
        } else {
            crate::director::UdpAccounting::Activity {
                idle: Duration::from_secs(5),
            }
        },
        conn_reuse_mode: (setup >> 2) & 3,
        ..DirectorConfig::default()
    };
    let mut rng = rand_core_from(data);
    let mut d = Director::new(cfg, &mut rng, Instant::ZERO);
    let persistence = (setup & 2 != 0).then(Persistence::default);
    let mut svcs = Vec::new();
    for protocol in [proto::TCP, proto::UDP] {
        let key = ServiceKey::Addr {
            protocol,
            addr: IpAddr::V4(vip.into()),
            port: 80,
        };
        let svc = d
            .add_service(
                ServiceConfig {
                    key,
                    persistence,
                    one_packet: false,
                },
                RoundRobin::boxed(),
            )
            .expect("fresh service");
        d.set_quiesce_server(svc, setup & 8 != 0)
            .expect("service exists");
        svcs.push(svc);
    }
    let forward = [Forward::Nat, Forward::Dr, Forward::Tun][usize::from(setup >> 2) % 3];
    let mut reals: Vec<(RealId, u8)> = Vec::new();
    let mut now = Instant::ZERO;
    for op in ops.chunks_exact(4) {
        let (a, b, c) = (op[1], op[2], op[3]);
        match op[0] % 8 {
            0 => {
                let svc = svcs[usize::from(a & 1)];
                let host = 10 + (b % 8);
                let rc = RealConfig {
                    forward,
                    weight: u32::from(c % 4),
                    ..RealConfig::nat(IpAddr::V4([10, 0, 0, host].into()), 8080)
                };
                if let Ok(id) = d.add_real(svc, rc) {
                    reals.push((id, host));
                }
            }
            1 => {
                if let Some(&(id, _)) = reals.get(usize::from(a) % reals.len().max(1)) {
                    let _ = d.remove_real(id);
                }
            }
            2 => {
                if let Some(&(id, _)) = reals.get(usize::from(a) % reals.len().max(1)) {
                    let _ = d.edit_real(id, u32::from(b % 4), u32::from(c % 8), 0);
                }
            }
            3 => {
                if let Some(&(id, _)) = reals.get(usize::from(a) % reals.len().max(1)) {
                    let _ = d.drain_real(id, now, Duration::from_secs(u64::from(b)));
                }
            }
            4 | 5 => {
                let client = [192, 0, 2, a % 16];
                let mut f = if op[0] % 8 == 4 {
                    tcp_v4_frame(client, 1000 + u16::from(b % 4), vip, 80, c & 0x1f, b"")
                } else {
                    udp_v4_frame(client, 1000 + u16::from(b % 4), vip, 80, b"q")
                };
                let removed: Vec<IpAddr> = reals
                    .iter()
                    .filter(|(id, _)| d.real(*id).map_or(true, |(_, s)| s == RealState::Removed))
                    .map(|(_, h)| IpAddr::V4([10, 0, 0, *h].into()))
                    .collect();
                let live: Vec<IpAddr> = reals
                    .iter()
                    .filter(|(id, _)| d.real(*id).is_ok_and(|(_, s)| s != RealState::Removed))
                    .map(|(_, h)| IpAddr::V4([10, 0, 0, *h].into()))
                    .collect();
                if let Verdict::Forward { next_hop, .. } = d.process(now, &mut f, 0) {
                    assert!(
                        live.contains(&next_hop) || !removed.contains(&next_hop),
                        "forwarded to removed real server {next_hop}"
                    );
                }
            }
            6 => {
                // A reply from a real server (only NAT replies are tracked).
                if let Some(&(_, host)) = reals.get(usize::from(a) % reals.len().max(1)) {
                    let mut f = tcp_v4_frame(
                        [10, 0, 0, host],
                        8080,
                        [192, 0, 2, b % 16],
                        1000 + u16::from(c % 4),
                        0x12,
                        b"",
                    );
                    let _ = d.process(now, &mut f, 0);
                }
            }
            _ => {
                now += Duration::from_millis(u64::from(a) * u64::from(b) * 20);
                d.handle_timeout(now);
            }
        }
        assert!(d.conn_count() <= 32, "table bound");
        for &svc in &svcs {
            let Ok(ids) = d.reals_of(svc) else { continue };
            for &id in ids {
                let load = d
                    .scheduler(svc)
                    .expect("service")
                    .load(DestId(id.0))
                    .expect("scheduler knows the real");
                let st = d.real_stats(id).expect("stats");
                assert_eq!(
                    (load.active, load.inactive),
                    (st.active, st.inactive),
                    "counts agree for {id:?}"
                );
            }
        }
    }
}
