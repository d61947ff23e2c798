//! Pure judges: turn a probe's raw outcome into a [`ProbeResult`] where that is protocol logic
//! (HTTP status and digest, nanny's expect match, program output and exit status, memcached
//! and DNS replies), plus the request bytes the shell sends for HTTP and memcached probes.
//!
//! None of these allocate except [`http_request`] and [`md5_hex`]; none panic on any input.

use core::fmt::Write as _;
use core::net::SocketAddr;

use md5::{Digest, Md5};

use super::probe::{FailReason, HttpCheck, ProbeResult, ProgramJudge};

/// The longest expect string nanny compares (its read buffer is 255 bytes with a NUL).
pub const MAX_EXPECT: usize = 254;

/// The request a memcached probe sends.
pub const MEMCACHED_VERSION: &[u8] = b"version\r\n";

/// Nanny's expect match on the bytes read after sending.
///
/// Nanny reads as many bytes as the expect string has (at most [`MAX_EXPECT`]) and compares
/// them with it: a reply that starts with the expect string passes, a shorter one fails as
/// [`FailReason::ShortReply`], a different one as [`FailReason::Mismatch`]. The expect string
/// `*` passes any reply. (Nanny judges one `read()`; a shell may keep reading until it has
/// [`SendExpect::read_len`](super::SendExpect::read_len) bytes, which only differs when the
/// reply arrives in pieces.)
///
/// ```
/// use lvs_core::health::{FailReason, ProbeResult, judge::judge_expect};
/// assert_eq!(judge_expect(b"220 smtp ready", b"220"), ProbeResult::Pass);
/// assert_eq!(judge_expect(b"22", b"220"), ProbeResult::Fail(FailReason::ShortReply));
/// assert_eq!(judge_expect(b"554 no", b"220"), ProbeResult::Fail(FailReason::Mismatch));
/// assert_eq!(judge_expect(b"x", b"*"), ProbeResult::Pass);
/// ```
pub fn judge_expect(received: &[u8], expect: &[u8]) -> ProbeResult {
    if expect == b"*" {
        return ProbeResult::Pass;
    }
    let want = &expect[..expect.len().min(MAX_EXPECT)];
    match received.get(..want.len()) {
        None => ProbeResult::Fail(FailReason::ShortReply),
        Some(got) if got == want => ProbeResult::Pass,
        Some(_) => ProbeResult::Fail(FailReason::Mismatch),
    }
}

/// The status code of an HTTP response's status line (`HTTP/x.y NNN reason`).
///
/// ```
/// use lvs_core::health::judge::parse_status_line;
/// assert_eq!(parse_status_line(b"HTTP/1.1 204 No Content\r\n\r\n"), Some(204));
/// assert_eq!(parse_status_line(b"HTTP/1.0 200\r\n"), Some(200));
/// assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH\r\n"), None);
/// ```
pub fn parse_status_line(response: &[u8]) -> Option<u16> {
    let rest = response.strip_prefix(b"HTTP/")?;
    let sp = rest.iter().position(|&b| b == b' ')?;
    let version = &rest[..sp];
    if version.is_empty() || !version.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        return None;
    }
    let code = rest.get(sp + 1..sp + 4)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    match rest.get(sp + 4) {
        None | Some(b' ' | b'\r' | b'\n') => {}
        Some(_) => return None,
    }
    Some(code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')))
}

/// The body of an HTTP response: everything after the first empty line (`\r\n\r\n`, or
/// `\n\n` from lenient servers), or `None` when the headers never end.
pub fn http_body(response: &[u8]) -> Option<&[u8]> {
    let crlf = find(response, b"\r\n\r\n").map(|i| i + 4);
    let lf = find(response, b"\n\n").map(|i| i + 2);
    let start = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    response.get(start..)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Judge a complete HTTP response (the shell reads until the server closes; the request is
/// HTTP/1.0 so the body is not chunked): the status must equal `check.status` (any 2xx when
/// unset) and, when `check.digest` is set, the body's MD5 must equal it.
///
/// ```
/// use lvs_core::health::{FailReason, HttpCheck, ProbeResult, judge::{judge_http, parse_digest}};
/// let mut check = HttpCheck::get("/");
/// check.digest = parse_digest("5d41402abc4b2a76b9719d911017c592"); // md5("hello")
/// assert_eq!(judge_http(b"HTTP/1.0 200 OK\r\nX: y\r\n\r\nhello", &check), ProbeResult::Pass);
/// let fail = |r| ProbeResult::Fail(r);
/// assert_eq!(judge_http(b"HTTP/1.0 200 OK\r\n\r\nhullo", &check), fail(FailReason::Digest));
/// assert_eq!(judge_http(b"HTTP/1.0 503 Busy\r\n\r\n", &check), fail(FailReason::HttpStatus(503)));
/// ```
pub fn judge_http(response: &[u8], check: &HttpCheck) -> ProbeResult {
    let Some(status) = parse_status_line(response) else {
        return ProbeResult::Fail(FailReason::HttpMalformed);
    };
    let ok = match check.status {
        Some(want) => status == want,
        None => (200..300).contains(&status),
    };
    if !ok {
        return ProbeResult::Fail(FailReason::HttpStatus(status));
    }
    if let Some(want) = check.digest {
        let Some(body) = http_body(response) else {
            return ProbeResult::Fail(FailReason::HttpMalformed);
        };
        if md5(body) != want {
            return ProbeResult::Fail(FailReason::Digest);
        }
    }
    ProbeResult::Pass
}

/// The MD5 digest of `data`.
pub fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

/// The MD5 digest of `data` as 32 lowercase hex digits (the form keepalived's `genhash`
/// prints and `digest` takes).
///
/// ```
/// assert_eq!(lvs_core::health::judge::md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
/// ```
pub fn md5_hex(data: &[u8]) -> String {
    let mut s = String::with_capacity(32);
    for b in md5(data) {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parse a digest given as 32 hex digits (either case); `None` for anything else.
pub fn parse_digest(hex: &str) -> Option<[u8; 16]> {
    let bytes = hex.trim().as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// The HTTP/1.0 request an HTTP probe sends to `target`. The `Host` header is the configured
/// host, or the target address (bracketed for IPv6; the port is omitted when it is the
/// default for the scheme).
///
/// ```
/// use lvs_core::health::{HttpCheck, judge::http_request};
/// let req = http_request(&HttpCheck::get("/healthz"), "192.0.2.1:8080".parse().unwrap());
/// assert_eq!(
///     req,
///     b"GET /healthz HTTP/1.0\r\nHost: 192.0.2.1:8080\r\n\
///       User-Agent: lvs-health\r\nConnection: close\r\n\r\n"
/// );
/// ```
pub fn http_request(check: &HttpCheck, target: SocketAddr) -> Vec<u8> {
    let default_port = if check.tls { 443 } else { 80 };
    let host = match &check.host {
        Some(h) => h.clone(),
        None if target.port() == default_port => match target {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        },
        None => target.to_string(),
    };
    let path = if check.path.is_empty() {
        "/"
    } else {
        check.path.as_str()
    };
    format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: lvs-health\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// keepalived `MISC_CHECK`'s rule for a program's exit status: 0 passes with the weight
/// unchanged; with `dynamic` (`misc_dynamic`), 2..=255 passes with weight = status − 2 (so
/// 0..=253); everything else, 1 included, fails.
///
/// ```
/// use lvs_core::health::{FailReason, ProbeResult, judge::judge_exit_status};
/// assert_eq!(judge_exit_status(0, true), ProbeResult::Pass);
/// assert_eq!(judge_exit_status(1, true), ProbeResult::Fail(FailReason::ExitStatus(1)));
/// assert_eq!(judge_exit_status(12, true), ProbeResult::PassWeight(10));
/// assert_eq!(judge_exit_status(12, false), ProbeResult::Fail(FailReason::ExitStatus(12)));
/// ```
pub fn judge_exit_status(status: i32, dynamic: bool) -> ProbeResult {
    match status {
        0 => ProbeResult::Pass,
        2..=255 if dynamic => ProbeResult::PassWeight(status.unsigned_abs() - 2),
        _ => ProbeResult::Fail(FailReason::ExitStatus(status)),
    }
}

/// Judge a finished program: `exit` is its exit status (`None` when it was killed by a signal,
/// timed out or could not start) and `stdout` what it printed.
///
/// ```
/// use lvs_core::health::{FailReason, ProbeResult, ProgramJudge, judge::judge_program};
/// let ok = ProgramJudge::Output("OK".into());
/// assert_eq!(judge_program(Some(0), b"OK\n", &ok), ProbeResult::Pass);
/// let fail = |r| ProbeResult::Fail(r);
/// assert_eq!(judge_program(Some(0), b"FAIL\n", &ok), fail(FailReason::ProgramOutput));
/// assert_eq!(judge_program(None, b"OK\n", &ok), ProbeResult::Fail(FailReason::ProgramAbnormal));
/// ```
pub fn judge_program(exit: Option<i32>, stdout: &[u8], judge: &ProgramJudge) -> ProbeResult {
    let Some(code) = exit else {
        return ProbeResult::Fail(FailReason::ProgramAbnormal);
    };
    match judge {
        ProgramJudge::ExitCode { dynamic } => judge_exit_status(code, *dynamic),
        ProgramJudge::Output(expect) => {
            if code != 0 {
                return ProbeResult::Fail(FailReason::ExitStatus(code));
            }
            if first_line(stdout) == expect.trim().as_bytes() {
                ProbeResult::Pass
            } else {
                ProbeResult::Fail(FailReason::ProgramOutput)
            }
        }
    }
}

/// The first line of `out` without its line ending and surrounding ASCII whitespace.
fn first_line(out: &[u8]) -> &[u8] {
    let line = out.split(|&b| b == b'\n').next().unwrap_or_default();
    line.trim_ascii()
}

/// Judge a memcached reply to [`MEMCACHED_VERSION`]: it must start with `VERSION `.
///
/// ```
/// use lvs_core::health::{FailReason, ProbeResult, judge::judge_memcached};
/// assert_eq!(judge_memcached(b"VERSION 1.6.21\r\n"), ProbeResult::Pass);
/// assert_eq!(judge_memcached(b"ERROR\r\n"), ProbeResult::Fail(FailReason::Memcached));
/// ```
pub fn judge_memcached(reply: &[u8]) -> ProbeResult {
    if reply.starts_with(b"VERSION ") {
        ProbeResult::Pass
    } else {
        ProbeResult::Fail(FailReason::Memcached)
    }
}

/// Judge a DNS reply to a query the shell sent with ID `id`: it must be at least a 12-byte
/// header, carry the same ID, be a response (QR set) to a standard query (opcode 0), and have
/// RCODE NOERROR.
///
/// ```
/// use lvs_core::health::{FailReason, ProbeResult, judge::judge_dns};
/// let ok = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
/// assert_eq!(judge_dns(&ok, 0x1234), ProbeResult::Pass);
/// let nx = [0x12, 0x34, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0];
/// assert_eq!(judge_dns(&nx, 0x1234), ProbeResult::Fail(FailReason::DnsRcode(3)));
/// ```
pub fn judge_dns(reply: &[u8], id: u16) -> ProbeResult {
    let Some(h) = reply.get(..12) else {
        return ProbeResult::Fail(FailReason::DnsMalformed);
    };
    let qr = h[2] & 0x80 != 0;
    let opcode = (h[2] >> 3) & 0x0f;
    if u16::from_be_bytes([h[0], h[1]]) != id || !qr || opcode != 0 {
        return ProbeResult::Fail(FailReason::DnsMalformed);
    }
    match h[3] & 0x0f {
        0 => ProbeResult::Pass,
        rcode => ProbeResult::Fail(FailReason::DnsRcode(rcode)),
    }
}
