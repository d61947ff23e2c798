//! Every IPVS scheduler with the Linux kernel's exact semantics, Maglev done right, and the
//! consistent-hash rings of memcached proxies and clients.
//!
//! Each scheduler implements [`lvs_core::Scheduler`]: the director adds destinations, reports
//! every connection bound to, unbound from or moved between active and inactive on a
//! destination, and asks [`Scheduler::pick`] for the destination of
//! each new flow. The shared rules live in [`dest::DestTable`]: overhead = active × 256 +
//! inactive, weight 0 = quiesced (no new connections, existing ones kept), OVERLOAD with the
//! kernel's upper/lower threshold hysteresis, ties to the first destination in list order.
//!
//! **List order** is the order of `add_dest` calls. The kernel inserts a new destination at the
//! *head* of its list (`list_add_rcu`), so its list is newest first: to reproduce a kernel's
//! picks for a sequence of `ipvsadm -a` commands, add the destinations in reverse order.
//!
//! | name | type | balances on | cost per pick | use it when |
//! |---|---|---|---|---|
//! | `rr` | [`Rr`] | turn order | O(1) amortised | equal servers, short requests |
//! | `wrr` | [`Wrr`] | weights (gcd / max-weight interleave: 4,3,2 → AABABCABC) | O(1) amortised, O(N) worst | unequal servers, short requests |
//! | `swrr` | [`SmoothWrr`] | weights, smoothly interleaved (nginx); **not** the kernel's | O(N) | you want wrr without bursts |
//! | `lc` | [`Lc`] | fewest connections (active × 256 + inactive) | O(1) read, O(log N) per update | long connections, equal servers |
//! | `wlc` | [`Wlc`] | connections ÷ weight (the IPVS default) | O(1) read, O(log N) per update | long connections, unequal servers |
//! | `sed` | [`Sed`] | (active + 1) ÷ weight | O(1) read, O(log N) per update | few, long, active connections |
//! | `nq` | [`Nq`] | an idle server first, else as sed | O(1) read, O(log N) per update | latency-sensitive, bursty load |
//! | `fo` | [`Fo`] | highest weight that is not overloaded | O(1) read, O(log N) per update | active/standby by weight |
//! | `ovf` | [`Ovf`] | highest weight until active > weight, then the next | O(1) read, O(log N) per update | fill one server, overflow to the next (TCP) |
//! | `twos` | [`Twos`] | the less loaded of two weighted random draws | O(N) | large pools, cheap and fair |
//! | `lblc` | [`Lblc`] | the destination IP (cache locality), wlc on a miss | O(1) hit | proxy caches keyed by target |
//! | `lblcr` | [`Lblcr`] | as lblc with a replicated set per destination IP | O(set) hit | hot targets behind caches |
//! | `dh` | [`Dh`] | hash of the destination IP (weights ignored) | O(1) | static partitioning by target |
//! | `sh` | [`Sh`] | hash of the source IP (+port with `sh-port`) | O(1) | client affinity without persistence |
//! | `mh` | [`Mh`] | Maglev over source IP (+port), kernel tables | O(1), rebuild per change | ECMP-friendly affinity, IPVS parity |
//! | `maglev` | [`MaglevScheduler`] | Maglev over a chosen flow key, exact quotas | O(1), rebuild per change | consistent hashing across directors |
//! | `maglev-mc` | [`MaglevScheduler`] in [`RebuildMode::MinimalChurn`] | as maglev, moving only the slots a change requires | O(1), rebuild per change | backends come and go often |
//!
//! Speed: the least-connection family keeps a tournament tree in step with the counters, so a
//! pick costs about half a nanosecond at any N while returning exactly what the kernel's
//! linear scan would (checked by property tests against [`reference`](mod@reference)); see BENCHMARKS.md.
//!
//! Rings for memcached pools (twemproxy ketama / modula / random with every hash function,
//! libmemcached weighted ketama, jump hash, exact ring diffs) are in [`ring`].
//!
//! # Example
//!
//! ```
//! use lvs_core::{ConnState, DestId, DestParams, Flow, Instant};
//! use lvs_sched::{Scheduler as _, Wlc};
//!
//! let mut s = Wlc::new();
//! s.add_dest(DestId(1), DestParams::new("10.0.0.1".parse().unwrap(), 80, 1)).unwrap();
//! s.add_dest(DestId(2), DestParams::new("10.0.0.2".parse().unwrap(), 80, 2)).unwrap();
//! let flow = Flow::tcp("192.0.2.7".parse().unwrap(), 40000, "198.51.100.1".parse().unwrap(), 80);
//! let mut picks = Vec::new();
//! for _ in 0..6 {
//!     let d = s.pick(&flow, Instant::ZERO).unwrap();
//!     s.conn_bound(d, ConnState::Active); // the connection stays open
//!     picks.push(d.0);
//! }
//! // Ties go to the first in list order; after that, load follows weight 1:2.
//! assert_eq!(picks, [1, 2, 2, 1, 2, 2]);
//! ```

pub mod dest;
pub mod dh;
pub mod factory;
pub mod fuzzing;
pub mod khash;
pub mod lblc;
pub mod lblcr;
pub mod least;
pub mod maglev;
pub mod mcproxy;
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
pub use lvs_core::Scheduler;
pub use maglev::{MaglevConfig, MaglevScheduler, MaglevTable, RebuildMode};
pub use mh::{Mh, MhConfig};
pub use rr::Rr;
pub use sh::{Sh, ShConfig};
pub use twos::Twos;
pub use wrr::{SmoothWrr, Wrr};
