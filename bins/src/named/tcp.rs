//! TCP state of a worker: client connections (pipelined queries, out-of-order replies,
//! backpressure, idle timeout) and one-shot upstream exchanges.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use bytes::{Buf, Bytes, BytesMut};
use lvs_core::Instant;
use lvs_dns::wire::{Frame, TcpDecoder, frame_prefix};
use mio::net::TcpStream;

/// Bytes read from a socket per `read` call.
const READ_CHUNK: usize = 16 * 1024;

/// What reading a client connection produced.
#[derive(Debug, Default)]
pub(crate) struct ReadOutcome {
    /// Complete messages, in arrival order.
    pub(crate) frames: Vec<Bytes>,
    /// The connection must be closed (error, zero-length frame).
    pub(crate) close: bool,
}

/// One client connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    rbuf: BytesMut,
    dec: TcpDecoder,
    wbuf: BytesMut,
    /// Queries handed to the machine whose replies have not come back.
    pub(crate) outstanding: usize,
    /// Last read or write.
    pub(crate) last: Instant,
    /// The client shut down its side; close once every reply is written.
    pub(crate) read_closed: bool,
    /// Reading is paused (backpressure); resume when the backlog drains.
    pub(crate) paused: bool,
    /// Replies were queued since the last flush: the worker writes them all at once at the
    /// end of its turn, so pipelined answers share segments instead of one write each.
    pub(crate) queued: bool,
}

/// Bounds that apply to every client connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConnLimits {
    /// Stop reading while more than this many reply bytes wait to be written.
    pub(crate) max_unsent: usize,
    /// Stop reading while this many queries are unanswered.
    pub(crate) max_outstanding: usize,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, peer: SocketAddr, now: Instant) -> Self {
        Self {
            stream,
            peer,
            rbuf: BytesMut::new(),
            dec: TcpDecoder::new(),
            wbuf: BytesMut::new(),
            outstanding: 0,
            last: now,
            read_closed: false,
            paused: false,
            queued: false,
        }
    }

    fn over_limits(&self, l: ConnLimits) -> bool {
        self.wbuf.len() > l.max_unsent || self.outstanding >= l.max_outstanding
    }

    /// Reads until `WouldBlock`, end of stream or a limit, and splits out complete messages.
    pub(crate) fn read(&mut self, now: Instant, limits: ConnLimits) -> ReadOutcome {
        let mut out = ReadOutcome::default();
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            if self.over_limits(limits)
                || out.frames.len() + self.outstanding >= limits.max_outstanding
            {
                self.paused = true;
                break;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.read_closed = true;
                    break;
                }
                Ok(n) => {
                    self.last = now;
                    self.rbuf.extend_from_slice(&chunk[..n]);
                    if !self.split(&mut out.frames) {
                        out.close = true;
                        return out;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    out.close = true;
                    return out;
                }
            }
        }
        out
    }

    /// Moves every complete frame out of the read buffer; false on a zero-length frame.
    fn split(&mut self, frames: &mut Vec<Bytes>) -> bool {
        let mut ranges = Vec::new();
        loop {
            match self.dec.decode(&self.rbuf) {
                Ok(Frame::Complete(r)) => ranges.push(r),
                Ok(Frame::Incomplete { .. }) => break,
                Err(_) => return false,
            }
        }
        let consumed = self.dec.take_consumed();
        if consumed > 0 {
            let done = self.rbuf.split_to(consumed).freeze();
            frames.extend(ranges.into_iter().map(|r| done.slice(r)));
        }
        true
    }

    /// Queues one reply (framed). Returns false if it cannot be framed (never for a reply the
    /// machine built: those are at most 65535 bytes).
    pub(crate) fn queue(&mut self, message: &[u8]) -> bool {
        self.outstanding = self.outstanding.saturating_sub(1);
        let Ok(prefix) = frame_prefix(message.len()) else {
            return false;
        };
        self.wbuf.extend_from_slice(&prefix);
        self.wbuf.extend_from_slice(message);
        true
    }

    /// Writes what it can. Returns `Err` when the connection failed.
    pub(crate) fn flush(&mut self, now: Instant) -> io::Result<()> {
        while !self.wbuf.is_empty() {
            match self.stream.write(&self.wbuf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.last = now;
                    self.wbuf.advance(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Whether a paused connection may read again (the backlog fell to half the bound).
    pub(crate) fn may_resume(&self, l: ConnLimits) -> bool {
        self.paused && self.wbuf.len() <= l.max_unsent / 2 && self.outstanding < l.max_outstanding
    }

    /// Nothing left to do: the client closed and every reply is out.
    pub(crate) fn finished(&self) -> bool {
        self.read_closed && self.outstanding == 0 && self.wbuf.is_empty()
    }

    /// Idle: no unanswered query and nothing to write.
    pub(crate) fn idle(&self) -> bool {
        self.outstanding == 0 && self.wbuf.is_empty()
    }

    /// Bytes waiting to be written.
    pub(crate) fn unsent(&self) -> usize {
        self.wbuf.len()
    }
}

/// How an upstream TCP exchange ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum UpOutcome {
    /// Still going.
    Pending,
    /// The reply.
    Reply(Bytes),
    /// Never connected.
    ConnectFailed,
    /// Closed or reset before a whole reply.
    Closed,
    /// A zero-length frame.
    Framing,
}

/// One upstream TCP exchange: connect, write one framed query, read one framed reply.
#[derive(Debug)]
pub(crate) struct UpTcp {
    pub(crate) stream: TcpStream,
    wbuf: BytesMut,
    rbuf: BytesMut,
    connected: bool,
}

impl UpTcp {
    /// Starts connecting to `server` with `message` to send.
    pub(crate) fn connect(server: SocketAddr, message: &[u8]) -> io::Result<Self> {
        let prefix = frame_prefix(message.len())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let stream = TcpStream::connect(server)?;
        let mut wbuf = BytesMut::with_capacity(message.len() + 2);
        wbuf.extend_from_slice(&prefix);
        wbuf.extend_from_slice(message);
        Ok(Self {
            stream,
            wbuf,
            rbuf: BytesMut::new(),
            connected: false,
        })
    }

    fn failed(&self) -> UpOutcome {
        if self.connected {
            UpOutcome::Closed
        } else {
            UpOutcome::ConnectFailed
        }
    }

    /// Progress on readiness.
    pub(crate) fn ready(&mut self, writable: bool, readable: bool) -> UpOutcome {
        if (writable || readable) && !self.connected {
            match self.stream.take_error() {
                Ok(None) => {}
                _ => return UpOutcome::ConnectFailed,
            }
            match self.stream.peer_addr() {
                Ok(_) => self.connected = true,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return UpOutcome::Pending,
                Err(_) => return UpOutcome::ConnectFailed,
            }
        }
        if !self.connected {
            return UpOutcome::Pending;
        }
        while !self.wbuf.is_empty() {
            match self.stream.write(&self.wbuf) {
                Ok(0) => return UpOutcome::Closed,
                Ok(n) => self.wbuf.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return UpOutcome::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.failed(),
            }
        }
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return self.frame().unwrap_or(UpOutcome::Closed),
                Ok(n) => {
                    self.rbuf.extend_from_slice(&chunk[..n]);
                    if let Some(done) = self.frame() {
                        return done;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return UpOutcome::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return UpOutcome::Closed,
            }
        }
    }

    fn frame(&mut self) -> Option<UpOutcome> {
        let mut dec = TcpDecoder::new();
        match dec.decode(&self.rbuf) {
            Ok(Frame::Complete(r)) => Some(UpOutcome::Reply(self.rbuf.split().freeze().slice(r))),
            Ok(Frame::Incomplete { .. }) => None,
            Err(_) => Some(UpOutcome::Framing),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    fn pair() -> (Conn, std::net::TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, peer) = l.accept().unwrap();
        s.set_nonblocking(true).unwrap();
        (
            Conn::new(TcpStream::from_std(s), peer, Instant::ZERO),
            client,
        )
    }

    const LIMITS: ConnLimits = ConnLimits {
        max_unsent: 64,
        max_outstanding: 3,
    };

    fn wait_read(c: &mut Conn, want: usize) -> ReadOutcome {
        let mut all = ReadOutcome::default();
        for _ in 0..200 {
            let o = c.read(Instant::ZERO, LIMITS);
            all.close |= o.close;
            all.frames.extend(o.frames);
            if all.frames.len() >= want || all.close || c.paused {
                break;
            }
            std::thread::sleep(core::time::Duration::from_millis(5));
        }
        all
    }

    #[test]
    fn frames_split_across_writes_and_pipelined() {
        let (mut c, mut client) = pair();
        client.write_all(&[0, 3, b'a', b'b']).unwrap();
        client.flush().unwrap();
        std::thread::sleep(core::time::Duration::from_millis(20));
        assert!(c.read(Instant::ZERO, LIMITS).frames.is_empty());
        client.write_all(&[b'c', 0, 1, b'x']).unwrap();
        let o = wait_read(&mut c, 2);
        assert_eq!(
            o.frames,
            [Bytes::from_static(b"abc"), Bytes::from_static(b"x")]
        );
        assert!(!o.close);
    }

    #[test]
    fn zero_length_frame_closes() {
        let (mut c, mut client) = pair();
        client.write_all(&[0, 0]).unwrap();
        assert!(wait_read(&mut c, 1).close);
    }

    #[test]
    fn reading_pauses_at_the_outstanding_bound_and_resumes() {
        let (mut c, mut client) = pair();
        for _ in 0..5 {
            client.write_all(&[0, 1, b'q']).unwrap();
        }
        std::thread::sleep(core::time::Duration::from_millis(20));
        let o = wait_read(&mut c, 5);
        c.outstanding += o.frames.len();
        assert!(c.paused);
        assert_eq!(
            c.outstanding, 5,
            "one read chunk is taken whole, then reading stops"
        );
        assert!(!c.may_resume(LIMITS));
        while c.outstanding > 0 {
            assert!(c.queue(b"r"));
        }
        c.flush(Instant::ZERO).unwrap();
        assert!(c.may_resume(LIMITS));
        assert!(c.idle());
        let mut buf = [0u8; 64];
        client
            .set_read_timeout(Some(core::time::Duration::from_secs(2)))
            .unwrap();
        let n = client.read(&mut buf).unwrap();
        assert_eq!(&buf[..3], &[0, 1, b'r']);
        assert!(n >= 3);
    }
}
