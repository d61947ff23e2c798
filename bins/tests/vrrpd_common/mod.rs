//! A namespace lab for the lvs-vrrpd tests: a "switch" namespace with a bridge, one namespace
//! per router plus an observer, each joined to the bridge by a veth pair whose inner end is
//! `eth0`. Every name is unique per lab; the [`Lab`] drop guard kills every process it started
//! and deletes every namespace, also when a test fails.

// Each test binary uses a different subset of this module.
#![allow(dead_code)]

pub(crate) mod interop;
pub(crate) mod keepalived;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The subnet of every lab (inside its namespaces only).
pub(crate) const NET: &str = "10.77";

/// Whether the namespace tests can run here; prints a loud SKIP, or panics under
/// LVS_REQUIRE_INTEROP=1, when they cannot.
pub(crate) fn can_run(test: &str, extra: &[&str]) -> bool {
    let root = unsafe_free_is_root();
    let mut missing: Vec<String> = Vec::new();
    if !root {
        missing.push("root (CAP_NET_ADMIN, CAP_NET_RAW)".to_owned());
    }
    for prog in ["ip"].iter().chain(extra) {
        if which(prog).is_none() {
            missing.push(format!("the `{prog}` program"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!("SKIP {test}: needs {}", missing.join(", "));
    if std::env::var("LVS_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("{msg} (LVS_REQUIRE_INTEROP=1)");
    }
    eprintln!("\n*** {msg} ***\n");
    false
}

fn unsafe_free_is_root() -> bool {
    // /proc/self/status "Uid:" line: real, effective, ...
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// The path of `prog` on PATH (or the sbin directories).
pub(crate) fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| PathBuf::from(d).join(prog))
        .find(|p| p.is_file())
}

/// Run a command, panicking with its output when it fails.
pub(crate) fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A started daemon.
pub(crate) struct Proc {
    pub(crate) name: String,
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

/// The lab: namespaces, veths, processes, temp files.
pub(crate) struct Lab {
    pub(crate) tag: String,
    pub(crate) dir: PathBuf,
    namespaces: Vec<String>,
    pub(crate) procs: Vec<Proc>,
    /// Pid files of processes a started program forks (keepalived's VRRP child), killed on drop.
    pub(crate) pid_files: Vec<PathBuf>,
}

impl Lab {
    /// A switch plus `routers` router namespaces (addresses .1, .2 ...) and an observer
    /// (.9), each with `eth0` on the bridge.
    pub(crate) fn new(routers: usize) -> Self {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let tag = format!("vd{}x{n}", std::process::id() % 100_000);
        let dir = std::env::temp_dir().join(format!("lvs-vrrpd-{tag}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut lab = Self {
            tag,
            dir,
            namespaces: Vec::new(),
            procs: Vec::new(),
            pid_files: Vec::new(),
        };
        let sw = lab.ns("sw");
        lab.add_ns(&sw);
        sh(&[
            "ip",
            "-n",
            &sw,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        sh(&["ip", "-n", &sw, "link", "set", "br0", "up"]);
        let mut hosts: Vec<(String, u8)> =
            (1..=routers).map(|i| (format!("r{i}"), i as u8)).collect();
        hosts.push(("obs".to_owned(), 9));
        for (i, (short, host)) in hosts.iter().enumerate() {
            let ns = lab.ns(short);
            lab.add_ns(&ns);
            let port = format!("p{i}");
            sh(&[
                "ip", "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            sh(&["ip", "-n", &sw, "link", "set", &port, "master", "br0", "up"]);
            sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            sh(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{NET}.0.{host}/24"),
                "dev",
                "eth0",
            ]);
            sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
        }
        lab
    }

    fn add_ns(&mut self, ns: &str) {
        sh(&["ip", "netns", "add", ns]);
        self.namespaces.push(ns.to_owned());
    }

    /// The full name of namespace `short` ("r1", "obs", "sw").
    pub(crate) fn ns(&self, short: &str) -> String {
        format!("{}{short}", self.tag)
    }

    /// Write a file in the lab directory.
    pub(crate) fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Start `argv` inside namespace `short`; stderr goes to `<name>.log`. Returns its index.
    pub(crate) fn spawn(&mut self, short: &str, name: &str, argv: &[&str]) -> usize {
        let log = self.dir.join(format!("{name}.log"));
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        // `ip netns exec` execs the program, so the child's pid is the daemon's.
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(short)])
            .args(argv)
            .env("RUST_LOG", "lvs_bins=debug,info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .unwrap();
        self.procs.push(Proc {
            name: name.to_owned(),
            child,
            log,
        });
        self.procs.len() - 1
    }

    /// Send `sig` to process `i`.
    pub(crate) fn signal(&self, i: usize, sig: &str) {
        sh(&[
            "kill",
            &format!("-{sig}"),
            &self.procs[i].child.id().to_string(),
        ]);
    }

    /// Wait for process `i` to exit (at most `limit`); returns whether it did.
    pub(crate) fn wait_exit(&mut self, i: usize, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(_)) = self.procs[i].child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// The IPv4 addresses on `eth0` of namespace `short`.
    pub(crate) fn addrs(&self, short: &str) -> String {
        self.addrs_of(short, "-4")
    }

    /// The addresses of one family (`-4` or `-6`) on `eth0` of namespace `short`.
    pub(crate) fn addrs_of(&self, short: &str, family: &str) -> String {
        sh(&[
            "ip",
            "-n",
            &self.ns(short),
            "-o",
            family,
            "addr",
            "show",
            "dev",
            "eth0",
        ])
    }

    /// Whether namespace `short` holds `vip` (IPv4 or IPv6).
    pub(crate) fn holds(&self, short: &str, vip: &str) -> bool {
        let family = if vip.contains(':') { "-6" } else { "-4" };
        self.addrs_of(short, family).contains(&format!(" {vip}/"))
    }

    /// Wait until `eth0` of every namespace in `shorts` has a link-local IPv6 address that
    /// has finished duplicate address detection (VRRPv3 over IPv6 sends from it).
    pub(crate) fn wait_ipv6_ready(&self, shorts: &[&str]) {
        for short in shorts {
            let ready = wait_for(Duration::from_secs(10), || {
                let a = self.addrs_of(short, "-6");
                a.contains("fe80::") && !a.contains("tentative")
            });
            assert!(
                ready.is_some(),
                "{short}: no usable IPv6 link-local address"
            );
        }
    }

    /// Add `addr` (with prefix) to `eth0` of namespace `short` without duplicate address
    /// detection.
    pub(crate) fn add_ipv6(&self, short: &str, addr: &str) {
        sh(&[
            "ip",
            "-n",
            &self.ns(short),
            "addr",
            "add",
            addr,
            "dev",
            "eth0",
            "nodad",
        ]);
    }

    /// The router namespaces (of `shorts`) that hold `vip`.
    pub(crate) fn holders(&self, shorts: &[&str], vip: &str) -> Vec<String> {
        shorts
            .iter()
            .filter(|s| self.holds(s, vip))
            .map(|s| (*s).to_owned())
            .collect()
    }

    /// The MAC address of `eth0` in namespace `short`.
    pub(crate) fn mac(&self, short: &str) -> String {
        let out = sh(&["ip", "-n", &self.ns(short), "-o", "link", "show", "eth0"]);
        let words: Vec<&str> = out.split_whitespace().collect();
        let i = words.iter().position(|w| *w == "link/ether").unwrap();
        words[i + 1].to_lowercase()
    }

    /// The MAC the observer's neighbour table has for `ip` (if any).
    pub(crate) fn observer_neighbour(&self, ip: &str) -> Option<String> {
        let out = sh(&[
            "ip",
            "-n",
            &self.ns("obs"),
            "neigh",
            "show",
            ip,
            "dev",
            "eth0",
        ]);
        let words: Vec<&str> = out.split_whitespace().collect();
        let i = words.iter().position(|w| *w == "lladdr")?;
        Some(words[i + 1].to_lowercase())
    }

    /// Ask for `ip` from the observer with an ARP request and return the MAC that answered:
    /// iputils `arping` when installed, else a ping followed by a neighbour-table read.
    pub(crate) fn arp_from_observer(&self, ip: &str) -> Option<String> {
        let obs = self.ns("obs");
        if which("arping").is_some() {
            let out = Command::new("ip")
                .args([
                    "netns", "exec", &obs, "arping", "-c", "1", "-w", "2", "-I", "eth0", ip,
                ])
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let start = text.find('[')?;
            let end = text[start..].find(']')? + start;
            return Some(text[start + 1..end].to_lowercase());
        }
        let _ = Command::new("ip")
            .args(["-n", &obs, "neigh", "flush", "dev", "eth0"])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "exec", &obs, "ping", "-c", "1", "-W", "1", ip])
            .stdout(Stdio::null())
            .status();
        self.observer_neighbour(ip)
    }

    /// Run `f` on a thread that has entered namespace `short` (sockets it opens live there,
    /// and threads it starts inherit the namespace).
    pub(crate) fn in_ns<T: Send + 'static>(
        &self,
        short: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        run_in(self.ns_path(short), f)
    }

    /// The file that names namespace `short` (for [`run_in`]).
    pub(crate) fn ns_path(&self, short: &str) -> PathBuf {
        PathBuf::from("/run/netns").join(self.ns(short))
    }

    /// Set a sysctl inside namespace `short`.
    pub(crate) fn sysctl(&self, short: &str, key_value: &str) {
        sh(&[
            "ip",
            "netns",
            "exec",
            &self.ns(short),
            "sysctl",
            "-qw",
            key_value,
        ]);
    }

    /// The log of process `i`.
    pub(crate) fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.procs[i].log).unwrap_or_default()
    }

    /// Every log, for a failure message.
    pub(crate) fn logs(&self) -> String {
        let mut s = String::new();
        for (i, p) in self.procs.iter().enumerate() {
            let log = self.log(i);
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            s.push_str(&format!("\n===== {} (last 40 lines) =====\n", p.name));
            for l in tail.into_iter().rev() {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let kill = |sig: &str, pid: &str| {
            let _ = Command::new("kill")
                .args([sig, pid])
                .stderr(Stdio::null())
                .status();
        };
        // SIGCONT (a stopped process cannot act on SIGTERM) and SIGTERM first, so programs
        // that fork stop their children; SIGKILL whatever is left after a grace period.
        for p in &self.procs {
            let pid = p.child.id().to_string();
            kill("-CONT", &pid);
            kill("-TERM", &pid);
        }
        let end = Instant::now() + Duration::from_secs(3);
        for p in &mut self.procs {
            while Instant::now() < end && matches!(p.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        for f in &self.pid_files {
            if let Ok(pid) = std::fs::read_to_string(f) {
                let pid = pid.trim();
                // Only a process whose command line names this lab's directory: a pid from a
                // file may have been reused by an unrelated process.
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let ours = String::from_utf8_lossy(&cmdline).contains(&*self.dir.to_string_lossy());
                if !pid.is_empty() && ours {
                    kill("-KILL", pid);
                }
            }
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Run `f` on a thread that has entered the network namespace named by `path`.
pub(crate) fn run_in<T: Send + 'static>(
    path: PathBuf,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let ns = std::fs::File::open(&path).expect("open the namespace");
        // SAFETY: setns(2) with a namespace file descriptor; it changes only this thread.
        let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("namespace thread panicked")
}

/// Poll `f` every 10 ms until it is true or `limit` passes; returns the time it took.
pub(crate) fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}
