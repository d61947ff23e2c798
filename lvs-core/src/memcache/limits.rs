//! Parser limits and the key policy.

/// How key bytes are checked, beyond the length limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KeyPolicy {
    /// memcached 1.6.18 exactly: any byte but space is part of a key, and a NUL ends the
    /// command line (its tokenizer uses `strlen`), so `get a\0b` asks for `a`.
    #[default]
    Memcached,
    /// Reject (with `CLIENT_ERROR bad command line format`) any command line holding a NUL, and
    /// any key holding a control byte (below 0x21, which includes TAB, or 0x7f), and, unless
    /// `allow_high_bytes`, any byte of 0x80 and above. The proxy's hash and the server then
    /// always see the same key.
    Strict {
        /// Accept bytes 0x80..=0xff (UTF-8 keys).
        allow_high_bytes: bool,
    },
}

impl KeyPolicy {
    /// Whether `key` passes this policy (length is checked separately).
    #[inline]
    pub fn accepts(self, key: &[u8]) -> bool {
        match self {
            Self::Memcached => true,
            Self::Strict { allow_high_bytes } => key
                .iter()
                .all(|&b| b > 0x20 && b != 0x7f && (allow_high_bytes || b < 0x80)),
        }
    }
}

/// Bytes memcached 1.6.18 adds to a value to size an item on LP64 with CAS enabled: the item
/// header (48) and the CAS (8); the key's terminating NUL, the 4-byte client flags suffix when
/// the flags are non-zero and the data block's CRLF are added per item (`item_make_header`).
const ITEM_OVERHEAD: usize = 48 + 8;

/// Limits for the text and binary parsers. [`Limits::default`] is memcached 1.6.18's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest key (KEY_MAX_LENGTH 250). A longer key is `CLIENT_ERROR bad command line
    /// format`.
    pub max_key_len: usize,
    /// Longest command line before its LF (the CR counts). memcached closes the connection
    /// once more than 2048 bytes are buffered without an LF; this parser applies the same rule
    /// to the line's length, so the outcome does not depend on how the bytes arrived.
    pub max_line_len: usize,
    /// Longest line for `get`/`gets` (after at most 100 leading spaces), which memcached exempts
    /// from `max_line_len` without any bound of its own; ours keeps memory bounded.
    pub max_get_line_len: usize,
    /// Item size limit (`-I`, 1 MiB by default). A storage command whose item would not fit is
    /// `SERVER_ERROR object too large for cache` and its data block is swallowed.
    pub item_size_max: usize,
    /// Longest response line a backend may send before its LF.
    pub max_response_line_len: usize,
    /// How key bytes are checked.
    pub keys: KeyPolicy,
}

impl Default for Limits {
    fn default() -> Self {
        Self::MEMCACHED_1_6_18
    }
}

impl Limits {
    /// memcached 1.6.18's defaults, and its exact error behaviour.
    pub const MEMCACHED_1_6_18: Self = Self {
        max_key_len: 250,
        max_line_len: 2048,
        max_get_line_len: 4 << 20,
        item_size_max: 1 << 20,
        max_response_line_len: 8192,
        keys: KeyPolicy::Memcached,
    };

    /// memcached 1.6.18's limits with the strict key policy.
    pub const fn strict(allow_high_bytes: bool) -> Self {
        Self {
            keys: KeyPolicy::Strict { allow_high_bytes },
            ..Self::MEMCACHED_1_6_18
        }
    }

    /// Whether an item with this key length, client flags and value length fits
    /// `item_size_max` (memcached's `item_size_ok`: with a 1-byte key and flags 0 the largest
    /// value is `item_size_max - 60`, 1,048,516 bytes by default).
    pub fn item_fits(&self, key_len: usize, flags: u32, value_len: usize) -> bool {
        let suffix = if flags == 0 { 0 } else { 4 };
        ITEM_OVERHEAD
            .saturating_add(key_len + 1 + suffix)
            .saturating_add(value_len)
            .saturating_add(2)
            <= self.item_size_max
    }
}
