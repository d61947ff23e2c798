//! One backend connection shared by every session of a worker: the sessions' request bytes
//! queued in order and written in one batch, and the replies handed back in that same order.
//!
//! Each queued chunk records who sent it and how many replies it owes (a session's
//! [`backend_owed`](lvs_sched::mcproxy::Session::backend_owed) grows by exactly one per request:
//! `noreply` requests go out without `noreply`, quiet meta requests with an `mn`). Replies come
//! back in the order the requests were written, so [`Pipe::dispatch`] gives the head chunk's
//! owner as many bytes as make up its replies
//! ([`feed_backend_shared`](lvs_sched::mcproxy::Session::feed_backend_shared) stops there) and
//! moves on to the next owner. The structure does no I/O, so it is tested with real sessions.

use std::collections::VecDeque;

use lvs_sched::mcproxy::{BackendFault, SharedFeed};

/// Why a shared connection is out of step and must be failed for everyone on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PipeError {
    /// Reply bytes arrived when nobody was owed one.
    Unsolicited,
    /// The owner of the next reply is gone.
    Lost,
    /// The owner found the reply malformed or of the wrong kind.
    Fault(BackendFault),
    /// The owner took nothing from the bytes offered.
    Stalled,
}

/// The queue of one shared backend connection, keyed by `K` (a session's handle).
#[derive(Debug)]
pub(super) struct Pipe<K> {
    out: Vec<u8>,
    pos: usize,
    owed: VecDeque<(K, usize)>,
    total: usize,
}

impl<K> Default for Pipe<K> {
    fn default() -> Self {
        Self {
            out: Vec::new(),
            pos: 0,
            owed: VecDeque::new(),
            total: 0,
        }
    }
}

impl<K: Copy + PartialEq> Pipe<K> {
    /// Queues `bytes` from `who`, owing `replies` replies (consecutive chunks of one owner
    /// merge).
    pub(super) fn queue(&mut self, who: K, bytes: &[u8], replies: usize) {
        self.out.extend_from_slice(bytes);
        if replies == 0 {
            return;
        }
        self.total += replies;
        match self.owed.back_mut() {
            Some((k, n)) if *k == who => *n += replies,
            _ => self.owed.push_back((who, replies)),
        }
    }

    /// Bytes to write.
    pub(super) fn output(&self) -> &[u8] {
        &self.out[self.pos..]
    }

    /// `n` bytes of [`output`](Self::output) were written.
    pub(super) fn advance(&mut self, n: usize, shrink_above: usize) {
        self.pos = (self.pos + n).min(self.out.len());
        if self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            if self.out.capacity() > shrink_above {
                self.out = Vec::new();
            }
        } else if self.pos > shrink_above && self.pos * 2 > self.out.len() {
            self.out.drain(..self.pos);
            self.pos = 0;
        }
    }

    /// Replies owed, over all owners.
    pub(super) fn owed(&self) -> usize {
        self.total
    }

    /// Every owner with replies outstanding, in queue order, each once.
    pub(super) fn owners(&self) -> Vec<K> {
        let mut v: Vec<K> = Vec::new();
        for &(k, _) in &self.owed {
            if !v.contains(&k) {
                v.push(k);
            }
        }
        v
    }

    /// Hands reply `bytes` to their owners in order. `feed(owner, bytes, replies)` gives the
    /// owner bytes and the number of replies it may take, and returns what it took (`None` if
    /// the owner is gone). Owners that received bytes are appended to `touched`.
    pub(super) fn dispatch(
        &mut self,
        mut bytes: &[u8],
        mut feed: impl FnMut(K, &[u8], usize) -> Option<SharedFeed>,
        touched: &mut Vec<K>,
    ) -> Result<(), PipeError> {
        while !bytes.is_empty() {
            let Some(&mut (who, n)) = self.owed.front_mut() else {
                return Err(PipeError::Unsolicited);
            };
            let fed = feed(who, bytes, n).ok_or(PipeError::Lost)?;
            if !touched.contains(&who) {
                touched.push(who);
            }
            if let Some(f) = fed.fault {
                return Err(PipeError::Fault(f));
            }
            let took = fed.replies.min(n);
            if fed.consumed == 0 && took == 0 {
                return Err(PipeError::Stalled);
            }
            self.total -= took;
            if took == n {
                self.owed.pop_front();
            } else if let Some(front) = self.owed.front_mut() {
                front.1 -= took;
            }
            bytes = &bytes[fed.consumed.min(bytes.len())..];
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "pipe_tests.rs"]
mod tests;
