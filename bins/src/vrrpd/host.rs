//! The host side effects of the daemon: the VIP reconciliation plan, the primary address and
//! interface facts, and child processes (notify and track scripts).
//!
//! Addresses are listed, added and removed over rtnetlink ([`super::rtnl`]). The
//! reconciliation is level-triggered ([`plan_vips`]): the interface is compared with the
//! desired set every time, so an address deleted by hand comes back and a stale one from a
//! crashed run goes away.

use core::net::IpAddr;
use core::time::Duration;
use std::collections::BTreeSet;
use std::io;
use std::process::{Child, Command, Stdio};

use lvs_core::Instant;

use super::config::Vip;
pub use super::rtnl::Listed;
use super::rtnl::Rtnl;

/// Put the calling thread under `SCHED_FIFO` at `priority` (1..=99), as keepalived's
/// `vrrp_rt_priority` does for its VRRP process: a busy machine then delays adverts and the
/// first gratuitous ARP by microseconds instead of a scheduler slice. Needs `CAP_SYS_NICE`.
pub fn set_realtime(priority: u8) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority),
    };
    // SAFETY: sched_setscheduler reads `param` (a valid, initialised struct) and pid 0 names
    // the calling thread; it has no other effect on memory.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Apply `priority` (0: leave the scheduler alone) and log the outcome; a failure is a
/// warning, not an error (keepalived carries on too).
pub fn apply_realtime(priority: u8) {
    if priority == 0 {
        return;
    }
    match set_realtime(priority) {
        Ok(()) => tracing::info!(priority, "VRRP loop runs under SCHED_FIFO"),
        Err(e) => tracing::warn!(priority, error = %e, "SCHED_FIFO refused; normal scheduling"),
    }
}

/// What to add and what to delete so that the interface holds exactly `desired` among the
/// addresses this daemon manages (`managed`); other addresses are never touched.
pub fn plan_vips(
    current: &[Listed],
    desired: &BTreeSet<Vip>,
    managed: &BTreeSet<IpAddr>,
) -> (Vec<Vip>, Vec<Vip>) {
    let have: BTreeSet<IpAddr> = current.iter().map(|l| l.vip.addr).collect();
    let want: BTreeSet<IpAddr> = desired.iter().map(|v| v.addr).collect();
    let add = desired
        .iter()
        .filter(|v| !have.contains(&v.addr))
        .copied()
        .collect();
    let del = current
        .iter()
        .filter(|l| managed.contains(&l.vip.addr) && !want.contains(&l.vip.addr))
        .map(|l| l.vip)
        .collect();
    (add, del)
}

/// The primary address of interface `ifindex`: IPv4 the first address that is not a VIP,
/// IPv6 the first link-local one; addresses still in duplicate address detection are skipped.
pub fn primary_address(
    nl: &mut Rtnl,
    ifindex: u32,
    v6: bool,
    vips: &BTreeSet<IpAddr>,
) -> io::Result<IpAddr> {
    nl.addresses(ifindex)?
        .into_iter()
        .find(|l| {
            l.vip.addr.is_ipv6() == v6
                && !l.tentative
                && !vips.contains(&l.vip.addr)
                && (!v6 || l.link_scope)
        })
        .map(|l| l.vip.addr)
        .ok_or_else(|| io::Error::other("no usable address yet"))
}

/// The MAC address of `interface` from sysfs.
pub fn mac_address(interface: &str) -> io::Result<[u8; 6]> {
    let s = std::fs::read_to_string(format!("/sys/class/net/{interface}/address"))?;
    super::garp::parse_mac(&s)
        .ok_or_else(|| io::Error::other(format!("{interface}: no Ethernet address")))
}

/// Whether a link is usable from its sysfs `operstate` and `flags`: `up`, or `unknown` (devices
/// that report no state, such as dummy and loopback) with IFF_UP set.
pub fn link_usable(operstate: &str, flags: &str) -> bool {
    let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).unwrap_or(0);
    match operstate.trim() {
        "up" => true,
        "unknown" => flags & 1 != 0,
        _ => false,
    }
}

/// Whether `interface` exists and is usable ([`link_usable`]).
pub fn link_up(interface: &str) -> bool {
    let base = format!("/sys/class/net/{interface}");
    match (
        std::fs::read_to_string(format!("{base}/operstate")),
        std::fs::read_to_string(format!("{base}/flags")),
    ) {
        (Ok(o), Ok(f)) => link_usable(&o, &f),
        _ => false,
    }
}

/// What a child process was started for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// A notify script (its outcome is only logged).
    Notify,
    /// A run of the track script at this index.
    Script(usize),
}

#[derive(Debug)]
struct Running {
    child: Child,
    job: Job,
    program: String,
    deadline: Option<Instant>,
}

/// Spawned children, reaped without blocking; a child past its deadline is killed.
#[derive(Debug, Default)]
pub struct Children {
    running: Vec<Running>,
    /// Spawn failures.
    pub spawn_errors: u64,
    /// Children killed at their deadline.
    pub killed: u64,
}

/// How often running children are checked.
pub const REAP_PERIOD: Duration = Duration::from_millis(50);

/// The most children running at once; more spawns are refused and counted.
pub const MAX_CHILDREN: usize = 256;

impl Children {
    /// Start `argv` (no shell, stdin and stdout closed, stderr inherited). Returns whether it
    /// started.
    pub fn spawn(&mut self, argv: &[String], job: Job, deadline: Option<Instant>) -> bool {
        let Some((program, args)) = argv.split_first() else {
            return false;
        };
        if self.running.len() >= MAX_CHILDREN {
            self.spawn_errors += 1;
            tracing::warn!(%program, "too many children running; not started");
            return false;
        }
        let spawned = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => {
                self.running.push(Running {
                    child,
                    job,
                    program: program.clone(),
                    deadline,
                });
                true
            }
            Err(e) => {
                self.spawn_errors += 1;
                tracing::warn!(%program, error = %e, "cannot run");
                false
            }
        }
    }

    /// Whether any child is running.
    pub fn any(&self) -> bool {
        !self.running.is_empty()
    }

    /// Reap finished children and kill overdue ones; returns each finished job and whether it
    /// succeeded (exit status 0).
    pub fn reap(&mut self, now: Instant) -> Vec<(Job, bool)> {
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.running.len() {
            let r = &mut self.running[i];
            let outcome = match r.child.try_wait() {
                Ok(Some(status)) => Some(status.success()),
                Ok(None) if r.deadline.is_some_and(|d| now >= d) => {
                    tracing::warn!(program = %r.program, "timed out; killed");
                    self.killed += 1;
                    // Kill and reap now: the process is gone within microseconds of SIGKILL.
                    let _ = r.child.kill();
                    let _ = r.child.wait();
                    Some(false)
                }
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(program = %r.program, error = %e, "wait failed");
                    Some(false)
                }
            };
            match outcome {
                Some(ok) => {
                    let r = self.running.swap_remove(i);
                    done.push((r.job, ok));
                }
                None => i += 1,
            }
        }
        done
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        // Track scripts still running are not waited for beyond a kill; notify scripts are left
        // to finish (they may be the STOP notification).
        for r in &mut self.running {
            if matches!(r.job, Job::Script(_)) {
                let _ = r.child.kill();
                let _ = r.child.wait();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(s: &str, link_scope: bool) -> Listed {
        Listed {
            vip: Vip::parse(s).unwrap(),
            link_scope,
            tentative: false,
        }
    }

    #[test]
    fn reconciliation_adds_missing_and_removes_only_managed_extras() {
        let current = [
            listed("10.9.0.1/24", false),
            listed("10.9.0.100/32", false),
            listed("2001:db8::5/64", false),
            listed("fe80::1/64", true),
        ];
        let v = |s: &str| Vip::parse(s).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let desired: BTreeSet<Vip> = [v("10.9.0.101/24")].into();
        let managed: BTreeSet<IpAddr> = [ip("10.9.0.100"), ip("10.9.0.101")].into();
        let (add, del) = plan_vips(&current, &desired, &managed);
        assert_eq!(add, [v("10.9.0.101/24")]);
        assert_eq!(del, [v("10.9.0.100/32")]);
        // Already right: nothing to do; the interface address is never touched.
        let desired: BTreeSet<Vip> = [v("10.9.0.100")].into();
        assert_eq!(plan_vips(&current, &desired, &managed), (vec![], vec![]));
    }

    #[test]
    fn link_state_follows_operstate_and_flags() {
        assert!(link_usable("up\n", "0x1003\n"));
        assert!(link_usable("unknown", "0x1"));
        assert!(!link_usable("unknown", "0x1002"));
        assert!(!link_usable("down", "0x1003"));
        assert!(!link_usable("lowerlayerdown", "0x1003"));
    }

    #[test]
    fn children_report_exit_status_and_overdue_ones_are_killed() {
        let mut c = Children::default();
        let sh = |s: &str| vec!["/bin/sh".to_owned(), "-c".to_owned(), s.to_owned()];
        assert!(c.spawn(&sh("exit 0"), Job::Script(0), None));
        assert!(c.spawn(&sh("exit 3"), Job::Script(1), None));
        assert!(c.spawn(&sh("sleep 30"), Job::Script(2), Some(Instant::from_secs(1))));
        assert!(!c.spawn(&["/nonexistent/program".to_owned()], Job::Notify, None));
        assert_eq!(c.spawn_errors, 1);
        let mut done = Vec::new();
        for _ in 0..200 {
            done.extend(c.reap(Instant::ZERO));
            if done.len() == 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        done.sort_by_key(|(j, _)| format!("{j:?}"));
        assert_eq!(done, [(Job::Script(0), true), (Job::Script(1), false)]);
        assert!(c.any());
        assert_eq!(c.reap(Instant::from_secs(1)), [(Job::Script(2), false)]);
        assert_eq!(c.killed, 1);
        assert!(!c.any());
    }
}
