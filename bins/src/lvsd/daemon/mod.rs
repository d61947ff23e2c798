//! The proxy-mode director: one single-threaded mio loop that accepts on the virtual
//! addresses, schedules with the [`Table`], splices TCP, relays UDP flows, runs the health
//! probes, answers the control socket and handles SIGTERM / SIGHUP.
//!
//! Health probes run in the same loop as the traffic (non-blocking connects and bounded
//! reads), never in threads.

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lvs_core::Instant;
use lvs_core::director::ESTIMATOR_PERIOD;
use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use super::config::{Config, Protocol, SvcKey};
use super::import::{self, Legacy};
use super::splice::{Pipe, proxy_v2_header};
use super::table::{Binding, Counters, Table};
use crate::io::slab::{Key, Slab};
use crate::io::{Clock, SignalAction};

const SIGNAL: Token = Token(usize::MAX);
const WAKE: Token = Token(usize::MAX - 1);
/// Most UDP client flows per service.
pub const MAX_FLOWS: usize = 65_536;
const SWEEP: Duration = Duration::from_millis(250);

/// Asks a running [`Daemon`] to stop gracefully, from any thread.
#[derive(Debug, Clone)]
pub struct StopHandle {
    waker: Arc<Waker>,
    flag: Arc<AtomicBool>,
}

impl StopHandle {
    /// Request a graceful stop.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }
}

/// Counters of the daemon itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DaemonStats {
    /// TCP connections accepted.
    pub accepted: u64,
    /// Connections or datagrams dropped because no real server was available.
    pub no_dest: u64,
    /// Connects to real servers that failed or timed out.
    pub connect_failed: u64,
    /// UDP datagrams dropped (flow table full, send errors).
    pub udp_dropped: u64,
}

struct Conn {
    peer: SocketAddr,
    last: Instant,
    client: TcpStream,
    backend: TcpStream,
    binding: Option<Binding>,
    connected: bool,
    connect_deadline: Instant,
    up: Pipe,
    down: Pipe,
}

struct Flow {
    sock: UdpSocket,
    client: SocketAddr,
    listener: Key,
    binding: Option<Binding>,
    last: Instant,
    timeout: Duration,
}

enum Entry {
    Tcp {
        key: SvcKey,
        sock: TcpListener,
    },
    Udp {
        key: SvcKey,
        sock: UdpSocket,
        flows: HashMap<SocketAddr, Key>,
    },
    Conn(Box<Conn>),
    Flow(Box<Flow>),
    /// Probes and the control socket (shared with packet mode).
    Shell(ShellEntry),
}

/// The proxy-mode director.
pub struct Daemon {
    poll: Poll,
    clock: Clock,
    table: Table,
    seed: u64,
    /// Every socket and probe of the loop; a slot's tokens are its key's (the client side of
    /// a connection has [`Key::token`], the backend side [`Key::second_token`]).
    slots: Slab<Entry>,
    listeners: HashMap<SvcKey, Key>,
    config_path: Option<PathBuf>,
    /// The reload file is in this legacy format and is re-imported (else it is TOML).
    import: Option<Legacy>,
    control_path: PathBuf,
    drain_timeout: Duration,
    signals: Option<Signals>,
    waker: Arc<Waker>,
    stop_flag: Arc<AtomicBool>,
    stopping: Option<Instant>,
    conns: usize,
    buf: Box<[u8]>,
    stats: DaemonStats,
}

impl core::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Daemon")
            .field("control_path", &self.control_path)
            .field("conns", &self.conns)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

mod control;
pub(crate) mod shell;
mod udp;

pub use control::control_request;
pub(crate) use control::{bind_control, execute_lines};
use shell::{Shell as _, ShellEntry};

impl Daemon {
    /// Set up the daemon for `cfg`: bind every virtual address and the control socket. With
    /// `signals`, SIGINT/SIGTERM stop it gracefully and SIGHUP reloads `config_path`.
    pub fn new(cfg: &Config, config_path: Option<PathBuf>, signals: bool) -> Result<Self, String> {
        let poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE).map_err(|e| format!("waker: {e}"))?);
        let clock = Clock::new();
        let seed = lvs_core::rng::Rng::next_u64(&mut rand::make_rng::<rand_chacha::ChaCha8Rng>());
        let table = Table::build(cfg, seed, clock.now(), None)?;
        let mut d = Self {
            poll,
            clock,
            table,
            seed,
            slots: Slab::default(),
            listeners: HashMap::new(),
            config_path,
            import: None,
            control_path: cfg.control_path(),
            drain_timeout: cfg.drain_timeout,
            signals: None,
            waker,
            stop_flag: Arc::new(AtomicBool::new(false)),
            stopping: None,
            conns: 0,
            buf: vec![0; 65_536].into_boxed_slice(),
            stats: DaemonStats::default(),
        };
        for s in &cfg.services {
            d.open_listener(s.key)?;
        }
        let ctl = bind_control(&d.control_path)?;
        d.insert(Entry::Shell(ShellEntry::Control(ctl)), Interest::READABLE)
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
        Ok(d)
    }

    /// Reload by re-importing the configuration file as a legacy file of this format
    /// (`lvsd --lvs-cf FILE` or `-f keepalived.conf`) instead of reading it as TOML. The
    /// re-imported services keep the running control socket.
    pub fn set_import(&mut self, format: Legacy) {
        self.import = Some(format);
    }

    /// A handle that stops [`Daemon::run`] from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            waker: self.waker.clone(),
            flag: self.stop_flag.clone(),
        }
    }

    /// The control socket's path.
    pub fn control_path(&self) -> &Path {
        &self.control_path
    }

    /// The service table.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The daemon's own counters.
    pub fn stats(&self) -> DaemonStats {
        self.stats
    }

    /// Store `e` and register its sockets under its slot's tokens; on error nothing stays.
    /// Freeing the slot ([`Slab::remove`]) drops the sockets, which closes them (and removes
    /// them from epoll).
    fn insert(&mut self, e: Entry, interest: Interest) -> io::Result<Key> {
        let slot = self
            .slots
            .try_insert(e)
            .map_err(|_| io::Error::other("the slot table is full"))?;
        let (t, reg) = (slot.token(), self.poll.registry());
        let registered = match self.slots.get_mut(slot) {
            Some(Entry::Tcp { sock, .. }) => reg.register(sock, t, interest),
            Some(Entry::Udp { sock, .. }) => reg.register(sock, t, interest),
            Some(Entry::Conn(c)) => reg
                .register(&mut c.client, t, interest)
                .and_then(|()| reg.register(&mut c.backend, slot.second_token(), interest)),
            Some(Entry::Flow(f)) => reg.register(&mut f.sock, t, interest),
            Some(Entry::Shell(e)) => e.register(reg, t, interest),
            None => Ok(()),
        };
        if let Err(e) = registered {
            self.slots.remove(slot);
            return Err(e);
        }
        Ok(slot)
    }

    fn open_listener(&mut self, key: SvcKey) -> Result<Key, String> {
        let name = format!("{} {}", key.0.label(), key.1);
        let slot = match key.0 {
            Protocol::Tcp => {
                let sock =
                    TcpListener::bind(key.1).map_err(|e| format!("listen on {name}: {e}"))?;
                self.insert(Entry::Tcp { key, sock }, Interest::READABLE)
            }
            Protocol::Udp => {
                let sock = UdpSocket::bind(key.1).map_err(|e| format!("listen on {name}: {e}"))?;
                let flows = HashMap::new();
                self.insert(Entry::Udp { key, sock, flows }, Interest::READABLE)
            }
        }
        .map_err(|e| format!("register {name}: {e}"))?;
        self.listeners.insert(key, slot);
        Ok(slot)
    }

    fn close_listener(&mut self, key: SvcKey, now: Instant) {
        let Some(slot) = self.listeners.remove(&key) else {
            return;
        };
        if let Some(Entry::Udp { flows, .. }) = self.slots.remove(slot) {
            for f in flows.into_values() {
                self.close_flow(f, now, false);
            }
        }
    }

    /// Close listeners whose service is gone.
    fn close_stale(&mut self, now: Instant) {
        let stale: Vec<SvcKey> = self
            .listeners
            .keys()
            .filter(|k| self.table.find(**k).is_none())
            .copied()
            .collect();
        for k in stale {
            self.close_listener(k, now);
        }
    }

    /// Open listeners for services that have none; a service whose address cannot be bound
    /// is removed again and the error returned.
    fn open_missing(&mut self, now: Instant) -> Result<(), String> {
        let missing: Vec<SvcKey> = self
            .table
            .services()
            .map(|s| s.spec.key)
            .filter(|k| !self.listeners.contains_key(k))
            .collect();
        for k in missing {
            if let Err(e) = self.open_listener(k) {
                let _ = self.table.remove_service(k, now);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Re-read (or re-import, see [`Daemon::set_import`]) the configuration file and switch to
    /// it atomically: on any error (parse,
    /// scheduler, bind) the running configuration stays. Established connections and UDP
    /// flows are kept and counted on the same real server when it still exists.
    pub fn reload(&mut self, now: Instant) -> Result<(), String> {
        let path = self
            .config_path
            .clone()
            .ok_or("no configuration file to reload")?;
        let cfg = match self.import {
            Some(format) => {
                let imported = import::load(&path, format).map_err(|e| e.to_string())?;
                for n in &imported.notes {
                    tracing::info!("{n}");
                }
                let mut cfg = imported.config;
                cfg.control = Some(self.control_path.clone());
                cfg
            }
            None => Config::load(&path).map_err(|e| e.0)?,
        };
        let new = Table::build(&cfg, self.seed, now, Some(&self.table))?;
        let mut opened = Vec::new();
        for s in &cfg.services {
            if self.listeners.contains_key(&s.key) {
                continue;
            }
            match self.open_listener(s.key) {
                Ok(_) => opened.push(s.key),
                Err(e) => {
                    for k in opened {
                        self.close_listener(k, now);
                    }
                    return Err(e);
                }
            }
        }
        let mut old = core::mem::replace(&mut self.table, new);
        for slot in self.slots.keys().collect::<Vec<_>>() {
            let binding = match self.slots.get_mut(slot) {
                Some(Entry::Conn(c)) => &mut c.binding,
                Some(Entry::Flow(f)) => &mut f.binding,
                Some(Entry::Shell(ShellEntry::Probe(_))) => {
                    self.slots.remove(slot);
                    continue;
                }
                _ => continue,
            };
            *binding = binding.and_then(|b| self.table.adopt(&old, b));
        }
        self.table.adopt_lingering(&mut old);
        self.close_stale(now);
        self.drain_timeout = cfg.drain_timeout;
        if cfg.control_path() != self.control_path {
            tracing::warn!("the control socket path changes only on restart");
        }
        tracing::info!("configuration reloaded from {}", path.display());
        Ok(())
    }

    /// Run until stopped (SIGINT/SIGTERM or a [`StopHandle`]), then drain: listeners close,
    /// open connections get up to the drain timeout to finish.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut tokens = Vec::with_capacity(1024);
        let mut next_sweep = self.clock.now() + SWEEP;
        let mut next_estimate = self.clock.now() + ESTIMATOR_PERIOD;
        loop {
            let now = self.clock.now();
            self.start_probes(now);
            if let Some(deadline) = self.stopping
                && (self.conns == 0 || now >= deadline)
            {
                break;
            }
            let mut next = next_sweep.min(next_estimate);
            if let Some(t) = self.table.poll_timeout() {
                next = next.min(t);
            }
            match self
                .poll
                .poll(&mut events, Some(self.clock.timeout_until(next)))
            {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            let now = self.clock.now();
            tokens.clear();
            tokens.extend(events.iter().map(mio::event::Event::token));
            for &t in &tokens {
                self.dispatch(t, now);
            }
            if self.stop_flag.swap(false, Ordering::SeqCst) {
                self.begin_stop(now);
            }
            if self.table.poll_timeout().is_some_and(|t| t <= now) {
                self.table.handle_timeout(now);
            }
            if now >= next_estimate {
                self.table.estimate();
                // Keep a steady 2 s cadence; after a long stall restart from now.
                next_estimate = (next_estimate + ESTIMATOR_PERIOD).max(now);
            }
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = now + SWEEP;
            }
        }
        let _ = std::fs::remove_file(&self.control_path);
        Ok(())
    }

    fn begin_stop(&mut self, now: Instant) {
        if self.stopping.is_some() {
            // A second stop request: do not wait for connections.
            self.stopping = Some(now);
            return;
        }
        tracing::info!("stopping: draining {} connections", self.conns);
        let keys: Vec<SvcKey> = self.listeners.keys().copied().collect();
        for k in keys {
            self.close_listener(k, now);
        }
        for slot in self.slots.keys().collect::<Vec<_>>() {
            if matches!(
                self.slots.get(slot),
                Some(Entry::Shell(ShellEntry::Control(_)))
            ) {
                self.slots.remove(slot);
            }
        }
        self.stopping = Some(now + self.drain_timeout);
    }

    fn dispatch(&mut self, t: Token, now: Instant) {
        if t == WAKE {
            return;
        }
        if t == SIGNAL {
            let mut actions = Vec::new();
            if let Some(s) = self.signals.as_mut() {
                actions.extend(s.pending().filter_map(SignalAction::of));
            }
            for a in actions {
                match a {
                    SignalAction::Stop(_) => self.begin_stop(now),
                    SignalAction::Reload => {
                        if let Err(e) = self.reload(now) {
                            tracing::error!(
                                "reload failed, keeping the running configuration: {e}"
                            );
                        }
                    }
                }
            }
            return;
        }
        // A stale token (its slot freed, perhaps reused since) is no key of the table's.
        let Some(slot) = Key::from_token(t) else {
            return;
        };
        match self.slots.get(slot) {
            Some(Entry::Tcp { .. }) => self.accept_tcp(slot, now),
            Some(Entry::Udp { .. }) => self.read_udp(slot, now),
            Some(Entry::Conn(_)) => self.drive_conn(slot, now),
            Some(Entry::Flow(_)) => self.read_flow(slot, now),
            Some(Entry::Shell(ShellEntry::Probe(_))) => self.drive_probe(slot, now),
            Some(Entry::Shell(ShellEntry::Control(_))) => self.accept_ctl(slot),
            Some(Entry::Shell(ShellEntry::Ctl(_))) => self.drive_ctl(slot, now),
            None => {}
        }
    }

    fn accept_tcp(&mut self, slot: Key, now: Instant) {
        loop {
            let Some(Entry::Tcp { key, sock }) = self.slots.get(slot) else {
                return;
            };
            let key = *key;
            match sock.accept() {
                Ok((client, peer)) => self.new_conn(key, client, peer, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => {
                    tracing::error!("accept on {}: {e}", key.1);
                    return;
                }
            }
        }
    }

    fn new_conn(&mut self, key: SvcKey, client: TcpStream, peer: SocketAddr, now: Instant) {
        self.stats.accepted += 1;
        let Some(svc) = self.table.find(key) else {
            return;
        };
        let Some((binding, backend_addr)) = self.table.pick(svc, peer, now) else {
            self.stats.no_dest += 1;
            return;
        };
        let Some(spec) = self.table.service(svc).map(|s| s.spec.clone()) else {
            return;
        };
        let backend = match TcpStream::connect(backend_addr) {
            Ok(b) => b,
            Err(e) => {
                tracing::info!("connect to {backend_addr}: {e}");
                self.stats.connect_failed += 1;
                self.table.release(binding, now);
                return;
            }
        };
        let _ = client.set_nodelay(true);
        let _ = backend.set_nodelay(true);
        let mut up = Pipe::default();
        if spec.proxy_protocol {
            let local = client.local_addr().unwrap_or(key.1);
            up.preload(&proxy_v2_header(peer, local));
        }
        let conn = Conn {
            peer,
            last: now,
            client,
            backend,
            binding: Some(binding),
            connected: false,
            connect_deadline: now + spec.connect_timeout,
            up,
            down: Pipe::default(),
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        match self.insert(Entry::Conn(Box::new(conn)), interest) {
            Ok(_) => self.conns += 1,
            Err(e) => {
                tracing::error!("register connection: {e}");
                self.table.release(binding, now);
            }
        }
    }

    fn drive_conn(&mut self, slot: Key, now: Instant) {
        let Some(Entry::Conn(c)) = self.slots.get_mut(slot) else {
            return;
        };
        if !c.connected {
            let failed = match c.backend.take_error() {
                Ok(Some(_)) | Err(_) => true,
                Ok(None) => match c.backend.peer_addr() {
                    Ok(_) => {
                        c.connected = true;
                        false
                    }
                    Err(e) => e.kind() != io::ErrorKind::NotConnected,
                },
            };
            if failed {
                self.stats.connect_failed += 1;
                self.close_conn(slot, now);
                return;
            }
            if !c.connected {
                return;
            }
        }
        let up = c.up.pump(&mut c.client, &mut c.backend);
        let down = c.down.pump(&mut c.backend, &mut c.client);
        let (ok, counters) = match (up, down) {
            (Ok(u), Ok(d)) => (
                true,
                Counters {
                    conns: 0,
                    in_pkts: u.reads,
                    out_pkts: d.reads,
                    in_bytes: u.bytes,
                    out_bytes: d.bytes,
                },
            ),
            _ => (false, Counters::default()),
        };
        let finished = c.up.done() && c.down.done();
        if counters != Counters::default() {
            c.last = now;
            if let Some(b) = c.binding {
                self.table.account(b, &counters);
            }
        }
        if !ok || finished {
            self.close_conn(slot, now);
        }
    }

    fn close_conn(&mut self, slot: Key, now: Instant) {
        if let Some(Entry::Conn(c)) = self.slots.remove(slot) {
            self.conns -= 1;
            if let Some(b) = c.binding {
                self.table.release(b, now);
            }
        }
    }

    fn sweep(&mut self, now: Instant) {
        self.table.sweep(now);
        for slot in self.slots.keys().collect::<Vec<_>>() {
            match self.slots.get(slot) {
                Some(Entry::Conn(c)) if !c.connected && now >= c.connect_deadline => {
                    self.stats.connect_failed += 1;
                    self.close_conn(slot, now);
                }
                Some(Entry::Flow(f)) if now >= f.last + f.timeout => {
                    self.close_flow(slot, now, true);
                }
                Some(Entry::Shell(ShellEntry::Probe(_))) => self.sweep_probe(slot, now),
                _ => {}
            }
        }
    }
}
