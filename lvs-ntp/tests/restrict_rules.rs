//! The restrict engine: most specific entry wins, flags merge, each flag's effect, the
//! `discard` rate limit with KoD RATE (itself rate limited), and kisses a client obeys.

use core::time::Duration;

use lvs_core::rng::SeedableRng;
use lvs_core::sim::ChaCha8Rng;
use lvs_core::{Datagram, Instant, StateMachine};
use lvs_ntp::client::{Client, ClientConfig, Event, ServerConfig};
use lvs_ntp::restrict::{
    Deny, Flags, RateConfig, Restrictions, Verdict, kiss_reply, parse_restrict,
};
use lvs_ntp::server::{SystemState, respond};
use lvs_ntp::testing::{CLIENT_REQUEST, NONCE};
use lvs_ntp::wire::{KissCode, NtpMessage};
use lvs_ntp::wire::{LeapIndicator, Refid};
use lvs_ntp::{NtpTimestamp, UnixNanos};

fn seed() -> Restrictions {
    let mut r = Restrictions::new(RateConfig::default());
    for line in [
        "default kod nomodify notrap nopeer noquery limited",
        "127.0.0.1",
        "192.168.1.0 mask 255.255.255.0 nomodify notrap",
        "192.168.1.66 noserve kod",
        "-6 default ignore",
        "2001:db8::/32 nomodify",
    ] {
        r.apply_line(line).unwrap();
    }
    r
}

fn at(ms: u64) -> Instant {
    Instant::ZERO + Duration::from_millis(ms)
}

#[test]
fn most_specific_entry_wins() {
    let r = seed();
    assert_eq!(r.lookup("127.0.0.1".parse().unwrap()), Flags::NONE);
    let lan = r.lookup("192.168.1.20".parse().unwrap());
    assert!(lan.contains(Flags::NOMODIFY) && !lan.contains(Flags::LIMITED));
    let host = r.lookup("192.168.1.66".parse().unwrap());
    assert!(host.contains(Flags::NOSERVE) && !host.contains(Flags::NOMODIFY));
    let wan = r.lookup("8.8.8.8".parse().unwrap());
    assert!(wan.contains(Flags::LIMITED.union(Flags::KOD).union(Flags::NOQUERY)));
    assert!(
        r.lookup("2001:db9::1".parse().unwrap())
            .contains(Flags::IGNORE)
    );
    assert_eq!(r.lookup("2001:db8::1".parse().unwrap()), Flags::NOMODIFY);
    // An IPv4-mapped source follows the IPv4 rules.
    assert_eq!(r.lookup("::ffff:127.0.0.1".parse().unwrap()), Flags::NONE);
    // Entries are kept most specific first.
    let prefixes: Vec<u8> = r.entries().iter().map(|e| e.0.prefix()).collect();
    assert!(prefixes.windows(2).all(|w| w[0] >= w[1]), "{prefixes:?}");
}

#[test]
fn duplicate_entries_merge_flags() {
    let mut r = Restrictions::new(RateConfig::default());
    r.apply_line("10.0.0.0/8 nomodify").unwrap();
    r.apply_line("10.0.0.0 mask 255.0.0.0 noquery").unwrap();
    assert_eq!(r.entries().len(), 3);
    let f = r.lookup("10.1.2.3".parse().unwrap());
    assert_eq!(f.keywords().collect::<Vec<_>>(), ["nomodify", "noquery"]);
}

#[test]
fn parse_errors() {
    assert!(parse_restrict(&[]).is_err());
    assert!(parse_restrict(&["10.0.0.1", "bogus"]).is_err());
    assert!(parse_restrict(&["-6", "10.0.0.1"]).is_err());
    assert!(parse_restrict(&["10.0.0.0", "mask", "255.0.255.0"]).is_err());
    assert!(parse_restrict(&["10.0.0.0/33"]).is_err());
    assert!(parse_restrict(&["nonsense"]).is_err());
    assert_eq!(parse_restrict(&["default"]).unwrap().len(), 2);
    assert_eq!(parse_restrict(&["-4", "default"]).unwrap().len(), 1);
    let mut rate = RateConfig::default();
    rate.apply_discard(&["average", "4", "minimum", "1"])
        .unwrap();
    assert_eq!((rate.average, rate.minimum), (4, 1));
    assert!(rate.apply_discard(&["average"]).is_err());
    assert!(rate.apply_discard(&["speed", "3"]).is_err());
}

#[test]
fn flags_deny_what_they_name() {
    let mut r = seed();
    let host = "192.168.1.66:123".parse().unwrap();
    // noserve + kod: DENY for time requests.
    assert_eq!(
        r.check(at(0), host, &CLIENT_REQUEST),
        Verdict::Kiss(KissCode::Deny)
    );
    let v6 = "[2001:db9::1]:123".parse().unwrap();
    assert_eq!(
        r.check(at(0), v6, &CLIENT_REQUEST),
        Verdict::Drop(Deny::Ignored)
    );
    // noquery drops mode 6; nopeer drops symmetric active.
    let wan = "203.0.113.1:123".parse().unwrap();
    let mut control = [0u8; 12];
    control[0] = 0x16; // VN 2, mode 6
    assert_eq!(r.check(at(0), wan, &control), Verdict::Drop(Deny::NoQuery));
    let mut active = CLIENT_REQUEST;
    active[0] = 0x21; // VN 4, mode 1
    assert_eq!(r.check(at(0), wan, &active), Verdict::Drop(Deny::NoPeer));
    // version: a v3 request is denied, a v4 one served.
    let mut r = Restrictions::new(RateConfig::default());
    r.apply_line("default version").unwrap();
    let mut v3 = CLIENT_REQUEST;
    v3[0] = 0x1b;
    assert_eq!(r.check(at(0), wan, &v3), Verdict::Drop(Deny::NoServe));
    assert_eq!(r.check(at(0), wan, &CLIENT_REQUEST), Verdict::Serve);
    // notrust: nothing is authenticated here, so time service is denied.
    r.apply_line("default notrust").unwrap();
    assert_eq!(
        r.check(at(0), wan, &CLIENT_REQUEST),
        Verdict::Drop(Deny::NoServe)
    );
    assert_eq!(r.stats().denied, 2);
}

#[test]
fn rate_limit_kisses_once_then_drops() {
    let mut r = seed();
    let wan = "203.0.113.1:123".parse().unwrap();
    assert_eq!(r.check(at(0), wan, &CLIENT_REQUEST), Verdict::Serve);
    // 500 ms later breaks `minimum 2`: one RATE kiss, then silence while over the limit.
    assert_eq!(
        r.check(at(500), wan, &CLIENT_REQUEST),
        Verdict::Kiss(KissCode::Rate)
    );
    assert_eq!(
        r.check(at(1000), wan, &CLIENT_REQUEST),
        Verdict::Drop(Deny::KissSuppressed)
    );
    assert_eq!(
        r.check(at(1500), wan, &CLIENT_REQUEST),
        Verdict::Drop(Deny::KissSuppressed)
    );
    // The score drains at 1 s/s: after a quiet minute and more, it is served again.
    assert_eq!(r.check(at(75_000), wan, &CLIENT_REQUEST), Verdict::Serve);
    // Unlimited sources are never limited.
    let lo = "127.0.0.1:123".parse().unwrap();
    for k in 0..100 {
        assert_eq!(r.check(at(75_000 + k), lo, &CLIENT_REQUEST), Verdict::Serve);
    }
    assert_eq!(r.stats().kisses, 1);
    assert_eq!(r.stats().rate_limited, 3);
}

#[test]
fn limited_without_kod_drops() {
    let mut r = Restrictions::new(RateConfig::default());
    r.apply_line("default limited").unwrap();
    let wan = "203.0.113.1:123".parse().unwrap();
    assert_eq!(r.check(at(0), wan, &CLIENT_REQUEST), Verdict::Serve);
    assert_eq!(
        r.check(at(10), wan, &CLIENT_REQUEST),
        Verdict::Drop(Deny::RateLimited)
    );
}

#[test]
fn polling_faster_than_average_is_limited_eventually() {
    // One request every 4 s against `average 3` (8 s): the score grows by 6 s and drains by 4 s
    // per request, so the limit (64 s) is crossed after about 30 requests.
    let mut r = Restrictions::new(RateConfig::default());
    r.apply_line("default limited kod").unwrap();
    let wan = "203.0.113.1:123".parse().unwrap();
    let first = (0..100u64)
        .find(|k| r.check(at(4000 * k), wan, &CLIENT_REQUEST) != Verdict::Serve)
        .unwrap();
    assert!((20..40).contains(&first), "limited at request {first}");
}

#[test]
fn client_table_is_bounded() {
    let mut r = Restrictions::new(RateConfig {
        max_clients: 64,
        ..RateConfig::default()
    });
    r.apply_line("default limited").unwrap();
    for k in 0..1000u32 {
        let src =
            core::net::SocketAddr::from(([10, (k >> 16) as u8, (k >> 8) as u8, k as u8], 123));
        r.check(at(u64::from(k)), src, &CLIENT_REQUEST);
        assert!(r.tracked_clients() <= 64);
    }
    assert!(r.stats().evicted >= 900);
}

#[test]
fn kiss_reply_is_obeyed_by_our_client() {
    let mut out = [0u8; 64];
    let n = kiss_reply(&CLIENT_REQUEST, KissCode::Rate, -20, &mut out).unwrap();
    let msg = NtpMessage::parse(&out[..n]).unwrap();
    assert_eq!(msg.header.kiss_code(), Some(KissCode::Rate));
    assert_eq!(msg.header.origin, NONCE);
    assert_eq!(msg.header.stratum, 0);
    assert!(kiss_reply(&CLIENT_REQUEST[..20], KissCode::Rate, -20, &mut out).is_err());
    assert!(kiss_reply(&CLIENT_REQUEST, KissCode::Rate, -20, &mut out[..10]).is_err());

    // A client polling a `limited kod` server every second gets RATE and slows down.
    let server = "192.0.2.7:123".parse().unwrap();
    let me = "192.0.2.1:40000".parse().unwrap();
    let mut client = Client::new(
        ClientConfig::default(),
        [ServerConfig {
            minpoll: 0,
            maxpoll: 6,
            ..ServerConfig::new(server)
        }],
        ChaCha8Rng::seed_from_u64(3),
        Instant::ZERO,
    )
    .unwrap();
    let mut r = Restrictions::new(RateConfig::default());
    r.apply_line("default limited kod").unwrap();
    let upstream = SystemState {
        synchronized: true,
        stratum: 1,
        leap: LeapIndicator::NoWarning,
        refid: Refid::from_bytes(*b"GPS\0"),
        ..SystemState::UNSYNCHRONIZED
    };
    let mut events = Vec::new();
    let mut requests = 0;
    while let Some((t, _)) = client.poll_timeout() {
        if t > Instant::from_secs(60) {
            break;
        }
        client.handle_timeout(t);
        while let Some(req) = client.poll_transmit() {
            requests += 1;
            client.note_sent(&req, UnixNanos::from_secs(1_750_000_000));
            let n = match r.check(t, me, &req.payload) {
                Verdict::Kiss(code) => kiss_reply(&req.payload, code, -20, &mut out).unwrap(),
                Verdict::Serve => {
                    let ts = NtpTimestamp::from_unix_nanos(UnixNanos::from_secs(1_750_000_000));
                    respond(&req.payload, ts, ts, &upstream, &mut out).unwrap()
                }
                Verdict::Drop(_) => continue,
            };
            let d = Datagram::new(server, me, out[..n].to_vec());
            client.handle_reply(t, UnixNanos::from_secs(1_750_000_000), d);
        }
        events.extend(std::iter::from_fn(|| client.poll_event()));
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::RateLimited { .. })),
        "{events:?} {:?} {requests} {:?}",
        r.stats(),
        client.stats()
    );
    assert!(
        requests < 40,
        "{requests} requests in 60 s after a RATE kiss"
    );
}
