//! How much of the key space moves when one backend leaves or joins, for IPVS `sh`, IPVS `mh`,
//! classic Maglev and Maglev with minimal-churn rebuilds.
//!
//! Run with `cargo run --release -p lvs-sched --example disruption`. Prints a markdown table:
//! each cell is the share of sampled client addresses whose backend changed, with the share
//! beyond the ideal in parentheses (ideal: the flows of the removed backend, or the flows the
//! new backend takes). Removal is averaged over the first, middle and last backend of the list.

use core::net::{IpAddr, Ipv4Addr};

use lvs_core::{DestId, DestParams, Flow, Instant, Scheduler};
use lvs_sched::maglev::{FlowKey, MaglevConfig, MaglevScheduler, RebuildMode};
use lvs_sched::mh::{Mh, MhConfig};
use lvs_sched::sh::{Sh, ShConfig};

const SAMPLES: u32 = 200_000;

fn dest(i: u32) -> DestParams {
    DestParams::new(IpAddr::V4(Ipv4Addr::from(0x0a64_0000 + i)), 8080, 1)
}

fn flows() -> Vec<Flow> {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    (0..SAMPLES)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let src = IpAddr::V4(Ipv4Addr::from((x >> 16) as u32));
            Flow::tcp(src, 40000, "192.0.2.1".parse().expect("vip"), 80)
        })
        .collect()
}

fn picks(s: &mut dyn Scheduler, flows: &[Flow]) -> Vec<Option<DestId>> {
    flows.iter().map(|f| s.pick(f, Instant::ZERO)).collect()
}

/// (moved, beyond ideal) as fractions of all samples.
fn churn(before: &[Option<DestId>], after: &[Option<DestId>], changed: DestId) -> (f64, f64) {
    let (mut moved, mut beyond) = (0u32, 0u32);
    for (b, a) in before.iter().zip(after) {
        if b != a {
            moved += 1;
            if *b != Some(changed) && *a != Some(changed) {
                beyond += 1;
            }
        }
    }
    let n = f64::from(SAMPLES);
    (f64::from(moved) / n, f64::from(beyond) / n)
}

type Make = fn() -> Box<dyn SchedClone>;

trait SchedClone: Scheduler {
    fn boxed(&self) -> Box<dyn SchedClone>;
}

impl<T: Scheduler + Clone + 'static> SchedClone for T {
    fn boxed(&self) -> Box<dyn SchedClone> {
        Box::new(self.clone())
    }
}

fn maglev(mode: RebuildMode) -> Box<dyn SchedClone> {
    let cfg = MaglevConfig {
        size: 65537,
        mode,
        key: FlowKey::SrcAddr,
        ..MaglevConfig::default()
    };
    Box::new(MaglevScheduler::new(cfg).expect("prime size"))
}

fn main() {
    let kinds: [(&str, Make); 4] = [
        ("IPVS sh (2^16)", || {
            Box::new(
                Sh::new(ShConfig {
                    bits: 16,
                    ..ShConfig::default()
                })
                .expect("bits"),
            )
        }),
        ("IPVS mh (65521)", || {
            Box::new(
                Mh::new(MhConfig {
                    tab_index: 16,
                    ..MhConfig::default()
                })
                .expect("index"),
            )
        }),
        ("Maglev (65537)", || maglev(RebuildMode::Classic)),
        ("minimal-churn (65537)", || {
            maglev(RebuildMode::MinimalChurn)
        }),
    ];
    let flows = flows();
    print!("| N | change | ideal |");
    for (name, _) in &kinds {
        print!(" {name} |");
    }
    println!("\n|---|---|---|{}", "---|".repeat(kinds.len()));
    for n in [10u32, 100, 1000] {
        let mut removal = vec![(0.0, 0.0); kinds.len()];
        let mut addition = vec![(0.0, 0.0); kinds.len()];
        let (mut ideal_rm, mut ideal_add) = (0.0, 0.0);
        for (k, (_, make)) in kinds.iter().enumerate() {
            let mut base = make();
            for i in 0..n {
                base.add_dest(DestId(i), dest(i)).expect("add");
            }
            let before = picks(&mut *base, &flows);
            let victims = [0, n / 2, n - 1];
            for &v in &victims {
                let mut s = base.boxed();
                s.remove_dest(DestId(v)).expect("remove");
                let (m, b) = churn(&before, &picks(&mut *s, &flows), DestId(v));
                removal[k].0 += m / victims.len() as f64;
                removal[k].1 += b / victims.len() as f64;
                if k == 0 {
                    let on = before.iter().filter(|d| **d == Some(DestId(v))).count();
                    ideal_rm += on as f64 / f64::from(SAMPLES) / victims.len() as f64;
                }
            }
            let mut s = base.boxed();
            s.add_dest(DestId(n), dest(n)).expect("add");
            addition[k] = churn(&before, &picks(&mut *s, &flows), DestId(n));
            ideal_add = 1.0 / f64::from(n + 1);
        }
        for (label, ideal, row) in [
            ("remove 1", ideal_rm, &removal),
            ("add 1", ideal_add, &addition),
        ] {
            print!("| {n} | {label} | {:.2} % |", ideal * 100.0);
            for (m, b) in row {
                print!(" {:.2} % ({:.2} %) |", m * 100.0, b * 100.0);
            }
            println!();
        }
    }
}
