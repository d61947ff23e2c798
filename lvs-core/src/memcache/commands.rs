//! The requests the text parser yields: classic commands and the meta command wrapper.

use super::meta::MetaRequest;
use super::text::Tokens;

/// `get`-family commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GetCommand {
    /// `get`
    Get,
    /// `gets` (values carry their CAS unique)
    Gets,
    /// `bget`, an undocumented alias of `get`
    Bget,
}

/// `gat`-family commands (get and touch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GatCommand {
    /// `gat`
    Gat,
    /// `gats`
    Gats,
}

/// Storage commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreCommand {
    /// `set`
    Set,
    /// `add`
    Add,
    /// `replace`
    Replace,
    /// `append`
    Append,
    /// `prepend`
    Prepend,
    /// `cas`
    Cas,
}

impl StoreCommand {
    /// The command name.
    pub const fn name(self) -> &'static [u8] {
        match self {
            Self::Set => b"set",
            Self::Add => b"add",
            Self::Replace => b"replace",
            Self::Append => b"append",
            Self::Prepend => b"prepend",
            Self::Cas => b"cas",
        }
    }
}

/// A storage request with its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Store<'a> {
    /// Which command.
    pub command: StoreCommand,
    /// The key.
    pub key: &'a [u8],
    /// Client flags (memcached truncates values of 2^32 and above).
    pub flags: u32,
    /// Expiry: 0 never, up to 30 days relative, above absolute; negative is already expired.
    pub exptime: i32,
    /// The CAS unique of a `cas` command (0 otherwise).
    pub cas: u64,
    /// `noreply` was given.
    pub noreply: bool,
    /// The value, without its CRLF.
    pub data: &'a [u8],
}

/// A parsed request. Keys, arguments and values borrow the parser's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `get`/`gets`/`bget <key>+`
    Get {
        /// Which command.
        command: GetCommand,
        /// The keys (at least one).
        keys: Tokens<'a>,
    },
    /// `gat`/`gats <exptime> <key>*`
    Gat {
        /// Which command.
        command: GatCommand,
        /// New expiry.
        exptime: i32,
        /// The keys (memcached accepts none and answers `END`).
        keys: Tokens<'a>,
    },
    /// `set`/`add`/`replace`/`append`/`prepend`/`cas` with its data block.
    Store(Store<'a>),
    /// `delete <key> [0] [noreply]`
    Delete {
        /// The key.
        key: &'a [u8],
        /// `noreply` was given.
        noreply: bool,
    },
    /// `incr`/`decr <key> <delta> [noreply]`
    Arithmetic {
        /// `true` for `incr`.
        incr: bool,
        /// The key.
        key: &'a [u8],
        /// The delta.
        delta: u64,
        /// `noreply` was given.
        noreply: bool,
    },
    /// `touch <key> <exptime> [noreply]`
    Touch {
        /// The key.
        key: &'a [u8],
        /// New expiry.
        exptime: i32,
        /// `noreply` was given.
        noreply: bool,
    },
    /// `flush_all [delay] [noreply]`
    FlushAll {
        /// The delay, when given.
        delay: Option<i32>,
        /// `noreply` was given.
        noreply: bool,
    },
    /// `version`
    Version,
    /// `verbosity <level> [noreply]`
    Verbosity {
        /// The level (memcached caps it at 2).
        level: u32,
        /// `noreply` was given.
        noreply: bool,
    },
    /// `cache_memlimit <megabytes> [noreply]`
    CacheMemlimit {
        /// The new limit in MiB.
        megabytes: u32,
        /// `noreply` was given.
        noreply: bool,
    },
    /// `stats [args]`
    Stats {
        /// The arguments (`items`, `slabs`, `settings`, `detail on` ...).
        args: Tokens<'a>,
    },
    /// `shutdown [graceful]` (needs `-A` on the server).
    Shutdown {
        /// The arguments.
        args: Tokens<'a>,
    },
    /// `quit`
    Quit,
    /// Admin commands memcached serves itself: `slabs`, `lru`, `lru_crawler`, `watch`,
    /// `extstore`, `refresh_certs`.
    Admin {
        /// The command name.
        command: &'a [u8],
        /// The arguments.
        args: Tokens<'a>,
    },
    /// A meta command.
    Meta(MetaRequest<'a>),
}
