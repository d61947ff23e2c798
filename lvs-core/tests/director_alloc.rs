//! The director's hit path allocates nothing: a counting global allocator (this test binary
//! only) watches NAT packets of established connections in both directions.

use core::net::{IpAddr, Ipv4Addr};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use lvs_core::Instant;
use lvs_core::director::testing::RoundRobin as TestRr;
use lvs_core::director::{Director, DirectorConfig, RealConfig, ServiceConfig, Verdict};
use lvs_core::packet::TcpFlags;
use lvs_core::packet::testing::tcp_v4_frame;
use lvs_core::proto;
use lvs_core::service::ServiceKey;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: defers every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn the_nat_hit_path_does_not_allocate() {
    let vip = [198, 51, 100, 1];
    let mut d = Director::new(
        DirectorConfig::default(),
        &mut ChaCha8Rng::seed_from_u64(3),
        Instant::ZERO,
    );
    let key = ServiceKey::Addr {
        protocol: proto::TCP,
        addr: IpAddr::V4(Ipv4Addr::from(vip)),
        port: 80,
    };
    let svc = d
        .add_service(ServiceConfig::new(key), TestRr::boxed())
        .unwrap();
    for i in 0..4u8 {
        d.add_real(
            svc,
            RealConfig::nat(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 10 + i)), 8080),
        )
        .unwrap();
    }
    let clients: Vec<[u8; 4]> = (0..256u32)
        .map(|i| [192, 0, 2 + (i >> 8) as u8, i as u8])
        .collect();
    let mut buf = Vec::with_capacity(2048);
    let mut servers = Vec::new();
    for c in &clients {
        buf.clear();
        buf.extend_from_slice(&tcp_v4_frame(*c, 40000, vip, 80, TcpFlags::SYN, b""));
        let Verdict::Forward { next_hop, .. } = d.process(Instant::ZERO, &mut buf, 0) else {
            panic!()
        };
        servers.push(next_hop);
    }
    let inbound: Vec<Vec<u8>> = clients
        .iter()
        .map(|c| tcp_v4_frame(*c, 40000, vip, 80, TcpFlags::ACK, b""))
        .collect();
    let outbound: Vec<Vec<u8>> = clients
        .iter()
        .zip(&servers)
        .map(|(c, s)| {
            let IpAddr::V4(s) = s else { unreachable!() };
            tcp_v4_frame(s.octets(), 8080, *c, 40000, TcpFlags::ACK, b"")
        })
        .collect();
    // Warm up once (the first ACK moves every connection to ESTABLISHED).
    for f in inbound.iter().chain(&outbound) {
        buf.clear();
        buf.extend_from_slice(f);
        assert!(matches!(
            d.process(Instant::from_millis(1), &mut buf, 0),
            Verdict::Forward { .. }
        ));
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    for round in 0..50u64 {
        for f in inbound.iter().chain(&outbound) {
            buf.clear();
            buf.extend_from_slice(f);
            let v = d.process(Instant::from_millis(2 + round), &mut buf, 0);
            assert!(matches!(v, Verdict::Forward { .. }));
        }
    }
    let after = ALLOCS.load(Ordering::Relaxed);
    assert_eq!(
        after - before,
        0,
        "{} allocations over 25600 hit-path packets",
        after - before
    );
}
