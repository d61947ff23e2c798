//! What packet mode needs to know about its interface: index, MAC, MTU and IPv4 addresses,
//! plus the IPv4 transport-checksum completion for frames the kernel hands over with the
//! checksum still left to an offload (veth and other virtual links).

use core::net::Ipv4Addr;
use std::io;

use lvs_core::packet::checksum::{fold, pseudo_header, sum};

use super::neigh::parse_mac;
use crate::io::ifindex;

/// The director's interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    /// Name.
    pub name: String,
    /// Index.
    pub index: u32,
    /// Its MAC address (source of every frame lvsd sends).
    pub mac: [u8; 6],
    /// MTU.
    pub mtu: u16,
    /// IPv4 addresses with their prefix lengths.
    pub addrs: Vec<(Ipv4Addr, u8)>,
}

impl Iface {
    /// Read the interface's settings from sysfs and `getifaddrs`.
    pub fn probe(name: &str) -> io::Result<Self> {
        let index = ifindex(name)?;
        let sys = format!("/sys/class/net/{name}");
        let mac_text = std::fs::read_to_string(format!("{sys}/address"))?;
        let mac = parse_mac(&mac_text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{name}: no Ethernet address"),
            )
        })?;
        let mtu = std::fs::read_to_string(format!("{sys}/mtu"))?
            .trim()
            .parse::<u32>()
            .map(|m| u16::try_from(m).unwrap_or(u16::MAX))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "mtu"))?;
        Ok(Self {
            name: name.to_owned(),
            index,
            mac,
            mtu,
            addrs: ipv4_addrs(name)?,
        })
    }

    /// The address to send ARP requests for `target` from: one on `target`'s subnet, else the
    /// first one.
    pub fn source_for(&self, target: Ipv4Addr) -> Option<Ipv4Addr> {
        self.addrs
            .iter()
            .find(|(a, len)| same_subnet(*a, target, *len))
            .or(self.addrs.first())
            .map(|(a, _)| *a)
    }

    /// Whether `ip` is one of the interface's own addresses.
    pub fn owns(&self, ip: Ipv4Addr) -> bool {
        self.addrs.iter().any(|(a, _)| *a == ip)
    }
}

/// Whether `a` and `b` share the first `len` bits.
pub fn same_subnet(a: Ipv4Addr, b: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0);
    u32::from(a) & mask == u32::from(b) & mask
}

fn ipv4_addrs(name: &str) -> io::Result<Vec<(Ipv4Addr, u8)>> {
    let mut head: *mut libc::ifaddrs = core::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head we free below.
    if unsafe { libc::getifaddrs(&raw mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, alive until freeifaddrs;
        // the address pointers are checked for null and for the AF_INET family before the
        // sockaddr_in reads (read_unaligned: no alignment is promised).
        unsafe {
            let ifa = &*cur;
            let ifname = core::ffi::CStr::from_ptr(ifa.ifa_name);
            if ifname.to_bytes() == name.as_bytes()
                && !ifa.ifa_addr.is_null()
                && i32::from((*ifa.ifa_addr).sa_family) == libc::AF_INET
            {
                let a: libc::sockaddr_in = core::ptr::read_unaligned(ifa.ifa_addr.cast());
                let len = if ifa.ifa_netmask.is_null() {
                    32
                } else {
                    let m: libc::sockaddr_in = core::ptr::read_unaligned(ifa.ifa_netmask.cast());
                    u32::from_be(m.sin_addr.s_addr).leading_ones() as u8
                };
                out.push((Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)), len));
            }
            cur = ifa.ifa_next;
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// Complete the TCP or UDP checksum of an IPv4 frame (Ethernet header first) that the
/// kernel handed over with `TP_STATUS_CSUMNOTREADY`: the field then holds only the
/// pseudo-header sum that offload would finish. Returns whether the frame was changed; frames
/// that are not unfragmented IPv4 TCP/UDP, or are truncated, are left alone.
pub fn complete_checksum(frame: &mut [u8]) -> bool {
    let Some(ip) = frame.get(14..34) else {
        return false;
    };
    if frame[12..14] != [0x08, 0x00] || ip[0] >> 4 != 4 {
        return false;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
    let protocol = ip[9];
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let field = match protocol {
        6 => 16,
        17 => 6,
        _ => return false,
    };
    if fragment || ihl < 20 || total < ihl + field + 2 || frame.len() < 14 + total {
        return false;
    }
    let l4 = &mut frame[14 + ihl..14 + total];
    l4[field..field + 2].copy_from_slice(&[0, 0]);
    let len = u32::try_from(l4.len()).unwrap_or(0);
    let acc = sum(pseudo_header(src.into(), dst.into(), protocol, len), l4);
    let mut c = !fold(acc);
    if c == 0 && protocol == 17 {
        c = 0xffff;
    }
    l4[field..field + 2].copy_from_slice(&c.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_core::packet::testing::tcp_v4_frame;
    use lvs_core::packet::{PacketView, verify_checksums};

    #[test]
    fn subnets() {
        let a = Ipv4Addr::new(10, 0, 2, 1);
        assert!(same_subnet(a, Ipv4Addr::new(10, 0, 2, 200), 24));
        assert!(!same_subnet(a, Ipv4Addr::new(10, 0, 3, 1), 24));
        assert!(same_subnet(a, Ipv4Addr::new(192, 0, 2, 1), 0));
        let i = Iface {
            name: "eth0".into(),
            index: 1,
            mac: [2, 0, 0, 0, 0, 1],
            mtu: 1500,
            addrs: vec![(Ipv4Addr::new(10, 0, 1, 1), 24), (a, 24)],
        };
        assert_eq!(i.source_for(Ipv4Addr::new(10, 0, 2, 11)), Some(a));
        assert_eq!(
            i.source_for(Ipv4Addr::new(172, 16, 0, 1)),
            Some(Ipv4Addr::new(10, 0, 1, 1))
        );
        assert!(i.owns(a) && !i.owns(Ipv4Addr::new(10, 0, 2, 2)));
    }

    #[test]
    fn a_partial_checksum_is_completed() {
        let mut f = tcp_v4_frame([10, 0, 1, 2], 40000, [10, 0, 1, 100], 80, 0x02, b"hello");
        let good = f.clone();
        // What offload would leave: the pseudo-header sum only.
        let view = PacketView::parse_ethernet(&f).unwrap();
        f[14 + 20 + 16..14 + 20 + 18].copy_from_slice(&[0x12, 0x34]);
        assert!(verify_checksums(&f, &view).is_err());
        assert!(complete_checksum(&mut f));
        assert_eq!(f, good);
        let view = PacketView::parse_ethernet(&f).unwrap();
        assert!(verify_checksums(&f, &view).is_ok());
        for n in 0..f.len() {
            let mut t = f[..n].to_vec();
            let _ = complete_checksum(&mut t);
        }
    }
}
