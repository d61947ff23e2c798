//! The control socket protocol: one request line (`peers`, `status`, `stats`), answered by a
//! line holding the exit code the caller should use and then the text to print, after which
//! the daemon closes the connection.

use core::time::Duration;
use std::io::{self, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Longest request line accepted.
pub const MAX_REQUEST: usize = 64;
/// Longest answer read.
const MAX_ANSWER: u64 = 1 << 20;

/// What a control client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// The `ntpq -p` table.
    Peers,
    /// The `ntpstat` text.
    Status,
    /// Counters.
    Stats,
}

impl Request {
    fn word(self) -> &'static str {
        match self {
            Self::Peers => "peers",
            Self::Status => "status",
            Self::Stats => "stats",
        }
    }
}

/// Parses a request line (without its newline).
pub fn parse_request(line: &[u8]) -> Option<Request> {
    match line.trim_ascii() {
        b"peers" => Some(Request::Peers),
        b"status" => Some(Request::Status),
        b"stats" => Some(Request::Stats),
        _ => None,
    }
}

/// An answer on the wire.
pub fn encode(code: u8, text: &str) -> String {
    format!("{code}\n{text}")
}

/// Splits an answer into exit code and text.
pub fn decode(answer: &str) -> Option<(u8, &str)> {
    let (code, text) = answer.split_once('\n')?;
    Some((code.parse().ok()?, text))
}

/// Asks the daemon behind `path` (blocking, 2 s timeout).
pub fn ask(path: &Path, request: Request) -> io::Result<(u8, String)> {
    let mut s = UnixStream::connect(path)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(format!("{}\n", request.word()).as_bytes())?;
    let mut answer = String::new();
    s.take(MAX_ANSWER).read_to_string(&mut answer)?;
    let (code, text) = decode(&answer)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed control answer"))?;
    Ok((code, text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(parse_request(b"peers"), Some(Request::Peers));
        assert_eq!(parse_request(b" status\r"), Some(Request::Status));
        assert_eq!(parse_request(b"rm -rf"), None);
        let wire = encode(1, "unsynchronised\n");
        assert_eq!(decode(&wire), Some((1, "unsynchronised\n")));
        assert_eq!(decode("x\n"), None);
    }
}
