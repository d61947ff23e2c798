//! The memcached protocol codec: incremental, zero-copy parsers for the text protocol
//! (classic and meta commands), its responses and the binary protocol, plus a writer.
//!
//! # Parsing
//!
//! [`parse`] (requests), [`parse_response`] and [`parse_binary`] all take the bytes not yet
//! consumed and a small `Copy` state, and return a [`Parsed`]:
//!
//! * `Incomplete`: call again with the same bytes and whatever arrived since;
//! * `Complete { value, consumed }`: `value` borrows the input (keys, flags and values are
//!   slices; a multi-key `get` is one [`Tokens`] section iterated in place), drop `consumed`
//!   bytes;
//! * `Invalid { error, consumed }`: write [`RequestError::reply_bytes`] (memcached 1.6.18's
//!   exact reply) and drop `consumed` bytes, or close when
//!   [`RequestError::closes_connection`];
//! * `Skipped { consumed }`: part of a data block memcached swallows after
//!   `SERVER_ERROR object too large for cache` (or an `ms` error); drop the bytes.
//!
//! Between calls the state keeps how far the current line was searched for its LF and, for a
//! data block, the parsed header and the length still missing, so bytes are never scanned twice
//! and value bodies are skipped by length. Feeding a stream in any split, down to one byte at a
//! time, yields the same sequence of values. Nothing is allocated.
//!
//! # Exactness and limits
//!
//! [`Limits::default`] reproduces memcached 1.6.18: token rules (space-only separators, NUL
//! ends the line, 24-token tokenizer), its C number parsing (`flags 4294967297` is 1, `-0` is
//! 0, negative exptime is accepted), `noreply` suppressing error replies, the line guard (2048
//! bytes, `get`/`gets` exempt), the item size rule, the HTTP guard, and every error string,
//! including that a refused storage header leaves its data block to be parsed as a command.
//! [`Limits::strict`] additionally refuses NUL, control and (optionally) high bytes in keys, so
//! a proxy hashes exactly what the server stores.
//!
//! # Example
//!
//! ```
//! use lvs_core::memcache::{ParserState, Parsed, Request, parse};
//!
//! let mut st = ParserState::default();
//! let stream = b"get a bb\r\nset k 0 0 5\r\nhello\r\nGET x\r\n";
//! let mut buf = Vec::new();
//! let mut seen = Vec::new();
//! // Bytes arrive in small pieces; the parser resumes where it stopped.
//! for piece in stream.chunks(7) {
//!     buf.extend_from_slice(piece);
//!     loop {
//!         match parse(&buf, &mut st) {
//!             Parsed::Incomplete => break,
//!             Parsed::Complete { value, consumed } => {
//!                 match value {
//!                     Request::Get { keys, .. } => seen.push(keys.iter().count()),
//!                     Request::Store(s) => seen.push(s.data.len()),
//!                     _ => {}
//!                 }
//!                 buf.drain(..consumed);
//!             }
//!             Parsed::Invalid { error, consumed } => {
//!                 assert_eq!(error.reply_bytes(), b"ERROR\r\n"); // upper-case verb
//!                 buf.drain(..consumed);
//!             }
//!             Parsed::Skipped { consumed } => {
//!                 buf.drain(..consumed);
//!             }
//!         }
//!     }
//! }
//! assert_eq!(seen, [2, 5]);
//!
//! // The writer builds requests and responses for the other side.
//! let mut out = Vec::new();
//! lvs_core::memcache::Response::Status(lvs_core::memcache::Status::Stored).write(&mut out);
//! assert_eq!(out, b"STORED\r\n");
//! ```

mod binary;
mod commands;
mod error;
pub mod fuzzing;
mod limits;
mod meta;
mod request;
mod response;
mod text;
mod writer;

pub use binary::{
    BinaryError, BinaryState, HEADER_LEN, Header, HeaderRepr, MAGIC_REQUEST, MAGIC_RESPONSE,
    Packet, parse_binary,
};
pub use commands::{GatCommand, GetCommand, Request, Store, StoreCommand};
pub use error::{ErrorKind, RequestError, ResponseError};
pub use limits::{KeyPolicy, Limits};
pub use meta::{MetaCode, MetaCommand, MetaFlag, MetaFlags, MetaRequest, MetaResponse};
pub use request::{ParserState, parse};
pub use response::{Response, ResponseState, Status, parse_response};
pub use text::{TokenIter, Tokens, decode_base64_key};

/// The outcome of one parser call.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed<T, E> {
    /// More bytes are needed; call again with the same bytes plus new ones.
    Incomplete,
    /// A value, borrowing the input; drop `consumed` bytes.
    Complete {
        /// The parsed value.
        value: T,
        /// Bytes used.
        consumed: usize,
    },
    /// Refused input; drop `consumed` bytes (0 means: stop and close the connection).
    Invalid {
        /// What was wrong.
        error: E,
        /// Bytes used.
        consumed: usize,
    },
    /// Bytes of a swallowed data block; drop them.
    Skipped {
        /// Bytes dropped.
        consumed: usize,
    },
}

/// The protocol a memcached connection speaks, decided by its first byte as memcached does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The text protocol (classic and meta commands).
    Text,
    /// The binary protocol (first byte 0x80).
    Binary,
}

impl Protocol {
    /// The protocol of a connection whose first byte is `first`.
    pub const fn detect(first: u8) -> Self {
        if first == MAGIC_REQUEST {
            Self::Binary
        } else {
            Self::Text
        }
    }
}
