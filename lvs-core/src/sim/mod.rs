//! A deterministic multi-node network in virtual time, for scenario tests of Sans-IO machines.
//!
//! A [`Sim`] holds any number of nodes, each an arbitrary [`StateMachine`] with a name and one or
//! more IP addresses, and a heap of in-flight packets ordered by (arrival time, sequence
//! number). Time is virtual: it starts at [`Instant::ZERO`] and jumps from one event to the next,
//! so a simulated hour takes milliseconds and every run with the same seed produces the same
//! [log](Sim::log_text), byte for byte.
//!
//! # Stepping
//!
//! One step either delivers the earliest in-flight packet or fires the earliest node deadline
//! ([`StateMachine::poll_timeout`]), whichever is earlier; on a tie packets go first, then nodes
//! in the order they were added. A deadline in the past fires at the current time. After every
//! call into a machine the harness applies the drain rule: it drains `poll_transmit` and
//! `poll_event` until both are empty (routing the packets and logging the events), and the next
//! deadline is read from `poll_timeout` when the next step is chosen. [Invariants](Sim::add_invariant)
//! run after every step, and a [step budget](StepBudget) turns a livelock into a clear panic.
//!
//! Drive it with [`Sim::run_until`], [`Sim::run_for`] and [`Sim::run_until_cond`] (which all
//! advance the clock to their limit even when nothing happens), or one [`Sim::step`] at a time.
//!
//! # The network
//!
//! * **Routing** is by destination IP. A unicast address goes to the node that owns it; a
//!   multicast address (IPv4 224.0.0.0/4, IPv6 ff00::/8) goes to every node that
//!   [joined](Sim::join) the group except the sender; any other destination is dropped and
//!   logged ([`DropReason::NoRoute`]). Routing, partitions, MTU and loss are decided when the
//!   packet is sent; a transmit without a source address is sent from the node's first address
//!   of the destination's family, with the destination's port.
//! * **Links** ([`LinkConfig`]): a default plus overrides per ordered pair of nodes, with
//!   latency, jitter, loss, duplication, reordering and MTU. Random draws come from one
//!   network RNG ([`ChaCha8Rng`] seeded with the simulation seed).
//! * **Partitions**: [`Sim::partition`] splits the nodes into groups that cannot reach each
//!   other until [`Sim::heal`].
//!
//! # Node life cycle
//!
//! * [`Sim::add_node`] takes a factory closure; it receives a [`Boot`] with the node's own RNG
//!   stream (seeded with [`derive_seed`]`(seed, node_index)`) and builds the machine.
//! * [`Sim::kill`] drops the machine. Packets it sent that are still in flight are dropped
//!   ([`DropReason::SenderKilled`]) and packets that reach it while dead are dropped
//!   ([`DropReason::NodeDown`]). Its multicast memberships and addresses stay configured.
//! * [`Sim::freeze`] stops the node as `SIGSTOP` would: no datagrams or timeouts are delivered.
//!   Packets that arrive while it is frozen are **queued** (like a socket receive buffer, up to
//!   [`FROZEN_QUEUE_CAPACITY`] packets, then [`DropReason::FrozenQueueFull`]). [`Sim::thaw`]
//!   delivers the queue at the thaw time, in arrival order, and then its overdue timers fire late,
//!   at the thaw time, as after a real `SIGCONT`.
//! * [`Sim::restart`] drops the machine (as [`Sim::kill`]) and builds a new one from the factory
//!   with the next incarnation number and a fresh RNG stream
//!   (`derive_seed(derive_seed(seed, index), incarnation)`).
//!
//! # Replaying a failure
//!
//! [`Sim::new`] prints `sim seed = N` to stderr; [`Sim::from_env_or`] takes the seed from the
//! `LVS_SIM_SEED` environment variable when it is set, so `LVS_SIM_SEED=N cargo test ...`
//! replays a failing run exactly. Invariant and budget failures include the seed and the tail of
//! the log.
//!
//! # Example: two nodes
//!
//! ```
//! use core::time::Duration;
//! use lvs_core::sim::{LinkConfig, Sim};
//! use lvs_core::{Datagram, Instant, StateMachine, Transmit};
//! use std::net::SocketAddr;
//!
//! /// Pings `peer` once a second (if it has one) and echoes every ping it receives.
//! struct Ping { peer: Option<SocketAddr>, next: Instant, out: Vec<Transmit>, replies: Vec<Instant> }
//!
//! impl StateMachine for Ping {
//!     type Event = Instant;
//!     type Timer = &'static str;
//!     fn handle_datagram(&mut self, now: Instant, d: Datagram) {
//!         if &d.payload[..] == b"ping" {
//!             self.out.push(Transmit::new(d.src, &b"pong"[..]));
//!         } else {
//!             self.replies.push(now);
//!         }
//!     }
//!     fn handle_timeout(&mut self, now: Instant) {
//!         if let Some(peer) = self.peer && now >= self.next {
//!             self.out.push(Transmit::new(peer, &b"ping"[..]));
//!             self.next = now + Duration::from_secs(1);
//!         }
//!     }
//!     fn poll_transmit(&mut self) -> Option<Transmit> { self.out.pop() }
//!     fn poll_event(&mut self) -> Option<Instant> { self.replies.pop() }
//!     fn poll_timeout(&self) -> Option<(Instant, &'static str)> {
//!         self.peer.map(|_| (self.next, "ping"))
//!     }
//! }
//!
//! let mut sim = Sim::new(7);
//! sim.set_default_link(LinkConfig::latency(Duration::from_millis(10)));
//! let b_addr: SocketAddr = "10.0.0.2:9".parse().unwrap();
//! let a = sim.add_node("a", ["10.0.0.1".parse().unwrap()], move |boot| Ping {
//!     peer: Some(b_addr), next: boot.now, out: vec![], replies: vec![],
//! });
//! let b = sim.add_node("b", [b_addr.ip()], |boot| Ping {
//!     peer: None, next: boot.now, out: vec![], replies: vec![],
//! });
//!
//! sim.run_until(Instant::from_millis(2500));
//! // Pings at 0 s, 1 s and 2 s; each pong is back 20 ms later.
//! let rtts: Vec<Instant> = sim.take_events::<Ping>(a);
//! assert_eq!(rtts, [Instant::from_millis(20), Instant::from_millis(1020), Instant::from_millis(2020)]);
//! assert!(sim.take_events::<Ping>(b).is_empty());
//! assert_eq!(sim.now(), Instant::from_millis(2500));
//! assert!(sim.log_text().starts_with("0.000000000s boot a incarnation=0\n"));
//! ```

mod link;
mod log;
mod node;
mod run;

use core::cmp::{Ordering, Reverse};
use core::fmt;
use core::net::IpAddr;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};

pub use link::LinkConfig;
pub use log::{DropReason, LogEntry, LogKind};
pub use node::{Boot, NodeId};
/// The RNG type of the network and of every node stream.
pub use rand_chacha::ChaCha8Rng;

use crate::rng::derive_seed;
use crate::{Datagram, Instant, StateMachine};
use link::Partitions;
use log::Log;
use node::{ErasedNode, Typed};

/// How many packets a frozen node queues before further arrivals are dropped.
pub const FROZEN_QUEUE_CAPACITY: usize = 4096;

/// How many log lines a failure message shows.
const FAILURE_TAIL: usize = 40;

/// Limits that turn a livelock into a panic instead of a hang.
///
/// ```
/// use lvs_core::sim::StepBudget;
/// let b = StepBudget::default();
/// assert!(b.per_instant < b.total);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepBudget {
    /// Most steps allowed at one virtual instant.
    pub per_instant: u64,
    /// Most steps allowed over the simulation's life.
    pub total: u64,
}

impl Default for StepBudget {
    /// 100 000 steps at one instant, 50 million in total.
    fn default() -> Self {
        Self {
            per_instant: 100_000,
            total: 50_000_000,
        }
    }
}

/// Where an [injected](Sim::inject) datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Straight to this node, whatever the datagram's destination says.
    Node(NodeId),
    /// Routed by this address: its owner, or every member of a multicast group.
    Addr(IpAddr),
}

impl From<NodeId> for Target {
    fn from(id: NodeId) -> Self {
        Self::Node(id)
    }
}

impl From<IpAddr> for Target {
    fn from(ip: IpAddr) -> Self {
        Self::Addr(ip)
    }
}

/// A named check run after every step.
type InvariantFn = Box<dyn Fn(&Sim) -> Result<(), String>>;

struct Invariant {
    name: String,
    check: InvariantFn,
}

/// One node: its machine (type-erased) and the harness's view of it.
struct Slot {
    name: String,
    addrs: Vec<IpAddr>,
    node: Box<dyn ErasedNode>,
    incarnation: u32,
    frozen: bool,
    /// Packets that arrived while frozen, in arrival order.
    queue: VecDeque<InFlight>,
    /// Changed through [`Sim::node_mut`]: drain before the next step.
    dirty: bool,
}

/// A packet on its way to one node.
struct InFlight {
    at: Instant,
    /// Heap order among equal arrival times (FIFO).
    seq: u64,
    /// The log's packet number (shared by duplicates).
    packet: u64,
    from: Option<NodeId>,
    to: NodeId,
    datagram: Datagram,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for InFlight {}

impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The deterministic simulation: nodes, links, in-flight packets, virtual clock and log.
///
/// See the [module documentation](self) for the model and an example.
pub struct Sim {
    seed: u64,
    now: Instant,
    rng: ChaCha8Rng,
    nodes: Vec<Slot>,
    owners: BTreeMap<IpAddr, NodeId>,
    groups: BTreeMap<IpAddr, BTreeSet<NodeId>>,
    default_link: LinkConfig,
    links: BTreeMap<(NodeId, NodeId), LinkConfig>,
    partitions: Partitions,
    heap: BinaryHeap<Reverse<InFlight>>,
    next_seq: u64,
    next_packet: u64,
    log: Log,
    invariants: Vec<Invariant>,
    budget: StepBudget,
    steps_total: u64,
    steps_here: u64,
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.seed)
            .field("now", &self.now)
            .field("nodes", &self.nodes.len())
            .field("in_flight", &self.heap.len())
            .field("log_entries", &self.log.entries().len())
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// An empty network at [`Instant::ZERO`]; prints `sim seed = N` to stderr.
    pub fn new(seed: u64) -> Self {
        use rand_core::SeedableRng as _;
        eprintln!("sim seed = {seed}");
        Self {
            seed,
            now: Instant::ZERO,
            rng: ChaCha8Rng::seed_from_u64(seed),
            nodes: Vec::new(),
            owners: BTreeMap::new(),
            groups: BTreeMap::new(),
            default_link: LinkConfig::default(),
            links: BTreeMap::new(),
            partitions: Partitions::default(),
            heap: BinaryHeap::new(),
            next_seq: 0,
            next_packet: 0,
            log: Log::default(),
            invariants: Vec::new(),
            budget: StepBudget::default(),
            steps_total: 0,
            steps_here: 0,
        }
    }

    /// [`Sim::new`] with the seed from `LVS_SIM_SEED` (decimal, or hex with `0x`) when that
    /// variable is set, else `seed`.
    ///
    /// # Panics
    /// When `LVS_SIM_SEED` is set but is not a `u64`: a replay must not silently run another
    /// seed.
    pub fn from_env_or(seed: u64) -> Self {
        match std::env::var("LVS_SIM_SEED") {
            Ok(s) => match parse_seed(&s) {
                Some(seed) => Self::new(seed),
                None => panic!("LVS_SIM_SEED={s:?} is not a u64 seed"),
            },
            Err(_) => Self::new(seed),
        }
    }

    /// The seed this simulation was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Replace the step budget.
    pub fn set_step_budget(&mut self, budget: StepBudget) {
        self.budget = budget;
    }

    /// Add a node running machine `M`, built now by `factory` (and again at every restart).
    ///
    /// # Panics
    /// When `name` is already taken, or an address is multicast or already owned by a node
    /// (use [`Sim::add_addr`] to move an address).
    pub fn add_node<M, F>(
        &mut self,
        name: &str,
        addrs: impl IntoIterator<Item = IpAddr>,
        factory: F,
    ) -> NodeId
    where
        M: StateMachine + 'static,
        M::Event: 'static,
        F: FnMut(Boot) -> M + 'static,
    {
        assert!(
            self.find(name).is_none(),
            "sim: a node named {name:?} already exists"
        );
        let id = NodeId(self.nodes.len());
        let addrs: Vec<IpAddr> = addrs.into_iter().collect();
        for &ip in &addrs {
            assert!(
                !ip.is_multicast(),
                "sim: {ip} is multicast; use join() for groups"
            );
            if let Some(&owner) = self.owners.get(&ip) {
                panic!("sim: {ip} already belongs to {}", self.name(owner));
            }
            self.owners.insert(ip, id);
        }
        self.nodes.push(Slot {
            name: name.to_owned(),
            addrs,
            node: Box::new(Typed::new(Box::new(factory))),
            incarnation: 0,
            frozen: false,
            queue: VecDeque::new(),
            dirty: false,
        });
        self.boot(id);
        id
    }

    /// Every node's id, in insertion order.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + use<> {
        (0..self.nodes.len()).map(NodeId)
    }

    /// The node called `name`.
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|s| s.name == name).map(NodeId)
    }

    /// The node's name.
    pub fn name(&self, id: NodeId) -> &str {
        &self.slot(id).name
    }

    /// The node's unicast addresses.
    pub fn addrs(&self, id: NodeId) -> &[IpAddr] {
        &self.slot(id).addrs
    }

    /// Whether the node has a machine (not killed).
    pub fn is_alive(&self, id: NodeId) -> bool {
        self.slot(id).node.is_alive()
    }

    /// Whether the node is frozen.
    pub fn is_frozen(&self, id: NodeId) -> bool {
        self.slot(id).frozen
    }

    /// How often the node has been restarted.
    pub fn incarnation(&self, id: NodeId) -> u32 {
        self.slot(id).incarnation
    }

    /// The number of packets in flight (not counting packets queued at frozen nodes).
    pub fn in_flight(&self) -> usize {
        self.heap.len()
    }

    /// The node's machine, if it is alive and of type `M`.
    pub fn try_node<M: StateMachine + 'static>(&self, id: NodeId) -> Option<&M>
    where
        M::Event: 'static,
    {
        self.nodes
            .get(id.0)?
            .node
            .as_any()
            .downcast_ref::<Typed<M>>()?
            .machine
            .as_ref()
    }

    /// The node's machine.
    ///
    /// # Panics
    /// When the node is dead or its machine is not an `M`.
    pub fn node<M: StateMachine + 'static>(&self, id: NodeId) -> &M
    where
        M::Event: 'static,
    {
        let machine = self.typed::<M>(id).machine.as_ref();
        machine.unwrap_or_else(|| panic!("sim: node {} is dead", self.name(id)))
    }

    /// The node's machine, mutably. Transmits and events it queues are drained at the current
    /// time before the next step; prefer [`Sim::with_node`], which drains at once.
    ///
    /// # Panics
    /// When the node is dead or its machine is not an `M`.
    pub fn node_mut<M: StateMachine + 'static>(&mut self, id: NodeId) -> &mut M
    where
        M::Event: 'static,
    {
        self.typed::<M>(id);
        let slot = &mut self.nodes[id.0];
        slot.dirty = true;
        let typed = slot.node.as_any_mut().downcast_mut::<Typed<M>>();
        match typed.and_then(|t| t.machine.as_mut()) {
            Some(m) => m,
            None => panic!("sim: node {} is dead", slot.name),
        }
    }

    /// The events the node emitted so far (across restarts), without taking them.
    ///
    /// # Panics
    /// When the node's machine is not an `M`.
    pub fn events<M: StateMachine + 'static>(&self, id: NodeId) -> &[M::Event]
    where
        M::Event: 'static,
    {
        &self.typed::<M>(id).events
    }

    /// Take the events the node emitted since the last call (across restarts).
    ///
    /// # Panics
    /// When the node's machine is not an `M`.
    pub fn take_events<M: StateMachine + 'static>(&mut self, id: NodeId) -> Vec<M::Event>
    where
        M::Event: 'static,
    {
        self.typed::<M>(id);
        let typed = self.nodes[id.0]
            .node
            .as_any_mut()
            .downcast_mut::<Typed<M>>();
        typed
            .map(|t| core::mem::take(&mut t.events))
            .unwrap_or_default()
    }

    /// Use `default` for every pair of nodes without an override.
    pub fn set_default_link(&mut self, default: LinkConfig) {
        self.default_link = default;
    }

    /// Override the link from `from` to `to` (one direction).
    pub fn set_link(&mut self, from: NodeId, to: NodeId, config: LinkConfig) {
        self.links.insert((from, to), config);
    }

    /// Override the link between `a` and `b` in both directions.
    pub fn set_link_both(&mut self, a: NodeId, b: NodeId, config: LinkConfig) {
        self.set_link(a, b, config);
        self.set_link(b, a, config);
    }

    /// Remove the override from `from` to `to`.
    pub fn clear_link(&mut self, from: NodeId, to: NodeId) {
        self.links.remove(&(from, to));
    }

    /// The link in effect from `from` to `to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> LinkConfig {
        self.links
            .get(&(from, to))
            .copied()
            .unwrap_or(self.default_link)
    }

    /// Split the network: each slice is a group; nodes in no slice form one more group. Packets
    /// sent between groups are dropped ([`DropReason::Partition`]); packets already in flight
    /// still arrive. Replaces any earlier partition.
    pub fn partition(&mut self, groups: &[&[NodeId]]) {
        self.partitions.split(self.nodes.len(), groups);
        let mut text = String::from("partition");
        for g in groups {
            let names: Vec<&str> = g.iter().map(|&id| self.name(id)).collect();
            text.push_str(&format!(" [{}]", names.join(" ")));
        }
        self.log.push(self.now, LogKind::Partition, text);
    }

    /// Reconnect every partition.
    pub fn heal(&mut self) {
        self.partitions.heal();
        self.log.push(self.now, LogKind::Heal, "heal".to_owned());
    }

    /// Whether a packet sent now from `a` would pass the partitions to `b`.
    pub fn connected(&self, a: NodeId, b: NodeId) -> bool {
        self.partitions.connected(a, b)
    }

    /// Make `id` a member of multicast `group`.
    ///
    /// # Panics
    /// When `group` is not a multicast address.
    pub fn join(&mut self, id: NodeId, group: IpAddr) {
        assert!(group.is_multicast(), "sim: join({group}): not multicast");
        self.slot(id);
        self.groups.entry(group).or_default().insert(id);
        let text = format!("join {} {group}", self.name(id));
        self.log.push(self.now, LogKind::Join, text);
    }

    /// Remove `id` from multicast `group` (a no-op when it is not a member).
    pub fn leave(&mut self, id: NodeId, group: IpAddr) {
        if let Some(members) = self.groups.get_mut(&group) {
            members.remove(&id);
        }
        let text = format!("leave {} {group}", self.name(id));
        self.log.push(self.now, LogKind::Leave, text);
    }

    /// The members of multicast `group`.
    pub fn members(&self, group: IpAddr) -> impl Iterator<Item = NodeId> + '_ {
        self.groups.get(&group).into_iter().flatten().copied()
    }

    /// Route unicast `ip` to `id` from now on, taking it from its previous owner if any (as a
    /// gratuitous ARP would).
    ///
    /// # Panics
    /// When `ip` is multicast.
    pub fn add_addr(&mut self, id: NodeId, ip: IpAddr) {
        assert!(!ip.is_multicast(), "sim: {ip} is multicast; use join()");
        let mut text = format!("addr {} +{ip}", self.slot(id).name);
        if let Some(old) = self.owners.insert(ip, id) {
            self.nodes[old.0].addrs.retain(|&a| a != ip);
            if old != id {
                text.push_str(&format!(" (from {})", self.name(old)));
            }
        }
        self.nodes[id.0].addrs.push(ip);
        self.log.push(self.now, LogKind::Address, text);
    }

    /// Stop routing `ip` to `id` (a no-op when `id` does not own it).
    pub fn remove_addr(&mut self, id: NodeId, ip: IpAddr) {
        if self.owners.get(&ip) == Some(&id) {
            self.owners.remove(&ip);
            self.nodes[id.0].addrs.retain(|&a| a != ip);
            let text = format!("addr {} -{ip}", self.name(id));
            self.log.push(self.now, LogKind::Address, text);
        }
    }

    /// Register a check run after every step; an `Err` panics with the invariant's name, the
    /// message, the seed and the tail of the log.
    pub fn add_invariant(
        &mut self,
        name: impl Into<String>,
        check: impl Fn(&Self) -> Result<(), String> + 'static,
    ) {
        self.invariants.push(Invariant {
            name: name.into(),
            check: Box::new(check),
        });
    }

    /// Every log entry so far.
    pub fn log(&self) -> &[LogEntry] {
        self.log.entries()
    }

    /// The whole log as text: one line per entry, `"<time> <text>\n"`.
    pub fn log_text(&self) -> String {
        self.log.text()
    }

    /// The last `n` log entries as text.
    pub fn log_tail(&self, n: usize) -> String {
        self.log.tail(n)
    }

    /// How many log entries are of `kind`.
    pub fn count(&self, kind: LogKind) -> usize {
        self.log.entries().iter().filter(|e| e.kind == kind).count()
    }

    fn slot(&self, id: NodeId) -> &Slot {
        match self.nodes.get(id.0) {
            Some(s) => s,
            None => panic!("sim: unknown node id {id}"),
        }
    }

    /// The node's typed wrapper, or a panic naming both types.
    fn typed<M: StateMachine + 'static>(&self, id: NodeId) -> &Typed<M>
    where
        M::Event: 'static,
    {
        let slot = self.slot(id);
        match slot.node.as_any().downcast_ref::<Typed<M>>() {
            Some(t) => t,
            None => panic!(
                "sim: node {} runs {}, not {}",
                slot.name,
                slot.node.machine_type(),
                core::any::type_name::<M>()
            ),
        }
    }

    /// Build the node's machine for its current incarnation and drain it.
    fn boot(&mut self, id: NodeId) {
        use rand_core::SeedableRng as _;
        let slot = &mut self.nodes[id.0];
        let base = derive_seed(self.seed, id.0 as u64);
        let seed = match slot.incarnation {
            0 => base,
            k => derive_seed(base, u64::from(k)),
        };
        let boot = Boot {
            id,
            now: self.now,
            incarnation: slot.incarnation,
            rng: ChaCha8Rng::seed_from_u64(seed),
        };
        slot.node.boot(boot);
        let text = format!("boot {} incarnation={}", slot.name, slot.incarnation);
        self.log.push(self.now, LogKind::Boot, text);
        self.drain(id);
    }

    /// Panic with `msg`, the seed and the tail of the log.
    fn fail(&self, msg: &str) -> ! {
        panic!(
            "{msg}\nsim seed = {} (replay with LVS_SIM_SEED={})\nlast log lines:\n{}",
            self.seed,
            self.seed,
            self.log.tail(FAILURE_TAIL)
        )
    }

    /// Run every invariant; the first failure panics.
    fn check_invariants(&mut self) {
        if self.invariants.is_empty() {
            return;
        }
        let invariants = core::mem::take(&mut self.invariants);
        let failed = invariants
            .iter()
            .find_map(|inv| (inv.check)(self).err().map(|e| (inv.name.clone(), e)));
        self.invariants = invariants;
        if let Some((name, err)) = failed {
            self.fail(&format!(
                "sim invariant {name:?} violated at {}: {err}",
                self.now
            ));
        }
    }
}

fn parse_seed(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_seed;

    #[test]
    fn seeds_parse_in_decimal_and_hex() {
        assert_eq!(parse_seed("42"), Some(42));
        assert_eq!(parse_seed(" 0x2a\n"), Some(42));
        assert_eq!(parse_seed("forty-two"), None);
        assert_eq!(parse_seed("-1"), None);
    }
}
