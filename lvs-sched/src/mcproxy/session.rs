//! One client connection: parsing, routing, splitting and the ordered reply FIFO.

use std::collections::VecDeque;

use lvs_core::memcache::{
    GatCommand, GetCommand, MetaCommand, MetaRequest, Parsed, ParserState, Request, ResponseState,
    Tokens, decode_base64_key, parse,
};

use super::entry::{DISCARD, Entry, Expect, Frag, Kind, Multi, NONE, OutBuf, Shape, Slot, shrink};
use super::{BACKEND_UNAVAILABLE, Counters, Event, NOT_SUPPORTED, Router, SessionConfig};

/// The per-backend half of a session: the bytes to send, the reply parser, and the replies
/// owed in order.
#[derive(Debug, Default)]
pub(crate) struct Backend {
    pub(crate) out: OutBuf,
    pub(crate) inbuf: Vec<u8>,
    pub(crate) parser: ResponseState,
    pub(crate) expect: VecDeque<Expect>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientState {
    Open,
    /// `quit`, a fatal error or the binary protocol: no more requests are parsed; close once
    /// the replies before it are written.
    Closing,
}

/// A Sans-IO memcached proxy session for one client connection. See the
/// [module documentation](super) for the run loop.
#[derive(Debug)]
pub struct Session {
    pub(crate) cfg: SessionConfig,
    pub(crate) router: Router,
    parser: ParserState,
    inbuf: Vec<u8>,
    pub(crate) out: OutBuf,
    pub(crate) backends: Vec<Backend>,
    pub(crate) fifo: VecDeque<Entry>,
    /// Sequence number of `fifo[0]`.
    pub(crate) head_seq: u64,
    pub(crate) events: VecDeque<Event>,
    pub(crate) counters: Counters,
    pub(crate) state: ClientState,
    /// The close entry reached the head.
    pub(crate) close_now: bool,
    eof: bool,
    started: bool,
    /// `noreply` replies still owed by backends.
    pub(crate) discards: usize,
    /// Reply bytes held in FIFO entries.
    pub(crate) buffered: usize,
    scratch: Vec<u8>,
    frag_of: Vec<u32>,
}

impl Session {
    /// A session over `router`'s backends.
    pub fn new(router: Router, cfg: SessionConfig) -> Self {
        let n = router.backends();
        Self {
            parser: ParserState::new(cfg.limits),
            backends: (0..n)
                .map(|_| Backend {
                    parser: ResponseState::new(cfg.limits),
                    ..Backend::default()
                })
                .collect(),
            frag_of: vec![NONE; n],
            cfg,
            router,
            inbuf: Vec::new(),
            out: OutBuf::default(),
            fifo: VecDeque::new(),
            head_seq: 0,
            events: VecDeque::new(),
            counters: Counters::default(),
            state: ClientState::Open,
            close_now: false,
            eof: false,
            started: false,
            discards: 0,
            buffered: 0,
            scratch: Vec::new(),
        }
    }

    /// Bytes read from the client. They are parsed as far as the limits allow; the rest waits
    /// until replies drain (see [`wants_client_read`](Self::wants_client_read)).
    pub fn feed_client(&mut self, bytes: &[u8]) {
        if self.state != ClientState::Open {
            return;
        }
        self.inbuf.extend_from_slice(bytes);
        self.pump();
    }

    /// The client closed its sending side: answer what was received, then close.
    pub fn client_eof(&mut self) {
        self.eof = true;
    }

    /// Whether the shell should read more from the client: the session is open and under its
    /// pending-request and buffer limits. `false` is backpressure, not an error.
    pub fn wants_client_read(&self) -> bool {
        self.state == ClientState::Open && !self.eof && self.has_capacity()
    }

    /// Whether the shell should read from backend `i`. Reply bytes are buffered until the
    /// client takes them; past `max_buffered` only the backend that the oldest request waits
    /// on is read, so the session always makes progress.
    pub fn wants_backend_read(&self, i: usize) -> bool {
        let Some(b) = self.backends.get(i) else {
            return false;
        };
        let Some(front) = b.expect.front() else {
            return false;
        };
        self.buffered + self.out.len() < self.cfg.max_buffered
            || front.seq == DISCARD
            || front.seq == self.head_seq
    }

    /// Whether the shell should close the client connection now: after `quit`, a fatal
    /// request error, a binary-protocol connection, or end of input, once every earlier reply
    /// has been written.
    pub fn should_close_client(&self) -> bool {
        if self.out.len() > 0 {
            return false;
        }
        // At EOF, `pump` has parsed every complete request whenever there was capacity; what
        // is left in the input is a truncated request, which memcached drops as well.
        self.close_now
            || (self.eof
                && self.state == ClientState::Open
                && self.fifo.is_empty()
                && self.has_capacity())
    }

    /// Bytes to write to the client.
    pub fn client_output(&self) -> &[u8] {
        self.out.pending()
    }

    /// `n` bytes of [`client_output`](Self::client_output) were written.
    pub fn advance_client(&mut self, n: usize) {
        self.out.advance(n, self.cfg.shrink_above);
        self.pump();
    }

    /// Bytes to write to backend `i` (empty for an unknown index).
    pub fn backend_output(&self, i: usize) -> &[u8] {
        self.backends.get(i).map_or(&[], |b| b.out.pending())
    }

    /// `n` bytes of [`backend_output`](Self::backend_output) were written to backend `i`.
    pub fn advance_backend(&mut self, i: usize, n: usize) {
        if let Some(b) = self.backends.get_mut(i) {
            b.out.advance(n, self.cfg.shrink_above);
        }
        self.pump();
    }

    /// The next event for the shell.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The router (pool and backend health as this session sees them).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Client requests whose replies are not yet in [`client_output`](Self::client_output).
    pub fn pending_requests(&self) -> usize {
        self.fifo.len()
    }

    /// Bytes buffered inside the session (client input, reply data, all outputs).
    pub fn buffered_bytes(&self) -> usize {
        self.inbuf.len()
            + self.buffered
            + self.out.len()
            + self
                .backends
                .iter()
                .map(|b| b.out.len() + b.inbuf.len())
                .sum::<usize>()
    }

    /// Bytes of buffer capacity the session holds (what its memory use is made of); it falls
    /// back once a burst has drained.
    pub fn buffer_capacity(&self) -> usize {
        self.inbuf.capacity()
            + self.out.buf.capacity()
            + self.scratch.capacity()
            + self.fifo.iter().map(|e| e.out.capacity()).sum::<usize>()
            + self
                .backends
                .iter()
                .map(|b| b.out.buf.capacity() + b.inbuf.capacity())
                .sum::<usize>()
    }

    fn has_capacity(&self) -> bool {
        self.fifo.len() + self.discards < self.cfg.max_pending
            && self.out.len() < self.cfg.max_client_output
            && self.buffered < self.cfg.max_buffered
            && self
                .backends
                .iter()
                .all(|b| b.out.len() < self.cfg.max_backend_output)
    }

    /// Parses and dispatches buffered client requests while capacity lasts.
    pub(crate) fn pump(&mut self) {
        if self.state != ClientState::Open || self.inbuf.is_empty() {
            return;
        }
        if !self.started {
            self.started = true;
            if self.inbuf[0] == lvs_core::memcache::MAGIC_REQUEST {
                self.counters.binary_refused += 1;
                self.push_close();
                self.inbuf.clear();
                self.flush();
                return;
            }
        }
        let inbuf = core::mem::take(&mut self.inbuf);
        let mut pos = 0;
        while self.state == ClientState::Open && self.has_capacity() {
            match parse(&inbuf[pos..], &mut self.parser) {
                Parsed::Incomplete => break,
                Parsed::Complete { value, consumed } => {
                    self.counters.requests += 1;
                    self.dispatch(value, &inbuf[pos..pos + consumed]);
                    pos += consumed;
                    self.flush();
                }
                Parsed::Invalid { error, consumed } => {
                    self.counters.client_errors += 1;
                    if error.closes_connection() {
                        self.push_close();
                        break;
                    }
                    if !error.reply_bytes().is_empty() {
                        self.push_ready(error.reply_bytes());
                        self.flush();
                    }
                    pos += consumed;
                }
                Parsed::Skipped { consumed } => pos += consumed,
            }
        }
        self.inbuf = inbuf;
        if self.state != ClientState::Open {
            self.inbuf.clear();
        } else {
            self.inbuf.drain(..pos);
        }
        shrink(&mut self.inbuf, self.cfg.shrink_above);
        self.flush();
    }

    fn next_seq(&self) -> u64 {
        self.head_seq + self.fifo.len() as u64
    }

    fn push_ready(&mut self, bytes: &[u8]) {
        self.counters.local_replies += 1;
        let out = bytes.to_vec();
        self.buffered += out.len();
        self.fifo.push_back(Entry {
            waiting: 0,
            out,
            kind: Kind::Plain,
        });
    }

    fn push_close(&mut self) {
        self.state = ClientState::Closing;
        self.fifo.push_back(Entry {
            waiting: 0,
            out: Vec::new(),
            kind: Kind::Close,
        });
    }

    /// Queues `bytes` to backend `b`, owing a reply of `shape` to entry `seq`.
    fn send(&mut self, b: usize, bytes: &[u8], seq: u64, frag: u32, shape: Shape) {
        let be = &mut self.backends[b];
        be.out.buf.extend_from_slice(bytes);
        be.expect.push_back(Expect { seq, frag, shape });
        self.counters.forwarded += 1;
        if seq == DISCARD {
            self.discards += 1;
        }
    }

    /// Sends a single-key request to `b` (or answers it as unavailable).
    fn single(&mut self, route: Option<usize>, bytes: &[u8], noreply: bool, shape: Shape) {
        match (route, noreply) {
            (Some(b), true) => self.send(b, bytes, DISCARD, 0, shape),
            (Some(b), false) => {
                let seq = self.next_seq();
                self.fifo.push_back(Entry {
                    waiting: 1,
                    out: Vec::new(),
                    kind: Kind::Plain,
                });
                self.send(b, bytes, seq, 0, shape);
            }
            (None, true) => self.counters.unavailable += 1,
            (None, false) => {
                self.counters.unavailable += 1;
                self.push_ready(BACKEND_UNAVAILABLE);
            }
        }
    }

    fn dispatch(&mut self, req: Request<'_>, raw: &[u8]) {
        match req {
            Request::Get { command, keys } => {
                let name: &[u8] = match command {
                    GetCommand::Get => b"get",
                    GetCommand::Gets => b"gets",
                    GetCommand::Bget => b"bget",
                };
                self.multi(name, None, keys);
            }
            Request::Gat {
                command,
                exptime,
                keys,
            } => {
                let name: &[u8] = match command {
                    GatCommand::Gat => b"gat",
                    GatCommand::Gats => b"gats",
                };
                self.multi(name, Some(exptime), keys);
            }
            Request::Store(s) => {
                let route = self.router.route(s.key);
                self.keyed(route, req, raw, s.noreply);
            }
            Request::Delete { key, noreply }
            | Request::Arithmetic { key, noreply, .. }
            | Request::Touch { key, noreply, .. } => {
                let route = self.router.route(key);
                self.keyed(route, req, raw, noreply);
            }
            Request::FlushAll { noreply, .. }
            | Request::Verbosity { noreply, .. }
            | Request::CacheMemlimit { noreply, .. } => self.broadcast(req, noreply),
            Request::Version => {
                let mut v = b"VERSION ".to_vec();
                v.extend_from_slice(&self.cfg.version);
                v.extend_from_slice(b"\r\n");
                self.push_ready(&v);
            }
            Request::Stats { args } => self.stats(args, raw),
            Request::Shutdown { .. } => self.push_ready(b"ERROR: shutdown not enabled\r\n"),
            Request::Admin { .. } => self.push_ready(NOT_SUPPORTED),
            Request::Quit => self.push_close(),
            Request::Meta(m) => self.meta(m, raw),
        }
    }

    /// A classic single-key command: forwarded verbatim, or rewritten without `noreply` (the
    /// proxy swallows the reply itself, so every request owes exactly one reply).
    fn keyed(&mut self, route: Option<usize>, req: Request<'_>, raw: &[u8], noreply: bool) {
        if !noreply {
            return self.single(route, raw, false, Shape::Line);
        }
        let mut req = req;
        match &mut req {
            Request::Store(s) => s.noreply = false,
            Request::Delete { noreply, .. }
            | Request::Arithmetic { noreply, .. }
            | Request::Touch { noreply, .. } => *noreply = false,
            _ => {}
        }
        let mut bytes = core::mem::take(&mut self.scratch);
        bytes.clear();
        req.write(&mut bytes);
        self.single(route, &bytes, true, Shape::Line);
        self.scratch = bytes;
    }

    fn meta(&mut self, m: MetaRequest<'_>, raw: &[u8]) {
        if m.command == MetaCommand::Noop {
            return self.push_ready(b"MN\r\n");
        }
        let route = if m.flags.base64_key() {
            let mut dec = core::mem::take(&mut self.scratch);
            dec.resize(m.key.len() / 4 * 3 + 3, 0);
            let route =
                decode_base64_key(m.key, Some(&mut dec)).and_then(|n| self.router.route(&dec[..n]));
            self.scratch = dec;
            route
        } else {
            self.router.route(m.key)
        };
        if m.command != MetaCommand::Debug && m.flags.quiet() {
            // Quiet: the backend stays quiet too; our `mn` right after tells "nothing to say"
            // apart from a late reply, so memcached's own suppression rules apply unchanged.
            let Some(b) = route else {
                self.counters.unavailable += 1;
                return self.push_ready(BACKEND_UNAVAILABLE);
            };
            let seq = self.next_seq();
            self.fifo.push_back(Entry {
                waiting: 1,
                out: Vec::new(),
                kind: Kind::Plain,
            });
            self.send(b, raw, seq, 0, Shape::MetaQuiet { replied: false });
            self.backends[b].out.buf.extend_from_slice(b"mn\r\n");
            return;
        }
        self.single(route, raw, false, Shape::Meta);
    }

    fn broadcast(&mut self, req: Request<'_>, noreply: bool) {
        let mut req = req;
        match &mut req {
            Request::FlushAll { noreply, .. }
            | Request::Verbosity { noreply, .. }
            | Request::CacheMemlimit { noreply, .. } => *noreply = false,
            _ => {}
        }
        let mut bytes = Vec::new();
        req.write(&mut bytes);
        let seq = if noreply { DISCARD } else { self.next_seq() };
        let mut entry = Entry {
            waiting: 0,
            out: Vec::new(),
            kind: Kind::Broadcast {
                err_from: usize::MAX,
            },
        };
        for b in 0..self.backends.len() {
            if self.router.is_down(b) {
                if !self.router.broadcast_skips_down() && entry.out.is_empty() {
                    entry.out.extend_from_slice(BACKEND_UNAVAILABLE);
                    entry.kind = Kind::Broadcast { err_from: b };
                }
                continue;
            }
            entry.waiting += 1;
            self.send(b, &bytes, seq, 0, Shape::Broadcast);
        }
        if entry.waiting == 0 && entry.out.is_empty() {
            entry.out.extend_from_slice(BACKEND_UNAVAILABLE);
        }
        if !noreply {
            self.buffered += entry.out.len();
            self.fifo.push_back(entry);
        }
    }

    fn stats(&mut self, args: Tokens<'_>, raw: &[u8]) {
        let live: Vec<usize> = (0..self.backends.len())
            .filter(|&b| !self.router.is_down(b))
            .collect();
        if live.is_empty() {
            self.counters.unavailable += 1;
            return self.push_ready(BACKEND_UNAVAILABLE);
        }
        let seq = self.next_seq();
        if !args.is_empty() {
            // `stats <args>` (items, slabs, settings, reset ...) goes to the first live backend.
            self.fifo.push_back(Entry {
                waiting: 1,
                out: Vec::new(),
                kind: Kind::Plain,
            });
            return self.send(live[0], raw, seq, 0, Shape::StatsRelay);
        }
        self.fifo.push_back(Entry {
            waiting: live.len() as u32,
            out: Vec::new(),
            kind: Kind::Stats(Box::default()),
        });
        for b in live {
            self.send(b, b"stats\r\n", seq, 0, Shape::StatsAgg);
        }
    }

    /// Splits a multi-key get into one sub-request per backend, keys in client order.
    fn multi(&mut self, name: &[u8], exptime: Option<i32>, keys: Tokens<'_>) {
        let mut m = Multi::default();
        for key in keys {
            let idx = m.slots.len() as u32;
            let start = m.keys.len() as u32;
            m.keys.extend_from_slice(key);
            m.slots.push(Slot {
                key: (start, key.len() as u32),
                frag: NONE,
                next: NONE,
                val: (0, 0),
            });
            let Some(b) = self.router.route(key) else {
                self.counters.keys_missed += 1;
                continue;
            };
            let f = self.frag_of[b];
            if f == NONE {
                self.frag_of[b] = m.frags.len() as u32;
                m.slots[idx as usize].frag = m.frags.len() as u32;
                m.frags.push(Frag {
                    backend: b as u32,
                    cursor: idx,
                    tail: idx,
                });
            } else {
                let fr = &mut m.frags[f as usize];
                m.slots[fr.tail as usize].next = idx;
                m.slots[idx as usize].frag = f;
                fr.tail = idx;
            }
        }
        let seq = self.next_seq();
        let mut line = core::mem::take(&mut self.scratch);
        for (fi, fr) in m.frags.iter().enumerate() {
            let b = fr.backend as usize;
            self.frag_of[b] = NONE;
            line.clear();
            line.extend_from_slice(name);
            if let Some(e) = exptime {
                line.push(b' ');
                line.extend_from_slice(e.to_string().as_bytes());
            }
            let mut c = fr.cursor;
            while c != NONE {
                line.push(b' ');
                line.extend_from_slice(m.key(c));
                c = m.slots[c as usize].next;
            }
            line.extend_from_slice(b"\r\n");
            self.counters.fragments += 1;
            self.send(b, &line, seq, fi as u32, Shape::Values);
        }
        self.scratch = line;
        shrink(&mut self.scratch, self.cfg.shrink_above);
        let waiting = m.frags.len() as u32;
        self.fifo.push_back(Entry {
            waiting,
            out: Vec::new(),
            kind: Kind::Multi(Box::new(m)),
        });
    }
}
