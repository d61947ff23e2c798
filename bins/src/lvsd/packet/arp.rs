//! ARP for IPv4 over Ethernet (RFC 826): reading requests and replies, and building the
//! frames packet mode sends (replies for the VIPs, gratuitous announcements, requests for the
//! next hops it must reach). Pure functions over byte slices.

use core::net::Ipv4Addr;

/// `ARPOP_REQUEST`.
pub const REQUEST: u16 = 1;
/// `ARPOP_REPLY`.
pub const REPLY: u16 = 2;
/// The Ethernet broadcast address.
pub const BROADCAST: [u8; 6] = [0xff; 6];
/// Frames are padded to Ethernet's minimum (without the FCS).
pub const FRAME_LEN: usize = 60;

/// One ARP message (Ethernet hardware, IPv4 protocol addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    /// [`REQUEST`] or [`REPLY`].
    pub op: u16,
    /// Sender hardware address.
    pub sha: [u8; 6],
    /// Sender protocol address.
    pub spa: Ipv4Addr,
    /// Target hardware address.
    pub tha: [u8; 6],
    /// Target protocol address.
    pub tpa: Ipv4Addr,
}

fn mac(b: &[u8]) -> [u8; 6] {
    let mut m = [0u8; 6];
    m.copy_from_slice(&b[..6]);
    m
}

fn ip4(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

impl Arp {
    /// Parse an Ethernet frame carrying ARP for IPv4 over Ethernet; `None` for anything else
    /// (other EtherTypes, hardware or protocol types, truncated frames, unknown operations).
    pub fn parse(frame: &[u8]) -> Option<Self> {
        let a = frame.get(14..42)?;
        if frame[12..14] != [0x08, 0x06] || a[0..6] != [0, 1, 0x08, 0x00, 6, 4] {
            return None;
        }
        let op = u16::from_be_bytes([a[6], a[7]]);
        if op != REQUEST && op != REPLY {
            return None;
        }
        Some(Self {
            op,
            sha: mac(&a[8..14]),
            spa: ip4(&a[14..18]),
            tha: mac(&a[18..24]),
            tpa: ip4(&a[24..28]),
        })
    }

    /// The Ethernet frame carrying this message from `src` to `dst`, zero-padded to 60 bytes.
    pub fn frame(&self, dst: [u8; 6], src: [u8; 6]) -> [u8; FRAME_LEN] {
        let mut f = [0u8; FRAME_LEN];
        f[0..6].copy_from_slice(&dst);
        f[6..12].copy_from_slice(&src);
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        f[14..20].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4]);
        f[20..22].copy_from_slice(&self.op.to_be_bytes());
        f[22..28].copy_from_slice(&self.sha);
        f[28..32].copy_from_slice(&self.spa.octets());
        f[32..38].copy_from_slice(&self.tha);
        f[38..42].copy_from_slice(&self.tpa.octets());
        f
    }

    /// Whether this is a request a host answers (not an announcement of the sender's own
    /// address).
    pub fn is_query(&self) -> bool {
        self.op == REQUEST && self.spa != self.tpa
    }

    /// The reply to this request, saying that `tpa` is at `mac`.
    pub fn answer(&self, mac: [u8; 6]) -> Self {
        Self {
            op: REPLY,
            sha: mac,
            spa: self.tpa,
            tha: self.sha,
            tpa: self.spa,
        }
    }

    /// A request for `target` from `ours` at `mac`.
    pub fn request(mac: [u8; 6], ours: Ipv4Addr, target: Ipv4Addr) -> Self {
        Self {
            op: REQUEST,
            sha: mac,
            spa: ours,
            tha: [0; 6],
            tpa: target,
        }
    }

    /// A gratuitous ARP (RFC 5227 announcement form: a request with sender and target both
    /// `addr`), which makes neighbours on the link update their caches.
    pub fn gratuitous(mac: [u8; 6], addr: Ipv4Addr) -> Self {
        Self {
            op: REQUEST,
            sha: mac,
            spa: addr,
            tha: [0; 6],
            tpa: addr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    const PEER: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

    #[test]
    fn request_round_trips_and_is_answered() {
        let q = Arp::request(
            PEER,
            Ipv4Addr::new(10, 0, 1, 2),
            Ipv4Addr::new(10, 0, 1, 100),
        );
        let f = q.frame(BROADCAST, PEER);
        assert_eq!(f.len(), 60);
        let p = Arp::parse(&f).unwrap();
        assert_eq!(p, q);
        assert!(p.is_query());
        let a = p.answer(MAC);
        assert_eq!(
            (a.op, a.sha, a.spa),
            (REPLY, MAC, Ipv4Addr::new(10, 0, 1, 100))
        );
        assert_eq!((a.tha, a.tpa), (PEER, Ipv4Addr::new(10, 0, 1, 2)));
        let rf = a.frame(PEER, MAC);
        assert_eq!(&rf[0..6], &PEER);
        assert_eq!(Arp::parse(&rf), Some(a));
    }

    #[test]
    fn gratuitous_is_not_a_query() {
        let g = Arp::gratuitous(MAC, Ipv4Addr::new(10, 0, 1, 100));
        assert!(!Arp::parse(&g.frame(BROADCAST, MAC)).unwrap().is_query());
    }

    #[test]
    fn other_frames_and_every_truncation_are_refused() {
        let f = Arp::request(PEER, Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::new(5, 6, 7, 8))
            .frame(BROADCAST, PEER);
        for n in 0..42 {
            assert_eq!(Arp::parse(&f[..n]), None, "{n} bytes");
        }
        let mut ip = f;
        ip[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(Arp::parse(&ip), None);
        let mut op = f;
        op[21] = 9;
        assert_eq!(Arp::parse(&op), None);
        let mut hw = f;
        hw[15] = 6;
        assert_eq!(Arp::parse(&hw), None);
    }
}
