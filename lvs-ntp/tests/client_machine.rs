//! The client machine on its own: requests, the one-reply-per-request rule, kiss-o'-death
//! handling, reachability and the system state it exports.

use core::time::Duration;
use std::net::SocketAddr;

use lvs_core::rng::SeedableRng;
use lvs_core::sim::ChaCha8Rng;
use lvs_core::{Datagram, Instant, StateMachine, Transmit};
use lvs_ntp::client::{Client, ClientConfig, ConfigError, Event, ServerConfig, Tally, Timer};
use lvs_ntp::server::{SystemState, respond};
use lvs_ntp::wire::{KissCode, LeapIndicator, Mode, NtpMessage, NtpRepr, Refid};
use lvs_ntp::{NtpShort, NtpTimestamp, UnixNanos};

const SERVER: SocketAddr = SocketAddr::new(
    core::net::IpAddr::V4(core::net::Ipv4Addr::new(192, 0, 2, 7)),
    123,
);
const ME: SocketAddr = SocketAddr::new(
    core::net::IpAddr::V4(core::net::Ipv4Addr::new(192, 0, 2, 1)),
    40000,
);
const T0: i64 = 1_750_000_000;

fn client(server: ServerConfig) -> Client<ChaCha8Rng> {
    Client::new(
        ClientConfig::default(),
        [server],
        ChaCha8Rng::seed_from_u64(7),
        Instant::ZERO,
    )
    .unwrap()
}

/// Wall time = monotonic time + T0 (a perfect clock).
fn wall(now: Instant) -> UnixNanos {
    UnixNanos(i128::from(T0) * 1_000_000_000 + i128::from(now.as_nanos()))
}

fn sys() -> SystemState {
    SystemState {
        synchronized: true,
        leap: LeapIndicator::NoWarning,
        stratum: 1,
        precision: -20,
        root_delay: NtpShort::ZERO,
        root_dispersion: NtpShort::from_nanos(50_000),
        refid: Refid::from_bytes(*b"GPS\0"),
        reference: NtpTimestamp::from_unix_nanos(UnixNanos::from_secs(T0)),
        local_stratum: None,
    }
}

/// Fires the next deadline, reports each request sent, and returns them.
fn poll(c: &mut Client<ChaCha8Rng>) -> (Instant, Vec<Transmit>) {
    let (at, _) = c.poll_timeout().expect("a deadline");
    c.handle_timeout(at);
    let mut out = Vec::new();
    while let Some(t) = c.poll_transmit() {
        assert!(c.note_sent(&t, wall(at)));
        out.push(t);
    }
    (at, out)
}

/// A server reply to `req` that arrives 1 ms later, the server's clock `skew` ahead.
fn answer(req: &Transmit, at: Instant, skew_ms: i128) -> Vec<u8> {
    let ts = |t: Instant| NtpTimestamp::from_unix_nanos(UnixNanos(wall(t).0 + skew_ms * 1_000_000));
    let mut out = [0u8; 64];
    let half = at + Duration::from_micros(500);
    let n = respond(&req.payload, ts(half), ts(half), &sys(), &mut out).unwrap();
    out[..n].to_vec()
}

fn deliver(c: &mut Client<ChaCha8Rng>, at: Instant, payload: Vec<u8>) -> Vec<Event> {
    c.handle_reply(at, wall(at), Datagram::new(SERVER, ME, payload));
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn kiss(req: &Transmit, code: &[u8; 4]) -> Vec<u8> {
    let req = NtpMessage::parse(&req.payload).unwrap().header;
    let kod = NtpRepr {
        leap: LeapIndicator::Unsynchronized,
        version: 4,
        mode: Mode::Server,
        stratum: 0,
        poll: 10,
        precision: -20,
        root_delay: NtpShort::ZERO,
        root_dispersion: NtpShort::ZERO,
        refid: Refid::from_bytes(*code),
        reference: NtpTimestamp::ZERO,
        origin: req.transmit,
        receive: NtpTimestamp::ZERO,
        transmit: NtpTimestamp::ZERO,
    };
    let mut out = [0u8; 48];
    kod.emit_into(&mut out).unwrap();
    out.to_vec()
}

#[test]
fn iburst_sends_eight_requests_two_seconds_apart_with_fresh_nonces() {
    let mut c = client(ServerConfig::new(SERVER).with_iburst());
    let mut times = Vec::new();
    let mut nonces = Vec::new();
    for _ in 0..9 {
        let (at, sent) = poll(&mut c);
        assert_eq!(sent.len(), 1);
        let req = NtpMessage::parse(&sent[0].payload).unwrap().header;
        assert_eq!((req.mode, req.version, req.poll), (Mode::Client, 4, 6));
        assert_eq!(sent[0].dst, SERVER);
        times.push(at);
        nonces.push(req.transmit);
    }
    assert!(
        times[0] < Instant::from_secs(1),
        "first poll within the spread"
    );
    for w in times[..8].windows(2) {
        assert_eq!(w[1] - w[0], Duration::from_secs(2));
    }
    // After the burst (no answers), the regular poll: 64 s plus up to 1/16 of jitter.
    let gap = times[8] - times[7];
    assert!(
        gap >= Duration::from_secs(64) && gap <= Duration::from_secs(68),
        "{gap:?}"
    );
    nonces.sort_by_key(|n| n.to_bits());
    nonces.dedup();
    assert_eq!(nonces.len(), 9, "every request has its own nonce");
    assert_eq!(
        c.poll_timeout().map(|t| t.1),
        Some(Timer::Poll { association: 0 })
    );
}

#[test]
fn one_reply_per_request_and_replays_are_dropped() {
    let mut c = client(ServerConfig::new(SERVER));
    let (at, sent) = poll(&mut c);
    let reply = answer(&sent[0], at, 0);
    let rx = at + Duration::from_millis(1);
    deliver(&mut c, rx, reply.clone());
    assert_eq!(c.stats().rx.accepted, 1);
    // The same datagram again: its transmit timestamp was seen (duplicate).
    deliver(&mut c, rx + Duration::from_millis(1), reply.clone());
    assert_eq!(c.stats().rx.duplicate, 1);
    // A reply to a request we never sent (wrong origin) is bogus.
    let (at2, sent2) = poll(&mut c);
    let mut forged = answer(&sent2[0], at2, 0);
    forged[24] ^= 0xff;
    deliver(&mut c, at2 + Duration::from_millis(1), forged);
    assert_eq!(c.stats().rx.bogus, 1);
    // The genuine answer still counts, once.
    let good = answer(&sent2[0], at2, 0);
    deliver(&mut c, at2 + Duration::from_millis(1), good.clone());
    assert_eq!(c.stats().rx.accepted, 2);
    let s = c.association(0, at2).unwrap();
    assert_eq!(s.reach, 0b11);
    assert!(s.offset.unwrap().abs() < 1e-6);
    // Unknown sources and garbage are counted, never panics.
    let rx2 = at2 + Duration::from_millis(2);
    c.handle_reply(rx2, wall(rx2), Datagram::new(ME, ME, good));
    c.handle_reply(rx2, wall(rx2), Datagram::new(SERVER, ME, vec![0x23; 7]));
    assert_eq!(c.stats().unknown_source, 1);
    assert_eq!(c.stats().rx.malformed, 1);
}

#[test]
fn a_reply_without_a_send_time_is_not_used() {
    let mut c = client(ServerConfig::new(SERVER));
    let (at, _) = c.poll_timeout().unwrap();
    c.handle_timeout(at);
    let t = c.poll_transmit().unwrap();
    // The shell forgot note_sent.
    deliver(&mut c, at + Duration::from_millis(1), answer(&t, at, 0));
    assert_eq!(c.stats().no_send_time, 1);
    assert_eq!(c.association(0, at).unwrap().reach, 0);
    // A report for a transmit that is not outstanding is refused.
    assert!(!c.note_sent(&t, wall(at)));
    assert_eq!(c.stats().unmatched_send_report, 1);
}

#[test]
fn handle_datagram_derives_the_receive_time_from_the_send_time() {
    let mut c = client(ServerConfig::new(SERVER));
    let (at, sent) = poll(&mut c);
    let rx = at + Duration::from_millis(1);
    // The server is 3 ms ahead; the plain trait entry point has no wall time.
    c.handle_datagram(rx, Datagram::new(SERVER, ME, answer(&sent[0], at, 3)));
    let s = c.association(0, rx).unwrap();
    assert!((s.offset.unwrap() - 0.003).abs() < 1e-6, "{:?}", s.offset);
    assert!((s.delay.unwrap() - 0.001).abs() < 1e-6);
}

#[test]
fn kiss_rate_raises_the_poll_and_stops_the_burst() {
    let mut c = client(ServerConfig::new(SERVER).with_iburst());
    let (at, sent) = poll(&mut c);
    let events = deliver(
        &mut c,
        at + Duration::from_millis(1),
        kiss(&sent[0], b"RATE"),
    );
    assert_eq!(
        events,
        [Event::RateLimited {
            server: SERVER,
            minpoll: 10
        }],
        "minpoll rises to the server's poll"
    );
    assert_eq!(c.stats().rx.kiss_rate, 1);
    let (next, sent) = poll(&mut c);
    assert!(
        next - at >= Duration::from_secs(1024),
        "burst cancelled, poll 2^10"
    );
    let req = NtpMessage::parse(&sent[0].payload).unwrap().header;
    assert_eq!(req.poll, 10);
    // A RATE kiss with a wrong origin is ignored as bogus.
    let mut forged = kiss(&sent[0], b"DENY");
    forged[31] ^= 1;
    assert!(deliver(&mut c, next, forged).is_empty());
    assert_eq!(c.stats().rx.bogus, 1);
}

#[test]
fn kiss_deny_demobilises() {
    let mut c = client(ServerConfig::new(SERVER));
    let (at, sent) = poll(&mut c);
    let events = deliver(&mut c, at, kiss(&sent[0], b"DENY"));
    assert_eq!(
        events,
        [Event::Demobilised {
            server: SERVER,
            code: KissCode::Deny
        }]
    );
    assert_eq!(c.poll_timeout(), None, "no more polls");
    let s = c.association(0, at).unwrap();
    assert!(!s.active);
    assert_eq!(s.kiss, Some(KissCode::Deny));
    // Anything later from it is dropped.
    deliver(&mut c, at, answer(&sent[0], at, 0));
    assert_eq!(c.stats().inactive, 1);
}

#[test]
fn unreachable_server_backs_off_to_maxpoll() {
    let mut c = client(ServerConfig::new(SERVER));
    // One answered poll, then silence.
    let (at, sent) = poll(&mut c);
    deliver(
        &mut c,
        at + Duration::from_millis(1),
        answer(&sent[0], at, 0),
    );
    let mut gaps = Vec::new();
    let mut last = at;
    let mut events = Vec::new();
    for _ in 0..40 {
        let (t, _) = poll(&mut c);
        gaps.push((t - last).as_secs());
        last = t;
        events.extend(std::iter::from_fn(|| c.poll_event()));
    }
    assert!(events.contains(&Event::Unreachable { server: SERVER }));
    assert_eq!(c.association(0, last).unwrap().reach, 0);
    assert_eq!(c.association(0, last).unwrap().tally, Tally::Reject);
    // 64 s polls first; after UNREACH unanswered polls, doubling up to 1024 s.
    assert!(
        gaps[..10].iter().all(|&g| (64..=68).contains(&g)),
        "{gaps:?}"
    );
    assert!(gaps.iter().any(|&g| (128..=136).contains(&g)), "{gaps:?}");
    assert!((1024..=1088).contains(gaps.last().unwrap()), "{gaps:?}");
}

#[test]
fn system_state_follows_the_system_peer() {
    let mut c = client(ServerConfig::new(SERVER).with_iburst());
    assert!(!c.system_state(Instant::ZERO).synchronized);
    assert_eq!(c.system_state(Instant::ZERO).stratum, 16);
    let mut events = Vec::new();
    let mut now = Instant::ZERO;
    for _ in 0..8 {
        let (at, sent) = poll(&mut c);
        now = at + Duration::from_millis(1);
        events.extend(deliver(&mut c, now, answer(&sent[0], at, 2)));
    }
    assert!(
        events.contains(&Event::SystemPeer { server: SERVER }),
        "{events:?}"
    );
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Slew { offset } if (offset.as_secs_f64() - 0.002).abs() < 1e-5)
        ),
        "{events:?}"
    );
    let s = c.system_state(now);
    assert!(s.synchronized);
    assert_eq!(s.stratum, 2);
    assert_eq!(s.refid, Refid::from_ipv4([192, 0, 2, 7].into()));
    assert_eq!(s.leap, LeapIndicator::NoWarning);
    assert!(s.root_delay.as_nanos() >= 1_000_000 - 20_000);
    // Root dispersion grows at 15 µs/s between updates.
    let later = c.system_state(now + Duration::from_secs(1000));
    let grown = later.root_dispersion.as_nanos() as i64 - s.root_dispersion.as_nanos() as i64;
    assert!((grown - 15_000_000).abs() < 50_000, "{grown}");
    assert_eq!(c.associations(now).next().unwrap().tally, Tally::SystemPeer);
    assert_eq!(c.system_peer(), Some(SERVER));
}

#[test]
fn configuration_errors_are_reported() {
    let rng = || ChaCha8Rng::seed_from_u64(1);
    let cfg = ClientConfig::default();
    let none: [ServerConfig; 0] = [];
    assert_eq!(
        Client::new(cfg, none, rng(), Instant::ZERO).err(),
        Some(ConfigError::NoServers)
    );
    let s = ServerConfig::new(SERVER);
    assert_eq!(
        Client::new(cfg, [s, s], rng(), Instant::ZERO).err(),
        Some(ConfigError::DuplicateServer(SERVER))
    );
    let bad = ServerConfig {
        minpoll: 11,
        maxpoll: 10,
        ..s
    };
    assert_eq!(
        Client::new(cfg, [bad], rng(), Instant::ZERO).err(),
        Some(ConfigError::PollRange(SERVER))
    );
    let many = (0..=64u16).map(|p| ServerConfig::new(SocketAddr::new(SERVER.ip(), p)));
    assert_eq!(
        Client::new(cfg, many, rng(), Instant::ZERO).err(),
        Some(ConfigError::TooManyServers)
    );
}

#[test]
fn drift_file_frequency_is_set_first() {
    let mut cfg = ClientConfig::default();
    cfg.discipline.initial_frequency_ppm = Some(-12.5);
    let mut c = Client::new(
        cfg,
        [ServerConfig::new(SERVER)],
        ChaCha8Rng::seed_from_u64(3),
        Instant::ZERO,
    )
    .unwrap();
    assert_eq!(c.poll_event(), Some(Event::SetFrequency { ppm: -12.5 }));
    assert_eq!(c.poll_event(), None);
    assert!((c.frequency_ppm() + 12.5).abs() < 1e-9);
    let text = lvs_ntp::client::drift::format(-12.5);
    assert_eq!(text, "-12.500000\n");
    assert_eq!(lvs_ntp::client::drift::parse(&text), Ok(-12.5));
    assert!(!lvs_ntp::client::drift::should_rewrite(Some(-12.5), -12.55));
    assert!(lvs_ntp::client::drift::should_rewrite(Some(-12.5), -12.7));
}
