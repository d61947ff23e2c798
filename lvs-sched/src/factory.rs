//! Building a scheduler from its ipvsadm name and flags (`-s NAME -b FLAGS`).

use lvs_core::Scheduler;
use lvs_core::rng::Rng;

use crate::khash::TableConfigError;
use crate::maglev::{MaglevConfig, MaglevScheduler, RebuildMode};
use crate::{
    Dh, Fo, Lblc, Lblcr, Lc, Mh, MhConfig, Nq, Ovf, Rr, Sed, Sh, ShConfig, SmoothWrr, Twos, Wlc,
    Wrr,
};

/// Every name [`by_name`] accepts: the ipvsadm set, then our additions.
pub const NAMES: &[&str] = &[
    "rr",
    "wrr",
    "lc",
    "wlc",
    "sed",
    "nq",
    "fo",
    "ovf",
    "twos",
    "lblc",
    "lblcr",
    "dh",
    "sh",
    "mh",
    "swrr",
    "maglev",
    "maglev-mc",
];

/// Scheduler flags as `ipvsadm -b` spells them (`sh-fallback,sh-port`, `mh-fallback,mh-port`;
/// `flag-1` and `flag-2` are the generic names of the same two bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SchedFlags {
    /// `IP_VS_SVC_F_SCHED1`: fall back to another destination when the hashed one is unusable.
    pub fallback: bool,
    /// `IP_VS_SVC_F_SCHED2`: include the source port in the hash.
    pub port: bool,
}

impl SchedFlags {
    /// Parse a comma-separated ipvsadm flag list.
    ///
    /// ```
    /// use lvs_sched::factory::SchedFlags;
    /// let f = SchedFlags::parse("sh-fallback,sh-port").unwrap();
    /// assert!(f.fallback && f.port);
    /// assert!(SchedFlags::parse("bogus").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, FactoryError> {
        let mut f = Self::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "sh-fallback" | "mh-fallback" | "flag-1" => f.fallback = true,
                "sh-port" | "mh-port" | "flag-2" => f.port = true,
                "flag-3" => {}
                _ => return Err(FactoryError::UnknownFlag),
            }
        }
        Ok(f)
    }
}

/// Why a scheduler could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FactoryError {
    /// Not a scheduler name this crate knows.
    #[error(
        "unknown scheduler (known: rr wrr lc wlc sed nq fo ovf twos lblc lblcr dh sh mh swrr maglev maglev-mc)"
    )]
    UnknownScheduler,
    /// A flag ipvsadm does not know.
    #[error(
        "unknown scheduler flag (known: sh-fallback sh-port mh-fallback mh-port flag-1 flag-2 flag-3)"
    )]
    UnknownFlag,
    /// The table configuration was refused.
    #[error(transparent)]
    Table(#[from] TableConfigError),
}

/// Build the scheduler `name` with `flags`. `rng` is used only by `twos` (power of two
/// choices); `maglev` uses `seed` for its permutations (every node must use the same seed).
/// `maglev-mc` is Maglev in minimal-churn rebuild mode. `swrr` is the nginx-style smooth WRR
/// (not the kernel's wrr).
///
/// ```
/// use lvs_core::{DestId, DestParams, Flow};
/// use lvs_sched::factory::{SchedFlags, by_name};
/// use rand_chacha::rand_core::SeedableRng;
///
/// let rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let mut s = by_name("wrr", SchedFlags::default(), 0, rng).unwrap();
/// for (i, w) in [4, 3, 2].into_iter().enumerate() {
///     s.add_dest(DestId(i as u32), DestParams::new("10.0.0.1".parse().unwrap(), 80, w)).unwrap();
/// }
/// let flow = Flow::tcp("192.0.2.1".parse().unwrap(), 1, "198.51.100.1".parse().unwrap(), 80);
/// let picks: String = (0..9)
///     .map(|_| (b'A' + s.pick(&flow, lvs_core::Instant::ZERO).unwrap().0 as u8) as char)
///     .collect();
/// assert_eq!(s.name(), "wrr");
/// assert_eq!(picks.len(), 9);
/// ```
pub fn by_name<R: Rng + 'static>(
    name: &str,
    flags: SchedFlags,
    seed: u64,
    rng: R,
) -> Result<Box<dyn Scheduler>, FactoryError> {
    let sh = ShConfig {
        fallback: flags.fallback,
        port: flags.port,
        ..ShConfig::default()
    };
    let mh = MhConfig {
        fallback: flags.fallback,
        port: flags.port,
        ..MhConfig::default()
    };
    let maglev = MaglevConfig {
        seed,
        ..MaglevConfig::default()
    };
    Ok(match name {
        "rr" => Box::new(Rr::new()),
        "wrr" => Box::new(Wrr::new()),
        "swrr" => Box::new(SmoothWrr::new()),
        "lc" => Box::new(Lc::new()),
        "wlc" => Box::new(Wlc::new()),
        "sed" => Box::new(Sed::new()),
        "nq" => Box::new(Nq::new()),
        "fo" => Box::new(Fo::new()),
        "ovf" => Box::new(Ovf::new()),
        "twos" => Box::new(Twos::new(rng)),
        "lblc" => Box::new(Lblc::<Wlc>::new()),
        "lblcr" => Box::new(Lblcr::<Wlc>::new()),
        "dh" => Box::new(Dh::new()),
        "sh" => Box::new(Sh::new(sh)?),
        "mh" => Box::new(Mh::new(mh)?),
        "maglev" => Box::new(MaglevScheduler::new(maglev)?),
        "maglev-mc" => Box::new(MaglevScheduler::new(MaglevConfig {
            mode: RebuildMode::MinimalChurn,
            ..maglev
        })?),
        _ => return Err(FactoryError::UnknownScheduler),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_core::{DestId, DestParams, Flow, Instant};
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn every_name_builds_and_reports_its_name() {
        for &n in NAMES {
            let s = by_name(n, SchedFlags::default(), 7, ChaCha8Rng::seed_from_u64(1)).unwrap();
            let expect = if n == "maglev-mc" { "maglev" } else { n };
            assert_eq!(s.name(), expect, "{n}");
        }
        assert_eq!(
            by_name(
                "bogus",
                SchedFlags::default(),
                0,
                ChaCha8Rng::seed_from_u64(1)
            )
            .err(),
            Some(FactoryError::UnknownScheduler)
        );
    }

    #[test]
    fn every_scheduler_picks_only_eligible_destinations() {
        let flow = Flow::tcp(
            "192.0.2.1".parse().unwrap(),
            1000,
            "198.51.100.1".parse().unwrap(),
            80,
        );
        for &n in NAMES {
            let mut s = by_name(n, SchedFlags::default(), 7, ChaCha8Rng::seed_from_u64(1)).unwrap();
            assert_eq!(s.pick(&flow, Instant::ZERO), None, "{n}: no destinations");
            s.add_dest(
                DestId(1),
                DestParams::new("10.0.0.1".parse().unwrap(), 80, 1),
            )
            .unwrap();
            assert_eq!(s.pick(&flow, Instant::ZERO), Some(DestId(1)), "{n}");
            s.set_weight(DestId(1), 0).unwrap();
            assert_eq!(s.pick(&flow, Instant::ZERO), None, "{n}: quiesced");
        }
    }
}
