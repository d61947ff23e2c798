//! `lvsd`, the director you can run without root: a proxy-mode IP virtual server.
//!
//! It accepts connections on each virtual service's address, picks a real server with any
//! lvs-sched scheduler (the same `wlc`, `wrr`, `sh`, `mh`, `maglev` ... as the packet-mode
//! director), and splices the bytes both ways; UDP services relay per-client flows. Health
//! checks from [`lvs_core::health`] quiesce dead servers (weight 0) and restore them when they
//! come back. `lvsadm` administers it over a Unix socket with ipvsadm's own syntax and
//! output.
//!
//! * [`config`]: the TOML configuration.
//! * [`table`]: services, schedulers, persistence, health state and counters (no sockets).
//! * [`admin`]: ipvsadm commands, the control protocol, `-L -n` and `-S` output.
//! * [`splice`]: bounded, half-close-aware byte pumping; the PROXY v2 header.
//! * [`probe`]: health probes run non-blockingly in the loop.
//! * [`daemon`]: the mio loop tying it together (signals: SIGTERM drains, SIGHUP reloads).
//! * [`packet`]: packet mode (`mode = "packet"`): AF_PACKET on an interface and the
//!   `lvs-core` director forwarding by NAT, DR or TUN per real server.
//! * [`demo`]: `lvsd --demo`, a self-contained tour.
//! * [`import`], [`import_lvscf`], [`import_keepalived`]: Piranha `lvs.cf` and keepalived.conf
//!   importers.
//! * [`realserver`]: `lvsadm realserver`, the DR/TUN real server setup.
//! * [`vrrp`]: the director pair's VRRP (lvs-vrrpd's daemon) in a thread beside the data
//!   plane (`[vrrp]` in the TOML, or the `vrrp_*` blocks of `lvsd -f keepalived.conf`).
//!
//! Counting follows IPVS: a proxied TCP connection is *active* while open and then *inactive*
//! for `time_wait` (IPVS's TIME_WAIT, 120 s by default), so least-connection schedulers see
//! recent short connections as IPVS does; UDP flows are inactive.

pub mod admin;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod import;
pub mod import_keepalived;
pub mod import_lvscf;
pub mod packet;
pub mod probe;
pub mod realserver;
pub mod splice;
pub mod table;
pub mod vrrp;

pub use config::{Config, ConfigFile, DataPlane};
pub use daemon::{Daemon, StopHandle, control_request};
