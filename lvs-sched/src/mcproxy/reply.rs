//! The backend side of a session: matching replies to requests, merging, failing, and writing
//! finished replies to the client in request order.

use lvs_core::memcache::{MetaCode, Parsed, Response, ResponseState, Status, parse_response};

use super::entry::{DISCARD, Entry, Expect, Kind, NONE, Shape};
use super::session::Session;
use super::{BACKEND_UNAVAILABLE, BackendFault, Event, SharedFeed};

/// What one backend reply did to its expectation.
enum Step {
    /// More lines belong to the same reply.
    More,
    /// The reply is complete.
    Done,
    /// A quiet meta reply arrived; `MN` is still owed.
    Replied,
    /// The backend broke the protocol.
    Fault(BackendFault),
}

fn is_error(r: &Response<'_>) -> bool {
    matches!(
        r,
        Response::Error { .. } | Response::ClientError(_) | Response::ServerError(_)
    )
}

impl Session {
    /// Bytes read from backend `i`. Replies are matched to the requests sent to it, in order;
    /// a reply that breaks the protocol (garbage, an oversize value, a `VALUE` for a key that
    /// was not asked for, bytes nobody asked for) closes that backend: an
    /// [`Event::BackendFault`] is queued and only its pending requests fail, as in
    /// [`backend_down`](Self::backend_down). Bytes for a backend that is down are ignored.
    pub fn feed_backend(&mut self, i: usize, bytes: &[u8]) {
        let _ = self.parse_backend(i, bytes, usize::MAX);
    }

    /// Bytes read from a connection to backend `i` that this session shares with other
    /// sessions: the connection carries, in order, the replies to each session's requests.
    /// At most `replies` complete replies are taken (the replies this session owes next on
    /// that connection, counted by [`backend_owed`](Self::backend_owed) when its bytes were
    /// queued); the bytes after them belong to the next session and are left alone. A reply
    /// cut short is kept until the rest arrives. Faults are handled as in
    /// [`feed_backend`](Self::feed_backend); the shared connection is then out of step and
    /// must be failed for every session on it.
    pub fn feed_backend_shared(&mut self, i: usize, bytes: &[u8], replies: usize) -> SharedFeed {
        if replies == 0 || bytes.is_empty() {
            return SharedFeed::default();
        }
        self.parse_backend(i, bytes, replies)
    }

    /// Replies backend `i` still owes this session: one per request sent to it (`noreply`
    /// requests are sent without `noreply`, quiet meta requests with an `mn`, so each owes
    /// exactly one reply unit).
    pub fn backend_owed(&self, i: usize) -> usize {
        self.backends.get(i).map_or(0, |b| b.expect.len())
    }

    fn parse_backend(&mut self, i: usize, bytes: &[u8], budget: usize) -> SharedFeed {
        if i >= self.backends.len() || self.router.is_down(i) {
            self.counters.ignored_backend_bytes += bytes.len() as u64;
            return SharedFeed {
                consumed: bytes.len(),
                replies: 0,
                fault: None,
            };
        }
        let (consumed, done, fault) = if self.backends[i].inbuf.is_empty() {
            // Nothing held back: parse the caller's bytes where they are and keep only a
            // reply cut short (unless the budget ends first: the rest is someone else's).
            let (pos, done, fault) = self.parse_replies(i, bytes, budget);
            if done == budget {
                (pos, done, fault)
            } else {
                self.backends[i].inbuf.extend_from_slice(&bytes[pos..]);
                (bytes.len(), done, fault)
            }
        } else {
            let base = self.backends[i].inbuf.len();
            self.backends[i].inbuf.extend_from_slice(bytes);
            let mut buf = core::mem::take(&mut self.backends[i].inbuf);
            let (pos, done, fault) = self.parse_replies(i, &buf, budget);
            let consumed = if done == budget {
                // The rest belongs to whoever is next on the connection.
                buf.truncate(pos.max(base));
                pos.saturating_sub(base)
            } else {
                bytes.len()
            };
            buf.drain(..pos.min(buf.len()));
            super::entry::shrink(&mut buf, self.cfg.shrink_above);
            self.backends[i].inbuf = buf;
            (consumed, done, fault)
        };
        if let Some(fault) = fault {
            self.counters.backend_faults += 1;
            self.events
                .push_back(Event::BackendFault { backend: i, fault });
            self.backend_down(i);
            return SharedFeed {
                consumed,
                replies: done,
                fault: Some(fault),
            };
        }
        self.flush();
        self.pump();
        SharedFeed {
            consumed,
            replies: done,
            fault: None,
        }
    }

    /// Parses and delivers up to `budget` complete replies of backend `i` from the front of
    /// `buf`: returns the bytes they took, how many completed, and the fault that stopped
    /// the stream, if one did.
    fn parse_replies(
        &mut self,
        i: usize,
        buf: &[u8],
        budget: usize,
    ) -> (usize, usize, Option<BackendFault>) {
        let mut pos = 0;
        let mut done = 0;
        let fault = loop {
            if done == budget {
                break None;
            }
            match parse_response(&buf[pos..], &mut self.backends[i].parser) {
                Parsed::Incomplete => break None,
                Parsed::Invalid { error, .. } => break Some(BackendFault::Malformed(error)),
                Parsed::Skipped { consumed } => pos += consumed,
                Parsed::Complete { value, consumed } => {
                    let raw = &buf[pos..pos + consumed];
                    let Some(&exp) = self.backends[i].expect.front() else {
                        break Some(BackendFault::Unsolicited);
                    };
                    match self.deliver(i, exp, value, raw) {
                        Step::More => {}
                        Step::Done => {
                            self.backends[i].expect.pop_front();
                            self.reply_done(exp.seq);
                            done += 1;
                        }
                        Step::Replied => {
                            if let Some(e) = self.backends[i].expect.front_mut() {
                                e.shape = Shape::MetaQuiet { replied: true };
                            }
                        }
                        Step::Fault(f) => break Some(f),
                    }
                    pos += consumed;
                }
            }
        };
        (pos, done, fault)
    }

    /// Backend `i` is down (its connection failed or was closed). Every reply it still owes
    /// is settled now: a multi-get fragment's keys become misses, a single-key request gets
    /// [`BACKEND_UNAVAILABLE`], a broadcast reports it, `stats` leaves it out. New requests
    /// follow the router's [`DownPolicy`](super::DownPolicy) until
    /// [`backend_up`](Self::backend_up).
    pub fn backend_down(&mut self, i: usize) {
        if i >= self.backends.len() {
            return;
        }
        let _ = self.router.set_down(i, true);
        let shrink_above = self.cfg.shrink_above;
        let be = &mut self.backends[i];
        be.out.clear(shrink_above);
        be.inbuf.clear();
        super::entry::shrink(&mut be.inbuf, shrink_above);
        be.parser = ResponseState::new(self.cfg.limits);
        let owed = core::mem::take(&mut be.expect);
        for e in owed {
            self.fail(i, e);
        }
        self.flush();
        self.pump();
    }

    /// Backend `i` is reachable again (a fresh connection): route to it again.
    pub fn backend_up(&mut self, i: usize) {
        if i < self.backends.len() {
            let _ = self.router.set_down(i, false);
            self.backends[i].parser = ResponseState::new(self.cfg.limits);
        }
    }

    fn entry(&mut self, seq: u64) -> &mut Entry {
        let idx = (seq - self.head_seq) as usize;
        &mut self.fifo[idx]
    }

    fn append(&mut self, seq: u64, raw: &[u8]) {
        self.buffered += raw.len();
        self.entry(seq).out.extend_from_slice(raw);
    }

    fn reply_done(&mut self, seq: u64) {
        if seq == DISCARD {
            self.discards -= 1;
        } else {
            self.entry(seq).waiting -= 1;
        }
    }

    fn broadcast_error(&mut self, seq: u64, backend: usize, raw: &[u8]) {
        if seq == DISCARD {
            return;
        }
        let e = self.entry(seq);
        let replace = match e.kind {
            Kind::Broadcast { err_from } => err_from > backend,
            _ => false,
        };
        if replace {
            let old = e.out.len();
            e.out.clear();
            e.out.extend_from_slice(raw);
            e.kind = Kind::Broadcast { err_from: backend };
            self.buffered = self.buffered - old + raw.len();
        }
    }

    fn deliver(&mut self, i: usize, exp: Expect, r: Response<'_>, raw: &[u8]) -> Step {
        let seq = exp.seq;
        match exp.shape {
            Shape::Line => {
                let ok = match r {
                    Response::Status(s) => !matches!(s, Status::End | Status::Reset),
                    Response::Number(_) => true,
                    _ => is_error(&r),
                };
                if !ok {
                    return Step::Fault(BackendFault::UnexpectedReply);
                }
                if seq != DISCARD {
                    self.append(seq, raw);
                }
                Step::Done
            }
            Shape::Broadcast => match r {
                Response::Status(Status::Ok) => Step::Done,
                Response::Admin(_) => {
                    self.broadcast_error(seq, i, raw);
                    Step::Done
                }
                _ if is_error(&r) => {
                    self.broadcast_error(seq, i, raw);
                    Step::Done
                }
                _ => Step::Fault(BackendFault::UnexpectedReply),
            },
            Shape::Values => {
                let frag = exp.frag;
                let Kind::Multi(m) = &mut self.entry(seq).kind else {
                    return Step::Fault(BackendFault::UnexpectedReply);
                };
                match r {
                    Response::Value { key, .. } => {
                        if !m.value(frag, key, raw) {
                            return Step::Fault(BackendFault::WrongValueKey);
                        }
                        self.buffered += raw.len();
                        Step::More
                    }
                    Response::Status(Status::End) => {
                        m.frags[frag as usize].cursor = NONE;
                        Step::Done
                    }
                    _ if is_error(&r) => {
                        m.frags[frag as usize].cursor = NONE;
                        m.error(frag, raw);
                        Step::Done
                    }
                    _ => Step::Fault(BackendFault::UnexpectedReply),
                }
            }
            Shape::Meta => match r {
                Response::Meta(m) if m.code != MetaCode::Mn => {
                    self.append(seq, raw);
                    Step::Done
                }
                Response::MetaDebug { .. } => {
                    self.append(seq, raw);
                    Step::Done
                }
                _ if is_error(&r) => {
                    self.append(seq, raw);
                    Step::Done
                }
                _ => Step::Fault(BackendFault::UnexpectedReply),
            },
            Shape::MetaQuiet { replied } => match r {
                Response::Meta(m) if m.code == MetaCode::Mn => Step::Done,
                Response::Meta(_) | Response::MetaDebug { .. } if !replied => {
                    self.append(seq, raw);
                    Step::Replied
                }
                _ if !replied && is_error(&r) => {
                    self.append(seq, raw);
                    Step::Replied
                }
                _ => Step::Fault(BackendFault::UnexpectedReply),
            },
            Shape::StatsAgg => {
                let Kind::Stats(a) = &mut self.entry(seq).kind else {
                    return Step::Fault(BackendFault::UnexpectedReply);
                };
                match r {
                    Response::Stat { name, value } => {
                        a.stat(name, value);
                        Step::More
                    }
                    Response::Status(Status::End) => {
                        a.answered += 1;
                        Step::Done
                    }
                    _ if is_error(&r) => {
                        a.error(i, raw);
                        Step::Done
                    }
                    _ => Step::Fault(BackendFault::UnexpectedReply),
                }
            }
            Shape::StatsRelay => match r {
                Response::Stat { .. } | Response::Admin(_) => {
                    self.append(seq, raw);
                    Step::More
                }
                Response::Status(Status::End | Status::Reset | Status::Ok) => {
                    self.append(seq, raw);
                    Step::Done
                }
                _ if is_error(&r) => {
                    self.append(seq, raw);
                    Step::Done
                }
                _ => Step::Fault(BackendFault::UnexpectedReply),
            },
        }
    }

    /// Settles one reply backend `i` will never send.
    fn fail(&mut self, i: usize, e: Expect) {
        if e.seq == DISCARD {
            self.discards -= 1;
            return;
        }
        match e.shape {
            Shape::Line | Shape::Meta | Shape::StatsRelay | Shape::MetaQuiet { replied: false } => {
                self.counters.unavailable += 1;
                let entry = self.entry(e.seq);
                let old = entry.out.len();
                entry.out.clear();
                entry.out.extend_from_slice(BACKEND_UNAVAILABLE);
                self.buffered = self.buffered - old + BACKEND_UNAVAILABLE.len();
            }
            Shape::MetaQuiet { replied: true } | Shape::StatsAgg => {}
            Shape::Broadcast => self.broadcast_error(e.seq, i, BACKEND_UNAVAILABLE),
            Shape::Values => {
                if let Kind::Multi(m) = &mut self.entry(e.seq).kind {
                    let missed = m.unanswered(e.frag);
                    m.frags[e.frag as usize].cursor = NONE;
                    self.counters.keys_missed += missed;
                }
            }
        }
        self.entry(e.seq).waiting -= 1;
    }

    /// Moves every finished reply at the head of the FIFO to the client output, and the
    /// settled prefix of a multi-get that is the head but still waits on a backend.
    pub(crate) fn flush(&mut self) {
        while let Some(head) = self.fifo.front_mut() {
            if let Kind::Multi(m) = &mut head.kind {
                self.buffered -= m.stream(&mut self.out.buf);
            }
            if head.waiting != 0 {
                break;
            }
            let Some(e) = self.fifo.pop_front() else {
                break;
            };
            self.head_seq += 1;
            let held = e.out.len()
                + match &e.kind {
                    Kind::Multi(m) => m.held,
                    _ => 0,
                };
            self.buffered -= held;
            let out = &mut self.out.buf;
            match e.kind {
                Kind::Plain => out.extend_from_slice(&e.out),
                Kind::Broadcast { .. } if e.out.is_empty() => out.extend_from_slice(b"OK\r\n"),
                Kind::Broadcast { .. } => out.extend_from_slice(&e.out),
                Kind::Multi(m) => m.finish(out),
                Kind::Stats(a) => a.finish(out),
                Kind::Close => self.close_now = true,
            }
        }
    }
}
