//! Packet mode: lvsd as an IPVS director on one interface (`mode = "packet"`, needs root).
//!
//! An `AF_PACKET` socket on the interface hands every frame to the `lvs-core`
//! [`Director`](lvs_core::director::Director), which rewrites it in place (NAT, DR or TUN per
//! real server) and says what to do; this shell only moves frames and resolves MACs:
//!
//! * **The VIPs are not local addresses**, and the director's namespace or host runs with
//!   `ip_forward=0`, so the kernel neither answers nor forwards packets for them (it counts
//!   and drops them; lvsd has its own copy). lvsd answers ARP requests for the VIPs itself
//!   and sends gratuitous ARP for them at start (three times, a second apart).
//! * **A director pair** (a `[vrrp]` table, see [`super::vrrp`]): the VRRP half never adds
//!   the VIPs to the interface; it publishes the set its masters hold into a
//!   [`HeldVips`] handle ([`PacketDaemon::follow_vrrp`]). lvsd answers ARP for a VIP, and
//!   announces it at start and after a reload, only while the handle holds it on this
//!   interface, so only the master's MAC is ever given out; the VRRP half sends the
//!   gratuitous ARP that moves the VIP when an instance becomes master. A frame for a VIP
//!   that still reaches a backup (a client with a stale ARP entry) is forwarded as usual.
//! * **Next hops.** A `Forward` verdict names an IP next hop: the real server (NAT, DR, TUN)
//!   or the client (NAT replies). Its MAC comes from a bounded [`Neighbours`] table, learned
//!   from received frames (clients, NAT real servers), from ARP replies to requests lvsd sends
//!   (from the interface address on the next hop's subnet), and from the kernel's neighbour
//!   table (`/proc/net/arp`). Frames wait at most a second for a next hop to resolve; the
//!   queue is bounded and what it drops is counted.
//! * **NAT**: the real servers use the director's address as their default gateway; their
//!   replies arrive through the same socket and the director rewrites them back to the VIP.
//!   **DR**: the real servers own the VIP on `lo` with `arp_ignore=1` / `arp_announce=2`
//!   (`lvsadm realserver --dr VIP`); only the MACs change and the replies go straight to the
//!   client. **TUN**: IPIP to the real server, which decapsulates and replies directly.
//! * **Checksums.** On veth and other virtual links the kernel may pass a frame whose TCP/UDP
//!   checksum is left to an offload that never runs (`TP_STATUS_CSUMNOTREADY` in
//!   `PACKET_AUXDATA`); lvsd completes it before forwarding.
//! * Health checks are [`lvs_core::health`] machines bound to the director with
//!   [`DirectorBinding`](lvs_core::health::DirectorBinding): a failing server is quiesced
//!   (weight 0, and its persistence templates stop applying), a returning one gets its weight
//!   back. Probes run from the director's own stack in the same loop as the frames.
//!   A dynamic program check (keepalived `misc_dynamic`) sets the weight of a server that is
//!   up.
//! * `lvsadm` works over the same control socket: `-L -n` (`--stats`, `--rate`, `-c`), `-S`,
//!   `-A/-E/-D/-C`, `-a/-e/-d` with the forwarding method (`-g` DR, the default for `-a` as
//!   in ipvsadm, `-i` TUN, `-m` NAT), `-R`, and `--reload`.
//! * **Reload** (SIGHUP or `lvsadm --reload`) re-reads the configuration file and applies the
//!   difference to the running director ([`reconcile`]): its connection table stays, so
//!   connections to real servers that remain keep flowing, and those to a removed one (by a
//!   reload or `-d`) go on until they end, as with the kernel's deleted destinations (added
//!   again meanwhile, the server comes back with them); on any error the running
//!   configuration stays. The interface (and the tunnel source of TUN servers) change only
//!   on restart, and a reload replaces changes made with lvsadm since the last load.
//!
//! Limits of this version: IPv4 only (no neighbour discovery), one interface, no VLAN tags,
//! no generic-receive-offload super-frames (frames larger than the buffer are counted and
//! dropped), and real servers and TUN endpoints on the interface's link.

pub mod arp;
mod control;
pub mod iface;
pub mod neigh;
pub mod plane;
pub mod reconcile;
pub mod spec;

use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;
use std::io;
use std::path::{Path, PathBuf};

use lvs_core::Instant;
use lvs_core::director::Verdict;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use arp::Arp;
use iface::{Iface, complete_checksum};
use neigh::{Neighbours, parse_proc_arp};
use plane::{Plane, director_config};

use super::config::{Config, ConfigFile, DataPlane, PacketSpec};
use super::daemon::bind_control;
use super::daemon::shell::{Shell as _, ShellEntry};
use crate::io::slab::{Key, Slab};
use crate::io::{Clock, ETH_P_ALL, PacketSocket, PacketType, SignalAction};
use crate::vrrpd::held::HeldVips;

const PACKET: Token = Token(usize::MAX);
const SIGNAL: Token = Token(usize::MAX - 1);
const SWEEP: Duration = Duration::from_millis(250);
/// Frames read per wake-up before the loop looks at its timers again.
const READ_BUDGET: usize = 1024;
/// The receive buffer: the largest IPv4 packet plus an Ethernet header with a VLAN tag.
const FRAME_BUF: usize = 65_535 + 18;
const GARP_COUNT: u32 = 3;
const GARP_INTERVAL: Duration = Duration::from_secs(1);

/// What the shell did with frames (the director counts its own drops per reason).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketStats {
    /// Frames received (not counting our own outgoing ones).
    pub frames: u64,
    /// Frames forwarded to a next hop.
    pub forwarded: u64,
    /// ICMP replies sent back (fragmentation needed for tunnels).
    pub replies: u64,
    /// Frames the director left to the local stack.
    pub local: u64,
    /// Frames the director dropped.
    pub dropped: u64,
    /// ARP requests for a VIP answered.
    pub arp_answered: u64,
    /// ARP requests for a VIP left unanswered because the VRRP half does not hold it here
    /// (the master director answers them).
    pub arp_not_held: u64,
    /// ARP requests and announcements sent.
    pub arp_sent: u64,
    /// Frames whose transport checksum was completed.
    pub checksums_completed: u64,
    /// Frames larger than the buffer, dropped.
    pub truncated: u64,
    /// Sends the kernel refused.
    pub send_errors: u64,
}

/// A slot of the loop: packet mode has only the shared entries.
type Entry = ShellEntry;

/// The packet-mode director daemon.
pub struct PacketDaemon {
    poll: Poll,
    clock: Clock,
    sock: PacketSocket,
    iface: Iface,
    plane: Plane,
    neigh: Neighbours,
    vips: Vec<Ipv4Addr>,
    frame: Vec<u8>,
    /// Probes and control connections, under their keys' tokens.
    slots: Slab<Entry>,
    control_path: PathBuf,
    config_path: Option<PathBuf>,
    seed: u64,
    signals: Option<Signals>,
    stop: bool,
    more: bool,
    garp_left: u32,
    next_garp: Instant,
    /// With a VRRP half: the VIPs it holds (see the module docs).
    held: Option<HeldVips>,
    stats: PacketStats,
}

impl core::fmt::Debug for PacketDaemon {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PacketDaemon")
            .field("interface", &self.iface.name)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn warn_if_forwarding(name: &str) {
    let path = format!("/proc/sys/net/ipv4/conf/{name}/forwarding");
    if std::fs::read_to_string(path).is_ok_and(|v| v.trim() != "0") {
        tracing::warn!(
            "IPv4 forwarding is on for {name}: the kernel will forward the VIPs' packets too; \
             set net.ipv4.ip_forward=0 where lvsd runs in packet mode"
        );
    }
}

/// Whether the configuration has TUN real servers, and the outer source of their packets:
/// the configured one, else an address of the interface on the first TUN server's subnet,
/// else its first address.
fn tunnel_source(cfg: &Config, spec: &PacketSpec, iface: &Iface) -> (bool, Option<Ipv4Addr>) {
    let mut tun = cfg.services.iter().flat_map(|s| {
        s.reals
            .iter()
            .filter(|r| spec.forward_of(s.key, r.addr) == lvs_core::director::Forward::Tun)
            .filter_map(|r| match r.addr.ip() {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            })
    });
    let first = tun.next();
    let source = spec.tunnel_source.or_else(|| {
        first
            .map(|t| iface.source_for(t))
            .unwrap_or_else(|| iface.addrs.first().map(|a| a.0))
    });
    (first.is_some(), source)
}

impl PacketDaemon {
    /// Open the interface and the control socket and build the director for `cfg`. With
    /// `signals`, SIGINT/SIGTERM stop it and SIGHUP reloads `config_path` (as `lvsadm
    /// --reload` does).
    pub fn new(
        cfg: &Config,
        spec: &PacketSpec,
        config_path: Option<PathBuf>,
        signals: bool,
    ) -> Result<Self, String> {
        let iface = Iface::probe(&spec.interface)
            .map_err(|e| format!("interface {}: {e}", spec.interface))?;
        let (_, tunnel_source) = tunnel_source(cfg, spec, &iface);
        let clock = Clock::new();
        let now = clock.now();
        let seed = lvs_core::rng::Rng::next_u64(&mut rand::make_rng::<rand_chacha::ChaCha8Rng>());
        let dc = director_config(cfg, iface.mac, iface.mtu, tunnel_source);
        let plane = Plane::build(cfg, spec, dc, seed, now)?;
        let vips = plane.vips();
        for v in &vips {
            if iface.owns(*v) {
                tracing::warn!(
                    "VIP {v} is an address of {}: the kernel answers it",
                    iface.name
                );
            }
        }
        warn_if_forwarding(&iface.name);
        let sock = PacketSocket::open_index(iface.index, ETH_P_ALL)
            .map_err(|e| format!("AF_PACKET on {}: {e} (packet mode needs root)", iface.name))?;
        sock.set_auxdata(true)
            .map_err(|e| format!("PACKET_AUXDATA on {}: {e}", iface.name))?;
        let poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&sock);
        poll.registry()
            .register(&mut SourceFd(&fd), PACKET, Interest::READABLE)
            .map_err(|e| format!("register {}: {e}", iface.name))?;
        let mut d = Self {
            poll,
            clock,
            sock,
            iface,
            plane,
            neigh: Neighbours::new(),
            vips,
            frame: Vec::with_capacity(FRAME_BUF),
            slots: Slab::default(),
            control_path: cfg.control_path(),
            config_path,
            seed,
            signals: None,
            stop: false,
            more: false,
            garp_left: GARP_COUNT,
            next_garp: now,
            held: None,
            stats: PacketStats::default(),
        };
        let ctl = bind_control(&d.control_path)?;
        d.insert(Entry::Control(ctl), Interest::READABLE)
            .map_err(|e| format!("control socket: {e}"))?;
        if signals {
            let mut s =
                Signals::new([SIGINT, SIGTERM, SIGHUP]).map_err(|e| format!("signals: {e}"))?;
            d.poll
                .registry()
                .register(&mut s, SIGNAL, Interest::READABLE)
                .map_err(|e| format!("signals: {e}"))?;
            d.signals = Some(s);
        }
        tracing::info!(
            "packet mode on {} ({} services, tunnel source {tunnel_source:?})",
            d.iface.name,
            d.plane.services().len()
        );
        Ok(d)
    }

    /// The control socket's path.
    pub fn control_path(&self) -> &Path {
        &self.control_path
    }

    /// The services and the director.
    pub fn plane(&self) -> &Plane {
        &self.plane
    }

    /// Frame counters.
    pub fn stats(&self) -> PacketStats {
        self.stats
    }

    /// Follow a VRRP half in publish mode: from now on lvsd answers ARP for a VIP, and
    /// announces it, only while `held` holds it on this interface (see the module docs).
    pub fn follow_vrrp(&mut self, held: HeldVips) {
        self.held = Some(held);
    }

    /// Warn about the VIPs a pair cannot serve: service VIPs that no VRRP instance on this
    /// interface carries (never answered), and VRRP addresses on other interfaces that a
    /// service uses. `carried` is each VRRP address with its instance's interface.
    pub fn check_vrrp_vips(&self, carried: &[(String, IpAddr)]) {
        for v in &self.vips {
            let ip = IpAddr::V4(*v);
            if carried
                .iter()
                .any(|(i, a)| *a == ip && *i == self.iface.name)
            {
                continue;
            }
            match carried.iter().find(|(_, a)| *a == ip) {
                Some((other, _)) => tracing::warn!(
                    "VIP {v} is a VRRP address on {other}, not on {}: lvsd never answers ARP \
                     for it",
                    self.iface.name
                ),
                None => tracing::warn!(
                    "VIP {v} is in no VRRP instance on {}: lvsd never answers ARP for it",
                    self.iface.name
                ),
            }
        }
    }

    /// Whether lvsd answers for `vip` now: always without a VRRP half, else while the half
    /// holds it on this interface.
    fn holds(&self, vip: Ipv4Addr) -> bool {
        self.held
            .as_ref()
            .is_none_or(|h| h.holds(&self.iface.name, IpAddr::V4(vip)))
    }

    /// Store `e` and register it under its slot's token; on error nothing stays.
    fn insert(&mut self, e: Entry, interest: Interest) -> io::Result<Key> {
        let slot = self
            .slots
            .try_insert(e)
            .map_err(|_| io::Error::other("the slot table is full"))?;
        let reg = self.poll.registry();
        let registered = match self.slots.get_mut(slot) {
            Some(e) => e.register(reg, slot.token(), interest),
            None => Ok(()),
        };
        if let Err(e) = registered {
            self.slots.remove(slot);
            return Err(e);
        }
        Ok(slot)
    }

    /// Run until SIGINT / SIGTERM.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        let mut next_sweep = self.clock.now();
        let reals = self.plane.real_addrs();
        let now = self.clock.now();
        for r in reals {
            self.resolve(r, now);
        }
        while !self.stop {
            let now = self.clock.now();
            self.start_probes(now);
            if self.garp_left > 0 && now >= self.next_garp {
                self.announce();
                self.garp_left -= 1;
                self.next_garp = now + GARP_INTERVAL;
            }
            let mut next = next_sweep;
            if self.garp_left > 0 {
                next = next.min(self.next_garp);
            }
            if let Some(t) = self.plane.poll_timeout() {
                next = next.min(t);
            }
            let timeout = if self.more {
                Duration::ZERO
            } else {
                self.clock.timeout_until(next)
            };
            match self.poll.poll(&mut events, Some(timeout)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            let now = self.clock.now();
            if self.more {
                self.read_frames(now);
            }
            let tokens: Vec<Token> = events.iter().map(mio::event::Event::token).collect();
            for t in tokens {
                self.dispatch(t, now);
            }
            self.plane.handle_timeout(now);
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = now + SWEEP;
            }
        }
        let _ = std::fs::remove_file(&self.control_path);
        let n = self.neigh.stats();
        tracing::info!(
            "stopped: {:?}; neighbours: {n:?}; director drops: {:?}",
            self.stats,
            self.plane.director.drops()
        );
        Ok(())
    }

    fn dispatch(&mut self, t: Token, now: Instant) {
        match t {
            PACKET => self.read_frames(now),
            SIGNAL => {
                let mut actions = Vec::new();
                if let Some(s) = self.signals.as_mut() {
                    actions.extend(s.pending().filter_map(SignalAction::of));
                }
                for a in actions {
                    match a {
                        SignalAction::Stop(_) => self.stop = true,
                        SignalAction::Reload => {
                            if let Err(e) = self.reload(now) {
                                tracing::error!(
                                    "reload failed, keeping the running configuration: {e}"
                                );
                            }
                        }
                    }
                }
            }
            // A stale token (its slot freed, perhaps reused since) is no key of the table's.
            t => match Key::from_token(t).map(|slot| (slot, self.slots.get(slot))) {
                Some((slot, Some(Entry::Probe(_)))) => self.drive_probe(slot, now),
                Some((slot, Some(Entry::Control(_)))) => self.accept_ctl(slot),
                Some((slot, Some(Entry::Ctl(_)))) => self.drive_ctl(slot, now),
                Some((_, None)) | None => {}
            },
        }
    }

    /// Re-read the configuration file and switch to its services (see the module docs): on
    /// any error the running configuration stays and the error says why.
    pub fn reload(&mut self, now: Instant) -> Result<(), String> {
        let path = self
            .config_path
            .clone()
            .ok_or("no configuration file to reload")?;
        let file = ConfigFile::load(&path).map_err(|e| e.0)?;
        let DataPlane::Packet(spec) = &file.plane else {
            return Err(format!(
                "{}: the file is for proxy mode now; changing the data plane needs a restart \
                 of lvsd",
                path.display()
            ));
        };
        if spec.interface != self.iface.name {
            return Err(format!(
                "{}: the interface changes from {} to {}; that needs a restart of lvsd",
                path.display(),
                self.iface.name,
                spec.interface
            ));
        }
        let (tun, source) = tunnel_source(&file.config, spec, &self.iface);
        let running = self.plane.director.config().tunnel_source_v4;
        if (tun || spec.tunnel_source.is_some()) && source.map(IpAddr::V4) != running {
            return Err(format!(
                "{}: the tunnel source changes from {running:?} to {source:?}; that needs a \
                 restart of lvsd",
                path.display()
            ));
        }
        // Try the whole configuration on a scratch director first: whatever it refuses
        // (a scheduler, a check, a limit) leaves the running one untouched.
        let dc = director_config(&file.config, self.iface.mac, self.iface.mtu, source);
        Plane::build(&file.config, spec, dc, self.seed, now)?;
        self.plane.reload(&file.config, spec, now)?;
        self.refresh(now);
        if file
            .config
            .control
            .as_ref()
            .is_some_and(|c| *c != self.control_path)
        {
            tracing::warn!("the control socket path changes only on restart");
        }
        tracing::info!(
            "configuration reloaded from {} ({} services)",
            path.display(),
            self.plane.services().len()
        );
        Ok(())
    }

    /// After the services changed: answer ARP for the new VIPs (and announce them), look
    /// up the new real servers' MACs.
    pub(super) fn refresh(&mut self, now: Instant) {
        let vips = self.plane.vips();
        if vips.iter().any(|v| !self.vips.contains(v)) {
            for v in vips.iter().filter(|v| self.iface.owns(**v)) {
                tracing::warn!(
                    "VIP {v} is an address of {}: the kernel answers it",
                    self.iface.name
                );
            }
            self.garp_left = GARP_COUNT;
            self.next_garp = now;
        }
        self.vips = vips;
        for r in self.plane.real_addrs() {
            self.resolve(r, now);
        }
    }

    /// Read frames until the socket is empty or the budget is spent (then the next poll does
    /// not sleep).
    fn read_frames(&mut self, now: Instant) {
        self.more = false;
        for _ in 0..READ_BUDGET {
            self.frame.clear();
            self.frame.reserve(FRAME_BUF);
            let (info, status) = match self.sock.recv_frame_status(self.frame.spare_capacity_mut())
            {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::error!("receive on {}: {e}", self.iface.name);
                    return;
                }
            };
            // SAFETY: the kernel wrote `info.len` bytes (at most the spare capacity) at the
            // start of the spare capacity.
            unsafe { self.frame.set_len(info.len) };
            if info.pkttype == PacketType::Outgoing {
                continue;
            }
            self.stats.frames += 1;
            if info.truncated {
                self.stats.truncated += 1;
                continue;
            }
            self.on_frame(now, info.pkttype, status);
        }
        self.more = true;
    }

    fn on_frame(&mut self, now: Instant, pkttype: PacketType, status: u32) {
        if self.frame.len() < 14 {
            return;
        }
        match [self.frame[12], self.frame[13]] {
            [0x08, 0x06] => self.on_arp(now),
            [0x08, 0x00] if pkttype == PacketType::Host => self.on_ipv4(now, status),
            _ => {}
        }
    }

    fn on_arp(&mut self, now: Instant) {
        let Some(a) = Arp::parse(&self.frame) else {
            return;
        };
        if self.vips.contains(&a.spa) && a.sha != self.iface.mac {
            // The VRRP master announcing a VIP this director does not hold is the pair at
            // work; a claim on a VIP it holds is a conflict.
            if self.holds(a.spa) {
                tracing::warn!("{} claims VIP {} (ARP from {:02x?})", a.spa, a.spa, a.sha);
            } else {
                tracing::debug!("VIP {} announced by {:02x?}", a.spa, a.sha);
            }
        }
        if !a.spa.is_unspecified() && !self.vips.contains(&a.spa) {
            let ready = self.neigh.learn(a.spa, a.sha, now);
            self.flush(a.sha, ready);
        }
        if a.is_query() && self.vips.contains(&a.tpa) {
            if !self.holds(a.tpa) {
                self.stats.arp_not_held += 1;
                return;
            }
            let reply = a.answer(self.iface.mac).frame(a.sha, self.iface.mac);
            self.send(&reply);
            self.stats.arp_answered += 1;
        }
    }

    fn on_ipv4(&mut self, now: Instant, status: u32) {
        let f = &self.frame;
        if f.len() >= 34 {
            let src = Ipv4Addr::new(f[26], f[27], f[28], f[29]);
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&f[6..12]);
            if !self.vips.contains(&src) && !self.iface.owns(src) {
                let ready = self.neigh.learn(src, mac, now);
                self.flush(mac, ready);
            }
        }
        if status & libc::TP_STATUS_CSUMNOTREADY != 0 && complete_checksum(&mut self.frame) {
            self.stats.checksums_completed += 1;
        }
        match self.plane.director.process(now, &mut self.frame, 0) {
            Verdict::Forward { next_hop, len } => {
                self.frame.truncate(len);
                let IpAddr::V4(hop) = next_hop else {
                    self.stats.dropped += 1;
                    return;
                };
                self.forward(hop, now);
            }
            Verdict::Reply { len } => {
                self.frame.truncate(len);
                let frame = core::mem::take(&mut self.frame);
                self.send(&frame);
                self.frame = frame;
                self.stats.replies += 1;
            }
            Verdict::Local => self.stats.local += 1,
            Verdict::Drop(_) => self.stats.dropped += 1,
        }
    }

    /// Send the frame in the buffer to `hop`, or park it until `hop` resolves.
    fn forward(&mut self, hop: Ipv4Addr, now: Instant) {
        match self.neigh.lookup(hop, now) {
            Some(mac) => {
                if self.neigh.stale(hop, now) {
                    self.ask(hop, now);
                }
                self.frame[0..6].copy_from_slice(&mac);
                self.frame[6..12].copy_from_slice(&self.iface.mac);
                let frame = core::mem::take(&mut self.frame);
                if self.send(&frame) {
                    self.stats.forwarded += 1;
                }
                self.frame = frame;
            }
            None => {
                let frame = core::mem::replace(&mut self.frame, Vec::with_capacity(FRAME_BUF));
                if self.neigh.park(hop, frame, now) {
                    self.resolve(hop, now);
                }
            }
        }
    }

    /// Send frames that were waiting for a next hop now at `mac`.
    fn flush(&mut self, mac: [u8; 6], frames: Vec<Vec<u8>>) {
        for mut f in frames {
            f[0..6].copy_from_slice(&mac);
            f[6..12].copy_from_slice(&self.iface.mac);
            if self.send(&f) {
                self.stats.forwarded += 1;
            }
        }
    }

    /// Find `hop`'s MAC (at most once per [`neigh::ASK_INTERVAL`]): the kernel's neighbour
    /// table first, else an ARP request.
    fn resolve(&mut self, hop: Ipv4Addr, now: Instant) {
        if self.neigh.lookup(hop, now).is_some() || !self.neigh.should_ask(hop, now) {
            return;
        }
        if let Ok(text) = std::fs::read_to_string("/proc/net/arp")
            && let Some(&(_, mac)) = parse_proc_arp(&text, &self.iface.name)
                .iter()
                .find(|(ip, _)| *ip == hop)
        {
            let ready = self.neigh.learn(hop, mac, now);
            self.flush(mac, ready);
            return;
        }
        self.request(hop);
    }

    /// Re-confirm a known but ageing entry.
    fn ask(&mut self, hop: Ipv4Addr, now: Instant) {
        if self.neigh.should_ask(hop, now) {
            self.request(hop);
        }
    }

    fn request(&mut self, hop: Ipv4Addr) {
        let Some(src) = self.iface.source_for(hop) else {
            return;
        };
        let req = Arp::request(self.iface.mac, src, hop).frame(arp::BROADCAST, self.iface.mac);
        self.send(&req);
        self.stats.arp_sent += 1;
    }

    /// Gratuitous ARP for every VIP lvsd answers for (with a VRRP half: the held ones).
    fn announce(&mut self) {
        for v in self.vips.clone() {
            if !self.holds(v) {
                continue;
            }
            let g = Arp::gratuitous(self.iface.mac, v).frame(arp::BROADCAST, self.iface.mac);
            self.send(&g);
            self.stats.arp_sent += 1;
        }
    }

    fn send(&mut self, frame: &[u8]) -> bool {
        match self.sock.send_frame(frame) {
            Ok(()) => true,
            Err(e) => {
                self.stats.send_errors += 1;
                tracing::debug!("send on {}: {e}", self.iface.name);
                false
            }
        }
    }

    fn sweep(&mut self, now: Instant) {
        self.neigh.expire(now);
        for slot in self.slots.keys().collect::<Vec<_>>() {
            self.sweep_probe(slot, now);
        }
    }
}
