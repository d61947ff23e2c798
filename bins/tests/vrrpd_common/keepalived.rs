//! keepalived 2.2.7 as a peer in a [`Lab`]: a generated keepalived.conf, the daemon started in
//! the foreground with pid files in the lab directory, and a crash that kills its VRRP
//! process the way a power cut would.

use std::time::Duration;

use super::{Lab, sh};

/// One keepalived VRRP instance (VI_1, VRID 51, interface eth0).
#[derive(Clone, Copy)]
pub(crate) struct KaConf<'a> {
    /// `vrrp_version`.
    pub(crate) version: u8,
    /// `advert_int` in seconds.
    pub(crate) interval: f64,
    /// `priority`.
    pub(crate) priority: u8,
    /// `false`: `nopreempt`.
    pub(crate) preempt: bool,
    /// The virtual address with its prefix.
    pub(crate) vip: &'a str,
    /// Unicast mode: (`unicast_src_ip`, the one `unicast_peer`).
    pub(crate) unicast: Option<(&'a str, &'a str)>,
}

impl KaConf<'_> {
    /// The keepalived.conf text.
    pub(crate) fn text(&self) -> String {
        let unicast = self.unicast.map_or_else(String::new, |(src, peer)| {
            format!("  unicast_src_ip {src}\n  unicast_peer {{\n    {peer}\n  }}\n")
        });
        format!(
            "global_defs {{\n  router_id lvs_interop\n  vrrp_version {}\n}}\n\
             vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n\
             \x20 priority {}\n  advert_int {}\n  {}\n  garp_master_delay 0\n{unicast}\
             \x20 virtual_ipaddress {{\n    {}\n  }}\n}}\n",
            self.version,
            self.priority,
            self.interval,
            if self.preempt { "" } else { "nopreempt" },
            self.vip
        )
    }
}

fn pid_file(lab: &Lab, what: &str, run: u32) -> String {
    lab.dir
        .join(format!("{what}-{run}.pid"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Start keepalived in namespace `short`; `run` numbers its pid files (one per start).
pub(crate) fn start(lab: &mut Lab, short: &str, c: &KaConf<'_>, run: u32) -> usize {
    let conf = lab.file(&format!("keepalived-{run}.conf"), &c.text());
    let (main, vrrp, chk) = (
        pid_file(lab, "ka", run),
        pid_file(lab, "ka-vrrp", run),
        pid_file(lab, "ka-chk", run),
    );
    let conf = conf.to_str().unwrap().to_owned();
    lab.pid_files.push(vrrp.clone().into());
    lab.spawn(
        short,
        "keepalived",
        &[
            "keepalived",
            "-n",
            "-l",
            "-D",
            "-P",
            "--dont-respawn",
            "-f",
            &conf,
            "-p",
            &main,
            "-r",
            &vrrp,
            "-c",
            &chk,
        ],
    )
}

/// Crash keepalived's VRRP process (its parent would otherwise restart it or resign for it),
/// then its parent, and remove the address it leaves behind, as a crashed host would lose it.
pub(crate) fn crash(lab: &mut Lab, short: &str, proc_index: usize, run: u32, vip: &str) {
    let pid = std::fs::read_to_string(pid_file(lab, "ka-vrrp", run)).unwrap_or_default();
    assert!(
        !pid.trim().is_empty(),
        "no keepalived VRRP pid file{}",
        lab.logs()
    );
    sh(&["kill", "-KILL", pid.trim()]);
    lab.signal(proc_index, "KILL");
    assert!(lab.wait_exit(proc_index, Duration::from_secs(3)));
    let ns = lab.ns(short);
    let _ = std::process::Command::new("ip")
        .args(["-n", &ns, "addr", "del", vip, "dev", "eth0"])
        .stderr(std::process::Stdio::null())
        .status();
}
