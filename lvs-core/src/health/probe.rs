//! What a probe is (data the shell executes) and what it reports back.
//!
//! The health machine never opens a socket or spawns a program: it emits
//! [`Event::Probe`](super::Event::Probe) carrying a [`ProbeSpec`], the shell runs it, judges
//! the raw outcome with the helpers in [`judge`](super::judge) where judging is protocol logic,
//! and feeds a [`ProbeResult`] back.

use core::net::SocketAddr;

/// One kind of probe, as data. The target address and port come from the check's
/// [`CheckConfig::target`](super::CheckConfig::target).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeSpec {
    /// TCP connect only (keepalived `TCP_CHECK`; nanny with no send and no expect string).
    Tcp,
    /// TCP connect, write `send`, read and match `expect` (Piranha's nanny).
    SendExpect(SendExpect),
    /// UDP: send `send` as one datagram and match the first reply against `expect` (nanny
    /// `--udp`). With no expect string, any reply passes.
    Udp(SendExpect),
    /// HTTP(S) GET with an expected status and optional body digest (keepalived `HTTP_GET` /
    /// `SSL_GET`).
    Http(HttpCheck),
    /// An external program (keepalived `MISC_CHECK`, Piranha `send_program`).
    Program(ProgramCheck),
    /// A DNS query; passes when the answer's RCODE is NOERROR. The shell builds the query
    /// (with its own ID) and judges the reply with [`judge_dns`](super::judge::judge_dns).
    Dns(DnsCheck),
    /// memcached text protocol: send `version\r\n`, expect a line starting with `VERSION `.
    Memcached,
}

/// Nanny's send/expect pair, after escape translation (see [`unescape`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendExpect {
    /// Bytes to write after connecting; empty means connect only (nothing is written).
    pub send: Vec<u8>,
    /// Bytes the reply must start with; `None` means the reply is not read. The single byte
    /// `*` matches any reply (nanny's wildcard).
    pub expect: Option<Vec<u8>>,
}

/// The request nanny sends to port 80 when neither a send nor an expect string is configured.
pub const NANNY_HTTP_SEND: &[u8] = b"GET / HTTP/1.0\r\n\r\n";

impl SendExpect {
    /// The probe nanny runs for `--send_string` / `--expect_string` on `port`, including its
    /// defaults: with neither string on port 80 it sends [`NANNY_HTTP_SEND`] and reads
    /// nothing; strings are translated with [`unescape`] unless `suppress` (nanny `-T`).
    /// An empty expect string is treated as no expect string (see [`unescape`] docs).
    ///
    /// ```
    /// use lvs_core::health::SendExpect;
    /// let p = SendExpect::nanny(80, None, None, false);
    /// assert_eq!(p.send, b"GET / HTTP/1.0\r\n\r\n");
    /// let p = SendExpect::nanny(25, Some(""), Some("220"), false);
    /// assert!(p.send.is_empty());
    /// assert_eq!(p.expect.as_deref(), Some(&b"220"[..]));
    /// ```
    pub fn nanny(port: u16, send: Option<&str>, expect: Option<&str>, suppress: bool) -> Self {
        if port == 80 && send.is_none() && expect.is_none() {
            return Self {
                send: NANNY_HTTP_SEND.to_vec(),
                expect: None,
            };
        }
        let tr = |s: &str| {
            if suppress {
                s.as_bytes().to_vec()
            } else {
                unescape(s).into_bytes()
            }
        };
        Self {
            send: send.map(tr).unwrap_or_default(),
            expect: expect.filter(|e| !e.is_empty()).map(tr),
        }
    }

    /// How many bytes the shell should read before judging: nanny reads exactly the length of
    /// the expect string (at least 1 for the `*` wildcard), capped at
    /// [`MAX_EXPECT`](super::judge::MAX_EXPECT) bytes. 0 when there is nothing to read.
    pub fn read_len(&self) -> usize {
        self.expect
            .as_deref()
            .map_or(0, |e| e.len().clamp(1, super::judge::MAX_EXPECT))
    }
}

/// An HTTP GET check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    /// The request path (keepalived `url { path }`), e.g. `/healthz`.
    pub path: String,
    /// The `Host` header; `None` sends the target address.
    pub host: Option<String>,
    /// The required status code; `None` accepts any 2xx.
    pub status: Option<u16>,
    /// The MD5 of the body (keepalived `digest`, given as 32 hex digits; parse it with
    /// [`parse_digest`](super::judge::parse_digest)).
    pub digest: Option<[u8; 16]>,
    /// Whether the shell wraps the connection in TLS (keepalived `SSL_GET`).
    pub tls: bool,
}

impl HttpCheck {
    /// `GET path` expecting any 2xx, no digest, plain HTTP.
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            host: None,
            status: None,
            digest: None,
            tls: false,
        }
    }
}

/// How a program's outcome is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramJudge {
    /// Piranha's `send_program` + `expect`: the program must exit 0 and the first line of its
    /// standard output, trimmed, must equal this string (usually `OK`; anything else, `FAIL`
    /// included, is a failure).
    Output(String),
    /// keepalived's `MISC_CHECK`: exit status 0 passes. With `dynamic` (`misc_dynamic`), an
    /// exit status of 2..=255 also passes and sets the weight to status − 2; 1 (and any other
    /// status) fails.
    ExitCode {
        /// keepalived `misc_dynamic`.
        dynamic: bool,
    },
}

/// An external program check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramCheck {
    /// The argument vector. In a check's configuration its words may hold `%h` (the target's
    /// address), `%p` (its port) and `%%` (a literal `%`); in [`Event::Probe`](super::Event)
    /// they are already expanded.
    pub argv: Vec<String>,
    /// How the outcome is judged.
    pub judge: ProgramJudge,
}

/// A program command line that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// No program name.
    #[error("empty command line")]
    Empty,
    /// A quote is not closed.
    #[error("unterminated quote in command line")]
    UnterminatedQuote,
}

impl ProgramCheck {
    /// Split `command` into words (whitespace separates words; `'…'` and `"…"` group words
    /// and are removed; there are no escapes) for the given judge.
    ///
    /// ```
    /// use lvs_core::health::{ProgramCheck, ProgramJudge};
    /// let judge = ProgramJudge::ExitCode { dynamic: true };
    /// let p = ProgramCheck::parse("/bin/check -H %h 'a b'", judge).unwrap();
    /// assert_eq!(p.argv, ["/bin/check", "-H", "%h", "a b"]);
    /// ```
    pub fn parse(command: &str, judge: ProgramJudge) -> Result<Self, TemplateError> {
        let argv = split_command(command)?;
        if argv.is_empty() {
            return Err(TemplateError::Empty);
        }
        Ok(Self { argv, judge })
    }

    /// The argument vector with `%h`, `%p` and `%%` replaced for `target`.
    pub fn expand(&self, target: SocketAddr) -> Vec<String> {
        self.argv.iter().map(|w| expand(w, target)).collect()
    }
}

/// Split a command line into words as a shell would for a simple command: white space
/// separates, single or double quotes group (no escapes, no expansion).
pub fn split_command(s: &str) -> Result<Vec<String>, TemplateError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(core::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(TemplateError::UnterminatedQuote);
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Replace `%h` with the target's address (IPv6 without brackets), `%p` with its port and `%%`
/// with `%`; any other `%` sequence is kept as written.
///
/// ```
/// use lvs_core::health::expand;
/// let t = "192.0.2.7:8080".parse().unwrap();
/// assert_eq!(expand("check %h:%p 100%% %x", t), "check 192.0.2.7:8080 100% %x");
/// assert_eq!(expand("%h", "[2001:db8::1]:53".parse().unwrap()), "2001:db8::1");
/// ```
pub fn expand(template: &str, target: SocketAddr) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('h') => {
                chars.next();
                out.push_str(&target.ip().to_string());
            }
            Some('p') => {
                chars.next();
                out.push_str(&target.port().to_string());
            }
            Some('%') => {
                chars.next();
                out.push('%');
            }
            _ => out.push('%'),
        }
    }
    out
}

/// Translate nanny's backslash escapes in a send or expect string.
///
/// Nanny (`convert_str`) translates `\\` → `\`, `\r`, `\n`, `\t`, `\'` and `\"`, scanning left
/// to right so a translated backslash never starts another escape (`\\n` is a backslash and
/// an `n`). A string of one character is left alone. Any other backslash sequence, and a
/// trailing backslash, are kept verbatim here (nanny itself loops forever on them).
///
/// ```
/// use lvs_core::health::unescape;
/// assert_eq!(unescape(r"GET / HTTP/1.0\r\n\r\n"), "GET / HTTP/1.0\r\n\r\n");
/// assert_eq!(unescape(r"a\\nb"), "a\\nb");
/// assert_eq!(unescape(r"\q"), "\\q");
/// ```
pub fn unescape(s: &str) -> String {
    if s.chars().nth(1).is_none() {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let tr = match chars.peek() {
            Some('\\') => '\\',
            Some('r') => '\r',
            Some('n') => '\n',
            Some('t') => '\t',
            Some('\'') => '\'',
            Some('"') => '"',
            _ => {
                out.push('\\');
                continue;
            }
        };
        chars.next();
        out.push(tr);
    }
    out
}

/// A DNS check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsCheck {
    /// The name to ask for, e.g. `example.com.`.
    pub name: String,
    /// The query type (1 = A, 28 = AAAA, 6 = SOA ...).
    pub qtype: u16,
}

/// Why a probe failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailReason {
    /// No report by the deadline, or the shell's own timeout.
    Timeout,
    /// The connection was refused or could not be made.
    Connect,
    /// Sending or receiving failed after connecting.
    Io,
    /// The reply was shorter than the expect string (or the connection closed first).
    ShortReply,
    /// The reply did not match the expect string.
    Mismatch,
    /// The HTTP status line did not parse.
    HttpMalformed,
    /// The HTTP status was not the one expected.
    HttpStatus(u16),
    /// The body's MD5 digest differs from the configured one.
    Digest,
    /// The program exited with this status (a failing status).
    ExitStatus(i32),
    /// The program was killed by a signal or could not run.
    ProgramAbnormal,
    /// The program's output was not the expected word.
    ProgramOutput,
    /// The DNS reply was malformed or not an answer to our query.
    DnsMalformed,
    /// The DNS reply carried this RCODE (not NOERROR).
    DnsRcode(u8),
    /// The memcached reply was not `VERSION ...`.
    Memcached,
}

/// What the shell reports for one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeResult {
    /// The server is healthy; keep the current weight.
    Pass,
    /// The server is healthy and asks for this weight (keepalived `misc_dynamic`).
    PassWeight(u32),
    /// The server failed the probe.
    Fail(FailReason),
}

impl ProbeResult {
    /// Whether the probe passed.
    pub fn is_pass(self) -> bool {
        !matches!(self, Self::Fail(_))
    }
}
