//! Output buffers the builder writes into: a growable [`BytesMut`] or a fixed `&mut [u8]`.

use bytes::BytesMut;

use super::WireError;

/// Somewhere to append an encoded message. The builder only appends, patches bytes it already
/// wrote, and truncates back to a length it saw before.
pub trait OutBuf {
    /// Every byte written so far (including anything the caller wrote before the message).
    fn filled(&self) -> &[u8];
    /// The same bytes, writable (for back-patching lengths and counts).
    fn filled_mut(&mut self) -> &mut [u8];
    /// Appends `bytes`, or fails with [`WireError::NoSpace`] when a fixed buffer is full.
    fn append(&mut self, bytes: &[u8]) -> Result<(), WireError>;
    /// Shrinks the filled part back to `len` bytes (no-op if already shorter).
    fn truncate(&mut self, len: usize);
}

impl OutBuf for BytesMut {
    fn filled(&self) -> &[u8] {
        self
    }
    fn filled_mut(&mut self) -> &mut [u8] {
        self
    }
    fn append(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        self.extend_from_slice(bytes);
        Ok(())
    }
    fn truncate(&mut self, len: usize) {
        Self::truncate(self, len);
    }
}

impl<T: OutBuf + ?Sized> OutBuf for &mut T {
    fn filled(&self) -> &[u8] {
        (**self).filled()
    }
    fn filled_mut(&mut self) -> &mut [u8] {
        (**self).filled_mut()
    }
    fn append(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        (**self).append(bytes)
    }
    fn truncate(&mut self, len: usize) {
        (**self).truncate(len);
    }
}

/// A fixed caller buffer filled from the front; [`SliceBuf::len`] bytes are valid.
#[derive(Debug)]
pub struct SliceBuf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceBuf<'a> {
    /// An empty writer over `buf`; its capacity is `buf.len()`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl OutBuf for SliceBuf<'_> {
    fn filled(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    fn filled_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len]
    }
    fn append(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(WireError::NoSpace)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(WireError::NoSpace)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}
