//! `AF_PACKET` sockets bound to one interface: link-layer frames in and out (gratuitous ARP,
//! the packet-mode director).

use core::mem::{self, MaybeUninit};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

/// `ETH_P_ALL`: every protocol.
pub const ETH_P_ALL: u16 = 0x0003;
/// `ETH_P_ARP`.
pub const ETH_P_ARP: u16 = 0x0806;
/// `ETH_P_IP`.
pub const ETH_P_IP: u16 = 0x0800;
/// `ETH_P_IPV6`.
pub const ETH_P_IPV6: u16 = 0x86DD;

/// How the kernel classified a received frame (`sll_pkttype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// Addressed to this host.
    Host,
    /// Link-layer broadcast.
    Broadcast,
    /// Link-layer multicast.
    Multicast,
    /// Addressed to another host (seen in promiscuous mode).
    OtherHost,
    /// Sent by this host (seen by `ETH_P_ALL` taps).
    Outgoing,
    /// Any other value.
    Other(u8),
}

impl PacketType {
    fn from_raw(v: u8) -> Self {
        match v {
            0 => Self::Host,
            1 => Self::Broadcast,
            2 => Self::Multicast,
            3 => Self::OtherHost,
            4 => Self::Outgoing,
            n => Self::Other(n),
        }
    }
}

/// Metadata of one received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// Bytes of the frame written into the buffer.
    pub len: usize,
    /// The EtherType (host byte order).
    pub protocol: u16,
    /// The interface it arrived on.
    pub ifindex: u32,
    /// How the kernel classified it.
    pub pkttype: PacketType,
    /// The frame was longer than the buffer and was cut.
    pub truncated: bool,
}

/// A non-blocking `AF_PACKET` / `SOCK_RAW` socket bound to one interface and EtherType: frames
/// include the link-layer header both ways. Needs `CAP_NET_RAW`.
#[derive(Debug)]
pub struct PacketSocket {
    socket: Socket,
    ifindex: u32,
    protocol: u16,
}

impl PacketSocket {
    /// Open on interface `ifname` for EtherType `protocol` ([`ETH_P_ALL`] for every frame).
    pub fn open(ifname: &str, protocol: u16) -> io::Result<Self> {
        Self::open_index(ifindex(ifname)?, protocol)
    }

    /// Open on interface index `ifindex` for EtherType `protocol`.
    pub fn open_index(ifindex: u32, protocol: u16) -> io::Result<Self> {
        let proto_be = i32::from(protocol.to_be());
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(proto_be)))?;
        socket.set_nonblocking(true)?;
        socket.set_cloexec(true)?;
        // SAFETY: an all-zero sockaddr_ll is valid.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = protocol.to_be();
        sll.sll_ifindex = i32::try_from(ifindex)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index"))?;
        let len = libc::socklen_t::try_from(size_of::<libc::sockaddr_ll>()).unwrap_or(0);
        // SAFETY: `sll` is a valid sockaddr_ll of `len` bytes.
        let rc = unsafe { libc::bind(socket.as_raw_fd(), (&raw const sll).cast(), len) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            socket,
            ifindex,
            protocol,
        })
    }

    /// The bound interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The bound EtherType.
    pub fn protocol(&self) -> u16 {
        self.protocol
    }

    /// Send one complete frame (link-layer header included) out of the bound interface.
    pub fn send_frame(&self, frame: &[u8]) -> io::Result<()> {
        let n = self.socket.send(frame)?;
        if n == frame.len() {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::WriteZero, "short frame send"))
        }
    }

    /// Receive one frame into `buf`; `WouldBlock` when none is waiting.
    pub fn recv_frame(&self, buf: &mut [MaybeUninit<u8>]) -> io::Result<FrameInfo> {
        // SAFETY: an all-zero sockaddr_ll is valid.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        let mut len = libc::socklen_t::try_from(size_of::<libc::sockaddr_ll>()).unwrap_or(0);
        // SAFETY: `buf` and `sll` are live and their sizes are passed; MSG_TRUNC makes the
        // kernel return the full frame length, which is compared to the buffer below.
        let n = unsafe {
            libc::recvfrom(
                self.socket.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                (&raw mut sll).cast(),
                &raw mut len,
            )
        };
        let Ok(full) = usize::try_from(n) else {
            return Err(io::Error::last_os_error());
        };
        Ok(FrameInfo {
            len: full.min(buf.len()),
            protocol: u16::from_be(sll.sll_protocol),
            ifindex: u32::try_from(sll.sll_ifindex).unwrap_or(0),
            pkttype: PacketType::from_raw(sll.sll_pkttype),
            truncated: full > buf.len(),
        })
    }
}

impl PacketSocket {
    /// Ask the kernel for `PACKET_AUXDATA` with every frame, so
    /// [`PacketSocket::recv_frame_status`] can report its status bits: on veth, loopback and
    /// other virtual links a frame may arrive with `TP_STATUS_CSUMNOTREADY`, its transport
    /// checksum left for an offload that will never run; a forwarder must complete it.
    pub fn set_auxdata(&self, on: bool) -> io::Result<()> {
        let v: libc::c_int = on.into();
        let len = libc::socklen_t::try_from(size_of::<libc::c_int>()).unwrap_or(0);
        // SAFETY: `v` is a live c_int of `len` bytes.
        let rc = unsafe {
            libc::setsockopt(
                self.socket.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_AUXDATA,
                (&raw const v).cast(),
                len,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// [`PacketSocket::recv_frame`] plus the frame's `tp_status` bits from `PACKET_AUXDATA`
    /// (0 when [`PacketSocket::set_auxdata`] is off), e.g. `libc::TP_STATUS_CSUMNOTREADY`.
    pub fn recv_frame_status(&self, buf: &mut [MaybeUninit<u8>]) -> io::Result<(FrameInfo, u32)> {
        // SAFETY: all-zero sockaddr_ll and msghdr are valid.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        // u64 words keep the control buffer aligned for cmsghdr.
        let mut control = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_name = (&raw mut sll).cast();
        msg.msg_namelen = libc::socklen_t::try_from(size_of::<libc::sockaddr_ll>()).unwrap_or(0);
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of_val(&control);
        // SAFETY: every pointer in `msg` refers to a live buffer of the stated size; MSG_TRUNC
        // makes the kernel return the full frame length, compared to the buffer below.
        let n = unsafe {
            libc::recvmsg(
                self.socket.as_raw_fd(),
                &raw mut msg,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            )
        };
        let Ok(full) = usize::try_from(n) else {
            return Err(io::Error::last_os_error());
        };
        let mut status = 0;
        // SAFETY: the kernel filled `msg_control` / `msg_controllen`; CMSG_FIRSTHDR and
        // CMSG_NXTHDR stay within it, and the auxdata payload is read unaligned.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&raw const msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_PACKET
                    && (*c).cmsg_type == libc::PACKET_AUXDATA
                    && (*c).cmsg_len as usize
                        >= libc::CMSG_LEN(size_of::<libc::tpacket_auxdata>() as u32) as usize
                {
                    let aux: libc::tpacket_auxdata =
                        core::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    status = aux.tp_status;
                }
                c = libc::CMSG_NXTHDR(&raw const msg, c);
            }
        }
        let info = FrameInfo {
            len: full.min(buf.len()),
            protocol: u16::from_be(sll.sll_protocol),
            ifindex: u32::try_from(sll.sll_ifindex).unwrap_or(0),
            pkttype: PacketType::from_raw(sll.sll_pkttype),
            truncated: full > buf.len(),
        };
        Ok((info, status))
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// The index of interface `name` (`if_nametoindex`).
pub fn ifindex(name: &str) -> io::Result<u32> {
    let c = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has a NUL"))?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(idx)
    }
}
