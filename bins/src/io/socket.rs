//! Opening sockets: UDP, raw IP protocol and TCP, all non-blocking.
//!
//! The option structs are plain data with builder methods; [`DatagramSocket::udp`] and
//! [`DatagramSocket::raw_ip`] apply them in the order the kernel needs (options that affect
//! `bind` first, multicast joins after it).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::io;
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

use super::raw;

/// A multicast group to join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// An IPv4 group, joined on the interface that owns `interface` (`0.0.0.0`: the kernel's
    /// choice).
    V4 {
        /// The group address.
        group: Ipv4Addr,
        /// A local address of the interface to join on.
        interface: Ipv4Addr,
    },
    /// An IPv6 group, joined on interface index `ifindex` (`0`: the kernel's choice).
    V6 {
        /// The group address.
        group: Ipv6Addr,
        /// The interface index.
        ifindex: u32,
    },
}

/// Options shared by UDP and raw IP sockets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Common {
    groups: Vec<Group>,
    device: Option<String>,
    recv_buffer: Option<usize>,
    send_buffer: Option<usize>,
    multicast_loop: Option<bool>,
}

/// How to open a UDP socket.
///
/// ```
/// use lvs_bins::io::{DatagramSocket, UdpOptions};
///
/// let opts = UdpOptions::new("127.0.0.1:0".parse().unwrap()).reuse_port(true).recv_meta(true);
/// let sock = DatagramSocket::udp(&opts).unwrap();
/// assert_ne!(sock.local_addr().port(), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpOptions {
    bind: SocketAddr,
    reuse_port: bool,
    recv_meta: bool,
    ttl: Option<u8>,
    common: Common,
}

impl UdpOptions {
    /// Bind to `bind` (port 0: an ephemeral port) with no other options.
    pub fn new(bind: SocketAddr) -> Self {
        Self {
            bind,
            reuse_port: false,
            recv_meta: false,
            ttl: None,
            common: Common::default(),
        }
    }

    /// Set `SO_REUSEPORT` (and `SO_REUSEADDR`), so several loops can share one port.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// Ask for TTL / hop limit, destination address and interface index with every datagram
    /// (`IP_PKTINFO` + `IP_RECVTTL`, or `IPV6_RECVPKTINFO` + `IPV6_RECVHOPLIMIT`).
    pub fn recv_meta(mut self, on: bool) -> Self {
        self.recv_meta = on;
        self
    }

    /// Unicast and multicast TTL / hop limit for sends.
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Join a multicast group after binding.
    pub fn join(mut self, group: Group) -> Self {
        self.common.groups.push(group);
        self
    }

    /// Bind to a network device (`SO_BINDTODEVICE`, needs `CAP_NET_RAW`).
    pub fn device(mut self, name: impl Into<String>) -> Self {
        self.common.device = Some(name.into());
        self
    }

    /// Whether multicast sent from this socket loops back to local listeners.
    pub fn multicast_loop(mut self, on: bool) -> Self {
        self.common.multicast_loop = Some(on);
        self
    }

    /// `SO_RCVBUF` and `SO_SNDBUF` in bytes.
    pub fn buffers(mut self, recv: usize, send: usize) -> Self {
        self.common.recv_buffer = Some(recv);
        self.common.send_buffer = Some(send);
        self
    }
}

/// How to open a raw socket for one IP protocol (VRRP is 112).
///
/// Defaults follow VRRP's needs: TTL / hop limit 255 for unicast and multicast, and the
/// received TTL reported with every datagram so the machine can check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOptions {
    protocol: u8,
    bind: IpAddr,
    ttl: u8,
    checksum_offset: Option<u32>,
    common: Common,
}

impl RawOptions {
    /// A raw socket for `protocol`, bound to `bind` (an unspecified address selects only the
    /// family).
    pub fn new(protocol: u8, bind: IpAddr) -> Self {
        Self {
            protocol,
            bind,
            ttl: 255,
            checksum_offset: None,
            common: Common::default(),
        }
    }

    /// TTL / hop limit for unicast and multicast sends (default 255).
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ttl = ttl;
        self
    }

    /// IPv6 only: let the kernel compute and verify the checksum at this payload offset
    /// (`IPV6_CHECKSUM`; VRRPv3's checksum is at offset 6).
    pub fn ipv6_checksum_offset(mut self, offset: u32) -> Self {
        self.checksum_offset = Some(offset);
        self
    }

    /// Join a multicast group after binding.
    pub fn join(mut self, group: Group) -> Self {
        self.common.groups.push(group);
        self
    }

    /// Bind to a network device (`SO_BINDTODEVICE`).
    pub fn device(mut self, name: impl Into<String>) -> Self {
        self.common.device = Some(name.into());
        self
    }

    /// Whether multicast sent from this socket loops back to local listeners.
    pub fn multicast_loop(mut self, on: bool) -> Self {
        self.common.multicast_loop = Some(on);
        self
    }
}

/// What a [`DatagramSocket`] carries, which decides how transmits are routed to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// UDP: addresses carry ports.
    Udp,
    /// A raw IP protocol: addresses have port `0`; IPv4 headers are stripped on receive.
    RawIp {
        /// The IP protocol number.
        protocol: u8,
    },
}

/// An open, non-blocking datagram socket (UDP or raw IP) ready to be added to the loop.
#[derive(Debug)]
pub struct DatagramSocket {
    pub(crate) socket: Socket,
    pub(crate) kind: SocketKind,
    pub(crate) local: SocketAddr,
}

impl DatagramSocket {
    /// Open and bind a UDP socket.
    pub fn udp(opts: &UdpOptions) -> io::Result<Self> {
        let v6 = opts.bind.is_ipv6();
        let socket = Socket::new(
            Domain::for_address(opts.bind),
            Type::DGRAM,
            Some(Protocol::UDP),
        )?;
        socket.set_nonblocking(true)?;
        socket.set_cloexec(true)?;
        if v6 {
            socket.set_only_v6(true)?;
        }
        if opts.reuse_port {
            socket.set_reuse_address(true)?;
            socket.set_reuse_port(true)?;
        }
        apply_pre_bind(&socket, &opts.common)?;
        if let Some(ttl) = opts.ttl {
            set_ttls(&socket, v6, ttl)?;
        }
        if opts.recv_meta {
            raw::enable_recv_meta(socket.as_raw_fd(), v6)?;
        }
        socket.bind(&opts.bind.into())?;
        apply_post_bind(&socket, &opts.common)?;
        let local = socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("UDP socket has no IP address"))?;
        Ok(Self {
            socket,
            kind: SocketKind::Udp,
            local,
        })
    }

    /// Open a raw socket for one IP protocol (needs `CAP_NET_RAW`).
    pub fn raw_ip(opts: &RawOptions) -> io::Result<Self> {
        let v6 = opts.bind.is_ipv6();
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let protocol = Protocol::from(i32::from(opts.protocol));
        let socket = Socket::new(domain, Type::RAW, Some(protocol))?;
        socket.set_nonblocking(true)?;
        socket.set_cloexec(true)?;
        // No IPV6_V6ONLY here: raw IPv6 sockets never see IPv4 and the kernel refuses it.
        apply_pre_bind(&socket, &opts.common)?;
        set_ttls(&socket, v6, opts.ttl)?;
        raw::enable_recv_meta(socket.as_raw_fd(), v6)?;
        if let (true, Some(offset)) = (v6, opts.checksum_offset) {
            let offset = i32::try_from(offset)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "checksum offset"))?;
            raw::setsockopt_int(
                socket.as_raw_fd(),
                libc::IPPROTO_IPV6,
                libc::IPV6_CHECKSUM,
                offset,
            )?;
        }
        let local = SocketAddr::new(opts.bind, 0);
        socket.bind(&local.into())?;
        apply_post_bind(&socket, &opts.common)?;
        Ok(Self {
            socket,
            kind: SocketKind::RawIp {
                protocol: opts.protocol,
            },
            local,
        })
    }

    /// The bound address (port `0` for raw IP sockets).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// UDP or raw.
    pub fn kind(&self) -> SocketKind {
        self.kind
    }

    /// The underlying socket, for options this module does not wrap.
    pub fn socket(&self) -> &Socket {
        &self.socket
    }
}

impl AsRawFd for DatagramSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

fn set_ttls(socket: &Socket, v6: bool, ttl: u8) -> io::Result<()> {
    if v6 {
        socket.set_unicast_hops_v6(u32::from(ttl))?;
        socket.set_multicast_hops_v6(u32::from(ttl))
    } else {
        socket.set_ttl_v4(u32::from(ttl))?;
        socket.set_multicast_ttl_v4(u32::from(ttl))
    }
}

fn apply_pre_bind(socket: &Socket, c: &Common) -> io::Result<()> {
    if let Some(dev) = &c.device {
        socket.bind_device(Some(dev.as_bytes()))?;
    }
    if let Some(n) = c.recv_buffer {
        socket.set_recv_buffer_size(n)?;
    }
    if let Some(n) = c.send_buffer {
        socket.set_send_buffer_size(n)?;
    }
    Ok(())
}

fn apply_post_bind(socket: &Socket, c: &Common) -> io::Result<()> {
    for g in &c.groups {
        match *g {
            Group::V4 { group, interface } => socket.join_multicast_v4(&group, &interface)?,
            Group::V6 { group, ifindex } => socket.join_multicast_v6(&group, ifindex)?,
        }
    }
    if let Some(on) = c.multicast_loop {
        match socket.local_addr()?.as_socket() {
            Some(SocketAddr::V6(_)) => socket.set_multicast_loop_v6(on)?,
            _ => socket.set_multicast_loop_v4(on)?,
        }
    }
    Ok(())
}

/// A non-blocking TCP listener on `addr` with `SO_REUSEADDR` (and `SO_REUSEPORT` if asked),
/// ready for [`Sockets::add_tcp_listener`](super::Sockets::add_tcp_listener).
pub fn tcp_listener(addr: SocketAddr, reuse_port: bool) -> io::Result<mio::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(mio::net::TcpListener::from_std(socket.into()))
}

/// Start a non-blocking TCP connection to `addr` (completion is signalled by writability).
pub fn tcp_connect(addr: SocketAddr) -> io::Result<mio::net::TcpStream> {
    let stream = mio::net::TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    Ok(stream)
}
