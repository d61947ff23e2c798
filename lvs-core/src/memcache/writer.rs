//! Writing requests and responses in the text protocol (what a proxy forwards and answers).
//! Whatever the parsers return, written back and parsed again, gives the same value.

use bytes::BufMut;

use super::commands::{GatCommand, GetCommand, Request, Store};
use super::meta::{MetaCode, MetaCommand};
use super::response::Response;
use super::text::{Tokens, put_i64, put_u64};

const CRLF: &[u8] = b"\r\n";

fn noreply(out: &mut impl BufMut, yes: bool) {
    if yes {
        out.put_slice(b" noreply");
    }
}

fn section(out: &mut impl BufMut, t: Tokens<'_>) {
    if !t.as_bytes().is_empty() {
        out.put_u8(b' ');
        out.put_slice(t.as_bytes());
    }
}

impl Request<'_> {
    /// Appends this request in the text protocol, data block included.
    pub fn write(&self, out: &mut impl BufMut) {
        match *self {
            Self::Get { command, keys } => {
                out.put_slice(match command {
                    GetCommand::Get => b"get",
                    GetCommand::Gets => b"gets",
                    GetCommand::Bget => b"bget",
                });
                section(out, keys);
            }
            Self::Gat {
                command,
                exptime,
                keys,
            } => {
                out.put_slice(match command {
                    GatCommand::Gat => b"gat ",
                    GatCommand::Gats => b"gats ",
                });
                put_i64(out, exptime.into());
                section(out, keys);
            }
            Self::Store(Store {
                command,
                key,
                flags,
                exptime,
                cas,
                noreply: nr,
                data,
            }) => {
                out.put_slice(command.name());
                out.put_u8(b' ');
                out.put_slice(key);
                out.put_u8(b' ');
                put_u64(out, flags.into());
                out.put_u8(b' ');
                put_i64(out, exptime.into());
                out.put_u8(b' ');
                put_u64(out, data.len() as u64);
                if command == super::StoreCommand::Cas {
                    out.put_u8(b' ');
                    put_u64(out, cas);
                }
                noreply(out, nr);
                out.put_slice(CRLF);
                out.put_slice(data);
            }
            Self::Delete { key, noreply: nr } => {
                out.put_slice(b"delete ");
                out.put_slice(key);
                noreply(out, nr);
            }
            Self::Arithmetic {
                incr,
                key,
                delta,
                noreply: nr,
            } => {
                out.put_slice(if incr { b"incr " } else { b"decr " });
                out.put_slice(key);
                out.put_u8(b' ');
                put_u64(out, delta);
                noreply(out, nr);
            }
            Self::Touch {
                key,
                exptime,
                noreply: nr,
            } => {
                out.put_slice(b"touch ");
                out.put_slice(key);
                out.put_u8(b' ');
                put_i64(out, exptime.into());
                noreply(out, nr);
            }
            Self::FlushAll { delay, noreply: nr } => {
                out.put_slice(b"flush_all");
                if let Some(d) = delay {
                    out.put_u8(b' ');
                    put_i64(out, d.into());
                }
                noreply(out, nr);
            }
            Self::Version => out.put_slice(b"version"),
            Self::Quit => out.put_slice(b"quit"),
            Self::Verbosity { level, noreply: nr } => {
                out.put_slice(b"verbosity ");
                put_u64(out, level.into());
                noreply(out, nr);
            }
            Self::CacheMemlimit {
                megabytes,
                noreply: nr,
            } => {
                out.put_slice(b"cache_memlimit ");
                put_u64(out, megabytes.into());
                noreply(out, nr);
            }
            Self::Stats { args } => {
                out.put_slice(b"stats");
                section(out, args);
            }
            Self::Shutdown { args } => {
                out.put_slice(b"shutdown");
                section(out, args);
            }
            Self::Admin { command, args } => {
                out.put_slice(command);
                section(out, args);
            }
            Self::Meta(m) => {
                out.put_slice(m.command.name());
                if m.command != MetaCommand::Noop {
                    out.put_u8(b' ');
                    out.put_slice(m.key);
                }
                if let Some(d) = m.data {
                    out.put_u8(b' ');
                    put_u64(out, d.len() as u64);
                }
                section(out, Tokens::new(m.flags.as_bytes()));
                if let Some(d) = m.data {
                    out.put_slice(CRLF);
                    out.put_slice(d);
                }
            }
        }
        out.put_slice(CRLF);
    }
}

impl Response<'_> {
    /// Appends this response in the text protocol, data block included.
    pub fn write(&self, out: &mut impl BufMut) {
        match *self {
            Self::Value {
                key,
                flags,
                cas,
                data,
            } => {
                out.put_slice(b"VALUE ");
                out.put_slice(key);
                out.put_u8(b' ');
                put_u64(out, flags.into());
                out.put_u8(b' ');
                put_u64(out, data.len() as u64);
                if let Some(c) = cas {
                    out.put_u8(b' ');
                    put_u64(out, c);
                }
                out.put_slice(CRLF);
                out.put_slice(data);
            }
            Self::Status(s) => out.put_slice(s.name()),
            Self::Number(n) => put_u64(out, n),
            Self::Version(v) => {
                out.put_slice(b"VERSION ");
                out.put_slice(v);
            }
            Self::Stat { name, value } => {
                out.put_slice(b"STAT ");
                out.put_slice(name);
                out.put_u8(b' ');
                out.put_slice(value);
            }
            Self::Error { message } => {
                out.put_slice(b"ERROR");
                out.put_slice(message);
            }
            Self::ClientError(m) => {
                out.put_slice(b"CLIENT_ERROR ");
                out.put_slice(m);
            }
            Self::ServerError(m) => {
                out.put_slice(b"SERVER_ERROR ");
                out.put_slice(m);
            }
            Self::Meta(m) => {
                out.put_slice(m.code.name());
                if m.code == MetaCode::Va {
                    out.put_u8(b' ');
                    put_u64(out, m.data.map_or(0, |d| d.len() as u64));
                }
                section(out, Tokens::new(m.flags.as_bytes()));
                if let Some(d) = m.data.filter(|_| m.code == MetaCode::Va) {
                    out.put_slice(CRLF);
                    out.put_slice(d);
                }
            }
            Self::MetaDebug { key, details } => {
                out.put_slice(b"ME ");
                out.put_slice(key);
                out.put_u8(b' ');
                out.put_slice(details);
            }
            Self::Admin(line) => out.put_slice(line),
        }
        out.put_slice(CRLF);
    }
}
