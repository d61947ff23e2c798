//! One lvs-vrrpd / keepalived interop scenario, multicast or unicast: the higher priority
//! starts first and stays sole master when the other joins; the master crashes and the backup
//! takes over within Master_Down_Interval plus a margin; the crashed router returns and either
//! preempts back or (nopreempt) stays backup. Ours runs in r1 (.1), keepalived in r2 (.2).

use std::time::Duration;

use super::keepalived::{self, KaConf};
use super::{Lab, NET, can_run, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_lvs-vrrpd");
/// Scheduling, process start and keepalived's own start-up on a loaded 2-core machine.
const MARGIN: Duration = Duration::from_millis(1500);
const OURS: &str = "r1";
const THEIRS: &str = "r2";

fn vip() -> String {
    format!("{NET}.0.100")
}

fn addr(host: u8) -> String {
    format!("{NET}.0.{host}")
}

/// One interop case.
#[derive(Clone, Copy)]
pub(crate) struct Case {
    /// VRRP version, 2 or 3.
    pub(crate) version: u8,
    /// Whether lvs-vrrpd has the higher priority.
    pub(crate) ours_higher: bool,
    /// Preempt (`false`: nopreempt on both sides).
    pub(crate) preempt: bool,
    /// Unicast adverts (keepalived `unicast_src_ip` / `unicast_peer`) instead of multicast.
    pub(crate) unicast: bool,
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

fn start_ours(lab: &mut Lab, c: Case, priority: u8) -> usize {
    let unicast = if c.unicast {
        format!(
            "unicast_src = \"{}\"\nunicast_peers = [\"{}\"]\n",
            addr(1),
            addr(2)
        )
    } else {
        String::new()
    };
    let text = format!(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\npriority = {priority}\n\
         version = {}\nadvert_int = {}\nvirtual_addresses = [\"{}/24\"]\npreempt = {}\n\
         garp_master_delay = 0\n{unicast}",
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
    let (vip, src, peer) = (format!("{}/24", vip()), addr(2), addr(1));
    let conf = KaConf {
        version: c.version,
        interval: c.interval(),
        priority,
        preempt: c.preempt,
        vip: &vip,
        unicast: c.unicast.then_some((src.as_str(), peer.as_str())),
    };
    keepalived::start(lab, THEIRS, &conf, run)
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

/// Run case `c` (skipping loudly without root or keepalived).
pub(crate) fn run_case(name: &str, c: Case) {
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
    // Long enough for the backup's Master_Down_Interval to have expired (twice) had it not
    // accepted the master's adverts.
    stays(
        &lab,
        hi_ns,
        Duration::from_secs(2).max(c.mdi(lo) * 2),
        "after the backup joined",
    );

    // Crash the master (keepalived's VRRP child leaves its address behind: removed).
    if c.ours_higher {
        lab.signal(hi_proc, "KILL");
    } else {
        keepalived::crash(&mut lab, THEIRS, hi_proc, ka_run, &format!("{}/24", vip()));
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
