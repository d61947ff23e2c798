//! The floor under any memcached proxy's CPU per request on this machine: a server that does
//! only a proxy's client-side work, the system calls every proxy must make for each client
//! (wait for readiness, read the requests, write the replies) and no backend side at all.
//! `benches/scripts/mcproxy_vs_nutcracker.sh` measures it beside the proxies (`FLOOR=1`), at
//! the same offered rate, pinned to the same CPU.
//!
//! One mio loop, edge-triggered like lvs-mcproxy's: each readable connection is read once
//! into a 64 KiB buffer (again only if that read filled it), and everything it asked for is
//! answered with one write. The protocol work is the least mcload accepts: requests are
//! framed by the project's codec (`lvs_core::memcache::parse`, as the proxy frames them), a
//! `get` is a miss (`END`), a storage command `STORED`, anything else `ERROR`; a malformed
//! request closes the connection.
//!
//!     cargo run --release -p lvs-bins --example mc_floor -- 127.0.0.1:22122
//!
//! It prints the address it listens on (port 0 picks a free one) and runs until killed.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use lvs_core::memcache::{Parsed, ParserState, Request, parse};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(0);
const READ: usize = 64 << 10;

struct Conn {
    stream: TcpStream,
    /// Request bytes not yet consumed (a request split across reads).
    input: Vec<u8>,
    parser: ParserState,
    out: Vec<u8>,
}

/// Answers every complete request in what is left of `c.input` followed by `data`, parsed by
/// the project's codec; false if the stream is malformed (the floor closes it).
fn answer(c: &mut Conn, data: &[u8]) -> bool {
    if c.input.is_empty() {
        let (used, ok) = answer_from(c, data);
        c.input.extend_from_slice(&data[used..]);
        return ok;
    }
    let mut joined = core::mem::take(&mut c.input);
    joined.extend_from_slice(data);
    let (used, ok) = answer_from(c, &joined);
    joined.drain(..used);
    c.input = joined;
    ok
}

/// Answers the complete requests at the front of `data`: returns the bytes they took and
/// whether the stream is still well formed.
fn answer_from(c: &mut Conn, data: &[u8]) -> (usize, bool) {
    let mut used = 0;
    loop {
        match parse(&data[used..], &mut c.parser) {
            Parsed::Incomplete => return (used, true),
            Parsed::Invalid { .. } => return (used, false),
            Parsed::Skipped { consumed } => used += consumed,
            Parsed::Complete { value, consumed } => {
                used += consumed;
                c.out.extend_from_slice(match value {
                    Request::Get { .. } => b"END\r\n",
                    Request::Store(_) => b"STORED\r\n",
                    _ => b"ERROR\r\n",
                });
            }
        }
    }
}

/// Reads what `c` sent and writes the replies; false when the connection is done.
fn serve(c: &mut Conn, buf: &mut [u8]) -> bool {
    loop {
        let n = match c.stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        if !answer(c, &buf[..n]) {
            return false;
        }
        let mut done = 0;
        while done < c.out.len() {
            match c.stream.write(&c.out[done..]) {
                Ok(0) => return false,
                Ok(w) => done += w,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The load generator reads its replies; a full socket buffer here means it
                // stopped, so dropping the connection is the floor's whole backpressure.
                Err(_) => return false,
            }
        }
        c.out.clear();
        if n < buf.len() {
            return true;
        }
    }
}

fn main() -> io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:22122".into())
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("address: {e}")))?;
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr)?;
    // The bound address (port 0 picks one), for scripts and tests.
    println!("{}", listener.local_addr()?);
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut next = 1usize;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; READ];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in &events {
            if ev.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            stream.set_nodelay(true)?;
                            let t = Token(next);
                            next += 1;
                            poll.registry()
                                .register(&mut stream, t, Interest::READABLE)?;
                            let c = Conn {
                                stream,
                                input: Vec::new(),
                                parser: ParserState::default(),
                                out: Vec::new(),
                            };
                            conns.insert(t.0, c);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let key = ev.token().0;
            let keep = conns.get_mut(&key).is_some_and(|c| serve(c, &mut buf));
            if !keep && let Some(mut c) = conns.remove(&key) {
                let _ = poll.registry().deregister(&mut c.stream);
            }
        }
    }
}
