//! The scheduler interface: the director asks "which real server for this new flow?".
//!
//! The trait lives here so the director (in this crate) can call schedulers that `lvs-sched`
//! implements without a crate cycle. A scheduler owns the load counters it decides on: the
//! director reports every connection that is bound to or unbound from a destination and every
//! move between the active and inactive states, exactly where the kernel's IPVS updates
//! `activeconns` / `inactconns`. That lets a scheduler keep an index (a heap, a tree) in step with
//! the counters instead of scanning all destinations per pick.
//!
//! Destinations are kept in **list order** (the order they were added); every tie the kernel
//! breaks by "first in the list" is broken the same way.

use core::fmt;
use core::net::IpAddr;

use crate::Instant;

/// Identifies a destination (real server) inside one scheduler. Chosen by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DestId(pub u32);

impl fmt::Display for DestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dest#{}", self.0)
    }
}

/// IP protocol numbers the director schedules.
pub mod proto {
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// What a scheduler may look at in the packet that starts a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// IP protocol number (see [`proto`]).
    pub protocol: u8,
    /// Client address.
    pub src: IpAddr,
    /// Client port (0 for protocols without ports).
    pub src_port: u16,
    /// Virtual address the client sent to.
    pub dst: IpAddr,
    /// Virtual port.
    pub dst_port: u16,
    /// Firewall mark of the packet (0 when none).
    pub fwmark: u32,
}

impl Flow {
    /// A TCP flow with no firewall mark.
    pub fn tcp(src: IpAddr, src_port: u16, dst: IpAddr, dst_port: u16) -> Self {
        Self {
            protocol: proto::TCP,
            src,
            src_port,
            dst,
            dst_port,
            fwmark: 0,
        }
    }

    /// A UDP flow with no firewall mark.
    pub fn udp(src: IpAddr, src_port: u16, dst: IpAddr, dst_port: u16) -> Self {
        Self {
            protocol: proto::UDP,
            src,
            src_port,
            dst,
            dst_port,
            fwmark: 0,
        }
    }
}

/// A destination's configuration as `ipvsadm -a/-e` sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DestParams {
    /// Real server address (hash-based schedulers hash it, so every node agrees).
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
    /// Weight; 0 means quiesced: no new connections, existing ones kept.
    pub weight: u32,
    /// Upper connection threshold (0 = none): at or above it the destination is OVERLOADED.
    pub upper_threshold: u32,
    /// Lower connection threshold (0 = use 75 % of the upper one) for leaving OVERLOAD.
    pub lower_threshold: u32,
}

impl DestParams {
    /// A destination with the given weight and no thresholds.
    pub fn new(addr: IpAddr, port: u16, weight: u32) -> Self {
        Self {
            addr,
            port,
            weight,
            upper_threshold: 0,
            lower_threshold: 0,
        }
    }
}

/// Whether a connection counts as active or inactive for the scheduler.
///
/// New connections start inactive; the TCP state machine moves them to active in ES (and on
/// newer kernels SYN_SENT, SYN_RECV, SYNACK) and back when they leave. UDP flows stay inactive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnState {
    /// Counted in `activeconns` (weight 256 in the overhead).
    Active,
    /// Counted in `inactconns` (weight 1 in the overhead).
    Inactive,
}

/// A destination's load as the scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DestLoad {
    /// Current weight.
    pub weight: u32,
    /// Active connections.
    pub active: u32,
    /// Inactive connections.
    pub inactive: u32,
    /// Whether the OVERLOAD flag is set (upper/lower threshold hysteresis).
    pub overloaded: bool,
}

impl DestLoad {
    /// The kernel's `ip_vs_dest_conn_overhead`: active × 256 + inactive.
    pub fn overhead(&self) -> u64 {
        (u64::from(self.active) << 8) + u64::from(self.inactive)
    }
}

/// Misuse of a scheduler's configuration interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchedError {
    /// `add_dest` with an id that is already present.
    #[error("{0} already exists")]
    DuplicateDest(DestId),
    /// An operation named an id that is not present.
    #[error("{0} does not exist")]
    NoSuchDest(DestId),
    /// The scheduler cannot hold more destinations (e.g. Maglev needs N ≤ table size).
    #[error("too many destinations (limit {limit})")]
    TooManyDests {
        /// The limit that was hit.
        limit: usize,
    },
    /// A weight outside what the scheduler supports (IPVS allows 0..=i32::MAX).
    #[error("weight {0} out of range")]
    InvalidWeight(u32),
}

/// A virtual service's scheduler. Object safe: the director holds a `Box<dyn Scheduler>`.
///
/// Notifications for an id that is unknown (for example connections that outlive a removed
/// destination) are ignored: they can neither fail nor corrupt the counters of other
/// destinations.
pub trait Scheduler: fmt::Debug {
    /// The ipvsadm name (`rr`, `wlc`, `mh` ...).
    fn name(&self) -> &'static str;

    /// Add a destination at the end of the list.
    fn add_dest(&mut self, id: DestId, params: DestParams) -> Result<(), SchedError>;
    /// Remove a destination; its connections stay with the director, not the scheduler.
    fn remove_dest(&mut self, id: DestId) -> Result<(), SchedError>;
    /// Change a destination's weight (0 quiesces it).
    fn set_weight(&mut self, id: DestId, weight: u32) -> Result<(), SchedError>;
    /// Change the upper / lower connection thresholds (0 = none).
    fn set_thresholds(&mut self, id: DestId, upper: u32, lower: u32) -> Result<(), SchedError>;

    /// A new connection was bound to `id` in `state`.
    fn conn_bound(&mut self, id: DestId, state: ConnState);
    /// A connection in `state` was unbound from `id` (expired or removed).
    fn conn_unbound(&mut self, id: DestId, state: ConnState);
    /// A connection bound to `id` moved between active and inactive.
    fn conn_changed(&mut self, id: DestId, from: ConnState, to: ConnState);

    /// Choose the destination for a new flow, or `None` when no destination may take it.
    fn pick(&mut self, flow: &Flow, now: Instant) -> Option<DestId>;

    /// The load counters of `id`.
    fn load(&self, id: DestId) -> Option<DestLoad>;
    /// Destination ids in list order.
    fn dests(&self) -> Vec<DestId>;
}
