//! NTP: the server path (`server::respond` on a 48-byte client request into a caller buffer)
//! and the client update path (one reply through `Client`: the on-wire checks, the clock
//! filter, selection, cluster, combine and the discipline).
//!
//! `cargo bench -p lvs-benches --bench ntp`

use core::net::SocketAddr;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lvs_core::{Datagram, Instant, StateMachine};
use lvs_ntp::client::{Client, ClientConfig, ServerConfig};
use lvs_ntp::server::{SystemState, respond};
use lvs_ntp::wire::{LeapIndicator, NtpRepr, Refid};
use lvs_ntp::{NtpShort, NtpTimestamp, UnixNanos};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// True time in Unix nanoseconds at virtual time `t`.
fn truth(t: Instant) -> i128 {
    1_750_000_000_000_000_000 + i128::from(t.as_nanos())
}

fn upstream() -> SystemState {
    SystemState {
        synchronized: true,
        stratum: 1,
        leap: LeapIndicator::NoWarning,
        refid: Refid::from_bytes(*b"GPS\0"),
        root_delay: NtpShort::from_parts(0, 0x0010),
        root_dispersion: NtpShort::from_parts(0, 0x0020),
        ..SystemState::UNSYNCHRONIZED
    }
}

fn server_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("ntp_server");
    g.throughput(Throughput::Elements(1));
    let mut request = [0u8; 48];
    let nonce = NtpTimestamp::from_bits(0x5d1c_93a7_0e42_b6f1);
    let n = NtpRepr::client_request(nonce, 6)
        .emit_into(&mut request)
        .expect("emit");
    assert_eq!(n, 48);
    let sys = upstream();
    let t2 = NtpTimestamp::from_unix_nanos(UnixNanos(truth(Instant::from_secs(1))));
    let t3 = NtpTimestamp::from_unix_nanos(UnixNanos(truth(Instant::from_secs(1)) + 20_000));
    let mut out = [0u8; 64];
    assert_eq!(respond(&request, t2, t3, &sys, &mut out), Ok(48));
    g.bench_function("respond 48 B request", |b| {
        b.iter(|| black_box(respond(black_box(&request), t2, t3, &sys, &mut out)));
    });
    g.finish();
}

/// A client with four stratum-1 servers polled every 16 s (minpoll = maxpoll = 4, so the
/// virtual clock stays well inside `u64` nanoseconds however long criterion runs), its clock
/// 1 ms ahead with a few tens of microseconds of deterministic jitter.
struct Rig {
    client: Client<ChaCha8Rng>,
    me: SocketAddr,
    now: Instant,
    jitter: u64,
    sys: SystemState,
    replies: Vec<(SocketAddr, Vec<u8>)>,
}

impl Rig {
    fn new() -> Self {
        let servers = (1..=4u8).map(|i| {
            let mut s = ServerConfig::new(SocketAddr::from(([192, 0, 2, i], 123)));
            s.minpoll = 4;
            s.maxpoll = 4;
            s
        });
        let client = Client::new(
            ClientConfig::default(),
            servers,
            ChaCha8Rng::seed_from_u64(1),
            Instant::ZERO,
        )
        .expect("valid client");
        Self {
            client,
            me: SocketAddr::from(([192, 0, 2, 100], 40000)),
            now: Instant::ZERO,
            jitter: 0x9e37_79b9_7f4a_7c15,
            sys: upstream(),
            replies: Vec::new(),
        }
    }

    fn ours(&mut self, t: Instant) -> UnixNanos {
        // xorshift: ±32 µs around a 1 ms offset.
        self.jitter ^= self.jitter << 13;
        self.jitter ^= self.jitter >> 7;
        self.jitter ^= self.jitter << 17;
        let j = i128::from(self.jitter % 64_000) - 32_000;
        UnixNanos(truth(t) + 1_000_000 + j)
    }

    /// Advances to the next poll, sends its requests and fills `replies` with the responder's
    /// answers; returns the instant they arrive.
    fn next_round(&mut self) -> Instant {
        let (at, _) = self
            .client
            .poll_timeout()
            .expect("a poll is always scheduled");
        let at = at.max(self.now);
        self.now = at;
        self.client.handle_timeout(at);
        self.replies.clear();
        while let Some(request) = self.client.poll_transmit() {
            let t1 = self.ours(at);
            assert!(self.client.note_sent(&request, t1));
            let t = NtpTimestamp::from_unix_nanos(UnixNanos(truth(at) + 400_000));
            let mut reply = vec![0u8; 48];
            let n = respond(&request.payload, t, t, &self.sys, &mut reply).expect("reply");
            reply.truncate(n);
            self.replies.push((request.dst, reply));
        }
        while let Some(e) = self.client.poll_event() {
            black_box(e);
        }
        at + Duration::from_millis(1)
    }

    fn reply(&mut self, rx: Instant, from: SocketAddr, payload: Vec<u8>) {
        let t4 = self.ours(rx);
        self.client
            .handle_reply(rx, t4, Datagram::new(from, self.me, payload));
        while let Some(e) = self.client.poll_event() {
            black_box(e);
        }
        self.now = rx;
    }
}

fn client_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("ntp_client");
    g.throughput(Throughput::Elements(1));
    let mut rig = Rig::new();
    // Warm up past the start-up: filters full, a system peer chosen.
    while rig.now < Instant::from_secs(600) {
        let rx = rig.next_round();
        for (from, reply) in std::mem::take(&mut rig.replies) {
            rig.reply(rx, from, reply);
        }
    }
    assert!(rig.client.is_synchronized(), "client synchronized");
    assert!(rig.client.system_peer().is_some());

    // Only `handle_reply` plus the event drain is timed; the poll, the request and the reply
    // bytes are made outside the clock.
    g.bench_function("handle_reply (4 servers, synchronized)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let rx = rig.next_round();
                for (from, reply) in std::mem::take(&mut rig.replies) {
                    let t4 = rig.ours(rx);
                    let d = Datagram::new(from, rig.me, reply);
                    let start = std::time::Instant::now();
                    rig.client.handle_reply(rx, t4, d);
                    while let Some(e) = rig.client.poll_event() {
                        black_box(e);
                    }
                    total += start.elapsed();
                    rig.now = rx;
                    done += 1;
                }
            }
            total
        });
    });
    assert!(rig.client.is_synchronized());
    assert_eq!(rig.client.stats().unmatched_send_report, 0);
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = server_path, client_path
}
criterion_main!(benches);
