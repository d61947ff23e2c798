//! [`Router`]: every running VRRP instance of the daemon behind one
//! [`StateMachine`], with received adverts dispatched by interface, family and VRID, sync
//! groups reconciled after every input, and transmits tagged with their interface.
//!
//! It does no I/O: the daemon feeds it and carries out its events, and tests drive it in
//! virtual time.

use core::net::IpAddr;
use std::collections::VecDeque;

use lvs_core::{Datagram, Instant, StateMachine, Transmit};
use lvs_vrrp::state::{Event, Instance, SyncGroup, Timer};

/// Where an instance lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The instance name.
    pub name: String,
    /// Its interface name.
    pub interface: String,
    /// Its interface index (received datagrams carry it; transmits are tagged with it).
    pub ifindex: u32,
}

/// An event of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterEvent {
    /// The instance's index (see [`Router::slot`]).
    pub index: usize,
    /// What it said.
    pub event: Event,
}

/// Counters of the dispatcher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchStats {
    /// Datagrams that matched no instance (other VRIDs, other interfaces, garbage).
    pub unmatched: u64,
    /// Datagrams handed to an instance.
    pub dispatched: u64,
}

/// The instances of one daemon.
#[derive(Debug, Default)]
pub struct Router {
    slots: Vec<Slot>,
    instances: Vec<Instance>,
    groups: Vec<SyncGroup>,
    out: VecDeque<Transmit>,
    events: VecDeque<RouterEvent>,
    stats: DispatchStats,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a stopped instance; returns its index.
    pub fn push(&mut self, slot: Slot, instance: Instance) -> usize {
        self.slots.push(slot);
        self.instances.push(instance);
        self.instances.len() - 1
    }

    /// Replace the sync groups (member indices into this router).
    pub fn set_groups(&mut self, groups: Vec<SyncGroup>) {
        self.groups = groups;
    }

    /// Take every instance out (for a reload), leaving the router empty.
    pub fn take_all(&mut self) -> Vec<(Slot, Instance)> {
        self.groups.clear();
        self.slots.drain(..).zip(self.instances.drain(..)).collect()
    }

    /// How many instances.
    pub fn len(&self) -> usize {
        self.instances.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    /// Where instance `i` lives.
    pub fn slot(&self, i: usize) -> Option<&Slot> {
        self.slots.get(i)
    }

    /// Instance `i`.
    pub fn instance(&self, i: usize) -> Option<&Instance> {
        self.instances.get(i)
    }

    /// The index of the instance called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.name == name)
    }

    /// Dispatch counters.
    pub fn stats(&self) -> DispatchStats {
        self.stats
    }

    /// Run `f` on instance `i` (a command), then reconcile groups and drain.
    pub fn with<R>(
        &mut self,
        now: Instant,
        i: usize,
        f: impl FnOnce(&mut Instance) -> R,
    ) -> Option<R> {
        let r = f(self.instances.get_mut(i)?);
        self.settle(now);
        Some(r)
    }

    /// Start every instance.
    pub fn start_all(&mut self, now: Instant) {
        for inst in &mut self.instances {
            inst.start(now);
        }
        self.settle(now);
    }

    /// Stop every instance (masters send priority 0).
    pub fn shutdown_all(&mut self, now: Instant) {
        for inst in &mut self.instances {
            inst.shutdown(now);
        }
        self.drain();
    }

    /// Sync groups, then the drain of every instance into the router's queues.
    fn settle(&mut self, now: Instant) {
        // A group move can trigger another member's transition; a few rounds settle it.
        for _ in 0..4 {
            let mut moved = false;
            for g in &mut self.groups {
                match g.reconcile(now, &mut self.instances) {
                    Ok(m) => moved |= m,
                    Err(e) => tracing::error!(error = %e, "sync group"),
                }
            }
            if !moved {
                break;
            }
        }
        self.drain();
    }

    fn drain(&mut self) {
        for (index, inst) in self.instances.iter_mut().enumerate() {
            while let Some(mut t) = inst.poll_transmit() {
                t.meta.ifindex = Some(self.slots[index].ifindex);
                self.out.push_back(t);
            }
            while let Some(event) = inst.poll_event() {
                self.events.push_back(RouterEvent { index, event });
            }
        }
    }

    fn matches(&self, i: usize, d: &Datagram, vrid: u8) -> bool {
        let inst = &self.instances[i];
        let ifindex_ok = d.meta.ifindex.is_none_or(|x| x == self.slots[i].ifindex);
        let family_ok = matches!(
            (d.src.ip(), inst.settings().primary),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
        );
        ifindex_ok && family_ok && inst.config().vrid == vrid
    }
}

impl StateMachine for Router {
    type Event = RouterEvent;
    type Timer = Timer;

    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        let Some(&vrid) = d.payload.get(1) else {
            self.stats.unmatched += 1;
            return;
        };
        let targets: Vec<usize> = (0..self.instances.len())
            .filter(|&i| self.matches(i, &d, vrid))
            .collect();
        if targets.is_empty() {
            self.stats.unmatched += 1;
            return;
        }
        for i in targets {
            self.stats.dispatched += 1;
            self.instances[i].handle_datagram(now, d.clone());
        }
        self.settle(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        for inst in &mut self.instances {
            if inst.poll_timeout().is_some_and(|(at, _)| at <= now) {
                inst.handle_timeout(now);
            }
        }
        self.settle(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    fn poll_event(&mut self) -> Option<RouterEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<(Instant, Timer)> {
        self.instances
            .iter()
            .filter_map(StateMachine::poll_timeout)
            .min_by_key(|&(at, _)| at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrpd::config::Plan;
    use lvs_vrrp::state::State;

    fn router(priority_a: u8, priority_b: u8) -> (Router, Router) {
        let text = |p: u8| {
            format!(
                "[[instance]]\nname='A'\ninterface='e0'\nvrid=7\npriority={p}\nadvert_int=0.1\n\
                 virtual_addresses=['192.0.2.10']\n\
                 [[instance]]\nname='B'\ninterface='e0'\nvrid=8\npriority={p}\nadvert_int=0.1\n\
                 virtual_addresses=['192.0.2.20']\n\
                 [[sync_group]]\nname='G'\nmembers=['A','B']\n"
            )
        };
        let build = |p: u8, primary: &str| {
            let plan = Plan::from_toml(&text(p)).unwrap();
            let mut r = Router::new();
            for spec in &plan.instances {
                let slot = Slot {
                    name: spec.name.clone(),
                    interface: spec.interface.clone(),
                    ifindex: 3,
                };
                r.push(slot, spec.build(primary.parse().unwrap()).unwrap());
            }
            r.set_groups(
                plan.groups
                    .iter()
                    .map(|(_, m)| SyncGroup::new(m.clone()))
                    .collect(),
            );
            r
        };
        (
            build(priority_a, "192.0.2.1"),
            build(priority_b, "192.0.2.2"),
        )
    }

    /// Deliver everything `from` sends to `to`, as the link would (TTL 255, interface 3).
    fn deliver(now: Instant, from: &mut Router, to: &mut Router) -> usize {
        let mut n = 0;
        while let Some(t) = from.poll_transmit() {
            assert_eq!(t.meta.ifindex, Some(3));
            let mut d = t.into_datagram("0.0.0.0:0".parse().unwrap());
            d.meta.ttl = Some(255);
            to.handle_datagram(now, d);
            n += 1;
        }
        n
    }

    #[test]
    fn two_routers_elect_one_master_per_vrid_and_groups_move_together() {
        let (mut a, mut b) = router(200, 100);
        a.start_all(Instant::ZERO);
        b.start_all(Instant::ZERO);
        let mut now = Instant::ZERO;
        let mut events = Vec::new();
        while now < Instant::from_secs(2) {
            now = a
                .poll_timeout()
                .into_iter()
                .chain(b.poll_timeout())
                .map(|(at, _)| at)
                .min()
                .unwrap();
            a.handle_timeout(now);
            b.handle_timeout(now);
            deliver(now, &mut a, &mut b);
            deliver(now, &mut b, &mut a);
            while let Some(e) = a.poll_event() {
                events.push(e);
            }
            while b.poll_event().is_some() {}
        }
        for i in 0..2 {
            assert_eq!(a.instance(i).unwrap().state(), State::Master);
            assert_eq!(b.instance(i).unwrap().state(), State::Backup);
        }
        assert!(events.iter().any(
            |e| e.index == 1 && matches!(e.event, Event::Vips { ref vips } if !vips.is_empty())
        ));
        // A weight-0 fault on A's first member pulls the whole group into FAULT.
        a.with(now, 0, |i| i.set_track(now, "if:e0", false, 0).unwrap());
        assert_eq!(a.instance(1).unwrap().state(), State::Fault);
        assert!(b.stats().dispatched > 0);
    }

    #[test]
    fn foreign_interfaces_vrids_and_garbage_are_counted_not_fed() {
        let (mut a, _) = router(200, 100);
        a.start_all(Instant::ZERO);
        let mut d = Datagram::new(
            "192.0.2.9:0".parse().unwrap(),
            "224.0.0.18:0".parse().unwrap(),
            &[0x31u8, 99, 1, 0][..],
        );
        d.meta.ifindex = Some(3);
        a.handle_datagram(Instant::ZERO, d.clone());
        d.payload = bytes::Bytes::from_static(&[0x31]);
        a.handle_datagram(Instant::ZERO, d.clone());
        d.payload = bytes::Bytes::from_static(&[0x31, 7, 1, 0]);
        d.meta.ifindex = Some(4);
        a.handle_datagram(Instant::ZERO, d);
        assert_eq!(
            a.stats(),
            DispatchStats {
                unmatched: 3,
                dispatched: 0
            }
        );
    }
}
