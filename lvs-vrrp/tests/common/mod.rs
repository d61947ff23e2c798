//! Fixtures shared by the state and simulation tests.
#![allow(dead_code, unreachable_pub)]

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::time::Duration;

use lvs_core::sim::{LinkConfig, NodeId, Sim};
use lvs_core::{Datagram, Instant, PacketMeta, StateMachine, Transmit};
use lvs_vrrp::config::InstanceConfig;
use lvs_vrrp::state::{Event, Instance, Settings, State};
use lvs_vrrp::wire::{
    Addresses, Auth, ChecksumVariant, Family, VersionRepr, VrrpPacket, VrrpRepr, multicast_group,
};

pub const VRID: u8 = 51;
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

/// Router `n`'s primary address: 10.0.0.n.
pub fn addr(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
}

pub fn group() -> IpAddr {
    multicast_group(Family::V4)
}

pub fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

pub fn v3(centis: u16) -> VersionRepr {
    VersionRepr::V3 {
        max_adver_int: centis,
    }
}

pub fn v2(secs: u8) -> VersionRepr {
    VersionRepr::V2 {
        auth: Auth::None,
        adver_int: secs,
    }
}

pub fn config(priority: u8, version: VersionRepr) -> InstanceConfig {
    InstanceConfig::new(VRID, priority, version, Addresses::V4(vec![VIP]))
}

/// A stopped instance of router `n` with `priority` and keepalived's defaults.
pub fn instance(n: u8, priority: u8, version: VersionRepr) -> Instance {
    Instance::new(config(priority, version), Settings::new(addr(n))).unwrap()
}

/// An advert from router `n` with `priority`, as the shell would deliver it.
pub fn advert(n: u8, priority: u8, version: VersionRepr) -> Datagram {
    advert_with(
        addr(n),
        &VrrpRepr {
            vrid: VRID,
            priority,
            version,
            addresses: Addresses::V4(vec![VIP]),
        },
        ChecksumVariant::default_for(version.number()),
    )
}

/// `repr` emitted from `src` to the group under `variant`, TTL 255.
pub fn advert_with(src: IpAddr, repr: &VrrpRepr, variant: ChecksumVariant) -> Datagram {
    let mut buf = vec![0; repr.buffer_len()];
    repr.emit(&mut buf, variant, src, group()).unwrap();
    Datagram {
        src: SocketAddr::new(src, 0),
        dst: SocketAddr::new(group(), 0),
        payload: buf.into(),
        meta: PacketMeta {
            ttl: Some(255),
            ifindex: None,
        },
    }
}

/// Drain everything the machine queued.
pub fn drain(m: &mut Instance) -> (Vec<Transmit>, Vec<Event>) {
    let mut tx = Vec::new();
    let mut ev = Vec::new();
    loop {
        let t = m.poll_transmit();
        let e = m.poll_event();
        if t.is_none() && e.is_none() {
            return (tx, ev);
        }
        tx.extend(t);
        ev.extend(e);
    }
}

/// The priority carried by a transmitted advert.
pub fn tx_priority(t: &Transmit) -> u8 {
    VrrpPacket::new_checked(&t.payload[..], Family::V4)
        .unwrap()
        .priority()
}

/// The new states in `events`, in order.
pub fn transitions(events: &[Event]) -> Vec<State> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::StateChanged { to, .. } => Some(*to),
            _ => None,
        })
        .collect()
}

pub fn announces(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Announce { .. }))
        .count()
}

/// Routers on one multicast group: router `i` is node `i`, address 10.0.0.(i+1), with the
/// given priority; each starts at boot.
pub fn lan(
    seed: u64,
    priorities: &[u8],
    version: VersionRepr,
    link: LinkConfig,
    tune: impl Fn(&mut Settings) + Clone + 'static,
) -> (Sim, Vec<NodeId>) {
    let mut sim = Sim::from_env_or(seed);
    sim.set_default_link(link);
    let mut ids = Vec::new();
    for (i, &prio) in priorities.iter().enumerate() {
        let n = u8::try_from(i + 1).unwrap();
        let tune = tune.clone();
        let id = sim.add_node(&format!("r{n}"), [addr(n)], move |boot| {
            let mut s = Settings::new(addr(n));
            tune(&mut s);
            let mut inst = Instance::new(config(prio, version), s).unwrap();
            inst.start(boot.now);
            inst
        });
        sim.join(id, group());
        ids.push(id);
    }
    (sim, ids)
}

/// The live, unfrozen nodes that are master now.
pub fn masters(sim: &Sim, ids: &[NodeId]) -> Vec<NodeId> {
    ids.iter()
        .copied()
        .filter(|&id| !sim.is_frozen(id))
        .filter(|&id| {
            sim.try_node::<Instance>(id)
                .is_some_and(|m| m.state() == State::Master)
        })
        .collect()
}

pub fn state(sim: &Sim, id: NodeId) -> State {
    sim.node::<Instance>(id).state()
}

/// Every (time, node) transition to `to` in the sim log, from the machines' events.
pub fn became(sim: &Sim, id: NodeId, to: State) -> usize {
    sim.events::<Instance>(id)
        .iter()
        .filter(|e| matches!(e, Event::StateChanged { to: t, .. } if *t == to))
        .count()
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
