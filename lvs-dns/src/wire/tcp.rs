//! DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766): each message is preceded by its length as
//! a 16-bit big-endian number.
//!
//! [`TcpDecoder`] is incremental over the caller's own receive buffer: the caller appends what
//! it reads, asks for frames until [`Frame::Incomplete`], then discards the consumed prefix.
//! Bytes may arrive in any split; the decoder keeps one offset between calls.

use core::ops::Range;

use super::WireError;

/// The largest message a TCP frame can carry.
pub const MAX_FRAME: usize = 65535;

/// The two-byte length prefix for a message of `len` bytes (write it and the message in one
/// write, RFC 7766 §8).
pub fn frame_prefix(len: usize) -> Result<[u8; 2], WireError> {
    match u16::try_from(len) {
        Ok(0) => Err(WireError::ZeroLengthFrame),
        Ok(n) => Ok(n.to_be_bytes()),
        Err(_) => Err(WireError::NoSpace),
    }
}

/// What [`TcpDecoder::decode`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete message at this range of the caller's buffer.
    Complete(Range<usize>),
    /// More bytes are needed: at least `needed` more for the current frame.
    Incomplete {
        /// Bytes still missing from the length prefix or the message.
        needed: usize,
    },
}

/// Incremental splitter of a TCP byte stream into DNS messages.
#[derive(Clone, Debug, Default)]
pub struct TcpDecoder {
    /// Bytes of the caller's buffer already returned as frames (or skipped) and not yet
    /// discarded by the caller.
    consumed: usize,
}

impl TcpDecoder {
    /// A decoder at the start of a stream.
    pub const fn new() -> Self {
        Self { consumed: 0 }
    }

    /// Looks for the next frame in `buf`, the caller's buffer of received bytes (from the last
    /// [`TcpDecoder::take_consumed`] on). Returns its range within `buf`, or how many more bytes
    /// are needed. A zero-length frame is an error (its prefix is consumed; the connection
    /// should be closed).
    pub fn decode(&mut self, buf: &[u8]) -> Result<Frame, WireError> {
        let rest = buf.get(self.consumed..).unwrap_or_default();
        let Some(prefix) = rest.get(..2) else {
            return Ok(Frame::Incomplete {
                needed: 2 - rest.len(),
            });
        };
        let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
        if len == 0 {
            self.consumed += 2;
            return Err(WireError::ZeroLengthFrame);
        }
        if rest.len() < 2 + len {
            return Ok(Frame::Incomplete {
                needed: 2 + len - rest.len(),
            });
        }
        let start = self.consumed + 2;
        self.consumed = start + len;
        Ok(Frame::Complete(start..start + len))
    }

    /// How many leading bytes of the caller's buffer have been consumed; the caller discards
    /// them (e.g. `BytesMut::advance`) and the decoder restarts at offset 0.
    pub fn take_consumed(&mut self) -> usize {
        core::mem::take(&mut self.consumed)
    }

    /// Bytes consumed so far without [`TcpDecoder::take_consumed`].
    pub fn consumed(&self) -> usize {
        self.consumed
    }
}
