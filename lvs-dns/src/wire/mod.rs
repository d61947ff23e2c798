//! The DNS wire codec: a zero-copy message view, names with compression, EDNS(0), a
//! truncation-aware message builder and TCP framing (RFC 1035, 3597, 6891, 7766, 8914).
//!
//! # Parsing
//!
//! [`Message::parse`] validates the whole message in one linear pass before it returns: the
//! header, every question and record, every name (compression included), the RDATA layout of
//! the types whose RDATA it understands, the OPT rules and that the counts match the bytes.
//! After that the accessors and iterators are infallible and borrow the buffer; nothing is
//! allocated per record. Untrusted counts are checked against the message length before any
//! loop runs, so `ANCOUNT = 65535` over 40 bytes fails at once.
//!
//! # Panic contract
//!
//! No function in this module panics on any input, and nothing allocates in proportion to a
//! count or length read from the wire. Errors are [`WireError`] values naming the field.
//!
//! # Building
//!
//! [`MessageBuilder`] writes into a [`bytes::BytesMut`] or a fixed `&mut [u8]`
//! ([`SliceBuf`]), back-patching counts and RDLENGTH. Names are optionally compressed through
//! a small fixed [`Compressor`] table; only the RFC 1035 types get compressed RDATA names.
//! Past the size limit the builder stops adding records and sets TC.

mod buf;
mod builder;
mod edns;
mod error;
mod message;
mod name;
mod rdata;
mod tcp;

pub use buf::{OutBuf, SliceBuf};
pub use builder::{Mark, MessageBuilder, OptWriter};
pub use edns::{
    DEFAULT_PAYLOAD, Ede, Edns, EdnsOption, EdnsOptions, MAX_PAYLOAD, MIN_PAYLOAD,
    advertised_payload, option, reply_payload_limit,
};
pub use error::{Section, WireError};
pub use message::{Flags, Header, Message, Question, Questions, Record, Records};
pub use name::{
    COMPRESSION_ENTRIES, Compressor, Labels, MAX_LABEL_LEN, MAX_LABELS, MAX_NAME_LEN,
    MAX_POINTER_HOPS, Name, NameBuf,
};
pub use rdata::{CharStrings, RData, Soa};
pub use tcp::{Frame, MAX_FRAME, TcpDecoder, frame_prefix};

/// Length of the fixed DNS header.
pub const HEADER_LEN: usize = 12;

/// Record TYPE values used by this crate (IANA "Resource Record (RR) TYPEs").
pub mod rtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Authoritative name server.
    pub const NS: u16 = 2;
    /// Mail destination (obsolete).
    pub const MD: u16 = 3;
    /// Mail forwarder (obsolete).
    pub const MF: u16 = 4;
    /// Canonical name.
    pub const CNAME: u16 = 5;
    /// Start of a zone of authority.
    pub const SOA: u16 = 6;
    /// Mailbox domain name (experimental).
    pub const MB: u16 = 7;
    /// Mail group member (experimental).
    pub const MG: u16 = 8;
    /// Mail rename domain name (experimental).
    pub const MR: u16 = 9;
    /// Null RR (opaque).
    pub const NULL: u16 = 10;
    /// Domain name pointer.
    pub const PTR: u16 = 12;
    /// Host information (two character-strings).
    pub const HINFO: u16 = 13;
    /// Mailbox information.
    pub const MINFO: u16 = 14;
    /// Mail exchange.
    pub const MX: u16 = 15;
    /// Text strings.
    pub const TXT: u16 = 16;
    /// Responsible person (RFC 1183).
    pub const RP: u16 = 17;
    /// AFS database location (RFC 1183).
    pub const AFSDB: u16 = 18;
    /// Route through (RFC 1183).
    pub const RT: u16 = 21;
    /// X.400 mapping (RFC 2163).
    pub const PX: u16 = 26;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// Server selection (RFC 2782).
    pub const SRV: u16 = 33;
    /// EDNS(0) pseudo-record (RFC 6891).
    pub const OPT: u16 = 41;
    /// Delegation name (RFC 6672).
    pub const DNAME: u16 = 39;
    /// Delegation signer (RFC 4034).
    pub const DS: u16 = 43;
    /// DNSSEC signature.
    pub const RRSIG: u16 = 46;
    /// Authenticated denial of existence (RFC 4034).
    pub const NSEC: u16 = 47;
    /// DNSSEC public key (RFC 4034).
    pub const DNSKEY: u16 = 48;
    /// Hashed authenticated denial of existence (RFC 5155).
    pub const NSEC3: u16 = 50;
    /// Any type (query only).
    pub const ANY: u16 = 255;
}

/// CLASS values.
pub mod class {
    /// The Internet.
    pub const IN: u16 = 1;
    /// Chaos.
    pub const CH: u16 = 3;
    /// NONE (RFC 2136 updates).
    pub const NONE: u16 = 254;
    /// ANY (queries, RFC 2136 updates).
    pub const ANY: u16 = 255;
}

/// OPCODE values (4 bits).
pub mod opcode {
    /// Standard query.
    pub const QUERY: u8 = 0;
    /// Inverse query (obsolete).
    pub const IQUERY: u8 = 1;
    /// Server status.
    pub const STATUS: u8 = 2;
    /// Zone change notification (RFC 1996).
    pub const NOTIFY: u8 = 4;
    /// Dynamic update (RFC 2136).
    pub const UPDATE: u8 = 5;
    /// DNS stateful operations (RFC 8490).
    pub const DSO: u8 = 6;
}

/// RCODE values; those above 15 need an OPT record for their upper 8 bits.
pub mod rcode {
    /// No error.
    pub const NOERROR: u16 = 0;
    /// Format error.
    pub const FORMERR: u16 = 1;
    /// Server failure.
    pub const SERVFAIL: u16 = 2;
    /// Name does not exist.
    pub const NXDOMAIN: u16 = 3;
    /// Not implemented.
    pub const NOTIMP: u16 = 4;
    /// Refused.
    pub const REFUSED: u16 = 5;
    /// Bad EDNS version (extended).
    pub const BADVERS: u16 = 16;
    /// Bad or missing server cookie (extended).
    pub const BADCOOKIE: u16 = 23;
}
