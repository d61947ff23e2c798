//! The owned advertisement: [`VrrpRepr`].

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{
    AUTH_NONE, AUTH_SIMPLE_TEXT, ChecksumVariant, Family, MAX_ADVER_INT_MAX, TYPE_ADVERTISEMENT,
    VrrpPacket, WireError, field,
};

/// Version 2 authentication (RFC 3768 keeps the field for RFC 2338 compatibility).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Auth {
    /// Type 0: no authentication; the 8 bytes of data are sent as zeros and ignored on receipt.
    #[default]
    None,
    /// Type 1: a simple text password, NUL-padded to 8 bytes (keepalived `auth_pass` keeps the
    /// first 8 characters).
    SimpleText([u8; 8]),
}

impl Auth {
    /// A simple text password: the first 8 bytes of `password`, NUL-padded.
    pub fn simple_text(password: &[u8]) -> Self {
        let mut data = [0; 8];
        let n = password.len().min(8);
        data[..n].copy_from_slice(&password[..n]);
        Self::SimpleText(data)
    }

    /// The authentication type byte.
    pub fn type_byte(&self) -> u8 {
        match self {
            Self::None => AUTH_NONE,
            Self::SimpleText(_) => AUTH_SIMPLE_TEXT,
        }
    }

    /// The 8 bytes of authentication data as sent.
    pub fn data(&self) -> [u8; 8] {
        match self {
            Self::None => [0; 8],
            Self::SimpleText(d) => *d,
        }
    }
}

/// The fields that differ between the versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionRepr {
    /// VRRP version 2 (IPv4 only).
    V2 {
        /// Authentication type and data.
        auth: Auth,
        /// Advertisement interval in whole seconds.
        adver_int: u8,
    },
    /// VRRP version 3.
    V3 {
        /// Max Adver Int in centiseconds, 0..=4095.
        max_adver_int: u16,
    },
}

impl VersionRepr {
    /// The version number (2 or 3).
    pub fn number(&self) -> u8 {
        match self {
            Self::V2 { .. } => 2,
            Self::V3 { .. } => 3,
        }
    }
}

/// The virtual addresses of an advertisement, of one family.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Addresses {
    /// IPv4 addresses.
    V4(Vec<Ipv4Addr>),
    /// IPv6 addresses (the first one must be the virtual router's link-local address).
    V6(Vec<Ipv6Addr>),
}

impl Addresses {
    /// The family of the addresses.
    pub fn family(&self) -> Family {
        match self {
            Self::V4(_) => Family::V4,
            Self::V6(_) => Family::V6,
        }
    }

    /// The number of addresses.
    pub fn len(&self) -> usize {
        match self {
            Self::V4(a) => a.len(),
            Self::V6(a) => a.len(),
        }
    }

    /// Whether there are no addresses.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The address at `index`.
    pub fn get(&self, index: usize) -> Option<IpAddr> {
        match self {
            Self::V4(a) => a.get(index).map(|&x| x.into()),
            Self::V6(a) => a.get(index).map(|&x| x.into()),
        }
    }

    /// The addresses as `IpAddr`s, in order.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let (v4, v6): (&[Ipv4Addr], &[Ipv6Addr]) = match self {
            Self::V4(a) => (a, &[]),
            Self::V6(a) => (&[], a),
        };
        v4.iter()
            .map(|&a| IpAddr::from(a))
            .chain(v6.iter().map(|&a| IpAddr::from(a)))
    }

    /// Whether `bytes` (a packet's raw address list) holds the same addresses as `self`, in any
    /// order, with the same count. Allocation-free; quadratic in the count (at most 255).
    pub fn same_set_as(&self, bytes: &[u8]) -> bool {
        match self {
            Self::V4(ours) => same_set(ours, bytes, |a: &Ipv4Addr| a.octets()),
            Self::V6(ours) => same_set(ours, bytes, |a: &Ipv6Addr| a.octets()),
        }
    }
}

/// [`Addresses::same_set_as`] for addresses of `N` bytes: the common case (the same list in
/// the same order) is one pass; otherwise every address of each side must be on the other.
fn same_set<A, const N: usize>(ours: &[A], bytes: &[u8], octets: impl Fn(&A) -> [u8; N]) -> bool {
    if bytes.len() != ours.len() * N {
        return false;
    }
    let theirs = || bytes.chunks_exact(N);
    if ours.iter().zip(theirs()).all(|(a, c)| octets(a)[..] == *c) {
        return true;
    }
    theirs().all(|c| ours.iter().any(|a| octets(a)[..] == *c))
        && ours.iter().all(|a| theirs().any(|c| octets(a)[..] == *c))
}

/// One VRRP advertisement, owned and validated.
///
/// ```
/// use lvs_vrrp::wire::{Addresses, Auth, ChecksumVariant, Family, VersionRepr, VrrpPacket, VrrpRepr};
///
/// let repr = VrrpRepr {
///     vrid: 51,
///     priority: 150,
///     version: VersionRepr::V2 { auth: Auth::simple_text(b"secret"), adver_int: 1 },
///     addresses: Addresses::V4(vec!["10.9.0.100".parse().unwrap()]),
/// };
/// let (src, dst) = ("10.9.0.1".parse().unwrap(), "224.0.0.18".parse().unwrap());
/// let mut buf = [0u8; 64];
/// let n = repr.emit(&mut buf, ChecksumVariant::NoPseudoHeader, src, dst).unwrap();
/// assert_eq!(n, repr.buffer_len());
/// let packet = VrrpPacket::new_checked(&buf[..n], Family::V4).unwrap();
/// assert!(packet.verify_checksum(ChecksumVariant::NoPseudoHeader, src, dst));
/// assert_eq!(VrrpRepr::parse(&packet).unwrap(), repr);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VrrpRepr {
    /// Virtual Router Identifier (1..=255 on the wire; 0 is carried but never configured).
    pub vrid: u8,
    /// Priority: 255 = address owner, 1..=254 backups, 0 = the master resigns.
    pub priority: u8,
    /// Version and its fields.
    pub version: VersionRepr,
    /// The virtual addresses; their family is the family of the carrying IP packet.
    pub addresses: Addresses,
}

impl VrrpRepr {
    /// Parse a checked view. Checks the type, the version against the family, and the v2
    /// authentication type (none or simple text). The v3 reserved bits and the v2 data of
    /// authentication type none are ignored, as the RFCs say. The checksum is **not** checked
    /// here: use [`VrrpPacket::verify_checksum`], a [`super::ChecksumLatch`] or
    /// [`crate::validate::validate`].
    pub fn parse<T: AsRef<[u8]>>(packet: &VrrpPacket<T>) -> Result<Self, WireError> {
        packet.check_len()?;
        if packet.msg_type() != TYPE_ADVERTISEMENT {
            return Err(WireError::Type);
        }
        let version = match (packet.auth_type(), packet.adver_int(), packet.auth_data()) {
            (Some(AUTH_NONE), Some(adver_int), Some(_)) => VersionRepr::V2 {
                auth: Auth::None,
                adver_int,
            },
            (Some(AUTH_SIMPLE_TEXT), Some(adver_int), Some(data)) => VersionRepr::V2 {
                auth: Auth::SimpleText(data),
                adver_int,
            },
            (Some(_), _, _) => return Err(WireError::AuthType),
            _ => VersionRepr::V3 {
                max_adver_int: packet.max_adver_int(),
            },
        };
        let raw = packet.addr_bytes();
        let addresses = match packet.family() {
            Family::V4 => Addresses::V4(
                raw.chunks_exact(4)
                    .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                    .collect(),
            ),
            Family::V6 => Addresses::V6(
                raw.chunks_exact(16)
                    .map(|c| {
                        let mut a = [0; 16];
                        a.copy_from_slice(c);
                        Ipv6Addr::from(a)
                    })
                    .collect(),
            ),
        };
        Ok(Self {
            vrid: packet.vrid(),
            priority: packet.priority(),
            version,
            addresses,
        })
    }

    /// The number of bytes [`Self::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let width = field::addr_len(self.addresses.family());
        let auth = match self.version {
            VersionRepr::V2 { .. } => field::AUTH_DATA_LEN,
            VersionRepr::V3 { .. } => 0,
        };
        field::HEADER_LEN + self.addresses.len() * width + auth
    }

    /// The family of the IP packet that must carry this advertisement.
    pub fn family(&self) -> Family {
        self.addresses.family()
    }

    /// Emit into the front of `buf` with the checksum of `variant` for a packet from `src` to
    /// `dst`; returns the number of bytes written ([`Self::buffer_len`]). Fails without writing
    /// when the repr cannot be expressed (v2 over IPv6, more than 255 addresses, a v3 interval
    /// above 4095), the variant does not apply, or `buf` is too short.
    pub fn emit(
        &self,
        buf: &mut [u8],
        variant: ChecksumVariant,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<usize, WireError> {
        let family = self.family();
        let count = u8::try_from(self.addresses.len()).map_err(|_| WireError::TooManyAddresses)?;
        let version = self.version.number();
        if version == 2 && family == Family::V6 {
            return Err(WireError::Family);
        }
        if let VersionRepr::V3 { max_adver_int } = self.version
            && max_adver_int > MAX_ADVER_INT_MAX
        {
            return Err(WireError::Interval);
        }
        if !variant.applies(version, family) {
            return Err(WireError::ChecksumVariant);
        }
        let len = self.buffer_len();
        let out = buf.get_mut(..len).ok_or(WireError::BufferTooSmall)?;
        out[field::VER_TYPE] = (version << 4) | TYPE_ADVERTISEMENT;
        out[field::VRID] = self.vrid;
        out[field::PRIORITY] = self.priority;
        out[field::COUNT] = count;
        match self.version {
            VersionRepr::V2 { auth, adver_int } => {
                out[field::AUTH_TYPE] = auth.type_byte();
                out[field::ADVER_INT] = adver_int;
                out[field::auth_data(count)].copy_from_slice(&auth.data());
            }
            VersionRepr::V3 { max_adver_int } => {
                out[field::MAX_ADVER_INT].copy_from_slice(&max_adver_int.to_be_bytes());
            }
        }
        let addr = &mut out[field::addresses(count, family)];
        match &self.addresses {
            Addresses::V4(list) => {
                for (chunk, a) in addr.chunks_exact_mut(4).zip(list) {
                    chunk.copy_from_slice(&a.octets());
                }
            }
            Addresses::V6(list) => {
                for (chunk, a) in addr.chunks_exact_mut(16).zip(list) {
                    chunk.copy_from_slice(&a.octets());
                }
            }
        }
        let mut packet = VrrpPacket::new_unchecked(out, family);
        packet.fill_checksum(variant, src, dst)?;
        Ok(len)
    }
}
