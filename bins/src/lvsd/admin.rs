//! The ipvsadm-style administration commands: parsing (shared by `lvsadm` and the daemon's
//! control socket), applying them to a [`Table`], and ipvsadm's `-L -n` (with `--stats`,
//! `--rate` or `-c`) and `-S` output.
//!
//! # The control protocol
//!
//! The client connects to lvsd's Unix socket and writes one command per line, each in
//! ipvsadm's own syntax (`-A -t 127.0.0.1:80 -s wlc`, `-a -t ... -r ... -m -w 2`, `-L -n`,
//! `--stats`, `-S -n` ...), then shuts down its write half. lvsd runs the lines in order and
//! stops at the first error. Its reply is a status line, `OK` or `ERR <message>`, followed by
//! the output of the commands (listings), after which it closes the connection. Requests are
//! limited to [`MAX_REQUEST`] bytes. `lvsadm -R` sends ipvsadm-save lines this way.
//!
//! Besides ipvsadm's vocabulary the socket takes `--reload` (an lvs extension): re-read the
//! configuration file exactly as SIGHUP does; the reply is `OK` or the reason the running
//! configuration was kept.
//!
//! # Forwarding methods
//!
//! `-a` and `-e` carry the forwarding method when one is given (`-g` DR, `-i` TUN, `-m` NAT).
//! Proxy mode forwards by masquerading only and refuses `-g` and `-i`; packet mode takes all
//! three, and a server added without one is reached by direct routing, ipvsadm's default.
//! `-e` without a method keeps the server's.

use core::net::SocketAddr;
use core::time::Duration;
use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{ArgGroup, Parser};
use lvs_core::Instant;
use lvs_core::director::Forward;
use lvs_core::service::Persistence;
use lvs_sched::SchedFlags;

use super::config::{
    Protocol, RealSpec, ServiceSpec, SvcKey, check_scheduler, mask_text, parse_netmask,
};
use super::table::{Counters, Service, Table};
use lvs_core::director::Rates;

/// The largest request the control socket accepts.
pub const MAX_REQUEST: usize = 1 << 20;

/// `lvsadm`'s command line: the ipvsadm subset lvsd supports.
#[derive(Debug, Clone, Parser, Default)]
#[command(
    name = "lvsadm",
    version,
    about = "Administer a running lvsd (IP virtual server, proxy or packet mode) like ipvsadm",
    group(ArgGroup::new("cmd").required(true).args([
        "add_service", "edit_service", "delete_service", "clear", "add_server",
        "edit_server", "delete_server", "list", "save", "restore", "reload",
    ])),
    group(ArgGroup::new("method").args(["masq", "gatewaying", "ipip"]))
)]
pub struct AdminArgs {
    /// Add a virtual service.
    #[arg(short = 'A', long = "add-service")]
    pub add_service: bool,
    /// Edit a virtual service.
    #[arg(short = 'E', long = "edit-service")]
    pub edit_service: bool,
    /// Delete a virtual service.
    #[arg(short = 'D', long = "delete-service")]
    pub delete_service: bool,
    /// Clear the whole table.
    #[arg(short = 'C', long = "clear")]
    pub clear: bool,
    /// Add a real server to a service.
    #[arg(short = 'a', long = "add-server")]
    pub add_server: bool,
    /// Edit a real server.
    #[arg(short = 'e', long = "edit-server")]
    pub edit_server: bool,
    /// Delete a real server.
    #[arg(short = 'd', long = "delete-server")]
    pub delete_server: bool,
    /// List the table.
    #[arg(short = 'L', visible_short_alias = 'l', long = "list")]
    pub list: bool,
    /// Print the table as ipvsadm-save rules.
    #[arg(short = 'S', long = "save")]
    pub save: bool,
    /// Restore rules in ipvsadm-save format from standard input.
    #[arg(short = 'R', long = "restore")]
    pub restore: bool,
    /// Re-read lvsd's configuration file as SIGHUP does (an lvs extension, not in ipvsadm).
    ///
    /// The new services replace the running ones atomically and open connections to real
    /// servers that stay keep flowing; on an error (printed, exit status 1) the running
    /// configuration stays. Changes made with lvsadm since the last load are replaced too.
    #[arg(long = "reload")]
    pub reload: bool,
    /// TCP service address:port.
    #[arg(short = 't', long = "tcp-service", value_name = "ADDR:PORT")]
    pub tcp: Option<SocketAddr>,
    /// UDP service address:port.
    #[arg(short = 'u', long = "udp-service", value_name = "ADDR:PORT")]
    pub udp: Option<SocketAddr>,
    /// Scheduler (default wlc).
    #[arg(short = 's', long = "scheduler")]
    pub scheduler: Option<String>,
    /// Scheduler flags (sh-fallback,sh-port,mh-fallback,mh-port).
    #[arg(short = 'b', long = "sched-flags")]
    pub sched_flags: Option<String>,
    /// Persistence timeout in seconds (default 300).
    #[arg(short = 'p', long = "persistent", num_args = 0..=1, default_missing_value = "300")]
    pub persistent: Option<u32>,
    /// Persistence netmask (dotted IPv4 mask or prefix length).
    #[arg(short = 'M', long = "netmask")]
    pub netmask: Option<String>,
    /// Real server address:port.
    #[arg(short = 'r', long = "real-server", value_name = "ADDR:PORT")]
    pub real: Option<SocketAddr>,
    /// Weight (default 1).
    #[arg(short = 'w', long = "weight")]
    pub weight: Option<u32>,
    /// Upper connection threshold.
    #[arg(short = 'x', long = "u-threshold")]
    pub upper: Option<u32>,
    /// Lower connection threshold.
    #[arg(short = 'y', long = "l-threshold")]
    pub lower: Option<u32>,
    /// Masquerading, NAT (proxy mode's only method).
    #[arg(short = 'm', long = "masquerading")]
    pub masq: bool,
    /// Direct routing (packet mode; its default for -a, as ipvsadm's).
    #[arg(short = 'g', long = "gatewaying")]
    pub gatewaying: bool,
    /// IP-in-IP tunnelling (packet mode).
    #[arg(short = 'i', long = "ipip")]
    pub ipip: bool,
    /// Numeric output (lvsd always prints addresses numerically).
    #[arg(short = 'n', long = "numeric")]
    pub numeric: bool,
    /// With -L: traffic counters instead of connection counts.
    #[arg(long, conflicts_with_all = ["rate", "connection"])]
    pub stats: bool,
    /// With -L: rates (connections, packets and bytes per second) as the kernel estimates them.
    #[arg(long, conflicts_with = "connection")]
    pub rate: bool,
    /// With -L: the open connections (and those in TIME_WAIT).
    #[arg(short = 'c', long = "connection")]
    pub connection: bool,
    /// lvsd's control socket (default: the daemon's default path).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

/// What `-L -n` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListFormat {
    /// Services, schedulers and connection counts.
    #[default]
    Plain,
    /// `--stats`: traffic counters.
    Stats,
    /// `--rate`: estimated rates.
    Rate,
    /// `-c`: the connection entries.
    Connections,
}

/// One administration command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `-A`.
    AddService(ServiceSpec),
    /// `-E`: scheduler, flags and persistence are replaced.
    EditService(ServiceSpec),
    /// `-D`.
    DeleteService(SvcKey),
    /// `-C`.
    Clear,
    /// `-a`, with the forwarding method if one was given.
    AddServer(SvcKey, RealSpec, Option<Forward>),
    /// `-e`: weight and thresholds are replaced, and the forwarding method if one was given.
    EditServer(SvcKey, RealSpec, Option<Forward>),
    /// `-d`.
    DeleteServer(SvcKey, SocketAddr),
    /// `-L -n [--stats | --rate | -c]`.
    List(ListFormat),
    /// `-S -n`.
    Save,
    /// `--reload` (an lvs extension): re-read the configuration file as SIGHUP does. The
    /// daemons run it themselves; [`apply`] refuses it.
    Reload,
}

impl AdminArgs {
    /// The command these arguments ask for. `-R` is not a command (the client reads the
    /// rules); it returns an error here.
    pub fn command(&self) -> Result<Command, String> {
        let forward = if self.gatewaying {
            Some(Forward::Dr)
        } else if self.ipip {
            Some(Forward::Tun)
        } else if self.masq {
            Some(Forward::Nat)
        } else {
            None
        };
        if forward.is_some() && !(self.add_server || self.edit_server) {
            return Err("-g, -i and -m go with -a or -e".into());
        }
        let key = || -> Result<SvcKey, String> {
            match (self.tcp, self.udp) {
                (Some(a), None) => Ok((Protocol::Tcp, a)),
                (None, Some(a)) => Ok((Protocol::Udp, a)),
                (Some(_), Some(_)) => Err("give either -t or -u, not both".into()),
                (None, None) => Err("a service is required: -t ADDR:PORT or -u ADDR:PORT".into()),
            }
        };
        let real = || -> Result<RealSpec, String> {
            let addr = self.real.ok_or("a real server is required: -r ADDR:PORT")?;
            let weight = self.weight.unwrap_or(1);
            if weight > i32::MAX as u32 {
                return Err(format!("weight {weight} out of range"));
            }
            Ok(RealSpec {
                addr,
                weight,
                upper: self.upper.unwrap_or(0),
                lower: self.lower.unwrap_or(0),
            })
        };
        Ok(if self.add_service || self.edit_service {
            let key = key()?;
            let mut spec = ServiceSpec::new(key, self.scheduler.as_deref().unwrap_or("wlc"));
            spec.flags = SchedFlags::parse(self.sched_flags.as_deref().unwrap_or(""))
                .map_err(|e| format!("-b: {e}"))?;
            check_scheduler(&spec.scheduler, spec.flags)?;
            if let Some(t) = self.persistent {
                let mut p = Persistence {
                    timeout: Duration::from_secs(u64::from(t.max(1))),
                    ..Persistence::default()
                };
                if let Some(m) = &self.netmask {
                    let len = parse_netmask(m, key.1.is_ipv6())?;
                    if key.1.is_ipv6() {
                        p.v6_prefix = len;
                    } else {
                        p.v4_prefix = len;
                    }
                }
                spec.persistence = Some(p);
            } else if self.netmask.is_some() {
                return Err("-M needs -p".into());
            }
            if self.add_service {
                Command::AddService(spec)
            } else {
                Command::EditService(spec)
            }
        } else if self.delete_service {
            Command::DeleteService(key()?)
        } else if self.clear {
            Command::Clear
        } else if self.add_server {
            Command::AddServer(key()?, real()?, forward)
        } else if self.edit_server {
            Command::EditServer(key()?, real()?, forward)
        } else if self.delete_server {
            let addr = self.real.ok_or("a real server is required: -r ADDR:PORT")?;
            Command::DeleteServer(key()?, addr)
        } else if self.list {
            Command::List(if self.stats {
                ListFormat::Stats
            } else if self.rate {
                ListFormat::Rate
            } else if self.connection {
                ListFormat::Connections
            } else {
                ListFormat::Plain
            })
        } else if self.save {
            Command::Save
        } else if self.reload {
            Command::Reload
        } else {
            return Err("-R reads rules from standard input; it is not a single command".into());
        })
    }
}

pub(crate) fn flag_names(sched: &str, f: SchedFlags) -> Vec<&'static str> {
    let (a, b) = match sched {
        "sh" => ("sh-fallback", "sh-port"),
        "mh" => ("mh-fallback", "mh-port"),
        _ => ("flag-1", "flag-2"),
    };
    let mut v = Vec::new();
    if f.fallback {
        v.push(a);
    }
    if f.port {
        v.push(b);
    }
    v
}

/// `spec` as an ipvsadm-save `-A` rule.
pub(crate) fn service_rule(spec: &ServiceSpec) -> String {
    let (proto, addr) = spec.key;
    let mut s = format!("-A {} {addr} -s {}", proto.switch(), spec.scheduler);
    let flags = flag_names(&spec.scheduler, spec.flags);
    if !flags.is_empty() {
        let _ = write!(s, " -b {}", flags.join(","));
    }
    if let Some(p) = spec.persistence {
        let _ = write!(s, " -p {}", p.timeout.as_secs());
        if addr.is_ipv4() && p.v4_prefix != 32 {
            let _ = write!(s, " -M {}", mask_text(p.v4_prefix));
        } else if addr.is_ipv6() && p.v6_prefix != 128 {
            let _ = write!(s, " -M {}", p.v6_prefix);
        }
    }
    s
}

/// ipvsadm's switch for a forwarding method.
pub(crate) fn forward_switch(f: Forward) -> &'static str {
    match f {
        Forward::Nat => "-m",
        Forward::Dr => "-g",
        Forward::Tun => "-i",
    }
}

/// A real server as an ipvsadm-save `-a` rule (without a method switch when `forward` is
/// `None`).
pub(crate) fn real_rule(key: SvcKey, r: &RealSpec, forward: Option<Forward>) -> String {
    let mut s = format!("-a {} {} -r {}", key.0.switch(), key.1, r.addr);
    if let Some(f) = forward {
        let _ = write!(s, " {}", forward_switch(f));
    }
    let _ = write!(s, " -w {}", r.weight);
    if r.upper != 0 {
        let _ = write!(s, " -x {}", r.upper);
    }
    if r.lower != 0 {
        let _ = write!(s, " -y {}", r.lower);
    }
    s
}

impl Command {
    /// The command as one line of ipvsadm arguments (what the control socket carries).
    pub fn to_line(&self) -> String {
        match self {
            Self::AddService(s) => service_rule(s),
            Self::EditService(s) => service_rule(s).replacen("-A", "-E", 1),
            Self::DeleteService(k) => format!("-D {} {}", k.0.switch(), k.1),
            Self::Clear => "-C".into(),
            Self::AddServer(k, r, f) => real_rule(*k, r, *f),
            Self::EditServer(k, r, f) => real_rule(*k, r, *f).replacen("-a", "-e", 1),
            Self::DeleteServer(k, a) => format!("-d {} {} -r {a}", k.0.switch(), k.1),
            Self::List(ListFormat::Plain) => "-L -n".into(),
            Self::List(ListFormat::Stats) => "-L -n --stats".into(),
            Self::List(ListFormat::Rate) => "-L -n --rate".into(),
            Self::List(ListFormat::Connections) => "-L -n -c".into(),
            Self::Save => "-S -n".into(),
            Self::Reload => "--reload".into(),
        }
    }
}

/// Parse one line of ipvsadm arguments. Blank lines and `#` comments give `Ok(None)`.
pub fn parse_line(line: &str) -> Result<Option<Command>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let argv = core::iter::once("lvsadm").chain(line.split_whitespace());
    let args = AdminArgs::try_parse_from(argv).map_err(|e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("invalid arguments");
        first.trim_start_matches("error: ").to_owned()
    })?;
    if args.socket.is_some() {
        return Err("--socket is not allowed on the control socket".into());
    }
    args.command().map(Some)
}

/// ipvsadm's `print_largenum`: right-aligned in 9 columns, with K/M/G/T suffixes when large.
fn largenum(out: &mut String, i: u64) {
    let _ = match i {
        0..100_000_000 => write!(out, "{i:9}"),
        100_000_000..1_000_000_000 => write!(out, "{:8}K", i / 1_000),
        1_000_000_000..100_000_000_000 => write!(out, "{:8}M", i / 1_000_000),
        100_000_000_000..100_000_000_000_000 => write!(out, "{:8}G", i / 1_000_000_000),
        _ => write!(out, "{:8}T", i / 1_000_000_000_000),
    };
}

/// One `--stats` or `--rate` row of ipvsadm's listing after the address column: `counters`
/// are conns, in/out packets and in/out bytes; a real server's CPS and PPS print as plain
/// numbers, its BPS (and everything of a service) as ipvsadm's large numbers.
pub(crate) fn stats_row(
    out: &mut String,
    format: ListFormat,
    counters: [u64; 5],
    r: &Rates,
    real: bool,
) {
    if format == ListFormat::Rate {
        if real {
            let _ = write!(out, " {:>8} {:>8} {:>8}", r.cps, r.in_pps, r.out_pps);
        } else {
            for v in [r.cps, r.in_pps, r.out_pps] {
                largenum(out, v);
            }
        }
        largenum(out, r.in_bps);
        largenum(out, r.out_bps);
    } else {
        for v in counters {
            largenum(out, v);
        }
    }
    out.push('\n');
}

fn counters(c: &Counters) -> [u64; 5] {
    [c.conns, c.in_pkts, c.out_pkts, c.in_bytes, c.out_bytes]
}

fn service_head(s: &Service) -> String {
    format!("{}  {}", s.spec.key.0.label(), s.spec.key.1)
}

/// `ipvsadm -L -n` (`--stats`, `--rate`) for the table, in ipvsadm's column layout. The
/// connection entries (`-c`) need the daemon's connections: see [`list_conns`].
pub fn list(t: &Table, format: ListFormat) -> String {
    let mut out = String::from("IP Virtual Server version 1.2.1 (lvsd proxy mode)\n");
    let columns = match format {
        ListFormat::Stats => Some(["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"]),
        ListFormat::Rate => Some(["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"]),
        ListFormat::Plain | ListFormat::Connections => None,
    };
    if let Some([a, b, c, d, e]) = columns {
        let _ = writeln!(
            out,
            "{:<33} {a:>8} {b:>8} {c:>8} {d:>8} {e:>8}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port"
        );
    } else {
        out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
        out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    }
    for s in t.services() {
        if columns.is_some() {
            let _ = write!(out, "{:<33}", service_head(s));
            stats_row(&mut out, format, counters(&s.stats), &s.rates(), false);
            for r in s.reals() {
                let _ = write!(out, "  -> {:<28}", r.spec.addr.to_string());
                stats_row(&mut out, format, counters(&r.stats), &r.rates(), true);
            }
            continue;
        }
        let _ = write!(out, "{} {}", service_head(s), s.spec.scheduler);
        let flags = flag_names(&s.spec.scheduler, s.spec.flags);
        if !flags.is_empty() {
            let _ = write!(out, " ({})", flags.join(","));
        }
        if let Some(p) = s.spec.persistence {
            let _ = write!(out, " persistent {}", p.timeout.as_secs());
            if s.spec.key.1.is_ipv4() && p.v4_prefix != 32 {
                let _ = write!(out, " mask {}", mask_text(p.v4_prefix));
            } else if s.spec.key.1.is_ipv6() && p.v6_prefix != 128 {
                let _ = write!(out, " mask {}", p.v6_prefix);
            }
        }
        out.push('\n');
        for r in s.reals() {
            let (active, inactive) = s.load(r.id);
            let _ = writeln!(
                out,
                "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                r.spec.addr.to_string(),
                "Masq",
                r.effective_weight(),
                active,
                inactive
            );
        }
    }
    out
}

/// One connection entry of `-L -n -c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnRow {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Time left before the entry goes.
    pub expires: Duration,
    /// IPVS's state name: `ESTABLISHED`, `SYN_RECV`, `TIME_WAIT`, `UDP`.
    pub state: &'static str,
    /// The client.
    pub source: SocketAddr,
    /// The virtual service address.
    pub virtual_addr: SocketAddr,
    /// The real server.
    pub destination: SocketAddr,
}

/// The closed TCP connections the table still counts (TIME_WAIT) as connection entries.
pub fn time_wait_rows(t: &Table, now: Instant) -> Vec<ConnRow> {
    t.lingering()
        .filter_map(|(until, b)| {
            let ((protocol, virtual_addr), destination) = t.endpoints(b)?;
            Some(ConnRow {
                protocol,
                expires: until.saturating_duration_since(now),
                state: "TIME_WAIT",
                source: b.client,
                virtual_addr,
                destination,
            })
        })
        .collect()
}

/// `ipvsadm -L -n -c`: the header and one line per entry, in ipvsadm's columns (expiry as
/// mm:ss).
pub fn list_conns(rows: &[ConnRow]) -> String {
    let mut out = String::from("IPVS connection entries\n");
    let _ = writeln!(
        out,
        "pro expire {:<11} {:<18} {:<18} destination",
        "state", "source", "virtual"
    );
    for r in rows {
        let secs = r.expires.as_secs();
        let expire = format!("{:02}:{:02}", secs / 60, secs % 60);
        let _ = writeln!(
            out,
            "{:<3} {expire:<6} {:<11} {:<18} {:<18} {}",
            r.protocol.label(),
            r.state,
            r.source.to_string(),
            r.virtual_addr.to_string(),
            r.destination
        );
    }
    out
}

/// `ipvsadm -S -n`: rules that rebuild the table. Weights are the configured ones (a server
/// that its health check holds down is saved with its own weight, not 0).
pub fn save(t: &Table) -> String {
    let mut out = String::new();
    for s in t.services() {
        out.push_str(&service_rule(&s.spec));
        out.push('\n');
        for r in s.reals() {
            out.push_str(&real_rule(s.spec.key, &r.spec, Some(Forward::Nat)));
            out.push('\n');
        }
    }
    out
}

/// Apply one command to the table; listings are appended to `out`. `open` are the daemon's
/// open connections, listed by `-c` before the table's TIME_WAIT entries. The daemon opens
/// and closes listeners afterwards to match the table.
pub fn apply(
    t: &mut Table,
    cmd: &Command,
    now: Instant,
    open: &[ConnRow],
    out: &mut String,
) -> Result<(), String> {
    match cmd {
        Command::AddService(s) => t.add_service(s.clone(), now).map(drop),
        Command::EditService(s) => t.edit_service(s.key, &s.scheduler, s.flags, s.persistence),
        Command::DeleteService(k) => t.remove_service(*k, now),
        Command::Clear => {
            t.clear(now);
            Ok(())
        }
        Command::AddServer(k, r, f) => {
            masquerading_only(*f)?;
            t.add_real(*k, *r, now)
        }
        Command::EditServer(k, r, f) => {
            masquerading_only(*f)?;
            t.edit_real(*k, *r)
        }
        Command::DeleteServer(k, a) => t.remove_real(*k, *a, now),
        Command::List(ListFormat::Connections) => {
            let mut rows = open.to_vec();
            rows.extend(time_wait_rows(t, now));
            out.push_str(&list_conns(&rows));
            Ok(())
        }
        Command::List(format) => {
            out.push_str(&list(t, *format));
            Ok(())
        }
        Command::Save => {
            out.push_str(&save(t));
            Ok(())
        }
        Command::Reload => Err("--reload is run by the daemon, not on a table".into()),
    }
}

/// Proxy mode forwards by masquerading only.
fn masquerading_only(f: Option<Forward>) -> Result<(), String> {
    match f {
        None | Some(Forward::Nat) => Ok(()),
        Some(_) => Err(
            "lvsd's proxy mode forwards by masquerading (-m) only: -g and -i need \
             mode = \"packet\""
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests;
