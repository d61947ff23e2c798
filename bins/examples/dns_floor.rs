//! The kernel's floor for a UDP DNS server on this machine: a responder that does nothing but
//! the system calls any server must make, so its CPU per query is what the socket path costs
//! before any DNS work. `benches/scripts/dns_side_by_side.sh` measures it beside the real
//! servers (`SERVERS="floor ..."`).
//!
//! It blocks in `recvmmsg(2)` (`MSG_WAITFORONE`: one system call per wake-up, no epoll),
//! answers every query with a copy of it turned into a response carrying one A record
//! (QR and RA set, ANCOUNT 1, the owner a pointer to the question), and sends the batch with
//! one `sendmmsg(2)`. There is no cache, no access control, no parsing beyond the header.
//!
//!     cargo run --release -p lvs-bins --example dns_floor -- 127.0.0.1:5353

use std::io;
use std::mem;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

const BATCH: usize = 32;
const SLOT: usize = 512;
/// The answer appended to each query: pointer to the question name, A, IN, TTL 300, 10.0.0.1.
const RECORD: [u8; 16] = [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4, 10, 0, 0, 1];

fn main() -> io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5353".into())
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("address: {e}")))?;
    let sock = UdpSocket::bind(addr)?;
    let fd = sock.as_raw_fd();
    let mut bufs = vec![[0u8; SLOT + RECORD.len()]; BATCH];
    loop {
        // SAFETY: all-zero bytes are valid values of these plain C structs.
        let mut names: [libc::sockaddr_storage; BATCH] = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let mut iovs: [libc::iovec; BATCH] = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
        for i in 0..BATCH {
            iovs[i] = libc::iovec {
                iov_base: bufs[i].as_mut_ptr().cast(),
                iov_len: SLOT,
            };
            let h = &mut hdrs[i].msg_hdr;
            h.msg_name = (&raw mut names[i]).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &raw mut iovs[i];
            h.msg_iovlen = 1;
        }
        // SAFETY: every header points at a live name buffer and an iovec over its own slot.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                core::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let mut out = 0;
        for i in 0..n as usize {
            let len = hdrs[i].msg_len as usize;
            if !(12..=SLOT).contains(&len) || bufs[i][2] & 0x80 != 0 {
                continue;
            }
            let b = &mut bufs[i];
            b[2] |= 0x80; // QR
            b[3] = 0x80; // RA, NOERROR
            b[6..8].copy_from_slice(&1u16.to_be_bytes()); // ANCOUNT
            b[8..12].fill(0); // no authority, no additional (an OPT is dropped with them)
            // The question ends at the first root label after the header, plus type and class.
            let Some(end) = b[12..len].iter().position(|&x| x == 0).map(|p| 12 + p + 5) else {
                continue;
            };
            if end > len {
                continue;
            }
            b[end..end + RECORD.len()].copy_from_slice(&RECORD);
            iovs[out] = libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: end + RECORD.len(),
            };
            let namelen = hdrs[i].msg_hdr.msg_namelen;
            names.swap(out, i);
            let h = &mut hdrs[out].msg_hdr;
            h.msg_name = (&raw mut names[out]).cast();
            h.msg_namelen = namelen;
            h.msg_iov = &raw mut iovs[out];
            h.msg_iovlen = 1;
            out += 1;
        }
        if out > 0 {
            // SAFETY: the first `out` headers point at live names and iovecs over the slots.
            unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), out as libc::c_uint, 0) };
        }
    }
}
