//! Announcements of a new master: the gratuitous ARP frame keepalived sends for an IPv4
//! virtual address, the unsolicited neighbour advertisement for an IPv6 one, and a pacing
//! queue that spreads a burst over `garp_interval`.
//!
//! The GARP is an ARP *request* broadcast from the interface MAC: Ethernet destination
//! ff:ff:ff:ff:ff:ff, source = our MAC, EtherType 0x0806; ARP hardware type 1 (Ethernet),
//! protocol 0x0800, lengths 6 and 4, opcode 1, sender = (our MAC, VIP), target =
//! (ff:ff:ff:ff:ff:ff, VIP) — the layout captured from keepalived 2.2.7.
//!
//! The unsolicited NA (RFC 4861 §7.2.6, RFC 5798 §6.4.2) goes to all-nodes: Ethernet
//! destination 33:33:00:00:00:01, IPv6 source = the VIP, destination ff02::1, hop limit 255,
//! ICMPv6 type 136 with Override set, Solicited clear, Router set only when the interface
//! forwards (keepalived's rule), target = the VIP, and a target link-layer address option
//! carrying our MAC.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::time::Duration;
use std::collections::VecDeque;

use lvs_core::Instant;

/// The length of a gratuitous ARP frame (no padding: the NIC pads to 60 bytes).
pub const GARP_LEN: usize = 42;

/// Build the gratuitous ARP request for `vip` from `mac`.
pub fn garp_frame(mac: [u8; 6], vip: Ipv4Addr) -> [u8; GARP_LEN] {
    let mut f = [0u8; GARP_LEN];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // protocol: IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // request
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&vip.octets());
    f[32..38].copy_from_slice(&[0xff; 6]);
    f[38..42].copy_from_slice(&vip.octets());
    f
}

/// The length of an unsolicited neighbour advertisement frame: Ethernet 14 + IPv6 40 +
/// ICMPv6 NA 24 + target link-layer address option 8.
pub const NA_LEN: usize = 86;

/// The IPv6 all-nodes group, the destination of unsolicited advertisements.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// Build the unsolicited neighbour advertisement for `vip` from `mac`; `router` sets the R
/// flag.
pub fn na_frame(mac: [u8; 6], vip: Ipv6Addr, router: bool) -> [u8; NA_LEN] {
    let mut f = [0u8; NA_LEN];
    f[0..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    let ip = &mut f[14..54];
    ip[0] = 0x60;
    ip[4..6].copy_from_slice(&32u16.to_be_bytes()); // payload length
    ip[6] = 58; // next header: ICMPv6
    ip[7] = 255; // hop limit (RFC 4861 receivers drop anything else)
    ip[8..24].copy_from_slice(&vip.octets());
    ip[24..40].copy_from_slice(&ALL_NODES.octets());
    let icmp = &mut f[54..86];
    icmp[0] = 136; // neighbour advertisement
    icmp[4] = if router { 0xa0 } else { 0x20 }; // R, S = 0, O
    icmp[8..24].copy_from_slice(&vip.octets());
    icmp[24] = 2; // option: target link-layer address
    icmp[25] = 1; // length in units of 8 bytes
    icmp[26..32].copy_from_slice(&mac);
    let sum = icmpv6_checksum(vip, ALL_NODES, &f[54..86]);
    f[56..58].copy_from_slice(&sum.to_be_bytes());
    f
}

/// The ICMPv6 checksum of `msg` (checksum field zero) under the IPv6 pseudo-header.
fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let hi = u32::from(c[0]) << 8;
            sum += hi | c.get(1).copied().map_or(0, u32::from);
        }
    };
    add(&src.octets());
    add(&dst.octets());
    // The upper-layer length is at most 32 here; it fits the 32-bit field's low half.
    add(&u32::try_from(msg.len()).unwrap_or(0).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(msg);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The announcement frame for `vip`: a GARP for IPv4, an unsolicited NA for IPv6.
pub fn announce_frame(mac: [u8; 6], vip: IpAddr, router: bool) -> Vec<u8> {
    match vip {
        IpAddr::V4(a) => garp_frame(mac, a).to_vec(),
        IpAddr::V6(a) => na_frame(mac, a, router).to_vec(),
    }
}

/// Parse a MAC address as /sys/class/net/*/address writes it (`aa:bb:cc:dd:ee:ff`).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.trim().split(':');
    for b in &mut mac {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// One frame waiting to go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// When.
    pub at: Instant,
    /// On which interface.
    pub interface: String,
    /// For which address (IPv4: GARP, IPv6: unsolicited NA).
    pub vip: IpAddr,
}

/// A queue of GARP frames in send order; a burst of `repeat` frames per address is spread
/// `interval` apart (all at once when the interval is zero). Bounded: a burst that would
/// exceed the capacity is truncated and the overflow counted.
#[derive(Debug, Clone, Default)]
pub struct GarpQueue {
    queue: VecDeque<Pending>,
    /// Frames refused because the queue was full.
    pub overflow: u64,
}

/// The most frames the queue holds.
pub const GARP_QUEUE_MAX: usize = 65_536;

impl GarpQueue {
    /// Queue `repeat` rounds over `vips` on `interface`, the first at `now`.
    pub fn burst(
        &mut self,
        now: Instant,
        interface: &str,
        vips: &[IpAddr],
        repeat: u32,
        interval: Duration,
    ) {
        for round in 0..repeat {
            let at = now + interval.saturating_mul(round);
            for &vip in vips {
                if self.queue.len() >= GARP_QUEUE_MAX {
                    self.overflow += 1;
                    continue;
                }
                let p = Pending {
                    at,
                    interface: interface.to_owned(),
                    vip,
                };
                // Keep the queue sorted by time: bursts may interleave.
                let idx = self.queue.partition_point(|q| q.at <= at);
                self.queue.insert(idx, p);
            }
        }
    }

    /// The next frame's time.
    pub fn next_at(&self) -> Option<Instant> {
        self.queue.front().map(|p| p.at)
    }

    /// Take the next frame due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Pending> {
        if self.queue.front()?.at <= now {
            self.queue.pop_front()
        } else {
            None
        }
    }

    /// Drop every frame for `interface` (the instance stopped being master or went away).
    pub fn cancel(&mut self, interface: &str, vips: &[IpAddr]) {
        self.queue
            .retain(|p| !(p.interface == interface && vips.contains(&p.vip)));
    }

    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_matches_keepalived_byte_for_byte() {
        let mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
        let f = garp_frame(mac, Ipv4Addr::new(10, 9, 0, 100));
        let expected: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x06,
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 10,
            9, 0, 100, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 10, 9, 0, 100,
        ];
        assert_eq!(f, expected);
    }

    #[test]
    fn the_unsolicited_na_has_keepalived_flags_and_a_valid_checksum() {
        let mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let f = na_frame(mac, vip, false);
        assert_eq!(f[0..6], [0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(f[12..14], [0x86, 0xdd]);
        assert_eq!((f[20], f[21]), (58, 255));
        assert_eq!(f[22..38], vip.octets());
        assert_eq!(f[38..54], ALL_NODES.octets());
        // The flags word keepalived sends without forwarding: Override only.
        assert_eq!(f[58..62], [0x20, 0, 0, 0]);
        assert_eq!(na_frame(mac, vip, true)[58], 0xa0);
        assert_eq!(f[62..78], vip.octets());
        assert_eq!(f[78..86], [2, 1, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);
        // Summing the message with its checksum in place gives zero.
        assert_eq!(icmpv6_checksum(vip, ALL_NODES, &f[54..86]), 0);
        let mut bad = f;
        bad[70] ^= 1;
        assert_ne!(icmpv6_checksum(vip, ALL_NODES, &bad[54..86]), 0);
        assert_eq!(announce_frame(mac, IpAddr::V6(vip), false), f.to_vec());
        assert_eq!(
            announce_frame(mac, "10.9.0.100".parse().unwrap(), false).len(),
            GARP_LEN
        );
    }

    #[test]
    fn macs_parse_strictly() {
        assert_eq!(
            parse_mac("02:11:22:33:44:5f\n"),
            Some([2, 0x11, 0x22, 0x33, 0x44, 0x5f])
        );
        assert_eq!(parse_mac("02:11:22:33:44"), None);
        assert_eq!(parse_mac("02:11:22:33:44:55:66"), None);
        assert_eq!(parse_mac("2:11:22:33:44:55"), None);
        assert_eq!(parse_mac("zz:11:22:33:44:55"), None);
    }

    #[test]
    fn bursts_are_paced_and_ordered() {
        let mut q = GarpQueue::default();
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V6("2001:db8::2".parse().unwrap());
        let ms = Duration::from_millis;
        q.burst(Instant::ZERO, "e0", &[a, b], 3, ms(10));
        q.burst(Instant::from_millis(5), "e1", &[a], 1, ms(10));
        assert_eq!(q.len(), 7);
        let mut got = Vec::new();
        while let Some(p) = q.pop_due(Instant::from_millis(100)) {
            got.push((p.at.as_nanos() / 1_000_000, p.interface, p.vip));
        }
        let want = [
            (0, "e0", a),
            (0, "e0", b),
            (5, "e1", a),
            (10, "e0", a),
            (10, "e0", b),
            (20, "e0", a),
            (20, "e0", b),
        ];
        let want: Vec<_> = want.iter().map(|&(t, i, v)| (t, i.to_owned(), v)).collect();
        assert_eq!(got, want);
        q.burst(Instant::ZERO, "e0", &[a], 2, Duration::ZERO);
        assert_eq!(q.next_at(), Some(Instant::ZERO));
        q.cancel("e0", &[a]);
        assert!(q.is_empty());
    }
}
