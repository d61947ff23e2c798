//! A five-host network in namespaces for lvsd's packet mode: a client, a director and three
//! real servers (and, with [`Lab::pair`], a second director), each with one `eth0` plugged
//! into a bridge that lives in a switch namespace. Every name and address exists only inside
//! the lab's namespaces; dropping the [`Lab`] kills every process it started (and anything
//! else left in its namespaces) and deletes them, also when a test panics.
//!
//! Addresses: client 10.0.1.2, 10.0.1.3 and 10.0.1.4 (/24), director 10.0.1.1 and 10.0.2.1
//! (/24) with `ip_forward=0` (the peer director: 10.0.1.5 and 10.0.2.5), real servers
//! 10.0.2.11-13 (/24), VIP [`VIP`].
//!
//! The test binary doubles as the helper programs ([`helper_main`], selected by the
//! `LVS_PKT_ROLE` variable): a TCP server that answers every connection with its name (and
//! then echoes what the client sends, for connections held across a change), and
//! the user-space IPIP decapsulator of the TUN test (a raw IP socket for protocol 4 reads the
//! tunnelled packets, the inner packet is written to a TUN device, and the kernel takes it from
//! there as if it had arrived on that device).

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::lvsd_support::{TempDir, lvsadm_with, wait_until};

/// The virtual address.
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 100);
/// The client's first two addresses.
pub const CLIENTS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 1, 2), Ipv4Addr::new(10, 0, 1, 3)];
/// A third client address, used only after a real server failed (see the NAT / DR story in
/// `lvsd_packet.rs`).
pub const LATE_CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 4);
/// The real servers.
pub const REALS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(10, 0, 2, 11),
    Ipv4Addr::new(10, 0, 2, 12),
    Ipv4Addr::new(10, 0, 2, 13),
];
/// The real servers' names (what each answers).
pub const NAMES: [&str; 3] = ["r1", "r2", "r3"];

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Why the lab cannot run here, or `None` when it can. Panics instead under
/// `LVS_REQUIRE_INTEROP=1`.
pub fn missing(need_tun: bool) -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    let why = if unsafe { libc::geteuid() } != 0 {
        Some("not root".to_owned())
    } else if !Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        Some("iproute2 `ip` not found".to_owned())
    } else if need_tun && !Path::new("/dev/net/tun").exists() {
        Some("/dev/net/tun missing".to_owned())
    } else {
        None
    };
    if let Some(w) = &why
        && std::env::var("LVS_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
    {
        panic!("LVS_REQUIRE_INTEROP=1 but the packet-mode lab cannot run: {w}");
    }
    why
}

fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        o.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A network namespace, deleted with every process in it on drop.
pub struct Ns {
    pub name: String,
}

impl Ns {
    fn new(tag: &str, role: &str) -> Self {
        let name = format!("lvp{}-{tag}-{role}", std::process::id());
        ip(&["netns", "add", &name]);
        let ns = Self { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NS args...`.
    pub fn ip(&self, args: &[&str]) {
        let mut v = vec!["-n", &self.name];
        v.extend_from_slice(args);
        ip(&v);
    }

    /// A command run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Set a sysctl inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        let o = self
            .command("sysctl")
            .args(["-qw", &format!("{key}={value}")])
            .output()
            .expect("sysctl");
        assert!(
            o.status.success(),
            "sysctl {key}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Run `f` on a thread that has entered this namespace (sockets it opens live here).
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.spawn(f).join().expect("namespace thread panicked")
    }

    /// Start `f` on a thread inside this namespace.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = PathBuf::from("/var/run/netns").join(&self.name);
        std::thread::spawn(move || {
            enter(&path);
            f()
        })
    }
}

/// Move the calling thread into the network namespace at `path`.
pub fn enter(path: &Path) {
    let f = File::open(path).expect("open netns");
    // SAFETY: setns on a valid namespace fd; it changes only the calling thread.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
}

impl Drop for Ns {
    fn drop(&mut self) {
        if let Ok(o) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                if let Ok(p) = pid.parse::<i32>() {
                    // SAFETY: kill(2) on a process inside our own namespace.
                    unsafe { libc::kill(p, libc::SIGKILL) };
                }
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// The five hosts, the switch, and the processes started in them.
pub struct Lab {
    pub dir: TempDir,
    procs: Vec<(String, Child)>,
    // Dropped after `procs` are killed (see Drop); the switch goes last.
    pub client: Ns,
    pub director: Ns,
    /// The second director of [`Lab::pair`].
    pub peer: Option<Ns>,
    pub reals: Vec<Ns>,
    pub switch: Ns,
}

impl Lab {
    /// Build the network. The real servers get only their address; [`Lab::setup_nat`] or
    /// [`Lab::setup_dr`] finish them.
    pub fn new(tag: &str) -> Self {
        Self::build(tag, false)
    }

    /// [`Lab::new`] with a second director (director 1, [`Lab::peer`]) on the bridge.
    pub fn pair(tag: &str) -> Self {
        Self::build(tag, true)
    }

    fn build(tag: &str, pair: bool) -> Self {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{tag}{n}");
        let switch = Ns::new(&tag, "sw");
        let lab = Self {
            dir: TempDir::new(&format!("pkt-{tag}")),
            procs: Vec::new(),
            client: Ns::new(&tag, "cl"),
            director: Ns::new(&tag, "dir"),
            peer: pair.then(|| Ns::new(&tag, "dir2")),
            reals: (1..=3).map(|i| Ns::new(&tag, &format!("r{i}"))).collect(),
            switch,
        };
        lab.switch.ip(&["link", "add", "br0", "type", "bridge"]);
        lab.switch.ip(&["link", "set", "br0", "up"]);
        let hosts: Vec<(&Ns, String)> = [
            (&lab.client, "pcl".to_owned()),
            (&lab.director, "pdir".to_owned()),
        ]
        .into_iter()
        .chain(lab.peer.iter().map(|p| (p, "pdir2".to_owned())))
        .chain(
            lab.reals
                .iter()
                .enumerate()
                .map(|(i, r)| (r, format!("pr{i}"))),
        )
        .collect();
        for (host, port) in &hosts {
            let veth = format!(
                "link add eth0 type veth peer name {port} netns {}",
                lab.switch.name
            );
            host.ip(&veth.split(' ').collect::<Vec<_>>());
            lab.switch.ip(&["link", "set", port, "master", "br0"]);
            lab.switch.ip(&["link", "set", port, "up"]);
            host.ip(&["link", "set", "eth0", "up"]);
            host.sysctl("net.ipv4.conf.all.rp_filter", "0");
            host.sysctl("net.ipv4.conf.eth0.rp_filter", "0");
        }
        for c in CLIENTS.into_iter().chain([LATE_CLIENT]) {
            lab.client
                .ip(&["addr", "add", &format!("{c}/24"), "dev", "eth0"]);
        }
        lab.client
            .ip(&["route", "add", "10.0.2.0/24", "dev", "eth0"]);
        let directors = std::iter::once((&lab.director, 1));
        for (d, host) in directors.chain(lab.peer.iter().map(|p| (p, 5))) {
            d.ip(&["addr", "add", &format!("10.0.1.{host}/24"), "dev", "eth0"]);
            d.ip(&["addr", "add", &format!("10.0.2.{host}/24"), "dev", "eth0"]);
            d.sysctl("net.ipv4.ip_forward", "0");
        }
        for (r, a) in lab.reals.iter().zip(REALS) {
            r.ip(&["addr", "add", &format!("{a}/24"), "dev", "eth0"]);
        }
        lab
    }

    /// NAT: the real servers route through the director.
    pub fn setup_nat(&self) {
        for i in 0..self.reals.len() {
            self.setup_nat_one(i);
        }
    }

    /// NAT for real server `i` only.
    pub fn setup_nat_one(&self, i: usize) {
        self.reals[i].ip(&["route", "add", "default", "via", "10.0.2.1"]);
    }

    /// DR (and TUN with the user-space decapsulator): `lvsadm realserver --dr VIP --apply`
    /// on each real server (VIP on lo, ARP sysctls), and the client subnet on the link.
    pub fn setup_dr(&self) {
        for i in 0..self.reals.len() {
            self.setup_dr_one(i);
        }
    }

    /// DR for real server `i` only.
    pub fn setup_dr_one(&self, i: usize) {
        let r = &self.reals[i];
        let args = format!("realserver --dr {VIP} --dev eth0 --apply");
        let o = r
            .command(env!("CARGO_BIN_EXE_lvsadm"))
            .args(args.split(' '))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "lvsadm realserver: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        r.ip(&["route", "add", "10.0.1.0/24", "dev", "eth0"]);
    }

    /// Start `cmd` as `what` (its stderr goes to `what`'s log); the lab kills it on drop.
    pub fn start(&mut self, what: &str, mut cmd: Command) {
        let log = File::create(self.dir.0.join(format!("{what}.log"))).unwrap();
        cmd.stdout(Stdio::null()).stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {what}: {e}"));
        self.procs.push((what.to_owned(), child));
    }

    /// A log file's text.
    pub fn log(&self, what: &str) -> String {
        std::fs::read_to_string(self.dir.0.join(format!("{what}.log"))).unwrap_or_default()
    }

    fn helper(&mut self, host: usize, what: &str, role: &str, env: &[(&str, String)]) {
        let ready = self.dir.0.join(format!("{what}.ready"));
        let _ = std::fs::remove_file(&ready);
        let mut cmd = self.reals[host].command(std::env::current_exe().unwrap());
        cmd.args(["--exact", "helper_entry", "--nocapture", "--test-threads=1"])
            .env("LVS_PKT_ROLE", role)
            .env("LVS_PKT_READY", &ready);
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.start(what, cmd);
        wait_until(&format!("{what} to start"), Duration::from_secs(20), || {
            ready.exists()
        });
    }

    /// Start (or restart) real server `i`'s TCP server on `ports`.
    pub fn start_server(&mut self, i: usize, ports: &[u16]) {
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        let env = [
            ("LVS_PKT_NAME", NAMES[i].to_owned()),
            ("LVS_PKT_PORTS", ports.join(",")),
        ];
        self.helper(i, &format!("server-{}", NAMES[i]), "server", &env);
    }

    /// Kill real server `i`'s TCP server (SIGKILL: its kernel refuses new connections).
    pub fn kill_server(&mut self, i: usize) {
        let what = format!("server-{}", NAMES[i]);
        let Some(pos) = self.procs.iter().position(|(w, _)| *w == what) else {
            panic!("{what} is not running");
        };
        let (_, mut child) = self.procs.remove(pos);
        let _ = child.kill();
        let _ = child.wait();
        // `ip netns exec` may leave the helper behind its own pid: kill what is left.
        if let Ok(o) = Command::new("ip")
            .args(["netns", "pids", &self.reals[i].name])
            .output()
        {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                if let Ok(p) = pid.parse::<i32>() {
                    // SAFETY: kill(2) on a process inside the lab's namespace.
                    unsafe { libc::kill(p, libc::SIGKILL) };
                }
            }
        }
    }

    /// Start the IPIP decapsulator on real server `i` (a TUN device `tun0`); returns the file
    /// its packet count is written to.
    pub fn start_decap(&mut self, i: usize) -> PathBuf {
        let count = self.dir.0.join(format!("decap-{}.count", NAMES[i]));
        self.helper(
            i,
            &format!("decap-{}", NAMES[i]),
            "decap",
            &[("LVS_PKT_COUNT", count.display().to_string())],
        );
        count
    }

    /// lvsd's configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.0.join("lvsd.toml")
    }

    /// (Re)write lvsd's configuration file: packet mode on eth0 with `body` (services),
    /// replaced in one rename so a reload never reads half a file.
    pub fn write_config(&self, body: &str) {
        let socket = self.dir.0.join("ctl.sock");
        let text = format!(
            "control = {:?}\nmode = \"packet\"\ninterface = \"eth0\"\n{body}",
            socket.display().to_string()
        );
        self.write_raw_config(&text);
    }

    /// Replace lvsd's configuration file with `text` as it is.
    pub fn write_raw_config(&self, text: &str) {
        let config = self.config_path();
        let tmp = config.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &config).unwrap();
    }

    /// Send `sig` to lvsd (every process of that name in the director namespace).
    pub fn signal_lvsd(&self, sig: i32) {
        let o = Command::new("ip")
            .args(["netns", "pids", &self.director.name])
            .output()
            .expect("ip netns pids");
        let mut sent = 0;
        for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if let (Ok(p), "lvsd") = (pid.parse::<i32>(), comm.trim()) {
                // SAFETY: kill(2) on the lvsd this lab started, inside its namespace.
                if unsafe { libc::kill(p, sig) } == 0 {
                    sent += 1;
                }
            }
        }
        assert!(sent > 0, "no lvsd in {}", self.director.name);
    }

    /// Wait up to `limit` for the process `what` (started by the lab) to exit; reaps it.
    pub fn wait_exit(&mut self, what: &str, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        let Some((_, child)) = self.procs.iter_mut().find(|(w, _)| w == what) else {
            panic!("{what} was not started");
        };
        while Instant::now() < end {
            if child.try_wait().is_ok_and(|s| s.is_some()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Give the client another source address (a fresh one has no director entries that a
    /// reused port could follow).
    pub fn add_client_addr(&self, a: Ipv4Addr) {
        self.client
            .ip(&["addr", "add", &format!("{a}/24"), "dev", "eth0"]);
    }

    /// Start lvsd in the director namespace with `body` (services) in packet mode on eth0;
    /// returns its control socket once it answers.
    pub fn start_lvsd(&mut self, body: &str) -> PathBuf {
        let socket = self.dir.0.join("ctl.sock");
        let config = self.config_path();
        self.write_config(body);
        let mut cmd = self.director.command(env!("CARGO_BIN_EXE_lvsd"));
        cmd.arg("-c").arg(&config).arg("-v");
        self.start("lvsd", cmd);
        let s = socket.clone();
        wait_until("lvsd to answer", Duration::from_secs(20), || {
            lvsadm_with(&s, &["-L", "-n"], None).status.success()
        });
        socket
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, c) in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            for (what, _) in &self.procs {
                eprintln!("--- {what} log ---\n{}", self.log(what));
            }
        }
    }
}

/// What a batch of requests found.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Answers per server name.
    pub by_name: BTreeMap<String, u32>,
    /// Requests that got no answer.
    pub failed: u32,
}

impl Tally {
    /// Answers from `name`.
    pub fn of(&self, name: &str) -> u32 {
        self.by_name.get(name).copied().unwrap_or(0)
    }

    /// All answers.
    pub fn answered(&self) -> u32 {
        self.by_name.values().sum()
    }
}

/// One request: connect from `src` to `dst`, read the server's name line.
fn request(src: Ipv4Addr, dst: SocketAddrV4) -> Option<String> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    // Leave the port to connect(): a port picked at bind time may take over a TIME_WAIT of an
    // earlier connection to the VIP, whose director entry still names the old real server.
    let on: libc::c_int = 1;
    // SAFETY: setsockopt with a live c_int of the stated size.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&raw const on).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    s.bind(&SocketAddr::from(SocketAddrV4::new(src, 0)).into())
        .ok()?;
    s.connect_timeout(&SocketAddr::from(dst).into(), Duration::from_secs(10))
        .ok()?;
    let mut t: TcpStream = s.into();
    t.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut line = Vec::new();
    let mut b = [0u8; 32];
    while !line.ends_with(b"\n") && line.len() < 64 {
        let n = t.read(&mut b).ok()?;
        if n == 0 {
            return None;
        }
        line.extend_from_slice(&b[..n]);
    }
    // The client closes first: its TIME_WAIT keeps the port from being reused soon.
    drop(t);
    String::from_utf8(line).ok().map(|l| l.trim().to_owned())
}

/// A connection from the client namespace to VIP:`port` from `src` that stays open: the
/// stream (usable from any thread) and the name of the server that answered.
pub fn hold(lab: &Lab, src: Ipv4Addr, port: u16) -> (TcpStream, String) {
    let dst = SocketAddr::from(SocketAddrV4::new(VIP, port));
    lab.client.run(move || {
        use socket2::{Domain, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        s.bind(&SocketAddr::from(SocketAddrV4::new(src, 0)).into())
            .expect("bind");
        s.connect_timeout(&dst.into(), Duration::from_secs(10))
            .expect("connect to the VIP");
        let mut t: TcpStream = s.into();
        t.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while !line.ends_with(b"\n") && line.len() < 64 {
            assert_eq!(t.read(&mut b).expect("read the server's name"), 1, "closed");
            line.push(b[0]);
        }
        let name = String::from_utf8(line).unwrap().trim().to_owned();
        (t, name)
    })
}

/// Send `msg` on a held connection and read it back from the server's echo.
pub fn echo(t: &mut TcpStream, msg: &str) -> String {
    t.write_all(msg.as_bytes())
        .expect("write on the held connection");
    let mut got = vec![0u8; msg.len()];
    t.read_exact(&mut got)
        .expect("the echo on the held connection");
    String::from_utf8(got).unwrap()
}

/// `n` requests from the client namespace to VIP:`port` from `src`, on `threads` threads.
pub fn requests(lab: &Lab, src: Ipv4Addr, port: u16, n: u32, threads: u32) -> Tally {
    let dst = SocketAddrV4::new(VIP, port);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let share = n / threads + u32::from(t < n % threads);
            lab.client.spawn(move || {
                let mut tally = Tally::default();
                for _ in 0..share {
                    match request(src, dst) {
                        Some(name) => *tally.by_name.entry(name).or_default() += 1,
                        None => tally.failed += 1,
                    }
                }
                tally
            })
        })
        .collect();
    let mut all = Tally::default();
    for h in handles {
        let t = h.join().expect("client thread");
        all.failed += t.failed;
        for (k, v) in t.by_name {
            *all.by_name.entry(k).or_default() += v;
        }
    }
    all
}

/// Frames seen on the director's interface (its own outgoing frames excluded).
#[derive(Debug, Default, Clone, Copy)]
pub struct Seen {
    /// IPv4 frames to a client address: the replies, if they pass the director (for NAT
    /// still with the real server's source, before the director rewrites them).
    pub to_client: u64,
    /// IPv4 frames whose destination is the VIP (client requests).
    pub to_vip: u64,
}

/// Hand every frame `sock` receives from other hosts (not its own sends) to `on_frame`, for
/// as long as `go_on` says (checked at least every 50 ms).
pub fn read_frames(
    sock: &lvs_bins::io::PacketSocket,
    mut go_on: impl FnMut() -> bool,
    mut on_frame: impl FnMut(&[u8]),
) {
    let mut buf = vec![std::mem::MaybeUninit::<u8>::uninit(); 2048];
    while go_on() {
        let mut pfd = libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&raw mut pfd, 1, 50) };
        while let Ok(info) = sock.recv_frame(&mut buf) {
            if info.pkttype == lvs_bins::io::PacketType::Outgoing {
                continue;
            }
            // SAFETY: the kernel initialised the first `info.len` bytes.
            let f: Vec<u8> = buf[..info.len.min(buf.len())]
                .iter()
                .map(|b| unsafe { b.assume_init() })
                .collect();
            on_frame(&f);
        }
    }
}

/// Counts frames arriving on the director's `eth0` until stopped.
pub struct Capture {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Seen>,
}

impl Capture {
    /// Start counting in the director namespace.
    pub fn start(lab: &Lab) -> Self {
        use lvs_bins::io::{ETH_P_ALL, PacketSocket};
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = lab.director.spawn(move || {
            let sock = PacketSocket::open("eth0", ETH_P_ALL).expect("capture socket");
            tx.send(()).unwrap();
            let mut seen = Seen::default();
            read_frames(
                &sock,
                || !flag.load(Ordering::SeqCst),
                |f| {
                    if f.len() < 34 || f[12..14] != [0x08, 0x00] {
                        return;
                    }
                    if f[30..33] == [10, 0, 1] && ![1, 100].contains(&f[33]) {
                        seen.to_client += 1;
                    }
                    if f[30..34] == VIP.octets() {
                        seen.to_vip += 1;
                    }
                },
            );
            seen
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("capture started");
        Self { stop, handle }
    }

    /// Stop and return the counts.
    pub fn finish(self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().expect("capture thread")
    }
}

/// `lvsadm` output (panics on failure).
pub fn lvsadm(socket: &Path, args: &[&str]) -> String {
    let o = lvsadm_with(socket, args, None);
    assert!(
        o.status.success(),
        "lvsadm {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The weight `-L -n` shows for real server `addr` of the service on VIP:`port`.
pub fn weight(socket: &Path, port: u16, addr: SocketAddrV4) -> Option<u32> {
    let text = lvsadm(socket, &["-L", "-n"]);
    let head = format!("TCP  {VIP}:{port} ");
    let mut lines = text.lines().skip_while(|l| !l.starts_with(&head)).skip(1);
    let row = lines
        .by_ref()
        .take_while(|l| l.starts_with("  -> "))
        .find(|l| l.starts_with(&format!("  -> {addr} ")))?;
    row.split_whitespace().nth(3)?.parse().ok()
}

/// Entry point of the helper roles (the test binary re-executed inside a namespace).
pub fn helper_main(role: &str) -> ! {
    let ready = std::env::var("LVS_PKT_READY").expect("LVS_PKT_READY");
    match role {
        "server" => server(&ready),
        "decap" => decap(&ready),
        other => panic!("unknown helper role {other}"),
    }
}

fn server(ready: &str) -> ! {
    let name = std::env::var("LVS_PKT_NAME").expect("LVS_PKT_NAME");
    let ports = std::env::var("LVS_PKT_PORTS").expect("LVS_PKT_PORTS");
    let mut listeners = Vec::new();
    for p in ports.split(',') {
        let port: u16 = p.parse().unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        let l = loop {
            match TcpListener::bind(("0.0.0.0", port)) {
                Ok(l) => break l,
                Err(e) if Instant::now() < end => {
                    eprintln!("bind {port}: {e}; retrying");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("bind {port}: {e}"),
            }
        };
        listeners.push(l);
    }
    for l in listeners {
        let reply = format!("{name}\n").into_bytes();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut s) = conn else { continue };
                let reply = reply.clone();
                std::thread::spawn(move || {
                    let _ = s.write_all(&reply);
                    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
                    let mut b = [0u8; 64];
                    while let Ok(n @ 1..) = s.read(&mut b) {
                        if s.write_all(&b[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
    }
    std::fs::write(ready, b"ready").unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn decap(ready: &str) -> ! {
    let count_path = std::env::var("LVS_PKT_COUNT").expect("LVS_PKT_COUNT");
    // The TUN device: inner packets written here enter the stack as if received on tun0.
    let tun = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .expect("/dev/net/tun");
    // struct ifreq: name[16] then flags (short).
    let mut ifr = [0u8; 40];
    ifr[..4].copy_from_slice(b"tun0");
    let flags = (libc::IFF_TUN | libc::IFF_NO_PI) as u16;
    ifr[16..18].copy_from_slice(&flags.to_ne_bytes());
    // SAFETY: TUNSETIFF reads and writes a struct ifreq, which `ifr` is large enough for.
    let rc = unsafe { libc::ioctl(tun.as_raw_fd(), libc::TUNSETIFF, ifr.as_mut_ptr()) };
    assert_eq!(rc, 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
    let up = ["link", "set", "tun0", "up"];
    assert!(Command::new("ip").args(up).status().unwrap().success());
    for key in ["all", "tun0"] {
        std::fs::write(format!("/proc/sys/net/ipv4/conf/{key}/rp_filter"), b"0").unwrap();
    }
    // A raw socket for protocol 4 receives every IPIP packet with its outer header (and its
    // presence keeps the kernel from answering "protocol unreachable").
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_IPIP) };
    assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
    let count = Arc::new(AtomicU64::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        let mut last = u64::MAX;
        loop {
            let n = c.load(Ordering::SeqCst);
            if n != last {
                let tmp = format!("{count_path}.tmp");
                std::fs::write(&tmp, n.to_string()).unwrap();
                std::fs::rename(&tmp, &count_path).unwrap();
                last = n;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    std::fs::write(ready, b"ready").unwrap();
    let mut buf = [0u8; 65_536];
    let mut tun = tun;
    loop {
        // SAFETY: `buf` is live and its length is passed.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        let Ok(n) = usize::try_from(n) else { continue };
        if n < 20 || buf[9] != 4 {
            continue;
        }
        let ihl = usize::from(buf[0] & 0x0f) * 4;
        if n <= ihl {
            continue;
        }
        if tun.write_all(&buf[ihl..n]).is_ok() {
            count.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The decapsulator's packet count so far.
pub fn decap_count(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// How long `f` takes (for reporting, never asserted tightly).
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}
