//! The `_auth` section: HMAC over the bytes after it, carried as base64 text.
//!
//! * HMAC-MD5: `_auth { hmd5: 22 base64 characters }` (the 24-character encoding of the
//!   16-byte digest without its `==` padding).
//! * Every SHA variant: `_auth { hsha: algorithm byte, then 88 bytes }` holding the base64 text
//!   of the digest followed by zero bytes.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};

use super::RndcError;
use super::codec::{self, Table};

const HMD5_LEN: usize = 22;
const HSHA_LEN: usize = 88;

/// A control-channel HMAC algorithm, numbered as ISCCC numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `hmac-md5` (157).
    Md5,
    /// `hmac-sha1` (161).
    Sha1,
    /// `hmac-sha224` (162).
    Sha224,
    /// `hmac-sha256` (163).
    Sha256,
    /// `hmac-sha384` (164).
    Sha384,
    /// `hmac-sha512` (165).
    Sha512,
}

impl Algorithm {
    /// The algorithm named as in named.conf (`hmac-sha256`), case-insensitive.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "hmac-md5" | "hmac-md5.sig-alg.reg.int" | "hmac-md5.sig-alg.reg.int." => Self::Md5,
            "hmac-sha1" => Self::Sha1,
            "hmac-sha224" => Self::Sha224,
            "hmac-sha256" => Self::Sha256,
            "hmac-sha384" => Self::Sha384,
            "hmac-sha512" => Self::Sha512,
            _ => return None,
        })
    }

    /// The number carried in the first byte of `hsha` (MD5 has none on the wire).
    pub fn code(self) -> u8 {
        match self {
            Self::Md5 => 157,
            Self::Sha1 => 161,
            Self::Sha224 => 162,
            Self::Sha256 => 163,
            Self::Sha384 => 164,
            Self::Sha512 => 165,
        }
    }

    fn mac(self, secret: &[u8], data: &[u8]) -> Vec<u8> {
        fn run<M: Mac + KeyInit>(secret: &[u8], data: &[u8]) -> Vec<u8> {
            // HMAC accepts keys of any length; new_from_slice cannot fail for it.
            match <M as KeyInit>::new_from_slice(secret) {
                Ok(mut m) => {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }
        match self {
            Self::Md5 => run::<Hmac<md5::Md5>>(secret, data),
            Self::Sha1 => run::<Hmac<sha1::Sha1>>(secret, data),
            Self::Sha224 => run::<Hmac<sha2::Sha224>>(secret, data),
            Self::Sha256 => run::<Hmac<sha2::Sha256>>(secret, data),
            Self::Sha384 => run::<Hmac<sha2::Sha384>>(secret, data),
            Self::Sha512 => run::<Hmac<sha2::Sha512>>(secret, data),
        }
    }

    /// The `_auth` value bytes for a MAC over `data`.
    fn auth_value(self, secret: &[u8], data: &[u8]) -> Vec<u8> {
        let text = base64_encode(&self.mac(secret, data));
        match self {
            Self::Md5 => text.as_bytes()[..HMD5_LEN].to_vec(),
            _ => {
                let mut v = vec![0u8; HSHA_LEN + 1];
                v[0] = self.code();
                v[1..=text.len()].copy_from_slice(text.as_bytes());
                v
            }
        }
    }
}

/// A control-channel key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    /// The key's name.
    pub name: String,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// The decoded secret.
    pub secret: Vec<u8>,
}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// A key from named.conf's `algorithm` name and base64 `secret`.
    pub fn from_conf(name: &str, algorithm: &str, secret_b64: &str) -> Result<Self, RndcError> {
        let algorithm = Algorithm::from_name(algorithm)
            .ok_or_else(|| RndcError::Algorithm(algorithm.to_owned()))?;
        let secret = base64_decode(secret_b64).ok_or(RndcError::Secret)?;
        Ok(Self {
            name: name.to_owned(),
            algorithm,
            secret,
        })
    }

    /// Encodes `t` (which must not hold `_auth`) as a frame signed with this key.
    pub fn sign(&self, t: &Table) -> Result<Vec<u8>, RndcError> {
        let mut rest = Vec::new();
        codec::put_table(&mut rest, t)?;
        let value = self.algorithm.auth_value(&self.secret, &rest);
        let field = if self.algorithm == Algorithm::Md5 {
            "hmd5"
        } else {
            "hsha"
        };
        let mut auth = Table::default();
        auth.0
            .push((field.as_bytes().to_vec(), codec::Value::Binary(value)));
        let mut top = Table::default();
        top.put_table("_auth", auth);
        let mut out = vec![0, 0, 0, 0];
        out.extend_from_slice(&codec::VERSION.to_be_bytes());
        codec::put_table(&mut out, &top)?;
        out.extend_from_slice(&rest);
        codec::finish(out)
    }

    /// Whether the decoded `frame` carries a valid `_auth` for this key (constant-time
    /// comparison).
    pub fn verify(&self, frame: &[u8], d: &codec::Decoded) -> bool {
        let Some(range) = d.signed.clone() else {
            return false;
        };
        let Some(data) = frame.get(4..).and_then(|b| b.get(range)) else {
            return false;
        };
        let Some(auth) = d.table.table("_auth") else {
            return false;
        };
        let field = if self.algorithm == Algorithm::Md5 {
            "hmd5"
        } else {
            "hsha"
        };
        let Some(got) = auth.get(field).and_then(codec::Value::bytes) else {
            return false;
        };
        let want = self.algorithm.auth_value(&self.secret, data);
        got.len() == want.len() && got.iter().zip(&want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding.
pub fn base64_encode(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(char::from(B64[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Decodes standard base64 (whitespace ignored, padding optional); `None` if invalid.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits, mut pad) = (0u32, 0u32, false);
    for ch in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        if ch == b'=' {
            pad = true;
            continue;
        }
        if pad {
            return None;
        }
        let v = B64.iter().position(|&b| b == ch)?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_and_vectors() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_decode("Zm9vYg==").unwrap(), b"foob");
        assert_eq!(base64_decode("Zm9v YmE=").unwrap(), b"fooba");
        assert_eq!(base64_decode("Zm=9"), None);
        assert_eq!(base64_decode("Z!"), None);
        for n in 0..40u8 {
            let d: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(base64_decode(&base64_encode(&d)).unwrap(), d);
        }
    }

    #[test]
    fn hmac_sha256_rfc4231_case_2() {
        let mac = Algorithm::Sha256.mac(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hmac_md5_rfc2104_vector() {
        let mac = Algorithm::Md5.mac(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "750c783e6ab0b503eaa86e310a5db738");
    }

    #[test]
    fn sign_then_verify_every_algorithm_and_reject_tampering() {
        let mut t = Table::default();
        let mut data = Table::default();
        data.put_text("type", "status");
        t.put_table("_data", data);
        for alg in [
            Algorithm::Md5,
            Algorithm::Sha1,
            Algorithm::Sha224,
            Algorithm::Sha256,
            Algorithm::Sha384,
            Algorithm::Sha512,
        ] {
            let key = Key {
                name: "k".into(),
                algorithm: alg,
                secret: b"0123456789abcdef".to_vec(),
            };
            let wire = key.sign(&t).unwrap();
            let d = codec::decode(&wire).unwrap();
            assert!(key.verify(&wire, &d), "{alg:?}");
            assert_eq!(
                d.table.table("_data"),
                Some(&t.0[0].1.table().unwrap().clone())
            );
            let other = Key {
                secret: b"another secret".to_vec(),
                ..key.clone()
            };
            assert!(!other.verify(&wire, &d), "{alg:?}");
            let mut bad = wire.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            let d = codec::decode(&bad).unwrap();
            assert!(!key.verify(&bad, &d), "{alg:?}");
        }
    }

    #[test]
    fn sha256_auth_layout_matches_isccc() {
        let key = Key::from_conf("rndc-key", "hmac-sha256", "c2VjcmV0").unwrap();
        let wire = key.sign(&Table::default()).unwrap();
        // _auth table of 99 bytes holding hsha: 89 bytes (algorithm 163 + 88).
        assert_eq!(&wire[8..19], b"\x05_auth\x02\x00\x00\x00\x63");
        assert_eq!(&wire[19..29], b"\x04hsha\x01\x00\x00\x00\x59");
        assert_eq!(wire[29], 163);
        assert_eq!(&wire[30 + 44..30 + 88], &[0u8; 44]);
        assert_eq!(wire.len(), 4 + 4 + 11 + 99);
        let key = Key::from_conf("k", "hmac-md5", "c2VjcmV0").unwrap();
        let wire = key.sign(&Table::default()).unwrap();
        assert_eq!(&wire[8..19], b"\x05_auth\x02\x00\x00\x00\x20");
        assert_eq!(wire.len(), 4 + 4 + 11 + 32);
    }
}
