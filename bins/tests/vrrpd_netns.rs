//! lvs-vrrpd against itself in network namespaces on a bridge: election, crash, freeze,
//! graceful resignation, preempt and nopreempt, ARP answers and gratuitous ARP.
//!
//! Needs root and iproute2; skips loudly without them (fails under LVS_REQUIRE_INTEROP=1).
//! Intervals are 0.2 s (VRRPv3), so Master_Down_Interval is 3 × 0.2 s + Skew_Time.

mod vrrpd_common;

use std::time::Duration;

use vrrpd_common::{Lab, NET, can_run, sh, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_lvs-vrrpd");
const INTERVAL: f64 = 0.2;
/// Scheduling, process start and `ip` command latency on a loaded 2-core machine.
const MARGIN: Duration = Duration::from_millis(1000);

fn vip() -> String {
    format!("{NET}.0.100")
}

fn mdi(priority: u8) -> Duration {
    Duration::from_secs_f64(3.0 * INTERVAL + skew(priority).as_secs_f64())
}

fn skew(priority: u8) -> Duration {
    Duration::from_secs_f64(f64::from(256 - u32::from(priority)) / 256.0 * INTERVAL)
}

fn config(priority: u8, preempt: bool) -> String {
    format!(
        "[global]\ninterface_poll = 0.2\n\n[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\n\
         vrid = 51\npriority = {priority}\nversion = 3\nadvert_int = {INTERVAL}\n\
         virtual_addresses = [\"{}/24\"]\npreempt = {preempt}\ngarp_master_delay = 0\n",
        vip()
    )
}

fn start(lab: &mut Lab, short: &str, priority: u8, preempt: bool) -> usize {
    let conf = lab.file(
        &format!("{short}-{priority}.toml"),
        &config(priority, preempt),
    );
    let conf = conf.to_str().unwrap().to_owned();
    lab.spawn(short, short, &[BIN, "-c", &conf, "-vv"])
}

/// Wait until exactly `who` (among `among`) holds the VIP.
fn wait_sole(lab: &Lab, among: &[&str], who: &str, limit: Duration) -> Duration {
    wait_sole_of(lab, &vip(), among, who, limit)
}

/// Wait until exactly `who` (among `among`) holds `vip`.
fn wait_sole_of(lab: &Lab, vip: &str, among: &[&str], who: &str, limit: Duration) -> Duration {
    wait_for(limit, || lab.holders(among, vip) == [who]).unwrap_or_else(|| {
        panic!(
            "{who} did not become the sole holder of {vip} among {among:?} within {limit:?}; \
             holders {:?}{}",
            lab.holders(among, vip),
            lab.logs()
        )
    })
}

/// After a simultaneous start: every router's first Master_Down_Interval may elect a
/// short-lived second master (its timer fires before the winner's first advertisement has
/// crossed a loaded machine); RFC 9568 resolves that with the next advertisement. Wait past
/// the slowest router's interval, then for `who` alone.
fn settle(lab: &Lab, among: &[&str], who: &str, lowest_priority: u8) {
    std::thread::sleep(mdi(lowest_priority));
    wait_sole(lab, among, who, Duration::from_secs(5));
}

/// For `d`, every sample shows exactly `who` holding the VIP.
fn stays_sole(lab: &Lab, among: &[&str], who: &str, d: Duration) {
    let end = std::time::Instant::now() + d;
    while std::time::Instant::now() < end {
        let h = lab.holders(among, &vip());
        assert_eq!(h, [who], "split or empty: {h:?}{}", lab.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn one_master_crash_takeover_arp_garp_preempt_and_resign() {
    if !can_run(
        "vrrpd_netns::one_master_crash_takeover_arp_garp_preempt_and_resign",
        &[],
    ) {
        return;
    }
    let mut lab = Lab::new(2);
    let r1 = start(&mut lab, "r1", 150, true);
    let _r2 = start(&mut lab, "r2", 100, true);
    let all = ["r1", "r2"];
    settle(&lab, &all, "r1", 100);
    stays_sole(&lab, &all, "r1", Duration::from_secs(1));

    // The observer's ARP request for the VIP is answered by the master's MAC.
    let mac1 = lab.mac("r1");
    let mac2 = lab.mac("r2");
    assert_eq!(
        lab.arp_from_observer(&vip()).as_deref(),
        Some(mac1.as_str())
    );

    // Gratuitous ARP: give the observer a stale entry pointing at r1 (older than the 1 s
    // neighbour locktime), crash r1, and watch the entry move to r2 without asking.
    let obs = lab.ns("obs");
    sh(&[
        "ip",
        "-n",
        &obs,
        "neigh",
        "replace",
        &vip(),
        "lladdr",
        &mac1,
        "dev",
        "eth0",
        "nud",
        "stale",
    ]);
    std::thread::sleep(Duration::from_millis(1200));
    lab.signal(r1, "KILL");
    let took = wait_sole(&lab, &["r2"], "r2", mdi(100) + MARGIN);
    eprintln!(
        "kill -9: r2 took the VIP after {took:?} (Master_Down_Interval {:?})",
        mdi(100)
    );
    let moved = wait_for(Duration::from_secs(1), || {
        lab.observer_neighbour(&vip()).as_deref() == Some(mac2.as_str())
    });
    assert!(
        moved.is_some(),
        "no GARP reached the observer{}",
        lab.logs()
    );
    assert_eq!(
        lab.arp_from_observer(&vip()).as_deref(),
        Some(mac2.as_str())
    );

    // Restart r1: it removes its stale VIP at start, waits as backup, then preempts.
    let r1 = start(&mut lab, "r1", 150, true);
    let back = wait_sole(&lab, &all, "r1", mdi(150) + MARGIN * 3);
    eprintln!("restart: r1 preempted after {back:?}");
    stays_sole(&lab, &all, "r1", Duration::from_millis(600));

    // SIGTERM: r1 resigns with priority 0; r2 takes over within its Skew_Time.
    lab.signal(r1, "TERM");
    let took = wait_sole(&lab, &all, "r2", skew(100) + MARGIN);
    eprintln!(
        "SIGTERM: r2 took over after {took:?} (Skew_Time {:?})",
        skew(100)
    );
    assert!(lab.wait_exit(r1, Duration::from_secs(3)), "r1 did not exit");
    assert!(!lab.holds("r1", &vip()));
    let log = lab.log(r1);
    assert!(log.contains("transition"), "no transition logged:\n{log}");
    assert!(log.contains("stopping"), "no shutdown logged:\n{log}");
}

#[test]
fn frozen_master_is_replaced_and_preempts_back_on_resume() {
    if !can_run(
        "vrrpd_netns::frozen_master_is_replaced_and_preempts_back_on_resume",
        &[],
    ) {
        return;
    }
    let mut lab = Lab::new(2);
    let r1 = start(&mut lab, "r1", 150, true);
    let _r2 = start(&mut lab, "r2", 100, true);
    let all = ["r1", "r2"];
    settle(&lab, &all, "r1", 100);

    lab.signal(r1, "STOP");
    // r1 is frozen with its VIP configured; r2 must take over within the formula.
    let took = wait_for(mdi(100) + MARGIN, || lab.holds("r2", &vip()));
    assert!(took.is_some(), "r2 did not take over{}", lab.logs());
    eprintln!("SIGSTOP: r2 took over after {:?}", took.unwrap());

    lab.signal(r1, "CONT");
    let back = wait_sole(&lab, &all, "r1", MARGIN * 2);
    eprintln!("SIGCONT: single master r1 again after {back:?}");
    stays_sole(&lab, &all, "r1", Duration::from_millis(800));

    // SIGHUP with an unchanged file: the instance keeps running, no transition, no VIP blip.
    let transitions = lab.log(r1).matches("transition").count();
    lab.signal(r1, "HUP");
    stays_sole(&lab, &all, "r1", Duration::from_millis(800));
    let log = lab.log(r1);
    assert!(
        log.contains("configuration reloaded"),
        "no reload logged:\n{log}"
    );
    assert_eq!(
        log.matches("transition").count(),
        transitions,
        "reload restarted r1:\n{log}"
    );
}

#[test]
fn nopreempt_master_keeps_the_vip_when_the_higher_priority_returns() {
    if !can_run(
        "vrrpd_netns::nopreempt_master_keeps_the_vip_when_the_higher_priority_returns",
        &[],
    ) {
        return;
    }
    let mut lab = Lab::new(2);
    let all = ["r1", "r2"];
    let r1 = start(&mut lab, "r1", 150, false);
    wait_sole(&lab, &all, "r1", Duration::from_secs(5));
    let _r2 = start(&mut lab, "r2", 100, false);
    stays_sole(&lab, &all, "r1", Duration::from_secs(1));

    lab.signal(r1, "KILL");
    wait_sole(&lab, &["r2"], "r2", mdi(100) + MARGIN);
    // r1 comes back with nopreempt: it cleans up its stale VIP and stays backup.
    let _r1 = start(&mut lab, "r1", 150, false);
    wait_sole(&lab, &all, "r2", MARGIN * 2);
    stays_sole(&lab, &all, "r2", mdi(150) * 2);
}

#[test]
fn three_routers_the_next_highest_priority_takes_over() {
    if !can_run(
        "vrrpd_netns::three_routers_the_next_highest_priority_takes_over",
        &[],
    ) {
        return;
    }
    let mut lab = Lab::new(3);
    let r1 = start(&mut lab, "r1", 150, true);
    let _r2 = start(&mut lab, "r2", 120, true);
    let _r3 = start(&mut lab, "r3", 100, true);
    let all = ["r1", "r2", "r3"];
    settle(&lab, &all, "r1", 100);
    stays_sole(&lab, &all, "r1", Duration::from_millis(800));
    lab.signal(r1, "KILL");
    let took = wait_sole(&lab, &["r2", "r3"], "r2", mdi(120) + MARGIN);
    eprintln!("three routers: r2 took over after {took:?}");
    // r3's own interval ends 50 ms after r2's; on a loaded machine r2's first advertisement
    // can arrive later than that, so let r3's interval pass before sampling.
    std::thread::sleep(mdi(100).saturating_sub(took));
    wait_sole(&lab, &["r2", "r3"], "r2", Duration::from_secs(5));
    stays_sole(&lab, &["r2", "r3"], "r2", Duration::from_secs(1));
}

/// The IPv6 virtual address of [`ipv6_master_change_moves_the_observers_neighbour_entry`].
const VIP6: &str = "fd77::100";

fn start_v6(lab: &mut Lab, short: &str, priority: u8) -> usize {
    let text = format!(
        "[[instance]]\nname = \"VI_6\"\ninterface = \"eth0\"\nvrid = 52\npriority = {priority}\n\
         version = 3\nadvert_int = {INTERVAL}\nvirtual_addresses = [\"{VIP6}/64\"]\n\
         garp_master_delay = 0\n"
    );
    let conf = lab.file(&format!("{short}-v6-{priority}.toml"), &text);
    let conf = conf.to_str().unwrap().to_owned();
    lab.spawn(short, &format!("{short}-v6"), &[BIN, "-c", &conf, "-vv"])
}

/// Give the observer a stale neighbour entry for the VIP pointing at `mac` (no probing
/// happens without traffic), so that only an unsolicited NA can change it.
fn plant_stale_neighbour(lab: &Lab, mac: &str) {
    let obs = lab.ns("obs");
    sh(&[
        "ip", "-n", &obs, "-6", "neigh", "replace", VIP6, "lladdr", mac, "dev", "eth0", "nud",
        "stale",
    ]);
}

fn wait_neighbour(lab: &Lab, mac: &str, what: &str) {
    let moved = wait_for(Duration::from_secs(3), || {
        lab.observer_neighbour(VIP6).as_deref() == Some(mac)
    });
    assert!(
        moved.is_some(),
        "{what}: the observer's entry for {VIP6} is {:?}, not {mac}{}",
        lab.observer_neighbour(VIP6),
        lab.logs()
    );
}

#[test]
fn ipv6_master_change_moves_the_observers_neighbour_entry() {
    if !can_run(
        "vrrpd_netns::ipv6_master_change_moves_the_observers_neighbour_entry",
        &[],
    ) {
        return;
    }
    let mut lab = Lab::new(2);
    let all = ["r1", "r2"];
    lab.wait_ipv6_ready(&["r1", "r2", "obs"]);
    lab.add_ipv6("obs", "fd77::9/64");
    let (mac1, mac2) = (lab.mac("r1"), lab.mac("r2"));

    let r1 = start_v6(&mut lab, "r1", 150);
    wait_sole_of(&lab, VIP6, &all, "r1", Duration::from_secs(5));
    let _r2 = start_v6(&mut lab, "r2", 100);
    std::thread::sleep(mdi(100));
    wait_sole_of(&lab, VIP6, &all, "r1", Duration::from_secs(5));

    // Crash the master: r2 takes over and its unsolicited NA rewrites the observer's entry.
    plant_stale_neighbour(&lab, &mac1);
    std::thread::sleep(Duration::from_millis(1200));
    lab.signal(r1, "KILL");
    let took = wait_sole_of(&lab, VIP6, &["r2"], "r2", mdi(100) + MARGIN);
    eprintln!("IPv6 kill -9: r2 took {VIP6} after {took:?}");
    wait_neighbour(&lab, &mac2, "after r2 took over");

    // r1 returns (removing its stale VIP), preempts, and announces itself the same way.
    let _r1 = start_v6(&mut lab, "r1", 150);
    let back = wait_sole_of(&lab, VIP6, &all, "r1", mdi(150) + MARGIN * 3);
    eprintln!("IPv6 restart: r1 preempted after {back:?}");
    wait_neighbour(&lab, &mac1, "after r1 preempted");
    let log = lab.log(lab.procs.len() - 1);
    assert!(log.contains("transition"), "no transition logged:\n{log}");
}

#[test]
fn vips_changed_by_hand_are_reconciled_over_netlink() {
    if !can_run(
        "vrrpd_netns::vips_changed_by_hand_are_reconciled_over_netlink",
        &[],
    ) {
        return;
    }
    let mut lab = Lab::new(2);
    let all = ["r1", "r2"];
    for (short, priority) in [("r1", 150), ("r2", 100)] {
        let text = config(priority, true).replace(
            "interface_poll = 0.2",
            "interface_poll = 0.2\nvip_reconcile = 0.3",
        );
        let conf = lab.file(&format!("{short}-reconcile.toml"), &text);
        let conf = conf.to_str().unwrap().to_owned();
        lab.spawn(short, short, &[BIN, "-c", &conf, "-vv"]);
    }
    settle(&lab, &all, "r1", 100);
    let vip24 = format!("{}/24", vip());
    // Deleted on the master: the next reconciliation adds it back.
    sh(&[
        "ip",
        "-n",
        &lab.ns("r1"),
        "addr",
        "del",
        &vip24,
        "dev",
        "eth0",
    ]);
    wait_sole(&lab, &all, "r1", Duration::from_secs(5));
    // Added on the backup: the next reconciliation removes it; the master keeps its copy.
    sh(&[
        "ip",
        "-n",
        &lab.ns("r2"),
        "addr",
        "add",
        &vip24,
        "dev",
        "eth0",
    ]);
    wait_sole(&lab, &all, "r1", Duration::from_secs(5));
    stays_sole(&lab, &all, "r1", Duration::from_millis(600));
    // Through the daemon: r1 added the VIP twice (at takeover and after the delete), r2
    // deleted the one added by hand.
    let (log1, log2) = (lab.log(0), lab.log(1));
    assert!(log1.matches("\"add\"").count() >= 2, "{log1}");
    assert!(log2.contains("\"del\""), "{log2}");
}
