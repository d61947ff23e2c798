//! The reply path (parse, checks, filter, selection, discipline, events) allocates nothing
//! once the client is running. A counting global allocator watches one processed reply.

use core::time::Duration;
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use lvs_core::rng::SeedableRng;
use lvs_core::sim::ChaCha8Rng;
use lvs_core::{Datagram, Instant, StateMachine};
use lvs_ntp::client::{Client, ClientConfig, ServerConfig};
use lvs_ntp::server::{SystemState, respond};
use lvs_ntp::wire::{LeapIndicator, Refid};
use lvs_ntp::{NtpShort, NtpTimestamp, UnixNanos};

struct Counting;

static ARMED: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers every call to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ARMED.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Four iburst servers at 192.0.2.1..=4.
fn servers() -> Vec<ServerConfig> {
    (1..=4u8)
        .map(|i| ServerConfig::new(SocketAddr::from(([192, 0, 2, i], 123))).with_iburst())
        .collect()
}

// One test only: the counter is global, so a second test running in parallel would count
// into it.
#[test]
fn processing_a_reply_does_not_allocate() {
    let c = Client::new(
        ClientConfig::default(),
        servers(),
        ChaCha8Rng::seed_from_u64(9),
        Instant::ZERO,
    )
    .unwrap();
    check(c, 30);
    // Also after a reconfiguration grew the server list from one to four.
    let mut c = Client::new(
        ClientConfig::default(),
        servers().into_iter().take(1),
        ChaCha8Rng::seed_from_u64(10),
        Instant::ZERO,
    )
    .unwrap();
    c.reconfigure(servers(), Instant::ZERO).unwrap();
    check(c, 0);
}

/// Runs `c` against four answering servers and checks that no reply from round
/// `from_round` on allocates.
fn check(mut c: Client<ChaCha8Rng>, from_round: usize) {
    let me: SocketAddr = "192.0.2.100:40000".parse().unwrap();
    let sys = SystemState {
        synchronized: true,
        leap: LeapIndicator::NoWarning,
        stratum: 1,
        root_dispersion: NtpShort::from_nanos(20_000),
        refid: Refid::from_bytes(*b"GPS\0"),
        ..SystemState::UNSYNCHRONIZED
    };
    let wall = |t: Instant| UnixNanos(1_750_000_000_000_000_000 + i128::from(t.as_nanos()));
    let mut measured = 0;
    for round in 0..40 {
        let (at, _) = c.poll_timeout().unwrap();
        c.handle_timeout(at);
        let mut replies = Vec::new();
        while let Some(t) = c.poll_transmit() {
            c.note_sent(&t, wall(at));
            let ts = NtpTimestamp::from_unix_nanos(wall(at + Duration::from_micros(300)));
            let mut out = [0u8; 64];
            let n = respond(&t.payload, ts, ts, &sys, &mut out).unwrap();
            replies.push(Datagram::new(t.dst, me, out[..n].to_vec()));
        }
        while c.poll_event().is_some() {}
        let rx = at + Duration::from_micros(600);
        for d in replies {
            // Measure once the machine is warmed up (every association synchronised).
            let measure = round >= from_round;
            ALLOCS.store(0, Ordering::Relaxed);
            ARMED.store(measure, Ordering::Relaxed);
            c.handle_reply(rx, wall(rx), d);
            while c.poll_event().is_some() {}
            ARMED.store(false, Ordering::Relaxed);
            if measure {
                assert_eq!(ALLOCS.load(Ordering::Relaxed), 0, "round {round}");
                measured += 1;
            }
        }
    }
    assert!(measured >= 10);
    assert_eq!(c.stats().rx.accepted, c.stats().rx.total());
    assert!(c.system_peer().is_some());
}
