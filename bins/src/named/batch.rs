//! Batched UDP I/O for the listen sockets: `recvmmsg(2)` reads up to [`BATCH`] queries in one
//! system call and `sendmmsg(2)` sends the replies gathered while handling them in one more,
//! instead of one `recvfrom`/`sendto` pair per query.
//!
//! The system-call arrays (`mmsghdr`, `iovec`, socket addresses) are built on the stack for
//! each call, so nothing here holds raw pointers between calls.

use core::mem;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

use bytes::Bytes;

/// Datagrams per system call.
pub(crate) const BATCH: usize = 32;
/// Receive room per datagram. A client query never comes near it (EDNS payloads are about
/// answers); a longer datagram arrives truncated and is reported as such, to be dropped.
pub(crate) const SLOT: usize = 4096;

/// One received datagram: its length in the slot, its source, and whether it was longer than
/// the slot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Received {
    pub(crate) len: usize,
    pub(crate) src: Option<SocketAddr>,
    pub(crate) truncated: bool,
}

/// Receives up to `BATCH` datagrams from the non-blocking socket `fd`; datagram `i` lands at
/// `buf[i * SLOT..]`. Fills `out` and returns how many arrived (`WouldBlock` when none).
pub(crate) fn recv_batch(
    fd: RawFd,
    buf: &mut [u8],
    out: &mut [Received; BATCH],
) -> io::Result<usize> {
    let slots = (buf.len() / SLOT).min(BATCH);
    if slots == 0 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: all-zero bytes are valid values of these plain C structs.
    let mut addrs: [libc::sockaddr_storage; BATCH] = unsafe { mem::zeroed() };
    // SAFETY: as above.
    let mut iovs: [libc::iovec; BATCH] = unsafe { mem::zeroed() };
    // SAFETY: as above.
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
    let base = buf.as_mut_ptr();
    for i in 0..slots {
        iovs[i] = libc::iovec {
            // SAFETY: i * SLOT + SLOT <= buf.len(), so the slot lies inside `buf`.
            iov_base: unsafe { base.add(i * SLOT) }.cast(),
            iov_len: SLOT,
        };
        let h = &mut hdrs[i].msg_hdr;
        h.msg_name = (&raw mut addrs[i]).cast();
        h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        h.msg_iov = &raw mut iovs[i];
        h.msg_iovlen = 1;
    }
    // SAFETY: every header points at a live address buffer and an iovec describing a disjoint
    // slot of `buf`, all of which outlive the call; `slots` <= the array lengths.
    let n = unsafe {
        libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            slots as libc::c_uint,
            libc::MSG_DONTWAIT,
            core::ptr::null_mut(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    for i in 0..n {
        let h = &hdrs[i];
        out[i] = Received {
            len: (h.msg_len as usize).min(SLOT),
            src: from_storage(&addrs[i], h.msg_hdr.msg_namelen),
            truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
        };
    }
    Ok(n)
}

/// Sends every `(destination, payload)` from the non-blocking socket `fd`, `BATCH` per system
/// call. A datagram the kernel refuses is skipped (and counted); the rest still go. Returns
/// how many were refused.
pub(crate) fn send_batch(fd: RawFd, msgs: &[(SocketAddr, Bytes)]) -> usize {
    let mut failed = 0;
    let mut done = 0;
    while done < msgs.len() {
        let chunk = &msgs[done..msgs.len().min(done + BATCH)];
        // SAFETY: all-zero bytes are valid values of these plain C structs.
        let mut addrs: [libc::sockaddr_storage; BATCH] = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let mut iovs: [libc::iovec; BATCH] = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
        for (i, (dst, payload)) in chunk.iter().enumerate() {
            let len = to_storage(*dst, &mut addrs[i]);
            iovs[i] = libc::iovec {
                iov_base: payload.as_ptr().cast_mut().cast(),
                iov_len: payload.len(),
            };
            let h = &mut hdrs[i].msg_hdr;
            h.msg_name = (&raw mut addrs[i]).cast();
            h.msg_namelen = len;
            h.msg_iov = &raw mut iovs[i];
            h.msg_iovlen = 1;
        }
        // SAFETY: every header points at a live address and an iovec over a payload that
        // outlives the call; sendmmsg only reads through the iovecs.
        let n = unsafe {
            libc::sendmmsg(
                fd,
                hdrs.as_mut_ptr(),
                chunk.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if n > 0 {
            done += n as usize;
        } else if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        } else {
            // The first datagram of the chunk was refused (buffer full, unreachable ...).
            failed += 1;
            done += 1;
        }
    }
    failed
}

/// Writes `addr` as a C socket address; returns its length.
fn to_storage(addr: SocketAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr type.
            let sin =
                unsafe { &mut *(out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from(*a.ip()).to_be(),
            };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above.
            let sin6 =
                unsafe { &mut *(out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            sin6.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// Reads a C socket address of length `len`.
fn from_storage(s: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match i32::from(s.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, and it is long enough.
            let sin = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(sin.sin_port)).into())
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 =
                unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let port = u16::from_be(sin6.sin6_port);
            Some(SocketAddrV6::new(ip, port, sin6.sin6_flowinfo, sin6.sin6_scope_id).into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    #[test]
    fn addresses_round_trip() {
        for a in ["192.0.2.7:53", "[2001:db8::1]:5353", "[fe80::1%3]:1"] {
            let addr: SocketAddr = a.parse().unwrap();
            // SAFETY: all-zero bytes are a valid sockaddr_storage.
            let mut s: libc::sockaddr_storage = unsafe { mem::zeroed() };
            let len = to_storage(addr, &mut s);
            assert_eq!(from_storage(&s, len), Some(addr));
            assert_eq!(from_storage(&s, 2), None);
        }
    }

    #[test]
    fn a_batch_goes_out_and_comes_back_in_one_call_each() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.set_nonblocking(true).unwrap();
        let to = rx.local_addr().unwrap();
        let msgs: Vec<(SocketAddr, Bytes)> = (0..40u8)
            .map(|i| (to, Bytes::from(vec![i; usize::from(i) + 1])))
            .collect();
        assert_eq!(send_batch(tx.as_raw_fd(), &msgs), 0);
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = vec![0u8; BATCH * SLOT];
        let mut got = Vec::new();
        let mut meta = [Received {
            len: 0,
            src: None,
            truncated: false,
        }; BATCH];
        let end = std::time::Instant::now() + Duration::from_secs(10);
        while got.len() < 40 && std::time::Instant::now() < end {
            match recv_batch(rx.as_raw_fd(), &mut buf, &mut meta) {
                Ok(n) => {
                    assert!(n <= BATCH);
                    for (i, m) in meta[..n].iter().enumerate() {
                        assert_eq!(m.src, Some(tx.local_addr().unwrap()));
                        assert!(!m.truncated);
                        got.push(buf[i * SLOT..i * SLOT + m.len].to_vec());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        }
        let want: Vec<Vec<u8>> = msgs.iter().map(|(_, p)| p.to_vec()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn an_oversized_datagram_is_reported_truncated() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(&vec![7u8; SLOT + 100], rx.local_addr().unwrap())
            .unwrap();
        let mut buf = vec![0u8; BATCH * SLOT];
        let mut meta = [Received {
            len: 0,
            src: None,
            truncated: false,
        }; BATCH];
        let end = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match recv_batch(rx.as_raw_fd(), &mut buf, &mut meta) {
                Ok(n) => {
                    assert_eq!(n, 1);
                    assert!(meta[0].truncated);
                    assert_eq!(meta[0].len, SLOT);
                    break;
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock && std::time::Instant::now() < end =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}
