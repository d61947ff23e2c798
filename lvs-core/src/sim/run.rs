//! Stepping the simulation, node life cycle, and packet routing.

use core::cmp::Reverse;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;
use std::collections::BinaryHeap;

use super::link::chance;
use super::{DropReason, FROZEN_QUEUE_CAPACITY, InFlight, LogKind, NodeId, Sim, Target};
use crate::{Datagram, Instant, StateMachine, Transmit};

/// What the next step does.
#[derive(Debug, Clone, Copy)]
enum Due {
    Packet,
    Node(NodeId),
}

impl Sim {
    /// The time of the next step, if anything is pending (a packet in flight or a deadline of a
    /// live, unfrozen node).
    pub fn next_event_time(&self) -> Option<Instant> {
        self.next_due().map(|(at, _)| at)
    }

    /// Take one step: deliver the next packet or fire the next deadline. Returns `false` when
    /// nothing is pending.
    ///
    /// # Panics
    /// When an invariant fails or the step budget is exhausted.
    pub fn step(&mut self) -> bool {
        self.flush_dirty();
        match self.next_due() {
            Some((at, due)) => {
                self.execute(at, due);
                true
            }
            None => false,
        }
    }

    /// Step through everything due at or before `t`, then advance the clock to `t` (a `t` in
    /// the past does nothing).
    ///
    /// # Panics
    /// When an invariant fails or the step budget is exhausted.
    pub fn run_until(&mut self, t: Instant) {
        self.flush_dirty();
        while let Some((at, due)) = self.next_due() {
            if at > t {
                break;
            }
            self.execute(at, due);
        }
        self.advance_to(t);
    }

    /// [`Sim::run_until`] `now + d`.
    ///
    /// # Panics
    /// When an invariant fails or the step budget is exhausted.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Step until `pred` holds (checked before every step) or the next step would pass
    /// `limit`; in the second case the clock advances to `limit` and `pred` gets a last look.
    /// Returns whether `pred` held; [`Sim::now`] tells when.
    ///
    /// # Panics
    /// When an invariant fails or the step budget is exhausted.
    pub fn run_until_cond(&mut self, mut pred: impl FnMut(&Self) -> bool, limit: Instant) -> bool {
        self.flush_dirty();
        loop {
            if pred(self) {
                return true;
            }
            match self.next_due() {
                Some((at, due)) if at <= limit => self.execute(at, due),
                _ => {
                    self.advance_to(limit);
                    return pred(self);
                }
            }
        }
    }

    /// Run `f` on the node's machine at the current time, then apply the drain rule and check
    /// the invariants. Works on frozen nodes too (the test is the operator).
    ///
    /// # Panics
    /// When the node is dead, its machine is not an `M`, or an invariant fails.
    pub fn with_node<M, R>(&mut self, id: NodeId, f: impl FnOnce(&mut M, Instant) -> R) -> R
    where
        M: StateMachine + 'static,
        M::Event: 'static,
    {
        let now = self.now;
        let text = format!("command {}", self.name(id));
        let r = f(self.node_mut::<M>(id), now);
        self.log.push(now, LogKind::Command, text);
        self.drain(id);
        self.check_invariants();
        r
    }

    /// Deliver `datagram` from outside the simulated nodes at `at` (or now, if `at` is past):
    /// to one node, or routed by an address (to its owner or to every member of a multicast
    /// group). Links, loss and partitions do not apply.
    pub fn inject(&mut self, at: Instant, to: impl Into<Target>, datagram: Datagram) {
        let at = at.max(self.now);
        let packet = self.new_packet();
        let to = to.into();
        let d = &datagram;
        let text = match to {
            Target::Node(n) => format!(
                "inject #{packet} at={at} -> {} {} -> {} len={}",
                self.name(n),
                d.src,
                d.dst,
                d.payload.len()
            ),
            Target::Addr(ip) => format!(
                "inject #{packet} at={at} -> {ip} {} -> {} len={}",
                d.src,
                d.dst,
                d.payload.len()
            ),
        };
        self.log.push(self.now, LogKind::Inject, text);
        let targets: Vec<NodeId> = match to {
            Target::Node(n) => {
                self.slot(n);
                vec![n]
            }
            Target::Addr(ip) if ip.is_multicast() => self.members(ip).collect(),
            Target::Addr(ip) => match self.owners.get(&ip) {
                Some(&n) => vec![n],
                None => {
                    let text = format!("drop #{packet} outside -> ? {}", DropReason::NoRoute);
                    self.log
                        .push(self.now, LogKind::Drop(DropReason::NoRoute), text);
                    return;
                }
            },
        };
        for n in targets {
            self.enqueue(at, None, n, packet, datagram.clone());
        }
    }

    /// Kill the node: drop its machine and the packets it sent that are still in flight (a
    /// no-op on a dead node).
    pub fn kill(&mut self, id: NodeId) {
        if !self.is_alive(id) {
            return;
        }
        let text = format!("kill {}", self.name(id));
        self.log.push(self.now, LogKind::Kill, text);
        self.take_down(id);
    }

    /// Freeze the node (see the [module documentation](super#node-life-cycle)); a no-op on a
    /// dead or frozen node.
    pub fn freeze(&mut self, id: NodeId) {
        if !self.is_alive(id) || self.is_frozen(id) {
            return;
        }
        self.nodes[id.0].frozen = true;
        let text = format!("freeze {}", self.name(id));
        self.log.push(self.now, LogKind::Freeze, text);
    }

    /// Thaw the node: its queued packets arrive now, then its overdue timers fire now (a no-op
    /// on a node that is not frozen).
    pub fn thaw(&mut self, id: NodeId) {
        if !self.is_frozen(id) {
            return;
        }
        let slot = &mut self.nodes[id.0];
        slot.frozen = false;
        let queue = core::mem::take(&mut slot.queue);
        let text = format!("thaw {} queued={}", slot.name, queue.len());
        self.log.push(self.now, LogKind::Thaw, text);
        for p in queue {
            self.enqueue(self.now, p.from, p.to, p.packet, p.datagram);
        }
    }

    /// Restart the node: drop the machine (as [`Sim::kill`] if alive) and build a new one from
    /// its factory with the next incarnation number and a fresh RNG stream.
    pub fn restart(&mut self, id: NodeId) {
        let text = format!(
            "restart {} incarnation={}",
            self.name(id),
            self.incarnation(id).saturating_add(1)
        );
        self.log.push(self.now, LogKind::Restart, text);
        if self.is_alive(id) {
            self.take_down(id);
        }
        let slot = &mut self.nodes[id.0];
        slot.incarnation = slot.incarnation.saturating_add(1);
        self.boot(id);
    }

    /// Drop the machine, its queue, and its packets in flight.
    fn take_down(&mut self, id: NodeId) {
        let slot = &mut self.nodes[id.0];
        slot.node.kill();
        slot.frozen = false;
        slot.dirty = false;
        let queue = core::mem::take(&mut slot.queue);
        for p in queue {
            self.log_drop(&p, DropReason::QueueDiscarded);
        }
        let (theirs, keep): (Vec<_>, Vec<_>) = core::mem::take(&mut self.heap)
            .into_sorted_vec()
            .into_iter()
            .partition(|Reverse(p)| p.from == Some(id));
        self.heap = BinaryHeap::from(keep);
        // `into_sorted_vec` of `Reverse` is latest first; log in arrival order.
        for Reverse(p) in theirs.iter().rev() {
            self.log_drop(p, DropReason::SenderKilled);
        }
    }

    /// The earliest pending step: packets before nodes at equal times, nodes in index order.
    fn next_due(&self) -> Option<(Instant, Due)> {
        let mut best = self.heap.peek().map(|Reverse(p)| (p.at, Due::Packet));
        for (i, slot) in self.nodes.iter().enumerate() {
            if slot.frozen {
                continue;
            }
            let Some(at) = slot.node.next_deadline() else {
                continue;
            };
            let at = at.max(self.now);
            if best.is_none_or(|(b, _)| at < b) {
                best = Some((at, Due::Node(NodeId(i))));
            }
        }
        best
    }

    fn execute(&mut self, at: Instant, due: Due) {
        self.advance_to(at);
        self.steps_here += 1;
        self.steps_total += 1;
        if self.steps_here > self.budget.per_instant {
            self.fail(&format!(
                "sim step budget exceeded: more than {} steps at virtual time {} \
                 (a machine livelocks, e.g. a deadline that never advances)",
                self.budget.per_instant, self.now
            ));
        }
        if self.steps_total > self.budget.total {
            self.fail(&format!(
                "sim step budget exceeded: more than {} steps in total (now {})",
                self.budget.total, self.now
            ));
        }
        match due {
            Due::Packet => self.deliver_next(),
            Due::Node(id) => self.fire(id),
        }
        self.check_invariants();
    }

    fn advance_to(&mut self, t: Instant) {
        if t > self.now {
            self.now = t;
            self.steps_here = 0;
        }
    }

    fn fire(&mut self, id: NodeId) {
        let slot = &mut self.nodes[id.0];
        let text = format!("timer {} {}", slot.name, slot.node.deadline_reason());
        slot.node.handle_timeout(self.now);
        self.log.push(self.now, LogKind::Timer, text);
        self.drain(id);
    }

    fn deliver_next(&mut self) {
        let Some(Reverse(p)) = self.heap.pop() else {
            return;
        };
        let slot = &mut self.nodes[p.to.0];
        if !slot.node.is_alive() {
            self.log_drop(&p, DropReason::NodeDown);
        } else if slot.frozen {
            if slot.queue.len() >= FROZEN_QUEUE_CAPACITY {
                self.log_drop(&p, DropReason::FrozenQueueFull);
            } else {
                let text = format!("queue {} #{} frozen", slot.name, p.packet);
                slot.queue.push_back(p);
                self.log.push(self.now, LogKind::Queued, text);
            }
        } else {
            let d = &p.datagram;
            let text = format!(
                "deliver {} #{} {} -> {} len={}",
                slot.name,
                p.packet,
                d.src,
                d.dst,
                d.payload.len()
            );
            self.log.push(self.now, LogKind::Deliver, text);
            let to = p.to;
            self.nodes[to.0].node.handle_datagram(self.now, p.datagram);
            self.drain(to);
        }
    }

    /// The drain rule: route every transmit and log every event until both queues are empty.
    pub(super) fn drain(&mut self, id: NodeId) {
        self.nodes[id.0].dirty = false;
        loop {
            let mut progressed = false;
            while let Some(t) = self.nodes[id.0].node.poll_transmit() {
                progressed = true;
                self.send(id, t);
            }
            while let Some(e) = self.nodes[id.0].node.poll_event_logged() {
                progressed = true;
                let text = format!("event {} {e}", self.name(id));
                self.log.push(self.now, LogKind::Event, text);
            }
            if !progressed {
                break;
            }
        }
    }

    /// Drain nodes changed through `node_mut`.
    fn flush_dirty(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].dirty {
                self.drain(NodeId(i));
            }
        }
    }

    fn new_packet(&mut self) -> u64 {
        let p = self.next_packet;
        self.next_packet += 1;
        p
    }

    /// Route one transmit of node `from`.
    fn send(&mut self, from: NodeId, t: Transmit) {
        let packet = self.new_packet();
        let src = t.src.unwrap_or_else(|| self.default_src(from, t.dst));
        let d = t.into_datagram(src);
        let text = format!(
            "send {} #{packet} {} -> {} len={}",
            self.name(from),
            d.src,
            d.dst,
            d.payload.len()
        );
        self.log.push(self.now, LogKind::Send, text);
        let ip = d.dst.ip();
        if ip.is_multicast() {
            let members: Vec<NodeId> = self.members(ip).filter(|&m| m != from).collect();
            for to in members {
                self.transmit_copy(from, to, packet, d.clone());
            }
        } else if let Some(&to) = self.owners.get(&ip) {
            self.transmit_copy(from, to, packet, d);
        } else {
            let text = format!(
                "drop #{packet} {} -> ? {}",
                self.name(from),
                DropReason::NoRoute
            );
            self.log
                .push(self.now, LogKind::Drop(DropReason::NoRoute), text);
        }
    }

    /// Apply partitions and the link to one copy of a packet and schedule what survives.
    fn transmit_copy(&mut self, from: NodeId, to: NodeId, packet: u64, d: Datagram) {
        let link = self.link(from, to);
        let reason = if !self.partitions.connected(from, to) {
            Some(DropReason::Partition)
        } else if !link.fits(d.dst, d.payload.len()) {
            Some(DropReason::Mtu)
        } else if chance(&mut self.rng, link.loss) {
            Some(DropReason::Loss)
        } else {
            None
        };
        if let Some(reason) = reason {
            let text = format!(
                "drop #{packet} {} -> {} {reason}",
                self.name(from),
                self.name(to)
            );
            self.log.push(self.now, LogKind::Drop(reason), text);
            return;
        }
        let delay = link.draw_delay(&mut self.rng);
        let copy = chance(&mut self.rng, link.duplicate).then(|| d.clone());
        self.enqueue(self.now + delay, Some(from), to, packet, d);
        if let Some(copy) = copy {
            let delay = link.draw_delay(&mut self.rng);
            let text = format!("dup #{packet} {} -> {}", self.name(from), self.name(to));
            self.log.push(self.now, LogKind::Duplicate, text);
            self.enqueue(self.now + delay, Some(from), to, packet, copy);
        }
    }

    fn enqueue(
        &mut self,
        at: Instant,
        from: Option<NodeId>,
        to: NodeId,
        packet: u64,
        datagram: Datagram,
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(InFlight {
            at,
            seq,
            packet,
            from,
            to,
            datagram,
        }));
    }

    fn log_drop(&mut self, p: &InFlight, reason: DropReason) {
        let from = p.from.map_or("outside", |f| self.nodes[f.0].name.as_str());
        let text = format!("drop #{} {from} -> {} {reason}", p.packet, self.name(p.to));
        self.log.push(self.now, LogKind::Drop(reason), text);
    }

    /// The source of a transmit without one: the node's first address of the destination's
    /// family (else its first address, else unspecified), with the destination's port.
    fn default_src(&self, from: NodeId, dst: SocketAddr) -> SocketAddr {
        let addrs = self.addrs(from);
        let ip = addrs
            .iter()
            .find(|a| a.is_ipv4() == dst.is_ipv4())
            .or_else(|| addrs.first())
            .copied()
            .unwrap_or(if dst.is_ipv4() {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            } else {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            });
        SocketAddr::new(ip, dst.port())
    }
}
