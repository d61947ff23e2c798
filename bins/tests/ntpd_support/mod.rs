//! Shared helpers of the lvs-ntpd tests: temp dirs, free ports, process guards, the daemon.

#![allow(dead_code)]

pub(crate) mod netns;

use core::time::Duration;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Instant;

/// The binary under test.
pub(crate) const NTPD: &str = env!("CARGO_BIN_EXE_lvs-ntpd");

/// A temporary directory removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let p = std::env::temp_dir().join(format!("lvs-ntpd-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        // chronyd refuses a command socket in a directory others can enter.
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        Self(p)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (and reaped) on drop.
pub(crate) struct Proc {
    pub(crate) name: &'static str,
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl Proc {
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` with stdout and stderr in `log`.
pub(crate) fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> Proc {
    let f = std::fs::File::create(log).unwrap();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name}: {e}"));
    Proc {
        name,
        child,
        log: log.to_owned(),
    }
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    free_port_on("127.0.0.1")
}

/// A UDP port on `ip` (a loopback address) that was free a moment ago.
pub(crate) fn free_port_on(ip: &str) -> u16 {
    UdpSocket::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts lvs-ntpd in monitor mode on 127.0.0.1:`port` with `conf` (a `controlsocket` line
/// pointing into `dir` is added).
pub(crate) fn start_daemon(dir: &TempDir, conf: &str, port: u16) -> (Proc, PathBuf) {
    start_daemon_on(dir, conf, "127.0.0.1", port)
}

/// [`start_daemon`] listening on `listen` (another loopback address, so that two daemons
/// show as different remotes in a peer table).
pub(crate) fn start_daemon_on(
    dir: &TempDir,
    conf: &str,
    listen: &str,
    port: u16,
) -> (Proc, PathBuf) {
    let path = dir.path("ntp.conf");
    launch_daemon(Command::new(NTPD), dir, "ntpd", &path, conf, listen, port)
}

/// Writes `conf` (plus a control socket `<dir>/<name>.sock`) to `path` and starts `cmd`
/// (lvs-ntpd, plain or inside a namespace) in monitor mode on `listen`:`port`, logging to
/// `<dir>/<name>.log`. Returns once the control socket exists.
pub(crate) fn launch_daemon(
    mut cmd: Command,
    dir: &TempDir,
    name: &str,
    path: &Path,
    conf: &str,
    listen: &str,
    port: u16,
) -> (Proc, PathBuf) {
    let ctl = dir.path(&format!("{name}.sock"));
    std::fs::write(path, format!("{conf}\ncontrolsocket {}\n", ctl.display())).unwrap();
    cmd.arg("-c").arg(path).args([
        "--monitor",
        "--listen",
        listen,
        "--port",
        &port.to_string(),
        "-vv",
    ]);
    let p = spawn("lvs-ntpd", cmd, &dir.path(&format!("{name}.log")));
    wait_for(Duration::from_secs(15), || ctl.exists().then_some(()))
        .unwrap_or_else(|| panic!("lvs-ntpd {name} did not start:\n{}", p.log_text()));
    (p, ctl)
}

/// Runs lvs-ntpd with `args` and returns its output.
pub(crate) fn ntpd(args: &[&str]) -> Output {
    Command::new(NTPD).args(args).output().unwrap()
}

/// Polls `f` every 100 ms until it returns `Some` or `limit` passes.
pub(crate) fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Where `program` is, looking in PATH and the sbin directories.
pub(crate) fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin"])
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// Skips loudly, or fails when LVS_REQUIRE_INTEROP=1.
pub(crate) fn skip(test: &str, why: &str) {
    if std::env::var("LVS_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("{test}: {why} (LVS_REQUIRE_INTEROP=1)");
    }
    eprintln!("\n*** SKIP {test}: {why} ***\n");
}

/// One parsed line of the `ntpq -p` table.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub(crate) tally: char,
    pub(crate) remote: String,
    pub(crate) refid: String,
    pub(crate) stratum: u8,
    /// The poll column in seconds (`None` when shown in minutes or more).
    pub(crate) poll_s: Option<u64>,
    pub(crate) reach: u16,
    pub(crate) delay_ms: f64,
    pub(crate) offset_ms: f64,
    pub(crate) jitter_ms: f64,
}

/// Parses the rows of a peer table.
pub(crate) fn parse_peers(table: &str) -> Vec<Peer> {
    table
        .lines()
        .skip(2)
        .filter_map(|l| {
            let tally = l.chars().next()?;
            let f: Vec<&str> = l[1..].split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let n = f.len();
            Some(Peer {
                tally,
                remote: f[0].to_owned(),
                refid: f[1].to_owned(),
                stratum: f[2].parse().ok()?,
                poll_s: f[n - 5].parse().ok(),
                reach: u16::from_str_radix(f[n - 4], 8).ok()?,
                delay_ms: f[n - 3].parse().ok()?,
                offset_ms: f[n - 2].parse().ok()?,
                jitter_ms: f[n - 1].parse().ok()?,
            })
        })
        .collect()
}

/// Sends one raw request line (`peers`, `status`, `stats`) to a control socket and returns
/// the answer text after its exit-code line.
pub(crate) fn control(ctl: &Path, request: &str) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let mut s = std::os::unix::net::UnixStream::connect(ctl).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(format!("{request}\n").as_bytes()).ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    Some(answer.split_once('\n')?.1.to_owned())
}

/// The value after `key ` in a `stats` answer.
pub(crate) fn stat(text: &str, key: &str) -> Option<u64> {
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == key {
            return words.next()?.parse().ok();
        }
    }
    None
}
