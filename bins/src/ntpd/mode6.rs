//! The daemon side of mode 6 (`ntpq`, `ntpstat`): association IDs, the system and peer event
//! counters ntpd keeps in its status words, and the [`Snapshot`] a query is answered from,
//! built from the client's real sync state, its associations and the raw exchanges
//! ([`super::raw`]). The codec and the answer text are [`lvs_ntp::mode6`].
//!
//! Access control: a source whose restrict entry has `ignore` or `noquery` gets no answer
//! (counted as refused), as with ntpd; queries are not charged to the `limited` rate limit,
//! which governs time service only.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::collections::BTreeMap;

use lvs_core::Instant;
use lvs_ntp::client::discipline::ClockState;
use lvs_ntp::client::{Client, Event, MINDISP};
use lvs_ntp::mode6::{
    FilterStage, PeerStatus, PeerVars, Responder, Response, Select, Snapshot, SystemStatus,
    SystemVars, clock_source, peer_event, sys_event,
};
use lvs_ntp::server::SystemState;
use lvs_ntp::wire::{LeapIndicator, Refid};
use lvs_ntp::{NtpTimestamp, UnixNanos};
use rand_chacha::ChaCha20Rng;

use super::raw::RawSamples;

/// An event counter as ntpd keeps it: events modulo 16 and the last code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counter {
    count: u8,
    last: u8,
}

impl Counter {
    fn record(&mut self, code: u8) {
        self.count = (self.count + 1) & 0xf;
        self.last = code;
    }
}

#[derive(Clone, Copy, Debug)]
struct PeerTrack {
    id: u16,
    events: Counter,
    reachable: bool,
    /// Our address towards the server (what the kernel would pick).
    local: Option<SocketAddr>,
}

/// What the daemon tracks for mode 6.
#[derive(Debug)]
pub struct Control6 {
    responder: Responder,
    peers: BTreeMap<SocketAddr, PeerTrack>,
    next_id: u16,
    sys: Counter,
    state: Option<ClockState>,
    processor: String,
    system: String,
    version: String,
    /// Queries dropped by `restrict ... noquery` or `ignore`.
    pub refused: u64,
}

/// The daemon state a query reads.
pub struct View<'a> {
    /// The client, if any server is configured.
    pub client: Option<&'a Client<ChaCha20Rng>>,
    /// The `t` column per association (`p`: from a pool, not "configured").
    pub kinds: &'a [char],
    /// Raw exchanges.
    pub raw: &'a RawSamples,
    /// What the server side advertises now.
    pub served: SystemState,
    /// Serving the local clock while unsynchronised.
    pub local_stratum: Option<u8>,
    /// Monitor mode: offsets are measured against the raw clock.
    pub monitor: bool,
    /// Monotonic now.
    pub now: Instant,
    /// Wall-clock now.
    pub wall: UnixNanos,
}

impl Control6 {
    /// Tracking for `servers`, in configuration order; `drift` says whether the frequency came
    /// from a drift file (ntpd's first event: freq_set, else freq_not_set).
    pub fn new(servers: impl IntoIterator<Item = SocketAddr>, drift: bool) -> Self {
        let mut c = Self {
            responder: Responder::new(),
            peers: BTreeMap::new(),
            next_id: 1,
            sys: Counter::default(),
            state: None,
            processor: std::env::consts::ARCH.to_owned(),
            system: os_name(),
            version: format!("lvs-ntpd {}", env!("CARGO_PKG_VERSION")),
            refused: 0,
        };
        c.sys.record(if drift {
            sys_event::FREQ_SET
        } else {
            sys_event::FREQ_NOT_SET
        });
        c.set_servers(servers);
        c
    }

    /// Keeps the IDs of servers still configured, gives new servers fresh IDs, forgets the
    /// rest (after a reload).
    pub fn set_servers(&mut self, servers: impl IntoIterator<Item = SocketAddr>) {
        let mut kept = BTreeMap::new();
        for addr in servers {
            let track = self.peers.remove(&addr).unwrap_or_else(|| {
                let id = self.next_id;
                self.next_id = self.next_id.checked_add(1).unwrap_or(1);
                let mut events = Counter::default();
                events.record(peer_event::MOBILIZE);
                PeerTrack {
                    id,
                    events,
                    reachable: false,
                    local: local_address(addr),
                }
            });
            kept.insert(addr, track);
        }
        self.peers = kept;
    }

    /// Counts a client event.
    pub fn on_event(&mut self, ev: &Event) {
        let (server, code) = match *ev {
            Event::Step { .. } => return self.sys.record(sys_event::CLOCK_STEP),
            Event::Panic { .. } => return self.sys.record(sys_event::PANIC_STOP),
            Event::SystemPeer { server } => (server, peer_event::SYS_PEER),
            Event::Unreachable { server } => (server, peer_event::UNREACHABLE),
            Event::RateLimited { server, .. } => (server, peer_event::RATE_EXCEEDED),
            Event::Demobilised { server, .. } => (server, peer_event::ACCESS_DENIED),
            _ => return,
        };
        if let Some(p) = self.peers.get_mut(&server) {
            p.events.record(code);
            if code == peer_event::UNREACHABLE {
                p.reachable = false;
            }
        }
    }

    /// Notices discipline state changes and servers becoming reachable.
    pub fn observe(&mut self, client: &Client<ChaCha20Rng>, now: Instant) {
        let state = client.discipline().state();
        if self.state.is_some_and(|s| s != state) {
            self.sys.record(match state {
                ClockState::Nset => sys_event::FREQ_NOT_SET,
                ClockState::Fset => sys_event::FREQ_SET,
                ClockState::Freq => sys_event::FREQ_MODE,
                ClockState::Spike => sys_event::SPIKE_DETECT,
                ClockState::Sync => sys_event::CLOCK_SYNC,
            });
        }
        self.state = Some(state);
        for a in client.associations(now) {
            if let Some(p) = self.peers.get_mut(&a.addr)
                && a.reach != 0
                && !p.reachable
            {
                p.reachable = true;
                p.events.record(peer_event::REACHABLE);
            }
        }
    }

    /// Answers a mode-6 packet; `None` when it gets no answer.
    pub fn answer(&mut self, packet: &[u8], view: &View<'_>) -> Option<Response<'_>> {
        let peers = self.peer_vars(view);
        let system = SystemVars {
            processor: &self.processor,
            system: &self.system,
            version: &self.version,
            ..self.system_vars(view, &peers)
        };
        let snapshot = Snapshot {
            system,
            peers: &peers,
        };
        match self.responder.answer(packet, &snapshot) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::trace!("mode 6: ignored: {e}");
                None
            }
        }
    }

    /// The system variables; the strings are left empty for the caller to fill in.
    fn system_vars(&self, v: &View<'_>, peers: &[PeerVars]) -> SystemVars<'static> {
        let s = v.served;
        let local = !s.synchronized && v.local_stratum.is_some();
        let clock = NtpTimestamp::from_unix_nanos(v.wall);
        let (leap, source, stratum, refid, reference) = if s.synchronized {
            (s.leap, clock_source::NTP, s.stratum, s.refid, s.reference)
        } else if let Some(n) = v.local_stratum.filter(|_| local) {
            (
                LeapIndicator::NoWarning,
                clock_source::LOCAL,
                n,
                SystemState::LOCAL_REFID,
                clock,
            )
        } else {
            (
                LeapIndicator::Unsynchronized,
                clock_source::UNSPECIFIED,
                16,
                Refid::ZERO,
                NtpTimestamp::ZERO,
            )
        };
        let c = v.client;
        let peer = c
            .filter(|_| s.synchronized)
            .and_then(Client::system_peer)
            .and_then(|a| self.peers.get(&a))
            .map_or(0, |p| p.id);
        let (offset, sys_jitter) = c.and_then(Client::last_update).unwrap_or((0.0, 0.0));
        SystemVars {
            status: SystemStatus {
                leap,
                source,
                event_count: self.sys.count,
                last_event: self.sys.last,
            },
            stratum,
            precision: s.precision,
            root_delay: s.root_delay.as_secs_f64(),
            root_dispersion: s.root_dispersion.as_secs_f64(),
            refid,
            reference,
            clock,
            poll: c.map_or(6, |c| c.discipline().poll()),
            min_poll: peers.iter().map(|p| p.host_poll).min().unwrap_or(6),
            peer,
            offset,
            frequency: c.map_or(0.0, Client::frequency_ppm),
            sys_jitter,
            clk_jitter: c.map_or(0.0, |c| c.discipline().jitter()),
            clk_wander: c.map_or(0.0, |c| c.discipline().wander_ppm()),
            processor: "",
            system: "",
            version: "",
        }
    }

    fn peer_vars(&self, v: &View<'_>) -> Vec<PeerVars> {
        let Some(c) = v.client else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(c.association_count());
        for (i, a) in c.associations(v.now).enumerate() {
            let Some(track) = self.peers.get(&a.addr) else {
                continue;
            };
            let record = v.raw.server(a.addr);
            let last = record.and_then(|r| r.last);
            let (mut offset, mut delay) = (a.offset.unwrap_or(0.0), a.delay.unwrap_or(0.0));
            if v.monitor
                && let Some((o, d)) = v.raw.best(a.addr)
            {
                (offset, delay) = (o, d);
            }
            let root_delay = last.map_or(0.0, |l| l.root_delay);
            let root_dispersion = last.map_or(0.0, |l| l.root_dispersion);
            let jitter = a.jitter.unwrap_or(0.0);
            // Λ = max(Δ + δ, MINDISP)/2 + E + ε + ψ: the peer dispersion ε is what is left.
            let dispersion = a.root_distance.map_or(16.0, |d| {
                let half = (root_delay + a.delay.unwrap_or(0.0)).max(MINDISP) / 2.0;
                (d - half - root_dispersion - jitter).max(0.0)
            });
            let mut filter = [None; 8];
            if let Some(r) = record {
                for (slot, s) in filter.iter_mut().zip(r.stages.iter().rev()) {
                    *slot = Some(FilterStage {
                        delay: s.delay,
                        offset: s.offset,
                        dispersion: s.dispersion,
                    });
                }
            }
            let refid = match a.kiss {
                Some(k) => Refid::from_bytes(k.to_bytes()),
                None => a.refid,
            };
            out.push(PeerVars {
                association: track.id,
                status: PeerStatus {
                    configured: v.kinds.get(i).is_none_or(|&k| k != 'p'),
                    reachable: a.reach != 0,
                    select: Select::from(a.tally),
                    event_count: track.events.count,
                    last_event: track.events.last,
                },
                src: a.addr,
                dst: track.local,
                leap: last.map_or(LeapIndicator::Unsynchronized, |l| l.leap),
                host_mode: 3,
                peer_mode: if last.is_some() { 4 } else { 0 },
                stratum: a.stratum,
                peer_poll: last.map_or(a.poll, |l| l.poll),
                host_poll: a.poll,
                precision: last.map_or(0, |l| l.precision),
                root_delay,
                root_dispersion,
                refid,
                reference: last.map_or(NtpTimestamp::ZERO, |l| l.reference),
                received: last.map_or(NtpTimestamp::ZERO, |l| l.received),
                transmit: last.map_or(NtpTimestamp::ZERO, |l| l.transmit),
                reach: a.reach,
                unreach: record.map_or(0, |r| r.unanswered),
                delay,
                offset,
                jitter,
                dispersion,
                filter,
            });
        }
        out
    }
}

/// The local address the kernel picks towards `server` (no packet is sent).
fn local_address(server: SocketAddr) -> Option<SocketAddr> {
    let any: IpAddr = if server.is_ipv6() {
        core::net::Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    };
    let s = std::net::UdpSocket::bind(SocketAddr::new(any, 0)).ok()?;
    s.connect(server).ok()?;
    s.local_addr().ok()
}

/// `Linux/6.1.0`, as ntpd's `system` variable.
fn os_name() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    let name = read("/proc/sys/kernel/ostype");
    let name = if name.is_empty() {
        std::env::consts::OS.to_owned()
    } else {
        name
    };
    format!("{name}/{}", read("/proc/sys/kernel/osrelease"))
}

impl Control6 {
    /// The answer counters.
    pub fn stats(&self) -> lvs_ntp::mode6::Mode6Stats {
        self.responder.stats()
    }
}
