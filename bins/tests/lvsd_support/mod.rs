//! Shared pieces of the lvsd end-to-end tests: the daemon as a child process, backends on
//! loopback, lvsadm runs.

#![allow(dead_code, unused_imports, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use lvs_bins::lvsd::demo::{Backend, get};

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A unique scratch directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("lvsd-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// lvsd running as a child; SIGTERM then kill on drop.
pub struct Lvsd {
    pub child: Child,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub dir: TempDir,
}

impl Lvsd {
    /// Write `services` (TOML `[[service]]` tables) with a control socket in a fresh
    /// directory and start lvsd; waits until the control socket answers.
    pub fn start(tag: &str, body: &str) -> Self {
        let dir = TempDir::new(tag);
        let socket = dir.0.join("ctl.sock");
        let config = dir.0.join("lvsd.toml");
        write_config(&config, &socket, body);
        let child = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let d = Self {
            child,
            config,
            socket,
            dir,
        };
        wait_until("lvsd to answer", Duration::from_secs(10), || {
            d.lvsadm(&["-L", "-n"]).status.success()
        });
        d
    }

    /// Run lvsadm against this daemon.
    pub fn lvsadm(&self, args: &[&str]) -> Output {
        lvsadm_with(&self.socket, args, None)
    }

    /// `lvsadm -L -n` output (panics on failure).
    pub fn list(&self) -> String {
        let o = self.lvsadm(&["-L", "-n"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }

    /// The (weight, active, inactive) of a real server in `-L -n`.
    pub fn real_row(&self, addr: SocketAddr) -> Option<(u32, u32, u32)> {
        let text = self.list();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("  -> {addr} ")))?;
        let f: Vec<&str> = line.split_whitespace().collect();
        Some((f[3].parse().ok()?, f[4].parse().ok()?, f[5].parse().ok()?))
    }

    pub fn signal(&self, sig: i32) {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    }
}

impl Drop for Lvsd {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn write_config(path: &Path, socket: &Path, body: &str) {
    let text = format!("control = {:?}\n{body}", socket.display().to_string());
    std::fs::write(path, text).unwrap();
}

/// Run lvsadm with an optional standard input.
pub fn lvsadm_with(socket: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lvsadm"));
    c.arg("--socket").arg(socket).args(args);
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Poll `cond` every 10 ms; panic after `limit`. Returns how long it took.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if cond() {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A backend that echoes every connection on its own thread until EOF.
pub struct Echo {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Echo {
    pub fn start() -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut s) = conn else { continue };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        });
        Self { addr, stop }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Write `msg` and read the same number of bytes back.
pub fn echo_round(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).unwrap();
    got
}
