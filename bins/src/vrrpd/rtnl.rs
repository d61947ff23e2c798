//! Interface addresses over rtnetlink: list (`RTM_GETADDR` dump), add (`RTM_NEWADDR`) and
//! delete (`RTM_DELADDR`), on a blocking `NETLINK_ROUTE` socket with a receive timeout.
//!
//! Requests carry `NLM_F_ACK`, so every one ends with the kernel's acknowledgement or error.
//! The daemon's reconciliation is level-triggered (it compares the interface with the desired
//! set every time), so two errors are outcomes, not failures: `EEXIST` on add (someone, or a
//! crashed run of ours, already put the address there: it is where we want it) and
//! `EADDRNOTAVAIL` on delete (it is already gone). Both are reported as [`Outcome::Already`].
//!
//! Messages are built and parsed with `netlink-packet-route`; the socket is `netlink-sys`.

use core::net::IpAddr;
use core::time::Duration;
use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use super::config::Vip;

/// One address of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    /// The address and prefix.
    pub vip: Vip,
    /// Scope link (IPv6 link-local, or an IPv4 address added with `scope link`).
    pub link_scope: bool,
    /// Still in duplicate address detection, or failed it: not usable as a source.
    pub tentative: bool,
}

/// What a change request found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The kernel made the change.
    Changed,
    /// Nothing to do: the address was already there (add, `EEXIST`) or already gone (delete,
    /// `EADDRNOTAVAIL`).
    Already,
}

/// How long one request may wait for the kernel's answer.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The receive buffer: large enough for one dump part (the kernel fills at most 32 KiB).
const RECV_BUF: usize = 64 * 1024;

/// The most messages one dump may return before it is abandoned as runaway.
const MAX_DUMP_MESSAGES: usize = 65_536;

/// A `NETLINK_ROUTE` socket for address requests.
#[derive(Debug)]
pub struct Rtnl {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Rtnl {
    /// Open and connect the socket.
    pub fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        socket2::SockRef::from(&socket).set_read_timeout(Some(TIMEOUT))?;
        Ok(Self {
            socket,
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    /// The addresses of interface `ifindex`, both families.
    pub fn addresses(&mut self, ifindex: u32) -> io::Result<Vec<Listed>> {
        let seq = self.send(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_REQUEST | NLM_F_DUMP,
        )?;
        let mut out = Vec::new();
        let mut seen = 0usize;
        loop {
            let n = self.recv()?;
            let mut done = false;
            for_each_message(&self.buf[..n], |msg| {
                if msg.header.sequence_number != seq {
                    return Ok(());
                }
                seen += 1;
                match msg.payload {
                    NetlinkPayload::Done(_) => done = true,
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(a))
                        if a.header.index == ifindex =>
                    {
                        out.extend(listed(&a));
                    }
                    _ => {}
                }
                Ok(())
            })?;
            if done {
                return Ok(out);
            }
            if seen > MAX_DUMP_MESSAGES {
                return Err(io::Error::other("address dump does not end"));
            }
        }
    }

    /// Add `vip` to interface `ifindex` (IPv6 without duplicate address detection).
    pub fn add(&mut self, ifindex: u32, vip: Vip) -> io::Result<Outcome> {
        let msg = address_message(ifindex, vip);
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            libc::EEXIST,
        )
    }

    /// Delete `vip` from interface `ifindex`.
    pub fn del(&mut self, ifindex: u32, vip: Vip) -> io::Result<Outcome> {
        let msg = address_message(ifindex, vip);
        self.request(
            RouteNetlinkMessage::DelAddress(msg),
            NLM_F_REQUEST | NLM_F_ACK,
            libc::EADDRNOTAVAIL,
        )
    }

    /// Send `inner` and wait for its acknowledgement; the errno `already` is
    /// [`Outcome::Already`].
    fn request(
        &mut self,
        inner: RouteNetlinkMessage,
        flags: u16,
        already: i32,
    ) -> io::Result<Outcome> {
        let seq = self.send(inner, flags)?;
        loop {
            let n = self.recv()?;
            let mut answer = None;
            for_each_message(&self.buf[..n], |msg| {
                if msg.header.sequence_number == seq
                    && let NetlinkPayload::Error(e) = msg.payload
                {
                    answer = Some(e.raw_code());
                }
                Ok(())
            })?;
            match answer {
                None => {}
                Some(0) => return Ok(Outcome::Changed),
                Some(code) if code.abs() == already => return Ok(Outcome::Already),
                Some(code) => return Err(io::Error::from_raw_os_error(code.abs())),
            }
        }
    }

    fn send(&mut self, inner: RouteNetlinkMessage, flags: u16) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1).max(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::from(inner));
        msg.finalize();
        let mut bytes = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut bytes);
        let n = self.socket.send(&bytes, 0)?;
        if n != bytes.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short netlink send",
            ));
        }
        Ok(self.seq)
    }

    fn recv(&mut self) -> io::Result<usize> {
        loop {
            match self.socket.recv(&mut &mut self.buf[..], 0) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no answer from the kernel",
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Call `f` on every netlink message in `buf` (one datagram).
fn for_each_message(
    mut buf: &[u8],
    mut f: impl FnMut(NetlinkMessage<RouteNetlinkMessage>) -> io::Result<()>,
) -> io::Result<()> {
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len < 16 || len > buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bad netlink message length",
            ));
        }
        // Messages the codec does not know (or cannot parse) are skipped, not fatal.
        if let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[..len]) {
            f(msg)?;
        }
        let next = (len + 3) & !3;
        buf = buf.get(next..).unwrap_or_default();
    }
    Ok(())
}

/// The request body for `vip` on `ifindex`: IFA_LOCAL + IFA_ADDRESS for IPv4, IFA_ADDRESS with
/// `nodad` for IPv6 (a VIP moves between routers; it must be usable at once).
fn address_message(ifindex: u32, vip: Vip) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = AddressFamily::from(vip.addr);
    msg.header.prefix_len = vip.prefix;
    msg.header.index = ifindex;
    msg.header.scope = AddressScope::Universe;
    match vip.addr {
        IpAddr::V4(_) => {
            msg.attributes.push(AddressAttribute::Local(vip.addr));
            msg.attributes.push(AddressAttribute::Address(vip.addr));
        }
        IpAddr::V6(a) => {
            if a.is_unicast_link_local() {
                msg.header.scope = AddressScope::Link;
            }
            msg.header.flags = AddressHeaderFlags::Nodad;
            msg.attributes.push(AddressAttribute::Address(vip.addr));
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
    }
    msg
}

/// The address an RTM_NEWADDR describes (IFA_LOCAL for IPv4 point-to-point peers, else
/// IFA_ADDRESS).
fn listed(a: &AddressMessage) -> Option<Listed> {
    let local = a.attributes.iter().find_map(|n| match n {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    let address = a.attributes.iter().find_map(|n| match n {
        AddressAttribute::Address(ip) => Some(*ip),
        _ => None,
    });
    let addr = local.or(address)?;
    let flags = a
        .attributes
        .iter()
        .find_map(|n| match n {
            AddressAttribute::Flags(f) => Some(*f),
            _ => None,
        })
        .unwrap_or_else(|| AddressFlags::from_bits_retain(u32::from(a.header.flags.bits())));
    Some(Listed {
        vip: Vip {
            addr,
            prefix: a.header.prefix_len,
        },
        link_scope: a.header.scope == AddressScope::Link,
        tentative: flags.intersects(AddressFlags::Tentative | AddressFlags::Dadfailed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::Emitable;

    fn v(s: &str) -> Vip {
        Vip::parse(s).unwrap()
    }

    #[test]
    fn requests_carry_the_address_prefix_and_nodad() {
        let m = address_message(7, v("10.9.0.100/24"));
        assert_eq!(m.header.family, AddressFamily::Inet);
        assert_eq!((m.header.prefix_len, m.header.index), (24, 7));
        assert!(
            m.attributes
                .contains(&AddressAttribute::Local(v("10.9.0.100").addr))
        );
        let m = address_message(7, v("2001:db8::100/64"));
        assert_eq!(m.header.family, AddressFamily::Inet6);
        assert!(m.header.flags.contains(AddressHeaderFlags::Nodad));
        assert!(
            m.attributes
                .contains(&AddressAttribute::Flags(AddressFlags::Nodad))
        );
        assert_eq!(
            address_message(7, v("fe80::52:1/64")).header.scope,
            AddressScope::Link
        );
    }

    #[test]
    fn a_dumped_address_round_trips_through_the_codec() {
        let mut m = address_message(3, v("fe80::1/64"));
        m.attributes = vec![
            AddressAttribute::Address(v("fe80::1").addr),
            AddressAttribute::Flags(AddressFlags::Tentative | AddressFlags::Permanent),
        ];
        let mut bytes = vec![0u8; m.buffer_len()];
        m.emit(&mut bytes);
        let parsed =
            <AddressMessage as netlink_packet_core::Parseable<[u8]>>::parse(&bytes).unwrap();
        let l = listed(&parsed).unwrap();
        assert_eq!(l.vip, v("fe80::1/64"));
        assert!(l.link_scope && l.tentative);
        m.attributes.clear();
        assert_eq!(listed(&m), None);
    }

    #[test]
    fn truncated_or_overlong_messages_are_errors_not_panics() {
        assert!(for_each_message(&[0u8; 15], |_| Ok(())).is_ok());
        let mut bad = [0u8; 20];
        bad[0] = 200;
        assert!(for_each_message(&bad, |_| Ok(())).is_err());
        bad[0] = 3;
        assert!(for_each_message(&bad, |_| Ok(())).is_err());
        bad[0] = 20;
        assert!(for_each_message(&bad, |_| Ok(())).is_ok());
    }

    /// Against the running kernel: listing the loopback interface finds 127.0.0.1; adding it
    /// again (`EEXIST`) and deleting an absent address (`EADDRNOTAVAIL`) are `Already`, not
    /// errors, and change nothing. Listing needs no privilege; without CAP_NET_ADMIN the
    /// changes are refused with `EPERM` before the kernel looks at the address.
    #[test]
    fn the_kernel_answers_dumps_and_absent_deletes() {
        let Ok(mut nl) = Rtnl::open() else {
            eprintln!("SKIP: no NETLINK_ROUTE socket here");
            return;
        };
        let lo = crate::io::ifindex("lo").unwrap();
        let addrs = nl.addresses(lo).unwrap();
        assert!(addrs.iter().any(|l| l.vip == v("127.0.0.1/8")), "{addrs:?}");
        for outcome in [
            nl.add(lo, v("127.0.0.1/8")),
            nl.del(lo, v("127.250.251.252/32")),
        ] {
            match outcome {
                Ok(o) => assert_eq!(o, Outcome::Already),
                Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}"),
            }
        }
    }
}
