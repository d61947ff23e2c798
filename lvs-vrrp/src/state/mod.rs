//! The VRRP instance state machine: election, timers, announcements, tracking, sync groups.
//!
//! [`Instance`] implements [`lvs_core::StateMachine`]. It is built from the receive-side
//! [`InstanceConfig`](crate::config::InstanceConfig) (VRID, priority, version and interval,
//! addresses, multicast or unicast) and [`Settings`] (primary address, preempt, accept mode,
//! checksum variants, announcement schedule, the extensions below), and runs the transition
//! table of RFC 3768 / RFC 5798 / RFC 9568 §6.4 with keepalived's behaviour where peers see it:
//!
//! | state | input | action |
//! |---|---|---|
//! | Initialize | `start`, priority 255 | advert, announce, Adver_Timer; → Master |
//! | Initialize | `start`, priority < 255 | Master_Adver_Interval := ours; Master_Down := MDI; → Backup |
//! | Backup | `shutdown` | stop timers; → Initialize |
//! | Backup | Master_Down expires | advert, announce, Adver_Timer; → Master |
//! | Backup | advert, priority 0 | Master_Down := Skew_Time |
//! | Backup | advert, nopreempt or priority ≥ ours | learn interval (v3); Master_Down := MDI |
//! | Backup | advert, preempt and priority < ours | discard, timer **not** reset (fast preempt: Master_Down := Skew_Time) |
//! | Master | Adver_Timer expires | advert; re-arm |
//! | Master | `shutdown` | advert with priority 0; → Initialize |
//! | Master | advert, priority 0 | advert; re-arm Adver_Timer |
//! | Master | advert, higher priority, or equal from a higher address | learn interval; Master_Down := MDI; → Backup |
//! | Master | advert, lower | [`LowerPriority::Answer`]: advert + announce at once (RFC 9568, keepalived); [`LowerPriority::Discard`]: nothing (RFC 3768/5798) |
//! | any running | weight-0 track down | (master: advert with priority 0); → Fault |
//! | Fault | every weight-0 track up | → Backup (owner: → Master) |
//!
//! Timer arithmetic is in [`timing`], in nanoseconds. Received datagrams go through
//! [`validate`](crate::validate::validate); drops are counted by reason in
//! [`InstanceStats::rx`].
//!
//! # Outputs
//!
//! * Adverts as [`lvs_core::Transmit`]s from the primary address with TTL 255 (unicast:
//!   [`Settings::unicast_ttl`]) to 224.0.0.18 / ff02::12, or one copy per unicast peer.
//! * [`Event::Vips`]: the **level-triggered** desired address set, emitted at start and at every
//!   change (also [`Instance::desired_vips`]).
//! * [`Event::StateChanged`] with a [`Reason`] (keepalived's notify MASTER / BACKUP / FAULT /
//!   STOP).
//! * [`Event::Announce`]: gratuitous ARP / unsolicited NA requests, on becoming master, again
//!   after `garp_master_delay`, every `garp_master_refresh`, and when answering a
//!   lower-priority advert ([`AnnounceSettings`]).
//! * [`Event::Drift`], [`Event::MasterRxLowerPriority`], [`Event::Late`].
//!
//! # Beyond keepalived
//!
//! * **Fast preempt** ([`Settings::fast_preempt`]) and a selectable lower-priority rule
//!   ([`Settings::lower_priority`]).
//! * **Graceful handover** ([`Instance::handover`]): priority 0 now, the best backup takes over
//!   within its Skew_Time plus one round trip, and this instance stays backup until
//!   [`Instance::reclaim`].
//! * **Stall-aware timers**: a timer served late fires once and re-arms from `now`; answers to
//!   lower-priority adverts are limited to one per interval and announcement bursts to one per
//!   instant, so after a long freeze the machine sends at most one advert and one burst.
//! * **Peer table and drift detection** ([`Instance::peers`], [`Event::Drift`]): a peer's VIP
//!   set, v2 interval, v2 authentication, checksum variant or version that differs from ours is
//!   reported on its first advert, before it causes split brain.
//! * [`Instance::explain`]: why this state, who is master and next, when it can change.
//!
//! Sync groups are a separate component, [`SyncGroup`].

mod explain;
mod instance;
mod peers;
mod rx;
mod settings;
mod sync;
pub mod timing;
pub mod track;
mod types;

pub use explain::{Explain, RouterView};
pub use instance::Instance;
pub use peers::Peer;
pub use settings::{AnnounceSettings, LowerPriority, Settings};
pub use sync::SyncGroup;
pub use track::Track;
pub use types::{
    CommandError, ConfigError, Drift, Event, InstanceStats, Reason, Scheduled, State, Timer,
};
