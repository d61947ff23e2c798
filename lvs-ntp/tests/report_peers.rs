//! The `ntpq -p` table built from a live client: a client polling a responder whose clock is
//! a fixed amount ahead shows that offset, octal reach and the system peer tally.

use core::time::Duration;

use lvs_core::rng::SeedableRng;
use lvs_core::sim::ChaCha8Rng;
use lvs_core::{Datagram, Instant, StateMachine};
use lvs_ntp::client::{AssociationStatus, Client, ClientConfig, ServerConfig, Tally};
use lvs_ntp::report::{PeerRow, peer_table};
use lvs_ntp::server::{SystemState, respond};
use lvs_ntp::wire::{LeapIndicator, Refid};
use lvs_ntp::{NtpTimestamp, UnixNanos};

/// Runs a client against one stratum-1 server `ahead_ns` ahead of us for `secs` seconds and
/// returns the rendered table.
fn table_after(ahead_ns: i128, secs: u64, minpoll: i8) -> (String, Client<ChaCha8Rng>) {
    let server = "192.0.2.7:123".parse().unwrap();
    let me = "192.0.2.1:40000".parse().unwrap();
    let cfg = ServerConfig {
        minpoll,
        maxpoll: minpoll,
        ..ServerConfig::new(server)
    };
    let mut client = Client::new(
        ClientConfig::default(),
        [cfg],
        ChaCha8Rng::seed_from_u64(7),
        Instant::ZERO,
    )
    .unwrap();
    let truth = |t: Instant| 1_750_000_000_000_000_000 + i128::from(t.as_nanos());
    let upstream = SystemState {
        synchronized: true,
        stratum: 1,
        leap: LeapIndicator::NoWarning,
        refid: Refid::from_bytes(*b"GPS\0"),
        ..SystemState::UNSYNCHRONIZED
    };
    let end = Instant::from_secs(secs);
    let mut now = Instant::ZERO;
    while let Some((at, _)) = client.poll_timeout() {
        if at > end {
            break;
        }
        now = at;
        client.handle_timeout(at);
        while let Some(request) = client.poll_transmit() {
            client.note_sent(&request, UnixNanos(truth(at)));
            let t = NtpTimestamp::from_unix_nanos(UnixNanos(truth(at) + 100_000 + ahead_ns));
            let mut reply = [0u8; 48];
            let n = respond(&request.payload, t, t, &upstream, &mut reply).unwrap();
            let rx = at + Duration::from_micros(200);
            client.handle_reply(
                rx,
                UnixNanos(truth(rx)),
                Datagram::new(server, me, reply[..n].to_vec()),
            );
        }
        while client.poll_event().is_some() {}
    }
    let now = now + Duration::from_secs(3);
    let rows: Vec<PeerRow> = client
        .associations(now)
        .enumerate()
        .map(|(i, a)| {
            PeerRow::from_status(
                &a,
                client
                    .last_reply(i)
                    .map(|t| now.saturating_duration_since(t)),
                'u',
            )
        })
        .collect();
    (peer_table(&rows), client)
}

#[test]
fn table_shows_offset_reach_and_system_peer() {
    // 25 µs ahead, a 1 s poll, 12 polls: the shell applies nothing (monitor mode).
    let (table, client) = table_after(25_000, 12, 0);
    eprintln!("{table}");
    let line = table.lines().nth(2).unwrap();
    assert_eq!(line.len(), 78, "{line:?}");
    assert_eq!(&line[..1], "*");
    assert_eq!(&line[1..16], "192.0.2.7      ");
    assert_eq!(&line[17..32], ".GPS.          ");
    assert_eq!(&line[33..38], " 1 u ");
    assert_eq!(&line[43..47], "   1", "poll column");
    assert_eq!(&line[49..52], "377", "reach column");
    assert_eq!(&line[54..61], "  0.200", "delay column");
    // The client believes its slews were made, so what is left is a residual below the raw
    // 25 µs.
    let offset: f64 = line[62..70].trim().parse().unwrap();
    assert!(offset.abs() <= 0.025, "offset {offset} ms in {line:?}");
    assert_eq!(client.association_count(), 1);
    assert!(client.server_config(0).is_some());
}

#[test]
fn never_heard_server_shows_init_and_dashes() {
    let server = "192.0.2.9:123".parse().unwrap();
    let client = Client::new(
        ClientConfig::default(),
        [ServerConfig::new(server)],
        ChaCha8Rng::seed_from_u64(1),
        Instant::ZERO,
    )
    .unwrap();
    let rows: Vec<PeerRow> = client
        .associations(Instant::ZERO)
        .map(|a| PeerRow::from_status(&a, None, 'u'))
        .collect();
    let table = peer_table(&rows);
    assert_eq!(
        table.lines().nth(2).unwrap(),
        " 192.0.2.9       .INIT.          16 u    -   64    0    0.000    0.000   0.000"
    );
}

#[test]
fn columns_from_a_snapshot() {
    let status = AssociationStatus {
        addr: "[2001:db8:1234:5678::99]:123".parse().unwrap(),
        active: true,
        tally: Tally::Candidate,
        reach: 0o17,
        poll: 10,
        stratum: 2,
        refid: Refid::from_bytes([10, 0, 0, 1]),
        offset: Some(-0.0123456),
        delay: Some(0.0456),
        jitter: Some(123.456_789),
        root_distance: Some(0.1),
        kiss: None,
        rx: Default::default(),
    };
    let row = PeerRow::from_status(&status, Some(Duration::from_secs(3000)), 'p');
    let table = peer_table(&[row]);
    // The remote is cut at 15 characters; 3000 s shows as 50m; jitter is cut at 7 characters.
    assert_eq!(
        table.lines().nth(2).unwrap(),
        "+2001:db8:1234:5 10.0.0.1         2 p  50m 1024   17   45.600  -12.346 123456."
    );
    let kissed = AssociationStatus {
        kiss: Some(lvs_ntp::wire::KissCode::Rate),
        tally: Tally::Reject,
        ..status
    };
    let row = PeerRow::from_status(&kissed, None, 'u');
    assert_eq!(row.refid, ".RATE.");
}
