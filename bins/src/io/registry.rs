//! The socket registry: every socket of a loop, its mio token, its send queue and counters, and
//! the rule that routes a [`Transmit`] to a socket.
//!
//! # Routing rule
//!
//! 1. The destination port selects the kind: port `0` goes to raw IP sockets, any other port to
//!    UDP sockets. The destination address selects the family (IPv4 or IPv6).
//! 2. Among the sockets of that kind and family, in the order they were added:
//!    * with `src = Some(a)`: the socket bound exactly to `a` (for raw sockets the port is
//!      ignored); failing that, a socket bound to the wildcard address with `a`'s port (raw:
//!      any wildcard socket), which then sends with `a` as the source address through
//!      `IP_PKTINFO` / `IPV6_PKTINFO`;
//!    * with `src = None`: the first one.
//! 3. If nothing matches, the transmit is dropped and counted in [`RegistryStats::unroutable`];
//!    it is never sent from an address the machine did not ask for.
//!
//! `meta.ttl` and `meta.ifindex` of a transmit are attached to that one send as control
//! messages.

use core::net::{IpAddr, SocketAddr};
use std::io;
use std::os::fd::AsRawFd;

use bytes::BytesMut;
use lvs_core::{Datagram, PacketMeta, Transmit};
use mio::unix::SourceFd;
use mio::{Interest, Token};

use super::packet::PacketSocket;
use super::queue::{Pushed, QueueLimits, SendQueue, SendStats};
use super::raw::{self, SendMeta};
use super::socket::{DatagramSocket, RawOptions, SocketKind, UdpOptions};

/// The largest datagram read in one piece (the IPv4/IPv6 maximum without jumbograms).
pub const MAX_DATAGRAM: usize = 65_536;

/// Counters of one datagram socket's receive path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecvStats {
    /// Datagrams handed to the machine.
    pub datagrams: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Dropped: larger than [`MAX_DATAGRAM`].
    pub truncated: u64,
    /// Dropped: a raw IPv4 packet whose header did not parse.
    pub malformed: u64,
    /// Receive errors other than `WouldBlock` (ICMP errors reported on the socket ...).
    pub errors: u64,
}

/// Registry-wide counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistryStats {
    /// Transmits dropped because no socket matched the routing rule.
    pub unroutable: u64,
}

#[derive(Debug)]
struct Dgram {
    sock: DatagramSocket,
    queue: SendQueue,
    recv: RecvStats,
    /// Readiness seen but not yet read to `WouldBlock` (the read budget ran out).
    pending_read: bool,
}

#[derive(Debug)]
enum Entry {
    Dgram(Box<Dgram>),
    TcpListener(mio::net::TcpListener),
    TcpStream(mio::net::TcpStream),
    Packet(PacketSocket),
}

/// Every socket of one loop, keyed by [`Token`].
///
/// Datagram sockets are read and written by the loop itself; TCP listeners and streams and
/// packet sockets are registered here for readiness and handed to the binary's
/// [`Handler::ready`](super::Handler::ready).
#[derive(Debug)]
pub struct Sockets {
    registry: mio::Registry,
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
    limits: QueueLimits,
    stats: RegistryStats,
}

/// Outcome of one read attempt on a datagram socket.
pub(crate) enum Read {
    /// A datagram for the machine.
    Datagram(Datagram),
    /// Something was read but dropped (and counted).
    Dropped,
    /// Nothing more to read now.
    Empty,
}

impl Sockets {
    pub(crate) fn new(registry: mio::Registry, limits: QueueLimits) -> Self {
        Self {
            registry,
            entries: Vec::new(),
            free: Vec::new(),
            limits,
            stats: RegistryStats::default(),
        }
    }

    fn slot(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.entries.push(None);
            self.entries.len() - 1
        })
    }

    fn insert(
        &mut self,
        fd: i32,
        interest: Interest,
        make: impl FnOnce() -> Entry,
    ) -> io::Result<Token> {
        let i = self.slot();
        if let Err(e) = self
            .registry
            .register(&mut SourceFd(&fd), Token(i), interest)
        {
            self.free.push(i);
            return Err(e);
        }
        self.entries[i] = Some(make());
        Ok(Token(i))
    }

    /// Open a UDP socket and add it.
    pub fn add_udp(&mut self, opts: &UdpOptions) -> io::Result<Token> {
        self.add_datagram(DatagramSocket::udp(opts)?)
    }

    /// Open a raw IP protocol socket and add it.
    pub fn add_raw(&mut self, opts: &RawOptions) -> io::Result<Token> {
        self.add_datagram(DatagramSocket::raw_ip(opts)?)
    }

    /// Add an open datagram socket; its datagrams go to the machine and transmits are routed to
    /// it by the [routing rule](self#routing-rule).
    pub fn add_datagram(&mut self, sock: DatagramSocket) -> io::Result<Token> {
        let fd = sock.as_raw_fd();
        let queue = SendQueue::new(self.limits);
        self.insert(fd, Interest::READABLE | Interest::WRITABLE, || {
            Entry::Dgram(Box::new(Dgram {
                sock,
                queue,
                recv: RecvStats::default(),
                pending_read: false,
            }))
        })
    }

    /// Add a TCP listener (readable when a connection waits).
    pub fn add_tcp_listener(&mut self, l: mio::net::TcpListener) -> io::Result<Token> {
        let fd = l.as_raw_fd();
        self.insert(fd, Interest::READABLE, || Entry::TcpListener(l))
    }

    /// Add a TCP stream (readable and writable readiness).
    pub fn add_tcp_stream(&mut self, s: mio::net::TcpStream) -> io::Result<Token> {
        let fd = s.as_raw_fd();
        self.insert(fd, Interest::READABLE | Interest::WRITABLE, || {
            Entry::TcpStream(s)
        })
    }

    /// Add a packet socket (readable readiness).
    pub fn add_packet(&mut self, p: PacketSocket) -> io::Result<Token> {
        let fd = p.as_raw_fd();
        self.insert(fd, Interest::READABLE, || Entry::Packet(p))
    }

    /// Deregister and close the socket of `token`; `false` if there was none.
    pub fn remove(&mut self, token: Token) -> bool {
        let Some(entry) = self.entries.get_mut(token.0).and_then(Option::take) else {
            return false;
        };
        let fd = match &entry {
            Entry::Dgram(d) => d.sock.as_raw_fd(),
            Entry::TcpListener(l) => l.as_raw_fd(),
            Entry::TcpStream(s) => s.as_raw_fd(),
            Entry::Packet(p) => p.as_raw_fd(),
        };
        if let Err(e) = self.registry.deregister(&mut SourceFd(&fd)) {
            tracing::debug!(?token, error = %e, "deregister failed");
        }
        self.free.push(token.0);
        true
    }

    fn dgram(&self, token: Token) -> Option<&Dgram> {
        match self.entries.get(token.0)? {
            Some(Entry::Dgram(d)) => Some(d),
            _ => None,
        }
    }

    fn dgram_mut(&mut self, token: Token) -> Option<&mut Dgram> {
        match self.entries.get_mut(token.0)? {
            Some(Entry::Dgram(d)) => Some(d),
            _ => None,
        }
    }

    /// The local address of a datagram socket or TCP listener.
    pub fn local_addr(&self, token: Token) -> Option<SocketAddr> {
        match self.entries.get(token.0)?.as_ref()? {
            Entry::Dgram(d) => Some(d.sock.local),
            Entry::TcpListener(l) => l.local_addr().ok(),
            Entry::TcpStream(s) => s.local_addr().ok(),
            Entry::Packet(_) => None,
        }
    }

    /// The TCP listener of `token`.
    pub fn tcp_listener(&mut self, token: Token) -> Option<&mut mio::net::TcpListener> {
        match self.entries.get_mut(token.0)? {
            Some(Entry::TcpListener(l)) => Some(l),
            _ => None,
        }
    }

    /// The TCP stream of `token`.
    pub fn tcp_stream(&mut self, token: Token) -> Option<&mut mio::net::TcpStream> {
        match self.entries.get_mut(token.0)? {
            Some(Entry::TcpStream(s)) => Some(s),
            _ => None,
        }
    }

    /// The packet socket of `token`.
    pub fn packet(&self, token: Token) -> Option<&PacketSocket> {
        match self.entries.get(token.0)? {
            Some(Entry::Packet(p)) => Some(p),
            _ => None,
        }
    }

    /// Send counters of a datagram socket.
    pub fn send_stats(&self, token: Token) -> Option<SendStats> {
        self.dgram(token).map(|d| d.queue.stats())
    }

    /// Receive counters of a datagram socket.
    pub fn recv_stats(&self, token: Token) -> Option<RecvStats> {
        self.dgram(token).map(|d| d.recv)
    }

    /// Datagrams waiting in a socket's send queue.
    pub fn queued(&self, token: Token) -> Option<usize> {
        self.dgram(token).map(|d| d.queue.len())
    }

    /// Registry-wide counters.
    pub fn stats(&self) -> RegistryStats {
        self.stats
    }

    /// Whether `token` is a datagram socket owned by the loop.
    pub(crate) fn is_datagram(&self, token: Token) -> bool {
        self.dgram(token).is_some()
    }

    /// Tokens of the datagram sockets that still have unread data.
    pub(crate) fn pending_reads(&self, out: &mut Vec<Token>) {
        out.clear();
        for (i, e) in self.entries.iter().enumerate() {
            if let Some(Entry::Dgram(d)) = e
                && d.pending_read
            {
                out.push(Token(i));
            }
        }
    }

    pub(crate) fn set_pending_read(&mut self, token: Token, on: bool) {
        if let Some(d) = self.dgram_mut(token) {
            d.pending_read = on;
        }
    }

    /// Pick the socket for `t` by the routing rule; the second value is the source address to
    /// force through packet info (wildcard-bound sockets only).
    pub fn route(&self, t: &Transmit) -> Option<(Token, Option<IpAddr>)> {
        let raw = t.dst.port() == 0;
        let v6 = t.dst.is_ipv6();
        let candidates = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Some(Entry::Dgram(d))
                    if matches!(d.sock.kind, SocketKind::RawIp { .. }) == raw
                        && d.sock.local.is_ipv6() == v6 =>
                {
                    Some((Token(i), d.sock.local))
                }
                _ => None,
            });
        let Some(src) = t.src else {
            return candidates.map(|(tok, _)| (tok, None)).next();
        };
        let mut wildcard = None;
        for (tok, local) in candidates {
            let port_ok = raw || local.port() == src.port();
            if port_ok && local.ip() == src.ip() {
                return Some((tok, None));
            }
            if port_ok && local.ip().is_unspecified() && wildcard.is_none() {
                wildcard = Some((tok, (!src.ip().is_unspecified()).then_some(src.ip())));
            }
        }
        wildcard
    }

    /// Route and send `t` (or queue it on `WouldBlock`).
    pub fn send(&mut self, t: Transmit) {
        let Some((token, src_ip)) = self.route(&t) else {
            self.stats.unroutable += 1;
            tracing::debug!(dst = %t.dst, src = ?t.src, "no socket for transmit");
            return;
        };
        let Some(d) = self.dgram_mut(token) else {
            return;
        };
        let fd = d.sock.as_raw_fd();
        let sent = d.queue.send_or_queue(t, |t| send_one(fd, t, src_ip));
        if sent == Pushed::Dropped {
            tracing::trace!(?token, "transmit dropped");
        }
    }

    /// Retry the send queue of `token` after a writable event.
    pub(crate) fn flush(&mut self, token: Token) {
        let Some(d) = self.dgram_mut(token) else {
            return;
        };
        if d.queue.is_empty() {
            return;
        }
        let fd = d.sock.as_raw_fd();
        let wildcard = d.sock.local.ip().is_unspecified();
        d.queue.flush(|t| {
            // Same source rule as at routing time: only wildcard sockets force a source.
            let src_ip = t
                .src
                .map(|s| s.ip())
                .filter(|ip| wildcard && !ip.is_unspecified());
            send_one(fd, t, src_ip)
        });
    }

    /// Retry every non-empty send queue once.
    pub(crate) fn flush_all(&mut self) {
        for i in 0..self.entries.len() {
            self.flush(Token(i));
        }
    }

    /// Read one datagram from `token` into `arena`.
    pub(crate) fn read(&mut self, token: Token, arena: &mut BytesMut) -> Read {
        let Some(d) = self.dgram_mut(token) else {
            return Read::Empty;
        };
        if arena.capacity() - arena.len() < MAX_DATAGRAM {
            arena.reserve(ARENA_CHUNK);
        }
        let spare = &mut arena.spare_capacity_mut()[..MAX_DATAGRAM];
        let got = match raw::recv(d.sock.as_raw_fd(), spare) {
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Read::Empty,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Read::Dropped,
            Err(e) => {
                d.recv.errors += 1;
                tracing::debug!(?token, error = %e, "receive error");
                return Read::Dropped;
            }
        };
        if got.truncated {
            d.recv.truncated += 1;
            return Read::Dropped;
        }
        // SAFETY: recvmsg initialised the first `got.len` bytes of the spare capacity.
        unsafe { arena.set_len(arena.len() + got.len) };
        let mut payload = arena.split().freeze();
        let local = d.sock.local;
        let mut meta = PacketMeta {
            ttl: got.ttl,
            ifindex: got.ifindex,
        };
        let mut dst = SocketAddr::new(got.dst_ip.unwrap_or(local.ip()), local.port());
        let src = SocketAddr::new(
            got.src.ip(),
            if d.sock.kind == SocketKind::Udp {
                got.src.port()
            } else {
                0
            },
        );
        if matches!(d.sock.kind, SocketKind::RawIp { .. }) && !local.is_ipv6() {
            // Raw IPv4 sockets deliver the IP header: take TTL and destination from it and hand
            // the machine only the protocol payload.
            let Some((hlen, ttl, to)) = parse_ipv4_header(&payload) else {
                d.recv.malformed += 1;
                return Read::Dropped;
            };
            meta.ttl = Some(ttl);
            dst = SocketAddr::new(IpAddr::V4(to), 0);
            payload = payload.slice(hlen..);
        }
        d.recv.datagrams += 1;
        d.recv.bytes += payload.len() as u64;
        Read::Datagram(Datagram {
            src,
            dst,
            payload,
            meta,
        })
    }
}

/// How much the arena grows by when it runs low: one allocation per this many bytes received.
const ARENA_CHUNK: usize = 1 << 20;

fn send_one(fd: i32, t: &Transmit, src_ip: Option<IpAddr>) -> io::Result<()> {
    let meta = SendMeta {
        ttl: t.meta.ttl,
        ifindex: t.meta.ifindex,
        src_ip,
    };
    raw::send(fd, &t.payload, t.dst, meta)
}

/// Header length, TTL and destination of a raw IPv4 packet, if the header is well formed.
fn parse_ipv4_header(p: &[u8]) -> Option<(usize, u8, core::net::Ipv4Addr)> {
    let first = *p.first()?;
    let hlen = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || hlen < 20 || p.len() < hlen {
        return None;
    }
    let dst = core::net::Ipv4Addr::new(p[16], p[17], p[18], p[19]);
    Some((hlen, p[8], dst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_is_validated() {
        let mut h = [0u8; 24];
        h[0] = 0x45;
        h[8] = 255;
        h[16..20].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(
            parse_ipv4_header(&h),
            Some((20, 255, core::net::Ipv4Addr::LOCALHOST))
        );
        assert_eq!(parse_ipv4_header(&h[..19]), None);
        h[0] = 0x44;
        assert_eq!(parse_ipv4_header(&h), None);
        h[0] = 0x65;
        assert_eq!(parse_ipv4_header(&h), None);
        assert_eq!(parse_ipv4_header(&[]), None);
    }
}
