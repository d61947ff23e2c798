//! Test support for the proxy session: a tiny in-memory memcached (parsing with the same codec,
//! so its error replies are memcached's), pools, and a harness that shuttles bytes between a
//! session and model backends, split at arbitrary points.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use lvs_core::memcache::{
    GatCommand, GetCommand, MetaCommand, MetaRequest, Parsed, ParserState, Request, StoreCommand,
    Tokens, decode_base64_key, parse,
};
use lvs_sched::mcproxy::{DownPolicy, Router, Session, SessionConfig};
use lvs_sched::ring::{Distribution, HashFunction, ServerSpec, TwemproxyPool};

/// A pool of `n` servers with hash tag `{}`.
pub fn pool(n: usize) -> TwemproxyPool {
    let servers = (0..n)
        .map(|i| ServerSpec::parse(&format!("10.0.0.{}:11211:1", i + 1)).unwrap())
        .collect();
    TwemproxyPool::new(servers, HashFunction::Fnv1a64, Distribution::Ketama)
        .unwrap()
        .with_hash_tag(b"{}")
        .unwrap()
}

pub fn router(n: usize, policy: DownPolicy) -> Router {
    Router::new(pool(n), policy).unwrap()
}

pub fn session(n: usize) -> Session {
    Session::new(router(n, DownPolicy::FailFast), SessionConfig::default())
}

/// A key owned by backend `b` (searching `prefix0`, `prefix1` ...).
pub fn key_on(r: &Router, b: usize, prefix: &str) -> String {
    (0..10_000)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| r.route(k.as_bytes()) == Some(b))
        .expect("a key for every backend")
}

#[derive(Clone, Debug)]
struct Item {
    flags: u32,
    data: Vec<u8>,
}

/// A single-threaded model memcached: no expiry, CAS = per-key write count (so a sharded pool
/// and one server agree), quiet and noreply rules as memcached 1.6.
#[derive(Debug, Default)]
pub struct Model {
    items: BTreeMap<Vec<u8>, Item>,
    versions: BTreeMap<Vec<u8>, u64>,
    parser: ParserState,
    inbuf: Vec<u8>,
    pub closed: bool,
}

fn num(out: &mut Vec<u8>, v: impl ToString) {
    out.extend_from_slice(v.to_string().as_bytes());
}

impl Model {
    /// Feeds request bytes; returns the reply bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        self.inbuf.extend_from_slice(bytes);
        let buf = std::mem::take(&mut self.inbuf);
        let mut pos = 0;
        loop {
            match parse(&buf[pos..], &mut self.parser) {
                Parsed::Incomplete => break,
                Parsed::Complete { value, consumed } => {
                    pos += consumed;
                    if !self.serve(value, &mut out) {
                        self.closed = true;
                        break;
                    }
                }
                Parsed::Invalid { error, consumed } => {
                    if error.closes_connection() {
                        self.closed = true;
                        break;
                    }
                    out.extend_from_slice(error.reply_bytes());
                    pos += consumed;
                }
                Parsed::Skipped { consumed } => pos += consumed,
            }
        }
        self.inbuf = buf[pos..].to_vec();
        out
    }

    fn bump(&mut self, key: &[u8]) -> u64 {
        let v = self.versions.entry(key.to_vec()).or_insert(0);
        *v += 1;
        *v
    }

    fn cas(&self, key: &[u8]) -> u64 {
        self.versions.get(key).copied().unwrap_or(0)
    }

    fn values(&self, keys: Tokens<'_>, cas: bool, out: &mut Vec<u8>) {
        for k in keys {
            if let Some(it) = self.items.get(k) {
                out.extend_from_slice(b"VALUE ");
                out.extend_from_slice(k);
                out.push(b' ');
                num(out, it.flags);
                out.push(b' ');
                num(out, it.data.len());
                if cas {
                    out.push(b' ');
                    num(out, self.cas(k));
                }
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&it.data);
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b"END\r\n");
    }

    fn serve(&mut self, req: Request<'_>, out: &mut Vec<u8>) -> bool {
        let mut reply = Vec::new();
        let mut noreply = false;
        match req {
            Request::Get { command, keys } => {
                self.values(keys, command == GetCommand::Gets, &mut reply);
            }
            Request::Gat { command, keys, .. } => {
                self.values(keys, command == GatCommand::Gats, &mut reply);
            }
            Request::Store(s) => {
                noreply = s.noreply;
                let exists = self.items.contains_key(s.key);
                let new = Item {
                    flags: s.flags,
                    data: s.data.to_vec(),
                };
                let line: &[u8] = match s.command {
                    StoreCommand::Set => {
                        self.items.insert(s.key.to_vec(), new);
                        b"STORED"
                    }
                    StoreCommand::Add if exists => b"NOT_STORED",
                    StoreCommand::Replace if !exists => b"NOT_STORED",
                    StoreCommand::Add | StoreCommand::Replace => {
                        self.items.insert(s.key.to_vec(), new);
                        b"STORED"
                    }
                    StoreCommand::Append | StoreCommand::Prepend if !exists => b"NOT_STORED",
                    StoreCommand::Append | StoreCommand::Prepend => {
                        let it = self.items.get_mut(s.key).unwrap();
                        if s.command == StoreCommand::Append {
                            it.data.extend_from_slice(s.data);
                        } else {
                            it.data.splice(0..0, s.data.iter().copied());
                        }
                        b"STORED"
                    }
                    StoreCommand::Cas if !exists => b"NOT_FOUND",
                    StoreCommand::Cas if self.cas(s.key) != s.cas => b"EXISTS",
                    StoreCommand::Cas => {
                        self.items.insert(s.key.to_vec(), new);
                        b"STORED"
                    }
                };
                if line == b"STORED" {
                    self.bump(s.key);
                }
                reply.extend_from_slice(line);
                reply.extend_from_slice(b"\r\n");
            }
            Request::Delete { key, noreply: nr } => {
                noreply = nr;
                let line: &[u8] = if self.items.remove(key).is_some() {
                    b"DELETED\r\n"
                } else {
                    b"NOT_FOUND\r\n"
                };
                reply.extend_from_slice(line);
            }
            Request::Arithmetic {
                incr,
                key,
                delta,
                noreply: nr,
            } => {
                noreply = nr;
                match self.delta(key, incr, delta) {
                    Ok(v) => {
                        num(&mut reply, v);
                        reply.extend_from_slice(b"\r\n");
                    }
                    Err(e) => reply.extend_from_slice(e),
                }
            }
            Request::Touch {
                key, noreply: nr, ..
            } => {
                noreply = nr;
                let line: &[u8] = if self.items.contains_key(key) {
                    b"TOUCHED\r\n"
                } else {
                    b"NOT_FOUND\r\n"
                };
                reply.extend_from_slice(line);
            }
            Request::FlushAll { noreply: nr, .. } => {
                noreply = nr;
                self.items.clear();
                reply.extend_from_slice(b"OK\r\n");
            }
            Request::Verbosity { noreply: nr, .. } | Request::CacheMemlimit { noreply: nr, .. } => {
                noreply = nr;
                reply.extend_from_slice(b"OK\r\n");
            }
            Request::Version => reply.extend_from_slice(b"VERSION 1.6.18\r\n"),
            Request::Stats { .. } => {
                reply.extend_from_slice(b"STAT curr_items ");
                num(&mut reply, self.items.len());
                reply.extend_from_slice(b"\r\nSTAT pid 42\r\nEND\r\n");
            }
            Request::Shutdown { .. } => reply.extend_from_slice(b"ERROR: shutdown not enabled\r\n"),
            Request::Admin { .. } => reply.extend_from_slice(b"OK\r\n"),
            Request::Quit => return false,
            Request::Meta(m) => self.meta(m, &mut reply),
        }
        if !noreply {
            out.extend_from_slice(&reply);
        }
        true
    }

    fn delta(&mut self, key: &[u8], incr: bool, delta: u64) -> Result<u64, &'static [u8]> {
        let Some(it) = self.items.get_mut(key) else {
            return Err(b"NOT_FOUND\r\n");
        };
        let cur = std::str::from_utf8(&it.data)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(&b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"[..])?;
        let v = if incr {
            cur.wrapping_add(delta)
        } else {
            cur.saturating_sub(delta)
        };
        it.data = v.to_string().into_bytes();
        self.bump(key);
        Ok(v)
    }

    /// The stored key of a meta request (base64-decoded with `b`).
    fn meta_key(m: &MetaRequest<'_>) -> Vec<u8> {
        if m.flags.base64_key() {
            let mut out = vec![0; m.key.len()];
            let n = decode_base64_key(m.key, Some(&mut out)).unwrap();
            out.truncate(n);
            out
        } else {
            m.key.to_vec()
        }
    }

    /// Appends the `O` and `k` return flags (in request order).
    fn ok_flags(m: &MetaRequest<'_>, out: &mut Vec<u8>) {
        for f in m.flags.iter() {
            match f.flag {
                b'O' => {
                    out.extend_from_slice(b" O");
                    out.extend_from_slice(f.token);
                }
                b'k' => {
                    out.extend_from_slice(b" k");
                    out.extend_from_slice(m.key);
                    if m.flags.base64_key() {
                        out.extend_from_slice(b" b");
                    }
                }
                _ => {}
            }
        }
    }

    fn meta(&mut self, m: MetaRequest<'_>, out: &mut Vec<u8>) {
        let key = Self::meta_key(&m);
        let quiet = m.flags.quiet();
        let mut line = Vec::new();
        let mut suppress = false;
        match m.command {
            MetaCommand::Noop => line.extend_from_slice(b"MN"),
            MetaCommand::Debug => match self.items.get(&key) {
                Some(it) => {
                    line.extend_from_slice(b"ME ");
                    line.extend_from_slice(m.key);
                    line.extend_from_slice(
                        format!(
                            " exp=-1 la=0 cas={} fetch=no cls=1 size={}",
                            self.cas(&key),
                            it.data.len()
                        )
                        .as_bytes(),
                    );
                }
                None => line.extend_from_slice(b"EN"),
            },
            MetaCommand::Get => match self.items.get(&key) {
                Some(it) => {
                    let v = m.flags.has(b'v');
                    if v {
                        line.extend_from_slice(b"VA ");
                        num(&mut line, it.data.len());
                    } else {
                        line.extend_from_slice(b"HD");
                    }
                    for f in m.flags.iter() {
                        match f.flag {
                            b'f' => {
                                line.extend_from_slice(b" f");
                                num(&mut line, it.flags);
                            }
                            b'c' => {
                                line.extend_from_slice(b" c");
                                num(&mut line, self.cas(&key));
                            }
                            b's' => {
                                line.extend_from_slice(b" s");
                                num(&mut line, it.data.len());
                            }
                            b't' => line.extend_from_slice(b" t-1"),
                            _ => {}
                        }
                    }
                    Self::ok_flags(&m, &mut line);
                    if v {
                        line.extend_from_slice(b"\r\n");
                        line.extend_from_slice(&it.data);
                    }
                }
                None => {
                    suppress = quiet;
                    line.extend_from_slice(b"EN");
                    Self::ok_flags(&m, &mut line);
                }
            },
            MetaCommand::Set => {
                let data = m.data.unwrap_or_default();
                let flags = m
                    .flags
                    .get(b'F')
                    .and_then(|t| std::str::from_utf8(t).ok()?.parse().ok());
                let cas = m
                    .flags
                    .get(b'C')
                    .and_then(|t| std::str::from_utf8(t).ok()?.parse::<u64>().ok());
                let mode = m.flags.get(b'M').map_or(b'S', |t| t[0]);
                let exists = self.items.contains_key(&key);
                let code: &[u8] = match (mode, cas) {
                    (_, Some(_)) if !exists => b"NF",
                    (_, Some(c)) if c != self.cas(&key) => b"EX",
                    (b'E', _) if exists => b"NS",
                    (b'R' | b'A' | b'P', _) if !exists => b"NS",
                    _ => b"HD",
                };
                if code == b"HD" {
                    let old = self
                        .items
                        .get(&key)
                        .map(|i| i.data.clone())
                        .unwrap_or_default();
                    let new = match mode {
                        b'A' => [old.as_slice(), data].concat(),
                        b'P' => [data, old.as_slice()].concat(),
                        _ => data.to_vec(),
                    };
                    let f = match mode {
                        b'A' | b'P' => self.items[&key].flags,
                        _ => flags.unwrap_or(0),
                    };
                    self.items.insert(
                        key.clone(),
                        Item {
                            flags: f,
                            data: new,
                        },
                    );
                    self.bump(&key);
                    suppress = quiet;
                }
                line.extend_from_slice(code);
                Self::ok_flags(&m, &mut line);
            }
            MetaCommand::Delete => {
                if self.items.remove(&key).is_some() {
                    suppress = quiet;
                    line.extend_from_slice(b"HD");
                } else {
                    line.extend_from_slice(b"NF");
                }
                Self::ok_flags(&m, &mut line);
            }
            MetaCommand::Arithmetic => {
                let parse = |t: &[u8]| std::str::from_utf8(t).ok()?.parse::<u64>().ok();
                let delta = m.flags.get(b'D').and_then(parse).unwrap_or(1);
                let incr = !matches!(m.flags.get(b'M'), Some([b'D' | b'-']));
                let mut created = false;
                if !self.items.contains_key(&key) && m.flags.has(b'N') {
                    let init = m.flags.get(b'J').and_then(parse).unwrap_or(0);
                    self.items.insert(
                        key.clone(),
                        Item {
                            flags: 0,
                            data: init.to_string().into_bytes(),
                        },
                    );
                    self.bump(&key);
                    created = true;
                }
                let value = if created {
                    Ok(self.items[&key].data.clone())
                } else {
                    self.delta(&key, incr, delta)
                        .map(|v| v.to_string().into_bytes())
                };
                match value {
                    Ok(v) => {
                        suppress = quiet && !created;
                        if m.flags.has(b'v') {
                            line.extend_from_slice(b"VA ");
                            num(&mut line, v.len());
                        } else {
                            line.extend_from_slice(b"HD");
                        }
                        Self::ok_flags(&m, &mut line);
                        if m.flags.has(b'v') {
                            line.extend_from_slice(b"\r\n");
                            line.extend_from_slice(&v);
                        }
                    }
                    Err(e) if e.starts_with(b"NOT_FOUND") => {
                        line.extend_from_slice(b"NF");
                        Self::ok_flags(&m, &mut line);
                    }
                    Err(e) => {
                        out.extend_from_slice(e);
                        return;
                    }
                }
            }
        }
        if !suppress {
            out.extend_from_slice(&line);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// A xorshift generator for split points.
#[derive(Clone, Debug)]
pub struct Split(pub u64);

impl Split {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        if n == 0 {
            0
        } else {
            (self.0 % n as u64) as usize
        }
    }
}

/// A session over model backends.
pub struct Harness {
    pub s: Session,
    pub models: Vec<Model>,
    /// Replies produced by models, not yet fed to the session.
    pub replies: Vec<Vec<u8>>,
    pub client: Vec<u8>,
    pub split: Split,
}

impl Harness {
    pub fn new(s: Session, seed: u64) -> Self {
        let n = s.router().backends();
        Self {
            s,
            models: (0..n).map(|_| Model::default()).collect(),
            replies: vec![Vec::new(); n],
            client: Vec::new(),
            split: Split(seed | 1),
        }
    }

    fn take_client(&mut self) {
        let out = self.s.client_output().to_vec();
        self.s.advance_client(out.len());
        self.client.extend_from_slice(&out);
    }

    /// One random step: move a random piece of some backend's requests to its model, or of its
    /// replies to the session. Returns false when nothing is left to move.
    pub fn step(&mut self) -> bool {
        self.take_client();
        let n = self.models.len();
        let start = self.split.below(n);
        for j in 0..2 * n {
            let b = (start + j) % n;
            if j / n == self.split.below(2) {
                let req = self.s.backend_output(b);
                if !req.is_empty() {
                    let k = 1 + self.split.below(req.len());
                    let piece = req[..k].to_vec();
                    self.s.advance_backend(b, k);
                    let r = self.models[b].feed(&piece);
                    self.replies[b].extend_from_slice(&r);
                    return true;
                }
            } else if !self.replies[b].is_empty() && self.s.wants_backend_read(b) {
                let k = 1 + self.split.below(self.replies[b].len());
                let piece: Vec<u8> = self.replies[b].drain(..k).collect();
                self.s.feed_backend(b, &piece);
                self.take_client();
                return true;
            }
        }
        // Anything left waits on the other kind of move.
        for b in 0..n {
            if !self.s.backend_output(b).is_empty()
                || (!self.replies[b].is_empty() && self.s.wants_backend_read(b))
            {
                return self.step();
            }
        }
        self.take_client();
        false
    }

    /// Moves bytes until nothing is left in flight.
    pub fn settle(&mut self) {
        let mut budget = 1_000_000;
        loop {
            budget -= 1;
            assert!(budget > 0, "no progress");
            if self.step() {
                continue;
            }
            // Taking the client output may have let the session parse more.
            self.take_client();
            let n = self.models.len();
            if (0..n).all(|b| self.s.backend_output(b).is_empty())
                && self.s.client_output().is_empty()
                && !(0..n).any(|b| !self.replies[b].is_empty() && self.s.wants_backend_read(b))
            {
                break;
            }
        }
    }

    /// Feeds client bytes in random pieces, settling at random moments, then settles.
    pub fn run(&mut self, input: &[u8]) -> Vec<u8> {
        let mut rest = input;
        while !rest.is_empty() {
            let k = 1 + self.split.below(rest.len().min(64));
            self.s.feed_client(&rest[..k]);
            rest = &rest[k..];
            for _ in 0..self.split.below(4) {
                self.step();
            }
        }
        self.settle();
        std::mem::take(&mut self.client)
    }
}

/// What one model memcached answers to `input`.
pub fn direct(input: &[u8]) -> Vec<u8> {
    Model::default().feed(input)
}
