//! The codec's one error type.

/// A message section, as named in errors and used by the builder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    /// The question section (QDCOUNT entries).
    Question,
    /// The answer section (ANCOUNT records).
    Answer,
    /// The authority section (NSCOUNT records).
    Authority,
    /// The additional section (ARCOUNT records).
    Additional,
}

impl Section {
    /// All four sections in wire order.
    pub const ALL: [Self; 4] = [
        Self::Question,
        Self::Answer,
        Self::Authority,
        Self::Additional,
    ];

    /// Position in wire order (question = 0).
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Why decoding or encoding a DNS message failed. Every variant names the field at fault; none
/// carries data from the packet.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum WireError {
    /// Fewer than 12 bytes: no complete header.
    #[error("message shorter than the 12-byte header")]
    ShortHeader,
    /// A section's count promises more entries than the remaining bytes could possibly hold.
    #[error("{0:?} count larger than the message")]
    CountTooLarge(Section),
    /// A name ran past the end of the message (or of its record's RDATA).
    #[error("name truncated")]
    NameTruncated,
    /// A label longer than 63 octets.
    #[error("label longer than 63 octets")]
    LabelTooLong,
    /// A name longer than 255 octets in uncompressed wire form.
    #[error("name longer than 255 octets")]
    NameTooLong,
    /// A length byte with the reserved top bits 01 or 10 (extended/binary labels).
    #[error("reserved label type")]
    ReservedLabelType,
    /// A compression pointer that does not point strictly before the part of the name that
    /// contains it (a forward pointer, a self pointer or a loop).
    #[error("compression pointer not strictly backward")]
    PointerNotBackward,
    /// A compression pointer into the 12-byte header.
    #[error("compression pointer into the header")]
    PointerIntoHeader,
    /// A compression pointer where none is allowed (a standalone wire-form name).
    #[error("compression pointer outside a message")]
    PointerNotAllowed,
    /// More compression pointers in one name than the hop limit.
    #[error("too many compression pointers in one name")]
    TooManyPointers,
    /// A question's QTYPE/QCLASS ran past the end.
    #[error("question truncated")]
    QuestionTruncated,
    /// A record's TYPE/CLASS/TTL/RDLENGTH ran past the end.
    #[error("record header truncated")]
    RecordTruncated,
    /// RDLENGTH runs past the end of the message.
    #[error("RDATA runs past the end of the message")]
    RdataTruncated,
    /// The RDATA of a known type does not have the layout its type requires (A not 4 bytes,
    /// AAAA not 16, a name or fixed field that does not exactly fill RDLENGTH, a malformed TXT).
    #[error("RDATA malformed for its type")]
    RdataMalformed,
    /// Bytes left over after the last record that the counts announce.
    #[error("trailing bytes after the last record")]
    TrailingBytes,
    /// An OPT record outside the additional section.
    #[error("OPT record outside the additional section")]
    OptNotInAdditional,
    /// More than one OPT record.
    #[error("more than one OPT record")]
    MultipleOpt,
    /// An OPT record whose owner is not the root.
    #[error("OPT owner is not the root")]
    OptOwnerNotRoot,
    /// An EDNS option whose length runs past the OPT RDATA.
    #[error("EDNS option truncated")]
    OptionTruncated,
    /// An Extended DNS Error option shorter than its 2-byte INFO-CODE.
    #[error("extended DNS error option too short")]
    EdeTooShort,
    /// Text that is not a valid domain name (empty label, bad escape).
    #[error("malformed name text")]
    NameText,
    /// The output buffer or the size limit has no room for this item.
    #[error("no room left in the message")]
    NoSpace,
    /// A section was written after a later one, or a question after a record.
    #[error("sections written out of order")]
    SectionOrder,
    /// A section already holds 65535 entries.
    #[error("section count overflow")]
    CountOverflow,
    /// An extended RCODE (> 15) was set but the message has no OPT record to carry it.
    #[error("extended RCODE without an OPT record")]
    ExtendedRcodeWithoutOpt,
    /// A TCP frame announcing a zero-length message.
    #[error("zero-length TCP frame")]
    ZeroLengthFrame,
}
