//! Error types: what was wrong, and the exact bytes memcached 1.6.18 replies with.

/// Why a request was refused. Each kind maps to memcached 1.6.18's reply line.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ErrorKind {
    /// Unknown or upper-case command, wrong token count, empty line, line starting with NUL:
    /// `ERROR`.
    #[error("unknown command or wrong number of tokens")]
    Error,
    /// `CLIENT_ERROR bad command line format` (key too long, bad number, missing argument).
    #[error("bad command line format")]
    BadFormat,
    /// `delete` with arguments other than a `0` hold time and/or `noreply`.
    #[error("bad delete arguments")]
    DeleteUsage,
    /// `CLIENT_ERROR invalid exptime argument` (touch, gat, gats, flush_all).
    #[error("invalid exptime argument")]
    InvalidExptime,
    /// `CLIENT_ERROR invalid numeric delta argument` (incr, decr).
    #[error("invalid numeric delta argument")]
    InvalidDelta,
    /// The data block did not end with CRLF: `CLIENT_ERROR bad data chunk`.
    #[error("bad data chunk")]
    BadDataChunk,
    /// The item would not fit: `SERVER_ERROR object too large for cache`; the data block is
    /// swallowed.
    #[error("object too large for cache")]
    TooLarge,
    /// `mg` with more than 20 tokens: `CLIENT_ERROR options flags are too long`.
    #[error("options flags are too long")]
    MgFlagsTooLong,
    /// `ms`, `md`, `ma` with more than 20 tokens: `CLIENT_ERROR options flags too long`.
    #[error("options flags too long")]
    FlagsTooLong,
    /// A repeated meta flag, or a flag byte of 127 or above: `CLIENT_ERROR duplicate flag`.
    #[error("duplicate flag")]
    DuplicateFlag,
    /// An unknown meta flag (`mg`, `ms`): `CLIENT_ERROR invalid flag`.
    #[error("invalid flag")]
    InvalidFlag,
    /// Any flag error in `md` or `ma`: `CLIENT_ERROR invalid or duplicate flag`.
    #[error("invalid or duplicate flag")]
    InvalidOrDuplicateFlag,
    /// A `b` key that is not base64: `CLIENT_ERROR error decoding key`.
    #[error("error decoding key")]
    DecodingKey,
    /// A bad number after `N`, `T`, `R` or `C`: `CLIENT_ERROR bad token in command line format`.
    #[error("bad token in command line format")]
    BadToken,
    /// An `M` flag whose token is not one byte: `CLIENT_ERROR incorrect length for M token`.
    #[error("incorrect length for M token")]
    MTokenLength,
    /// A bad `J` number: `CLIENT_ERROR invalid numeric initial value`.
    #[error("invalid numeric initial value")]
    InvalidInitial,
    /// A bad `D` number: `CLIENT_ERROR invalid numeric delta value`.
    #[error("invalid numeric delta value")]
    InvalidDeltaValue,
    /// An unknown `ms` mode: `CLIENT_ERROR invalid mode for ms M token`.
    #[error("invalid mode for ms M token")]
    InvalidMsMode,
    /// An unknown `ma` mode: `CLIENT_ERROR invalid mode for ma M token`.
    #[error("invalid mode for ma M token")]
    InvalidMaMode,
    /// An `O` token longer than 32 bytes (flag byte included): `CLIENT_ERROR opaque token too
    /// long`.
    #[error("opaque token too long")]
    OpaqueTooLong,
    /// Strict key policy: a NUL in the line or a refused key byte. Replied to as
    /// `CLIENT_ERROR bad command line format`.
    #[error("key byte refused by the strict key policy")]
    StrictKey,
    /// The line exceeded its length limit without an LF: memcached closes the connection.
    #[error("command line too long")]
    LineTooLong,
    /// An unknown command whose last token starts with `HTTP/`: memcached closes silently.
    #[error("HTTP request on the memcached port")]
    Http,
}

impl ErrorKind {
    /// memcached 1.6.18's reply line for this error, CRLF included; empty when memcached closes
    /// the connection instead of replying.
    pub const fn reply(self) -> &'static [u8] {
        match self {
            Self::Error => b"ERROR\r\n",
            Self::BadFormat | Self::StrictKey => b"CLIENT_ERROR bad command line format\r\n",
            Self::DeleteUsage => {
                b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
            }
            Self::InvalidExptime => b"CLIENT_ERROR invalid exptime argument\r\n",
            Self::InvalidDelta => b"CLIENT_ERROR invalid numeric delta argument\r\n",
            Self::BadDataChunk => b"CLIENT_ERROR bad data chunk\r\n",
            Self::TooLarge => b"SERVER_ERROR object too large for cache\r\n",
            Self::MgFlagsTooLong => b"CLIENT_ERROR options flags are too long\r\n",
            Self::FlagsTooLong => b"CLIENT_ERROR options flags too long\r\n",
            Self::DuplicateFlag => b"CLIENT_ERROR duplicate flag\r\n",
            Self::InvalidFlag => b"CLIENT_ERROR invalid flag\r\n",
            Self::InvalidOrDuplicateFlag => b"CLIENT_ERROR invalid or duplicate flag\r\n",
            Self::DecodingKey => b"CLIENT_ERROR error decoding key\r\n",
            Self::BadToken => b"CLIENT_ERROR bad token in command line format\r\n",
            Self::MTokenLength => b"CLIENT_ERROR incorrect length for M token\r\n",
            Self::InvalidInitial => b"CLIENT_ERROR invalid numeric initial value\r\n",
            Self::InvalidDeltaValue => b"CLIENT_ERROR invalid numeric delta value\r\n",
            Self::InvalidMsMode => b"CLIENT_ERROR invalid mode for ms M token\r\n",
            Self::InvalidMaMode => b"CLIENT_ERROR invalid mode for ma M token\r\n",
            Self::OpaqueTooLong => b"CLIENT_ERROR opaque token too long\r\n",
            Self::LineTooLong | Self::Http => b"",
        }
    }

    /// Whether memcached closes the connection (parsing cannot go on).
    pub const fn closes_connection(self) -> bool {
        matches!(self, Self::LineTooLong | Self::Http)
    }
}

/// A refused request: its [`ErrorKind`] and whether the client asked for `noreply` (memcached
/// then suppresses even most error replies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{kind}")]
pub struct RequestError {
    kind: ErrorKind,
    noreply: bool,
}

impl RequestError {
    pub(crate) const fn new(kind: ErrorKind, noreply: bool) -> Self {
        Self { kind, noreply }
    }

    /// What was wrong.
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether the request carried `noreply` (classic commands only; meta errors are always
    /// sent).
    pub const fn noreply(&self) -> bool {
        self.noreply
    }

    /// The exact bytes memcached 1.6.18 writes back for this request: the error line, or
    /// nothing when `noreply` suppressed it or when the connection is closed.
    pub const fn reply_bytes(&self) -> &'static [u8] {
        if self.noreply { b"" } else { self.kind.reply() }
    }

    /// Whether the connection must be closed: parsing cannot continue on this stream.
    pub const fn closes_connection(&self) -> bool {
        self.kind.closes_connection()
    }
}

/// Why a backend's response was refused. Every response error means the stream can no longer
/// be trusted: close the backend connection.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ResponseError {
    /// A response line longer than `max_response_line_len`.
    #[error("response line too long")]
    LineTooLong,
    /// A line that is no known response.
    #[error("unknown response line")]
    Unknown,
    /// A `VALUE` or `VA` line with missing or malformed fields.
    #[error("malformed value header")]
    BadValueHeader,
    /// A `VALUE` key longer than the key limit.
    #[error("value key too long")]
    KeyTooLong,
    /// A value larger than the item size limit.
    #[error("value too large")]
    ValueTooLarge,
    /// A value block not followed by CRLF (wrong length).
    #[error("value block not terminated by CRLF")]
    BadDataChunk,
    /// A malformed `STAT` line.
    #[error("malformed STAT line")]
    BadStat,
}
