//! Network namespaces, veth links and the unpacked ntpsec (Debian packages `ntpsec` and
//! `python3-ntp` extracted with `dpkg -x` into `$LVS_NTPSEC_ROOT`, default /opt/lvs-ntpsec).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use super::{NTPD, Proc, TempDir, spawn};

static NEXT: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A network namespace with `lo` up, deleted (with every process left in it) on drop.
pub(crate) struct NetNs {
    pub(crate) name: String,
}

impl NetNs {
    /// A fresh namespace, or `None` without root or `ip`.
    pub(crate) fn new(tag: &str) -> Option<Self> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("lvsntp-{tag}-{}-{n}", std::process::id());
        if !ip(&["netns", "add", &name]) {
            return None;
        }
        let ns = Self { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]).then_some(ns)
    }

    /// `cmd` run inside the namespace.
    pub(crate) fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if let Ok(o) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Links `a` (10.213.0.1/24) and `b` (10.213.0.2/24) with a veth pair. The addresses only
/// exist inside the two namespaces, so parallel tests do not collide.
pub(crate) fn link(a: &NetNs, b: &NetNs) -> bool {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let (va, vb) = (
        format!("lvn{}x{n}a", std::process::id() % 100_000),
        format!("lvn{}x{n}b", std::process::id() % 100_000),
    );
    let ok = ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])
        && ip(&["link", "set", &va, "netns", &a.name])
        && ip(&["link", "set", &vb, "netns", &b.name])
        && ip(&["-n", &a.name, "addr", "add", "10.213.0.1/24", "dev", &va])
        && ip(&["-n", &b.name, "addr", "add", "10.213.0.2/24", "dev", &vb])
        && ip(&["-n", &a.name, "link", "set", &va, "up"])
        && ip(&["-n", &b.name, "link", "set", &vb, "up"]);
    if !ok {
        let _ = ip(&["link", "del", &va]);
    }
    ok
}

/// The unpacked ntpsec tree, if complete.
pub(crate) fn ntpsec_root() -> Option<PathBuf> {
    let root = PathBuf::from(
        std::env::var("LVS_NTPSEC_ROOT").unwrap_or_else(|_| "/opt/lvs-ntpsec".to_owned()),
    );
    let needed = [
        "usr/sbin/ntpd",
        "usr/bin/ntpq",
        "usr/lib/python3/dist-packages/ntp/packet.py",
        "usr/lib/x86_64-linux-gnu/ntp",
    ];
    (needed.iter().all(|p| root.join(p).exists()) && Path::new("/usr/bin/python3").exists())
        .then_some(root)
}

/// The stock ntpq (Python) run inside `ns` with `args`.
pub(crate) fn ntpq(root: &Path, ns: &NetNs, args: &[&str]) -> Output {
    ns.command("/usr/bin/python3")
        .arg(root.join("usr/bin/ntpq"))
        .args(args)
        .env("PYTHONPATH", root.join("usr/lib/python3/dist-packages"))
        .env("LD_LIBRARY_PATH", root.join("usr/lib/x86_64-linux-gnu/ntp"))
        .output()
        .expect("running ntpq")
}

/// Starts ntpsec's ntpd in the foreground inside `ns` with `conf` (log in `dir`).
pub(crate) fn start_ntpsec(root: &Path, ns: &NetNs, dir: &TempDir, conf: &str) -> Proc {
    let path = dir.path("ntpsec.conf");
    std::fs::write(&path, conf).unwrap();
    let mut cmd = ns.command(root.join("usr/sbin/ntpd"));
    cmd.arg("-n")
        .arg("-c")
        .arg(&path)
        .arg("-l")
        .arg(dir.path("ntpsec.log"))
        .arg("-p")
        .arg(dir.path("ntpsec.pid"));
    spawn("ntpsec-ntpd", cmd, &dir.path("ntpsec.out"))
}

/// Starts lvs-ntpd (monitor mode) inside `ns` on `listen`:`port` with `conf`; its control
/// socket is `<dir>/<name>.sock`. Returns once the socket exists.
pub(crate) fn start_daemon_in(
    ns: &NetNs,
    dir: &TempDir,
    name: &str,
    conf: &str,
    listen: &str,
    port: u16,
) -> (Proc, PathBuf) {
    let path = dir.path(&format!("{name}.conf"));
    super::launch_daemon(ns.command(NTPD), dir, name, &path, conf, listen, port)
}

/// `key=value` pairs of ntpq's cooked `rv` output.
pub(crate) fn rv_pairs(text: &str) -> Vec<(String, String)> {
    text.split([',', '\n'])
        .filter_map(|item| {
            let (k, v) = item.trim().split_once('=')?;
            Some((k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        })
        .collect()
}
