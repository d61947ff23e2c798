//! Moving bytes between two non-blocking streams through a bounded buffer, with half-close,
//! and the PROXY protocol v2 header.

use core::net::{IpAddr, SocketAddr};
use std::io::{self, Read, Write};
use std::net::Shutdown;

/// Bytes buffered per direction of a proxied connection (32 KiB per connection in all).
pub const PIPE_CAPACITY: usize = 16 * 1024;

/// One direction of a proxied connection: read from one side, write to the other.
#[derive(Debug)]
pub struct Pipe {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The source has sent EOF.
    pub eof: bool,
    /// EOF was passed on: the destination's write half is shut down.
    pub shut: bool,
}

/// What one [`Pipe::pump`] moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    /// Successful reads.
    pub reads: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// Something that can be shut down (a TCP stream).
pub trait Shut {
    /// `shutdown(how)`.
    fn shut(&self, how: Shutdown) -> io::Result<()>;
}

impl Shut for mio::net::TcpStream {
    fn shut(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

impl Default for Pipe {
    fn default() -> Self {
        Self::with_capacity(PIPE_CAPACITY)
    }
}

impl Pipe {
    /// An empty pipe holding at most `cap` bytes.
    pub fn with_capacity(cap: usize) -> Self {
        Self {
            buf: vec![0; cap.max(1)].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            shut: false,
        }
    }

    /// Queue bytes to write before anything read (a PROXY header). Returns false when they do
    /// not fit.
    pub fn preload(&mut self, data: &[u8]) -> bool {
        let free = self.buf.len() - self.end;
        if data.len() > free {
            return false;
        }
        self.buf[self.end..self.end + data.len()].copy_from_slice(data);
        self.end += data.len();
        true
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.end - self.start
    }

    /// Whether this direction is finished (EOF read and passed on).
    pub fn done(&self) -> bool {
        self.shut
    }

    /// Move as much as possible from `src` to `dst` without blocking: write what is buffered,
    /// read while there is room, pass EOF on once the buffer is empty. `Err` is a hard error
    /// on either side (the connection should be closed).
    pub fn pump<S: Read, D: Write + Shut>(
        &mut self,
        src: &mut S,
        dst: &mut D,
    ) -> io::Result<Moved> {
        let mut moved = Moved::default();
        loop {
            let mut progress = false;
            while self.start < self.end {
                match dst.write(&self.buf[self.start..self.end]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        self.start += n;
                        progress = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            }
            if !self.eof && self.end < self.buf.len() {
                match src.read(&mut self.buf[self.end..]) {
                    Ok(0) => {
                        self.eof = true;
                        progress = true;
                    }
                    Ok(n) => {
                        self.end += n;
                        moved.reads += 1;
                        moved.bytes += n as u64;
                        progress = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => progress = true,
                    Err(e) => return Err(e),
                }
            }
            if self.eof && self.start == self.end && !self.shut {
                // The peer may already have gone; that ends this direction either way.
                let _ = dst.shut(Shutdown::Write);
                self.shut = true;
            }
            if !progress {
                return Ok(moved);
            }
        }
    }
}

/// The PROXY protocol v2 signature.
pub const PP2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// A PROXY protocol v2 header (command PROXY, STREAM over the family of the addresses; an
/// IPv4 address paired with an IPv6 one is sent IPv4-mapped).
///
/// ```
/// use lvs_bins::lvsd::splice::proxy_v2_header;
/// let h = proxy_v2_header("192.0.2.1:5000".parse().unwrap(), "198.51.100.2:80".parse().unwrap());
/// assert_eq!(&h[12..16], &[0x21, 0x11, 0, 12]);
/// assert_eq!(&h[16..20], &[192, 0, 2, 1]);
/// assert_eq!(&h[24..28], &[0x13, 0x88, 0, 80]);
/// ```
pub fn proxy_v2_header(client: SocketAddr, server: SocketAddr) -> Vec<u8> {
    let mut h = Vec::with_capacity(52);
    h.extend_from_slice(&PP2_SIGNATURE);
    h.push(0x21);
    match (client.ip(), server.ip()) {
        (IpAddr::V4(c), IpAddr::V4(s)) => {
            h.extend_from_slice(&[0x11, 0, 12]);
            h.extend_from_slice(&c.octets());
            h.extend_from_slice(&s.octets());
        }
        (c, s) => {
            h.extend_from_slice(&[0x21, 0, 36]);
            h.extend_from_slice(&v6(c));
            h.extend_from_slice(&v6(s));
        }
    }
    h.extend_from_slice(&client.port().to_be_bytes());
    h.extend_from_slice(&server.port().to_be_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A scripted stream: reads come from `input` (then EOF or WouldBlock), writes accept
    /// at most `room` bytes per call and WouldBlock when `room` is 0.
    #[derive(Default)]
    struct Fake {
        input: VecDeque<u8>,
        eof: bool,
        out: Vec<u8>,
        room: usize,
        shut: bool,
    }

    impl Read for Fake {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            if self.input.is_empty() {
                return if self.eof {
                    Ok(0)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
            let n = b.len().min(self.input.len()).min(7);
            for x in b.iter_mut().take(n) {
                *x = self.input.pop_front().unwrap_or(0);
            }
            Ok(n)
        }
    }

    impl Write for Fake {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = b.len().min(self.room);
            self.room -= n;
            self.out.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shut for Fake {
        fn shut(&self, _how: Shutdown) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn bytes_flow_with_backpressure_and_eof_is_passed_on_last() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut src = Fake {
            input: data.iter().copied().collect(),
            eof: true,
            ..Fake::default()
        };
        let mut dst = Fake::default();
        let mut p = Pipe::with_capacity(16);
        let m = p.pump(&mut src, &mut dst).unwrap();
        // The destination takes nothing: the buffer fills and reading stops.
        assert_eq!(p.pending(), 16);
        assert_eq!(m.bytes, 16);
        assert!(!p.eof && !p.shut);
        let mut total = m.bytes;
        while !p.done() {
            dst.room = 5;
            total += p.pump(&mut src, &mut dst).unwrap().bytes;
        }
        assert_eq!(total, 100);
        assert_eq!(dst.out, data);
        dst.shut = p.shut;
        assert!(dst.shut);
    }

    #[test]
    fn preload_goes_first() {
        let mut src = Fake {
            input: b"hello".iter().copied().collect(),
            ..Fake::default()
        };
        let mut dst = Fake {
            room: 100,
            ..Fake::default()
        };
        let mut p = Pipe::with_capacity(8);
        assert!(p.preload(b"PP"));
        assert!(!p.preload(b"way too long"));
        p.pump(&mut src, &mut dst).unwrap();
        assert_eq!(dst.out, b"PPhello");
        assert!(!p.done());
    }

    #[test]
    fn proxy_header_v6_and_mixed() {
        let h = proxy_v2_header(
            "[2001:db8::1]:1".parse().unwrap(),
            "10.0.0.1:2".parse().unwrap(),
        );
        assert_eq!(h.len(), 16 + 36);
        assert_eq!(&h[13..16], &[0x21, 0, 36]);
        assert_eq!(&h[48..52], &[0, 1, 0, 2]);
        assert_eq!(
            &h[32..48],
            &"::ffff:10.0.0.1"
                .parse::<core::net::Ipv6Addr>()
                .unwrap()
                .octets()
        );
    }
}
