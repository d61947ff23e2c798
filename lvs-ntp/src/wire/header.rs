//! The 48-byte NTP header: the [`NtpPacket`] view and the owned [`NtpRepr`].

use super::{KissCode, Refid, WireError};
use crate::time::{NtpShort, NtpTimestamp};

/// Length of the NTP header in octets.
pub const HEADER_LEN: usize = 48;

/// Byte offsets and ranges of the header fields.
pub mod field {
    use core::ops::Range;

    /// Leap indicator (2 bits), version (3 bits) and mode (3 bits).
    pub const LI_VN_MODE: usize = 0;
    /// Stratum.
    pub const STRATUM: usize = 1;
    /// Poll exponent (signed log2 seconds).
    pub const POLL: usize = 2;
    /// Precision exponent (signed log2 seconds).
    pub const PRECISION: usize = 3;
    /// Root delay, short format.
    pub const ROOT_DELAY: Range<usize> = 4..8;
    /// Root dispersion, short format.
    pub const ROOT_DISPERSION: Range<usize> = 8..12;
    /// Reference identifier.
    pub const REFERENCE_ID: Range<usize> = 12..16;
    /// Reference timestamp.
    pub const REFERENCE_TS: Range<usize> = 16..24;
    /// Origin timestamp (T1 as the server saw it).
    pub const ORIGIN_TS: Range<usize> = 24..32;
    /// Receive timestamp (T2).
    pub const RECEIVE_TS: Range<usize> = 32..40;
    /// Transmit timestamp (T3).
    pub const TRANSMIT_TS: Range<usize> = 40..48;
    /// Extension fields and MAC, after the header.
    pub const TRAILER: core::ops::RangeFrom<usize> = 48..;
}

/// The leap indicator: a warning of an impending leap second, or the alarm condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum LeapIndicator {
    /// No warning.
    #[default]
    NoWarning,
    /// The last minute of the day has 61 seconds.
    InsertSecond,
    /// The last minute of the day has 59 seconds.
    DeleteSecond,
    /// Clock unsynchronised (alarm).
    Unsynchronized,
}

impl LeapIndicator {
    /// From the 2-bit field value (higher bits ignored).
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => Self::NoWarning,
            1 => Self::InsertSecond,
            2 => Self::DeleteSecond,
            _ => Self::Unsynchronized,
        }
    }

    /// The 2-bit field value.
    pub const fn to_bits(self) -> u8 {
        self as u8
    }
}

/// The association mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// 0: reserved.
    Reserved,
    /// 1: symmetric active.
    SymmetricActive,
    /// 2: symmetric passive.
    SymmetricPassive,
    /// 3: client.
    Client,
    /// 4: server.
    Server,
    /// 5: broadcast.
    Broadcast,
    /// 6: NTP control message (`ntpq`); a different header format.
    Control,
    /// 7: private use (`ntpdc`); a different header format.
    Private,
}

impl Mode {
    /// From the 3-bit field value (higher bits ignored).
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 7 {
            0 => Self::Reserved,
            1 => Self::SymmetricActive,
            2 => Self::SymmetricPassive,
            3 => Self::Client,
            4 => Self::Server,
            5 => Self::Broadcast,
            6 => Self::Control,
            _ => Self::Private,
        }
    }

    /// The 3-bit field value.
    pub const fn to_bits(self) -> u8 {
        self as u8
    }
}

/// A zero-copy view over an NTP header at the start of `T`. See the [module docs](super) for
/// the panic contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NtpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    (u64::from(be32(b, at)) << 32) | u64::from(be32(b, at + 4))
}

impl<T: AsRef<[u8]>> NtpPacket<T> {
    /// Wraps `buffer` without checking its length; accessors panic if it is shorter than
    /// [`HEADER_LEN`].
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps `buffer` after checking that it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds a whole header.
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Leap indicator.
    pub fn leap(&self) -> LeapIndicator {
        LeapIndicator::from_bits(self.b()[field::LI_VN_MODE] >> 6)
    }

    /// Version number (0..=7 as found on the wire).
    pub fn version(&self) -> u8 {
        (self.b()[field::LI_VN_MODE] >> 3) & 7
    }

    /// Mode.
    pub fn mode(&self) -> Mode {
        Mode::from_bits(self.b()[field::LI_VN_MODE])
    }

    /// Stratum.
    pub fn stratum(&self) -> u8 {
        self.b()[field::STRATUM]
    }

    /// Poll exponent.
    pub fn poll(&self) -> i8 {
        self.b()[field::POLL] as i8
    }

    /// Precision exponent.
    pub fn precision(&self) -> i8 {
        self.b()[field::PRECISION] as i8
    }

    /// Root delay.
    pub fn root_delay(&self) -> NtpShort {
        NtpShort::from_bits(be32(self.b(), field::ROOT_DELAY.start))
    }

    /// Root dispersion.
    pub fn root_dispersion(&self) -> NtpShort {
        NtpShort::from_bits(be32(self.b(), field::ROOT_DISPERSION.start))
    }

    /// Reference identifier.
    pub fn refid(&self) -> Refid {
        let b = self.b();
        let s = field::REFERENCE_ID.start;
        Refid::from_bytes([b[s], b[s + 1], b[s + 2], b[s + 3]])
    }

    /// Reference timestamp.
    pub fn reference_timestamp(&self) -> NtpTimestamp {
        NtpTimestamp::from_bits(be64(self.b(), field::REFERENCE_TS.start))
    }

    /// Origin timestamp.
    pub fn origin_timestamp(&self) -> NtpTimestamp {
        NtpTimestamp::from_bits(be64(self.b(), field::ORIGIN_TS.start))
    }

    /// Receive timestamp.
    pub fn receive_timestamp(&self) -> NtpTimestamp {
        NtpTimestamp::from_bits(be64(self.b(), field::RECEIVE_TS.start))
    }

    /// Transmit timestamp.
    pub fn transmit_timestamp(&self) -> NtpTimestamp {
        NtpTimestamp::from_bits(be64(self.b(), field::TRANSMIT_TS.start))
    }

    /// The bytes after the header: extension fields and MAC, if any.
    pub fn trailer(&self) -> &[u8] {
        &self.b()[field::TRAILER]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> NtpPacket<T> {
    fn m(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    fn set_first(&mut self, mask: u8, value: u8) {
        let b = &mut self.m()[field::LI_VN_MODE];
        *b = (*b & !mask) | (value & mask);
    }

    /// Sets the leap indicator.
    pub fn set_leap(&mut self, leap: LeapIndicator) {
        self.set_first(0xc0, leap.to_bits() << 6);
    }

    /// Sets the version number (low 3 bits of `version`).
    pub fn set_version(&mut self, version: u8) {
        self.set_first(0x38, version << 3);
    }

    /// Sets the mode.
    pub fn set_mode(&mut self, mode: Mode) {
        self.set_first(0x07, mode.to_bits());
    }

    /// Sets the stratum.
    pub fn set_stratum(&mut self, stratum: u8) {
        self.m()[field::STRATUM] = stratum;
    }

    /// Sets the poll exponent.
    pub fn set_poll(&mut self, poll: i8) {
        self.m()[field::POLL] = poll as u8;
    }

    /// Sets the precision exponent.
    pub fn set_precision(&mut self, precision: i8) {
        self.m()[field::PRECISION] = precision as u8;
    }

    /// Sets the root delay.
    pub fn set_root_delay(&mut self, v: NtpShort) {
        self.m()[field::ROOT_DELAY].copy_from_slice(&v.to_bits().to_be_bytes());
    }

    /// Sets the root dispersion.
    pub fn set_root_dispersion(&mut self, v: NtpShort) {
        self.m()[field::ROOT_DISPERSION].copy_from_slice(&v.to_bits().to_be_bytes());
    }

    /// Sets the reference identifier.
    pub fn set_refid(&mut self, refid: Refid) {
        self.m()[field::REFERENCE_ID].copy_from_slice(&refid.to_bytes());
    }

    /// Sets the reference timestamp.
    pub fn set_reference_timestamp(&mut self, t: NtpTimestamp) {
        self.m()[field::REFERENCE_TS].copy_from_slice(&t.to_bits().to_be_bytes());
    }

    /// Sets the origin timestamp.
    pub fn set_origin_timestamp(&mut self, t: NtpTimestamp) {
        self.m()[field::ORIGIN_TS].copy_from_slice(&t.to_bits().to_be_bytes());
    }

    /// Sets the receive timestamp.
    pub fn set_receive_timestamp(&mut self, t: NtpTimestamp) {
        self.m()[field::RECEIVE_TS].copy_from_slice(&t.to_bits().to_be_bytes());
    }

    /// Sets the transmit timestamp.
    pub fn set_transmit_timestamp(&mut self, t: NtpTimestamp) {
        self.m()[field::TRANSMIT_TS].copy_from_slice(&t.to_bits().to_be_bytes());
    }
}

/// An owned, validated NTP header (modes 1-5, versions 1-4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NtpRepr {
    /// Leap indicator.
    pub leap: LeapIndicator,
    /// Version, 1..=4.
    pub version: u8,
    /// Mode: never [`Mode::Reserved`], [`Mode::Control`] or [`Mode::Private`] after parsing.
    pub mode: Mode,
    /// Stratum (0 = unspecified or kiss-o'-death, 16 = unsynchronised).
    pub stratum: u8,
    /// Poll exponent, log2 seconds.
    pub poll: i8,
    /// Precision exponent, log2 seconds.
    pub precision: i8,
    /// Total round-trip delay to the primary source.
    pub root_delay: NtpShort,
    /// Total dispersion to the primary source.
    pub root_dispersion: NtpShort,
    /// Reference identifier (kiss code at stratum 0, source at 1, upstream address from 2).
    pub refid: Refid,
    /// When the clock was last set or corrected.
    pub reference: NtpTimestamp,
    /// Origin: the peer's transmit timestamp echoed back (T1).
    pub origin: NtpTimestamp,
    /// When the request arrived at the server (T2).
    pub receive: NtpTimestamp,
    /// When the packet left its sender (T3); a client's random nonce in requests.
    pub transmit: NtpTimestamp,
}

impl NtpRepr {
    /// A minimal NTPv4 client request: every field zero except version, mode, poll and
    /// `transmit` (the nonce the reply must echo as its origin).
    pub const fn client_request(transmit: NtpTimestamp, poll: i8) -> Self {
        Self {
            leap: LeapIndicator::NoWarning,
            version: 4,
            mode: Mode::Client,
            stratum: 0,
            poll,
            precision: 0,
            root_delay: NtpShort::ZERO,
            root_dispersion: NtpShort::ZERO,
            refid: Refid::ZERO,
            reference: NtpTimestamp::ZERO,
            origin: NtpTimestamp::ZERO,
            receive: NtpTimestamp::ZERO,
            transmit,
        }
    }

    /// Parses and validates the header of `packet` (the trailer is not looked at).
    pub fn parse<T: AsRef<[u8]>>(packet: &NtpPacket<T>) -> Result<Self, WireError> {
        packet.check_len()?;
        let version = packet.version();
        if !(1..=4).contains(&version) {
            return Err(WireError::Version(version));
        }
        let mode = packet.mode();
        if matches!(mode, Mode::Reserved | Mode::Control | Mode::Private) {
            return Err(WireError::Mode(mode.to_bits()));
        }
        Ok(Self {
            leap: packet.leap(),
            version,
            mode,
            stratum: packet.stratum(),
            poll: packet.poll(),
            precision: packet.precision(),
            root_delay: packet.root_delay(),
            root_dispersion: packet.root_dispersion(),
            refid: packet.refid(),
            reference: packet.reference_timestamp(),
            origin: packet.origin_timestamp(),
            receive: packet.receive_timestamp(),
            transmit: packet.transmit_timestamp(),
        })
    }

    /// Length of the emitted header.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes every header field into `packet` (whose length was checked).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut NtpPacket<T>) {
        packet.set_leap(self.leap);
        packet.set_version(self.version);
        packet.set_mode(self.mode);
        packet.set_stratum(self.stratum);
        packet.set_poll(self.poll);
        packet.set_precision(self.precision);
        packet.set_root_delay(self.root_delay);
        packet.set_root_dispersion(self.root_dispersion);
        packet.set_refid(self.refid);
        packet.set_reference_timestamp(self.reference);
        packet.set_origin_timestamp(self.origin);
        packet.set_receive_timestamp(self.receive);
        packet.set_transmit_timestamp(self.transmit);
    }

    /// Writes the header at the start of `out`; returns [`HEADER_LEN`].
    pub fn emit_into(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let mut packet = NtpPacket::new_checked(out).map_err(|_| WireError::BufferTooSmall)?;
        self.emit(&mut packet);
        Ok(HEADER_LEN)
    }

    /// The kiss-o'-death code, if this is a stratum 0 packet whose refid is ASCII.
    pub fn kiss_code(&self) -> Option<KissCode> {
        if self.stratum == 0 {
            self.refid.kiss_code()
        } else {
            None
        }
    }
}
