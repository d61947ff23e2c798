//! [`HeldVips`]: the VIPs a [`Daemon`](super::daemon::Daemon) in publish mode holds, per
//! interface, shared with a data plane in the same process.
//!
//! A daemon normally makes its VIPs local addresses of their interface through rtnetlink. A
//! data plane that forwards the VIPs' packets in user space (lvsd's packet mode) must not let
//! the kernel own them — the kernel would answer their TCP with resets — and answers ARP for
//! them itself. In publish mode
//! ([`Daemon::publish_to`](super::daemon::Daemon::publish_to)) the daemon writes the VIP set
//! its master instances want into this handle instead, level-triggered after every change as
//! the netlink path reconciles, and the data plane answers for a VIP only while
//! [`HeldVips::holds`] says so. Gratuitous ARP and unsolicited NA still leave from the daemon
//! when an instance becomes master.

use core::net::IpAddr;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The VIPs held per interface, shared between the VRRP daemon (writer) and a data plane
/// (reader). Cloning gives another handle to the same set; the lock is held only for a lookup
/// or a replacement, never across I/O.
#[derive(Debug, Clone, Default)]
pub struct HeldVips(Arc<Mutex<BTreeMap<String, BTreeSet<IpAddr>>>>);

/// What one [`HeldVips::set`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeldChange {
    /// Addresses now held that were not before.
    pub added: Vec<IpAddr>,
    /// Addresses no longer held.
    pub removed: Vec<IpAddr>,
}

impl HeldVips {
    /// An empty set: nothing held anywhere.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, BTreeSet<IpAddr>>> {
        // The map is replaced whole under the lock, so a panicking holder cannot leave it
        // half-written: a poisoned lock still guards a consistent map.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `ip` is held on `interface`.
    pub fn holds(&self, interface: &str, ip: IpAddr) -> bool {
        self.lock().get(interface).is_some_and(|s| s.contains(&ip))
    }

    /// The addresses held on `interface`.
    pub fn on(&self, interface: &str) -> BTreeSet<IpAddr> {
        self.lock().get(interface).cloned().unwrap_or_default()
    }

    /// Make `interface` hold exactly `vips`; returns what changed.
    pub fn set(&self, interface: &str, vips: BTreeSet<IpAddr>) -> HeldChange {
        let mut map = self.lock();
        let old = map.get(interface).cloned().unwrap_or_default();
        let change = HeldChange {
            added: vips.difference(&old).copied().collect(),
            removed: old.difference(&vips).copied().collect(),
        };
        if vips.is_empty() {
            map.remove(interface);
        } else {
            map.insert(interface.to_owned(), vips);
        }
        change
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn set_reports_the_difference_and_holds_follows_it() {
        let h = HeldVips::new();
        let other = h.clone();
        assert!(!h.holds("eth0", ip("10.0.0.1")));
        let c = h.set("eth0", [ip("10.0.0.1"), ip("fd00::1")].into());
        assert_eq!(c.added, [ip("10.0.0.1"), ip("fd00::1")]);
        assert!(c.removed.is_empty());
        // The clone sees the same set; other interfaces hold nothing.
        assert!(other.holds("eth0", ip("10.0.0.1")));
        assert!(other.holds("eth0", ip("fd00::1")));
        assert!(!other.holds("eth1", ip("10.0.0.1")));
        let c = h.set("eth0", [ip("10.0.0.1"), ip("10.0.0.2")].into());
        assert_eq!(
            c,
            HeldChange {
                added: vec![ip("10.0.0.2")],
                removed: vec![ip("fd00::1")]
            }
        );
        assert_eq!(h.set("eth0", h.on("eth0")), HeldChange::default());
        let c = h.set("eth0", BTreeSet::new());
        assert_eq!(c.removed, [ip("10.0.0.1"), ip("10.0.0.2")]);
        assert!(!other.holds("eth0", ip("10.0.0.1")));
        assert!(other.on("eth0").is_empty());
    }
}
