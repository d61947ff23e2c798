//! The pieces a session keeps per request: client FIFO entries, per-backend expectations, the
//! multi-get merge state, `stats` aggregation and output buffers.

use std::collections::BTreeMap;

/// No slot / no cursor.
pub(crate) const NONE: u32 = u32::MAX;
/// The `seq` of an expectation whose reply is swallowed (a `noreply` request).
pub(crate) const DISCARD: u64 = u64::MAX;

/// A byte buffer written at the back and drained from the front, shrunk after bursts.
#[derive(Debug, Default)]
pub(crate) struct OutBuf {
    pub(crate) buf: Vec<u8>,
    pos: usize,
}

impl OutBuf {
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn advance(&mut self, n: usize, shrink_above: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
        if self.pos == self.buf.len() {
            self.clear(shrink_above);
        } else if self.pos > shrink_above && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    pub(crate) fn clear(&mut self, shrink_above: usize) {
        self.buf.clear();
        self.pos = 0;
        shrink(&mut self.buf, shrink_above);
    }
}

/// Gives memory back once a buffer that grew in a burst is empty again.
pub(crate) fn shrink(v: &mut Vec<u8>, above: usize) {
    if v.is_empty() && v.capacity() > above {
        *v = Vec::new();
    }
}

/// The shape of the reply a backend owes for one forwarded request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One status line, number or error (storage, delete, touch, incr/decr).
    Line,
    /// `OK` or an error line (flush_all, verbosity, cache_memlimit); one per backend.
    Broadcast,
    /// `VALUE` blocks then `END` (one multi-get fragment).
    Values,
    /// One meta reply (HD VA EN NF NS EX ME) or an error line.
    Meta,
    /// A quiet meta command followed by our `mn`: an optional reply, then `MN`.
    MetaQuiet {
        /// The reply came; only `MN` is missing.
        replied: bool,
    },
    /// `STAT` lines then `END`, summed across backends.
    StatsAgg,
    /// Any lines up to `END`, `RESET`, `OK` or an error, relayed verbatim (`stats <args>`).
    StatsRelay,
}

/// One reply a backend owes, in the order the backend will send it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expect {
    /// The client request ([`DISCARD`] for `noreply`).
    pub(crate) seq: u64,
    /// The fragment index within a multi-get.
    pub(crate) frag: u32,
    pub(crate) shape: Shape,
}

/// One client request, answered in order.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Backend replies still owed.
    pub(crate) waiting: u32,
    /// The reply bytes (the whole reply for plain entries).
    pub(crate) out: Vec<u8>,
    pub(crate) kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    /// `out` is the reply.
    Plain,
    /// OK unless a backend failed; `out` holds the error of backend `err_from`.
    Broadcast { err_from: usize },
    /// A multi-get being merged.
    Multi(Box<Multi>),
    /// `stats` being summed.
    Stats(Box<StatsAgg>),
    /// `quit` or a fatal client error: close once everything before is written.
    Close,
}

/// A key slot of a multi-get, in client order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    /// Offset and length of the key in [`Multi::keys`].
    pub(crate) key: (u32, u32),
    /// The fragment the key was sent in ([`NONE`]: its backend was down, a miss).
    pub(crate) frag: u32,
    /// The next slot of the same fragment.
    pub(crate) next: u32,
    /// Offset and length of the VALUE block in [`Multi::values`] (length 0: a miss). Only
    /// meaningful until the slot is streamed: the arena is reused once it is drained.
    pub(crate) val: (u32, u32),
}

/// One backend's share of a multi-get.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frag {
    pub(crate) backend: u32,
    /// The first slot not yet answered; every earlier slot of the fragment is settled (a
    /// value or a miss). [`NONE`] once the fragment is complete.
    pub(crate) cursor: u32,
    /// The last slot (for linking during the split).
    pub(crate) tail: u32,
}

/// Split and merge state of a `get`/`gets`/`gat`/`gats`.
///
/// Slots are settled in any order as the fragments' replies arrive; the longest settled
/// prefix of the client's key list is streamed out ([`stream`](Self::stream)) while the
/// request is the oldest one, so the client sees the first keys before the slowest backend
/// has answered. Every slot is looked at once by the stream cursor: O(keys) in total.
#[derive(Debug, Default)]
pub(crate) struct Multi {
    pub(crate) slots: Vec<Slot>,
    pub(crate) keys: Vec<u8>,
    pub(crate) frags: Vec<Frag>,
    /// VALUE blocks not yet streamed (and streamed ones until the arena drains).
    pub(crate) values: Vec<u8>,
    /// The first error by fragment order, and its bytes.
    pub(crate) error: Option<(u32, Vec<u8>)>,
    /// The next slot to stream.
    pub(crate) emit: u32,
    /// Bytes in `values` that belong to slots not streamed yet.
    pub(crate) held: usize,
}

impl Multi {
    pub(crate) fn key(&self, slot: u32) -> &[u8] {
        let (o, l) = self.slots[slot as usize].key;
        &self.keys[o as usize..(o + l) as usize]
    }

    /// Records a VALUE block for `key` from fragment `frag`: the first unanswered slot of the
    /// fragment with that key (earlier ones are misses). `false` if the backend named a key it
    /// was not asked for (or not in order).
    pub(crate) fn value(&mut self, frag: u32, key: &[u8], raw: &[u8]) -> bool {
        let f = frag as usize;
        let mut c = self.frags[f].cursor;
        while c != NONE && self.key(c) != key {
            c = self.slots[c as usize].next;
        }
        if c == NONE {
            return false;
        }
        let start = self.values.len() as u32;
        self.values.extend_from_slice(raw);
        self.held += raw.len();
        let s = &mut self.slots[c as usize];
        s.val = (start, raw.len() as u32);
        self.frags[f].cursor = s.next;
        true
    }

    /// Keys of fragment `frag` not answered yet (they become misses).
    pub(crate) fn unanswered(&self, frag: u32) -> u64 {
        let mut n = 0;
        let mut c = self.frags[frag as usize].cursor;
        while c != NONE {
            n += 1;
            c = self.slots[c as usize].next;
        }
        n
    }

    pub(crate) fn error(&mut self, frag: u32, raw: &[u8]) {
        if self.error.as_ref().is_none_or(|(f, _)| *f > frag) {
            self.error = Some((frag, raw.to_vec()));
        }
    }

    /// Whether slot `s` is settled: its fragment's cursor is past it (it has its value or
    /// was skipped as a miss), the fragment is complete, or it was never sent.
    fn settled(&self, s: u32) -> bool {
        let f = self.slots[s as usize].frag;
        f == NONE || {
            let c = self.frags[f as usize].cursor;
            c == NONE || c > s
        }
    }

    /// Appends the VALUE blocks of the settled prefix of the key list not streamed yet to
    /// `out`, contiguous blocks in one copy; returns the bytes moved. Nothing moves once a
    /// fragment failed (the reply ends with that error instead).
    pub(crate) fn stream(&mut self, out: &mut Vec<u8>) -> usize {
        if self.error.is_some() {
            return 0;
        }
        let mut moved = 0;
        let mut run = (0u32, 0u32);
        while (self.emit as usize) < self.slots.len() && self.settled(self.emit) {
            let (o, l) = self.slots[self.emit as usize].val;
            self.emit += 1;
            if l == 0 {
                continue;
            }
            if run.0 + run.1 != o {
                out.extend_from_slice(&self.values[run.0 as usize..(run.0 + run.1) as usize]);
                moved += run.1 as usize;
                run = (o, 0);
            }
            run.1 += l;
        }
        out.extend_from_slice(&self.values[run.0 as usize..(run.0 + run.1) as usize]);
        moved += run.1 as usize;
        if moved > 0 {
            self.held -= moved;
            if self.held == 0 {
                // Every block in the arena went out: reuse it from the start.
                self.values.clear();
            }
        }
        moved
    }

    /// Ends the merged reply once every fragment is complete (the caller streamed the
    /// settled keys, which are then all of them): one END, or the first error by fragment
    /// order (after the blocks already streamed, if any).
    pub(crate) fn finish(&self, out: &mut Vec<u8>) {
        if let Some((_, e)) = &self.error {
            out.extend_from_slice(e);
            return;
        }
        debug_assert_eq!(self.emit as usize, self.slots.len());
        out.extend_from_slice(b"END\r\n");
    }
}

/// Statistics that identify one server or its settings: reported from the first backend that
/// answers rather than summed.
const NOT_SUMMED: [&[u8]; 12] = [
    b"pid",
    b"uptime",
    b"time",
    b"version",
    b"libevent",
    b"pointer_size",
    b"max_connections",
    b"threads",
    b"reserved_fds",
    b"hash_power_level",
    b"accepting_conns",
    b"hash_is_expanding",
];

#[derive(Debug)]
enum StatVal {
    Sum(u64),
    First(Vec<u8>),
}

/// `stats` across backends: unsigned decimal counters summed, anything else (and the
/// identity fields) from the first backend that reports it, names in first-seen order.
#[derive(Debug, Default)]
pub(crate) struct StatsAgg {
    rows: Vec<(Vec<u8>, StatVal)>,
    index: BTreeMap<Vec<u8>, usize>,
    /// The error of the lowest-numbered backend that failed.
    pub(crate) error: Option<(usize, Vec<u8>)>,
    /// Backends that answered with `END`.
    pub(crate) answered: u32,
}

fn decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 20 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |a, &d| {
        a.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

impl StatsAgg {
    pub(crate) fn stat(&mut self, name: &[u8], value: &[u8]) {
        let summed = !NOT_SUMMED.contains(&name);
        match self.index.get(name) {
            Some(&i) => {
                if let (StatVal::Sum(s), Some(v)) = (&mut self.rows[i].1, decimal(value)) {
                    *s = s.saturating_add(v);
                }
            }
            None => {
                let v = match decimal(value) {
                    Some(v) if summed => StatVal::Sum(v),
                    _ => StatVal::First(value.to_vec()),
                };
                self.index.insert(name.to_vec(), self.rows.len());
                self.rows.push((name.to_vec(), v));
            }
        }
    }

    pub(crate) fn error(&mut self, backend: usize, raw: &[u8]) {
        if self.error.as_ref().is_none_or(|(b, _)| *b > backend) {
            self.error = Some((backend, raw.to_vec()));
        }
    }

    pub(crate) fn finish(&self, out: &mut Vec<u8>) {
        if let Some((_, e)) = &self.error {
            out.extend_from_slice(e);
            return;
        }
        if self.answered == 0 {
            out.extend_from_slice(super::BACKEND_UNAVAILABLE);
            return;
        }
        for (name, v) in &self.rows {
            out.extend_from_slice(b"STAT ");
            out.extend_from_slice(name);
            out.push(b' ');
            match v {
                StatVal::Sum(s) => out.extend_from_slice(s.to_string().as_bytes()),
                StatVal::First(t) => out.extend_from_slice(t),
            }
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"END\r\n");
    }
}
