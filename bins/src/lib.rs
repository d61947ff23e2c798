//! The shared runtime of the lvs binaries: a mio event loop that drives `lvs_core` machines over
//! real sockets.
//!
//! The binaries are the shell around the Sans-IO protocol crates: they own the clock, the
//! sockets, signals and logging, and nothing else. See [`io`] for the loop.

pub mod fuzzing;
pub mod io;
pub mod lvsd;
pub mod mcproxy;
pub mod named;
pub mod ntpd;
pub mod vrrpd;
