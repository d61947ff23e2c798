//! Differential driver for the connection-count schedulers: every indexed scheduler runs beside
//! its naive kernel-scan reference over the same operations and must give the same pick, the
//! same result for every configuration call and the same load counters, every time. The other
//! schedulers (rr, swrr, twos) run along and must never choose a destination the kernel would
//! refuse.
//!
//! [`sched_ops`] is the fuzz target; [`decode`] and [`run`] are public so property tests can
//! generate operations directly.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::time::Duration;

use lvs_core::rng::TryRng;
use lvs_core::{ConnState, DestId, DestParams, Flow, Instant, Scheduler};

use crate::lblc::{Lblc, LocalityConfig};
use crate::lblcr::Lblcr;
use crate::least::{Fo, Lc, Nq, Ovf, Sed, Wlc};
use crate::reference::NaiveScan;
use crate::rr::Rr;
use crate::twos::Twos;
use crate::wrr::{SmoothWrr, Wrr};

/// Destination ids the operations draw from.
pub const IDS: u32 = 12;
/// Destination addresses flows are sent to (lblc/lblcr keys).
pub const ADDRS: u8 = 10;
/// Most operations decoded from one input.
pub const MAX_OPS: usize = 2048;
/// The naive wrr is kept in step only while every weight is at most this (its empty passes
/// cost O(max weight)).
pub const NAIVE_WRR_MAX_WEIGHT: u32 = 4096;

/// One step of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `add_dest`.
    Add {
        /// Destination id (0..IDS).
        id: u32,
        /// Weight.
        weight: u32,
    },
    /// `remove_dest`.
    Remove {
        /// Destination id.
        id: u32,
    },
    /// `set_weight`.
    SetWeight {
        /// Destination id.
        id: u32,
        /// New weight.
        weight: u32,
    },
    /// `set_thresholds`.
    SetThresholds {
        /// Destination id.
        id: u32,
        /// Upper threshold.
        upper: u32,
        /// Lower threshold.
        lower: u32,
    },
    /// `conn_bound`, `count` times.
    Bound {
        /// Destination id.
        id: u32,
        /// Active or inactive.
        active: bool,
        /// Repetitions.
        count: u8,
    },
    /// `conn_unbound`, `count` times.
    Unbound {
        /// Destination id.
        id: u32,
        /// Active or inactive.
        active: bool,
        /// Repetitions.
        count: u8,
    },
    /// `conn_changed`.
    Changed {
        /// Destination id.
        id: u32,
        /// From active (true) or inactive.
        from_active: bool,
        /// To active (true) or inactive.
        to_active: bool,
    },
    /// `pick` for a flow to destination address `addr` (0..ADDRS).
    Pick {
        /// Destination address index.
        addr: u8,
    },
    /// Let time pass.
    Advance {
        /// Seconds.
        secs: u32,
    },
}

fn state(active: bool) -> ConnState {
    if active {
        ConnState::Active
    } else {
        ConnState::Inactive
    }
}

fn weight_of(b: u8) -> u32 {
    match b {
        0..=199 => u32::from(b % 9),
        200..=239 => u32::from(b),
        240..=251 => 1 << (b - 230),
        _ => crate::dest::MAX_WEIGHT - u32::from(255 - b),
    }
}

/// Decode bytes into operations: one opcode byte, then its arguments; stops when the bytes run
/// out or at [`MAX_OPS`].
pub fn decode(data: &[u8]) -> Vec<Op> {
    let mut it = data.iter().copied();
    let mut ops = Vec::new();
    while ops.len() < MAX_OPS {
        let Some(code) = it.next() else { break };
        let mut arg = || it.next().unwrap_or(0);
        let id = u32::from(arg()) % IDS;
        let op = match code % 10 {
            0 => Op::Add {
                id,
                weight: weight_of(arg()),
            },
            1 => Op::Remove { id },
            2 => Op::SetWeight {
                id,
                weight: weight_of(arg()),
            },
            3 => Op::SetThresholds {
                id,
                upper: u32::from(arg() % 12),
                lower: u32::from(arg() % 12),
            },
            4 | 9 => {
                let a = arg();
                Op::Bound {
                    id,
                    active: a & 1 == 1,
                    count: 1 + (a >> 1) % 8,
                }
            }
            5 => {
                let a = arg();
                Op::Unbound {
                    id,
                    active: a & 1 == 1,
                    count: 1 + (a >> 1) % 8,
                }
            }
            6 => {
                let a = arg();
                Op::Changed {
                    id,
                    from_active: a & 1 == 1,
                    to_active: a & 2 == 2,
                }
            }
            7 => Op::Pick {
                addr: (id as u8) % ADDRS,
            },
            _ => {
                const STEPS: [u32; 8] = [1, 30, 61, 360, 1800, 3600, 86_400, 86_400 * 40];
                Op::Advance {
                    secs: STEPS[(id % 8) as usize],
                }
            }
        };
        ops.push(op);
    }
    ops
}

/// A small deterministic generator (SplitMix64) so the driver needs no RNG crate.
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl TryRng for SplitMix {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        Ok(lvs_core::rng::derive_seed(self.0, 0))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

fn addr(i: u8) -> IpAddr {
    if i % 3 == 2 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(i)))
    } else {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, i))
    }
}

fn params(id: u32, weight: u32) -> DestParams {
    DestParams::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8)), 80, weight)
}

/// Everything under test.
struct Harness {
    pairs: Vec<(Box<dyn Scheduler>, Box<dyn Scheduler>)>,
    naive_wrr: Option<Wrr>,
    wrr: Wrr,
    solo: Vec<Box<dyn Scheduler>>,
    now: Instant,
}

impl Harness {
    fn new() -> Self {
        let cfg = LocalityConfig {
            expiration: Duration::from_secs(3 * 3600),
            max_entries: 8,
        };
        let pair = |a: Box<dyn Scheduler>, b: NaiveScan| (a, Box::new(b) as Box<dyn Scheduler>);
        Self {
            pairs: vec![
                pair(Box::new(Lc::new()), NaiveScan::lc()),
                pair(Box::new(Wlc::new()), NaiveScan::wlc()),
                pair(Box::new(Sed::new()), NaiveScan::sed()),
                pair(Box::new(Nq::new()), NaiveScan::nq()),
                pair(Box::new(Fo::new()), NaiveScan::fo()),
                pair(Box::new(Ovf::new()), NaiveScan::ovf()),
                (
                    Box::new(Lblc::<Wlc>::with_config(cfg)),
                    Box::new(Lblc::<NaiveScan>::with_backend_config(cfg)),
                ),
                (
                    Box::new(Lblcr::<Wlc>::with_config(cfg)),
                    Box::new(Lblcr::<NaiveScan>::with_backend_config(cfg)),
                ),
            ],
            naive_wrr: Some(Wrr::naive()),
            wrr: Wrr::new(),
            solo: vec![
                Box::new(Rr::new()),
                Box::new(SmoothWrr::new()),
                Box::new(Twos::new(SplitMix(7))),
            ],
            now: Instant::ZERO,
        }
    }

    fn all(&mut self) -> impl Iterator<Item = &mut (dyn Scheduler + 'static)> {
        let naive = self
            .naive_wrr
            .as_mut()
            .map(|w| w as &mut (dyn Scheduler + 'static));
        self.pairs
            .iter_mut()
            .flat_map(|(a, b)| [a.as_mut(), b.as_mut()])
            .chain(core::iter::once(
                &mut self.wrr as &mut (dyn Scheduler + 'static),
            ))
            .chain(naive)
            .chain(self.solo.iter_mut().map(AsMut::as_mut))
    }

    fn step(&mut self, op: Op) -> Result<(), String> {
        match op {
            Op::Add { id, weight } => self.config(|s| s.add_dest(DestId(id), params(id, weight))),
            Op::Remove { id } => self.config(|s| s.remove_dest(DestId(id))),
            Op::SetWeight { id, weight } => self.config(|s| s.set_weight(DestId(id), weight)),
            Op::SetThresholds { id, upper, lower } => {
                self.config(|s| s.set_thresholds(DestId(id), upper, lower))
            }
            Op::Bound { id, active, count } => {
                for _ in 0..count {
                    self.all()
                        .for_each(|s| s.conn_bound(DestId(id), state(active)));
                }
                Ok(())
            }
            Op::Unbound { id, active, count } => {
                for _ in 0..count {
                    self.all()
                        .for_each(|s| s.conn_unbound(DestId(id), state(active)));
                }
                Ok(())
            }
            Op::Changed {
                id,
                from_active,
                to_active,
            } => {
                let (f, t) = (state(from_active), state(to_active));
                self.all().for_each(|s| s.conn_changed(DestId(id), f, t));
                Ok(())
            }
            Op::Advance { secs } => {
                self.now += Duration::from_secs(u64::from(secs));
                Ok(())
            }
            Op::Pick { addr: a } => self.pick(a),
        }?;
        self.check_loads()
    }

    fn config(
        &mut self,
        f: impl Fn(&mut dyn Scheduler) -> Result<(), lvs_core::SchedError>,
    ) -> Result<(), String> {
        let results: Vec<_> = self.all().map(|s| (s.name(), f(s))).collect();
        if let Some((name, r)) = results.iter().find(|(_, r)| *r != results[0].1) {
            return Err(format!(
                "{name}: {r:?} while others gave {:?}",
                results[0].1
            ));
        }
        let too_heavy = self.wrr.max_weight() > NAIVE_WRR_MAX_WEIGHT;
        if too_heavy {
            self.naive_wrr = None;
        }
        Ok(())
    }

    fn pick(&mut self, a: u8) -> Result<(), String> {
        let flow = Flow::tcp(
            IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
            40000,
            addr(a),
            80,
        );
        let now = self.now;
        for (fast, naive) in &mut self.pairs {
            let (x, y) = (fast.pick(&flow, now), naive.pick(&flow, now));
            if x != y {
                return Err(format!("{}: indexed {x:?} != reference {y:?}", fast.name()));
            }
            check_allowed(fast.as_ref(), x)?;
        }
        let x = self.wrr.pick(&flow, now);
        if let Some(n) = &mut self.naive_wrr {
            let y = n.pick(&flow, now);
            if x != y {
                return Err(format!("wrr: fast-forward {x:?} != naive {y:?}"));
            }
        }
        check_allowed(&self.wrr, x)?;
        for s in &mut self.solo {
            let x = s.pick(&flow, now);
            check_allowed(s.as_ref(), x)?;
        }
        Ok(())
    }

    fn check_loads(&self) -> Result<(), String> {
        for (fast, naive) in &self.pairs {
            if fast.dests() != naive.dests() {
                return Err(format!("{}: destination lists differ", fast.name()));
            }
            for id in fast.dests() {
                if fast.load(id) != naive.load(id) {
                    return Err(format!("{}: load of {id} differs", fast.name()));
                }
            }
        }
        Ok(())
    }
}

/// The kernel never hands a new connection to a quiesced destination, nor (except lblc's cache
/// hit) to an OVERLOADED one; ovf also refuses one with more active connections than weight.
fn check_allowed(s: &dyn Scheduler, picked: Option<DestId>) -> Result<(), String> {
    let Some(id) = picked else { return Ok(()) };
    let name = s.name();
    let Some(load) = s.load(id) else {
        return Err(format!("{name}: picked unknown {id}"));
    };
    let overload_ok = name == "lblc";
    if load.weight == 0 || (load.overloaded && !overload_ok) {
        return Err(format!("{name}: picked refused {id} {load:?}"));
    }
    if name == "ovf" && load.active > load.weight {
        return Err(format!("{name}: picked {id} above its weight {load:?}"));
    }
    Ok(())
}

/// Run `ops` through every scheduler; the first divergence or refused pick is an error.
pub fn run(ops: &[Op]) -> Result<(), String> {
    let mut h = Harness::new();
    for (i, &op) in ops.iter().enumerate() {
        h.step(op).map_err(|e| format!("op {i} {op:?}: {e}"))?;
    }
    Ok(())
}

/// The fuzz target: decode `data` and panic on any divergence.
pub fn sched_ops(data: &[u8]) {
    if let Err(e) = run(&decode(data)) {
        panic!("{e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_core::rng::Rng;

    #[test]
    fn splitmix_is_an_rng() {
        let mut r = SplitMix(1);
        assert_ne!(Rng::next_u64(&mut r), Rng::next_u64(&mut r));
    }

    #[test]
    fn decodes_every_opcode() {
        let ops = decode(&[
            0, 1, 5, 1, 1, 2, 1, 3, 3, 1, 4, 5, 4, 1, 3, 5, 1, 3, 6, 1, 3, 7, 1, 8, 2,
        ]);
        assert_eq!(ops.len(), 9);
        assert_eq!(ops[0], Op::Add { id: 1, weight: 5 });
        assert_eq!(ops[8], Op::Advance { secs: 61 });
    }
}
