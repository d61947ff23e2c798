//! The reference identifier and kiss-o'-death codes (RFC 5905 §7.3, §7.4).

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use md5::{Digest, Md5};

/// The 4-byte reference identifier. Its meaning depends on the stratum: a kiss code at 0, an
/// ASCII source name ("GPS", "PPS") at 1, the upstream server's IPv4 address (or the first four
/// octets of the MD5 hash of its IPv6 address) from 2 on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Refid([u8; 4]);

impl Refid {
    /// All zeros.
    pub const ZERO: Self = Self([0; 4]);

    /// From the raw bytes.
    pub const fn from_bytes(bytes: [u8; 4]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn to_bytes(self) -> [u8; 4] {
        self.0
    }

    /// A left-justified, zero-padded ASCII identifier of 1 to 4 printable characters, or
    /// `None` if `s` is empty, longer than 4 bytes or not printable ASCII.
    pub fn from_ascii(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > 4 || !b.iter().all(|c| (0x20..0x7f).contains(c)) {
            return None;
        }
        let mut out = [0; 4];
        out[..b.len()].copy_from_slice(b);
        Some(Self(out))
    }

    /// The identifier as ASCII text (stratum 0 and 1): 1 to 4 printable characters followed
    /// only by zero padding; `None` for anything else.
    pub fn ascii(&self) -> Option<&str> {
        let len = self.0.iter().position(|&c| c == 0).unwrap_or(4);
        if len == 0
            || !self.0[len..].iter().all(|&c| c == 0)
            || !self.0[..len].iter().all(|c| (0x20..0x7f).contains(c))
        {
            return None;
        }
        core::str::from_utf8(&self.0[..len]).ok()
    }

    /// The identifier read as an IPv4 address (stratum 2 and above).
    pub const fn ipv4(self) -> Ipv4Addr {
        Ipv4Addr::new(self.0[0], self.0[1], self.0[2], self.0[3])
    }

    /// The refid naming an IPv4 upstream.
    pub const fn from_ipv4(addr: Ipv4Addr) -> Self {
        Self(addr.octets())
    }

    /// The refid naming an IPv6 upstream: the first four octets of the MD5 hash of its address.
    pub fn from_ipv6(addr: Ipv6Addr) -> Self {
        let digest = Md5::digest(addr.octets());
        Self([digest[0], digest[1], digest[2], digest[3]])
    }

    /// The refid naming an upstream server of either family.
    pub fn from_ip(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => Self::from_ipv4(a),
            IpAddr::V6(a) => Self::from_ipv6(a),
        }
    }

    /// The kiss code this refid carries if it is ASCII (meaningful at stratum 0 only; see
    /// [`crate::wire::NtpRepr::kiss_code`]).
    pub fn kiss_code(self) -> Option<KissCode> {
        self.ascii().map(|_| KissCode::from_bytes(self.0))
    }
}

impl fmt::Display for Refid {
    /// ASCII identifiers print as text, anything else as a dotted quad.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ascii() {
            Some(s) => f.write_str(s),
            None => write!(f, "{}", self.ipv4()),
        }
    }
}

macro_rules! kiss_codes {
    ($($variant:ident = $code:literal: $doc:literal,)*) => {
        /// A kiss-o'-death code: the refid of a stratum 0 packet (RFC 5905 §7.4, RFC 8915).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum KissCode {
            $(#[doc = $doc] $variant,)*
            /// Any other code, kept as its four bytes (codes starting with `X` are
            /// experimental and to be ignored).
            Unknown([u8; 4]),
        }

        impl KissCode {
            /// Classifies four refid bytes.
            pub const fn from_bytes(bytes: [u8; 4]) -> Self {
                match &bytes {
                    $($code => Self::$variant,)*
                    _ => Self::Unknown(bytes),
                }
            }

            /// The four bytes on the wire.
            pub const fn to_bytes(self) -> [u8; 4] {
                match self {
                    $(Self::$variant => *$code,)*
                    Self::Unknown(b) => b,
                }
            }
        }
    };
}

kiss_codes! {
    Acst = b"ACST": "The association belongs to an anycast server.",
    Auth = b"AUTH": "Server authentication failed.",
    Auto = b"AUTO": "Autokey sequence failed.",
    Bcst = b"BCST": "The association belongs to a broadcast server.",
    Cryp = b"CRYP": "Cryptographic authentication or identification failed.",
    Deny = b"DENY": "Access denied by remote server: stop sending.",
    Drop = b"DROP": "Lost peer in symmetric mode.",
    Rstr = b"RSTR": "Access denied due to local policy: stop sending.",
    Init = b"INIT": "The association has not yet synchronised for the first time.",
    Mcst = b"MCST": "The association belongs to a dynamically discovered server.",
    Nkey = b"NKEY": "No key found.",
    Ntsn = b"NTSN": "NTS negative acknowledgement (RFC 8915).",
    Rate = b"RATE": "Rate exceeded: reduce the polling rate.",
    Rmot = b"RMOT": "Alteration of association from a remote host running ntpdc.",
    Step = b"STEP": "A step change in system time has occurred.",
}

impl KissCode {
    /// DENY or RSTR: the client must stop sending to this server.
    pub const fn is_access_denied(self) -> bool {
        matches!(self, Self::Deny | Self::Rstr)
    }

    /// RATE: the client must reduce its polling rate.
    pub const fn is_rate(self) -> bool {
        matches!(self, Self::Rate)
    }
}

impl fmt::Display for KissCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.to_bytes() {
            if (0x20..0x7f).contains(&b) {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_refids() {
        assert_eq!(Refid::from_ascii("GPS").unwrap().to_bytes(), *b"GPS\0");
        assert_eq!(Refid::from_bytes(*b"GPS\0").ascii(), Some("GPS"));
        assert_eq!(Refid::from_bytes(*b"XNON").ascii(), Some("XNON"));
        assert_eq!(Refid::from_bytes(*b"G\0S\0").ascii(), None);
        assert_eq!(Refid::from_bytes([0; 4]).ascii(), None);
        assert_eq!(Refid::from_bytes([0xc0, 0xa8, 0, 1]).ascii(), None);
        assert_eq!(Refid::from_ascii(""), None);
        assert_eq!(Refid::from_ascii("TOOLONG"), None);
        assert_eq!(Refid::from_ascii("é"), None);
        assert_eq!(Refid::from_bytes(*b"PPS\0").to_string(), "PPS");
        assert_eq!(Refid::from_bytes([192, 0, 2, 1]).to_string(), "192.0.2.1");
    }

    #[test]
    fn ip_refids() {
        let v4 = Ipv4Addr::new(192, 0, 2, 7);
        assert_eq!(Refid::from_ip(v4.into()).ipv4(), v4);
        // MD5 of ::1 as 16 octets is cf404dc8...; the refid is its first four octets.
        let r = Refid::from_ipv6(Ipv6Addr::LOCALHOST);
        assert_eq!(r.to_bytes(), [0xcf, 0x40, 0x4d, 0xc8]);
        assert_eq!(Refid::from_ip(Ipv6Addr::LOCALHOST.into()), r);
    }

    #[test]
    fn kiss_codes_round_trip() {
        for (bytes, code) in [
            (*b"RATE", KissCode::Rate),
            (*b"DENY", KissCode::Deny),
            (*b"RSTR", KissCode::Rstr),
            (*b"NTSN", KissCode::Ntsn),
            (*b"XFOO", KissCode::Unknown(*b"XFOO")),
        ] {
            assert_eq!(KissCode::from_bytes(bytes), code);
            assert_eq!(code.to_bytes(), bytes);
            assert_eq!(Refid::from_bytes(bytes).kiss_code(), Some(code));
        }
        assert!(KissCode::Deny.is_access_denied() && KissCode::Rstr.is_access_denied());
        assert!(!KissCode::Rate.is_access_denied() && KissCode::Rate.is_rate());
        assert_eq!(Refid::from_bytes([1, 2, 3, 4]).kiss_code(), None);
        assert_eq!(
            KissCode::Unknown([b'A', 0, 1, 0xff]).to_string(),
            "A\\x00\\x01\\xff"
        );
    }
}
