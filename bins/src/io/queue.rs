//! Bounded per-socket send queues.
//!
//! A send that the kernel refuses with `WouldBlock` is not lost at once: it waits in the
//! socket's queue until the socket is writable again. The queue is bounded both in datagrams and
//! in bytes; a transmit beyond either bound is dropped and counted, so a peer that stops reading
//! (or a flood of replies) can never grow memory without limit.

use std::collections::VecDeque;
use std::io;

use lvs_core::Transmit;

/// The bounds of one [`SendQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most datagrams held at once.
    pub max_datagrams: usize,
    /// Most payload bytes held at once.
    pub max_bytes: usize,
}

impl Default for QueueLimits {
    /// 1024 datagrams or 4 MiB, whichever is reached first.
    fn default() -> Self {
        Self {
            max_datagrams: 1024,
            max_bytes: 4 << 20,
        }
    }
}

/// Counters of one socket's send path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendStats {
    /// Datagrams the kernel accepted.
    pub sent: u64,
    /// Payload bytes the kernel accepted.
    pub sent_bytes: u64,
    /// Datagrams that had to wait in the queue at least once.
    pub queued: u64,
    /// Datagrams dropped because the queue was full.
    pub dropped_full: u64,
    /// Payload bytes dropped because the queue was full.
    pub dropped_full_bytes: u64,
    /// Datagrams dropped because the kernel rejected them with an error other than
    /// `WouldBlock` (unreachable network, message too long ...).
    pub send_errors: u64,
    /// The most datagrams ever held at once.
    pub high_water: u64,
}

/// What happened to a transmit handed to [`SendQueue::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The kernel took it at once.
    Sent,
    /// It waits in the queue.
    Queued,
    /// The queue was full; it was dropped and counted.
    Dropped,
}

/// A bounded FIFO of transmits waiting for a socket to become writable.
///
/// ```
/// use lvs_bins::io::{Pushed, QueueLimits, SendQueue};
/// use lvs_core::Transmit;
///
/// let mut q = SendQueue::new(QueueLimits { max_datagrams: 2, max_bytes: 1 << 20 });
/// let t = || Transmit::new("127.0.0.1:9".parse().unwrap(), &b"x"[..]);
/// assert_eq!(q.push(t()), Pushed::Queued);
/// assert_eq!(q.push(t()), Pushed::Queued);
/// assert_eq!(q.push(t()), Pushed::Dropped);
/// assert_eq!(q.stats().dropped_full, 1);
/// // The kernel takes one, then says WouldBlock: one stays queued.
/// let mut budget = 1;
/// q.flush(|_t| if budget > 0 { budget -= 1; Ok(()) } else { Err(std::io::ErrorKind::WouldBlock.into()) });
/// assert_eq!((q.len(), q.stats().sent), (1, 1));
/// ```
#[derive(Debug, Clone)]
pub struct SendQueue {
    items: VecDeque<Transmit>,
    bytes: usize,
    limits: QueueLimits,
    stats: SendStats,
}

impl SendQueue {
    /// An empty queue with the given bounds.
    pub fn new(limits: QueueLimits) -> Self {
        Self {
            items: VecDeque::new(),
            bytes: 0,
            limits,
            stats: SendStats::default(),
        }
    }

    /// Datagrams waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Payload bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The bounds.
    pub fn limits(&self) -> QueueLimits {
        self.limits
    }

    /// The counters so far.
    pub fn stats(&self) -> SendStats {
        self.stats
    }

    /// Append `t`, or drop and count it when either bound would be exceeded.
    pub fn push(&mut self, t: Transmit) -> Pushed {
        let len = t.payload.len();
        if self.items.len() >= self.limits.max_datagrams
            || self.bytes.saturating_add(len) > self.limits.max_bytes
        {
            self.stats.dropped_full += 1;
            self.stats.dropped_full_bytes += len as u64;
            return Pushed::Dropped;
        }
        self.bytes += len;
        self.items.push_back(t);
        self.stats.queued += 1;
        self.stats.high_water = self.stats.high_water.max(self.items.len() as u64);
        Pushed::Queued
    }

    /// Offer `t` to `send` right away when nothing is queued (keeping order otherwise): on
    /// `WouldBlock` it is queued; any other error drops and counts it.
    pub fn send_or_queue(
        &mut self,
        t: Transmit,
        send: impl FnOnce(&Transmit) -> io::Result<()>,
    ) -> Pushed {
        if !self.items.is_empty() {
            return self.push(t);
        }
        match send(&t) {
            Ok(()) => {
                self.record_sent(t.payload.len());
                Pushed::Sent
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.push(t),
            Err(e) => {
                self.record_error(&t, &e);
                Pushed::Dropped
            }
        }
    }

    /// Hand queued transmits to `send` in order until it reports `WouldBlock` or the queue is
    /// empty. Other errors drop and count the transmit and go on with the next.
    pub fn flush(&mut self, mut send: impl FnMut(&Transmit) -> io::Result<()>) {
        while let Some(t) = self.items.front() {
            match send(t) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    let t = self.pop();
                    if let Some(t) = t {
                        self.record_error(&t, &e);
                    }
                }
                Ok(()) => {
                    if let Some(t) = self.pop() {
                        self.record_sent(t.payload.len());
                    }
                }
            }
        }
    }

    /// Count a transmit that was dropped before reaching the queue (no route, for instance).
    pub(crate) fn record_error(&mut self, t: &Transmit, e: &io::Error) {
        self.stats.send_errors += 1;
        tracing::debug!(dst = %t.dst, len = t.payload.len(), error = %e, "send failed");
    }

    fn record_sent(&mut self, len: usize) {
        self.stats.sent += 1;
        self.stats.sent_bytes += len as u64;
    }

    fn pop(&mut self) -> Option<Transmit> {
        let t = self.items.pop_front()?;
        self.bytes -= t.payload.len();
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(len: usize) -> Transmit {
        Transmit::new("127.0.0.1:9".parse().unwrap(), vec![0u8; len])
    }

    #[test]
    fn byte_bound_drops_and_counts() {
        let mut q = SendQueue::new(QueueLimits {
            max_datagrams: 100,
            max_bytes: 250,
        });
        assert_eq!(q.push(t(100)), Pushed::Queued);
        assert_eq!(q.push(t(100)), Pushed::Queued);
        assert_eq!(q.push(t(100)), Pushed::Dropped);
        assert_eq!(q.push(t(50)), Pushed::Queued);
        assert_eq!(q.bytes(), 250);
        let s = q.stats();
        assert_eq!(
            (s.dropped_full, s.dropped_full_bytes, s.high_water),
            (1, 100, 3)
        );
    }

    #[test]
    fn order_is_kept_and_errors_do_not_stall() {
        let mut q = SendQueue::new(QueueLimits::default());
        for len in 1..=3 {
            q.push(t(len));
        }
        let mut seen = Vec::new();
        q.flush(|t| {
            seen.push(t.payload.len());
            if t.payload.len() == 2 {
                Err(io::Error::from(io::ErrorKind::ConnectionRefused))
            } else {
                Ok(())
            }
        });
        assert_eq!(seen, [1, 2, 3]);
        assert!(q.is_empty());
        assert_eq!(q.bytes(), 0);
        assert_eq!((q.stats().sent, q.stats().send_errors), (2, 1));
    }

    #[test]
    fn send_or_queue_keeps_fifo_once_something_waits() {
        let mut q = SendQueue::new(QueueLimits::default());
        let would_block = |_: &Transmit| Err(io::Error::from(io::ErrorKind::WouldBlock));
        assert_eq!(q.send_or_queue(t(1), would_block), Pushed::Queued);
        let mut called = false;
        q.send_or_queue(t(2), |_| {
            called = true;
            Ok(())
        });
        assert!(!called, "must not overtake the queued datagram");
        assert_eq!(q.len(), 2);
    }
}
