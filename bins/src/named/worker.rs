//! One worker: a mio loop around one [`Forwarder`], with its own listen sockets
//! (`SO_REUSEPORT`, so several workers share a port), one connected UDP socket per upstream
//! query, client TCP connections and upstream TCP exchanges.
//!
//! The loop follows the drain rule: after every call into the machine it drains transmits
//! (client replies go out of the listen socket they name; anything else is an upstream query
//! and gets a fresh socket bound to the source the machine chose) and events (TCP replies,
//! upstream TCP requests and cancellations, forwarder up/down), then sleeps until the machine's
//! deadline, readiness, a command, or the once-a-second housekeeping (idle TCP clients,
//! upstream sockets no longer awaited).

use core::time::Duration;
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};

use crate::io::Clock;
use bytes::{Bytes, BytesMut};
use lvs_core::{Datagram, Instant, MonotonicGuard, StateMachine, Transmit};
use lvs_dns::forwarder::{ConnId, Event, Forwarder, ForwarderConfig, TcpFailure, TcpToken};
use mio::net::{TcpListener, UdpSocket};
use mio::{Events, Interest, Poll, Token, Waker};
use rand::rngs::StdRng;
use socket2::{Domain, Protocol, Socket, Type};

use super::batch::{self, BATCH, Received, SLOT};
use super::tcp::{Conn, ConnLimits, UpOutcome, UpTcp};

const KIND_BITS: u32 = 3;
const UDP_LISTEN: usize = 0;
const TCP_LISTEN: usize = 1;
const CLIENT: usize = 2;
const UP_UDP: usize = 3;
const UP_TCP: usize = 4;
const WAKER: Token = Token(7);
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// Datagrams read from one socket before the others get a turn.
const READ_BUDGET: usize = 256;
/// The receive arena is refilled to this size before every read: one batch of listen-socket
/// slots, which is also more than the largest upstream datagram.
const ARENA: usize = BATCH * SLOT;
/// Receive and send buffer asked for on the listen sockets (the kernel caps it at
/// `net.core.rmem_max`/`wmem_max`): the default ~200 KiB holds only a few hundred queries
/// and overflows under bursts from many clients.
const LISTEN_BUFFER: usize = 4 << 20;

fn token(kind: usize, id: u64) -> Token {
    Token(usize::try_from(id).unwrap_or(usize::MAX >> KIND_BITS) << KIND_BITS | kind)
}

fn split(t: Token) -> (usize, u64) {
    (t.0 & ((1 << KIND_BITS) - 1), (t.0 >> KIND_BITS) as u64)
}

/// Per-worker settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Addresses (with the listen port) for UDP and TCP.
    pub listen: Vec<SocketAddr>,
    /// Most client TCP connections (`tcp-clients`).
    pub tcp_clients: usize,
    /// Client TCP idle timeout (`tcp-idle-timeout`).
    pub tcp_idle: Duration,
    /// Stop reading a client whose unsent replies exceed this many bytes.
    pub max_unsent: usize,
    /// Stop reading a client with this many unanswered queries.
    pub max_outstanding: usize,
}

/// What the supervisor tells a worker.
#[derive(Debug)]
pub enum Command {
    /// Use this forwarder configuration and these limits (SIGHUP).
    Reload(Box<(ForwarderConfig, WorkerConfig)>),
    /// Finish (SIGTERM).
    Stop,
    /// An rndc command for this worker's forwarder; the text answer goes back on the sender.
    Control(
        super::control::WorkerOp,
        std::sync::mpsc::Sender<Result<String, String>>,
    ),
}

/// Counters of one worker's shell (the machine keeps its own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShellStats {
    /// Client replies the kernel refused (`WouldBlock` or error).
    pub reply_drops: u64,
    /// Upstream sockets opened.
    pub upstream_sockets: u64,
    /// Upstream sockets that could not be bound or connected (reported to the machine).
    pub upstream_bind_failures: u64,
    /// TCP clients accepted.
    pub tcp_accepted: u64,
    /// TCP clients turned away at the connection limit.
    pub tcp_refused: u64,
    /// TCP clients closed for idleness.
    pub tcp_idle_closed: u64,
    /// Times a client was paused for backpressure.
    pub tcp_paused: u64,
    /// Configurations applied by a reload (SIGHUP, `rndc reload`).
    pub reloads: u64,
    /// Client datagrams longer than a receive slot (or without a usable source), dropped.
    pub oversized_queries: u64,
}

struct UpUdp {
    sock: UdpSocket,
    local: SocketAddr,
    server: SocketAddr,
    opened: Instant,
}

/// One worker's loop (see the [module docs](self)).
pub struct Worker {
    poll: Poll,
    clock: Clock,
    guard: MonotonicGuard,
    fwd: Forwarder<StdRng>,
    config: WorkerConfig,
    udp: Vec<(UdpSocket, SocketAddr)>,
    tcp: Vec<TcpListener>,
    conns: HashMap<u64, Conn>,
    up_udp: HashMap<u64, UpUdp>,
    up_by_key: HashMap<(u16, SocketAddr), u64>,
    up_tcp: HashMap<u64, UpTcp>,
    next_id: u64,
    arena: BytesMut,
    /// Where `recvmmsg` puts a batch of client queries (one [`SLOT`] each); zeroed once and
    /// reused, so a batch costs no clearing of the slots' unused tails.
    rx_slots: Box<[u8]>,
    /// The queries of one batch packed end to end and handed out as slices of one buffer,
    /// which is reclaimed for the next batch once they are dropped.
    packed: BytesMut,
    received: [Received; BATCH],
    /// Replies per listen socket, sent together by [`Worker::flush_replies`].
    replies: Vec<Vec<(SocketAddr, Bytes)>>,
    pending_reads: Vec<Token>,
    /// Client TCP connections with queued replies, written by [`Worker::flush_replies`].
    to_flush: Vec<u64>,
    rx: Receiver<Command>,
    stats: ShellStats,
}

impl core::fmt::Debug for Worker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Worker")
            .field("listen", &self.config.listen)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Opens a non-blocking UDP socket bound to `addr` (IPv6 only for IPv6). A listen socket
/// (`listen`) shares its port (`SO_REUSEPORT`) and gets large buffers; an upstream socket is
/// opened with as few system calls as possible (one per query).
fn udp_socket(addr: SocketAddr, listen: bool) -> io::Result<Socket> {
    let ty = Type::DGRAM.nonblocking();
    let s = Socket::new(Domain::for_address(addr), ty, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    if listen {
        s.set_reuse_port(true)?;
        s.set_reuse_address(true)?;
        // Best effort: a smaller buffer only means earlier drops under bursts.
        let _ = s.set_recv_buffer_size(LISTEN_BUFFER);
        let _ = s.set_send_buffer_size(LISTEN_BUFFER);
    }
    s.bind(&addr.into())?;
    Ok(s)
}

fn tcp_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_port(true)?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(TcpListener::from_std(s.into()))
}

impl Worker {
    /// Binds the listen sockets and builds the forwarder. Returns the worker and a waker that
    /// makes it look at `rx`.
    pub fn new(
        fwd: Forwarder<StdRng>,
        config: WorkerConfig,
        rx: Receiver<Command>,
    ) -> io::Result<(Self, Arc<Waker>)> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        for (i, &addr) in config.listen.iter().enumerate() {
            let with = |e: io::Error| io::Error::new(e.kind(), format!("{addr}: {e}"));
            let mut u = UdpSocket::from_std(udp_socket(addr, true).map_err(with)?.into());
            let mut t = tcp_listener(addr).map_err(with)?;
            poll.registry()
                .register(&mut u, token(UDP_LISTEN, i as u64), Interest::READABLE)?;
            poll.registry()
                .register(&mut t, token(TCP_LISTEN, i as u64), Interest::READABLE)?;
            let local = u.local_addr()?;
            udp.push((u, local));
            tcp.push(t);
        }
        let replies = vec![Vec::new(); udp.len()];
        let w = Self {
            poll,
            clock: Clock::new(),
            guard: MonotonicGuard::default(),
            fwd,
            config,
            udp,
            tcp,
            conns: HashMap::new(),
            up_udp: HashMap::new(),
            up_by_key: HashMap::new(),
            up_tcp: HashMap::new(),
            next_id: 1,
            arena: BytesMut::with_capacity(ARENA * 4),
            rx_slots: vec![0; ARENA].into_boxed_slice(),
            packed: BytesMut::with_capacity(ARENA),
            received: [Received {
                len: 0,
                src: None,
                truncated: false,
            }; BATCH],
            replies,
            pending_reads: Vec::new(),
            to_flush: Vec::new(),
            rx,
            stats: ShellStats::default(),
        };
        Ok((w, waker))
    }

    /// The bound listen addresses (ports resolved).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.udp.iter().map(|(_, a)| *a).collect()
    }

    /// Runs until [`Command::Stop`] (or the supervisor's channel closes).
    pub fn run(&mut self) -> io::Result<ShellStats> {
        let mut events = Events::with_capacity(512);
        let mut ready = Vec::new();
        let mut next_housekeeping = self.clock.now() + HOUSEKEEPING;
        loop {
            let deadline = self
                .fwd
                .poll_timeout()
                .map_or(next_housekeeping, |(at, _)| at.min(next_housekeeping));
            let timeout = if self.pending_reads.is_empty() {
                self.clock.timeout_until(deadline)
            } else {
                Duration::ZERO
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout))
                && e.kind() != io::ErrorKind::Interrupted
            {
                return Err(e);
            }
            let now = self.guard.observe(self.clock.now());
            ready.clear();
            ready.extend(events.iter().map(|e| {
                let closed = e.is_error() || e.is_read_closed() || e.is_write_closed();
                (
                    e.token(),
                    e.is_readable() || closed,
                    e.is_writable() || closed,
                )
            }));
            ready.extend(self.pending_reads.drain(..).map(|t| (t, true, false)));
            for &(t, r, w) in &ready {
                if t == WAKER {
                    if self.commands(now) {
                        self.shutdown();
                        return Ok(self.stats);
                    }
                    continue;
                }
                self.ready(now, t, r, w);
            }
            if let Some((at, _)) = self.fwd.poll_timeout()
                && at <= now
            {
                self.fwd.handle_timeout(now);
                self.drain(now);
            }
            self.flush_replies();
            if now >= next_housekeeping {
                self.housekeeping(now);
                next_housekeeping = now + HOUSEKEEPING;
            }
        }
    }

    /// Applies queued commands; true on stop.
    fn commands(&mut self, now: Instant) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(Command::Stop) | Err(TryRecvError::Disconnected) => return true,
                Ok(Command::Reload(b)) => self.reload(now, b.0, b.1),
                Ok(Command::Control(op, tx)) => {
                    let _ = tx.send(super::control::apply(&mut self.fwd, now, &op));
                }
                Err(TryRecvError::Empty) => return false,
            }
        }
    }

    /// Applies a reloaded configuration; the forwarder keeps its cache (see
    /// [`Forwarder::reconfigure`]).
    fn reload(&mut self, now: Instant, mut config: ForwarderConfig, wc: WorkerConfig) {
        if wc.listen != self.config.listen {
            tracing::warn!(old = ?self.config.listen, new = ?wc.listen, "listen-on changes need a restart; keeping the current sockets");
        }
        config.listen_port = self.fwd.config().listen_port;
        self.config = WorkerConfig {
            listen: self.config.listen.clone(),
            ..wc
        };
        match self.fwd.reconfigure(now, config) {
            Ok(r) => {
                self.stats.reloads += 1;
                tracing::info!(
                    entries = r.cache.kept,
                    shortened = r.cache.shortened,
                    evicted = r.cache.evicted + r.cache.removed,
                    forwarders_added = r.forwarders_added,
                    forwarders_removed = r.forwarders_removed,
                    fetches = r.fetches_kept,
                    "reload: configuration applied; cache kept"
                );
                // Abandoned upstream queries: TCP cancels come as events, UDP sockets go at
                // the next housekeeping.
                self.drain(now);
            }
            Err(e) => tracing::error!(%e, "reload: keeping the old configuration"),
        }
    }

    fn drop_upstreams(&mut self) {
        for (_, mut u) in self.up_udp.drain() {
            let _ = self.poll.registry().deregister(&mut u.sock);
        }
        self.up_by_key.clear();
        for (_, mut u) in self.up_tcp.drain() {
            let _ = self.poll.registry().deregister(&mut u.stream);
        }
    }

    fn shutdown(&mut self) {
        self.flush_replies();
        self.drop_upstreams();
        for (_, mut c) in self.conns.drain() {
            let _ = c.flush(self.guard.latest());
            let _ = self.poll.registry().deregister(&mut c.stream);
        }
        tracing::info!(machine = ?self.fwd.stats(), shell = ?self.stats, "worker stopped");
    }

    fn ready(&mut self, now: Instant, t: Token, readable: bool, writable: bool) {
        let (kind, id) = split(t);
        match kind {
            UDP_LISTEN if readable => self.read_listen(now, t, id),
            TCP_LISTEN if readable => self.accept(now, id),
            CLIENT => self.client_ready(now, id, readable, writable),
            UP_UDP if readable => self.read_upstream(now, t, id),
            UP_TCP => {
                let outcome = match self.up_tcp.get_mut(&id) {
                    Some(u) => u.ready(writable, readable),
                    None => return,
                };
                self.finish_up_tcp(now, id, outcome);
            }
            _ => {}
        }
    }

    /// The arena, at least [`ARENA`] bytes long, to receive into.
    fn arena(&mut self) -> &mut BytesMut {
        if self.arena.len() < ARENA {
            self.arena.resize(ARENA, 0);
        }
        &mut self.arena
    }

    /// Reads the listen socket `id` in batches (`recvmmsg`), handles every query, and sends
    /// the replies of each batch together (`sendmmsg`).
    fn read_listen(&mut self, now: Instant, t: Token, id: u64) {
        let Some(i) = usize::try_from(id).ok().filter(|&i| i < self.udp.len()) else {
            return;
        };
        let (fd, local) = (self.udp[i].0.as_raw_fd(), self.udp[i].1);
        for _ in 0..READ_BUDGET / BATCH {
            let n = match batch::recv_batch(fd, &mut self.rx_slots, &mut self.received) {
                Ok(n) if n > 0 => n,
                Ok(_) => return,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::debug!(%e, "listen socket error");
                    return;
                }
            };
            let total: usize = self.received[..n].iter().map(|r| r.len).sum();
            self.packed.reserve(total);
            let mut spans = [(0, 0); BATCH];
            for (k, r) in self.received[..n].iter().enumerate() {
                let at = self.packed.len();
                self.packed
                    .extend_from_slice(&self.rx_slots[k * SLOT..k * SLOT + r.len]);
                spans[k] = (at, at + r.len);
            }
            let chunk = self.packed.split().freeze();
            for (k, &(from, to)) in spans[..n].iter().enumerate() {
                let r = self.received[k];
                let Some(src) = r.src.filter(|_| !r.truncated) else {
                    self.stats.oversized_queries += 1;
                    continue;
                };
                let payload = chunk.slice(from..to);
                self.fwd
                    .handle_datagram(now, Datagram::new(src, local, payload));
                self.drain(now);
            }
            drop(chunk);
            self.flush_replies();
            if n < BATCH {
                // The queue ran dry: any later datagram raises a new readiness edge.
                return;
            }
        }
        self.pending_reads.push(t);
    }

    /// Sends the gathered client replies: one `sendmmsg` per listen socket, and one write
    /// of everything queued per TCP client.
    fn flush_replies(&mut self) {
        for (i, batch) in self.replies.iter_mut().enumerate() {
            if !batch.is_empty() {
                let fd = self.udp[i].0.as_raw_fd();
                self.stats.reply_drops += batch::send_batch(fd, batch) as u64;
                batch.clear();
            }
        }
        if !self.to_flush.is_empty() {
            let mut ids = core::mem::take(&mut self.to_flush);
            let now = self.guard.latest();
            for &id in &ids {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.queued = false;
                    self.flush_client(now, id);
                }
            }
            ids.clear();
            if self.to_flush.is_empty() {
                self.to_flush = ids;
            }
        }
    }

    fn read_upstream(&mut self, now: Instant, t: Token, id: u64) {
        for _ in 0..READ_BUDGET {
            self.arena();
            let Some(u) = self.up_udp.get(&id) else {
                return;
            };
            let (local, server) = (u.local, u.server);
            match u.sock.recv(&mut self.arena[..]) {
                Ok(n) => {
                    let payload = self.arena.split_to(n).freeze();
                    self.fwd
                        .handle_datagram(now, Datagram::new(server, local, payload));
                    self.drain(now);
                    if !self.fwd.awaits_udp(local.port(), server) {
                        self.close_up_udp(id);
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // ECONNREFUSED (an ICMP error) or another failure: the attempt failed.
                    self.close_up_udp(id);
                    self.fwd.handle_upstream_error(now, local, server);
                    self.drain(now);
                    return;
                }
            }
        }
        self.pending_reads.push(t);
    }

    fn close_up_udp(&mut self, id: u64) {
        // Closing the socket removes it from the epoll set; no separate deregistration call.
        if let Some(u) = self.up_udp.remove(&id) {
            self.up_by_key.remove(&(u.local.port(), u.server));
        }
    }

    /// The drain rule: transmits and events until both are empty.
    fn drain(&mut self, now: Instant) {
        loop {
            while let Some(t) = self.fwd.poll_transmit() {
                self.transmit(now, t);
            }
            let Some(ev) = self.fwd.poll_event() else {
                return;
            };
            self.event(now, ev);
        }
    }

    fn transmit(&mut self, now: Instant, t: Transmit) {
        if let Some(src) = t.src
            && let Some(i) = self.udp.iter().position(|(_, a)| *a == src)
        {
            self.replies[i].push((t.dst, t.payload));
            return;
        }
        let local = t.src.unwrap_or_else(|| match t.dst {
            SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
            SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
        });
        let key = (local.port(), t.dst);
        if let Some(u) = self.up_by_key.get(&key).and_then(|id| self.up_udp.get(id)) {
            let _ = u.sock.send(&t.payload);
            return;
        }
        let opened = udp_socket(local, false).and_then(|s| {
            s.connect(&t.dst.into())?;
            let mut sock = UdpSocket::from_std(s.into());
            sock.send(&t.payload)?;
            let id = self.next_id;
            self.poll
                .registry()
                .register(&mut sock, token(UP_UDP, id), Interest::READABLE)?;
            Ok(sock)
        });
        match opened {
            Ok(sock) => {
                let id = self.next_id;
                self.next_id += 1;
                self.stats.upstream_sockets += 1;
                self.up_udp.insert(
                    id,
                    UpUdp {
                        sock,
                        local,
                        server: t.dst,
                        opened: now,
                    },
                );
                self.up_by_key.insert(key, id);
            }
            Err(e) => {
                tracing::debug!(%e, %local, server = %t.dst, "upstream socket failed");
                self.stats.upstream_bind_failures += 1;
                self.fwd.handle_upstream_error(now, local, t.dst);
            }
        }
    }

    fn event(&mut self, now: Instant, ev: Event) {
        match ev {
            Event::TcpReply { conn, message } => {
                let Some(c) = self.conns.get_mut(&conn.0) else {
                    return;
                };
                if !c.queue(&message) {
                    return;
                }
                if !c.queued {
                    c.queued = true;
                    self.to_flush.push(conn.0);
                }
            }
            Event::UpstreamTcp {
                token: tok,
                server,
                message,
            } => match UpTcp::connect(server, &message) {
                Ok(mut u) => {
                    let t = token(UP_TCP, tok.0);
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if self
                        .poll
                        .registry()
                        .register(&mut u.stream, t, interest)
                        .is_ok()
                    {
                        self.up_tcp.insert(tok.0, u);
                    } else {
                        self.fwd
                            .handle_upstream_tcp(now, tok, Err(TcpFailure::Connect));
                    }
                }
                Err(_) => self
                    .fwd
                    .handle_upstream_tcp(now, tok, Err(TcpFailure::Connect)),
            },
            Event::UpstreamTcpCancel { token: tok } => {
                if let Some(mut u) = self.up_tcp.remove(&tok.0) {
                    let _ = self.poll.registry().deregister(&mut u.stream);
                }
            }
            Event::ForwarderDown { server } => tracing::warn!(%server, "forwarder down"),
            Event::ForwarderUp { server } => tracing::info!(%server, "forwarder up"),
        }
    }

    fn finish_up_tcp(&mut self, now: Instant, id: u64, outcome: UpOutcome) {
        let result = match outcome {
            UpOutcome::Pending => return,
            UpOutcome::Reply(b) => Ok(b),
            UpOutcome::ConnectFailed => Err(TcpFailure::Connect),
            UpOutcome::Closed => Err(TcpFailure::Closed),
            UpOutcome::Framing => Err(TcpFailure::Framing),
        };
        if let Some(mut u) = self.up_tcp.remove(&id) {
            let _ = self.poll.registry().deregister(&mut u.stream);
        }
        self.fwd.handle_upstream_tcp(now, TcpToken(id), result);
        self.drain(now);
    }

    fn accept(&mut self, now: Instant, id: u64) {
        let Some(l) = usize::try_from(id).ok().and_then(|i| self.tcp.get(i)) else {
            return;
        };
        loop {
            match l.accept() {
                Ok((mut stream, peer)) => {
                    if self.conns.len() >= self.config.tcp_clients {
                        self.stats.tcp_refused += 1;
                        continue;
                    }
                    let cid = self.next_id;
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if self
                        .poll
                        .registry()
                        .register(&mut stream, token(CLIENT, cid), interest)
                        .is_err()
                    {
                        continue;
                    }
                    self.next_id += 1;
                    self.stats.tcp_accepted += 1;
                    self.conns.insert(cid, Conn::new(stream, peer, now));
                    // Data may already be waiting; edge-triggered readiness will not repeat it.
                    self.pending_reads.push(token(CLIENT, cid));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    fn limits(&self) -> ConnLimits {
        ConnLimits {
            max_unsent: self.config.max_unsent,
            max_outstanding: self.config.max_outstanding,
        }
    }

    fn client_ready(&mut self, now: Instant, id: u64, readable: bool, writable: bool) {
        if writable {
            self.flush_client(now, id);
        }
        if !readable {
            return;
        }
        let limits = self.limits();
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.paused || c.read_closed {
            return;
        }
        let out = c.read(now, limits);
        if c.paused {
            self.stats.tcp_paused += 1;
        }
        let peer = c.peer;
        c.outstanding += out.frames.len();
        if out.close {
            return self.close_client(id);
        }
        for f in out.frames {
            self.fwd.handle_tcp_query(now, ConnId(id), peer, f);
            self.drain(now);
        }
        if self.conns.get(&id).is_some_and(Conn::finished) {
            self.close_client(id);
        }
    }

    fn flush_client(&mut self, now: Instant, id: u64) {
        let limits = self.limits();
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.flush(now).is_err() {
            return self.close_client(id);
        }
        if c.finished() {
            return self.close_client(id);
        }
        if c.may_resume(limits) {
            c.paused = false;
            self.pending_reads.push(token(CLIENT, id));
        }
    }

    fn close_client(&mut self, id: u64) {
        if let Some(mut c) = self.conns.remove(&id) {
            let _ = self.poll.registry().deregister(&mut c.stream);
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        let idle = self.config.tcp_idle;
        let expired: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.idle() && now.saturating_duration_since(c.last) >= idle)
            .map(|(&id, _)| id)
            .collect();
        self.stats.tcp_idle_closed += expired.len() as u64;
        for id in expired {
            self.close_client(id);
        }
        let live: HashSet<(u16, SocketAddr)> = self.fwd.in_flight_udp().collect();
        let done: Vec<u64> = self
            .up_udp
            .iter()
            .filter(|(_, u)| {
                !live.contains(&(u.local.port(), u.server))
                    && now.saturating_duration_since(u.opened) >= HOUSEKEEPING
            })
            .map(|(&id, _)| id)
            .collect();
        for id in done {
            self.close_up_udp(id);
        }
        let backlog: usize = self.conns.values().map(Conn::unsent).sum();
        tracing::trace!(
            conns = self.conns.len(),
            backlog,
            upstream_udp = self.up_udp.len(),
            upstream_tcp = self.up_tcp.len(),
            "housekeeping"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_kind_and_id() {
        for (k, id) in [(UDP_LISTEN, 0), (CLIENT, 12345), (UP_TCP, 1 << 40)] {
            assert_eq!(split(token(k, id)), (k, id));
        }
        assert_ne!(split(WAKER).0, CLIENT);
        assert_eq!(split(WAKER).0, 7);
    }
}
