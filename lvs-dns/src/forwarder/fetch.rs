//! The pending table: fetches (one per cache key in flight), their upstream attempts and the
//! clients waiting on them; upstream responses, timeouts, hedging, failover and completion.

use core::net::SocketAddr;

use bytes::Bytes;
use lvs_core::Instant;
use lvs_core::rng::{CryptoRng, uniform_below};

use super::query::{QuestionCheck, build_query, check_question, randomize_case};
use super::upstream::{self, CaseSupport};
use super::{DropReason, Event, ForwardMode, Forwarder, TcpFailure, TcpToken};
use crate::cache::{
    ClientView, Lookup, PARTITION_DO, Scrubbed, TtlMode, Wanted, minimal, render, scrub_for,
};
use crate::wire::{Ede, Header, Message, rcode, reply_payload_limit};

/// Most hedge tokens saved up (a burst of two hedges after a quiet period).
const HEDGE_BURST: f64 = 2.0;
/// Lowest upstream source port.
const PORT_BASE: u16 = 1024;

/// A slot in the pending table with its generation (so a reused slot ignores old timers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct FetchRef {
    idx: u32,
    generation: u32,
}

impl FetchRef {
    /// Whether this still names the fetch in its slot of `fetches` (versions in `gens`).
    pub(super) fn is_live(self, gens: &[u32], fetches: &[Option<Fetch>]) -> bool {
        let i = self.idx as usize;
        gens.get(i) == Some(&self.generation) && fetches.get(i).is_some_and(Option::is_some)
    }
}

/// What a timer entry is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum TimerKind {
    /// The attempt with this serial times out.
    Attempt(u32),
    /// A hedge for the attempt with this serial may be due.
    Hedge(u32),
    /// The waiter with this serial gets its stale answer.
    Stale(u32),
    /// The fetch's overall deadline.
    Deadline,
}

/// One entry of the timer heap (lazy deletion: entries for finished work are ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct TimerEntry {
    pub(super) at: Instant,
    pub(super) seq: u64,
    pub(super) fetch: FetchRef,
    pub(super) kind: TimerKind,
}

/// Where a client's reply goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ClientRef {
    /// A UDP client: reply from `local` to `peer`.
    Udp { peer: SocketAddr, local: SocketAddr },
    /// A TCP client connection.
    Tcp { conn: super::ConnId },
}

/// A client waiting on a fetch, with what its reply must echo.
#[derive(Debug)]
pub(super) struct Waiter {
    pub(super) serial: u32,
    pub(super) client: ClientRef,
    pub(super) id: u16,
    pub(super) question: Box<[u8]>,
    pub(super) rd: bool,
    pub(super) cd: bool,
    pub(super) edns: Option<(u16, bool)>,
    /// A stale answer exists: serve it after the client timeout or on failure.
    pub(super) stale_fallback: bool,
}

impl Waiter {
    fn view(&self, max_udp: u16) -> ClientView<'_> {
        let limit = match self.client {
            ClientRef::Tcp { .. } => usize::from(u16::MAX),
            ClientRef::Udp { .. } => {
                usize::from(reply_payload_limit(self.edns.map(|e| e.0), max_udp))
            }
        };
        ClientView {
            id: self.id,
            question: &self.question,
            rd: self.rd,
            cd: self.cd,
            edns: self.edns,
            limit,
        }
    }
}

/// One query sent upstream.
#[derive(Debug)]
struct Attempt {
    serial: u32,
    server: usize,
    id: u16,
    port: u16,
    token: u64,
    tcp: bool,
    /// The question bytes as sent (0x20 case included).
    question: Box<[u8]>,
    /// Whether 0x20 put at least one uppercase letter in the question.
    cased: bool,
    sent_at: Instant,
    /// Still expecting a reply that can advance the fetch.
    open: bool,
    /// Its port or token is registered (late UDP replies stay welcome until the fetch ends).
    listening: bool,
}

/// One cache key in flight.
#[derive(Debug)]
pub(super) struct Fetch {
    key: Box<[u8]>,
    qtype: u16,
    qclass: u16,
    /// The key's partition byte (CD and DO, both passed upstream).
    partition: u8,
    waiters: Vec<Waiter>,
    attempts: Vec<Attempt>,
    /// Servers tried in this round / servers that failed for good (bit per server).
    tried: u64,
    failed: u64,
    round: u8,
    tcp_switched: bool,
    next_serial: u32,
}

impl Fetch {
    fn name(&self) -> &[u8] {
        &self.key[..self.key.len().saturating_sub(5)]
    }

    fn attempt(&mut self, serial: u32) -> Option<&mut Attempt> {
        self.attempts.iter_mut().find(|a| a.serial == serial)
    }

    fn serial(&mut self) -> u32 {
        self.next_serial = self.next_serial.wrapping_add(1);
        self.next_serial
    }
}

impl<R: CryptoRng> Forwarder<R> {
    fn fetch_mut(&mut self, r: FetchRef) -> Option<&mut Fetch> {
        if *self.gens.get(r.idx as usize)? != r.generation {
            return None;
        }
        self.fetches.get_mut(r.idx as usize)?.as_mut()
    }

    /// Creates a fetch for `key` with an optional first waiter and sends the first query.
    pub(super) fn start_fetch(
        &mut self,
        now: Instant,
        key: &[u8],
        (qtype, qclass, partition): (u16, u16, u8),
        waiter: Option<Waiter>,
    ) {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.fetches.push(None);
                self.gens.push(0);
                (self.fetches.len() - 1) as u32
            }
        };
        let fref = FetchRef {
            idx,
            generation: self.gens[idx as usize],
        };
        self.fetches[idx as usize] = Some(Fetch {
            key: key.into(),
            qtype,
            qclass,
            partition,
            waiters: Vec::new(),
            attempts: Vec::new(),
            tried: 0,
            failed: 0,
            round: 0,
            tcp_switched: false,
            next_serial: 0,
        });
        self.live += 1;
        self.by_key.insert(key.into(), fref);
        self.arm(
            now + self.config.timing.fetch_timeout,
            fref,
            TimerKind::Deadline,
        );
        if let Some(w) = waiter {
            self.add_waiter(now, fref, w);
        }
        let primary = upstream::best(&self.servers, 0).unwrap_or(0);
        self.send_attempt(now, fref, primary, false, true);
        self.hedge_tokens = (self.hedge_tokens + self.config.timing.hedge_budget).min(HEDGE_BURST);
        let interval = self.config.timing.probe_interval;
        let probe = (0..self.servers.len())
            .find(|&i| i != primary && self.servers[i].probe_due(now, interval));
        if let Some(p) = probe {
            self.stats.probes += 1;
            self.send_attempt(now, fref, p, false, false);
        }
    }

    /// Adds a client to a fetch already in flight (coalescing).
    pub(super) fn join(&mut self, now: Instant, fref: FetchRef, waiter: Waiter) {
        self.stats.coalesced += 1;
        self.add_waiter(now, fref, waiter);
    }

    fn add_waiter(&mut self, now: Instant, fref: FetchRef, mut waiter: Waiter) {
        let limit = self.config.clients_per_query;
        let Some(f) = self.fetch_mut(fref) else {
            return;
        };
        if f.waiters.len() >= limit {
            self.stats.drop(DropReason::TooManyWaiters);
            return;
        }
        waiter.serial = f.serial();
        let (serial, stale) = (waiter.serial, waiter.stale_fallback);
        f.waiters.push(waiter);
        self.waiting += 1;
        if let (true, Some(t)) = (stale, self.config.stale.client_timeout) {
            self.arm(now + t, fref, TimerKind::Stale(serial));
        }
    }

    /// Sends one attempt of `fref` to `server` (over TCP if `tcp`); `hedgeable` arms a hedge.
    /// Returns false when the fetch is gone or has used up its attempts.
    fn send_attempt(
        &mut self,
        now: Instant,
        fref: FetchRef,
        server: usize,
        tcp: bool,
        hedgeable: bool,
    ) -> bool {
        let max_attempts =
            self.servers.len() * usize::from(self.config.timing.tries_per_server) + 4;
        let use_case =
            self.config.use_0x20 && !tcp && self.servers[server].case != CaseSupport::NoEcho;
        let Some(f) = self.fetch_mut(fref) else {
            return false;
        };
        if f.attempts.len() >= max_attempts {
            return false;
        }
        let mut question = Vec::with_capacity(f.name().len() + 4);
        question.extend_from_slice(f.name());
        question.extend_from_slice(&f.qtype.to_be_bytes());
        question.extend_from_slice(&f.qclass.to_be_bytes());
        let (partition, round, serial) = (f.partition, f.round, f.serial());
        let name_len = question.len() - 4;
        let cased = use_case && randomize_case(&mut question[..name_len], &mut self.rng);
        let id = self.rng.next_u32() as u16;
        let message = build_query(id, &question, partition, self.config.edns_udp_size);
        let addr = self.servers[server].addr;
        let (mut port, mut token) = (0, 0);
        if tcp {
            token = self.next_token;
            self.next_token += 1;
            self.by_token.insert(token, (fref, serial));
            self.stats.upstream_tcp += 1;
            let token = TcpToken(token);
            self.events.push_back(Event::UpstreamTcp {
                token,
                server: addr,
                message,
            });
        } else {
            let Some(p) = self.pick_port(addr) else {
                return false;
            };
            port = p;
            self.by_port.insert((port, addr), (fref, serial));
            self.stats.upstream_udp += 1;
            let ip = if addr.is_ipv4() {
                self.config.source_v4
            } else {
                self.config.source_v6
            };
            self.transmits.push_back(lvs_core::Transmit {
                src: Some(SocketAddr::new(ip, port)),
                ..lvs_core::Transmit::new(addr, message)
            });
        }
        let timing = self.config.timing;
        let mut timeout = self.servers[server].timeout(round, &timing);
        if tcp {
            timeout += timing.tcp_extra;
        }
        self.arm(now + timeout, fref, TimerKind::Attempt(serial));
        if hedgeable && !tcp && self.servers.len() > 1 && self.hedge_tokens >= 1.0 {
            let at = self.servers[server].hedge_at(now, &timing);
            self.arm(at, fref, TimerKind::Hedge(serial));
        }
        upstream::selected(&mut self.servers, server, now);
        if let Some(f) = self.fetch_mut(fref) {
            f.tried |= 1 << server;
            f.attempts.push(Attempt {
                serial,
                server,
                id,
                port,
                token,
                tcp,
                question: question.into_boxed_slice(),
                cased,
                sent_at: now,
                open: true,
                listening: true,
            });
        }
        true
    }

    /// A uniformly random source port in 1024..=65535 not in use towards `addr`.
    fn pick_port(&mut self, addr: SocketAddr) -> Option<u16> {
        let span = u64::from(u16::MAX - PORT_BASE) + 1;
        for _ in 0..64 {
            let p = PORT_BASE + uniform_below(&mut self.rng, span) as u16;
            if p != self.config.listen_port && !self.by_port.contains_key(&(p, addr)) {
                return Some(p);
            }
        }
        None
    }

    /// Moves every fetch in flight onto a new forwarder list (`rndc reload`): `map[i]` is the
    /// new index of old server `i`, `None` when it was removed. Attempts to removed servers
    /// stop listening and are forgotten; a fetch left with nothing in flight asks the new
    /// forwarders at once.
    pub(super) fn replace_servers(
        &mut self,
        now: Instant,
        servers: Vec<upstream::Server>,
        map: &[Option<usize>],
    ) {
        let remap = |bits: u64| {
            map.iter()
                .enumerate()
                .filter(|&(i, _)| bits & (1 << i) != 0)
                .filter_map(|(_, n)| *n)
                .fold(0u64, |m, n| m | 1 << n)
        };
        let mut gone = Vec::new();
        for f in self.fetches.iter().flatten() {
            for a in f
                .attempts
                .iter()
                .filter(|a| a.listening && map[a.server].is_none())
            {
                gone.push((a.server, a.tcp, a.port, a.token));
            }
        }
        for (server, tcp, port, token) in gone {
            self.unlisten(server, tcp, port, token, true);
        }
        self.servers = servers;
        let mut stalled = Vec::new();
        for (idx, slot) in self.fetches.iter_mut().enumerate() {
            let Some(f) = slot.as_mut() else { continue };
            f.attempts.retain(|a| map[a.server].is_some());
            for a in &mut f.attempts {
                a.server = map[a.server].unwrap_or(a.server);
            }
            f.tried = remap(f.tried);
            f.failed = remap(f.failed);
            if !f.attempts.iter().any(|a| a.open) {
                stalled.push(FetchRef {
                    idx: idx as u32,
                    generation: self.gens[idx],
                });
            }
        }
        for fref in stalled {
            self.advance(now, fref);
        }
    }

    /// Marks an attempt closed and stops listening for it. Returns (server, tcp, sent_at,
    /// cased), or None if unknown.
    fn close_attempt(
        &mut self,
        fref: FetchRef,
        serial: u32,
        cancel_tcp: bool,
    ) -> Option<(usize, bool, Instant, bool)> {
        let a = self.fetch_mut(fref)?.attempt(serial)?;
        a.open = false;
        let was_listening = core::mem::replace(&mut a.listening, false);
        let (server, tcp, port, token, sent, cased) =
            (a.server, a.tcp, a.port, a.token, a.sent_at, a.cased);
        if was_listening {
            self.unlisten(server, tcp, port, token, cancel_tcp);
        }
        Some((server, tcp, sent, cased))
    }

    fn unlisten(&mut self, server: usize, tcp: bool, port: u16, token: u64, cancel: bool) {
        if tcp {
            self.by_token.remove(&token);
            if cancel {
                self.events.push_back(Event::UpstreamTcpCancel {
                    token: TcpToken(token),
                });
            }
        } else {
            self.by_port.remove(&(port, self.servers[server].addr));
        }
    }

    /// A datagram that did not arrive on the listen port.
    pub(super) fn on_upstream_datagram(&mut self, now: Instant, d: lvs_core::Datagram) {
        let header = Header::parse(&d.payload).ok();
        let Some(&(fref, serial)) = self.by_port.get(&(d.dst.port(), d.src)) else {
            let reason = if header.is_some_and(|h| h.qr()) {
                DropReason::UpstreamUnexpected
            } else {
                DropReason::UnknownPort
            };
            return self.stats.drop(reason);
        };
        let Some(h) = header else {
            return self.stats.drop(DropReason::UpstreamMalformed);
        };
        if !h.qr() || h.opcode() != 0 {
            return self.stats.drop(DropReason::UpstreamNotResponse);
        }
        let Some(a) = self.fetch_mut(fref).and_then(|f| f.attempt(serial)) else {
            return self.stats.drop(DropReason::UpstreamUnexpected);
        };
        let (expected, server, cased) = (a.id, a.server, a.cased);
        if h.id() != expected {
            // Someone is guessing IDs at a port they know: stop listening, ask over TCP now.
            self.stats.drop(DropReason::UpstreamIdMismatch);
            self.close_attempt(fref, serial, true);
            let switch = self
                .fetch_mut(fref)
                .is_some_and(|f| !core::mem::replace(&mut f.tcp_switched, true));
            if switch {
                self.stats.tcp_retries_mismatch += 1;
                if self.send_attempt(now, fref, server, true, false) {
                    return;
                }
            }
            return self.advance(now, fref);
        }
        let Ok(msg) = Message::parse(&d.payload) else {
            return self.stats.drop(DropReason::UpstreamMalformed);
        };
        let sent = match self.fetch_mut(fref).and_then(|f| f.attempt(serial)) {
            Some(a) => check_question(&msg, &a.question),
            None => QuestionCheck::Different,
        };
        match sent {
            QuestionCheck::Exact => self.process_response(now, fref, serial, &msg),
            QuestionCheck::CaseOnly if cased => {
                self.stats.drop(DropReason::UpstreamCaseMismatch);
                self.servers[server].case = CaseSupport::NoEcho;
                self.close_attempt(fref, serial, true);
                if !self.send_attempt(now, fref, server, false, false) {
                    self.advance(now, fref);
                }
            }
            _ => self.stats.drop(DropReason::UpstreamQuestionMismatch),
        }
    }

    /// The result of an upstream TCP exchange.
    pub(super) fn on_upstream_tcp(
        &mut self,
        now: Instant,
        token: TcpToken,
        result: Result<Bytes, TcpFailure>,
    ) {
        let Some(&(fref, serial)) = self.by_token.get(&token.0) else {
            return self.stats.drop(DropReason::UpstreamTcpUnknown);
        };
        let verdict = match &result {
            Err(_) => Err(None),
            Ok(bytes) => match Message::parse(bytes) {
                Err(_) => Err(Some(DropReason::UpstreamMalformed)),
                Ok(msg) if !msg.header().qr() || msg.header().opcode() != 0 => {
                    Err(Some(DropReason::UpstreamNotResponse))
                }
                Ok(msg) => match self.fetch_mut(fref).and_then(|f| f.attempt(serial)) {
                    Some(a) if a.id != msg.id() => Err(Some(DropReason::UpstreamIdMismatch)),
                    Some(a) => match check_question(&msg, &a.question) {
                        QuestionCheck::Exact => Ok(msg),
                        _ => Err(Some(DropReason::UpstreamQuestionMismatch)),
                    },
                    None => Err(Some(DropReason::UpstreamTcpUnknown)),
                },
            },
        };
        match verdict {
            Ok(msg) => self.process_response(now, fref, serial, &msg),
            Err(reason) => {
                if let Some(r) = reason {
                    self.stats.drop(r);
                }
                self.attempt_failed(now, fref, serial);
            }
        }
    }

    /// ICMP unreachable / connection refused on an upstream UDP socket.
    pub(super) fn on_upstream_error(&mut self, now: Instant, port: u16, server: SocketAddr) {
        if let Some(&(fref, serial)) = self.by_port.get(&(port, server)) {
            self.attempt_failed(now, fref, serial);
        }
    }

    /// The attempt's server cannot answer this fetch: never ask it again here, move on.
    fn attempt_failed(&mut self, now: Instant, fref: FetchRef, serial: u32) {
        if let Some((server, ..)) = self.close_attempt(fref, serial, false) {
            self.servers[server].failures += 1;
            if let Some(f) = self.fetch_mut(fref) {
                f.failed |= 1 << server;
            }
        }
        self.advance(now, fref);
    }

    /// A validated response for attempt `serial`.
    fn process_response(&mut self, now: Instant, fref: FetchRef, serial: u32, msg: &Message<'_>) {
        let Some((server, tcp, sent, cased)) = self.close_attempt(fref, serial, false) else {
            return;
        };
        let s = &mut self.servers[server];
        if s.on_response(now - sent) {
            let server = s.addr;
            self.events.push_back(Event::ForwarderUp { server });
        }
        if cased && s.case == CaseSupport::Unknown {
            s.case = CaseSupport::Echoes;
        }
        if msg.header().tc() && !tcp {
            self.stats.tcp_retries_truncated += 1;
            if self.send_attempt(now, fref, server, true, false) {
                return;
            }
        }
        let policy = self.cache.config().ttl;
        let Some(f) = self.fetch_mut(fref) else {
            return;
        };
        let scrubbed = if msg.header().tc() {
            None
        } else {
            let want = Wanted {
                canonical: f.name(),
                qtype: f.qtype,
                qclass: f.qclass,
                dnssec_ok: f.partition & PARTITION_DO != 0,
            };
            scrub_for(msg, &want, &policy).ok()
        };
        match scrubbed {
            Some(s) => self.complete(now, fref, s),
            None => {
                self.servers[server].failures += 1;
                if let Some(f) = self.fetch_mut(fref) {
                    f.failed |= 1 << server;
                }
                self.advance(now, fref);
            }
        }
    }

    /// After an attempt ended without an answer: fail over, retry, or give up.
    fn advance(&mut self, now: Instant, fref: FetchRef) {
        let tries = self.config.timing.tries_per_server;
        let Some(f) = self.fetch_mut(fref) else {
            return;
        };
        // Never two open attempts to one server: wait for the one in flight instead.
        let busy = f
            .attempts
            .iter()
            .filter(|a| a.open)
            .fold(0u64, |m, a| m | 1 << a.server);
        let (tried, failed, round) = (f.tried, f.failed | busy, f.round);
        if let Some(s) = upstream::best(&self.servers, tried | failed)
            && self.send_attempt(now, fref, s, false, true)
        {
            return;
        }
        if round + 1 < tries
            && let Some(s) = upstream::best(&self.servers, failed)
        {
            if let Some(f) = self.fetch_mut(fref) {
                f.round += 1;
                f.tried = 0;
            }
            if self.send_attempt(now, fref, s, false, true) {
                return;
            }
        }
        let open = self
            .fetch_mut(fref)
            .is_some_and(|f| f.attempts.iter().any(|a| a.open));
        if !open {
            self.fail_fetch(now, fref);
        }
    }

    /// One due timer entry.
    pub(super) fn on_timer(&mut self, now: Instant, e: TimerEntry) {
        let fref = e.fetch;
        match e.kind {
            TimerKind::Deadline => self.fail_fetch(now, fref),
            TimerKind::Attempt(serial) => {
                let open = self
                    .fetch_mut(fref)
                    .and_then(|f| f.attempt(serial))
                    .is_some_and(|a| a.open);
                if !open {
                    return;
                }
                // A UDP attempt keeps listening: a late but valid reply still completes the fetch.
                let tcp = self
                    .fetch_mut(fref)
                    .and_then(|f| f.attempt(serial))
                    .is_some_and(|a| a.tcp);
                let closed = if tcp {
                    self.close_attempt(fref, serial, true)
                } else {
                    self.fetch_mut(fref)
                        .and_then(|f| f.attempt(serial))
                        .map(|a| {
                            a.open = false;
                            (a.server, a.tcp, a.sent_at, a.cased)
                        })
                };
                let Some((server, _, sent, _)) = closed else {
                    return;
                };
                self.stats.upstream_timeouts += 1;
                let down_after = self.config.timing.down_after;
                if self.servers[server].on_timeout(now - sent, down_after) {
                    let server = self.servers[server].addr;
                    self.events.push_back(Event::ForwarderDown { server });
                }
                self.advance(now, fref);
            }
            TimerKind::Hedge(serial) => {
                let Some(f) = self.fetch_mut(fref) else {
                    return;
                };
                let exclude = f.tried | f.failed;
                let open = f.attempt(serial).is_some_and(|a| a.open);
                if !open || self.hedge_tokens < 1.0 {
                    return;
                }
                if let Some(next) = upstream::best(&self.servers, exclude)
                    && self.send_attempt(now, fref, next, false, false)
                {
                    self.hedge_tokens -= 1.0;
                    self.stats.hedges += 1;
                }
            }
            TimerKind::Stale(serial) => self.answer_stale_waiter(now, fref, serial),
        }
    }

    /// RFC 8767's client response timer: the waiter gets the stale answer now (the fetch goes
    /// on and refreshes the cache for later clients).
    fn answer_stale_waiter(&mut self, now: Instant, fref: FetchRef, serial: u32) {
        let max_udp = self.config.max_udp_size;
        let (ours, ttl) = (self.ours(), self.config.stale.answer_ttl);
        let Some(f) = self
            .fetches
            .get_mut(fref.idx as usize)
            .and_then(Option::as_mut)
        else {
            return;
        };
        if self.gens[fref.idx as usize] != fref.generation {
            return;
        }
        let Some(pos) = f.waiters.iter().position(|w| w.serial == serial) else {
            return;
        };
        let out = match self.cache.lookup(&f.key, now) {
            Lookup::Stale { answer, .. } => {
                let view = f.waiters[pos].view(max_udp);
                render(
                    answer,
                    TtlMode::Fixed(ttl),
                    &view,
                    super::stale_ede(answer.kind()),
                    ours,
                )
            }
            _ => return,
        };
        let w = f.waiters.swap_remove(pos);
        self.waiting -= 1;
        self.stats.stale_answers += 1;
        self.send(&w.client, out);
    }

    /// Takes a fetch out of the table and stops listening for all its attempts.
    fn remove_fetch(&mut self, fref: FetchRef) -> Option<Fetch> {
        self.fetch_mut(fref)?;
        let f = self.fetches[fref.idx as usize].take()?;
        self.gens[fref.idx as usize] = self.gens[fref.idx as usize].wrapping_add(1);
        self.free.push(fref.idx);
        self.live -= 1;
        self.waiting -= f.waiters.len();
        self.by_key.remove(&f.key);
        for a in f.attempts.iter().filter(|a| a.listening) {
            self.unlisten(a.server, a.tcp, a.port, a.token, true);
        }
        Some(f)
    }

    /// Success: answer every waiter from the scrubbed answer, then cache it.
    fn complete(&mut self, now: Instant, fref: FetchRef, s: Scrubbed) {
        let Some(f) = self.remove_fetch(fref) else {
            return;
        };
        // A server still silent although overdue against its own SRTT lost the race: count it
        // as a timeout now (its timer dies with the fetch), or a dead primary would keep its
        // good SRTT for as long as hedges rescue its queries.
        let (factor, down_after) = (
            self.config.timing.hedge_factor,
            self.config.timing.down_after,
        );
        for a in f.attempts.iter().filter(|a| a.open) {
            let server = &mut self.servers[a.server];
            let waited = now - a.sent_at;
            if waited > server.srtt().mul_f64(factor) && server.on_timeout(waited, down_after) {
                let server = server.addr;
                self.events.push_back(Event::ForwarderDown { server });
            }
        }
        self.stats.scrubbed_records += s.dropped as u64;
        let (ours, max_udp) = (self.ours(), self.config.max_udp_size);
        for w in &f.waiters {
            let out = render(&s.answer, TtlMode::Elapsed(0), &w.view(max_udp), None, ours);
            self.send(&w.client, out);
        }
        self.cache.insert(&f.key, s.answer, now);
    }

    /// Every forwarder failed (or the fetch deadline passed): stale answers where allowed,
    /// SERVFAIL otherwise (with EDE 22 in `forward first`).
    pub(super) fn fail_fetch(&mut self, now: Instant, fref: FetchRef) {
        let Some(f) = self.remove_fetch(fref) else {
            return;
        };
        self.stats.fetch_failures += 1;
        let first = self.config.mode == ForwardMode::First;
        if first {
            self.stats.forward_first_failures += 1;
        }
        let (ours, max_udp) = (self.ours(), self.config.max_udp_size);
        let stale_ttl = self.config.stale.answer_ttl;
        let mut replies = Vec::with_capacity(f.waiters.len());
        let mut stale = false;
        if self.serve_stale
            && let Lookup::Stale { answer, .. } = self.cache.lookup(&f.key, now)
        {
            stale = true;
            let ede = super::stale_ede(answer.kind());
            for w in &f.waiters {
                let view = w.view(max_udp);
                replies.push(render(answer, TtlMode::Fixed(stale_ttl), &view, ede, ours));
            }
        }
        if stale {
            let until = now + self.config.stale.refresh_time;
            self.cache.block_refresh(&f.key, until);
            self.stats.stale_answers += replies.len() as u64;
        } else {
            let ede = first.then_some(Ede::NO_REACHABLE_AUTHORITY);
            for w in &f.waiters {
                replies.push(minimal(&w.view(max_udp), rcode::SERVFAIL, ede, false, ours));
            }
            self.stats.servfail += replies.len() as u64;
        }
        for (w, out) in f.waiters.iter().zip(replies) {
            self.send(&w.client, out);
        }
    }
}
