//! Shared pieces of the forwarder tests: query/answer builders, a fake upstream server that
//! runs as a sim node, a scripted client node, and a single-machine driver.

#![allow(dead_code, unreachable_pub)]

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use lvs_core::rng::SeedableRng;
use lvs_core::sim::ChaCha8Rng;
use lvs_core::{Datagram, Instant, StateMachine, Transmit};
use lvs_dns::forwarder::{Event, Forwarder, ForwarderConfig, MatchList};
use lvs_dns::wire::{Flags, Message, MessageBuilder, NameBuf, RData, Section, class, rtype};

pub const LISTEN: &str = "10.0.0.1:53";
pub const UP1: &str = "10.0.0.2:53";
pub const UP2: &str = "10.0.0.3:53";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

pub type Fwd = Forwarder<ChaCha8Rng>;

/// A forwarder config for tests: recursion for everyone, upstream source 10.0.0.1.
pub fn config(forwarders: &[&str]) -> ForwarderConfig {
    let mut c = ForwarderConfig::new(forwarders.iter().map(|s| addr(s)));
    c.access.allow_recursion = MatchList::any();
    c.source_v4 = addr(LISTEN).ip();
    c
}

pub fn forwarder(c: ForwarderConfig, seed: u64) -> Fwd {
    Forwarder::new(c, ChaCha8Rng::seed_from_u64(seed)).expect("valid config")
}

/// A client query with RD (and an OPT record when `edns`).
pub fn query(id: u16, name: &str, qtype: u16, edns: bool) -> Bytes {
    let mut out = BytesMut::new();
    let mut b = MessageBuilder::new(&mut out).unwrap();
    b.set_id(id);
    b.set_flags(Flags::RD);
    b.question(
        &NameBuf::from_text(name).unwrap().as_name(),
        qtype,
        class::IN,
    )
    .unwrap();
    if edns {
        b.opt(1232, false).unwrap();
    }
    b.finish().unwrap();
    out.freeze()
}

/// What a fake zone holds for a name.
#[derive(Clone, Debug)]
pub enum Data {
    /// A records with this TTL.
    A(Vec<[u8; 4]>, u32),
    /// A CNAME to the given name (TTL) — the target is answered from the zone too.
    Cname(String, u32),
    /// NXDOMAIN with an SOA (TTL, MINIMUM) for the zone "example".
    NxDomain(u32, u32),
    /// NOERROR without records, SOA (300, 60) in authority.
    Empty,
    /// An answer too large for UDP: many TXT records (TC=1 over UDP).
    Big,
}

/// Answers `query` from `zone` (keys lowercase, no trailing dot). The question is echoed
/// byte for byte unless `lowercase` (a server that does not preserve 0x20 case).
pub fn respond(zone: &BTreeMap<String, Data>, query: &[u8], lowercase: bool, tcp: bool) -> Bytes {
    let q = Message::parse(query).expect("upstream got a valid query");
    let qq = q.question().expect("question");
    let mut out = BytesMut::new();
    let mut b = MessageBuilder::new(&mut out).unwrap();
    b.set_id(q.id());
    let mut flags = Flags::QR | Flags::RA | Flags::RD;
    let qname_text = qq.name.to_string().to_ascii_lowercase();
    let key = qname_text.trim_end_matches('.').to_owned();
    let echo = if lowercase {
        NameBuf::from_text(&key).unwrap()
    } else {
        NameBuf::from_name(&qq.name)
    };
    let data = match zone.get(&key).cloned() {
        // A names answer NODATA (NOERROR + SOA) for other types.
        Some(Data::A(..)) if qq.qtype != rtype::A && qq.qtype != rtype::ANY => Some(Data::Empty),
        other => other,
    };
    if matches!(data, Some(Data::Big)) && !tcp {
        flags = flags.with(Flags::TC);
    }
    b.set_flags(flags);
    if matches!(data, Some(Data::NxDomain(..)) | None) {
        b.set_rcode(3);
    }
    b.question(&echo.as_name(), qq.qtype, qq.qclass).unwrap();
    let owner = echo.clone();
    match data {
        Some(Data::A(addrs, ttl)) => {
            for a in addrs {
                b.record(
                    Section::Answer,
                    &owner.as_name(),
                    class::IN,
                    ttl,
                    &RData::A(a.into()),
                )
                .unwrap();
            }
        }
        Some(Data::Cname(target, ttl)) => {
            let t = NameBuf::from_text(&target).unwrap();
            b.record(
                Section::Answer,
                &owner.as_name(),
                class::IN,
                ttl,
                &RData::Cname(t.as_name()),
            )
            .unwrap();
            if let Some(Data::A(addrs, ttl)) = zone.get(&target) {
                for a in addrs {
                    b.record(
                        Section::Answer,
                        &t.as_name(),
                        class::IN,
                        *ttl,
                        &RData::A((*a).into()),
                    )
                    .unwrap();
                }
            }
        }
        Some(Data::NxDomain(..) | Data::Empty) | None => {
            let (ttl, minimum) = match &data {
                Some(Data::NxDomain(t, m)) => (*t, *m),
                _ => (300, 60),
            };
            let zone_name = NameBuf::from_text("example").unwrap();
            let mut soa = Vec::new();
            soa.extend_from_slice(b"\x02ns\x07example\x00\x05admin\x07example\x00");
            for n in [1u32, 3600, 600, 86400, minimum] {
                soa.extend_from_slice(&n.to_be_bytes());
            }
            b.raw_record(
                Section::Authority,
                &zone_name.as_name(),
                (rtype::SOA, class::IN, ttl),
                &soa,
            )
            .unwrap();
        }
        Some(Data::Big) => {
            if tcp {
                for i in 0..60u8 {
                    let mut txt = vec![40u8];
                    txt.extend_from_slice(&[b'a' + i % 26; 40]);
                    b.raw_record(
                        Section::Answer,
                        &owner.as_name(),
                        (rtype::TXT, class::IN, 300),
                        &txt,
                    )
                    .unwrap();
                }
            }
        }
    }
    b.finish().unwrap();
    out.freeze()
}

/// A fake upstream server as a sim node.
pub struct Upstream {
    pub zone: BTreeMap<String, Data>,
    pub lowercase: bool,
    pub out: Vec<Transmit>,
    pub queries: u64,
}

impl Upstream {
    pub fn new(zone: BTreeMap<String, Data>) -> Self {
        Self {
            zone,
            lowercase: false,
            out: Vec::new(),
            queries: 0,
        }
    }
}

impl StateMachine for Upstream {
    type Event = ();
    type Timer = &'static str;
    fn handle_datagram(&mut self, _now: Instant, d: Datagram) {
        self.queries += 1;
        let reply = respond(&self.zone, &d.payload, self.lowercase, false);
        self.out.push(Transmit {
            src: Some(d.dst),
            ..Transmit::new(d.src, reply)
        });
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop()
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<(Instant, &'static str)> {
        None
    }
}

/// A client node: sends each scripted (time, payload) to the forwarder; every reply becomes an
/// event (arrival time, bytes).
pub struct Client {
    pub me: SocketAddr,
    pub script: Vec<(Instant, Bytes)>,
    pub next: usize,
    pub out: Vec<Transmit>,
    pub got: Vec<(Instant, Bytes)>,
}

impl Client {
    pub fn new(me: SocketAddr, mut script: Vec<(Instant, Bytes)>) -> Self {
        script.sort_by_key(|(t, _)| *t);
        Self {
            me,
            script,
            next: 0,
            out: Vec::new(),
            got: Vec::new(),
        }
    }
}

impl StateMachine for Client {
    type Event = (Instant, Bytes);
    type Timer = &'static str;
    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        self.got.push((now, d.payload));
    }
    fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, q)) = self.script.get(self.next) {
            if *at > now {
                break;
            }
            self.out.push(Transmit {
                src: Some(self.me),
                ..Transmit::new(addr(LISTEN), q.clone())
            });
            self.next += 1;
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop()
    }
    fn poll_event(&mut self) -> Option<(Instant, Bytes)> {
        self.got.pop()
    }
    fn poll_timeout(&self) -> Option<(Instant, &'static str)> {
        self.script.get(self.next).map(|(t, _)| (*t, "send"))
    }
}

/// Drives one forwarder by hand, collecting everything it emits.
pub struct Driver {
    pub fwd: Fwd,
    pub now: Instant,
    pub transmits: Vec<Transmit>,
    pub events: Vec<Event>,
}

impl Driver {
    pub fn new(fwd: Fwd) -> Self {
        Self {
            fwd,
            now: Instant::ZERO,
            transmits: Vec::new(),
            events: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(t) = self.fwd.poll_transmit() {
            self.transmits.push(t);
        }
        while let Some(e) = self.fwd.poll_event() {
            self.events.push(e);
        }
    }

    /// Advances to `t`, firing every deadline on the way.
    pub fn advance_to(&mut self, t: Instant) {
        while let Some((at, _)) = self.fwd.poll_timeout() {
            if at > t {
                break;
            }
            self.now = self.now.max(at);
            self.fwd.handle_timeout(self.now);
            self.drain();
        }
        self.now = self.now.max(t);
    }

    pub fn advance(&mut self, d: Duration) {
        self.advance_to(self.now + d);
    }

    /// A client query from `src`.
    pub fn client(&mut self, src: &str, q: Bytes) {
        self.fwd
            .handle_datagram(self.now, Datagram::new(addr(src), addr(LISTEN), q));
        self.drain();
    }

    /// Any datagram.
    pub fn datagram(&mut self, d: Datagram) {
        self.fwd.handle_datagram(self.now, d);
        self.drain();
    }

    /// Takes the transmits to `dst`.
    pub fn take_to(&mut self, dst: SocketAddr) -> Vec<Transmit> {
        let (to, rest) = core::mem::take(&mut self.transmits)
            .into_iter()
            .partition(|t| t.dst == dst);
        self.transmits = rest;
        to
    }

    /// Takes every transmit to a forwarder in `ups` and answers it from `zone` right away.
    pub fn serve(&mut self, ups: &[&str], zone: &BTreeMap<String, Data>) -> usize {
        let mut n = 0;
        for up in ups {
            for t in self.take_to(addr(up)) {
                n += 1;
                let reply = respond(zone, &t.payload, false, false);
                let src = t.src.expect("upstream transmits carry their source");
                self.datagram(Datagram::new(t.dst, src, reply));
            }
        }
        n
    }

    /// Serves every pending upstream TCP request from `zone`.
    pub fn serve_tcp(&mut self, zone: &BTreeMap<String, Data>) -> usize {
        let events = core::mem::take(&mut self.events);
        let mut n = 0;
        for e in events {
            match e {
                Event::UpstreamTcp { token, message, .. } => {
                    n += 1;
                    let reply = respond(zone, &message, false, true);
                    self.fwd.handle_upstream_tcp(self.now, token, Ok(reply));
                    self.drain();
                }
                other => self.events.push(other),
            }
        }
        n
    }
}

pub fn zone(entries: &[(&str, Data)]) -> BTreeMap<String, Data> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// The first A address and its TTL in an answer.
pub fn first_a(reply: &[u8]) -> Option<([u8; 4], u32)> {
    let m = Message::parse(reply).ok()?;
    m.answers().find_map(|rr| match rr.data() {
        RData::A(a) => Some((a.octets(), rr.ttl)),
        _ => None,
    })
}
