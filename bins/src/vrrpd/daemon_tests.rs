//! Unit tests of [`super`]: publish mode, driven through the daemon's timers without sockets
//! (nothing here touches rtnetlink: the interfaces do not exist, and are not tracked).

use super::*;

const PLAN: &str = r#"
[[instance]]
name = "VI_1"
interface = "lvs-test-a"
vrid = 61
priority = 150
version = 3
advert_int = 0.2
virtual_addresses = ["192.0.2.100/24", "192.0.2.101/24"]
garp_master_delay = 0
dont_track_primary = true

[[instance]]
name = "VI_2"
interface = "lvs-test-b"
vrid = 62
priority = 100
version = 3
advert_int = 0.2
virtual_addresses = ["198.51.100.7/24"]
dont_track_primary = true
"#;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// What [`Daemon::apply`] does once interfaces are resolved and sockets open.
fn install(d: &mut Daemon, plan: Plan, now: Instant) {
    for spec in &plan.instances {
        let inst = spec.build(ip("192.0.2.1")).unwrap();
        let slot = Slot {
            name: spec.name.clone(),
            interface: spec.interface.clone(),
            ifindex: 0,
        };
        d.router.push(slot, inst);
        d.holding.push(false);
        d.managed
            .entry(spec.interface.clone())
            .or_default()
            .extend(spec.vips.iter().map(|v| v.addr));
    }
    d.specs = plan.instances.clone();
    d.plan = plan;
    for i in 0..d.specs.len() {
        d.start_instance(now, i);
    }
    d.process_events(now);
}

/// Serve the daemon's deadlines up to `until` as the event loop would (adverts dropped).
fn run_until(d: &mut Daemon, from: Instant, until: Instant) {
    let mut now = from;
    for _ in 0..100_000 {
        match d.poll_timeout() {
            Some((at, _)) if at <= until => {
                now = now.max(at);
                d.handle_timeout(now);
                while d.poll_transmit().is_some() {}
            }
            _ => return,
        }
    }
    panic!("the daemon's timers did not settle");
}

#[test]
fn publish_mode_writes_the_masters_vips_into_the_handle_and_clears_them_on_shutdown() {
    let held = HeldVips::new();
    let mut d = Daemon::new();
    d.publish_to(held.clone());
    let t0 = Instant::from_secs(10);
    install(&mut d, Plan::from_toml(PLAN).unwrap(), t0);
    run_until(&mut d, t0, t0 + Duration::from_millis(100));
    // Backup for Master_Down_Interval first: nothing held yet.
    assert!(held.on("lvs-test-a").is_empty());
    assert_eq!(d.stats().vip_changes, 0);

    // Alone on the link, both instances become master and each interface holds its own VIPs.
    let t1 = t0 + Duration::from_secs(2);
    run_until(&mut d, t0, t1);
    assert_eq!(d.router().instance(0).unwrap().state(), State::Master);
    assert_eq!(
        held.on("lvs-test-a"),
        [ip("192.0.2.100"), ip("192.0.2.101")].into()
    );
    assert!(held.holds("lvs-test-b", ip("198.51.100.7")));
    assert!(!held.holds("lvs-test-a", ip("198.51.100.7")));
    assert_eq!(d.stats().vip_changes, 3);
    // No netlink in publish mode: not even a failed attempt.
    assert_eq!(d.stats().vip_errors, 0);
    assert!(d.nl.is_none());

    // Steady state republishes nothing.
    run_until(&mut d, t1, t1 + Duration::from_secs(3));
    assert_eq!(d.stats().vip_changes, 3);

    // Shutdown resigns and unpublishes everything at once.
    d.shutdown(t1 + Duration::from_secs(4));
    assert!(held.on("lvs-test-a").is_empty() && held.on("lvs-test-b").is_empty());
    assert_eq!(d.stats().vip_changes, 6);
    assert_eq!(d.stats().vip_errors, 0);
}
