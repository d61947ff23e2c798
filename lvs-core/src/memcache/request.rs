//! The incremental text-protocol request parser (classic and meta commands).

use super::Parsed;
use super::commands::{GatCommand, GetCommand, Request, Store, StoreCommand};
use super::error::{ErrorKind, RequestError};
use super::limits::Limits;
use super::meta::{MetaCommand, MetaFlags, MetaRequest, opaque_too_long, preparse};
use super::text::{
    TokenIter, Tokens, c_strtol32, c_strtoul32, c_strtoull, decode_base64_key, find_lf_or_nul,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyKind {
    Store {
        command: StoreCommand,
        flags: u32,
        exptime: i32,
        cas: u64,
        noreply: bool,
    },
    MetaSet {
        flags: (usize, usize),
        mask: u128,
    },
}

/// A command line already parsed whose data block has not fully arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    /// Bytes of the command line, LF included.
    header: usize,
    /// Value length (the block is this plus CRLF).
    len: usize,
    key: (usize, usize),
    kind: BodyKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exempt {
    Unknown,
    Yes,
    No,
}

/// Between-call state of the request parser: O(1) and `Copy`.
///
/// It remembers how far the current line was searched for its LF (and where its first NUL
/// is), the parsed header of a data block still arriving (so the block is waited for by length,
/// never scanned), and how many bytes of a swallowed block remain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParserState {
    limits: Limits,
    /// Bytes of the current line already searched for LF and NUL.
    scanned: usize,
    /// One past the first NUL of the current line, 0 when none was seen.
    nul: usize,
    /// While a data block arrives: the buffer length it completes at (0 otherwise). A shorter
    /// buffer is answered `Incomplete` by one comparison.
    wait: usize,
    exempt: Exempt,
    pending: Option<Pending>,
    skip: usize,
}

impl Default for ParserState {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl ParserState {
    /// A parser at the start of a stream.
    pub const fn new(limits: Limits) -> Self {
        Self {
            limits,
            scanned: 0,
            nul: 0,
            wait: 0,
            exempt: Exempt::Unknown,
            pending: None,
            skip: 0,
        }
    }

    /// The limits in force.
    pub const fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether the parser is between requests (nothing partly parsed, nothing to swallow): at
    /// EOF, anything else means the peer sent a truncated request.
    pub const fn is_idle(&self) -> bool {
        self.scanned == 0 && self.pending.is_none() && self.skip == 0
    }

    /// Forgets everything about the current request.
    pub fn reset(&mut self) {
        *self = Self::new(self.limits);
    }

    fn fatal<T>(&mut self, kind: ErrorKind) -> Parsed<T, RequestError> {
        self.reset();
        Parsed::Invalid {
            error: RequestError::new(kind, false),
            consumed: 0,
        }
    }
}

type Out<'a> = Parsed<Request<'a>, RequestError>;

const fn err<'a>(kind: ErrorKind, noreply: bool, consumed: usize) -> Out<'a> {
    Parsed::Invalid {
        error: RequestError::new(kind, noreply),
        consumed,
    }
}

/// Parses the next request from `buf`.
///
/// `buf` holds the bytes not yet consumed: after `Complete`, `Invalid` or `Skipped`, drop
/// `consumed` bytes from its front; after `Incomplete`, call again with the same bytes plus
/// whatever arrived. The state makes every call O(new bytes): a line is searched for its LF
/// only past the point reached before, and a data block is waited for by length.
///
/// An error whose [`RequestError::closes_connection`] is true reports `consumed: 0`: stop
/// parsing and close. Otherwise write [`RequestError::reply_bytes`] and go on.
///
/// Resuming is cheap enough to feed one byte per call: this inlined front answers a call that
/// cannot complete anything (a data block still short, no new byte, or one more line byte that
/// is not an LF or NUL) with a comparison or two, and leaves the rest to the out-of-line parser.
#[inline]
pub fn parse<'a>(buf: &'a [u8], st: &mut ParserState) -> Out<'a> {
    if buf.len() < st.wait {
        return Parsed::Incomplete;
    }
    // No new byte, or one more byte of a line that is not an LF or NUL, within the limit.
    let extra = buf.len().wrapping_sub(st.scanned);
    if st.wait | st.skip == 0
        && extra <= 1
        && buf.len() <= st.limits.max_line_len
        && (extra == 0 || buf[buf.len() - 1] > b'\n')
    {
        st.scanned = buf.len();
        return Parsed::Incomplete;
    }
    parse_slow(buf, st)
}

fn parse_slow<'a>(buf: &'a [u8], st: &mut ParserState) -> Out<'a> {
    if st.skip > 0 {
        if buf.is_empty() {
            return Parsed::Incomplete;
        }
        let n = st.skip.min(buf.len());
        st.skip -= n;
        return Parsed::Skipped { consumed: n };
    }
    if let Some(p) = st.pending {
        return body(buf, st, p);
    }
    let mut from = st.scanned;
    let lf = loop {
        match find_lf_or_nul(&buf[from..]) {
            Some(i) if buf[from + i] == b'\n' => break from + i,
            Some(i) => {
                // A NUL: remember the first, search on for the LF.
                if st.nul == 0 {
                    st.nul = from + i + 1;
                }
                from += i + 1;
            }
            None => {
                st.scanned = buf.len();
                if buf.len() > st.limits.max_line_len {
                    if !exempt(buf, st) {
                        return st.fatal(ErrorKind::LineTooLong);
                    }
                    if buf.len() > st.limits.max_get_line_len {
                        return st.fatal(ErrorKind::LineTooLong);
                    }
                }
                return Parsed::Incomplete;
            }
        }
    };
    if lf > st.limits.max_line_len && (!exempt(buf, st) || lf > st.limits.max_get_line_len) {
        return st.fatal(ErrorKind::LineTooLong);
    }
    st.scanned = 0;
    st.exempt = Exempt::Unknown;
    // memcached strips one CR before the LF when the line has more than one byte.
    let mut line = &buf[..lf];
    if lf > 1 && buf[lf - 1] == b'\r' {
        line = &buf[..lf - 1];
    }
    if st.nul != 0 {
        let z = st.nul - 1;
        st.nul = 0;
        if st.limits.keys != super::KeyPolicy::Memcached {
            return err(ErrorKind::StrictKey, false, lf + 1);
        }
        line = &line[..z.min(line.len())];
    }
    command(buf, line, lf + 1, st)
}

/// memcached's exemption from the line limit: at most 100 leading spaces, then `get ` or
/// `gets `.
fn exempt(buf: &[u8], st: &mut ParserState) -> bool {
    if st.exempt == Exempt::Unknown {
        let spaces = buf.iter().take_while(|&&b| b == b' ').count();
        let rest = &buf[spaces..];
        let yes = spaces <= 100 && (rest.starts_with(b"get ") || rest.starts_with(b"gets "));
        st.exempt = if yes { Exempt::Yes } else { Exempt::No };
    }
    st.exempt == Exempt::Yes
}

fn body<'a>(buf: &'a [u8], st: &mut ParserState, p: Pending) -> Out<'a> {
    let end = p.header + p.len + 2;
    if buf.len() < end {
        st.pending = Some(p);
        st.wait = end;
        return Parsed::Incomplete;
    }
    st.pending = None;
    st.wait = 0;
    let data = &buf[p.header..p.header + p.len];
    let key = &buf[p.key.0..p.key.0 + p.key.1];
    if &buf[end - 2..end] != b"\r\n" {
        let noreply = match p.kind {
            BodyKind::Store { noreply, .. } => noreply,
            BodyKind::MetaSet { .. } => false,
        };
        return err(ErrorKind::BadDataChunk, noreply, end);
    }
    let value = match p.kind {
        BodyKind::Store {
            command,
            flags,
            exptime,
            cas,
            noreply,
        } => Request::Store(Store {
            command,
            key,
            flags,
            exptime,
            cas,
            noreply,
            data,
        }),
        BodyKind::MetaSet { flags, mask } => Request::Meta(MetaRequest {
            command: MetaCommand::Set,
            key,
            flags: MetaFlags::with_mask(&buf[flags.0..flags.0 + flags.1], mask),
            data: Some(data),
        }),
    };
    Parsed::Complete {
        value,
        consumed: end,
    }
}

/// Offset of `part` inside `buf` (both borrow the same input).
fn offset(buf: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - buf.as_ptr() as usize
}

/// Collects up to `N` tokens; the count is `N + 1` when more remain.
fn take<'a, const N: usize>(it: &mut TokenIter<'a>) -> ([&'a [u8]; N], usize) {
    let mut out = [&[][..]; N];
    let mut n = 0;
    for t in it.by_ref() {
        if n == N {
            return (out, N + 1);
        }
        out[n] = t;
        n += 1;
    }
    (out, n)
}

fn is_noreply(t: &[u8]) -> bool {
    t == b"noreply"
}

fn command<'a>(buf: &'a [u8], line: &'a [u8], consumed: usize, st: &mut ParserState) -> Out<'a> {
    let mut it = Tokens::new(line).iter();
    let Some(cmd) = it.next() else {
        return err(ErrorKind::Error, false, consumed);
    };
    if cmd.len() < 2 {
        return err(ErrorKind::Error, false, consumed);
    }
    let lim = st.limits;
    let done = |value| Parsed::Complete { value, consumed };
    match cmd {
        [b'm', c] => meta(buf, *c, it, consumed, st),
        b"get" | b"gets" | b"bget" => {
            let keys = Tokens::new(it.rest());
            if keys.is_empty() {
                return err(ErrorKind::Error, false, consumed);
            }
            if let Err(kind) = check_keys(keys, &lim) {
                return err(kind, false, consumed);
            }
            let command = match cmd {
                b"get" => GetCommand::Get,
                b"gets" => GetCommand::Gets,
                _ => GetCommand::Bget,
            };
            done(Request::Get { command, keys })
        }
        b"gat" | b"gats" => {
            let Some(exp) = it.next() else {
                return err(ErrorKind::Error, false, consumed);
            };
            let Some(exptime) = c_strtol32(exp) else {
                return err(ErrorKind::InvalidExptime, false, consumed);
            };
            let keys = Tokens::new(it.rest());
            if let Err(kind) = check_keys(keys, &lim) {
                return err(kind, false, consumed);
            }
            let command = if cmd == b"gat" {
                GatCommand::Gat
            } else {
                GatCommand::Gats
            };
            done(Request::Gat {
                command,
                exptime,
                keys,
            })
        }
        b"set" | b"add" | b"replace" | b"append" | b"prepend" | b"cas" => {
            storage(buf, cmd, it, consumed, st)
        }
        b"delete" => {
            let (t, n) = take::<4>(&mut it);
            if n == 0 || n > 3 {
                return err(ErrorKind::Error, false, consumed);
            }
            let mut noreply = false;
            if n > 1 {
                let hold_zero = t[1] == b"0";
                noreply = is_noreply(t[n - 1]);
                let valid = (n == 2 && (hold_zero || noreply)) || (n == 3 && hold_zero && noreply);
                if !valid {
                    return err(ErrorKind::DeleteUsage, noreply, consumed);
                }
            }
            match key_error(t[0], &lim) {
                Some(kind) => err(kind, noreply, consumed),
                None => done(Request::Delete { key: t[0], noreply }),
            }
        }
        b"incr" | b"decr" | b"touch" => {
            let (t, n) = take::<3>(&mut it);
            if !(2..=3).contains(&n) {
                return err(ErrorKind::Error, false, consumed);
            }
            let noreply = is_noreply(t[n - 1]);
            if let Some(kind) = key_error(t[0], &lim) {
                return err(kind, noreply, consumed);
            }
            if cmd == b"touch" {
                match c_strtol32(t[1]) {
                    Some(exptime) => done(Request::Touch {
                        key: t[0],
                        exptime,
                        noreply,
                    }),
                    None => err(ErrorKind::InvalidExptime, noreply, consumed),
                }
            } else {
                match c_strtoull(t[1]) {
                    Some(delta) => done(Request::Arithmetic {
                        incr: cmd == b"incr",
                        key: t[0],
                        delta,
                        noreply,
                    }),
                    None => err(ErrorKind::InvalidDelta, noreply, consumed),
                }
            }
        }
        b"flush_all" => {
            let (t, n) = take::<3>(&mut it);
            if n > 2 {
                return err(ErrorKind::Error, false, consumed);
            }
            let noreply = n > 0 && is_noreply(t[n - 1]);
            let mut delay = None;
            if n != usize::from(noreply) {
                match c_strtol32(t[0]) {
                    Some(d) => delay = Some(d),
                    None => return err(ErrorKind::InvalidExptime, noreply, consumed),
                }
            }
            done(Request::FlushAll { delay, noreply })
        }
        b"version" => done(Request::Version),
        b"quit" => done(Request::Quit),
        b"verbosity" | b"cache_memlimit" => {
            let (t, n) = take::<3>(&mut it);
            if !(1..=2).contains(&n) {
                return err(ErrorKind::Error, false, consumed);
            }
            let noreply = is_noreply(t[n - 1]);
            match (c_strtoul32(t[0]), cmd == b"verbosity") {
                (Some(level), true) => done(Request::Verbosity { level, noreply }),
                (Some(megabytes), false) => done(Request::CacheMemlimit { megabytes, noreply }),
                (None, true) => err(ErrorKind::BadFormat, noreply, consumed),
                (None, false) => err(ErrorKind::Error, noreply, consumed),
            }
        }
        b"stats" => done(Request::Stats {
            args: Tokens::new(it.rest()),
        }),
        b"shutdown" => done(Request::Shutdown {
            args: Tokens::new(it.rest()),
        }),
        b"slabs" | b"lru_crawler" | b"watch" | b"lru" | b"extstore" | b"refresh_certs" => {
            let args = Tokens::new(it.rest());
            if matches!(cmd, b"lru" | b"extstore") && args.is_empty() {
                return err(ErrorKind::Error, false, consumed);
            }
            done(Request::Admin { command: cmd, args })
        }
        // memcached answers other commands starting with these bytes before its HTTP check.
        [b'g' | b's' | b'a' | b'c' | b'i' | b'd' | b't', ..] => {
            err(ErrorKind::Error, false, consumed)
        }
        _ => {
            // memcached looks at the last of (at most 23) tokens for an HTTP request line.
            let (t, n) = take::<22>(&mut it);
            let last = if n == 0 { cmd } else { t[n.min(22) - 1] };
            if last.starts_with(b"HTTP/") {
                return st.fatal(ErrorKind::Http);
            }
            err(ErrorKind::Error, false, consumed)
        }
    }
}

fn key_error(key: &[u8], lim: &Limits) -> Option<ErrorKind> {
    if key.len() > lim.max_key_len {
        Some(ErrorKind::BadFormat)
    } else if !lim.keys.accepts(key) {
        Some(ErrorKind::StrictKey)
    } else {
        None
    }
}

fn check_keys(keys: Tokens<'_>, lim: &Limits) -> Result<(), ErrorKind> {
    for k in keys {
        if let Some(kind) = key_error(k, lim) {
            return Err(kind);
        }
    }
    Ok(())
}

fn storage<'a>(
    buf: &'a [u8],
    cmd: &'a [u8],
    mut it: TokenIter<'a>,
    consumed: usize,
    st: &mut ParserState,
) -> Out<'a> {
    let command = match cmd {
        b"set" => StoreCommand::Set,
        b"add" => StoreCommand::Add,
        b"replace" => StoreCommand::Replace,
        b"append" => StoreCommand::Append,
        b"prepend" => StoreCommand::Prepend,
        _ => StoreCommand::Cas,
    };
    let is_cas = command == StoreCommand::Cas;
    let (t, n) = take::<6>(&mut it);
    let want = if is_cas { 5 } else { 4 };
    if n != want && n != want + 1 {
        return err(ErrorKind::Error, false, consumed);
    }
    let noreply = is_noreply(t[n - 1]);
    let lim = st.limits;
    let key = t[0];
    if let Some(kind) = key_error(key, &lim) {
        return err(kind, noreply, consumed);
    }
    let (Some(flags), Some(exptime), Some(len)) =
        (c_strtoul32(t[1]), c_strtol32(t[2]), c_strtol32(t[3]))
    else {
        return err(ErrorKind::BadFormat, noreply, consumed);
    };
    let cas = if is_cas {
        match c_strtoull(t[4]) {
            Some(c) => c,
            None => return err(ErrorKind::BadFormat, noreply, consumed),
        }
    } else {
        0
    };
    if !(0..=i32::MAX - 2).contains(&len) {
        return err(ErrorKind::BadFormat, noreply, consumed);
    }
    let len = len as usize;
    if !lim.item_fits(key.len(), flags, len) {
        st.skip = len + 2;
        return err(ErrorKind::TooLarge, noreply, consumed);
    }
    let end = consumed + len + 2;
    if let Some(block) = buf.get(consumed..end) {
        // The whole block is here (the usual case): no state to keep.
        if block[len..] != *b"\r\n" {
            return err(ErrorKind::BadDataChunk, noreply, end);
        }
        return Parsed::Complete {
            value: Request::Store(Store {
                command,
                key,
                flags,
                exptime,
                cas,
                noreply,
                data: &block[..len],
            }),
            consumed: end,
        };
    }
    let p = Pending {
        header: consumed,
        len,
        key: (offset(buf, key), key.len()),
        kind: BodyKind::Store {
            command,
            flags,
            exptime,
            cas,
            noreply,
        },
    };
    body(buf, st, p)
}

fn meta<'a>(
    buf: &'a [u8],
    c: u8,
    mut it: TokenIter<'a>,
    consumed: usize,
    st: &mut ParserState,
) -> Out<'a> {
    let command = match c {
        b'g' => MetaCommand::Get,
        b's' => MetaCommand::Set,
        b'd' => MetaCommand::Delete,
        b'a' => MetaCommand::Arithmetic,
        b'n' => MetaCommand::Noop,
        b'e' => MetaCommand::Debug,
        _ => return err(ErrorKind::Error, false, consumed),
    };
    let lim = st.limits;
    let done = |key, flags| Parsed::Complete {
        value: Request::Meta(MetaRequest {
            command,
            key,
            flags,
            data: None,
        }),
        consumed,
    };
    if command == MetaCommand::Noop {
        return done(&[][..], MetaFlags::default());
    }
    let Some(key) = it.next() else {
        let kind = if command == MetaCommand::Debug {
            ErrorKind::BadFormat
        } else {
            ErrorKind::Error
        };
        return err(kind, false, consumed);
    };
    if key.len() > lim.max_key_len {
        return err(ErrorKind::BadFormat, false, consumed);
    }
    if command == MetaCommand::Debug {
        let rest = it.rest();
        let b = it.next() == Some(b"b");
        if b && decode_base64_key(key, None).is_none() {
            return err(ErrorKind::BadFormat, false, consumed);
        }
        if !lim.keys.accepts(key) {
            return err(ErrorKind::StrictKey, false, consumed);
        }
        let mask = if b { 1u128 << b'b' } else { 0 };
        return done(key, MetaFlags::with_mask(rest, mask));
    }
    let mut datalen = None;
    if command == MetaCommand::Set {
        let Some(d) = it.next() else {
            return err(ErrorKind::BadFormat, false, consumed);
        };
        datalen = Some(d);
    }
    let flags_raw = it.rest();
    // memcached counts the command, key, datalen, flags and a terminal token: at most 20.
    let used = 2 + usize::from(datalen.is_some());
    if it.clone().take(20 - used).count() + used >= 20 {
        let kind = if command == MetaCommand::Get {
            ErrorKind::MgFlagsTooLong
        } else {
            ErrorKind::FlagsTooLong
        };
        return err(kind, false, consumed);
    }
    let mut swallow = 0;
    if let Some(d) = datalen {
        match c_strtol32(d) {
            Some(n) if (0..=i32::MAX - 2).contains(&n) => swallow = n as usize + 2,
            _ => return err(ErrorKind::BadFormat, false, consumed),
        }
    }
    // From here on an `ms` error swallows the data block.
    let fail = |st: &mut ParserState, kind| {
        st.skip = swallow;
        err(kind, false, consumed)
    };
    let pre = match preparse(it.clone(), key) {
        Ok(p) => p,
        Err(kind) => {
            let kind = match command {
                MetaCommand::Delete | MetaCommand::Arithmetic => ErrorKind::InvalidOrDuplicateFlag,
                _ => kind,
            };
            return fail(st, kind);
        }
    };
    let mode_error = match (command, pre.mode) {
        (MetaCommand::Set, Some(m)) if !matches!(m, b'E' | b'A' | b'P' | b'R' | b'S') => {
            Some(ErrorKind::InvalidMsMode)
        }
        (MetaCommand::Arithmetic, Some(m)) if !matches!(m, b'I' | b'+' | b'D' | b'-') => {
            Some(ErrorKind::InvalidMaMode)
        }
        _ => None,
    };
    if let Some(kind) = mode_error {
        return fail(st, kind);
    }
    if opaque_too_long(it.clone()) {
        return fail(st, ErrorKind::OpaqueTooLong);
    }
    if !lim.keys.accepts(key) {
        return fail(st, ErrorKind::StrictKey);
    }
    let flags = MetaFlags::with_mask(flags_raw, pre.mask);
    if command != MetaCommand::Set {
        return done(key, flags);
    }
    let len = swallow - 2;
    if !lim.item_fits(pre.key_len.unwrap_or(key.len()), pre.client_flags, len) {
        return fail(st, ErrorKind::TooLarge);
    }
    let p = Pending {
        header: consumed,
        len,
        key: (offset(buf, key), key.len()),
        kind: BodyKind::MetaSet {
            flags: (offset(buf, flags_raw), flags_raw.len()),
            mask: pre.mask,
        },
    };
    body(buf, st, p)
}
