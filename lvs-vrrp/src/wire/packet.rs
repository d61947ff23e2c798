//! The zero-copy view over one VRRP message.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Family, WireError};

/// Byte offsets and ranges of the VRRP fields (RFC 3768 §5.1, RFC 5798 §5.1).
///
/// ```text
///  0               1               2               3
/// +-------+-------+---------------+---------------+---------------+
/// |Version| Type  | Virtual Rtr ID|   Priority    |  Count Addrs  |
/// +-------+-------+---------------+---------------+---------------+
/// v2: |  Auth Type    |  Adver Int (s)|          Checksum             |
/// v3: |Rsvd |  Max Adver Int (cs)     |          Checksum             |
/// +---------------------------------------------------------------+
/// |  Count x IPv4 (4 bytes) or IPv6 (16 bytes, v3 only) addresses |
/// +---------------------------------------------------------------+
/// |  v2 only: Authentication Data, 8 bytes                        |
/// +---------------------------------------------------------------+
/// ```
pub mod field {
    use core::ops::Range;

    use super::Family;

    /// Version (high nibble) and type (low nibble).
    pub const VER_TYPE: usize = 0;
    /// Virtual Router Identifier.
    pub const VRID: usize = 1;
    /// Priority.
    pub const PRIORITY: usize = 2;
    /// Count of addresses.
    pub const COUNT: usize = 3;
    /// Version 2: authentication type.
    pub const AUTH_TYPE: usize = 4;
    /// Version 2: advertisement interval in seconds.
    pub const ADVER_INT: usize = 5;
    /// Version 3: 4 reserved bits and the 12-bit Max Adver Int in centiseconds.
    pub const MAX_ADVER_INT: Range<usize> = 4..6;
    /// The checksum.
    pub const CHECKSUM: Range<usize> = 6..8;
    /// Length of the fixed header; the addresses start here.
    pub const HEADER_LEN: usize = 8;
    /// Length of the version 2 authentication data.
    pub const AUTH_DATA_LEN: usize = 8;

    /// Bytes per address of `family`.
    pub const fn addr_len(family: Family) -> usize {
        match family {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }

    /// The address list of a packet announcing `count` addresses.
    pub const fn addresses(count: u8, family: Family) -> Range<usize> {
        HEADER_LEN..HEADER_LEN + count as usize * addr_len(family)
    }

    /// The version 2 authentication data after `count` IPv4 addresses.
    pub const fn auth_data(count: u8) -> Range<usize> {
        let start = addresses(count, Family::V4).end;
        start..start + AUTH_DATA_LEN
    }

    /// The total length of a message of `version` (2 or 3) with `count` addresses.
    pub const fn packet_len(version: u8, count: u8, family: Family) -> usize {
        let end = addresses(count, family).end;
        if version == 2 {
            end + AUTH_DATA_LEN
        } else {
            end
        }
    }
}

/// A read/write view of a VRRP message in a buffer. See the [module docs](super) for the panic
/// contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrrpPacket<T: AsRef<[u8]>> {
    buffer: T,
    family: Family,
}

impl<T: AsRef<[u8]>> VrrpPacket<T> {
    /// Wrap `buffer` without any check. Accessors may panic until [`Self::check_len`] passes.
    pub const fn new_unchecked(buffer: T, family: Family) -> Self {
        Self { buffer, family }
    }

    /// Wrap `buffer` carried by an IP packet of `family` and check that every accessor is in
    /// bounds: see [`Self::check_len`].
    pub fn new_checked(buffer: T, family: Family) -> Result<Self, WireError> {
        let packet = Self::new_unchecked(buffer, family);
        packet.check_len()?;
        Ok(packet)
    }

    /// Check that the buffer holds the whole message: the header, the announced addresses and,
    /// for version 2, the authentication data. A version other than 2 or 3 is
    /// [`WireError::Version`]; version 2 over IPv6 is [`WireError::Family`]. Bytes after the
    /// message are allowed here (see [`Self::packet_len`]).
    pub fn check_len(&self) -> Result<(), WireError> {
        let data = self.buffer.as_ref();
        let Some(&ver_type) = data.first() else {
            return Err(WireError::Truncated);
        };
        if data.len() < field::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let version = ver_type >> 4;
        match (version, self.family) {
            (2, Family::V4) | (3, _) => {}
            (2, Family::V6) => return Err(WireError::Family),
            _ => return Err(WireError::Version),
        }
        if data.len() < field::packet_len(version, data[field::COUNT], self.family) {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The address family of the IP packet that carries this message.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Length of the message as its version and address count define it.
    pub fn packet_len(&self) -> usize {
        field::packet_len(self.version(), self.addr_count(), self.family)
    }

    /// The version nibble (2 or 3 after [`Self::new_checked`]).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] >> 4
    }

    /// The type nibble (1 = ADVERTISEMENT).
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] & 0x0f
    }

    /// The Virtual Router Identifier.
    pub fn vrid(&self) -> u8 {
        self.buffer.as_ref()[field::VRID]
    }

    /// The sender's priority (255 = address owner, 0 = the master is resigning).
    pub fn priority(&self) -> u8 {
        self.buffer.as_ref()[field::PRIORITY]
    }

    /// The number of addresses.
    pub fn addr_count(&self) -> u8 {
        self.buffer.as_ref()[field::COUNT]
    }

    /// Version 2: the authentication type; `None` for version 3.
    pub fn auth_type(&self) -> Option<u8> {
        (self.version() == 2).then(|| self.buffer.as_ref()[field::AUTH_TYPE])
    }

    /// Version 2: the advertisement interval in seconds; `None` for version 3.
    pub fn adver_int(&self) -> Option<u8> {
        (self.version() == 2).then(|| self.buffer.as_ref()[field::ADVER_INT])
    }

    /// Version 3: the Max Adver Int in centiseconds (12 bits; the reserved bits are masked off).
    /// On a version 2 packet this reads the same bytes as auth type and interval.
    pub fn max_adver_int(&self) -> u16 {
        self.raw_word(field::MAX_ADVER_INT.start) & super::MAX_ADVER_INT_MAX
    }

    /// Version 3: the 4 reserved bits above Max Adver Int (0 on send, ignored on receive).
    pub fn reserved(&self) -> u8 {
        self.buffer.as_ref()[field::MAX_ADVER_INT.start] >> 4
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.raw_word(field::CHECKSUM.start)
    }

    /// The raw address list (`4 * count` or `16 * count` bytes).
    pub fn addr_bytes(&self) -> &[u8] {
        &self.buffer.as_ref()[field::addresses(self.addr_count(), self.family)]
    }

    /// The addresses, in packet order.
    pub fn addresses(&self) -> impl ExactSizeIterator<Item = IpAddr> + '_ {
        let family = self.family;
        self.addr_bytes()
            .chunks_exact(field::addr_len(family))
            .map(move |c| addr_from(family, c))
    }

    /// Version 2: the 8 bytes of authentication data; `None` for version 3.
    pub fn auth_data(&self) -> Option<[u8; 8]> {
        if self.version() != 2 {
            return None;
        }
        let mut out = [0; field::AUTH_DATA_LEN];
        out.copy_from_slice(&self.buffer.as_ref()[field::auth_data(self.addr_count())]);
        Some(out)
    }

    /// The whole message (header, addresses, v2 auth data) without trailing bytes.
    pub fn message(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.packet_len()]
    }

    /// Whether the checksum verifies under `variant` for a packet from `src` to `dst`. A variant
    /// that does not apply to this version and family (see [`super::ChecksumVariant::applies`])
    /// never verifies.
    pub fn verify_checksum(
        &self,
        variant: super::ChecksumVariant,
        src: IpAddr,
        dst: IpAddr,
    ) -> bool {
        variant.applies(self.version(), self.family)
            && super::checksum::verify(variant, self.message(), src, dst)
    }

    fn raw_word(&self, at: usize) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[at], d[at + 1]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VrrpPacket<T> {
    /// Set the version nibble. Changing the version changes the message length (version 2
    /// carries 8 bytes of authentication data): call [`Self::check_len`] again before reading.
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_TYPE];
        *b = (*b & 0x0f) | (version << 4);
    }

    /// Set the type nibble.
    pub fn set_msg_type(&mut self, msg_type: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_TYPE];
        *b = (*b & 0xf0) | (msg_type & 0x0f);
    }

    /// Set the Virtual Router Identifier.
    pub fn set_vrid(&mut self, vrid: u8) {
        self.buffer.as_mut()[field::VRID] = vrid;
    }

    /// Set the priority.
    pub fn set_priority(&mut self, priority: u8) {
        self.buffer.as_mut()[field::PRIORITY] = priority;
    }

    /// Set the address count. The count fixes the message length: call [`Self::check_len`]
    /// again before reading.
    pub fn set_addr_count(&mut self, count: u8) {
        self.buffer.as_mut()[field::COUNT] = count;
    }

    /// Set the version 2 authentication type byte (byte 4).
    pub fn set_auth_type(&mut self, auth_type: u8) {
        self.buffer.as_mut()[field::AUTH_TYPE] = auth_type;
    }

    /// Set the version 2 advertisement interval in seconds (byte 5).
    pub fn set_adver_int(&mut self, seconds: u8) {
        self.buffer.as_mut()[field::ADVER_INT] = seconds;
    }

    /// Set the version 3 Max Adver Int (low 12 bits of `centis`), keeping the reserved bits.
    pub fn set_max_adver_int(&mut self, centis: u16) {
        let word = (u16::from(self.reserved()) << 12) | (centis & super::MAX_ADVER_INT_MAX);
        self.buffer.as_mut()[field::MAX_ADVER_INT].copy_from_slice(&word.to_be_bytes());
    }

    /// Set the version 3 reserved bits (low 4 bits of `bits`).
    pub fn set_reserved(&mut self, bits: u8) {
        let b = &mut self.buffer.as_mut()[field::MAX_ADVER_INT.start];
        *b = (*b & 0x0f) | (bits << 4);
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&checksum.to_be_bytes());
    }

    /// The raw address list, writable. The count field fixes its length; change the count only
    /// through a fresh [`Self::new_checked`] on a long enough buffer.
    pub fn addr_bytes_mut(&mut self) -> &mut [u8] {
        let range = field::addresses(self.addr_count(), self.family);
        &mut self.buffer.as_mut()[range]
    }

    /// Version 2: the authentication data, writable; `None` for version 3.
    pub fn auth_data_mut(&mut self) -> Option<&mut [u8]> {
        if self.version() != 2 {
            return None;
        }
        let range = field::auth_data(self.addr_count());
        Some(&mut self.buffer.as_mut()[range])
    }

    /// Compute and store the checksum under `variant` for a packet from `src` to `dst`.
    /// [`WireError::ChecksumVariant`] when the variant does not apply to this version and family.
    pub fn fill_checksum(
        &mut self,
        variant: super::ChecksumVariant,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(), WireError> {
        if !variant.applies(self.version(), self.family) {
            return Err(WireError::ChecksumVariant);
        }
        let sum = super::checksum::compute(variant, self.message(), src, dst);
        self.set_checksum(sum);
        Ok(())
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for VrrpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An address of `family` from exactly `addr_len(family)` bytes.
fn addr_from(family: Family, bytes: &[u8]) -> IpAddr {
    match family {
        Family::V4 => {
            let mut a = [0; 4];
            a.copy_from_slice(bytes);
            Ipv4Addr::from(a).into()
        }
        Family::V6 => {
            let mut a = [0; 16];
            a.copy_from_slice(bytes);
            Ipv6Addr::from(a).into()
        }
    }
}
