//! Fuzz entry point for the hash schedulers (`dh`, `sh`, `mh`, Maglev) and the Maglev table.
//!
//! [`sched_ops`] decodes a configuration and a sequence of operations from the input, applies
//! each operation to every scheduler and checks the invariants after every step; a violation
//! panics, which is what the fuzzer looks for. The checks are public so tests can reuse them.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_core::{ConnState, DestId, DestParams, Flow, Instant, Scheduler, proto};

use crate::dh::Dh;
use crate::maglev::{FlowKey, MaglevConfig, MaglevScheduler, MaglevTable, RebuildMode};
use crate::mh::{Mh, MhConfig};
use crate::sh::{Sh, ShConfig};

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
}

/// Check a Maglev table: every slot is owned by a present backend, slot counts match the
/// table, and every backend is within one slot of `M·w/W` (w = its quota weight).
pub fn check_maglev(t: &MaglevTable, ids: &[DestId]) -> Result<(), String> {
    let m = t.size() as u128;
    let total: u128 = ids
        .iter()
        .map(|&id| t.weights(id).map_or(0, |w| u128::from(w.0)))
        .sum();
    let mut counts = std::collections::HashMap::<DestId, u128>::new();
    for (slot, owner) in t.owners().enumerate() {
        match owner {
            Some(id) if ids.contains(&id) => *counts.entry(id).or_default() += 1,
            Some(id) => return Err(format!("slot {slot} owned by absent {id}")),
            None if total > 0 => return Err(format!("slot {slot} empty")),
            None => {}
        }
    }
    for &id in ids {
        let c = counts.get(&id).copied().unwrap_or(0);
        if t.slot_count(id).map(u128::from) != Some(c) {
            return Err(format!(
                "{id}: slot_count {:?} but owns {c}",
                t.slot_count(id)
            ));
        }
        let w = t.weights(id).map_or(0, |w| u128::from(w.0));
        // |c − M·w/W| ≤ 1  ⇔  |c·W − M·w| ≤ W
        if total > 0 && (c * total).abs_diff(m * w) > total {
            return Err(format!("{id}: {c} slots, quota {m}·{w}/{total}"));
        }
    }
    Ok(())
}

/// Check that a pick is allowed: present, weight > 0 and not OVERLOADED.
pub fn check_pick(s: &dyn Scheduler, picked: Option<DestId>) -> Result<(), String> {
    let Some(id) = picked else { return Ok(()) };
    let load = s
        .load(id)
        .ok_or(format!("{}: picked absent {id}", s.name()))?;
    if load.weight == 0 || load.overloaded {
        return Err(format!("{}: picked ineligible {id} {load:?}", s.name()));
    }
    Ok(())
}

fn check_table(
    name: &str,
    slots: impl Iterator<Item = Option<DestId>>,
    ids: &[DestId],
    full: bool,
) -> Result<(), String> {
    for (i, s) in slots.enumerate() {
        match s {
            Some(id) if !ids.contains(&id) => return Err(format!("{name}[{i}] = absent {id}")),
            None if full => return Err(format!("{name}[{i}] empty")),
            Some(_) if !full => return Err(format!("{name}[{i}] set with no eligible owner")),
            _ => {}
        }
    }
    Ok(())
}

struct Harness {
    dh: Dh,
    sh: Sh,
    mh: Mh,
    mg: MaglevScheduler,
}

impl Harness {
    fn all(&mut self) -> [&mut dyn Scheduler; 4] {
        [&mut self.dh, &mut self.sh, &mut self.mh, &mut self.mg]
    }

    fn check(&self) -> Result<(), String> {
        let ids = self.dh.dests();
        check_table(
            "dh",
            (0..256).map(|i| self.dh.bucket(i)),
            &ids,
            !ids.is_empty(),
        )?;
        let ids = self.sh.dests();
        let sh = (0..self.sh.size()).map(|i| self.sh.bucket(i));
        check_table("sh", sh, &ids, !ids.is_empty())?;
        let ids = self.mh.dests();
        let any_lw = self
            .mh
            .dest_table()
            .list()
            .iter()
            .any(|d| d.last_weight > 0);
        check_table(
            "mh",
            (0..self.mh.size()).map(|i| self.mh.slot(i)),
            &ids,
            any_lw,
        )?;
        check_maglev(self.mg.table(), &self.mg.dests())
    }
}

fn addr(b: u8) -> IpAddr {
    if b & 0x80 == 0 {
        IpAddr::V4(Ipv4Addr::new(10, 0, b >> 4, b & 0x0f))
    } else {
        IpAddr::V6(Ipv6Addr::new(
            0xfd00,
            0,
            0,
            0,
            0,
            0,
            u16::from(b >> 4),
            u16::from(b),
        ))
    }
}

fn state(b: u8) -> ConnState {
    if b & 1 == 0 {
        ConnState::Active
    } else {
        ConnState::Inactive
    }
}

/// Apply a decoded op sequence to `dh`, `sh`, `mh` and Maglev; panic on any broken invariant.
pub fn sched_ops(data: &[u8]) {
    let mut b = Bytes(data);
    let Some(cfg) = b.u16() else { return };
    let sizes = [7, 13, 251, 1021];
    let mg_cfg = MaglevConfig {
        size: sizes[usize::from(cfg & 3)],
        seed: u64::from(cfg >> 8),
        mode: if cfg & 4 == 0 {
            RebuildMode::Classic
        } else {
            RebuildMode::MinimalChurn
        },
        fallback: cfg & 8 != 0,
        key: [
            FlowKey::SrcAddr,
            FlowKey::SrcAddrPort,
            FlowKey::FiveTuple,
            FlowKey::SrcAddr,
        ][usize::from((cfg >> 4) & 3)],
    };
    let flags = (cfg & 0x40 != 0, cfg & 0x80 != 0);
    let (Ok(sh), Ok(mh), Ok(mg)) = (
        Sh::new(ShConfig {
            bits: 4 + (cfg >> 8) as u8 % 3,
            fallback: flags.0,
            port: flags.1,
        }),
        Mh::new(MhConfig {
            tab_index: 8,
            fallback: flags.0,
            port: flags.1,
        }),
        MaglevScheduler::new(mg_cfg),
    ) else {
        panic!("fuzz configurations are valid");
    };
    let mut h = Harness {
        dh: Dh::new(),
        sh,
        mh,
        mg,
    };
    let mut steps = 0;
    while let (Some(op), Some(x), Some(y)) = (b.u8(), b.u8(), b.u8()) {
        steps += 1;
        if steps > 2000 {
            break;
        }
        let id = DestId(u32::from(x & 0x0f));
        let weight = match y >> 5 {
            0 => 0,
            7 => u32::from(y) << 20,
            w => u32::from(w),
        };
        for s in h.all() {
            // Errors (duplicates, unknown ids, full tables) are part of the exercise.
            let _ = match op % 8 {
                0 => s.add_dest(id, DestParams::new(addr(y), u16::from(x), weight)),
                1 => s.remove_dest(id),
                2 => s.set_weight(id, weight),
                3 => s.set_thresholds(id, u32::from(y & 7), u32::from(y >> 3 & 3)),
                4 => {
                    s.conn_bound(id, state(y));
                    Ok(())
                }
                5 => {
                    s.conn_unbound(id, state(y));
                    Ok(())
                }
                6 => {
                    s.conn_changed(id, state(y), state(y >> 1));
                    Ok(())
                }
                _ => Ok(()),
            };
            let proto = [proto::TCP, proto::UDP, proto::SCTP, 1][usize::from(op >> 6)];
            let flow = Flow {
                protocol: proto,
                src: addr(x ^ y),
                src_port: u16::from_be_bytes([x, y]),
                dst: addr(op),
                dst_port: 80,
                fwmark: 0,
            };
            let picked = s.pick(&flow, Instant::ZERO);
            if let Err(e) = check_pick(&*s, picked) {
                panic!("{e}");
            }
        }
        if let Err(e) = h.check() {
            panic!("{e}");
        }
        // With fallback, Maglev must find any eligible backend that owns a slot.
        let t = h.mg.table();
        let reachable = t.config().fallback
            && h.mg.dests().iter().any(|&id| {
                h.mg.load(id).is_some_and(|l| l.weight > 0 && !l.overloaded)
                    && t.slot_count(id).unwrap_or(0) > 0
            });
        let flow = Flow::tcp(addr(x), u16::from(y), addr(op), 80);
        if reachable && h.mg.pick(&flow, Instant::ZERO).is_none() {
            panic!("maglev fallback missed an eligible backend");
        }
    }
}
