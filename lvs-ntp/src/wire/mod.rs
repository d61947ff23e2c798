//! The NTP packet codec (RFC 5905 §7.3, RFC 7822), smoltcp style.
//!
//! * [`NtpPacket`] is a zero-copy view over the 48-byte header of a caller buffer, with a getter
//!   and (for mutable buffers) a setter per field; [`field`] names the byte ranges.
//! * [`NtpRepr`] is the owned, validated header with [`NtpRepr::parse`] and [`NtpRepr::emit`].
//! * [`NtpMessage`] is a whole datagram: the header, the RFC 7822 [`ExtensionFields`] and an
//!   optional [`Mac`] trailer, parsed without copying and emitted into a caller buffer.
//! * [`Refid`] and [`KissCode`] interpret the reference identifier.
//!
//! # Panic contract
//!
//! [`NtpPacket::new_unchecked`] accepts any buffer; its accessors panic if the buffer is shorter
//! than [`HEADER_LEN`]. After [`NtpPacket::new_checked`] (or [`NtpPacket::check_len`]) succeeds,
//! no accessor or setter panics. Everything else in this module is total: malformed input is
//! reported as a [`WireError`] that names the field that failed, never a panic, and nothing
//! allocates.

mod ext;
mod header;
mod refid;

pub use ext::{
    EXTENSION_MIN_LEN, ExtensionField, ExtensionFields, ExtensionIter, LAST_EXTENSION_MIN_LEN,
    MAX_EXTENSION_FIELDS, MAX_MAC_LEN, Mac, NtpMessage, emit_extension,
};
pub use header::{HEADER_LEN, LeapIndicator, Mode, NtpPacket, NtpRepr, field};
pub use refid::{KissCode, Refid};

/// Why bytes could not be parsed as, or emitted into, an NTP packet. Each variant names the
/// field that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Fewer bytes than the 48-byte header.
    #[error("packet shorter than the 48-byte NTP header")]
    Truncated,
    /// The version number is outside 1..=4.
    #[error("unsupported NTP version {0}")]
    Version(u8),
    /// A mode this header format does not describe (0 reserved, 6 control, 7 private).
    #[error("mode {0} does not use the NTP time header")]
    Mode(u8),
    /// An extension field length below 16 octets or not a multiple of 4.
    #[error("extension field length {0} is below 16 or not a multiple of 4")]
    ExtensionLength(u16),
    /// An extension field length that runs past the end of the datagram.
    #[error("extension field runs past the end of the packet")]
    ExtensionOverrun,
    /// More extension fields than [`MAX_EXTENSION_FIELDS`].
    #[error("too many extension fields")]
    TooManyExtensions,
    /// Trailing bytes after the extension fields that are not a 4, 20 or 24-byte MAC.
    #[error("{0} trailing bytes are not a valid MAC")]
    MacLength(u8),
    /// A 4-byte MAC whose key identifier is not zero (only the crypto-NAK is 4 bytes).
    #[error("4-byte MAC with a non-zero key identifier")]
    CryptoNak,
    /// Without a MAC, the last extension field must be at least 28 octets (RFC 7822 §7.5);
    /// a shorter one would be read back as a MAC.
    #[error("last extension field shorter than 28 octets without a MAC")]
    LastExtensionTooShort,
    /// An extension value or MAC digest too long for its length field.
    #[error("extension value or MAC digest too long")]
    ValueTooLong,
    /// The output buffer cannot hold the packet.
    #[error("output buffer too small")]
    BufferTooSmall,
}
