//! The event loop (connections, the closed and the open loop, reply accounting) and the
//! preload.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::time::Duration;

use lvs_bins::io::Clock;
use lvs_core::Instant;
use lvs_core::memcache::{Limits, Parsed, Response, ResponseState, Status, parse_response};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use lvs_bins::io::DeadlineTimer;

use crate::hist::Histogram;
use crate::wire::{Req, Step, classify, write_request};
use crate::{CONNECT_TIMEOUT, Config};

/// The open loop's timer's poll token.
const TIMER: Token = Token(usize::MAX);

/// How long a dropped connection waits before it is opened again.
const RETRY_NS: u64 = 100_000_000;

/// Why a connection is dropped.
#[derive(Debug)]
enum Broken {
    Io,
    Protocol,
}

/// One client connection.
struct Conn {
    sock: Option<TcpStream>,
    inbuf: Box<[u8]>,
    start: usize,
    end: usize,
    out: Vec<u8>,
    sent: usize,
    rst: ResponseState,
    inflight: VecDeque<Req>,
    /// The head get already had a VALUE.
    got_value: bool,
    /// The head get had a wrong VALUE.
    head_bad: bool,
    /// Registered for writable readiness (a write is waiting for room).
    want_write: bool,
    /// When a dropped connection is opened again.
    retry_at: u64,
    /// Open loop: due requests not sent yet, and the global index of the oldest.
    backlog: u64,
    next_slot: u64,
}

/// Counters of the run.
#[derive(Debug, Default)]
struct Counts {
    ops: u64,
    errors: u64,
    late: u64,
}

/// The generator: its connections, counters and histogram.
pub(crate) struct Load {
    pub(crate) cfg: Config,
    poll: Poll,
    clock: Clock,
    conns: Vec<Conn>,
    rng: ChaCha8Rng,
    pub(crate) set_tail: Vec<u8>,
    limits: Limits,
    counts: Counts,
    hist: Histogram,
    /// Clock nanoseconds when the run started.
    t0: u64,
    /// Open loop: the global index of the next request to fall due.
    next_global: u64,
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = StdStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
    s.set_nodelay(true)?;
    s.set_nonblocking(true)?;
    Ok(TcpStream::from_std(s))
}

impl Load {
    pub(crate) fn new(cfg: Config) -> io::Result<Self> {
        let mut set_tail = format!(" 0 0 {}\r\n", cfg.size).into_bytes();
        set_tail.resize(set_tail.len() + cfg.size, b'x');
        set_tail.extend_from_slice(b"\r\n");
        let limits = Limits {
            item_size_max: cfg.size.max(4096),
            ..Limits::default()
        };
        // Room for the largest reply the parser accepts, plus a batch of pipelined ones.
        let inbuf_len = limits.item_size_max + limits.max_response_line_len + (64 << 10);
        let poll = Poll::new()?;
        let mut conns = Vec::with_capacity(cfg.conns);
        for i in 0..cfg.conns {
            let mut sock = connect(cfg.addr)?;
            poll.registry()
                .register(&mut sock, Token(i), Interest::READABLE)?;
            conns.push(Conn {
                sock: Some(sock),
                inbuf: vec![0; inbuf_len].into_boxed_slice(),
                start: 0,
                end: 0,
                out: Vec::with_capacity(cfg.depth * (cfg.size + 64)),
                sent: 0,
                rst: ResponseState::new(limits),
                inflight: VecDeque::with_capacity(cfg.depth),
                got_value: false,
                head_bad: false,
                want_write: false,
                retry_at: 0,
                backlog: 0,
                next_slot: 0,
            });
        }
        Ok(Self {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            cfg,
            poll,
            clock: Clock::new(),
            conns,
            set_tail,
            limits,
            counts: Counts::default(),
            hist: Histogram::new(),
            t0: 0,
            next_global: 0,
        })
    }

    fn now(&self) -> u64 {
        self.clock.now().as_nanos()
    }

    /// When global request `g` falls due (open loop).
    fn due_of(&self, g: u64, period: f64) -> u64 {
        self.t0 + (g as f64 * period) as u64
    }

    fn pick(&mut self, due: u64) -> Req {
        let r = self.rng.next_u64();
        Req {
            get: (r & 0xffff_ffff) < self.cfg.get_below,
            key: (((r >> 32) * u64::from(self.cfg.keys)) >> 32) as u32,
            due,
        }
    }

    fn send(&mut self, i: usize, r: Req) {
        let c = &mut self.conns[i];
        write_request(&mut c.out, r, &self.set_tail);
        c.inflight.push_back(r);
    }

    /// Fills the free slots of connection `i`: new requests in the closed loop, its backlog in
    /// the open loop.
    fn refill(&mut self, i: usize, now: u64) {
        if self.conns[i].sock.is_none() {
            return;
        }
        match self.cfg.period_ns {
            None => {
                while self.conns[i].inflight.len() < self.cfg.depth {
                    let r = self.pick(now);
                    self.send(i, r);
                }
            }
            Some(period) => {
                while self.conns[i].backlog > 0 && self.conns[i].inflight.len() < self.cfg.depth {
                    let g = self.conns[i].next_slot;
                    let r = self.pick(self.due_of(g, period));
                    self.send(i, r);
                    let c = &mut self.conns[i];
                    c.backlog -= 1;
                    c.next_slot = g + self.cfg.conns as u64;
                }
            }
        }
    }

    /// Open loop: hands every request due by `now` to its connection.
    fn schedule(&mut self, now: u64, period: f64) {
        loop {
            let g = self.next_global;
            let due = self.due_of(g, period);
            if due > now {
                return;
            }
            self.next_global += 1;
            let i = (g % self.cfg.conns as u64) as usize;
            let c = &self.conns[i];
            if c.sock.is_some() && c.backlog == 0 && c.inflight.len() < self.cfg.depth {
                let r = self.pick(due);
                self.send(i, r);
            } else {
                let c = &mut self.conns[i];
                if c.backlog == 0 {
                    c.next_slot = g;
                }
                c.backlog += 1;
                self.counts.late += 1;
            }
        }
    }

    /// Drops connection `i`: its requests in flight are errors; it reconnects later.
    fn drop_conn(&mut self, i: usize, now: u64, why: &Broken) {
        let c = &mut self.conns[i];
        if let Some(mut s) = c.sock.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
        if self.counts.errors == 0 {
            eprintln!("mcload: connection {i} dropped ({why:?}); reconnecting");
        }
        self.counts.errors += (c.inflight.len() as u64).max(1);
        c.inflight.clear();
        c.out.clear();
        c.sent = 0;
        c.start = 0;
        c.end = 0;
        c.rst = ResponseState::new(self.limits);
        c.got_value = false;
        c.head_bad = false;
        c.want_write = false;
        c.retry_at = now + RETRY_NS;
    }

    fn reconnect_due(&mut self, now: u64) {
        for i in 0..self.conns.len() {
            if self.conns[i].sock.is_some() || self.conns[i].retry_at > now {
                continue;
            }
            let registered = connect(self.cfg.addr).and_then(|mut s| {
                self.poll
                    .registry()
                    .register(&mut s, Token(i), Interest::READABLE)?;
                Ok(s)
            });
            match registered {
                Ok(s) => {
                    self.conns[i].sock = Some(s);
                    self.refill(i, now);
                }
                Err(_) => self.conns[i].retry_at = now + RETRY_NS,
            }
        }
    }

    /// Reads everything available on connection `i` and completes the answered requests.
    /// With `closing` (the peer closed or the socket has an error), reads on until the end or
    /// the error shows, since no further readiness edge will come.
    fn read(&mut self, i: usize, closing: bool) -> Result<(), Broken> {
        loop {
            let c = &mut self.conns[i];
            if c.end == c.inbuf.len() {
                if c.start == 0 {
                    return Err(Broken::Protocol);
                }
                c.inbuf.copy_within(c.start..c.end, 0);
                c.end -= c.start;
                c.start = 0;
            }
            let Some(sock) = c.sock.as_mut() else {
                return Ok(());
            };
            let room = c.inbuf.len() - c.end;
            match sock.read(&mut c.inbuf[c.end..]) {
                Ok(0) => return Err(Broken::Io),
                Ok(n) => {
                    c.end += n;
                    self.replies(i)?;
                    // A short read emptied the socket; epoll reports the next arrival as a
                    // new edge, so the read that would only say WouldBlock is saved.
                    if n < room && !closing {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Broken::Io),
            }
        }
    }

    /// Parses the complete replies buffered on connection `i`.
    fn replies(&mut self, i: usize) -> Result<(), Broken> {
        let now = self.now();
        let size = self.cfg.size;
        loop {
            let c = &mut self.conns[i];
            let (step, consumed) = match parse_response(&c.inbuf[c.start..c.end], &mut c.rst) {
                Parsed::Incomplete => break,
                Parsed::Complete { value, consumed } => {
                    let Some(&head) = c.inflight.front() else {
                        return Err(Broken::Protocol);
                    };
                    (classify(&value, head, c.got_value, size), consumed)
                }
                Parsed::Invalid { .. } | Parsed::Skipped { .. } => return Err(Broken::Protocol),
            };
            c.start += consumed;
            if c.start == c.end {
                c.start = 0;
                c.end = 0;
            }
            match step {
                Step::Value(ok) => {
                    c.head_bad |= !ok;
                    c.got_value = true;
                }
                Step::Done(ok) => {
                    let head = c.inflight.pop_front().map_or(now, |r| r.due);
                    let ok = ok && !c.head_bad;
                    c.got_value = false;
                    c.head_bad = false;
                    if ok {
                        self.counts.ops += 1;
                        self.hist.record(now.saturating_sub(head));
                    } else {
                        self.counts.errors += 1;
                    }
                }
            }
        }
        self.refill(i, now);
        Ok(())
    }

    /// Writes what connection `i` has queued, until done or the socket is full.
    fn flush(&mut self, i: usize) -> Result<(), Broken> {
        let c = &mut self.conns[i];
        let Some(sock) = c.sock.as_mut() else {
            return Ok(());
        };
        while c.sent < c.out.len() {
            match sock.write(&c.out[c.sent..]) {
                Ok(0) => return Err(Broken::Io),
                Ok(n) => c.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Broken::Io),
            }
        }
        let blocked = c.sent < c.out.len();
        if blocked {
            if c.sent >= 64 << 10 {
                c.out.drain(..c.sent);
                c.sent = 0;
            }
        } else {
            c.out.clear();
            c.sent = 0;
        }
        // Writable readiness is asked for only while a write waits: on loopback every ACK
        // would otherwise report the socket writable again.
        if blocked != c.want_write {
            c.want_write = blocked;
            let interest = if blocked {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            self.poll
                .registry()
                .reregister(sock, Token(i), interest)
                .map_err(|_| Broken::Io)?;
        }
        Ok(())
    }

    pub(crate) fn run(&mut self) -> io::Result<String> {
        let mut timer = DeadlineTimer::register(self.poll.registry(), TIMER)?;
        let mut events = Events::with_capacity(1024);
        self.t0 = self.now();
        let end = self.t0 + self.cfg.run_ns;
        if self.cfg.period_ns.is_none() {
            for i in 0..self.conns.len() {
                self.refill(i, self.t0);
            }
        }
        let mut now = self.t0;
        while now < end {
            self.reconnect_due(now);
            if let Some(period) = self.cfg.period_ns {
                self.schedule(now, period);
            }
            for i in 0..self.conns.len() {
                if self.conns[i].sent < self.conns[i].out.len()
                    && let Err(why) = self.flush(i)
                {
                    self.drop_conn(i, now, &why);
                }
            }
            let mut wake = end;
            if let Some(period) = self.cfg.period_ns {
                let next = self.due_of(self.next_global, period);
                wake = wake.min(next.max(now + self.cfg.tick_ns));
            }
            for c in self.conns.iter().filter(|c| c.sock.is_none()) {
                wake = wake.min(c.retry_at);
            }
            timer.set(Some(self.clock.monotonic_at(Instant::from_nanos(wake))))?;
            match self.poll.poll(&mut events, None) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            for ev in &events {
                if ev.token() == TIMER {
                    timer.drain();
                    continue;
                }
                let i = ev.token().0;
                if i >= self.conns.len() || self.conns[i].sock.is_none() {
                    continue;
                }
                let mut result = Ok(());
                let closing = ev.is_read_closed() || ev.is_error();
                if ev.is_readable() || closing {
                    result = self.read(i, closing);
                }
                if result.is_ok() && ev.is_writable() {
                    result = self.flush(i);
                }
                if let Err(why) = result {
                    let t = self.now();
                    self.drop_conn(i, t, &why);
                }
            }
            now = self.now();
        }
        let secs = (now - self.t0) as f64 / 1e9;
        let us = |q: f64| self.hist.quantile(q) as f64 / 1000.0;
        Ok(format!(
            "ops={} seconds={secs:.3} ops_per_s={:.0} errors={} late={} p50_us={:.1} \
             p99_us={:.1} p999_us={:.1}",
            self.counts.ops,
            self.counts.ops as f64 / secs,
            self.counts.errors,
            self.counts.late,
            us(0.5),
            us(0.99),
            us(0.999),
        ))
    }
}

/// Sets every key over one blocking connection, 512 per batch, requiring STORED for each.
pub(crate) fn preload(cfg: &Config, set_tail: &[u8]) -> Result<(), String> {
    let mut s = StdStream::connect_timeout(&cfg.addr, CONNECT_TIMEOUT)
        .map_err(|e| format!("preload: connect {}: {e}", cfg.addr))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| format!("preload: {e}"))?;
    let mut st = ResponseState::default();
    let mut out = Vec::new();
    let mut inbuf = vec![0u8; 64 << 10];
    let mut k = 0u32;
    while k < cfg.keys {
        let batch = (cfg.keys - k).min(512);
        out.clear();
        for key in k..k + batch {
            let r = Req {
                get: false,
                key,
                due: 0,
            };
            write_request(&mut out, r, set_tail);
        }
        s.write_all(&out)
            .map_err(|e| format!("preload: write: {e}"))?;
        let (mut start, mut end, mut stored) = (0, 0, 0);
        while stored < batch {
            if end == inbuf.len() {
                inbuf.copy_within(start..end, 0);
                end -= start;
                start = 0;
                if end == inbuf.len() {
                    return Err("preload: reply line too long".into());
                }
            }
            let n = s
                .read(&mut inbuf[end..])
                .map_err(|e| format!("preload: read: {e}"))?;
            if n == 0 {
                return Err("preload: the server closed the connection".into());
            }
            end += n;
            loop {
                match parse_response(&inbuf[start..end], &mut st) {
                    Parsed::Incomplete => break,
                    Parsed::Complete {
                        value: Response::Status(Status::Stored),
                        consumed,
                    } => {
                        stored += 1;
                        start += consumed;
                    }
                    Parsed::Complete { value, .. } => {
                        return Err(format!("preload: expected STORED, got {value:?}"));
                    }
                    Parsed::Invalid { error, .. } => {
                        return Err(format!("preload: unparsable reply: {error:?}"));
                    }
                    Parsed::Skipped { .. } => return Err("preload: unexpected data".into()),
                }
            }
        }
        if start != end {
            return Err("preload: more replies than requests".into());
        }
        k += batch;
    }
    Ok(())
}
