//! Every IPVS scheduler with the kernel's exact semantics, Maglev, and consistent-hash rings.

pub mod dest;
