//! Shared helpers of the mcproxy integration tests: real memcached processes and lvs-mcproxy in
//! front of them, each on its own loopback port and killed on drop, even when a test fails.

// Each test binary uses a different subset of this module.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// A child process killed and reaped on drop.
pub(crate) struct Proc {
    child: Option<Child>,
    name: String,
}

impl Proc {
    pub(crate) fn spawn(mut cmd: Command, name: &str) -> Self {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self {
            child: Some(child),
            name: name.to_owned(),
        }
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Sends `sig` (SIGHUP, SIGTERM ...).
    pub(crate) fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill {} failed", self.name);
    }

    /// Waits up to `limit` for the process to exit; its exit code (None if it did not exit).
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        let child = self.child.as_mut()?;
        while start.elapsed() < limit {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status.code().unwrap_or(-1));
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Kills the process now.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A directory removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "lvs-mcproxy-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The program's path, looked up in PATH and the usual Debian directories.
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The program, or a loud skip (`None`); under `LVS_REQUIRE_INTEROP=1` a missing program fails.
pub(crate) fn require(name: &str, package: &str, test: &str) -> Option<PathBuf> {
    if let Some(p) = find_program(name) {
        return Some(p);
    }
    let msg = format!(
        "SKIP {test}: `{name}` not found (install the Debian package `{package}`); \
         set LVS_REQUIRE_INTEROP=1 to make this a failure"
    );
    if std::env::var("LVS_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("{msg}");
    }
    eprintln!("\n*** {msg} ***\n");
    None
}

/// A loopback port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `port` accepts connections.
pub(crate) fn wait_port(port: u16, what: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not listen on port {port}");
}

/// One memcached on 127.0.0.1.
pub(crate) struct Memcached {
    pub(crate) port: u16,
    pub(crate) proc: Proc,
}

impl Memcached {
    pub(crate) fn start(bin: &Path) -> Self {
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.args(["-l", "127.0.0.1", "-U", "0", "-t", "1", "-m", "32", "-p"])
            .arg(port.to_string())
            .stderr(Stdio::null());
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            cmd.args(["-u", "nobody"]);
        }
        let proc = Proc::spawn(cmd, "memcached");
        wait_port(port, "memcached");
        Self { port, proc }
    }

    /// `host:port:1` for a nutcracker `servers:` list.
    pub(crate) fn server_entry(&self) -> String {
        format!("127.0.0.1:{}:1", self.port)
    }
}

/// lvs-mcproxy with a configuration file.
pub(crate) struct Proxy {
    pub(crate) port: u16,
    pub(crate) proc: Proc,
    pub(crate) conf: PathBuf,
    pub(crate) dir: TempDir,
}

/// A nutcracker pool listening on `port` over `servers`, plus `extra` lines (indented by two).
pub(crate) fn pool_yaml(port: u16, servers: &[String], extra: &str) -> String {
    let mut s = format!("lvs_test:\n  listen: 127.0.0.1:{port}\n{extra}  servers:\n");
    for e in servers {
        s.push_str(&format!("   - {e}\n"));
    }
    s
}

impl Proxy {
    pub(crate) fn start(servers: &[String], extra: &str, args: &[&str]) -> Self {
        let dir = TempDir::new("proxy");
        let port = free_port();
        let conf = dir.0.join("nutcracker.yml");
        std::fs::write(&conf, pool_yaml(port, servers, extra)).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lvs-mcproxy"));
        let log = std::fs::File::create(dir.0.join("proxy.log")).unwrap();
        cmd.arg("-c").arg(&conf).args(args).arg("-v").stderr(log);
        let proc = Proc::spawn(cmd, "lvs-mcproxy");
        wait_port(port, "lvs-mcproxy");
        Self {
            port,
            proc,
            conf,
            dir,
        }
    }

    pub(crate) fn client(&self) -> Client {
        Client::connect(self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if thread::panicking() {
            let log = std::fs::read_to_string(self.dir.0.join("proxy.log")).unwrap_or_default();
            eprintln!("--- lvs-mcproxy log ---\n{log}--- end of log ---");
        }
    }
}

/// A blocking text-protocol client.
pub(crate) struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub(crate) fn connect(port: u16) -> Self {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.set_nodelay(true).unwrap();
        Self { s, buf: Vec::new() }
    }

    /// A second handle on the socket, for writing from another thread.
    pub(crate) fn writer(&self) -> TcpStream {
        self.s.try_clone().unwrap()
    }

    pub(crate) fn send(&mut self, req: &[u8]) {
        self.s.write_all(req).unwrap();
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 65536];
        let n = self.s.read(&mut chunk).expect("reply within 5 s");
        assert!(
            n > 0,
            "connection closed; had {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// One reply line, with its CRLF.
    pub(crate) fn line(&mut self) -> String {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let l: Vec<u8> = self.buf.drain(..p + 2).collect();
                return String::from_utf8_lossy(&l).into_owned();
            }
            self.fill();
        }
    }

    /// A retrieval reply up to and including `END\r\n`, as (key, value) pairs.
    pub(crate) fn values(&mut self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        loop {
            let l = self.line();
            if l == "END\r\n" {
                return out;
            }
            let parts: Vec<&str> = l.trim_end().split(' ').collect();
            assert_eq!(parts[0], "VALUE", "unexpected line {l:?}");
            let len: usize = parts[3].parse().unwrap();
            while self.buf.len() < len + 2 {
                self.fill();
            }
            let v: Vec<u8> = self.buf.drain(..len + 2).collect();
            out.push((
                parts[1].to_owned(),
                String::from_utf8_lossy(&v[..len]).into_owned(),
            ));
        }
    }

    /// `cmd` then one reply line.
    pub(crate) fn call(&mut self, cmd: &str) -> String {
        self.send(cmd.as_bytes());
        self.line()
    }

    pub(crate) fn set(&mut self, key: &str, value: &str) -> String {
        self.call(&format!("set {key} 0 0 {}\r\n{value}\r\n", value.len()))
    }

    pub(crate) fn get(&mut self, keys: &[&str]) -> Vec<(String, String)> {
        self.send(format!("get {}\r\n", keys.join(" ")).as_bytes());
        self.values()
    }
}

/// A server that answers every read with one fixed line no memcached would send there, on
/// its own loopback port, until dropped.
pub(crate) struct GarbageServer {
    pub(crate) port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl GarbageServer {
    pub(crate) fn start(reply: &'static [u8]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let flag = Arc::clone(&flag);
                        thread::spawn(move || answer_garbage(s, reply, &flag));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

fn answer_garbage(mut s: TcpStream, reply: &[u8], stop: &AtomicBool) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {
                if s.write_all(reply).is_err() {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

impl Drop for GarbageServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
