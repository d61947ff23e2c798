//! The caching forwarder as a Sans-IO machine.
//!
//! [`Forwarder`] implements [`lvs_core::StateMachine`]. It answers client queries from its
//! [cache](crate::cache) or forwards them to the configured forwarders, and never touches a
//! socket or a clock.
//!
//! # Inputs
//!
//! * **Client queries over UDP** arrive through [`StateMachine::handle_datagram`] with `dst`
//!   on [`ForwarderConfig::listen_port`]; replies leave as [`Transmit`]s from that same local
//!   address (`src = Some(d.dst)`).
//! * **Client queries over TCP**: the shell splits each stream with
//!   [`TcpDecoder`](crate::wire::TcpDecoder) and hands every message to
//!   [`Forwarder::handle_tcp_query`] with a [`ConnId`] of its choosing. Replies come back as
//!   [`Event::TcpReply`] carrying the same id; the shell writes the length prefix and the
//!   message in one write. TCP replies are never rate-limited or truncated below 65535 bytes.
//! * **Upstream replies over UDP** arrive through `handle_datagram` on the local port the
//!   query left from. Each upstream query is a `Transmit` whose `src` carries a port drawn
//!   from the injected CSPRNG: the shell opens a fresh UDP socket bound to `src`, connects it
//!   to `dst`, sends, and feeds whatever that socket receives back as datagrams (with `dst` the
//!   socket's local address). It may close the socket once a reply is delivered or after a few
//!   seconds. An ICMP error or `ECONNREFUSED` on it goes to [`Forwarder::handle_upstream_error`].
//! * **Upstream TCP** (after TC=1, or after a reply with a wrong ID: the spoofing defence) is
//!   requested as [`Event::UpstreamTcp`]: the shell connects to `server`, writes the framed
//!   message, reads one framed reply and calls [`Forwarder::handle_upstream_tcp`] with the
//!   token (or the failure). [`Event::UpstreamTcpCancel`] tells it to give up on a token.
//!
//! # Spoof resistance
//!
//! Upstream IDs and source ports come from the CSPRNG. A reply is accepted only when it comes
//! from the exact forwarder address and port, to the exact local port of an outstanding
//! attempt, with QR=1, opcode QUERY, the attempt's ID, and exactly the question bytes we sent
//! (case included when 0x20 is on). A reply from the right server and port with a wrong ID
//! makes the machine stop listening on that port and ask the same server over TCP at once.
//! Malformed or mismatching replies never end the wait. Every rejection is counted by
//! [`DropReason`].
//!
//! # Forwarding policy
//!
//! Servers are ranked by SRTT (0.7/0.3 EWMA); unselected servers age by 2 % per selection, and
//! a server idle for [`TimingConfig::probe_interval`] receives a copy of the next query, so a
//! server that failed is re-probed instead of parked. An attempt times out after
//! `max(min_timeout, 2 × SRTT + 50 ms)` (doubled per round), then the next server is asked;
//! with the defaults a dead forwarder costs 400 ms. A second, hedged query goes to the next
//! server when the first is slower than 1.2 × its SRTT, within a budget of 5 % extra queries.
//! SERVFAIL, REFUSED, NOTIMP, FORMERR or an unusable answer from one forwarder means "ask the
//! next". When every forwarder failed, clients get SERVFAIL ([`ForwardMode::Only`]), or
//! SERVFAIL with EDE 22 ([`ForwardMode::First`]: we have no iterator to fall back to), or a
//! stale answer when serve-stale allows.
//!
//! # DNSSEC pass-through
//!
//! As BIND with `forward only` and `dnssec-validation no`: nothing is validated and AD is
//! never set in our replies (whatever the forwarder said). A client's DO bit goes upstream in
//! our own OPT record (EDNS is hop-by-hop), and so does CD. DO and CD are part of the cache
//! key (the key is partitioned, not stripped at answer time; see
//! [`PARTITION_DO`](crate::cache::PARTITION_DO)): a DO=1 answer keeps the RRSIGs over its
//! chain and, in the authority section, the zone's NSEC/NSEC3 proofs and their RRSIGs, and is
//! only ever served to DO=1 clients; a DO=0 answer never holds unrequested RRSIG/NSEC/NSEC3
//! records. Identical questions with different DO bits are not coalesced.
//!
//! # Reloading
//!
//! [`Forwarder::reconfigure`] applies a changed configuration (`rndc reload`, SIGHUP) and
//! keeps the cache, the state of forwarders that stay, and the fetches in flight.
//!
//! # Access control and rate limiting
//!
//! `allow-query` is checked first; refused clients get REFUSED no larger than their query (or
//! nothing, per [`RefusedAction`]). Response-rate limiting is charged once per UDP query on
//! arrival, before the cache or any upstream work, per client prefix; TCP is exempt. A cache
//! answer needs `allow-query-cache` (default: `allow-recursion`), an upstream fetch needs
//! `allow-recursion` and RD=1 (an RD=0 miss gets REFUSED with EDE 20).
//!
//! # Accounting
//!
//! Every client query ends in exactly one reply (counted in [`Stats::replies`]) or one drop
//! (counted under a client [`DropReason`]); queries waiting on a fetch are
//! [`Forwarder::waiting_clients`]. The pending table is bounded by
//! [`ForwarderConfig::max_pending`] fetches of at most
//! [`ForwarderConfig::clients_per_query`] clients each.

pub mod acl;
pub mod config;
mod fetch;
mod query;
mod reload;
pub mod stats;
pub mod upstream;

use core::cmp::Reverse;
use core::net::{IpAddr, SocketAddr};
use std::collections::{BinaryHeap, HashMap, VecDeque};

use bytes::Bytes;
use lvs_core::rng::CryptoRng;
use lvs_core::{Datagram, Instant, MonotonicGuard, StateMachine, Transmit};

pub use acl::{AclError, Acls, MatchElement, MatchList, Prefix, Rrl, RrlConfig, RrlVerdict};
pub use config::{
    AccessConfig, ConfigError, ForwardMode, ForwarderConfig, MAX_FORWARDERS, RefusedAction,
    StaleConfig, TimingConfig,
};
pub use reload::Reconfigured;
pub use stats::{DropReason, Stats};
pub use upstream::{CaseSupport, Server};

use crate::cache::{
    AnswerKind, Cache, ClientView, KeyedHash, Lookup, MAX_KEY_LEN, OurEdns, TtlMode, minimal,
    partition, render, write_key,
};
use crate::wire::{Ede, Header, Message, NameBuf, Section, WireError, opcode, rcode, rtype};
use fetch::{ClientRef, Fetch, FetchRef, TimerEntry, TimerKind, Waiter};

/// The timer heap is pruned of finished fetches' entries once it holds this many more than
/// twice the entries left by the last pruning.
const MIN_TIMER_PRUNE: usize = 64;

/// The shell's identifier of a client TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// The machine's identifier of one upstream TCP exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TcpToken(pub u64);

/// Why an upstream TCP exchange produced no reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpFailure {
    /// The connection was refused or could not be made.
    Connect,
    /// The connection was reset or closed before a full reply arrived.
    Closed,
    /// The reply frame was invalid (zero length).
    Framing,
}

/// Facts and requests for the shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Write `message` (framed) to client connection `conn`.
    TcpReply {
        /// The connection the query came on.
        conn: ConnId,
        /// The reply, without the length prefix.
        message: Bytes,
    },
    /// Open a TCP connection to `server`, send `message` (framed), read one framed reply and
    /// pass it to [`Forwarder::handle_upstream_tcp`] with `token`.
    UpstreamTcp {
        /// Identifies the exchange.
        token: TcpToken,
        /// The forwarder.
        server: SocketAddr,
        /// The query, without the length prefix.
        message: Bytes,
    },
    /// The machine no longer needs the TCP exchange `token`: close it.
    UpstreamTcpCancel {
        /// The exchange to abandon.
        token: TcpToken,
    },
    /// A forwarder stopped answering (consecutive timeouts).
    ForwarderDown {
        /// The forwarder.
        server: SocketAddr,
    },
    /// A forwarder that was down answered again.
    ForwarderUp {
        /// The forwarder.
        server: SocketAddr,
    },
}

/// Why the machine wants to be woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// An upstream attempt times out.
    Attempt,
    /// A hedged query may be due.
    Hedge,
    /// A client waiting on a refresh gets its stale answer.
    StaleAnswer,
    /// A fetch's overall deadline.
    FetchDeadline,
}

/// The caching forwarder (see the [module docs](self)).
#[derive(Debug)]
pub struct Forwarder<R> {
    config: ForwarderConfig,
    rng: R,
    guard: MonotonicGuard,
    cache: Cache,
    rrl: Option<Rrl>,
    servers: Vec<Server>,
    fetches: Vec<Option<Fetch>>,
    gens: Vec<u32>,
    free: Vec<u32>,
    live: usize,
    waiting: usize,
    by_key: HashMap<Box<[u8]>, FetchRef, KeyedHash>,
    by_port: HashMap<(u16, SocketAddr), (FetchRef, u32), KeyedHash>,
    by_token: HashMap<u64, (FetchRef, u32), KeyedHash>,
    timers: BinaryHeap<Reverse<TimerEntry>>,
    timer_seq: u64,
    /// Heap size at which [`prune_timers`](Self::prune_timers) runs next.
    timer_prune_at: usize,
    next_token: u64,
    hedge_tokens: f64,
    serve_stale: bool,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl<R: CryptoRng> Forwarder<R> {
    /// A forwarder with `config`, drawing IDs, ports, 0x20 bits and hash keys from `rng`.
    pub fn new(mut config: ForwarderConfig, mut rng: R) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut hash = || KeyedHash::new(rng.next_u64(), rng.next_u64());
        let (h1, h2, h3, h4, h5) = (hash(), hash(), hash(), hash(), hash());
        let servers = config
            .forwarders
            .iter()
            .map(|&a| Server::new(a, 1 + u64::from(rng.next_u32() % 32)))
            .collect();
        Ok(Self {
            cache: Cache::new(config.cache, h1),
            rrl: config.rrl.map(|c| Rrl::new(c, h2)),
            serve_stale: config.stale.answer_enable,
            config,
            rng,
            guard: MonotonicGuard::default(),
            servers,
            fetches: Vec::new(),
            gens: Vec::new(),
            free: Vec::new(),
            live: 0,
            waiting: 0,
            by_key: HashMap::with_hasher(h3),
            by_port: HashMap::with_hasher(h4),
            by_token: HashMap::with_hasher(h5),
            timers: BinaryHeap::new(),
            timer_seq: 0,
            timer_prune_at: MIN_TIMER_PRUNE,
            next_token: 1,
            hedge_tokens: 1.0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        })
    }

    /// The configuration in effect (validated).
    pub fn config(&self) -> &ForwarderConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The cache.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Empties the cache (`rndc flush`).
    pub fn flush_cache(&mut self) {
        self.cache.clear();
    }

    /// Removes every cached answer for `name` (`rndc flushname`); returns how many.
    pub fn flush_name(&mut self, name: &str) -> Result<usize, WireError> {
        let n = NameBuf::from_text(name)?;
        let mut wire = [0u8; 255];
        let len = n.as_name().write_canonical(&mut wire)?;
        Ok(self.cache.remove_name(&wire[..len]))
    }

    /// The forwarders and what the machine knows about them.
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    /// Fetches in flight (the pending table's size).
    pub fn pending_fetches(&self) -> usize {
        self.live
    }

    /// Clients waiting on a fetch.
    pub fn waiting_clients(&self) -> usize {
        self.waiting
    }

    /// The outstanding UDP upstream queries: (local port, forwarder).
    pub fn in_flight_udp(&self) -> impl Iterator<Item = (u16, SocketAddr)> + '_ {
        self.by_port.keys().copied()
    }

    /// Whether an upstream UDP query from local port `port` to `server` is still awaited
    /// (the shell may close that socket once it is not).
    pub fn awaits_udp(&self, port: u16, server: SocketAddr) -> bool {
        self.by_port.contains_key(&(port, server))
    }

    /// Whether stale answers are served (`rndc serve-stale status`).
    pub fn serve_stale(&self) -> bool {
        self.serve_stale
    }

    /// Switches serving stale answers on or off (`rndc serve-stale on|off`). Stale answers are
    /// only available while the cache retains them ([`StaleConfig::cache_enable`] or
    /// [`StaleConfig::answer_enable`] at start).
    pub fn set_serve_stale(&mut self, on: bool) {
        self.serve_stale = on;
    }

    /// Feeds one complete client message received on TCP connection `conn` from `peer`.
    pub fn handle_tcp_query(&mut self, now: Instant, conn: ConnId, peer: SocketAddr, msg: Bytes) {
        let now = self.guard.observe(now);
        self.stats.queries_tcp += 1;
        self.handle_query(now, ClientRef::Tcp { conn }, peer.ip(), &msg);
    }

    /// Feeds the outcome of the upstream TCP exchange `token`.
    pub fn handle_upstream_tcp(
        &mut self,
        now: Instant,
        token: TcpToken,
        result: Result<Bytes, TcpFailure>,
    ) {
        let now = self.guard.observe(now);
        self.on_upstream_tcp(now, token, result);
    }

    /// Reports an ICMP error or `ECONNREFUSED` on the upstream socket bound to `local` and
    /// connected to `server`: that attempt failed, ask the next forwarder now.
    pub fn handle_upstream_error(&mut self, now: Instant, local: SocketAddr, server: SocketAddr) {
        let now = self.guard.observe(now);
        self.on_upstream_error(now, local.port(), server);
    }

    /// The whole client path: ACL, validation, cache, coalescing, fetch.
    fn handle_query(&mut self, now: Instant, client: ClientRef, ip: IpAddr, payload: &[u8]) {
        let Ok(header) = Header::parse(payload) else {
            self.stats.drop(DropReason::ShortQuery);
            return;
        };
        if header.qr() {
            self.stats.drop(DropReason::ResponseAsQuery);
            return;
        }
        let parsed = Message::parse(payload);
        let question = parsed
            .as_ref()
            .ok()
            .filter(|m| m.header().count(Section::Question) == 1)
            .and_then(Message::question);
        let edns = parsed.as_ref().ok().and_then(Message::edns);
        let tcp = matches!(client, ClientRef::Tcp { .. });
        let mut view = ClientView {
            id: header.id(),
            question: question.map_or(&[][..], |q| &payload[q.offset..q.end]),
            rd: header.rd(),
            cd: header.cd(),
            edns: edns.map(|e| (e.payload(), e.dnssec_ok)),
            limit: if tcp {
                usize::from(u16::MAX)
            } else {
                usize::from(crate::wire::reply_payload_limit(
                    edns.map(|e| e.payload()),
                    self.config.max_udp_size,
                ))
            },
        };
        let access = &self.config.access;
        let allowed = access.acls.allows(&access.allow_query, ip);
        let recursion = access.acls.allows(&access.allow_recursion, ip);
        let cache_ok = match &access.allow_query_cache {
            Some(l) => access.acls.allows(l, ip),
            None => recursion,
        };
        if !allowed {
            return self.refuse(now, &client, &view, payload.len());
        }
        let verdict = match (&client, self.rrl.as_mut()) {
            (ClientRef::Udp { .. }, Some(rrl)) => rrl.check(now, ip),
            _ => RrlVerdict::Send,
        };
        match verdict {
            RrlVerdict::Send => {}
            RrlVerdict::Drop => return self.stats.drop(DropReason::RateLimited),
            RrlVerdict::Slip => {
                self.stats.slipped += 1;
                view.limit = view.limit.min(payload.len());
                let out = minimal(&view, rcode::NOERROR, None, true, self.ours());
                return self.send(&client, out);
            }
        }
        if header.opcode() != opcode::QUERY {
            self.stats.notimp += 1;
            let out = minimal(&view, rcode::NOTIMP, None, false, self.ours());
            return self.send(&client, out);
        }
        let (Ok(msg), Some(q)) = (parsed, question) else {
            self.stats.formerr += 1;
            view.question = &[];
            let out = minimal(&view, rcode::FORMERR, None, false, self.ours());
            return self.send(&client, out);
        };
        if msg.edns().is_some_and(|e| e.version > 0) {
            let out = minimal(&view, rcode::BADVERS, None, false, self.ours());
            return self.send(&client, out);
        }
        if q.qtype == rtype::OPT {
            self.stats.formerr += 1;
            let out = minimal(&view, rcode::FORMERR, None, false, self.ours());
            return self.send(&client, out);
        }
        // Zone transfers are not a forwarder's business; neither are clients we may not serve.
        if matches!(q.qtype, 251 | 252) || (!recursion && !cache_ok) {
            return self.refuse(now, &client, &view, payload.len());
        }
        let dnssec_ok = edns.is_some_and(|e| e.dnssec_ok);
        let part = partition(header.cd(), dnssec_ok);
        let mut key = [0u8; MAX_KEY_LEN];
        let klen = write_key(&q.name, q.qtype, q.qclass, part, &mut key);
        let key = &key[..klen];
        let ours = self.ours();
        let stale_ttl = self.config.stale.answer_ttl;
        let mut stale_fallback = false;
        if cache_ok {
            let prefetch_min = self.config.prefetch_min_ttl;
            let (reply, prefetch) = match self.cache.lookup(key, now) {
                Lookup::Fresh {
                    answer,
                    elapsed,
                    remaining,
                } => {
                    let out = render(answer, TtlMode::Elapsed(elapsed), &view, None, ours);
                    let due = answer.ttl() >= prefetch_min && remaining * 10 <= answer.ttl();
                    (Some((out, false)), due)
                }
                Lookup::Stale {
                    answer,
                    refresh_blocked,
                } if self.serve_stale => {
                    if refresh_blocked || !recursion || !header.rd() {
                        let ede = stale_ede(answer.kind());
                        let out = render(answer, TtlMode::Fixed(stale_ttl), &view, ede, ours);
                        (Some((out, true)), false)
                    } else {
                        stale_fallback = true;
                        (None, false)
                    }
                }
                _ => (None, false),
            };
            if let Some((out, stale)) = reply {
                if stale {
                    self.stats.stale_answers += 1;
                } else {
                    self.stats.cache_hits += 1;
                }
                self.send(&client, out);
                if prefetch && self.config.prefetch && !self.by_key.contains_key(key) {
                    self.stats.prefetches += 1;
                    self.start_fetch(now, key, (q.qtype, q.qclass, part), None);
                }
                return;
            }
        }
        if !recursion || !header.rd() {
            let ede = if recursion {
                Ede::NOT_AUTHORITATIVE
            } else {
                Ede::PROHIBITED
            };
            self.stats.refused += 1;
            view.limit = view.limit.min(payload.len());
            let out = minimal(&view, rcode::REFUSED, Some(ede), false, ours);
            return self.send(&client, out);
        }
        self.stats.cache_misses += 1;
        let waiter = Waiter {
            serial: 0,
            client,
            id: header.id(),
            question: view.question.into(),
            rd: header.rd(),
            cd: header.cd(),
            edns: view.edns,
            stale_fallback,
        };
        if let Some(&fref) = self.by_key.get(key) {
            return self.join(now, fref, waiter);
        }
        if self.live >= self.config.max_pending {
            self.stats.pending_full += 1;
            self.stats.servfail += 1;
            let out = minimal(&view, rcode::SERVFAIL, None, false, ours);
            return self.send(&client, out);
        }
        self.start_fetch(now, key, (q.qtype, q.qclass, part), Some(waiter));
    }

    /// Answers REFUSED (never larger than the query) or drops, per configuration.
    fn refuse(&mut self, _now: Instant, client: &ClientRef, view: &ClientView<'_>, qlen: usize) {
        if self.config.access.refused == RefusedAction::Drop {
            return self.stats.drop(DropReason::AclDenied);
        }
        self.stats.refused += 1;
        let mut v = *view;
        v.limit = v.limit.min(qlen);
        let out = minimal(
            &v,
            rcode::REFUSED,
            Some(Ede::PROHIBITED),
            false,
            self.ours(),
        );
        self.send(client, out);
    }

    fn ours(&self) -> OurEdns {
        OurEdns {
            payload: self.config.max_udp_size,
        }
    }

    /// Sends one reply to a client.
    fn send(&mut self, client: &ClientRef, message: Bytes) {
        self.stats.replies += 1;
        match *client {
            ClientRef::Udp { peer, local } => self.transmits.push_back(Transmit {
                src: Some(local),
                ..Transmit::new(peer, message)
            }),
            ClientRef::Tcp { conn } => self.events.push_back(Event::TcpReply { conn, message }),
        }
    }

    /// Drops the timer entries of finished fetches (lazy deletion leaves them in the heap,
    /// where they would only fire as no-ops), so the heap stays proportional to the pending
    /// table even when fetches finish faster than their timers come due. Run when the heap
    /// has doubled since the last pruning: amortised O(1) per timer armed.
    fn prune_timers(&mut self) {
        let (gens, fetches) = (&self.gens, &self.fetches);
        self.timers
            .retain(|Reverse(e)| e.fetch.is_live(gens, fetches));
        self.timer_prune_at = 2 * self.timers.len() + MIN_TIMER_PRUNE;
    }

    fn arm(&mut self, at: Instant, fetch: FetchRef, kind: TimerKind) {
        self.timer_seq += 1;
        self.timers.push(Reverse(TimerEntry {
            at,
            seq: self.timer_seq,
            fetch,
            kind,
        }));
        if self.timers.len() > self.timer_prune_at {
            self.prune_timers();
        }
    }
}

/// The EDE of a stale answer: 19 for a stale NXDOMAIN, 3 otherwise.
fn stale_ede(kind: AnswerKind) -> Option<u16> {
    Some(match kind {
        AnswerKind::NxDomain => Ede::STALE_NXDOMAIN,
        _ => Ede::STALE_ANSWER,
    })
}

impl<R: CryptoRng> StateMachine for Forwarder<R> {
    type Event = Event;
    type Timer = Timer;

    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        let now = self.guard.observe(now);
        if d.dst.port() == self.config.listen_port {
            self.stats.queries_udp += 1;
            let client = ClientRef::Udp {
                peer: d.src,
                local: d.dst,
            };
            return self.handle_query(now, client, d.src.ip(), &d.payload);
        }
        self.on_upstream_datagram(now, d);
    }

    fn handle_timeout(&mut self, now: Instant) {
        let now = self.guard.observe(now);
        while let Some(Reverse(top)) = self.timers.peek() {
            if top.at > now {
                break;
            }
            let Some(Reverse(entry)) = self.timers.pop() else {
                break;
            };
            self.on_timer(now, entry);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<(Instant, Timer)> {
        self.timers.peek().map(|Reverse(e)| {
            let why = match e.kind {
                TimerKind::Attempt(_) => Timer::Attempt,
                TimerKind::Hedge(_) => Timer::Hedge,
                TimerKind::Stale(_) => Timer::StaleAnswer,
                TimerKind::Deadline => Timer::FetchDeadline,
            };
            (e.at, why)
        })
    }
}
