//! Next-hop MAC resolution for packet mode: a bounded table of IPv4 → MAC entries learned from
//! received frames (clients, NAT real servers), ARP replies and the kernel's neighbour table,
//! and a bounded queue of frames waiting for a next hop to resolve. No sockets here: the shell
//! asks [`Neighbours::should_ask`] before it sends an ARP request.

use core::net::Ipv4Addr;
use core::time::Duration;
use std::collections::{HashMap, VecDeque};

use lvs_core::Instant;

/// An entry is used for this long after it was last confirmed.
pub const NEIGH_TTL: Duration = Duration::from_secs(60);
/// An entry older than this is re-confirmed with an ARP request while it is still used.
pub const NEIGH_REFRESH: Duration = Duration::from_secs(30);
/// Least time between two ARP requests for the same address.
pub const ASK_INTERVAL: Duration = Duration::from_millis(250);
/// A frame waits this long for its next hop, then it is dropped.
pub const PENDING_TTL: Duration = Duration::from_secs(1);
/// Most entries kept.
pub const MAX_NEIGH: usize = 65_536;
/// Most frames waiting for resolution at once.
pub const MAX_PENDING: usize = 256;

/// What the table did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NeighStats {
    /// Entries added or changed.
    pub learned: u64,
    /// Addresses not learned because the table was full.
    pub table_full: u64,
    /// Frames queued for an unresolved next hop.
    pub parked: u64,
    /// Queued frames dropped because their next hop did not resolve in time.
    pub unresolved: u64,
    /// Frames dropped because the queue was full.
    pub queue_full: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    mac: [u8; 6],
    confirmed: Instant,
}

#[derive(Debug)]
struct Pending {
    next_hop: Ipv4Addr,
    since: Instant,
    frame: Vec<u8>,
}

/// The neighbour table and the queue of frames waiting on it.
#[derive(Debug, Default)]
pub struct Neighbours {
    entries: HashMap<Ipv4Addr, Entry>,
    asked: HashMap<Ipv4Addr, Instant>,
    pending: VecDeque<Pending>,
    stats: NeighStats,
}

impl Neighbours {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters.
    pub fn stats(&self) -> NeighStats {
        self.stats
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `ip` is at `mac` (seen now). Returns the frames that were waiting for `ip`, ready to
    /// be sent to `mac`.
    pub fn learn(&mut self, ip: Ipv4Addr, mac: [u8; 6], now: Instant) -> Vec<Vec<u8>> {
        if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || mac[0] & 1 == 1 {
            return Vec::new();
        }
        match self.entries.get_mut(&ip) {
            Some(e) => {
                if e.mac != mac {
                    self.stats.learned += 1;
                }
                e.mac = mac;
                e.confirmed = now;
            }
            None => {
                if self.entries.len() >= MAX_NEIGH {
                    self.expire(now);
                }
                if self.entries.len() >= MAX_NEIGH {
                    self.stats.table_full += 1;
                } else {
                    self.stats.learned += 1;
                    self.entries.insert(
                        ip,
                        Entry {
                            mac,
                            confirmed: now,
                        },
                    );
                }
            }
        }
        self.asked.remove(&ip);
        if !self.pending.iter().any(|p| p.next_hop == ip) {
            return Vec::new();
        }
        let (ready, keep): (VecDeque<Pending>, VecDeque<Pending>) =
            core::mem::take(&mut self.pending)
                .into_iter()
                .partition(|p| p.next_hop == ip);
        self.pending = keep;
        ready.into_iter().map(|p| p.frame).collect()
    }

    /// The MAC of `ip`, if known and not older than [`NEIGH_TTL`].
    pub fn lookup(&self, ip: Ipv4Addr, now: Instant) -> Option<[u8; 6]> {
        let e = self.entries.get(&ip)?;
        (now.saturating_duration_since(e.confirmed) < NEIGH_TTL).then_some(e.mac)
    }

    /// Whether a known entry should be re-confirmed (older than [`NEIGH_REFRESH`]).
    pub fn stale(&self, ip: Ipv4Addr, now: Instant) -> bool {
        self.entries
            .get(&ip)
            .is_some_and(|e| now.saturating_duration_since(e.confirmed) >= NEIGH_REFRESH)
    }

    /// Whether the shell should send an ARP request for `ip` now (at most one per
    /// [`ASK_INTERVAL`]); records the request when it says yes.
    pub fn should_ask(&mut self, ip: Ipv4Addr, now: Instant) -> bool {
        if let Some(&at) = self.asked.get(&ip)
            && now.saturating_duration_since(at) < ASK_INTERVAL
        {
            return false;
        }
        if self.asked.len() >= MAX_NEIGH {
            self.asked
                .retain(|_, at| now.saturating_duration_since(*at) < ASK_INTERVAL);
            if self.asked.len() >= MAX_NEIGH {
                return false;
            }
        }
        self.asked.insert(ip, now);
        true
    }

    /// Queue `frame` until `next_hop` resolves; `false` (and counted) when the queue is full.
    pub fn park(&mut self, next_hop: Ipv4Addr, frame: Vec<u8>, now: Instant) -> bool {
        if self.pending.len() >= MAX_PENDING {
            self.stats.queue_full += 1;
            return false;
        }
        self.stats.parked += 1;
        self.pending.push_back(Pending {
            next_hop,
            since: now,
            frame,
        });
        true
    }

    /// Frames waiting for resolution.
    pub fn parked(&self) -> usize {
        self.pending.len()
    }

    /// Drop queued frames older than [`PENDING_TTL`] (counted as unresolved) and entries and
    /// request marks that have timed out.
    pub fn expire(&mut self, now: Instant) {
        while let Some(p) = self.pending.front() {
            if now.saturating_duration_since(p.since) < PENDING_TTL {
                break;
            }
            self.pending.pop_front();
            self.stats.unresolved += 1;
        }
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.confirmed) < NEIGH_TTL);
        self.asked
            .retain(|_, at| now.saturating_duration_since(*at) < NEIGH_TTL);
    }
}

/// The complete entries of device `dev` in the kernel's neighbour table as `/proc/net/arp`
/// shows it (`IP address  HW type  Flags  HW address  Mask  Device`, flag 0x2 = complete).
pub fn parse_proc_arp(text: &str, dev: &str) -> Vec<(Ipv4Addr, [u8; 6])> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [ip, _hw, flags, mac, _mask, device] = f[..] else {
            continue;
        };
        let complete =
            u32::from_str_radix(flags.trim_start_matches("0x"), 16).is_ok_and(|v| v & 0x2 != 0);
        let (Ok(ip), Some(mac)) = (ip.parse::<Ipv4Addr>(), parse_mac(mac)) else {
            continue;
        };
        if complete && device == dev && mac != [0; 6] {
            out.push((ip, mac));
        }
    }
    out
}

/// `aa:bb:cc:dd:ee:ff` → bytes.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut m = [0u8; 6];
    let mut parts = s.trim().split(':');
    for b in &mut m {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 11);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 12);
    const MAC: [u8; 6] = [0x02, 1, 2, 3, 4, 5];

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    #[test]
    fn parked_frames_leave_when_their_next_hop_resolves() {
        let mut n = Neighbours::new();
        assert_eq!(n.lookup(A, at(0)), None);
        assert!(n.should_ask(A, at(0)));
        assert!(!n.should_ask(A, at(100)));
        assert!(n.should_ask(A, at(300)));
        assert!(n.park(A, vec![1], at(0)));
        assert!(n.park(B, vec![2], at(0)));
        assert!(n.park(A, vec![3], at(10)));
        assert_eq!(n.learn(A, MAC, at(20)), vec![vec![1], vec![3]]);
        assert_eq!(n.parked(), 1);
        assert_eq!(n.lookup(A, at(20)), Some(MAC));
        n.expire(at(1_500));
        assert_eq!((n.parked(), n.stats().unresolved), (0, 1));
    }

    #[test]
    fn entries_age_out_and_go_stale_first() {
        let mut n = Neighbours::new();
        let _ = n.learn(A, MAC, at(0));
        assert!(!n.stale(A, at(1_000)));
        assert!(n.stale(A, at(31_000)));
        assert_eq!(n.lookup(A, at(59_000)), Some(MAC));
        assert_eq!(n.lookup(A, at(61_000)), None);
        n.expire(at(61_000));
        assert!(n.is_empty());
    }

    #[test]
    fn the_queue_and_the_table_are_bounded() {
        let mut n = Neighbours::new();
        for i in 0..MAX_PENDING {
            assert!(n.park(A, vec![i as u8], at(0)));
        }
        assert!(!n.park(A, vec![0], at(0)));
        assert_eq!(n.stats().queue_full, 1);
        for i in 0..(MAX_NEIGH as u32 + 5) {
            let _ = n.learn(Ipv4Addr::from(0x0a00_0000 + i), MAC, at(0));
        }
        assert_eq!(n.len(), MAX_NEIGH);
        assert_eq!(n.stats().table_full, 5);
        // Broadcast, multicast and group MACs are never learned.
        let mut n = Neighbours::new();
        let _ = n.learn(Ipv4Addr::BROADCAST, MAC, at(0));
        let _ = n.learn(B, [0x01, 0, 0x5e, 0, 0, 1], at(0));
        assert!(n.is_empty());
    }

    #[test]
    fn proc_net_arp_complete_entries_of_one_device() {
        let text = "IP address       HW type     Flags       HW address            Mask     Device\n\
                    10.0.2.11        0x1         0x2         02:01:02:03:04:05     *        eth0\n\
                    10.0.2.12        0x1         0x0         00:00:00:00:00:00     *        eth0\n\
                    10.0.9.1         0x1         0x2         02:aa:bb:cc:dd:ee     *        eth1\n\
                    garbage\n";
        assert_eq!(parse_proc_arp(text, "eth0"), vec![(A, MAC)]);
        assert_eq!(parse_mac("02:01:02:03:04:05"), Some(MAC));
        assert_eq!(parse_mac("02:01:02:03:04"), None);
        assert_eq!(parse_mac("02:01:02:03:04:05:06"), None);
    }
}
