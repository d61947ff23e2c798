//! One worker thread: a mio loop over the pools' listeners, the client connections (one
//! [`Session`] each) and one backend connection per pool server, opened lazily and shared by
//! every session of the worker (a [`Pipe`]): requests of all clients are queued on it in
//! order, written in one batch per wake-up, and the replies handed back in that order.
//! Pools with health checks also get one probe connection per server (see [`probe`]).

use core::time::Duration;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use lvs_core::Instant;
use lvs_sched::mcproxy::{Counters, Router, Session, SessionConfig};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use signal_hook_mio::v1_0::Signals;

use super::config::{Config, PoolConfig};
use super::health::Health;
use super::pipe::Pipe;
use crate::io::slab::{Key, Slab};
use crate::io::{Clock, HANDLED, SignalAction, tcp_connect, tcp_listener};

mod pipes;
mod probe;
mod service;

use probe::ProbeConn;

const SIGNALS: Token = Token(0);
/// Read size per call, and the size of the worker's read buffer.
const READ_CHUNK: usize = 64 << 10;
/// Rounds of write/read per client per wake-up before other clients get their turn.
const MAX_ROUNDS: usize = 16;
/// The longest sleep between timeout sweeps.
const MAX_TICK: Duration = Duration::from_millis(100);

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Limits of every session.
    pub session: SessionConfig,
    /// How long SIGTERM waits for in-flight requests before closing everything.
    pub drain_timeout: Duration,
    /// Bind listeners with `SO_REUSEPORT` (several workers share each address).
    pub reuse_port: bool,
    /// Where SIGHUP reloads the configuration from.
    pub config_path: Option<PathBuf>,
}

struct ListenerConn {
    sock: TcpListener,
    addr: SocketAddr,
    pool: usize,
}

struct ClientConn {
    stream: TcpStream,
    session: Session,
    pool: usize,
    /// Per server: replies this session owes on the shared connection (queued there).
    recorded: Vec<usize>,
    readable: bool,
    /// The peer hung up or the socket failed: read until EOF even after a short read.
    hup: bool,
    /// The client is gone but replies it owes are still on a shared connection: the session
    /// stays to absorb them, then the slot is freed.
    zombie: bool,
}

/// The shared connection to one server of one pool.
struct BackendConn {
    stream: TcpStream,
    pool: usize,
    server: usize,
    pipe: Pipe<Key>,
    /// Sessions whose output waits for room in the pipe.
    blocked: Vec<Key>,
    connected: bool,
    readable: bool,
    /// The peer hung up or the socket failed: read until EOF even after a short read.
    hup: bool,
    /// Connect failed: fail the connection for every session on it.
    broken: bool,
    connect_deadline: Instant,
    /// Since when replies have been owed without anything arriving.
    waiting_since: Option<Instant>,
}

enum Conn {
    Listener(ListenerConn),
    Client(Box<ClientConn>),
    Backend(BackendConn),
    Probe(ProbeConn),
}

/// A pool generation: a reload makes a new one; old ones live while their clients do.
struct PoolRt {
    cfg: PoolConfig,
    /// The template every new session clones (ejected backends already marked down).
    router: Router,
    health: Health,
    /// The shared connection to each server.
    pipes: Vec<Option<Key>>,
    /// The health-check connection to each server.
    probes: Vec<Option<Key>>,
    /// When the next round of probes starts (pools with health checks).
    next_probe: Instant,
    clients: usize,
    /// Some listener still accepts into this generation.
    live: bool,
}

impl PoolRt {
    fn new(cfg: PoolConfig) -> Result<Self, String> {
        let router = cfg.router()?;
        let mut health = Health::new(
            cfg.servers.len(),
            cfg.server_failure_limit,
            cfg.server_retry_timeout,
        );
        if let Some(hc) = cfg.health_check {
            health = health.with_checks(hc.rise, hc.fall);
        }
        Ok(Self {
            pipes: vec![None; cfg.servers.len()],
            probes: vec![None; cfg.servers.len()],
            next_probe: Instant::ZERO,
            cfg,
            router,
            health,
            clients: 0,
            live: true,
        })
    }
}

/// Totals of one worker, logged when it stops.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkerStats {
    /// Clients accepted.
    pub accepted: u64,
    /// Clients refused by `client_connections`.
    pub refused: u64,
    /// Backend connections opened.
    pub backend_connects: u64,
    /// Backend failures (connect, reset, timeout, protocol fault).
    pub backend_failures: u64,
    /// Ejections (`backend_down`).
    pub ejections: u64,
    /// Session counters of closed clients, summed.
    pub requests: u64,
    /// Requests answered as unavailable, summed.
    pub unavailable: u64,
}

enum ReadOutcome {
    Data(usize),
    WouldBlock,
    Eof,
    Failed,
}

fn read_once(stream: &mut TcpStream, buf: &mut [u8]) -> ReadOutcome {
    loop {
        match stream.read(buf) {
            Ok(0) => return ReadOutcome::Eof,
            Ok(n) => return ReadOutcome::Data(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadOutcome::WouldBlock,
            Err(_) => return ReadOutcome::Failed,
        }
    }
}

/// Where a non-blocking connect stands: `Some(true)` connected, `Some(false)` still under
/// way, `None` failed.
fn connect_done(stream: &TcpStream) -> Option<bool> {
    match stream.take_error() {
        Ok(Some(_)) | Err(_) => None,
        Ok(None) => match stream.peer_addr() {
            Ok(_) => Some(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Some(false),
            Err(_) => None,
        },
    }
}

/// Writes as much of `data` as the socket takes.
fn write_some(stream: &mut TcpStream, data: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < data.len() {
        match stream.write(&data[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// One worker's loop and everything it owns.
pub struct Worker {
    id: usize,
    poll: Poll,
    signals: Signals,
    clock: Clock,
    opts: WorkerOptions,
    pools: Vec<Option<PoolRt>>,
    conns: Slab<Conn>,
    buf: Vec<u8>,
    dirty: Vec<Key>,
    /// Shared connections with readiness to handle.
    pipe_ready: Vec<Key>,
    /// Shared connections with bytes to write.
    pipe_writes: Vec<Key>,
    /// The shared connections' writes were held back for one more look at the poll.
    writes_held: bool,
    ejections: Vec<(usize, usize)>,
    stopping: Option<Instant>,
    next_tick: Instant,
    stats: WorkerStats,
}

impl core::fmt::Debug for Worker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Worker")
            .field("id", &self.id)
            .field("connections", &self.conns.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Registers the signal handlers, then binds every pool's listener. Call on the thread
    /// that starts the workers, so no signal arrives before a handler exists.
    pub fn new(id: usize, config: &Config, opts: WorkerOptions) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut signals = Signals::new(HANDLED)?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let clock = Clock::new();
        let mut w = Self {
            id,
            poll,
            signals,
            clock,
            opts,
            pools: Vec::new(),
            conns: Slab::default(),
            buf: vec![0; READ_CHUNK],
            dirty: Vec::new(),
            pipe_ready: Vec::new(),
            pipe_writes: Vec::new(),
            writes_held: false,
            ejections: Vec::new(),
            stopping: None,
            next_tick: clock.now(),
            stats: WorkerStats::default(),
        };
        for cfg in &config.pools {
            let rt = PoolRt::new(cfg.clone()).map_err(io::Error::other)?;
            w.pools.push(Some(rt));
            w.listen(cfg.listen, w.pools.len() - 1)?;
        }
        Ok(w)
    }

    fn listen(&mut self, addr: SocketAddr, pool: usize) -> io::Result<()> {
        let sock = tcp_listener(addr, self.opts.reuse_port)?;
        self.insert_registered(Conn::Listener(ListenerConn { sock, addr, pool }))?;
        Ok(())
    }

    /// Stores a new connection and registers its socket under its slot's token (a listener
    /// for reading, the others for both); on error nothing stays.
    fn insert_registered(&mut self, conn: Conn) -> io::Result<Key> {
        let key = self
            .conns
            .try_insert(conn)
            .map_err(|_| io::Error::other("the connection table is full"))?;
        let (reg, t) = (self.poll.registry(), key.token());
        let both = Interest::READABLE | Interest::WRITABLE;
        let registered = match self.conns.get_mut(key) {
            Some(Conn::Listener(l)) => reg.register(&mut l.sock, t, Interest::READABLE),
            Some(Conn::Client(c)) => reg.register(&mut c.stream, t, both),
            Some(Conn::Backend(b)) => reg.register(&mut b.stream, t, both),
            Some(Conn::Probe(c)) => reg.register(&mut c.stream, t, both),
            None => Ok(()),
        };
        if let Err(e) = registered {
            self.conns.remove(key);
            return Err(e);
        }
        Ok(key)
    }

    /// The addresses this worker listens on.
    pub fn listen_addrs(&mut self) -> Vec<SocketAddr> {
        let keys: Vec<Key> = self.conns.keys().collect();
        keys.into_iter()
            .filter_map(|k| match self.conns.get_mut(k) {
                Some(Conn::Listener(l)) => l.sock.local_addr().ok(),
                _ => None,
            })
            .collect()
    }

    fn tick_interval(&self) -> Duration {
        let shortest = self
            .pools
            .iter()
            .flatten()
            .flat_map(|p| {
                [
                    p.cfg.timeout,
                    Some(p.cfg.connect_timeout()),
                    p.cfg.health_check.map(|h| h.timeout),
                ]
            })
            .flatten()
            .min()
            .unwrap_or(MAX_TICK);
        (shortest / 4).clamp(Duration::from_millis(2), MAX_TICK)
    }

    /// Runs until SIGINT/SIGTERM and the drain that follows; returns the totals.
    pub fn run(mut self) -> io::Result<WorkerStats> {
        let mut events = Events::with_capacity(1024);
        let mut actions = Vec::new();
        loop {
            let now = self.clock.now();
            if let Some(deadline) = self.stopping {
                self.close_idle_clients();
                if self.client_count() == 0 || now >= deadline {
                    break;
                }
            }
            let mut wake = self.next_tick;
            if let Some(t) = self.next_probe() {
                wake = wake.min(t);
            }
            for p in self.pools.iter().flatten() {
                if let Some(t) = p.health.poll_timeout() {
                    wake = wake.min(t);
                }
            }
            let timeout =
                if self.dirty.is_empty() && self.pipe_ready.is_empty() && !self.writes_held {
                    self.clock.timeout_until(wake).min(MAX_TICK)
                } else {
                    Duration::ZERO
                };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = self.clock.now();
            for ev in &events {
                if ev.token() == SIGNALS {
                    actions.extend(self.signals.pending().filter_map(SignalAction::of));
                    continue;
                }
                self.ready(ev);
            }
            for a in actions.drain(..) {
                match a {
                    SignalAction::Stop(sig) => self.stop(sig, now),
                    SignalAction::Reload => self.reload(),
                }
            }
            self.pipes_ready(now);
            let mut dirty = core::mem::take(&mut self.dirty);
            dirty.sort_unstable();
            dirty.dedup();
            for k in dirty {
                self.service(k, now);
            }
            // Requests for the shared backend connections wait for one non-blocking look at
            // the poll first, so clients whose requests arrive meanwhile share the write (as
            // nutcracker's deferred EPOLLOUT does), at the cost of one epoll_wait.
            if self.pipe_writes.is_empty() || self.writes_held {
                self.pipes_write(now);
                self.writes_held = false;
            } else {
                self.writes_held = true;
            }
            if now >= self.next_tick {
                self.sweep(now);
                self.sweep_probes(now);
                self.next_tick = now + self.tick_interval();
            }
            self.probe_round(now);
            self.retry_ejected(now);
            self.apply_ejections();
        }
        let keys: Vec<Key> = self.conns.keys().collect();
        for k in keys {
            if let Some(Conn::Client(c)) = self.conns.get_mut(k)
                && !c.zombie
            {
                self.close_client(k);
            }
        }
        tracing::info!(worker = self.id, stats = ?self.stats, "worker stopped");
        Ok(self.stats)
    }

    fn client_count(&self) -> usize {
        self.pools.iter().flatten().map(|p| p.clients).sum()
    }

    fn ready(&mut self, ev: &mio::event::Event) {
        let Some(k) = Key::from_token(ev.token()) else {
            return;
        };
        match self.conns.get_mut(k) {
            Some(Conn::Listener(_)) => self.accept(k),
            Some(Conn::Client(c)) => {
                c.hup |= ev.is_read_closed() || ev.is_error();
                c.readable |= ev.is_readable() || c.hup;
                self.dirty.push(k);
            }
            Some(Conn::Backend(b)) => {
                let was = b.connected;
                if !b.connected {
                    match connect_done(&b.stream) {
                        Some(true) => {
                            b.connected = true;
                            self.stats.backend_connects += 1;
                        }
                        Some(false) => {}
                        None => b.broken = true,
                    }
                }
                b.hup |= ev.is_read_closed() || ev.is_error();
                b.readable |= ev.is_readable() || b.hup;
                if b.readable || b.broken {
                    self.pipe_ready.push(k);
                }
                if (ev.is_writable() || b.connected != was) && !b.pipe.output().is_empty() {
                    self.pipe_writes.push(k);
                }
            }
            Some(Conn::Probe(_)) => self.probe_ready(k),
            None => {}
        }
    }

    fn accept(&mut self, lk: Key) {
        loop {
            let Some(Conn::Listener(l)) = self.conns.get_mut(lk) else {
                return;
            };
            let pool_idx = l.pool;
            let (stream, _) = match l.sock.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: leave the rest in the backlog for the next wake-up.
                    tracing::warn!(worker = self.id, error = %e, "accept failed");
                    return;
                }
            };
            let Some(Some(pool)) = self.pools.get_mut(pool_idx) else {
                return;
            };
            let limit = pool.cfg.client_connections as usize;
            if limit != 0 && pool.clients >= limit {
                self.stats.refused += 1;
                continue;
            }
            let _ = stream.set_nodelay(true);
            let mut session = Session::new(pool.router.clone(), self.opts.session.clone());
            let n = pool.cfg.servers.len();
            for i in pool.health.ejected() {
                session.backend_down(i);
            }
            let client = Conn::Client(Box::new(ClientConn {
                stream,
                session,
                pool: pool_idx,
                recorded: vec![0; n],
                readable: true,
                hup: false,
                zombie: false,
            }));
            let key = match self.insert_registered(client) {
                Ok(key) => key,
                Err(e) => {
                    tracing::warn!(worker = self.id, error = %e, "cannot take a client");
                    self.stats.refused += 1;
                    continue;
                }
            };
            if let Some(Some(pool)) = self.pools.get_mut(pool_idx) {
                pool.clients += 1;
            }
            self.stats.accepted += 1;
            self.dirty.push(key);
        }
    }
}
