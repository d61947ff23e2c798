//! The director: what the kernel's IPVS does per packet, as a Sans-IO component.
//!
//! A [`Director`] holds virtual services (each with its own [`Scheduler`]), real servers with a
//! forwarding method each, and the connection table. The shell hands it every frame it captures
//! (AF_PACKET, AF_XDP, DPDK, a test) with [`Director::process`], and gets a [`Verdict`] back:
//! send the (rewritten) frame to a next hop, pass it to the local stack, or drop it with a typed
//! reason. Time enters as `now`; connection expiry runs in [`Director::handle_timeout`], due at
//! [`Director::poll_timeout`].
//!
//! Per packet, as IPVS does:
//! 1. parse; an ICMP error is matched to the connection of the packet it quotes;
//! 2. a packet from a NAT real server to a client is a reply: source NAT back to the virtual
//!    service;
//! 3. otherwise find the virtual service (fwmark, exact address and port, port 0); no service
//!    means the packet is not ours ([`Verdict::Local`]);
//! 4. find the connection; none and the packet may start one (TCP SYN, any UDP or SCTP): use a
//!    valid persistence template or ask the scheduler, and insert the connection;
//! 5. move the TCP state (INPUT, OUTPUT or INPUT_ONLY table), re-arm the timer, count, and
//!    forward by the real server's method: NAT (destination NAT), DR (MAC rewrite, the frame is
//!    otherwise unchanged), TUN (IPIP encapsulation, with ICMP fragmentation-needed / packet too
//!    big when the encapsulated packet would exceed the MTU).
//!
//! Real servers have a life cycle: active, quiesced (weight 0: no new connections), draining
//! (quiesced with a deadline, then removed) and removed. After [`Director::remove_real`]
//! returns, no packet is forwarded to that server again: TCP packets of its connections are
//! dropped (and the connection expired), UDP flows are scheduled again.

mod admin;
mod batch;
mod forward;
mod process;
mod stats;
pub mod testing;
mod tunnel;

use core::net::IpAddr;
use core::time::Duration;

use rustc_hash::FxHashMap as HashMap;

pub use admin::AdminError;
pub use stats::{
    ConnListing, Counters, ESTIMATOR_PERIOD, Estimator, Rates, RealStats, ServiceStats,
};

use crate::conntrack::{ConnTable, TcpTimeouts};
use crate::service::{AddrKey, Persistence, ServiceId, ServiceKey, ServiceTable};
use crate::{Instant, Scheduler};

/// How packets reach a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Forward {
    /// Masquerading: destination NAT in, source NAT on the replies (which must come back
    /// through the director).
    Nat,
    /// Direct routing: the frame goes unchanged to the real server's MAC; replies bypass the
    /// director.
    Dr,
    /// IP-in-IP tunnelling to the real server; replies bypass the director.
    Tun,
}

/// The encapsulation of a TUN real server (`ipvsadm --tun-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TunnelType {
    /// IP in IP: protocol 4 (IPv4 inside) or 41 (IPv6 inside).
    #[default]
    Ipip,
    /// Generic UDP Encapsulation to the real server's `port` (`--tun-port`).
    Gue {
        /// The UDP port the real server decapsulates on.
        port: u16,
    },
}

/// What happens to a UDP flow's scheduler accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UdpAccounting {
    /// The kernel's rule: UDP connections are always inactive (so a drain that waits for zero
    /// active connections never waits for UDP, and least-connection schedulers weigh a UDP flow
    /// as 1/256 of a TCP one).
    #[default]
    Kernel,
    /// Opt-in fix: a UDP flow counts as active while it has seen a packet within `idle`, and
    /// inactive after that until its next packet.
    Activity {
        /// How long after its last packet a UDP flow stops counting as active.
        idle: Duration,
    },
}

/// The `drop_packet` defence: refuse a share of new connections as the table fills, before it
/// is full (IPVS drops 1 in `rate` new-connection packets while memory is short).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DropPacket {
    /// Never (the kernel's default, `drop_packet=0`).
    #[default]
    Off,
    /// While fewer than `max_conns / 16` slots are free, drop 1 in `threshold / (threshold −
    /// free)` new connections: rarely at first, every one when the table is full
    /// (`drop_packet=1`, with free table slots in place of free memory).
    Auto,
    /// Always drop 1 in `rate` new connections (`drop_packet=3` with `am_droprate`).
    Always {
        /// One new connection in this many is dropped (0 = none).
        rate: u32,
    },
}

/// Director-wide settings (the `ipvsadm --set` and sysctl knobs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectorConfig {
    /// Hard bound on tracked connections and templates.
    pub max_conns: usize,
    /// Connections to size the connection table for up front (IPVS sizes its table once, by
    /// `conn_tab_bits`): the index and the entries (52 bytes each) are allocated at creation,
    /// so filling up to this many never rebuilds the index nor allocates. 0 starts small.
    /// Either way the table grows incrementally beyond it, up to `max_conns`.
    pub expected_conns: usize,
    /// TCP state timeouts (`--set tcp tcpfin` changes ES and FIN_WAIT).
    pub tcp: TcpTimeouts,
    /// UDP timeout (`--set ... udp`, default 300 s).
    pub udp_timeout: Duration,
    /// SCTP timeout for every state (the director tracks SCTP as one state).
    pub sctp_timeout: Duration,
    /// `secure_tcp`: the defensive TCP tables.
    pub secure_tcp: bool,
    /// `expire_quiescent_template`: templates pointing at weight-0 servers are invalid.
    pub expire_quiescent_template: bool,
    /// UDP accounting policy.
    pub udp_accounting: UdpAccounting,
    /// The director's MAC address (source of DR frames).
    pub mac: [u8; 6],
    /// Source address of IPIP tunnels (IPv4).
    pub tunnel_source_v4: Option<IpAddr>,
    /// MTU of the path to the real servers (for tunnels).
    pub mtu: u16,
    /// Source address of tunnels to IPv6 real servers.
    pub tunnel_source_v6: Option<IpAddr>,
    /// The `drop_packet` defence.
    pub drop_packet: DropPacket,
    /// `conn_reuse_mode` (bitmap, kernel default 1): a SYN that finds an existing TCP
    /// connection not controlled by a persistence template expires it and is scheduled
    /// afresh when the connection is in TIME_WAIT or CLOSE (bit 1), or in FIN_WAIT with no
    /// output (DR/TUN's last state, bit 2). 0 keeps the old real server for reused ports.
    pub conn_reuse_mode: u8,
}

impl Default for DirectorConfig {
    fn default() -> Self {
        Self {
            max_conns: 1 << 20,
            expected_conns: 0,
            tcp: TcpTimeouts::default(),
            udp_timeout: Duration::from_secs(300),
            sctp_timeout: Duration::from_secs(900),
            secure_tcp: false,
            expire_quiescent_template: false,
            udp_accounting: UdpAccounting::Kernel,
            mac: [0x02, 0, 0, 0, 0, 0xfe],
            tunnel_source_v4: None,
            mtu: 1500,
            tunnel_source_v6: None,
            drop_packet: DropPacket::Off,
            conn_reuse_mode: 1,
        }
    }
}

/// A virtual service's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceConfig {
    /// How the service is addressed.
    pub key: ServiceKey,
    /// Client persistence, if any (required for port-0 services).
    pub persistence: Option<Persistence>,
    /// One-packet scheduling (`-o`, UDP): every datagram is scheduled on its own.
    pub one_packet: bool,
}

impl ServiceConfig {
    /// A service without persistence or one-packet scheduling (`ipvsadm -A` with defaults).
    pub fn new(key: ServiceKey) -> Self {
        Self {
            key,
            persistence: None,
            one_packet: false,
        }
    }
}

/// A real server's settings (`ipvsadm -a/-e`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealConfig {
    /// Address.
    pub addr: IpAddr,
    /// Port (NAT may differ from the virtual port; DR and TUN keep the client's port).
    pub port: u16,
    /// Weight (0 = quiesced).
    pub weight: u32,
    /// Upper connection threshold (0 = none).
    pub upper: u32,
    /// Lower connection threshold (0 = none).
    pub lower: u32,
    /// Forwarding method.
    pub forward: Forward,
    /// The real server's MAC, when the shell knows it (DR rewrites the destination MAC to it).
    pub mac: Option<[u8; 6]>,
    /// The encapsulation when `forward` is [`Forward::Tun`].
    pub tunnel: TunnelType,
}

impl RealConfig {
    /// A NAT real server with weight 1.
    pub fn nat(addr: IpAddr, port: u16) -> Self {
        Self {
            addr,
            port,
            weight: 1,
            upper: 0,
            lower: 0,
            forward: Forward::Nat,
            mac: None,
            tunnel: TunnelType::Ipip,
        }
    }
}

/// Identifies a real server inside a [`Director`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RealId(pub u32);

/// A real server's life-cycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RealState {
    /// Takes new connections (weight > 0).
    Active,
    /// Weight 0: keeps its connections, takes no new ones.
    Quiesced,
    /// Quiesced until `deadline`, then removed.
    Draining {
        /// When the server is removed.
        deadline: Instant,
    },
    /// Gone: no packet is forwarded to it.
    Removed,
}

/// What to do with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the frame (rewritten in place; `len` bytes of the buffer) towards `next_hop`.
    Forward {
        /// The IP next hop: the real server (NAT, DR, TUN) or the client (NAT replies).
        next_hop: IpAddr,
        /// Length of the frame to send.
        len: usize,
    },
    /// Not for the director's data plane: hand it to the local stack.
    Local,
    /// The buffer now holds an ICMP error for the sender (e.g. fragmentation needed); send it
    /// back where the frame came from.
    Reply {
        /// Length of the reply frame.
        len: usize,
    },
    /// Drop it, for the reason given.
    Drop(DropReason),
}

/// Why a frame was dropped. Each has a counter in [`Director::drops`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum DropReason {
    /// The frame did not parse.
    Malformed = 0,
    /// A fragment (IPVS needs reassembly first; we do not reassemble).
    Fragment,
    /// No real server may take the new connection.
    NoDestination,
    /// The connection table is full and nothing could be evicted.
    TableFull,
    /// The connection's real server was removed.
    RealRemoved,
    /// TTL or hop limit expired.
    TtlExpired,
    /// A header rewrite was refused (family mismatch, truncation).
    Rewrite,
    /// The tunnel could not be built (no tunnel source for the real server's family).
    Tunnel,
    /// Refused by the `drop_packet` defence.
    Defense,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [Self; 9] = [
        Self::Malformed,
        Self::Fragment,
        Self::NoDestination,
        Self::TableFull,
        Self::RealRemoved,
        Self::TtlExpired,
        Self::Rewrite,
        Self::Tunnel,
        Self::Defense,
    ];
}

pub(crate) struct ServiceSlot {
    pub(crate) config: ServiceConfig,
    pub(crate) sched: Box<dyn Scheduler>,
    pub(crate) reals: Vec<RealId>,
    /// The interned virtual address of an address service (fwmark services learn theirs).
    pub(crate) vip: Option<u16>,
    pub(crate) quiesce_server: bool,
    pub(crate) stats: Counters,
    pub(crate) est: Estimator,
}

pub(crate) struct RealSlot {
    pub(crate) svc: ServiceId,
    pub(crate) config: RealConfig,
    pub(crate) state: RealState,
    pub(crate) stats: Counters,
    pub(crate) est: Estimator,
    pub(crate) active: u32,
    pub(crate) inactive: u32,
    pub(crate) persistent: u32,
    /// Entries (connections and templates, counted or not) that name this real server.
    pub(crate) refs: u32,
}

/// The director. See the [module docs](self).
pub struct Director {
    config: DirectorConfig,
    services: ServiceTable,
    slots: Vec<Option<ServiceSlot>>,
    reals: Vec<Option<RealSlot>>,
    by_addr: HashMap<AddrKey, Vec<RealId>>,
    vips: Vec<IpAddr>,
    vip_index: HashMap<AddrKey, u16>,
    conns: ConnTable,
    drops: [u64; DropReason::ALL.len()],
    scratch: Vec<crate::conntrack::Conn>,
    drop_counter: u32,
    /// Folds the values read while warming the cache for a batch, so the reads stay.
    warm_sink: u32,
    last_now: Instant,
    /// The ESTABLISHED deadline tick for `es_deadline.0`: the hit path refreshes with it, and
    /// packets sharing a `now` (a batch) compute it once.
    es_deadline: (Instant, u32),
    next_estimate: Instant,
}

impl core::fmt::Debug for Director {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Director")
            .field("services", &self.services.len())
            .field("conns", &self.conns.len())
            .finish_non_exhaustive()
    }
}

impl Director {
    /// A director with no services. `rng` seeds the connection table's hash key.
    pub fn new<R: crate::rng::Rng + ?Sized>(
        config: DirectorConfig,
        rng: &mut R,
        now: Instant,
    ) -> Self {
        Self {
            conns: ConnTable::with_capacity(config.max_conns, config.expected_conns, rng, now),
            config,
            services: ServiceTable::new(),
            slots: Vec::new(),
            reals: Vec::new(),
            by_addr: HashMap::default(),
            vips: Vec::new(),
            vip_index: HashMap::default(),
            drops: [0; DropReason::ALL.len()],
            scratch: Vec::new(),
            drop_counter: 0,
            warm_sink: 0,
            last_now: now,
            es_deadline: (
                now,
                ConnTable::deadline(now, config.tcp.get(crate::conntrack::TcpState::Established)),
            ),
            next_estimate: now + ESTIMATOR_PERIOD,
        }
    }

    /// The settings.
    pub fn config(&self) -> &DirectorConfig {
        &self.config
    }

    /// `ipvsadm --set tcp tcpfin udp`: the ESTABLISHED, FIN_WAIT and UDP timeouts; a zero
    /// leaves that one unchanged, as ipvsadm does. Applies to every later packet (each packet
    /// re-arms its connection with the timeout of its state).
    pub fn set_timeouts(&mut self, tcp: Duration, tcpfin: Duration, udp: Duration) {
        if !tcp.is_zero() {
            self.config
                .tcp
                .set(crate::conntrack::TcpState::Established, tcp);
        }
        if !tcpfin.is_zero() {
            self.config
                .tcp
                .set(crate::conntrack::TcpState::FinWait, tcpfin);
        }
        if !udp.is_zero() {
            self.config.udp_timeout = udp;
        }
        let now = self.es_deadline.0;
        self.es_deadline.1 = ConnTable::deadline(
            now,
            self.config.tcp.get(crate::conntrack::TcpState::Established),
        );
    }

    /// Drops per reason, in [`DropReason::ALL`] order.
    pub fn drops(&self) -> &[u64] {
        &self.drops
    }

    /// The drop counter of one reason.
    pub fn drop_count(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// Number of tracked connections and templates.
    pub fn conn_count(&self) -> usize {
        self.conns.len()
    }

    /// The next time [`Director::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let drain = self
            .reals
            .iter()
            .flatten()
            .filter_map(|r| match r.state {
                RealState::Draining { deadline } => Some(deadline),
                _ => None,
            })
            .min();
        let estimate = (!self.services.is_empty()).then_some(self.next_estimate);
        [self.conns.poll_timeout(), drain, estimate]
            .into_iter()
            .flatten()
            .min()
    }

    fn vip_id(&mut self, addr: IpAddr) -> u16 {
        if let Some(&i) = self.vip_index.get(&AddrKey::new(0, addr, 0)) {
            return i;
        }
        let i = u16::try_from(self.vips.len()).unwrap_or(u16::MAX);
        if i < u16::MAX {
            self.vips.push(addr);
            self.vip_index.insert(AddrKey::new(0, addr, 0), i);
        }
        i
    }
}
