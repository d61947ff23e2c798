//! Health events applied to a director: quiesce on down, drain on removal, restore or re-add
//! on up, dynamic weights; and a checker driving a director end to end.

#[path = "common/health_driver.rs"]
mod driver;

use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;

use driver::Driver;
use lvs_core::director::testing::RoundRobin;
use lvs_core::director::{Director, DirectorConfig, RealConfig, RealId, RealState, ServiceConfig};
use lvs_core::health::{
    Applied, CheckConfig, DirectorBinding, Event, FailReason, ProbeResult, ProbeSpec, Reason,
};
use lvs_core::service::{ServiceId, ServiceKey};
use lvs_core::{Instant, proto};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

const GRACE: Duration = Duration::from_secs(30);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

struct Setup {
    d: Director,
    svc: ServiceId,
    cfgs: [RealConfig; 2],
    binding: DirectorBinding<u32>,
}

fn setup() -> Setup {
    let mut d = Director::new(
        DirectorConfig::default(),
        &mut ChaCha8Rng::seed_from_u64(1),
        Instant::ZERO,
    );
    let svc = d
        .add_service(
            ServiceConfig {
                key: ServiceKey::Addr {
                    protocol: proto::TCP,
                    addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
                    port: 80,
                },
                persistence: None,
                one_packet: false,
            },
            RoundRobin::boxed(),
        )
        .unwrap();
    let cfgs = [11, 12].map(|a| RealConfig {
        weight: 3,
        upper: 100,
        lower: 50,
        ..RealConfig::nat(ip(a), 8080)
    });
    let mut binding = DirectorBinding::new(GRACE);
    for (i, c) in cfgs.iter().enumerate() {
        let r = d.add_real(svc, *c).unwrap();
        binding.bind(i as u32, svc, r, *c);
    }
    Setup {
        d,
        svc,
        cfgs,
        binding,
    }
}

fn up(id: u32, weight: Option<u32>) -> Event<u32> {
    Event::Up {
        id,
        weight,
        reason: Reason::Rise,
    }
}

fn down(id: u32, remove: bool) -> Event<u32> {
    Event::Down {
        id,
        remove,
        reason: Reason::Fall(FailReason::Connect),
    }
}

#[test]
fn down_quiesces_and_up_restores_the_configured_weight() {
    let mut s = setup();
    let r0 = s.binding.real(0).unwrap();
    let t = Instant::from_secs(1);
    assert_eq!(
        s.binding.apply(&mut s.d, t, &down(0, false)),
        Ok(Applied::Quiesced(r0))
    );
    let (c, st) = s.d.real(r0).unwrap();
    assert_eq!((c.weight, st), (0, RealState::Quiesced));
    assert_eq!((c.upper, c.lower), (100, 50));
    // The scheduler no longer offers it; the other server is untouched.
    let sched = s.d.scheduler(s.svc).unwrap();
    assert_eq!(sched.load(lvs_core::DestId(r0.0)).unwrap().weight, 0);
    let r1 = s.binding.real(1).unwrap();
    assert_eq!(s.d.real(r1).unwrap().0.weight, 3);

    assert_eq!(
        s.binding.apply(&mut s.d, t, &up(0, None)),
        Ok(Applied::Weight(r0, 3))
    );
    assert_eq!(s.d.real(r0).unwrap(), (s.cfgs[0], RealState::Active));
}

#[test]
fn dynamic_weights_are_applied() {
    let mut s = setup();
    let r0 = s.binding.real(0).unwrap();
    let t = Instant::from_secs(1);
    let w = Event::Weight { id: 0, weight: 9 };
    assert_eq!(s.binding.apply(&mut s.d, t, &w), Ok(Applied::Weight(r0, 9)));
    assert_eq!(s.d.real(r0).unwrap().0.weight, 9);
    s.binding.apply(&mut s.d, t, &down(0, false)).unwrap();
    // Up with a dynamic weight uses it instead of the configured one.
    assert_eq!(
        s.binding.apply(&mut s.d, t, &up(0, Some(5))),
        Ok(Applied::Weight(r0, 5))
    );
    assert_eq!(s.d.real(r0).unwrap().0.weight, 5);
}

#[test]
fn removal_drains_and_up_ends_the_drain() {
    let mut s = setup();
    let r0 = s.binding.real(0).unwrap();
    let t = Instant::from_secs(5);
    assert_eq!(
        s.binding.apply(&mut s.d, t, &down(0, true)),
        Ok(Applied::Draining(r0))
    );
    assert_eq!(
        s.d.real(r0).unwrap().1,
        RealState::Draining {
            deadline: t + GRACE
        }
    );
    // Back before the grace ends: same server, active again.
    assert_eq!(
        s.binding
            .apply(&mut s.d, Instant::from_secs(6), &up(0, None)),
        Ok(Applied::Weight(r0, 3))
    );
    assert_eq!(s.d.real(r0).unwrap(), (s.cfgs[0], RealState::Active));
}

#[test]
fn a_removed_server_is_added_again_with_its_settings() {
    let mut s = setup();
    let r0 = s.binding.real(0).unwrap();
    s.binding
        .apply(&mut s.d, Instant::from_secs(5), &down(0, true))
        .unwrap();
    s.d.handle_timeout(Instant::from_secs(40));
    assert!(!s.d.reals_of(s.svc).unwrap().contains(&r0));
    // Down events for a server that is gone do nothing.
    assert_eq!(
        s.binding
            .apply(&mut s.d, Instant::from_secs(41), &down(0, false)),
        Ok(Applied::Nothing)
    );
    let Ok(Applied::Added(new)) = s
        .binding
        .apply(&mut s.d, Instant::from_secs(42), &up(0, None))
    else {
        panic!("expected the server to be added again");
    };
    assert_eq!(s.binding.real(0), Some(new));
    assert_eq!(s.d.real(new).unwrap(), (s.cfgs[0], RealState::Active));
    assert_eq!(s.d.reals_of(s.svc).unwrap().len(), 2);
}

#[test]
fn probes_and_unbound_ids_are_ignored() {
    let mut s = setup();
    let probe = Event::Probe {
        id: 0,
        target: "10.0.0.11:8080".parse().unwrap(),
        probe: ProbeSpec::Tcp,
        deadline: Instant::from_secs(1),
    };
    assert_eq!(
        s.binding.apply(&mut s.d, Instant::ZERO, &probe),
        Ok(Applied::Nothing)
    );
    assert_eq!(
        s.binding.apply(&mut s.d, Instant::ZERO, &down(7, false)),
        Ok(Applied::Nothing)
    );
    s.binding.unbind(1);
    assert_eq!(
        s.binding.apply(&mut s.d, Instant::ZERO, &down(1, false)),
        Ok(Applied::Nothing)
    );
    assert_eq!(s.binding.real(1), None);
    let r1 = RealId(1);
    assert_eq!(s.d.real(r1).unwrap().0.weight, 3);
}

#[test]
fn a_checker_drives_the_director() {
    let mut s = setup();
    let mut drv = Driver::new();
    for (i, c) in s.cfgs.iter().enumerate() {
        let mut cfg = CheckConfig::new(core::net::SocketAddr::new(c.addr, c.port), ProbeSpec::Tcp);
        cfg.interval = Duration::from_secs(1);
        cfg.timeout = Duration::from_millis(300);
        cfg.fall = 2;
        cfg.rise = 2;
        cfg.service_timeout = Some(Duration::from_secs(10));
        drv.add(i as u32, cfg);
    }
    // Server 0 dies at 3 s and comes back at 50 s; server 1 is always fine.
    let mut t = Instant::ZERO;
    let mut applied = Vec::new();
    while t < Instant::from_secs(60) {
        t += Duration::from_secs(1);
        drv.run_until(t, |id, n| {
            if id == 0 && (3..50).contains(&n) {
                None
            } else {
                Some(ProbeResult::Pass)
            }
        });
        for (at, ev) in drv.log.drain(..) {
            s.d.handle_timeout(at);
            applied.push((at, s.binding.apply(&mut s.d, at, &ev).unwrap()));
        }
        s.d.handle_timeout(t);
        if t == Instant::from_secs(10) {
            let r0 = s.binding.real(0).unwrap();
            assert_eq!(s.d.real(r0).unwrap().1, RealState::Quiesced);
        }
        if t == Instant::from_secs(45) {
            // Drained for 30 s from 14.3 s: gone.
            let r0 = s.binding.real(0).unwrap();
            assert!(!s.d.reals_of(s.svc).unwrap().contains(&r0));
        }
    }
    let kinds: Vec<_> = applied
        .iter()
        .map(|(at, a)| (at.as_nanos() / 1_000_000, std::mem::discriminant(a)))
        .collect();
    let r = RealId(0);
    // Timeouts at 3.3 and 4.3 s: quiesced at 4.3 s; drained from 14.3 s (service timeout),
    // removed at 44.3 s; two passes at 50 and 51 s add it again.
    assert_eq!(
        kinds,
        [
            (4300, std::mem::discriminant(&Applied::Quiesced(r))),
            (14300, std::mem::discriminant(&Applied::Draining(r))),
            (51000, std::mem::discriminant(&Applied::Added(r))),
        ]
    );
    let r0 = s.binding.real(0).unwrap();
    assert_eq!(s.d.real(r0).unwrap(), (s.cfgs[0], RealState::Active));
    let r1 = s.binding.real(1).unwrap();
    assert_eq!(s.d.real(r1).unwrap(), (s.cfgs[1], RealState::Active));
}
