//! lvs-vrrpd against keepalived 2.2.7 (Debian `keepalived`) on a namespace bridge: VRRPv3 and
//! VRRPv2, each side as master and as backup, preempt and nopreempt. At every step exactly one
//! router holds the VIP, and a crashed master is replaced within Master_Down_Interval plus a
//! margin.
//!
//! Needs root, iproute2 and keepalived; skips loudly without them (fails under
//! LVS_REQUIRE_INTEROP=1).

mod vrrpd_common;

use std::time::Duration;

use vrrpd_common::keepalived::{self, KaConf};
use vrrpd_common::{Lab, NET, can_run, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_lvs-vrrpd");
const MARGIN: Duration = Duration::from_millis(1500);

fn vip() -> String {
    format!("{NET}.0.100")
}

/// One interop case: which version, whose priority is higher, preempt or not.
#[derive(Clone, Copy)]
struct Case {
    version: u8,
    ours_higher: bool,
    preempt: bool,
}

impl Case {
    fn interval(self) -> f64 {
        if self.version == 2 { 1.0 } else { 0.2 }
    }

    fn mdi(self, priority: u8) -> Duration {
        let skew = f64::from(256 - u32::from(priority)) / 256.0 * self.interval();
        Duration::from_secs_f64(3.0 * self.interval() + skew)
    }
}

/// The router namespaces: ours in r1, keepalived in r2.
const OURS: &str = "r1";
const THEIRS: &str = "r2";

fn start_ours(lab: &mut Lab, c: Case, priority: u8) -> usize {
    let text = format!(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\npriority = {priority}\n\
         version = {}\nadvert_int = {}\nvirtual_addresses = [\"{}/24\"]\npreempt = {}\n\
         garp_master_delay = 0\n",
        c.version,
        c.interval(),
        vip(),
        c.preempt
    );
    let conf = lab.file(&format!("ours-{priority}.toml"), &text);
    let conf = conf.to_str().unwrap().to_owned();
    lab.spawn(OURS, "lvs-vrrpd", &[BIN, "-c", &conf, "-vv"])
}

fn start_keepalived(lab: &mut Lab, c: Case, priority: u8, run: u32) -> usize {
    let vip = format!("{}/24", vip());
    let conf = KaConf {
        version: c.version,
        interval: c.interval(),
        priority,
        preempt: c.preempt,
        vip: &vip,
        unicast: None,
    };
    keepalived::start(lab, THEIRS, &conf, run)
}

/// Crash keepalived's VRRP process and remove the address it leaves behind.
fn crash_keepalived(lab: &mut Lab, proc_index: usize, run: u32) {
    keepalived::crash(lab, THEIRS, proc_index, run, &format!("{}/24", vip()));
}

fn sole(lab: &Lab, among: &[&str], who: &str, limit: Duration, what: &str) -> Duration {
    wait_for(limit, || lab.holders(among, &vip()) == [who]).unwrap_or_else(|| {
        panic!(
            "{what}: {who} not the sole VIP holder within {limit:?}; holders {:?}{}",
            lab.holders(among, &vip()),
            lab.logs()
        )
    })
}

fn stays(lab: &Lab, who: &str, d: Duration, what: &str) {
    let end = std::time::Instant::now() + d;
    while std::time::Instant::now() < end {
        let h = lab.holders(&[OURS, THEIRS], &vip());
        assert_eq!(h, [who], "{what}: {h:?}{}", lab.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_case(name: &str, c: Case) {
    if !can_run(name, &["keepalived"]) {
        return;
    }
    let mut lab = Lab::new(2);
    let (hi, lo) = (150u8, 100u8);
    let (hi_ns, lo_ns) = if c.ours_higher {
        (OURS, THEIRS)
    } else {
        (THEIRS, OURS)
    };
    let mut ka_run = 0;
    let start = |lab: &mut Lab, ours: bool, prio: u8, run: u32| {
        if ours {
            start_ours(lab, c, prio)
        } else {
            start_keepalived(lab, c, prio, run)
        }
    };
    let both = [OURS, THEIRS];

    // The higher priority starts first (nopreempt would otherwise let either win).
    let hi_proc = start(&mut lab, c.ours_higher, hi, ka_run);
    sole(
        &lab,
        &both,
        hi_ns,
        Duration::from_secs(8),
        "initial election",
    );
    let _lo_proc = start(&mut lab, !c.ours_higher, lo, ka_run);
    stays(
        &lab,
        hi_ns,
        Duration::from_secs(2).max(c.mdi(lo)),
        "after the backup joined",
    );

    // Crash the master.
    if c.ours_higher {
        lab.signal(hi_proc, "KILL");
    } else {
        crash_keepalived(&mut lab, hi_proc, ka_run);
        ka_run += 1;
    }
    let took = sole(
        &lab,
        &[lo_ns],
        lo_ns,
        c.mdi(lo) + MARGIN,
        "takeover after crash",
    );
    eprintln!(
        "{name}: {lo_ns} took over after {took:?} (MDI {:?})",
        c.mdi(lo)
    );

    // The higher priority returns.
    let _back = start(&mut lab, c.ours_higher, hi, ka_run);
    if c.preempt {
        let t = sole(&lab, &both, hi_ns, c.mdi(hi) + MARGIN * 3, "preempt back");
        eprintln!("{name}: {hi_ns} preempted back after {t:?}");
        stays(&lab, hi_ns, Duration::from_secs(2), "after preempting back");
    } else {
        sole(&lab, &both, lo_ns, MARGIN * 2, "nopreempt return");
        stays(
            &lab,
            lo_ns,
            c.mdi(hi) * 2,
            "nopreempt: the returning router must stay backup",
        );
    }
}

#[test]
fn v3_ours_master_keepalived_backup_preempt() {
    run_case(
        "vrrpd_keepalived::v3_ours_master",
        Case {
            version: 3,
            ours_higher: true,
            preempt: true,
        },
    );
}

#[test]
fn v3_keepalived_master_ours_backup_preempt() {
    run_case(
        "vrrpd_keepalived::v3_keepalived_master",
        Case {
            version: 3,
            ours_higher: false,
            preempt: true,
        },
    );
}

#[test]
fn v2_ours_master_keepalived_backup_preempt() {
    run_case(
        "vrrpd_keepalived::v2_ours_master",
        Case {
            version: 2,
            ours_higher: true,
            preempt: true,
        },
    );
}

#[test]
fn v2_keepalived_master_ours_backup_preempt() {
    run_case(
        "vrrpd_keepalived::v2_keepalived_master",
        Case {
            version: 2,
            ours_higher: false,
            preempt: true,
        },
    );
}

#[test]
fn v3_nopreempt_ours_higher() {
    run_case(
        "vrrpd_keepalived::v3_nopreempt_ours_higher",
        Case {
            version: 3,
            ours_higher: true,
            preempt: false,
        },
    );
}

#[test]
fn v3_nopreempt_keepalived_higher() {
    run_case(
        "vrrpd_keepalived::v3_nopreempt_keepalived_higher",
        Case {
            version: 3,
            ours_higher: false,
            preempt: false,
        },
    );
}

#[test]
fn v2_nopreempt_keepalived_higher() {
    run_case(
        "vrrpd_keepalived::v2_nopreempt_keepalived_higher",
        Case {
            version: 2,
            ours_higher: false,
            preempt: false,
        },
    );
}
