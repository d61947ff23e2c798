//! The answer builder: the variables a query reads ([`Snapshot`]), their text in ntpd's
//! format, and the [`Responder`] that turns a request into a [`Response`].

use core::fmt::{self, Write as _};
use core::net::SocketAddr;

use super::{
    ControlHeader, ErrorCode, HEADER_LEN, LINE_LIMIT, MAX_DATA, MAX_RESPONSE, Mode6Error,
    PeerStatus, SystemStatus, opcode, parse_request,
};
use crate::time::NtpTimestamp;
use crate::wire::{LeapIndicator, Refid};

/// The system variables (association 0). Times in seconds, frequencies in ppm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SystemVars<'a> {
    /// The status word.
    pub status: SystemStatus,
    /// Stratum (16: unsynchronised).
    pub stratum: u8,
    /// Precision, log2 s.
    pub precision: i8,
    /// Root delay.
    pub root_delay: f64,
    /// Root dispersion.
    pub root_dispersion: f64,
    /// Reference ID.
    pub refid: Refid,
    /// When the clock was last updated.
    pub reference: NtpTimestamp,
    /// The time now.
    pub clock: NtpTimestamp,
    /// System poll exponent (`tc`).
    pub poll: i8,
    /// Minimum poll exponent (`mintc`).
    pub min_poll: i8,
    /// Association ID of the system peer, 0 if none.
    pub peer: u16,
    /// Offset of the last clock update.
    pub offset: f64,
    /// Frequency correction, ppm.
    pub frequency: f64,
    /// System jitter.
    pub sys_jitter: f64,
    /// Clock jitter.
    pub clk_jitter: f64,
    /// Clock wander, ppm.
    pub clk_wander: f64,
    /// Machine (`uname -m`).
    pub processor: &'a str,
    /// Operating system and release.
    pub system: &'a str,
    /// Daemon name and version.
    pub version: &'a str,
}

/// One clock filter stage, seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilterStage {
    /// Round-trip delay.
    pub delay: f64,
    /// Offset.
    pub offset: f64,
    /// Dispersion.
    pub dispersion: f64,
}

/// The variables of one association. Times in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeerVars {
    /// Association ID (never 0).
    pub association: u16,
    /// The status word.
    pub status: PeerStatus,
    /// The server.
    pub src: SocketAddr,
    /// Our address towards it, if known.
    pub dst: Option<SocketAddr>,
    /// Its leap indicator.
    pub leap: LeapIndicator,
    /// Our mode (3: client).
    pub host_mode: u8,
    /// Its mode (4: server; 0 before any reply).
    pub peer_mode: u8,
    /// Its stratum.
    pub stratum: u8,
    /// Its poll exponent.
    pub peer_poll: i8,
    /// Our poll exponent.
    pub host_poll: i8,
    /// Its precision, log2 s.
    pub precision: i8,
    /// Its root delay.
    pub root_delay: f64,
    /// Its root dispersion.
    pub root_dispersion: f64,
    /// Its reference ID (or the kiss code that stopped us).
    pub refid: Refid,
    /// Its reference time.
    pub reference: NtpTimestamp,
    /// When its last reply arrived (our clock).
    pub received: NtpTimestamp,
    /// Its transmit timestamp in that reply.
    pub transmit: NtpTimestamp,
    /// Reach register.
    pub reach: u8,
    /// Polls without an answer.
    pub unreach: u32,
    /// Delay of the selected sample.
    pub delay: f64,
    /// Offset of the selected sample.
    pub offset: f64,
    /// Peer jitter.
    pub jitter: f64,
    /// Peer dispersion.
    pub dispersion: f64,
    /// The filter register, newest first (`None`: an empty stage).
    pub filter: [Option<FilterStage>; 8],
}

/// What a query sees: the system and every association.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Snapshot<'a> {
    /// The system variables.
    pub system: SystemVars<'a>,
    /// The associations.
    pub peers: &'a [PeerVars],
}

/// Counters of a [`Responder`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mode6Stats {
    /// Requests answered with data or a status.
    pub answered: u64,
    /// Requests answered with an error.
    pub errors: u64,
    /// Packets ignored ([`Mode6Error`]).
    pub ignored: u64,
}

/// Builds answers into a reused text buffer.
#[derive(Clone, Debug)]
pub struct Responder {
    text: Vec<u8>,
    line: usize,
    stats: Mode6Stats,
}

impl Default for Responder {
    fn default() -> Self {
        Self::new()
    }
}

/// An answer ready to be cut into fragments; borrows the [`Responder`]'s buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'r> {
    header: ControlHeader,
    data: &'r [u8],
}

impl Response<'_> {
    /// The whole response data (all fragments joined).
    pub fn data(&self) -> &[u8] {
        self.data
    }

    /// The status word of the response (or `code << 8` for an error).
    pub fn status(&self) -> u16 {
        self.header.status
    }

    /// The error code, for an error response.
    pub fn error(&self) -> Option<u8> {
        self.header.error.then_some((self.header.status >> 8) as u8)
    }

    /// Number of fragments (at least one).
    pub fn fragments(&self) -> usize {
        self.data.len().div_ceil(MAX_DATA).max(1)
    }

    /// Writes fragment `index` (header, data, zero padding to 4 bytes) into `out`; `None` past
    /// the last fragment or if `out` is shorter than the fragment.
    pub fn write_fragment(&self, index: usize, out: &mut [u8]) -> Option<usize> {
        if index >= self.fragments() {
            return None;
        }
        let start = index * MAX_DATA;
        let chunk = self
            .data
            .get(start..self.data.len().min(start + MAX_DATA))?;
        let header = ControlHeader {
            more: index + 1 < self.fragments(),
            offset: u16::try_from(start).ok()?,
            count: u16::try_from(chunk.len()).ok()?,
            ..self.header
        };
        let len = (HEADER_LEN + chunk.len()).next_multiple_of(4);
        let out = out.get_mut(..len)?;
        header.emit(out).ok()?;
        out[HEADER_LEN..HEADER_LEN + chunk.len()].copy_from_slice(chunk);
        out[HEADER_LEN + chunk.len()..].fill(0);
        Some(len)
    }
}

const SYS_VARS: [&str; 19] = [
    "leap",
    "stratum",
    "precision",
    "rootdelay",
    "rootdisp",
    "refid",
    "reftime",
    "tc",
    "peer",
    "offset",
    "frequency",
    "sys_jitter",
    "clk_jitter",
    "clock",
    "processor",
    "system",
    "version",
    "clk_wander",
    "mintc",
];

/// Peer variables in ntpd's order; the first three are not sent unless asked for.
const PEER_VARS: [&str; 32] = [
    "config",
    "authenable",
    "authentic",
    "srcadr",
    "srcport",
    "dstadr",
    "dstport",
    "leap",
    "hmode",
    "stratum",
    "ppoll",
    "hpoll",
    "precision",
    "rootdelay",
    "rootdisp",
    "refid",
    "reftime",
    "rec",
    "xmt",
    "reach",
    "unreach",
    "delay",
    "offset",
    "jitter",
    "dispersion",
    "keyid",
    "filtdelay",
    "filtoffset",
    "pmode",
    "filtdisp",
    "flash",
    "headway",
];
const PEER_NON_DEFAULT: usize = 3;

/// Whether a request selects variables, and which (a bit per table index).
enum Wanted {
    Defaults,
    Selected(u64),
}

impl Responder {
    /// A responder with its text buffer allocated.
    pub fn new() -> Self {
        Self {
            text: Vec::with_capacity(MAX_RESPONSE),
            line: 0,
            stats: Mode6Stats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> Mode6Stats {
        self.stats
    }

    /// Answers `packet` from `snapshot`. An `Err` means the packet gets no answer.
    pub fn answer<'r>(
        &'r mut self,
        packet: &[u8],
        snapshot: &Snapshot<'_>,
    ) -> Result<Response<'r>, Mode6Error> {
        let request = match parse_request(packet) {
            Ok(r) => r,
            Err(e) => {
                self.stats.ignored += 1;
                return Err(e);
            }
        };
        self.text.clear();
        self.line = 0;
        let q = request.header;
        let sys = &snapshot.system;
        let peer = snapshot
            .peers
            .iter()
            .find(|p| q.association != 0 && p.association == q.association);
        let outcome = match (q.opcode, request.data) {
            (_, None) => Err(ErrorCode::BadFormat),
            (_, Some(_)) if q.association != 0 && peer.is_none() && q.opcode <= 2 => {
                Err(ErrorCode::BadAssociation)
            }
            (opcode::UNSPEC, _) => Ok(peer.map_or(sys.status.word(), |p| p.status.word())),
            (opcode::READSTAT, _) => Ok(match peer {
                Some(p) => {
                    self.put_peer(p, &Wanted::Defaults);
                    p.status.word()
                }
                None => {
                    self.put_association_list(snapshot.peers);
                    sys.status.word()
                }
            }),
            (opcode::READVAR, Some(data)) => match peer {
                Some(p) => wanted(data, &PEER_VARS).map(|w| {
                    self.put_peer(p, &w);
                    p.status.word()
                }),
                None => wanted(data, &SYS_VARS).map(|w| {
                    self.put_system(sys, &w);
                    sys.status.word()
                }),
            },
            (opcode::WRITEVAR | opcode::WRITECLOCK | opcode::CONFIGURE | opcode::SAVECONFIG, _) => {
                Err(ErrorCode::Permission)
            }
            (opcode::READCLOCK, _) => Err(ErrorCode::BadAssociation),
            _ => Err(ErrorCode::BadOpcode),
        };
        let mut header = ControlHeader {
            leap: sys.status.leap.to_bits(),
            version: q.version,
            response: true,
            opcode: q.opcode,
            sequence: q.sequence,
            association: q.association,
            ..ControlHeader::default()
        };
        match outcome {
            Ok(status) => {
                self.stats.answered += 1;
                header.status = status;
                // ntpd ends text with CR LF when it fits in the last fragment.
                let last = match self.text.len() % MAX_DATA {
                    0 if !self.text.is_empty() => MAX_DATA,
                    n => n,
                };
                if self.line > 0 && last + 2 < MAX_DATA && self.room(2) {
                    self.text.extend_from_slice(b"\r\n");
                }
            }
            Err(code) => {
                self.stats.errors += 1;
                self.text.clear();
                header.error = true;
                header.status = (code as u16) << 8;
            }
        }
        Ok(Response {
            header,
            data: &self.text,
        })
    }

    fn room(&self, n: usize) -> bool {
        self.text.len() + n <= MAX_RESPONSE
    }

    fn put_association_list(&mut self, peers: &[PeerVars]) {
        for p in peers {
            if !self.room(4) {
                break;
            }
            self.text.extend_from_slice(&p.association.to_be_bytes());
            self.text.extend_from_slice(&p.status.word().to_be_bytes());
        }
    }

    /// Appends `name=value` the way ntpd's `ctl_putdata` does: `", "` between items, or
    /// `",\r\n"` when the line would reach [`LINE_LIMIT`].
    fn put(&mut self, name: &str, value: fmt::Arguments<'_>) {
        let mut item = ItemBuf::default();
        if write!(item, "{name}={value}").is_err() {
            return;
        }
        let item = item.as_bytes();
        let sep: &[u8] = if self.text.is_empty() && self.line == 0 {
            b""
        } else if item.len() + self.line + 2 >= LINE_LIMIT {
            b",\r\n"
        } else {
            b", "
        };
        if !self.room(sep.len() + item.len()) {
            return;
        }
        self.text.extend_from_slice(sep);
        self.line = if sep.len() == 3 {
            0
        } else {
            self.line + sep.len()
        };
        self.text.extend_from_slice(item);
        self.line += item.len();
    }

    fn put_str(&mut self, name: &str, value: &str) {
        let clean: ItemBuf = value
            .bytes()
            .take(100)
            .map(|b| {
                if b == b'"' || !b.is_ascii_graphic() && b != b' ' {
                    b'.'
                } else {
                    b
                }
            })
            .collect();
        self.put(name, format_args!("\"{}\"", clean.as_str()));
    }

    fn put_system(&mut self, s: &SystemVars<'_>, wanted: &Wanted) {
        for (i, name) in SYS_VARS.into_iter().enumerate() {
            if let Wanted::Selected(bits) = wanted
                && bits & (1 << i) == 0
            {
                continue;
            }
            match name {
                "leap" => self.put(name, format_args!("{}", s.status.leap.to_bits())),
                "stratum" => self.put(name, format_args!("{}", s.stratum)),
                "precision" => self.put(name, format_args!("{}", s.precision)),
                "rootdelay" => self.put(name, format_args!("{:.3}", ms(s.root_delay))),
                "rootdisp" => self.put(name, format_args!("{:.3}", ms(s.root_dispersion))),
                "refid" => self.put(name, format_args!("{}", RefidText(s.stratum, s.refid))),
                "reftime" => self.put(name, format_args!("{}", Ts(s.reference))),
                "tc" => self.put(name, format_args!("{}", s.poll.max(0))),
                "peer" => self.put(name, format_args!("{}", s.peer)),
                "offset" => self.put(name, format_args!("{:.6}", ms(s.offset))),
                "frequency" => self.put(name, format_args!("{:.6}", finite(s.frequency))),
                "sys_jitter" => self.put(name, format_args!("{:.6}", ms(s.sys_jitter))),
                "clk_jitter" => self.put(name, format_args!("{:.6}", ms(s.clk_jitter))),
                "clock" => self.put(name, format_args!("{}", Ts(s.clock))),
                "processor" => self.put_str(name, s.processor),
                "system" => self.put_str(name, s.system),
                "version" => self.put_str(name, s.version),
                "clk_wander" => self.put(name, format_args!("{:.6}", finite(s.clk_wander))),
                _ => self.put(name, format_args!("{}", s.min_poll.max(0))),
            }
        }
    }

    fn put_peer(&mut self, p: &PeerVars, wanted: &Wanted) {
        for (i, name) in PEER_VARS.into_iter().enumerate() {
            match wanted {
                Wanted::Selected(bits) if bits & (1 << i) == 0 => continue,
                Wanted::Defaults if i < PEER_NON_DEFAULT => continue,
                _ => {}
            }
            match name {
                "config" => self.put(name, format_args!("{}", u8::from(p.status.configured))),
                "authenable" | "authentic" | "keyid" => self.put(name, format_args!("0")),
                "srcadr" => self.put(name, format_args!("{}", p.src.ip())),
                "srcport" => self.put(name, format_args!("{}", p.src.port())),
                "dstadr" => match p.dst {
                    Some(d) => self.put(name, format_args!("{}", d.ip())),
                    None => self.put(name, format_args!("0.0.0.0")),
                },
                "dstport" => self.put(name, format_args!("{}", p.dst.map_or(0, |d| d.port()))),
                "leap" => self.put(name, format_args!("{}", p.leap.to_bits())),
                "hmode" => self.put(name, format_args!("{}", p.host_mode)),
                "stratum" => self.put(name, format_args!("{}", p.stratum)),
                "ppoll" => self.put(name, format_args!("{}", p.peer_poll.max(0))),
                "hpoll" => self.put(name, format_args!("{}", p.host_poll.max(0))),
                "precision" => self.put(name, format_args!("{}", p.precision)),
                "rootdelay" => self.put(name, format_args!("{:.3}", ms(p.root_delay))),
                "rootdisp" => self.put(name, format_args!("{:.3}", ms(p.root_dispersion))),
                "refid" => self.put(name, format_args!("{}", RefidText(p.stratum, p.refid))),
                "reftime" => self.put(name, format_args!("{}", Ts(p.reference))),
                "rec" => self.put(name, format_args!("{}", Ts(p.received))),
                "xmt" => self.put(name, format_args!("{}", Ts(p.transmit))),
                "reach" => self.put(name, format_args!("{:#x}", p.reach)),
                "unreach" => self.put(name, format_args!("{}", p.unreach)),
                "delay" => self.put(name, format_args!("{:.6}", ms(p.delay))),
                "offset" => self.put(name, format_args!("{:.6}", ms(p.offset))),
                "jitter" => self.put(name, format_args!("{:.6}", ms(p.jitter))),
                "dispersion" => self.put(name, format_args!("{:.6}", ms(p.dispersion))),
                "filtdelay" => self.put(name, format_args!("{}", Stages(&p.filter, |s| s.delay))),
                "filtoffset" => {
                    self.put(name, format_args!("{}", Stages(&p.filter, |s| s.offset)));
                }
                "pmode" => self.put(name, format_args!("{}", p.peer_mode)),
                "filtdisp" => {
                    self.put(
                        name,
                        format_args!("{}", Stages(&p.filter, |s| s.dispersion)),
                    );
                }
                "flash" => self.put(name, format_args!("0x0")),
                _ => self.put(name, format_args!("0")),
            }
        }
    }
}

/// The variable names a request asks for: `Defaults` for an empty list, error 5 for an
/// unknown name, error 2 for a list that is not ASCII text.
fn wanted(data: &[u8], table: &[&str]) -> Result<Wanted, ErrorCode> {
    let mut bits = 0u64;
    for item in data.split(|&b| b == b',') {
        // A value after '=' (ntpd allows one) is ignored by a read.
        let name = item.split(|&b| b == b'=').next().unwrap_or(&[]);
        let name = trim_nul(name).trim_ascii();
        if name.is_empty() {
            continue;
        }
        let name = core::str::from_utf8(name).map_err(|_| ErrorCode::UnknownVariable)?;
        let i = table
            .iter()
            .position(|n| *n == name)
            .ok_or(ErrorCode::UnknownVariable)?;
        bits |= 1 << i;
    }
    Ok(if bits == 0 {
        Wanted::Defaults
    } else {
        Wanted::Selected(bits)
    })
}

fn trim_nul(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., 0] = b {
        b = rest;
    }
    b
}

fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

fn ms(secs: f64) -> f64 {
    finite(secs * 1e3)
}

/// A timestamp as ntpd prints it: `0x%08x.%08x`.
struct Ts(NtpTimestamp);

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08x}.{:08x}", self.0.seconds(), self.0.fraction())
    }
}

/// A refid as ntpd prints it: dotted quad at strata 2..=15, else its printable characters
/// (`INIT` when empty).
struct RefidText(u8, Refid);

impl fmt::Display for RefidText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(stratum, refid) = *self;
        if (2..16).contains(&stratum) {
            return write!(f, "{}", refid.ipv4());
        }
        if refid == Refid::ZERO {
            return f.write_str("INIT");
        }
        for &b in refid.to_bytes().iter().take_while(|&&b| b != 0) {
            f.write_char(if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '.'
            })?;
        }
        Ok(())
    }
}

/// The filter register in milliseconds, newest first, as ` %.2f` per stage (an empty stage
/// reads as zero delay and offset and 16 s of dispersion).
struct Stages<'a>(&'a [Option<FilterStage>; 8], fn(&FilterStage) -> f64);

impl fmt::Display for Stages<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const EMPTY: FilterStage = FilterStage {
            delay: 0.0,
            offset: 0.0,
            dispersion: 16.0,
        };
        for s in self.0 {
            write!(f, " {:.2}", ms((self.1)(s.as_ref().unwrap_or(&EMPTY))))?;
        }
        Ok(())
    }
}

/// A fixed buffer for one `name=value` item (longer items are cut).
struct ItemBuf {
    buf: [u8; 256],
    len: usize,
}

impl Default for ItemBuf {
    fn default() -> Self {
        Self {
            buf: [0; 256],
            len: 0,
        }
    }
}

impl ItemBuf {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl fmt::Write for ItemBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let b = s.as_bytes();
        let end = self.len.checked_add(b.len()).ok_or(fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(b);
        self.len = end;
        Ok(())
    }
}

impl FromIterator<u8> for ItemBuf {
    fn from_iter<I: IntoIterator<Item = u8>>(iter: I) -> Self {
        let mut out = Self::default();
        for b in iter.into_iter().take(out.buf.len()) {
            out.buf[out.len] = b;
            out.len += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_lists() {
        assert!(matches!(wanted(b"", &SYS_VARS), Ok(Wanted::Defaults)));
        assert!(matches!(wanted(b"\0\0", &SYS_VARS), Ok(Wanted::Defaults)));
        assert!(matches!(
            wanted(b" stratum , tc=9,", &SYS_VARS),
            Ok(Wanted::Selected(b)) if b == (1 << 1) | (1 << 7)
        ));
        assert!(matches!(
            wanted(b"stratum,bogus", &SYS_VARS),
            Err(ErrorCode::UnknownVariable)
        ));
        assert!(matches!(
            wanted(&[0xff, 0xfe], &SYS_VARS),
            Err(ErrorCode::UnknownVariable)
        ));
    }

    #[test]
    fn refid_text() {
        let ip = Refid::from_bytes([192, 0, 2, 1]);
        assert_eq!(RefidText(3, ip).to_string(), "192.0.2.1");
        assert_eq!(
            RefidText(1, Refid::from_bytes(*b"GPS\0")).to_string(),
            "GPS"
        );
        assert_eq!(RefidText(16, Refid::ZERO).to_string(), "INIT");
        assert_eq!(
            RefidText(0, Refid::from_bytes(*b"RA\tE")).to_string(),
            "RA.E"
        );
    }
}
