//! Unit tests of the service table.

use super::*;
use crate::lvsd::config::{HealthSpec, ProbeKind};
use lvs_core::health::FailReason;
use lvs_core::service::Persistence;

fn key() -> SvcKey {
    (Protocol::Tcp, "127.0.0.1:80".parse().unwrap())
}

fn real(port: u16, weight: u32) -> RealSpec {
    RealSpec {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        weight,
        upper: 0,
        lower: 0,
    }
}

fn client(port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], port))
}

#[test]
fn wrr_picks_follow_weights_and_counts_are_kept() {
    let mut t = Table::new(1, Duration::ZERO);
    let mut spec = ServiceSpec::new(key(), "wrr");
    spec.reals = vec![real(1, 3), real(2, 2), real(3, 1)];
    let svc = t.add_service(spec, Instant::ZERO).unwrap();
    let mut counts = [0; 3];
    let mut open = Vec::new();
    for i in 0..60 {
        let (b, addr) = t.pick(svc, client(i), Instant::ZERO).unwrap();
        counts[usize::from(addr.port() - 1)] += 1;
        open.push(b);
    }
    assert_eq!(counts, [30, 20, 10]);
    let s = t.service(svc).unwrap();
    assert_eq!(s.load(s.reals()[0].id), (30, 0));
    for b in open {
        t.release(b, Instant::ZERO);
    }
    let s = t.service(svc).unwrap();
    assert_eq!(s.load(s.reals()[0].id), (0, 0));
    assert_eq!(s.stats.conns, 60);
}

#[test]
fn time_wait_keeps_closed_connections_inactive_for_wlc() {
    let mut t = Table::new(1, Duration::from_secs(2));
    let mut spec = ServiceSpec::new(key(), "wlc");
    spec.reals = vec![real(1, 1), real(2, 1)];
    let svc = t.add_service(spec, Instant::ZERO).unwrap();
    let mut seen = Vec::new();
    for i in 0..4 {
        let (b, addr) = t.pick(svc, client(i), Instant::ZERO).unwrap();
        t.release(b, Instant::ZERO);
        seen.push(addr.port());
    }
    assert_eq!(seen, [1, 2, 1, 2]);
    let id = t.service(svc).unwrap().reals()[0].id;
    assert_eq!(t.service(svc).unwrap().load(id), (0, 2));
    assert_eq!(t.poll_timeout(), Some(Instant::from_secs(2)));
    t.handle_timeout(Instant::from_secs(2));
    assert_eq!(t.service(svc).unwrap().load(id), (0, 0));
}

#[test]
fn persistence_sticks_until_the_server_goes_down() {
    let mut t = Table::new(1, Duration::ZERO);
    let mut spec = ServiceSpec::new(key(), "rr");
    spec.persistence = Some(Persistence {
        timeout: Duration::from_secs(10),
        v4_prefix: 24,
        v6_prefix: 128,
    });
    spec.reals = vec![real(1, 1), real(2, 1)];
    let svc = t.add_service(spec, Instant::ZERO).unwrap();
    let first = t.pick(svc, client(1), Instant::ZERO).unwrap().1;
    for i in 2..10 {
        let other = SocketAddr::from(([10, 0, 0, 9], i));
        assert_eq!(t.pick(svc, other, Instant::ZERO).unwrap().1, first);
    }
    // A different /24 is scheduled on its own: rr gives it the other server.
    let far = SocketAddr::from(([10, 0, 1, 1], 1));
    assert_ne!(t.pick(svc, far, Instant::ZERO).unwrap().1, first);
    // Quiescing the sticky server breaks persistence.
    t.edit_real(
        key(),
        RealSpec {
            weight: 0,
            ..real(first.port(), 1)
        },
    )
    .unwrap();
    assert_ne!(
        t.pick(svc, client(1), Instant::from_secs(1)).unwrap().1,
        first
    );
    // Expired templates go away.
    t.sweep(Instant::from_secs(100));
    assert!(t.service(svc).unwrap().templates.is_empty());
}

#[test]
fn health_down_quiesces_and_up_restores() {
    let mut t = Table::new(1, Duration::ZERO);
    let mut spec = ServiceSpec::new(key(), "rr");
    spec.health = Some(HealthSpec {
        kind: ProbeKind::Tcp,
        port: None,
        interval: Duration::from_secs(1),
        timeout: Duration::from_millis(500),
        rise: 1,
        fall: 1,
    });
    spec.reals = vec![real(1, 1), real(2, 1)];
    let svc = t.add_service(spec, Instant::ZERO).unwrap();
    assert!(t.poll_probe().is_none());
    t.handle_timeout(Instant::ZERO);
    let p1 = t.poll_probe().unwrap();
    let p2 = t.poll_probe().unwrap();
    assert!(t.poll_probe().is_none());
    assert_eq!(p1.target.port(), 1);
    t.report(Instant::ZERO, p1.id, ProbeResult::Fail(FailReason::Connect));
    t.report(Instant::ZERO, p2.id, ProbeResult::Pass);
    assert!(t.poll_probe().is_none());
    let s = t.service(svc).unwrap();
    assert!(!s.reals()[0].healthy && s.reals()[1].healthy);
    for i in 0..4 {
        assert_eq!(t.pick(svc, client(i), Instant::ZERO).unwrap().1.port(), 2);
    }
    t.handle_timeout(Instant::from_secs(1));
    let mut probes = Vec::new();
    while let Some(p) = t.poll_probe() {
        probes.push(p);
    }
    assert_eq!(probes.len(), 2);
    for p in probes {
        t.report(Instant::from_secs(1), p.id, ProbeResult::Pass);
    }
    assert!(t.poll_probe().is_none());
    assert!(t.service(svc).unwrap().reals()[0].healthy);
}

#[test]
fn admin_errors_are_messages() {
    let mut t = Table::new(1, Duration::ZERO);
    assert!(
        t.add_real(key(), real(1, 1), Instant::ZERO)
            .unwrap_err()
            .contains("no such service")
    );
    t.add_service(ServiceSpec::new(key(), "wlc"), Instant::ZERO)
        .unwrap();
    assert!(
        t.add_service(ServiceSpec::new(key(), "rr"), Instant::ZERO)
            .unwrap_err()
            .contains("exists")
    );
    t.add_real(key(), real(1, 1), Instant::ZERO).unwrap();
    assert!(
        t.add_real(key(), real(1, 1), Instant::ZERO)
            .unwrap_err()
            .contains("exists")
    );
    assert!(
        t.remove_real(key(), real(2, 1).addr, Instant::ZERO)
            .unwrap_err()
            .contains("no real")
    );
    assert!(
        t.edit_service(key(), "nope", SchedFlags::default(), None)
            .is_err()
    );
    t.edit_service(key(), "rr", SchedFlags::default(), None)
        .unwrap();
    assert_eq!(t.services().next().unwrap().spec.scheduler, "rr");
    t.clear(Instant::ZERO);
    assert_eq!(t.services().count(), 0);
}

#[test]
fn reload_adopts_connections_and_down_state() {
    let mut old = Table::new(1, Duration::ZERO);
    let mut spec = ServiceSpec::new(key(), "rr");
    spec.reals = vec![real(1, 1)];
    let svc = old.add_service(spec.clone(), Instant::ZERO).unwrap();
    let (b, _) = old.pick(svc, client(1), Instant::ZERO).unwrap();
    let cfg = Config {
        control: None,
        time_wait: Duration::ZERO,
        drain_timeout: Duration::ZERO,
        services: vec![ServiceSpec {
            scheduler: "wlc".into(),
            reals: vec![real(1, 1), real(2, 1)],
            ..spec
        }],
    };
    let mut new = Table::build(&cfg, 1, Instant::ZERO, Some(&old)).unwrap();
    let nb = new.adopt(&old, b).unwrap();
    let s = new.service(nb.svc).unwrap();
    assert_eq!(s.load(nb.dest), (1, 0));
    // wlc sees the adopted connection: the next pick goes to the idle server.
    assert_eq!(
        new.pick(nb.svc, client(2), Instant::ZERO).unwrap().1.port(),
        2
    );
}
