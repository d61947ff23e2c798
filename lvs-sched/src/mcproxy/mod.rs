//! The routing core of a memcached proxy: one Sans-IO [`Session`] per client connection that
//! parses the client's requests, routes each by key through a twemproxy-compatible pool
//! ([`Router`] over [`TwemproxyPool`](crate::ring::TwemproxyPool), hash tags honoured), and
//! writes the replies back strictly in request order.
//!
//! # What each command does
//!
//! | client sends | the session |
//! |---|---|
//! | `set` `add` `replace` `append` `prepend` `cas` `delete` `incr` `decr` `touch` | forwards it to the key's backend, verbatim |
//! | the same with `noreply` | forwards it **without** `noreply` and swallows the reply, so every request owes exactly one reply and a backend stream can never desynchronise |
//! | `get` `gets` `bget` `gat` `gats` | one sub-request per backend (keys in client order), then merges: `VALUE` blocks in the client's key order, one `END`, in O(keys), streamed (below); keys of a dead backend are misses |
//! | `mg` `ms` `md` `ma` `me` | forwards it verbatim; `O` and `k` come back from the backend |
//! | the same with `q` | forwards it verbatim followed by `mn`, so the backend applies memcached's own quiet rules (successes suppressed, failures shown) and its `MN` says "nothing more" |
//! | `mn` | `MN`, once every earlier request on every shard has been answered |
//! | `flush_all` `verbosity` `cache_memlimit` | sent to every backend; `OK` once all answered, or the error of the lowest-numbered backend that failed |
//! | `stats` | sent to every live backend; unsigned decimal counters are summed, identity fields (`pid`, `uptime`, `version` ...) and non-numeric values come from the first backend |
//! | `stats <args>` | forwarded to the first live backend, reply relayed |
//! | `version` | answered locally with [`SessionConfig::version`] |
//! | `shutdown` | `ERROR: shutdown not enabled` (memcached without `-A`) |
//! | `slabs` `lru` `lru_crawler` `watch` `extstore` `refresh_certs` | [`NOT_SUPPORTED`] |
//! | `quit` | earlier replies are written, then [`Session::should_close_client`] |
//! | a malformed request | memcached 1.6.18's exact error, in order, and the stream goes on (or closes where memcached closes) |
//! | the binary protocol (first byte 0x80) | not spoken: the connection is closed |
//!
//! Ordering: a client FIFO holds one entry per request; each backend keeps the list of replies
//! it owes, in order, pointing at FIFO entries. Replies fill their entries in any order; the
//! finished entries at the FIFO head move to the client output.
//!
//! A multi-get at the FIFO head streams: each time a reply arrives, the longest prefix of its
//! key list whose answers are known (a `VALUE` arrived, or the backend's later `VALUE` or its
//! `END` proved the key a miss) moves to the client output at once, so the first keys go out
//! while a slower backend is still answering; the `END` follows when every part is done. The
//! bytes are the same as merging the complete replies, except when a backend answers its part
//! with an error line: before anything was streamed the whole reply is that error, as
//! before; after, the blocks already sent stay and the error takes the place of `END`.
//!
//! # Failures
//!
//! [`Session::backend_down`] settles everything the backend owes at once: fragments of
//! multi-gets become misses (twemproxy fails the whole request with `SERVER_ERROR` instead),
//! single-key requests get [`BACKEND_UNAVAILABLE`], broadcasts report it, `stats` leaves it
//! out. New requests then follow the [`DownPolicy`]: remap to the ring neighbour
//! (`auto_eject_hosts`), fail fast, or fail over to a replica list. A backend that breaks the
//! protocol (an unparseable or oversize reply, a `VALUE` for a key it was not asked for,
//! unsolicited bytes) is treated as down and reported with [`Event::BackendFault`]; the
//! shell closes the connection, reconnects and calls [`Session::backend_up`].
//!
//! # Memory
//!
//! [`SessionConfig`] bounds the pending requests, the client and backend output and the reply
//! bytes held for reordering (streamed blocks are no longer held). Past a bound the session stops parsing and
//! [`Session::wants_client_read`] turns false (backpressure); [`Session::wants_backend_read`]
//! keeps only the backend the oldest request waits on readable. Buffers that grew in a burst
//! are released once empty ([`SessionConfig::shrink_above`]).
//!
//! Each session has its own backend streams (the bytes it produces for backend `i`, in order).
//! A shell may give each its own connection ([`Session::feed_backend`]) or queue the streams
//! of many sessions on one shared connection per backend: it records how many replies each
//! queued chunk owes ([`Session::backend_owed`]) and hands the replies back in that order
//! ([`Session::feed_backend_shared`] stops at the end of a session's share). Routers cloned
//! for many sessions share one ring.
//!
//! # Run loop
//!
//! After any `&mut` call: write [`Session::client_output`] and each
//! [`Session::backend_output`] as far as the sockets take, reporting what was written with
//! `advance_*`; drain [`Session::poll_event`]; read from the client only while
//! [`Session::wants_client_read`], and from backend `i` while
//! [`Session::wants_backend_read`]; close the client once [`Session::should_close_client`].
//!
//! # Example
//!
//! ```
//! use lvs_sched::mcproxy::{DownPolicy, Router, Session, SessionConfig};
//! use lvs_sched::ring::{Distribution, HashFunction, ServerSpec, TwemproxyPool};
//!
//! let servers = ["10.0.0.1:11211:1", "10.0.0.2:11211:1"]
//!     .iter()
//!     .map(|s| ServerSpec::parse(s))
//!     .collect::<Result<Vec<_>, _>>()?;
//! let pool = TwemproxyPool::new(servers, HashFunction::Fnv1a64, Distribution::Ketama)?;
//! let router = Router::new(pool, DownPolicy::FailFast)?;
//! let (a, k) = (router.route(b"a").unwrap(), router.route(b"k1").unwrap());
//! assert_ne!(a, k, "these two keys live on different servers");
//!
//! let mut s = Session::new(router, SessionConfig::default());
//! s.feed_client(b"get a k1\r\n");
//! assert_eq!(s.backend_output(a), b"get a\r\n");
//! assert_eq!(s.backend_output(k), b"get k1\r\n");
//! s.advance_backend(a, 7);
//! s.advance_backend(k, 8);
//!
//! // The second key's server answers first, in two pieces; the client still sees key order.
//! s.feed_backend(k, b"VALUE k1 0 1\r\n");
//! s.feed_backend(k, b"K\r\nEND\r\n");
//! assert!(s.client_output().is_empty());
//! s.feed_backend(a, b"VALUE a 0 1\r\nA\r\nEND\r\n");
//! assert_eq!(s.client_output(), b"VALUE a 0 1\r\nA\r\nVALUE k1 0 1\r\nK\r\nEND\r\n");
//! s.advance_client(s.client_output().len());
//!
//! // Streaming: the first key's block goes out before the other server has answered.
//! s.feed_client(b"get a k1\r\n");
//! s.advance_backend(a, 7);
//! s.advance_backend(k, 8);
//! s.feed_backend(a, b"VALUE a 0 1\r\nA\r\nEND\r\n");
//! assert_eq!(s.client_output(), b"VALUE a 0 1\r\nA\r\n");
//! s.advance_client(s.client_output().len());
//! s.feed_backend(k, b"END\r\n");
//! assert_eq!(s.client_output(), b"END\r\n");
//! s.advance_client(s.client_output().len());
//!
//! // A dead server's keys are misses; the other keys are served.
//! s.backend_down(k);
//! s.feed_client(b"get a k1\r\n");
//! s.feed_backend(a, b"END\r\n");
//! assert_eq!(s.client_output(), b"END\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod entry;
mod reply;
mod router;
mod session;

use lvs_core::memcache::{Limits, ResponseError};

pub use router::{DownPolicy, Router, RouterError};
pub use session::Session;

/// The reply to a request whose backend is down (or failed before answering).
pub const BACKEND_UNAVAILABLE: &[u8] = b"SERVER_ERROR backend unavailable\r\n";

/// The reply to the admin commands a proxy does not pass on (`slabs`, `lru`, `lru_crawler`,
/// `watch`, `extstore`, `refresh_certs`).
pub const NOT_SUPPORTED: &[u8] = b"SERVER_ERROR command not supported by the proxy\r\n";

/// Limits and local answers of a [`Session`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Parser limits for client requests and backend replies (memcached 1.6.18's by default;
    /// [`Limits::strict`] makes the proxy hash exactly the key the server stores).
    pub limits: Limits,
    /// The text after `VERSION ` in the local reply to `version`.
    pub version: Vec<u8>,
    /// Most client requests in flight (including `noreply` ones whose reply is being
    /// swallowed) before parsing pauses.
    pub max_pending: usize,
    /// Client output bytes not yet written before parsing pauses.
    pub max_client_output: usize,
    /// Bytes queued for one backend before parsing pauses.
    pub max_backend_output: usize,
    /// Reply bytes held for reordering before parsing pauses and only the backend the oldest
    /// request waits on stays readable.
    pub max_buffered: usize,
    /// An empty buffer whose capacity exceeds this is released.
    pub shrink_above: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            version: b"1.6.18".to_vec(),
            max_pending: 1024,
            max_client_output: 1 << 20,
            max_backend_output: 1 << 20,
            max_buffered: 4 << 20,
            shrink_above: 64 << 10,
        }
    }
}

/// How a backend broke the protocol.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BackendFault {
    /// The reply did not parse (garbage, a line or value over the limits).
    #[error("malformed reply: {0}")]
    Malformed(ResponseError),
    /// Bytes arrived when no reply was owed.
    #[error("unsolicited reply")]
    Unsolicited,
    /// A reply of the wrong kind for the request (a `VALUE` to a `set` ...).
    #[error("reply does not match the request")]
    UnexpectedReply,
    /// A `VALUE` for a key that was not asked for, or out of order.
    #[error("VALUE for a key that was not requested")]
    WrongValueKey,
}

/// What [`Session::feed_backend_shared`] took from a shared backend connection's bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SharedFeed {
    /// Bytes taken (the rest belong to the next session on the connection).
    pub consumed: usize,
    /// Complete replies taken.
    pub replies: usize,
    /// The session found the backend out of protocol: fail the connection for everyone.
    pub fault: Option<BackendFault>,
}

/// Facts for the shell.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Backend `backend` broke the protocol: close its connection. It is now down for this
    /// session; reconnect and call [`Session::backend_up`].
    BackendFault {
        /// The backend index.
        backend: usize,
        /// What it did.
        fault: BackendFault,
    },
}

/// Per-session counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Well-formed client requests.
    pub requests: u64,
    /// Refused client requests (answered with memcached's error, or closing).
    pub client_errors: u64,
    /// Replies made by the proxy itself (errors, `version`, `mn` ...).
    pub local_replies: u64,
    /// Requests and sub-requests sent to backends.
    pub forwarded: u64,
    /// Multi-get sub-requests.
    pub fragments: u64,
    /// Multi-get keys answered as misses because their backend was down.
    pub keys_missed: u64,
    /// Requests answered with [`BACKEND_UNAVAILABLE`] (or dropped, for `noreply`).
    pub unavailable: u64,
    /// Backends closed for breaking the protocol.
    pub backend_faults: u64,
    /// Bytes received from a backend that was down.
    pub ignored_backend_bytes: u64,
    /// Binary-protocol connections refused.
    pub binary_refused: u64,
}
