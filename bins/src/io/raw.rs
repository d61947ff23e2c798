//! `recvmsg` / `sendmsg` with the ancillary data the machines need (TTL / hop limit, interface
//! index, destination address), over any socket's raw file descriptor.
//!
//! This is the only module with `unsafe` code for datagram I/O: everything in it is a direct
//! call into libc with buffers whose sizes are passed alongside, and control messages are read
//! only after their length has been checked.

use core::mem::{self, MaybeUninit};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::io;
use std::os::fd::RawFd;

use socket2::SockAddr;

/// What `recvmsg` reported besides the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Received {
    /// Bytes written into the buffer.
    pub(crate) len: usize,
    /// The sender.
    pub(crate) src: SocketAddr,
    /// The destination address from `IP_PKTINFO` / `IPV6_PKTINFO`.
    pub(crate) dst_ip: Option<IpAddr>,
    /// TTL or hop limit from `IP_TTL` / `IPV6_HOPLIMIT`.
    pub(crate) ttl: Option<u8>,
    /// The arrival interface from the packet-info message.
    pub(crate) ifindex: Option<u32>,
    /// The datagram was larger than the buffer and was cut.
    pub(crate) truncated: bool,
}

/// Ancillary data to attach to one send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SendMeta {
    /// TTL / hop limit for this packet only.
    pub(crate) ttl: Option<u8>,
    /// Leave through this interface.
    pub(crate) ifindex: Option<u32>,
    /// Use this source address (for sockets bound to the wildcard address).
    pub(crate) src_ip: Option<IpAddr>,
}

impl SendMeta {
    fn is_empty(&self) -> bool {
        self.ttl.is_none() && self.ifindex.is_none() && self.src_ip.is_none()
    }
}

/// Room for a packet-info and a TTL message of either family, 8-byte aligned as cmsghdr needs.
#[repr(C, align(8))]
struct ControlBuf([u8; 128]);

/// Enable the receive-side ancillary messages for a socket of the given family.
pub(crate) fn enable_recv_meta(fd: RawFd, v6: bool) -> io::Result<()> {
    if v6 {
        setsockopt_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
        setsockopt_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)
    } else {
        setsockopt_int(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
        setsockopt_int(fd, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)
    }
}

/// `setsockopt` with an `int` value.
pub(crate) fn setsockopt_int(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    let len = socklen_of::<libc::c_int>();
    // SAFETY: `value` lives across the call and `len` is its size.
    let rc = unsafe { libc::setsockopt(fd, level, name, (&raw const value).cast(), len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn socklen_of<T>() -> libc::socklen_t {
    libc::socklen_t::try_from(size_of::<T>()).unwrap_or(libc::socklen_t::MAX)
}

/// Receive one datagram into `buf` with its metadata.
pub(crate) fn recv(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<Received> {
    // SAFETY: an all-zero sockaddr_storage / msghdr is a valid value of these plain C structs.
    let mut addr: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = ControlBuf([0; 128]);
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&raw mut addr).cast();
    msg.msg_namelen = socklen_of::<libc::sockaddr_storage>();
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len();
    // SAFETY: every pointer in `msg` refers to a live buffer of the stated length; the kernel
    // writes at most that much into each.
    let n = unsafe { libc::recvmsg(fd, &raw mut msg, libc::MSG_DONTWAIT) };
    let Ok(len) = usize::try_from(n) else {
        return Err(io::Error::last_os_error());
    };
    let src = sockaddr_to_std(&addr).unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    let mut out = Received {
        len,
        src,
        dst_ip: None,
        ttl: None,
        ifindex: None,
        truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
    };
    parse_control(&msg, &mut out);
    Ok(out)
}

fn parse_control(msg: &libc::msghdr, out: &mut Received) {
    // SAFETY: `msg` was filled by recvmsg; the CMSG_* helpers stay within msg_controllen.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !cmsg.is_null() {
        // SAFETY: non-null headers returned by CMSG_FIRSTHDR/NXTHDR lie inside the buffer.
        let hdr = unsafe { &*cmsg };
        // SAFETY: CMSG_DATA only computes an address.
        let data = unsafe { libc::CMSG_DATA(cmsg) };
        let data_len = hdr.cmsg_len.saturating_sub(data as usize - cmsg as usize);
        match (hdr.cmsg_level, hdr.cmsg_type) {
            (libc::IPPROTO_IP, libc::IP_TTL) | (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                if let Some(v) = read_data::<libc::c_int>(data, data_len) {
                    out.ttl = u8::try_from(v).ok();
                }
            }
            (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                if let Some(info) = read_data::<libc::in_pktinfo>(data, data_len) {
                    out.ifindex = u32::try_from(info.ipi_ifindex).ok();
                    let ip = Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr));
                    out.dst_ip = Some(IpAddr::V4(ip));
                }
            }
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                if let Some(info) = read_data::<libc::in6_pktinfo>(data, data_len) {
                    out.ifindex = Some(info.ipi6_ifindex);
                    out.dst_ip = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                }
            }
            _ => {}
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        cmsg = unsafe { libc::CMSG_NXTHDR(msg, cmsg) };
    }
}

fn read_data<T: Copy>(data: *const u8, len: usize) -> Option<T> {
    // SAFETY: the length check keeps the read inside the control message; the read is
    // unaligned-safe.
    (len >= size_of::<T>()).then(|| unsafe { data.cast::<T>().read_unaligned() })
}

/// Convert a kernel socket address of family AF_INET or AF_INET6.
pub(crate) fn sockaddr_to_std(addr: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(addr.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large enough
            // for and aligned for.
            let a = unsafe { &*(&raw const *addr).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above for sockaddr_in6.
            let a = unsafe { &*(&raw const *addr).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Send `payload` to `dst`, attaching `meta` as control messages when any field is set.
pub(crate) fn send(fd: RawFd, payload: &[u8], dst: SocketAddr, meta: SendMeta) -> io::Result<()> {
    let addr = SockAddr::from(dst);
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr().cast_mut().cast(),
        iov_len: payload.len(),
    };
    let mut control = ControlBuf([0; 128]);
    // SAFETY: an all-zero msghdr is valid.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = addr.as_ptr().cast_mut().cast();
    msg.msg_namelen = addr.len();
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    if !meta.is_empty() {
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = control.0.len();
        let used = write_control(&mut msg, dst.is_ipv6(), meta);
        msg.msg_controllen = used;
    }
    // SAFETY: all pointers refer to live buffers of the stated sizes; the kernel only reads.
    let n = unsafe { libc::sendmsg(fd, &raw const msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Fill the control buffer of `msg`; returns the bytes used.
fn write_control(msg: &mut libc::msghdr, v6: bool, meta: SendMeta) -> usize {
    let mut used = 0;
    // SAFETY: the buffer is 128 bytes, zeroed and aligned; at most two messages of at most
    // CMSG_SPACE(20) = 40 bytes each are written, and each header is obtained from the CMSG
    // helpers which check the bounds against msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        if let Some(ttl) = meta.ttl {
            let (level, ty) = if v6 {
                (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT)
            } else {
                (libc::IPPROTO_IP, libc::IP_TTL)
            };
            used += put_cmsg(cmsg, level, ty, libc::c_int::from(ttl));
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
        if (meta.ifindex.is_some() || meta.src_ip.is_some()) && !cmsg.is_null() {
            if v6 {
                let mut info: libc::in6_pktinfo = mem::zeroed();
                info.ipi6_ifindex = meta.ifindex.unwrap_or(0);
                if let Some(IpAddr::V6(ip)) = meta.src_ip {
                    info.ipi6_addr.s6_addr = ip.octets();
                }
                used += put_cmsg(cmsg, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, info);
            } else {
                let mut info: libc::in_pktinfo = mem::zeroed();
                info.ipi_ifindex = meta
                    .ifindex
                    .and_then(|i| libc::c_int::try_from(i).ok())
                    .unwrap_or(0);
                if let Some(IpAddr::V4(ip)) = meta.src_ip {
                    info.ipi_spec_dst.s_addr = u32::from(ip).to_be();
                }
                used += put_cmsg(cmsg, libc::IPPROTO_IP, libc::IP_PKTINFO, info);
            }
        }
    }
    used
}

/// Write one control message at `cmsg`; returns its CMSG_SPACE.
///
/// # Safety
/// `cmsg` must be non-null and have CMSG_SPACE(size_of::<T>()) writable bytes.
unsafe fn put_cmsg<T>(cmsg: *mut libc::cmsghdr, level: i32, ty: i32, value: T) -> usize {
    let size = u32::try_from(size_of::<T>()).unwrap_or(u32::MAX);
    // SAFETY: guaranteed by the caller.
    unsafe {
        (*cmsg).cmsg_level = level;
        (*cmsg).cmsg_type = ty;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size) as usize;
        libc::CMSG_DATA(cmsg).cast::<T>().write_unaligned(value);
        libc::CMSG_SPACE(size) as usize
    }
}
