//! Every IPVS scheduler with the kernel's exact semantics, Maglev, and consistent-hash rings.

pub mod dest;
pub mod dh;
pub mod factory;
pub mod fuzzing;
pub mod khash;
pub mod lblc;
pub mod lblcr;
pub mod least;
pub mod maglev;
pub mod mh;
pub mod reference;
pub mod ring;
pub mod rr;
pub mod sh;
pub mod tournament;
pub mod twos;
pub mod wrr;

pub use dh::Dh;
pub use factory::{FactoryError, NAMES, SchedFlags, by_name};
pub use khash::TableConfigError;
pub use lblc::{Lblc, LocalityConfig};
pub use lblcr::Lblcr;
pub use least::{Fo, Lc, LeastConn, Nq, Ovf, Sed, Wlc};
pub use maglev::{MaglevConfig, MaglevScheduler, MaglevTable, RebuildMode};
pub use mh::{Mh, MhConfig};
pub use rr::Rr;
pub use sh::{Sh, ShConfig};
pub use twos::Twos;
pub use wrr::{SmoothWrr, Wrr};
