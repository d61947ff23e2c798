//! Operator output: the `ntpq -p` peer table, `ntpstat` text and exit codes, and the
//! `ntpdate -q` one-shot report. Pure formatting from client snapshots.
//!
//! The peer table keeps ntpq's columns and widths (classic `ntpq -p -n`): tally, remote (15,
//! truncated), refid (15), st (2), t, when (4), poll (4), reach (octal, 3), delay (7), offset
//! (8), jitter (7), the last three in milliseconds with three decimals and truncated to their
//! width as ntpq does. `when` and `poll` use ntpq's interval spelling (seconds up to 2048, then
//! `m`, `h`, `d`); a peer never heard shows `-`. A peer with no sample shows 0.000 in the three
//! time columns.
//!
//! ```
//! use lvs_ntp::report::{PeerRow, peer_table};
//! let row = PeerRow {
//!     tally: '*',
//!     remote: "192.0.2.1".into(),
//!     refid: ".GPS.".into(),
//!     stratum: 1,
//!     kind: 'u',
//!     when: Some(33),
//!     poll: 6,
//!     reach: 0o377,
//!     delay_ms: 0.123,
//!     offset_ms: -0.045,
//!     jitter_ms: 0.012,
//! };
//! let table = peer_table(&[row]);
//! let lines: Vec<&str> = table.lines().collect();
//! assert_eq!(lines[0], "     remote           refid      st t when poll reach   delay   offset  jitter");
//! assert_eq!(lines[1].len(), 78);
//! assert_eq!(lines[2], "*192.0.2.1       .GPS.            1 u   33   64  377    0.123   -0.045   0.012");
//! ```

use core::fmt::Write as _;
use core::net::IpAddr;
use core::time::Duration;

use crate::client::AssociationStatus;
use crate::wire::Refid;

/// The `ntpq -p` header line.
pub const PEER_HEADER: &str =
    "     remote           refid      st t when poll reach   delay   offset  jitter";

/// One line of the peer table, already reduced to what ntpq prints.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerRow {
    /// Tally code (` `, `x`, `-`, `+`, `*` ...).
    pub tally: char,
    /// The server, numerically.
    pub remote: String,
    /// The refid column text (`.GPS.`, `192.0.2.1`, `.INIT.`).
    pub refid: String,
    /// Stratum (16 = unsynchronised).
    pub stratum: u8,
    /// Association type: `u` unicast, `p` pool, `l` local.
    pub kind: char,
    /// Seconds since the last reply, `None` if never.
    pub when: Option<u64>,
    /// Poll exponent.
    pub poll: i8,
    /// Reach register.
    pub reach: u8,
    /// Round-trip delay, ms.
    pub delay_ms: f64,
    /// Offset (positive: the server is ahead of us), ms.
    pub offset_ms: f64,
    /// Peer jitter, ms.
    pub jitter_ms: f64,
}

impl PeerRow {
    /// The row for an association snapshot; `since_reply` is the time since its last accepted
    /// reply (from [`crate::client::Client::last_reply`]), `kind` the `t` column.
    pub fn from_status(s: &AssociationStatus, since_reply: Option<Duration>, kind: char) -> Self {
        Self {
            tally: s.tally.code(),
            remote: s.addr.ip().to_string(),
            refid: refid_text(
                s.stratum,
                s.refid,
                s.kiss.map(|k| Refid::from_bytes(k.to_bytes())),
            ),
            stratum: s.stratum,
            kind,
            when: since_reply.map(|d| d.as_secs()),
            poll: s.poll,
            reach: s.reach,
            delay_ms: s.delay.unwrap_or(0.0) * 1e3,
            offset_ms: s.offset.unwrap_or(0.0) * 1e3,
            jitter_ms: s.jitter.unwrap_or(0.0) * 1e3,
        }
    }
}

/// The refid column: a kiss code or an ASCII identifier at stratum 0, 1 or 16 in dots
/// (`.RATE.`, `.GPS.`, `.INIT.`), an address otherwise; `.INIT.` for a server never heard
/// (stratum 16 and no identifier).
pub fn refid_text(stratum: u8, refid: Refid, kiss: Option<Refid>) -> String {
    if let Some(k) = kiss {
        return format!(".{k}.");
    }
    match (stratum, refid.ascii()) {
        (0 | 1 | 16.., Some(s)) => format!(".{s}."),
        (16.., None) if refid == Refid::ZERO => ".INIT.".to_owned(),
        (0 | 1, None) => format!(".{}.", refid.ipv4()),
        _ => refid.ipv4().to_string(),
    }
}

/// ntpq's interval spelling: `-` for none or zero, seconds up to 2048, then minutes (up to
/// 300), hours (up to 96), days.
pub fn pretty_interval(secs: Option<u64>) -> String {
    let Some(d) = secs.filter(|&d| d > 0) else {
        return "-".to_owned();
    };
    if d <= 2048 {
        return d.to_string();
    }
    let m = (d + 29) / 60;
    if m <= 300 {
        return format!("{m}m");
    }
    let h = (m + 29) / 60;
    if h <= 96 {
        return format!("{h}h");
    }
    format!("{}d", (h + 11) / 24)
}

/// Right-aligns `s` in `width` columns, keeping at most `max` characters (C's `%W.Ms`).
fn pad(out: &mut String, s: &str, width: usize, max: usize) {
    let s: String = s.chars().take(max).collect();
    let _ = write!(out, "{s:>width$}");
}

/// The full `ntpq -p` table: header, rule of `=` and one line per row.
pub fn peer_table(rows: &[PeerRow]) -> String {
    let mut out = String::with_capacity(80 * (rows.len() + 2));
    out.push_str(PEER_HEADER);
    out.push('\n');
    out.push_str(&"=".repeat(PEER_HEADER.len()));
    out.push('\n');
    for r in rows {
        out.push(r.tally);
        let remote: String = r.remote.chars().take(15).collect();
        let refid: String = r.refid.chars().take(15).collect();
        let _ = write!(out, "{remote:<15} {refid:<15} {:>2} {} ", r.stratum, r.kind);
        pad(&mut out, &pretty_interval(r.when), 4, 4);
        out.push(' ');
        let poll = 1u64.checked_shl(u32::try_from(r.poll.max(0)).unwrap_or(0));
        pad(&mut out, &pretty_interval(poll), 4, 4);
        let _ = write!(out, "  {:>3o}  ", r.reach);
        pad(&mut out, &format!("{:.3}", r.delay_ms), 7, 7);
        out.push(' ');
        pad(&mut out, &format!("{:.3}", r.offset_ms), 8, 7);
        out.push(' ');
        pad(&mut out, &format!("{:.3}", r.jitter_ms), 7, 7);
        out.push('\n');
    }
    out
}

/// What `ntpstat` needs to know.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SyncStatus {
    /// The leap indicator is not 3.
    pub synchronized: bool,
    /// The system peer, if synchronised to an NTP server.
    pub source: Option<IpAddr>,
    /// Our stratum.
    pub stratum: u8,
    /// Root delay, seconds.
    pub root_delay: f64,
    /// Root dispersion, seconds.
    pub root_dispersion: f64,
    /// The poll exponent of the system peer (or the system poll).
    pub poll: i8,
}

/// `ntpstat`'s exit code when the daemon cannot be asked.
pub const NTPSTAT_INDETERMINATE: u8 = 2;

/// The `ntpstat` message when the daemon cannot be asked (exit code 2).
pub const NTPSTAT_NO_DAEMON: &str = "Unable to talk to NTP daemon. Is it running?\n";

/// `ntpstat`'s text and exit code (0 synchronised, 1 not).
///
/// ```
/// use lvs_ntp::report::{SyncStatus, ntpstat};
/// let s = SyncStatus {
///     synchronized: true,
///     source: Some("10.0.0.1".parse().unwrap()),
///     stratum: 3,
///     root_delay: 0.030,
///     root_dispersion: 0.027,
///     poll: 10,
/// };
/// let (text, code) = ntpstat(&s);
/// assert_eq!(text, "synchronised to NTP server (10.0.0.1) at stratum 3\n   \
///                   time correct to within 42 ms\n   polling server every 1024 s\n");
/// assert_eq!(code, 0);
/// ```
pub fn ntpstat(s: &SyncStatus) -> (String, u8) {
    let poll = 1u64 << s.poll.clamp(0, 17);
    if !s.synchronized {
        return (
            format!("unsynchronised\n   polling server every {poll} s\n"),
            1,
        );
    }
    let source = match s.source {
        Some(ip) => format!("NTP server ({ip})"),
        None => "local net".to_owned(),
    };
    let distance_ms = (s.root_delay / 2.0 + s.root_dispersion) * 1e3;
    (
        format!(
            "synchronised to {source} at stratum {}\n   time correct to within {distance_ms:.0} ms\n   \
             polling server every {poll} s\n",
            s.stratum
        ),
        0,
    )
}

/// One measurement of a one-shot query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuerySample {
    /// The server.
    pub server: IpAddr,
    /// Its stratum.
    pub stratum: u8,
    /// θ, seconds (positive: the server is ahead).
    pub offset: f64,
    /// δ, seconds.
    pub delay: f64,
}

/// The offset beyond which `ntpdate` would step rather than slew (0.5 s).
pub const NTPDATE_STEP_LIMIT: f64 = 0.5;

/// The `ntpdate -q` report: one `server` line per server (its lowest-delay sample) and the
/// decision line for the best of them; exit code 0, or 1 with `no server suitable` when there
/// is no sample.
///
/// ```
/// use lvs_ntp::report::{QuerySample, query_report};
/// let s = QuerySample { server: "127.0.0.1".parse().unwrap(), stratum: 2, offset: 0.001234, delay: 0.0002 };
/// let (text, code) = query_report(&[s]);
/// assert_eq!(text, "server 127.0.0.1, stratum 2, offset +0.001234, delay 0.00020\n\
///                   adjust time server 127.0.0.1 offset +0.001234 sec\n");
/// assert_eq!(code, 0);
/// ```
pub fn query_report(samples: &[QuerySample]) -> (String, u8) {
    let mut best: Vec<QuerySample> = Vec::new();
    for s in samples {
        match best.iter_mut().find(|b| b.server == s.server) {
            Some(b) if s.delay < b.delay => *b = *s,
            Some(_) => {}
            None => best.push(*s),
        }
    }
    let mut out = String::new();
    for b in &best {
        let _ = writeln!(
            out,
            "server {}, stratum {}, offset {:+.6}, delay {:.5}",
            b.server, b.stratum, b.offset, b.delay
        );
    }
    let pick = best
        .iter()
        .min_by(|a, b| a.stratum.cmp(&b.stratum).then(a.delay.total_cmp(&b.delay)));
    let Some(p) = pick else {
        out.push_str("no server suitable for synchronization found\n");
        return (out, 1);
    };
    let verb = if p.offset.abs() > NTPDATE_STEP_LIMIT {
        "step"
    } else {
        "adjust"
    };
    let _ = writeln!(
        out,
        "{verb} time server {} offset {:+.6} sec",
        p.server, p.offset
    );
    (out, 0)
}

/// One host of an `ntptrace`-style walk up the strata.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceHop {
    /// The host asked.
    pub host: IpAddr,
    /// Its stratum.
    pub stratum: u8,
    /// θ to it, seconds.
    pub offset: f64,
    /// Its root delay, seconds.
    pub root_delay: f64,
    /// Its root dispersion, seconds.
    pub root_dispersion: f64,
    /// Its reference identifier.
    pub refid: Refid,
}

impl TraceHop {
    /// The synchronisation distance `ntptrace` prints: root dispersion + root delay / 2.
    pub fn synch_distance(&self) -> f64 {
        self.root_dispersion + self.root_delay / 2.0
    }

    /// Whether the refid names a reference clock rather than a host: text (GPS, LOCL, a kiss
    /// code ...) or ntpd's refclock pseudo-addresses 127.127.t.u (its local clock included).
    fn refclock(&self) -> bool {
        let b = self.refid.to_bytes();
        self.refid.ascii().is_some() || (b[0] == 127 && b[1] == 127)
    }

    /// `ntptrace`'s line: `HOST: stratum N, offset X, synch distance Y`, plus `, refid 'ID'`
    /// when the refid names a reference clock (text, or 127.127.t.u as an address).
    pub fn line(&self) -> String {
        let mut out = format!(
            "{}: stratum {}, offset {:.6}, synch distance {:.6}",
            self.host,
            self.stratum,
            self.offset,
            self.synch_distance()
        );
        if let Some(id) = self.refid.ascii() {
            let _ = write!(out, ", refid '{id}'");
        } else if self.refclock() {
            let _ = write!(out, ", refid '{}'", self.refid.ipv4());
        }
        out
    }

    /// The host to ask next: the IPv4 upstream the refid names, for strata 2 to 15. A refid
    /// that names a reference clock (text, or 127.127.t.u) names no host, so the walk stops
    /// there rather than guess; so does an IPv6 upstream (its refid is a hash).
    pub fn upstream(&self) -> Option<core::net::Ipv4Addr> {
        if !(2..=15).contains(&self.stratum) || self.refclock() {
            return None;
        }
        let a = self.refid.ipv4();
        (!a.is_unspecified() && !a.is_broadcast()).then_some(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(pretty_interval(None), "-");
        assert_eq!(pretty_interval(Some(0)), "-");
        assert_eq!(pretty_interval(Some(2048)), "2048");
        assert_eq!(pretty_interval(Some(4096)), "68m");
        assert_eq!(pretty_interval(Some(36_000)), "10h");
        assert_eq!(pretty_interval(Some(864_000)), "10d");
    }

    #[test]
    fn trace_hops_follow_address_refids_and_stop_at_text() {
        let hop = |stratum, refid| TraceHop {
            host: "192.0.2.1".parse().unwrap(),
            stratum,
            offset: 0.000_123,
            root_delay: 0.01,
            root_dispersion: 0.002,
            refid,
        };
        let up = hop(3, Refid::from_ipv4("192.0.2.7".parse().unwrap()));
        assert_eq!(up.upstream(), Some("192.0.2.7".parse().unwrap()));
        assert_eq!(
            up.line(),
            "192.0.2.1: stratum 3, offset 0.000123, synch distance 0.007000"
        );
        let gps = hop(1, Refid::from_ascii("GPS").unwrap());
        assert_eq!(gps.upstream(), None);
        assert!(gps.line().ends_with(", refid 'GPS'"), "{}", gps.line());
        assert_eq!(hop(8, Refid::from_ascii("LOCL").unwrap()).upstream(), None);
        let local = hop(8, Refid::from_bytes([127, 127, 1, 1]));
        assert_eq!(local.upstream(), None);
        assert!(
            local.line().ends_with(", refid '127.127.1.1'"),
            "{}",
            local.line()
        );
        assert_eq!(
            hop(16, Refid::from_ipv4("192.0.2.7".parse().unwrap())).upstream(),
            None
        );
        assert_eq!(hop(2, Refid::ZERO).upstream(), None);
    }
}
