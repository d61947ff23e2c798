//! The status file (`[global] status_file`): what every instance is doing and why, rewritten
//! (write to a temporary file, then rename, so a reader never sees half of it) after every
//! state change and at every interface poll. It is keepalived's `SIGUSR1` data dump made
//! continuous, and it carries the instances' explain query ([`Instance::explain`]): why this
//! state, who is master, who is next, and when the state can change on its own.
//!
//! ```text
//! VI_1 eth0 vrid 51 v3: MASTER for 12.408 s (MasterDown), priority 150 (base 150)
//!   master: this router (10.0.0.1); next: 10.0.0.2 priority 100, heard 0.161 s ago
//!   intervals: advert 0.200 s, master down 0.683 s, skew 0.083 s
//!   counters: sent 62, received 1 accepted / 0 dropped, transitions 2
//! ```

use core::fmt::Write as _;
use core::time::Duration;
use std::io::Write as _;
use std::path::Path;

use lvs_core::Instant;
use lvs_vrrp::state::{Instance, RouterView};
use lvs_vrrp::wire::VersionRepr;

use super::daemon::DaemonStats;
use super::router::Router;

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn version(v: VersionRepr) -> &'static str {
    match v {
        VersionRepr::V2 { .. } => "v2",
        VersionRepr::V3 { .. } => "v3",
    }
}

fn router_view(now: Instant, r: RouterView) -> String {
    match r.heard {
        None => format!("this router ({})", r.addr),
        Some(at) => format!(
            "{} priority {}, heard {} ago",
            r.addr,
            r.priority,
            secs(now.saturating_duration_since(at))
        ),
    }
}

/// One instance's block.
pub fn instance(out: &mut String, name: &str, interface: &str, i: &Instance, now: Instant) {
    let e = i.explain(now);
    let c = i.config();
    let _ = writeln!(
        out,
        "{name} {interface} vrid {} {}: {} for {} ({:?}), priority {} (base {})",
        c.vrid,
        version(c.version),
        e.state,
        secs(now.saturating_duration_since(e.since)),
        e.reason,
        e.priority,
        e.base_priority
    );
    let master = e
        .master
        .map_or_else(|| "unknown".to_owned(), |m| router_view(now, m));
    let next = e
        .next
        .map_or_else(|| "unknown".to_owned(), |n| router_view(now, n));
    let _ = writeln!(out, "  master: {master}; next: {next}");
    if let Some(at) = e.next_transition {
        let _ = writeln!(
            out,
            "  becomes master in {} unless an advert arrives",
            secs(at.saturating_duration_since(now))
        );
    }
    let _ = writeln!(
        out,
        "  intervals: advert {}, master down {}, skew {}",
        secs(i.advert_interval()),
        secs(e.master_down_interval),
        secs(e.skew_time)
    );
    if !e.down_tracks.is_empty() {
        let _ = writeln!(out, "  tracks down: {}", e.down_tracks.join(", "));
    }
    if e.group_fault {
        let _ = writeln!(out, "  held in fault by its sync group");
    }
    if e.yielded {
        let _ = writeln!(out, "  handover in force");
    }
    for p in &e.drifting_peers {
        let _ = writeln!(out, "  configuration drift with {p}");
    }
    let s = i.stats();
    let _ = writeln!(
        out,
        "  counters: sent {}, received {} accepted / {} dropped, transitions {}",
        s.adverts_sent,
        s.rx.accepted(),
        s.rx.dropped(),
        s.transitions
    );
}

/// The whole file: every instance, then the daemon's counters.
pub fn render(router: &Router, stats: &DaemonStats, now: Instant) -> String {
    let mut out = String::new();
    for idx in 0..router.len() {
        if let (Some(slot), Some(i)) = (router.slot(idx), router.instance(idx)) {
            instance(&mut out, &slot.name, &slot.interface, i, now);
        }
    }
    let _ = writeln!(
        out,
        "daemon: garp {} na {} (errors {}), vip changes {} (errors {}), notifies {}",
        stats.garp_sent,
        stats.na_sent,
        stats.garp_errors,
        stats.vip_changes,
        stats.vip_errors,
        stats.notifies
    );
    out
}

/// When the status file is due: after a state change (on the loop's next turn, once that
/// turn's adverts are out) and every `period`.
#[derive(Debug, Default)]
pub struct StatusWriter {
    path: Option<std::path::PathBuf>,
    period: Duration,
    next: Instant,
    dirty: bool,
    errors: u64,
}

impl StatusWriter {
    /// Write to `path` (none: never), at least every `period`.
    pub fn configure(&mut self, path: Option<std::path::PathBuf>, period: Duration) {
        self.dirty = path.is_some();
        self.path = path;
        self.period = period;
    }

    /// Something changed: write on the next turn.
    pub fn mark(&mut self) {
        self.dirty = self.path.is_some();
    }

    /// When the next write is due, if there is a file.
    pub fn due_at(&self) -> Option<Instant> {
        self.path
            .as_ref()
            .map(|_| if self.dirty { Instant::ZERO } else { self.next })
    }

    /// Write the file if it is due at `now`. A failed write is logged (once per run of
    /// failures) and retried at the next period.
    pub fn write_due(&mut self, router: &Router, stats: &DaemonStats, now: Instant) {
        if self.due_at().is_some_and(|at| at <= now) {
            self.write_now(router, stats, now);
        }
    }

    /// Write the file now (shutdown: the final states).
    pub fn write_now(&mut self, router: &Router, stats: &DaemonStats, now: Instant) {
        let Some(path) = &self.path else {
            return;
        };
        self.dirty = false;
        self.next = now + self.period;
        match write(path, &render(router, stats, now)) {
            Ok(()) => self.errors = 0,
            Err(e) => {
                if self.errors == 0 {
                    tracing::warn!(path = %path.display(), error = %e, "status file not written");
                }
                self.errors += 1;
            }
        }
    }
}

/// Replace `path` with `text` in one rename.
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrpd::config::{Config, Plan};
    use crate::vrrpd::router::Slot;
    use lvs_core::StateMachine;

    fn router() -> Router {
        let c = Config::from_toml(
            "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\npriority = 150\n\
             version = 3\nadvert_int = 0.2\nvirtual_addresses = [\"10.0.0.100/24\"]\n",
        )
        .unwrap();
        let plan = Plan::from_config(&c).unwrap();
        let mut r = Router::new();
        for spec in plan.instances {
            let slot = Slot {
                name: spec.name.clone(),
                interface: spec.interface.clone(),
                ifindex: 1,
            };
            r.push(slot, spec.build("10.0.0.1".parse().unwrap()).unwrap());
        }
        r
    }

    #[test]
    fn a_backup_says_when_it_takes_over_and_a_master_says_so() {
        let mut r = router();
        let t0 = Instant::ZERO + Duration::from_secs(5);
        r.start_all(t0);
        let text = render(&r, &DaemonStats::default(), t0 + Duration::from_millis(100));
        assert!(
            text.starts_with("VI_1 eth0 vrid 51 v3: BACKUP for 0.100 s (Startup), priority 150"),
            "{text}"
        );
        assert!(text.contains("becomes master in 0.583 s"), "{text}");
        assert!(text.contains("master down 0.683 s, skew 0.083 s"), "{text}");
        // Let the Master_Down timer fire.
        let at = t0 + Duration::from_secs(1);
        r.handle_timeout(at);
        let text = render(&r, &DaemonStats::default(), at);
        assert!(text.contains(": MASTER for 0.000 s (MasterDown)"), "{text}");
        assert!(text.contains("master: this router (10.0.0.1)"), "{text}");
        assert!(text.contains("transitions 2"), "{text}");
        assert!(text.ends_with("notifies 0\n"), "{text}");
    }

    #[test]
    fn the_file_is_replaced_whole() {
        let dir = std::env::temp_dir().join(format!("vrrpd-status-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("status");
        write(&p, "one\n").unwrap();
        write(&p, "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two\n");
        assert!(!dir.join("status.tmp").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
