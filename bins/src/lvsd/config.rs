//! lvsd's configuration file (TOML), parsed and validated into plain data.
//!
//! ```toml
//! control = "/run/lvsd.sock"   # optional; see default_control_path()
//! mode = "proxy"                # or "packet" (root: AF_PACKET on `interface`, NAT/DR/TUN)
//! interface = "eth0"            # packet mode: the interface clients and real servers are on
//! tunnel_source = "10.0.2.1"    # packet mode: outer source of TUN packets (default: an
//!                               # address of `interface`, one on a TUN real server's subnet)
//! time_wait = 120               # seconds a closed TCP connection stays in InActConn (0 = none)
//! drain_timeout = 10            # seconds SIGTERM waits for open connections
//!
//! [vrrp]                        # optional: run the director pair's VRRP inside lvsd
//! file = "vrrpd.toml"           # lvs-vrrpd's configuration (relative to this file)
//! format = "toml"               # or "keepalived" (its vrrp_* blocks; virtual_servers skipped)
//!
//! [[service]]
//! protocol = "tcp"              # or "udp"
//! listen = "127.0.0.1:8080"
//! scheduler = "wlc"             # any lvs-sched name
//! flags = ""                    # ipvsadm -b flags (sh-port, mh-fallback ...)
//! persistence = 300             # seconds; absent = no persistence
//! netmask = "255.255.255.0"     # or a prefix length; default /32 (/128)
//! proxy_protocol = false        # TCP: send a PROXY v2 header to the real server
//! udp_timeout = 300             # UDP: idle seconds before a client flow is forgotten
//! connect_timeout = 5           # TCP: seconds to wait for the real server's accept
//!
//! [service.health]
//! kind = "http"                 # tcp | http | send-expect | udp | dns | memcached | program
//! path = "/"                    # http
//! status = 200                  # http (absent: any 2xx)
//! digest = "9b3a0c85a887a256d6939da88aabd8cd"  # http: MD5 of the body (keepalived digest)
//! send = "PING\r\n"             # send-expect and udp (nanny escapes)
//! expect = "+PONG"              # send-expect, udp (no expect: sent is passed); program: the
//!                               # first output line must be this
//! query = "example.com."        # dns: the name asked for (NOERROR passes)
//! qtype = "A"                   # dns: A | AAAA | NS | SOA | MX | TXT | a number (default A)
//! command = "/usr/local/bin/check %h %p"  # program: %h address, %p port, %% a literal %
//! dynamic = false               # program without expect: exit 2..255 sets weight exit-2
//! port = 8081                   # probe a different port than the service port
//! interval = 2.0                # seconds
//! timeout = 1.0
//! rise = 2
//! fall = 3
//!
//! [[service.real]]
//! address = "127.0.0.1:9001"
//! weight = 3                    # default 1
//! upper = 0                     # upper connection threshold, 0 = none
//! lower = 0
//! forward = "nat"               # nat | dr | tun; dr and tun need mode = "packet"
//! ```
//!
//! [`Config::parse`] reads proxy-mode files; [`ConfigFile::parse`] reads either mode and
//! returns the [`DataPlane`] beside the services. Errors about a setting that TOML can place
//! (the mode, a real server's `forward`) carry its line: `FILE:LINE: message`.

use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;
use std::path::PathBuf;

use lvs_core::director::Forward;
use lvs_core::health::{
    CheckConfig, DnsCheck, HttpCheck, ProbeSpec, ProgramCheck, ProgramJudge, SendExpect,
};
use lvs_core::service::Persistence;
use lvs_sched::SchedFlags;
use serde::Deserialize;
use toml::Spanned;

use super::packet::reconcile::check_packet_service;
use super::packet::spec::parse_plane;
pub use super::packet::spec::{DataPlane, PacketSpec, forward_label};

/// The transport of a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP (`ipvsadm -t`).
    Tcp,
    /// UDP (`ipvsadm -u`).
    Udp,
}

impl Protocol {
    /// ipvsadm's column text: `TCP` / `UDP`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
        }
    }

    /// ipvsadm's switch: `-t` / `-u`.
    pub fn switch(self) -> &'static str {
        match self {
            Self::Tcp => "-t",
            Self::Udp => "-u",
        }
    }
}

/// A virtual service's identity: protocol and listen address.
pub type SvcKey = (Protocol, SocketAddr);

/// A real server as configured (`ipvsadm -a -r ADDR -w W -x U -y L`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealSpec {
    /// Address and port.
    pub addr: SocketAddr,
    /// Weight (0 = quiesced).
    pub weight: u32,
    /// Upper connection threshold (0 = none).
    pub upper: u32,
    /// Lower connection threshold (0 = none).
    pub lower: u32,
}

/// What a health check probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    /// TCP connect.
    Tcp,
    /// HTTP GET.
    Http(HttpCheck),
    /// Send a string, match the reply's start.
    SendExpect(SendExpect),
    /// Send a datagram, match the reply's start (no expect: passed once sent).
    Udp(SendExpect),
    /// A DNS query answered with NOERROR.
    Dns(DnsCheck),
    /// memcached `version`.
    Memcached,
    /// An external program (Piranha `send_program`, keepalived `MISC_CHECK`), its words not
    /// yet expanded.
    Program(ProgramCheck),
}

/// The health check of every real server of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSpec {
    /// The probe.
    pub kind: ProbeKind,
    /// Probe this port instead of the real server's.
    pub port: Option<u16>,
    /// Time between probe starts.
    pub interval: Duration,
    /// Probe timeout.
    pub timeout: Duration,
    /// Passes that bring a server up.
    pub rise: u32,
    /// Failures that take a server down.
    pub fall: u32,
}

impl HealthSpec {
    /// The [`CheckConfig`] for one real server; `alpha` starts it down.
    pub fn check_for(&self, real: SocketAddr, alpha: bool) -> CheckConfig {
        let target = SocketAddr::new(real.ip(), self.port.unwrap_or(real.port()));
        let probe = match &self.kind {
            ProbeKind::Tcp => ProbeSpec::Tcp,
            ProbeKind::Http(h) => ProbeSpec::Http(h.clone()),
            ProbeKind::SendExpect(s) => ProbeSpec::SendExpect(s.clone()),
            ProbeKind::Udp(s) => ProbeSpec::Udp(s.clone()),
            ProbeKind::Dns(d) => ProbeSpec::Dns(d.clone()),
            ProbeKind::Memcached => ProbeSpec::Memcached,
            ProbeKind::Program(p) => ProbeSpec::Program(p.clone()),
        };
        let mut c = CheckConfig::new(target, probe);
        c.interval = self.interval;
        c.timeout = self.timeout;
        c.rise = self.rise;
        c.fall = self.fall;
        c.alpha = alpha;
        c
    }
}

/// One virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Protocol and listen address.
    pub key: SvcKey,
    /// Scheduler name.
    pub scheduler: String,
    /// Scheduler flags.
    pub flags: SchedFlags,
    /// Client persistence.
    pub persistence: Option<Persistence>,
    /// Send a PROXY protocol v2 header to the real server (TCP).
    pub proxy_protocol: bool,
    /// Idle timeout of a UDP client flow.
    pub udp_timeout: Duration,
    /// How long a TCP connect to a real server may take.
    pub connect_timeout: Duration,
    /// Health check for every real server.
    pub health: Option<HealthSpec>,
    /// Real servers in list order.
    pub reals: Vec<RealSpec>,
}

impl ServiceSpec {
    /// A service with no real servers, no persistence and no health check.
    pub fn new(key: SvcKey, scheduler: &str) -> Self {
        Self {
            key,
            scheduler: scheduler.to_owned(),
            flags: SchedFlags::default(),
            persistence: None,
            proxy_protocol: false,
            udp_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(5),
            health: None,
            reals: Vec::new(),
        }
    }
}

/// The whole daemon configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Control socket path; `None` uses [`default_control_path`].
    pub control: Option<PathBuf>,
    /// How long a closed TCP connection is still counted as inactive (IPVS TIME_WAIT).
    pub time_wait: Duration,
    /// How long SIGTERM waits for open connections.
    pub drain_timeout: Duration,
    /// Virtual services in order.
    pub services: Vec<ServiceSpec>,
}

/// A configuration that cannot be used; the message names the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// An error about the setting at byte `span` of `text`: `line N: msg`, which
/// [`ConfigFile::load`] turns into `FILE:N: msg`.
pub(crate) fn err_at<T>(
    text: &str,
    span: core::ops::Range<usize>,
    msg: impl Into<String>,
) -> Result<T, ConfigError> {
    let line = 1 + text
        .get(..span.start.min(text.len()))
        .map_or(0, |t| t.bytes().filter(|&b| b == b'\n').count());
    Err(ConfigError(format!("line {line}: {}", msg.into())))
}

/// A whole configuration file: the services and the data plane that carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// Services, real servers, checks and daemon settings.
    pub config: Config,
    /// Proxy or packet mode.
    pub plane: DataPlane,
    /// The VRRP instances lvsd runs beside the services (`[vrrp]`), if any.
    pub vrrp: Option<VrrpSource>,
}

/// Where lvsd's VRRP half comes from: an lvs-vrrpd configuration file, run by
/// [`super::vrrp::VrrpHalf`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpSource {
    /// The file (made absolute against the lvsd file's directory by [`ConfigFile::load`]).
    pub file: PathBuf,
    /// lvs-vrrpd's TOML or a keepalived.conf.
    pub format: crate::vrrpd::Format,
}

/// The control socket path when the configuration names none: `/run/lvsd.sock` for root,
/// else `$XDG_RUNTIME_DIR/lvsd.sock`, else `/tmp/lvsd-<uid>.sock`.
pub fn default_control_path() -> PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        return PathBuf::from("/run/lvsd.sock");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("lvsd.sock"),
        _ => PathBuf::from(format!("/tmp/lvsd-{uid}.sock")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    control: Option<PathBuf>,
    mode: Option<Spanned<String>>,
    interface: Option<Spanned<String>>,
    tunnel_source: Option<Spanned<String>>,
    time_wait: Option<f64>,
    drain_timeout: Option<f64>,
    vrrp: Option<RawVrrp>,
    #[serde(default)]
    service: Vec<RawService>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVrrp {
    file: PathBuf,
    format: Option<Spanned<String>>,
}

fn vrrp_source(raw: Option<RawVrrp>, text: &str) -> Result<Option<VrrpSource>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let format = match raw.format {
        None => crate::vrrpd::Format::Toml,
        Some(f) => match f.get_ref().as_str() {
            "toml" => crate::vrrpd::Format::Toml,
            "keepalived" => crate::vrrpd::Format::Keepalived,
            other => {
                return err_at(
                    text,
                    f.span(),
                    format!("vrrp.format {other:?}: expected \"toml\" or \"keepalived\""),
                );
            }
        },
    };
    Ok(Some(VrrpSource {
        file: raw.file,
        format,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    protocol: Option<String>,
    listen: String,
    scheduler: Option<String>,
    flags: Option<String>,
    persistence: Option<u32>,
    netmask: Option<String>,
    #[serde(default)]
    proxy_protocol: bool,
    udp_timeout: Option<f64>,
    connect_timeout: Option<f64>,
    health: Option<RawHealth>,
    #[serde(default)]
    real: Vec<RawReal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    kind: String,
    path: Option<String>,
    host: Option<String>,
    status: Option<u16>,
    digest: Option<String>,
    send: Option<String>,
    expect: Option<String>,
    port: Option<u16>,
    command: Option<String>,
    dynamic: Option<bool>,
    query: Option<String>,
    qtype: Option<String>,
    interval: Option<f64>,
    timeout: Option<f64>,
    rise: Option<u32>,
    fall: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReal {
    address: String,
    weight: Option<u32>,
    upper: Option<u32>,
    lower: Option<u32>,
    forward: Option<Spanned<String>>,
}

fn seconds(
    v: Option<f64>,
    default: f64,
    what: &str,
    zero_ok: bool,
) -> Result<Duration, ConfigError> {
    let s = v.unwrap_or(default);
    if !s.is_finite() || s < 0.0 || (s == 0.0 && !zero_ok) || s > 1.0e7 {
        return err(format!("{what}: {s} is not a valid number of seconds"));
    }
    Ok(Duration::from_secs_f64(s))
}

/// Parse `-M` / `netmask`: a dotted IPv4 mask (contiguous) or a prefix length. Returns the
/// prefix length for the service's address family.
pub fn parse_netmask(s: &str, v6: bool) -> Result<u8, String> {
    let max = if v6 { 128 } else { 32 };
    if let Ok(n) = s.parse::<u8>() {
        if n > max {
            return Err(format!("netmask /{n} is longer than {max} bits"));
        }
        return Ok(n);
    }
    if v6 {
        return Err(format!("netmask {s:?}: IPv6 takes a prefix length"));
    }
    let m: Ipv4Addr = s
        .parse()
        .map_err(|_| format!("netmask {s:?} is neither a mask nor a prefix length"))?;
    let bits = u32::from(m);
    let len = bits.leading_ones();
    if bits.checked_shl(len).unwrap_or(0) != 0 {
        return Err(format!("netmask {s} is not contiguous"));
    }
    Ok(len as u8)
}

/// ipvsadm's spelling of an IPv4 persistence mask (`255.255.255.0`).
pub fn mask_text(prefix: u8) -> String {
    let bits = u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0);
    Ipv4Addr::from(bits).to_string()
}

fn parse_addr(s: &str, what: &str) -> Result<SocketAddr, ConfigError> {
    s.parse()
        .map_err(|_| ConfigError(format!("{what}: {s:?} is not ADDRESS:PORT")))
}

/// Check a scheduler name and flags by building it once.
pub fn check_scheduler(name: &str, flags: SchedFlags) -> Result<(), String> {
    let rng: rand_chacha::ChaCha8Rng = rand::SeedableRng::seed_from_u64(0);
    lvs_sched::by_name(name, flags, 0, rng)
        .map(drop)
        .map_err(|e| format!("scheduler {name:?}: {e}"))
}

fn health(raw: RawHealth, svc: &str) -> Result<HealthSpec, ConfigError> {
    let kind = match raw.kind.as_str() {
        "tcp" => ProbeKind::Tcp,
        "http" => {
            let mut h = HttpCheck::get(raw.path.clone().unwrap_or_else(|| "/".into()));
            h.host = raw.host.clone();
            h.status = raw.status;
            if let Some(d) = &raw.digest {
                h.digest = Some(lvs_core::health::judge::parse_digest(d).ok_or_else(|| {
                    ConfigError(format!("{svc}: health.digest {d:?} is not 32 hex digits"))
                })?);
            }
            ProbeKind::Http(h)
        }
        "send-expect" => {
            let port = raw.port.unwrap_or(0);
            ProbeKind::SendExpect(SendExpect::nanny(
                port,
                raw.send.as_deref(),
                raw.expect.as_deref(),
                false,
            ))
        }
        "udp" => ProbeKind::Udp(SendExpect::nanny(
            raw.port.unwrap_or(0),
            Some(raw.send.as_deref().unwrap_or("")),
            raw.expect.as_deref(),
            false,
        )),
        "dns" => dns(&raw, svc)?,
        "memcached" => ProbeKind::Memcached,
        "program" => program(&raw, svc)?,
        other => {
            return err(format!(
                "{svc}: health kind {other:?} (known: tcp http send-expect udp dns memcached \
                 program)"
            ));
        }
    };
    let h = HealthSpec {
        kind,
        port: raw.port,
        interval: seconds(raw.interval, 2.0, &format!("{svc}: health.interval"), false)?,
        timeout: seconds(raw.timeout, 1.0, &format!("{svc}: health.timeout"), false)?,
        rise: raw.rise.unwrap_or(1),
        fall: raw.fall.unwrap_or(3),
    };
    if h.rise == 0 || h.fall == 0 {
        return err(format!("{svc}: health rise and fall must be at least 1"));
    }
    Ok(h)
}

/// A `kind = "dns"` check: `query` is required, `qtype` a type name or number (default A).
fn dns(raw: &RawHealth, svc: &str) -> Result<ProbeKind, ConfigError> {
    use lvs_dns::wire::{NameBuf, rtype};
    let Some(name) = raw.query.clone() else {
        return err(format!("{svc}: health kind \"dns\" needs a query name"));
    };
    if NameBuf::from_text(&name).is_err() {
        return err(format!("{svc}: health.query {name:?} is not a domain name"));
    }
    let qtype = match raw.qtype.as_deref().unwrap_or("A") {
        "A" | "a" => rtype::A,
        "AAAA" | "aaaa" => rtype::AAAA,
        "NS" | "ns" => rtype::NS,
        "SOA" | "soa" => rtype::SOA,
        "MX" | "mx" => rtype::MX,
        "TXT" | "txt" => rtype::TXT,
        other => other.parse().map_err(|_| {
            ConfigError(format!(
                "{svc}: health.qtype {other:?} (A, AAAA, NS, SOA, MX, TXT or a number)"
            ))
        })?,
    };
    Ok(ProbeKind::Dns(DnsCheck { name, qtype }))
}

/// A `kind = "program"` check: `command` is required; with `expect` the first output line
/// decides (nanny), else the exit status does (keepalived `MISC_CHECK`, `dynamic` weights).
fn program(raw: &RawHealth, svc: &str) -> Result<ProbeKind, ConfigError> {
    let Some(command) = raw.command.as_deref() else {
        return err(format!("{svc}: health kind \"program\" needs a command"));
    };
    let judge = match (&raw.expect, raw.dynamic) {
        (Some(_), Some(true)) => {
            return err(format!(
                "{svc}: health.dynamic takes weights from the exit status; it cannot be \
                 combined with expect"
            ));
        }
        (Some(e), _) => ProgramJudge::Output(e.clone()),
        (None, d) => ProgramJudge::ExitCode {
            dynamic: d.unwrap_or(false),
        },
    };
    ProgramCheck::parse(command, judge)
        .map(ProbeKind::Program)
        .map_err(|e| ConfigError(format!("{svc}: health.command: {e}")))
}

/// One service and the forwarding method each of its real servers asked for (with the place
/// of the setting), checked against the mode by [`ConfigFile::parse`].
type Methods = Vec<(SocketAddr, Forward, core::ops::Range<usize>)>;

fn service(raw: RawService, text: &str) -> Result<(ServiceSpec, Methods), ConfigError> {
    let listen = parse_addr(&raw.listen, "listen")?;
    let protocol = match raw.protocol.as_deref().unwrap_or("tcp") {
        "tcp" | "TCP" => Protocol::Tcp,
        "udp" | "UDP" => Protocol::Udp,
        other => return err(format!("service {listen}: protocol {other:?} (tcp or udp)")),
    };
    let name = format!("service {} {listen}", protocol.label());
    let mut s = ServiceSpec::new(
        (protocol, listen),
        raw.scheduler.as_deref().unwrap_or("wlc"),
    );
    s.flags = SchedFlags::parse(raw.flags.as_deref().unwrap_or(""))
        .map_err(|e| ConfigError(format!("{name}: flags: {e}")))?;
    check_scheduler(&s.scheduler, s.flags).map_err(|e| ConfigError(format!("{name}: {e}")))?;
    if let Some(timeout) = raw.persistence {
        let mut p = Persistence {
            timeout: Duration::from_secs(u64::from(timeout.max(1))),
            ..Persistence::default()
        };
        if let Some(m) = &raw.netmask {
            let v6 = listen.is_ipv6();
            let len = parse_netmask(m, v6).map_err(|e| ConfigError(format!("{name}: {e}")))?;
            if v6 {
                p.v6_prefix = len;
            } else {
                p.v4_prefix = len;
            }
        }
        s.persistence = Some(p);
    } else if raw.netmask.is_some() {
        return err(format!("{name}: netmask needs persistence"));
    }
    if raw.proxy_protocol && protocol == Protocol::Udp {
        return err(format!("{name}: proxy_protocol is for TCP services"));
    }
    s.proxy_protocol = raw.proxy_protocol;
    s.udp_timeout = seconds(
        raw.udp_timeout,
        300.0,
        &format!("{name}: udp_timeout"),
        false,
    )?;
    s.connect_timeout = seconds(
        raw.connect_timeout,
        5.0,
        &format!("{name}: connect_timeout"),
        false,
    )?;
    s.health = raw.health.map(|h| health(h, &name)).transpose()?;
    let mut methods = Methods::new();
    for r in raw.real {
        let addr = parse_addr(&r.address, &format!("{name}: real"))?;
        let weight = r.weight.unwrap_or(1);
        if weight > i32::MAX as u32 {
            return err(format!("{name}: real {addr}: weight {weight} out of range"));
        }
        if s.reals.iter().any(|x| x.addr == addr) {
            return err(format!("{name}: real {addr} listed twice"));
        }
        if let Some(f) = r.forward {
            let method = match f.get_ref().as_str() {
                "nat" | "masq" => Forward::Nat,
                "dr" | "route" => Forward::Dr,
                "tun" | "ipip" => Forward::Tun,
                other => {
                    return err_at(
                        text,
                        f.span(),
                        format!("{name}: real {addr}: forward {other:?} (nat, dr or tun)"),
                    );
                }
            };
            if method != Forward::Nat && addr.port() != listen.port() {
                return err_at(
                    text,
                    f.span(),
                    format!(
                        "{name}: real {addr}: forward = {:?} keeps the virtual port {} \
                         (only nat can change it)",
                        f.get_ref(),
                        listen.port()
                    ),
                );
            }
            methods.push((addr, method, f.span()));
        }
        s.reals.push(RealSpec {
            addr,
            weight,
            upper: r.upper.unwrap_or(0),
            lower: r.lower.unwrap_or(0),
        });
    }
    Ok((s, methods))
}

impl ConfigFile {
    /// Parse and validate a configuration file's text, in either mode.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| ConfigError(e.to_string().trim().to_owned()))?;
        let mut plane = parse_plane(raw.mode, raw.interface, raw.tunnel_source, text)?;
        let vrrp = vrrp_source(raw.vrrp, text)?;
        let mut services: Vec<ServiceSpec> = Vec::new();
        for rs in raw.service {
            let (s, methods) = service(rs, text)?;
            if services.iter().any(|o| o.key == s.key) {
                return err(format!(
                    "service {} {} defined twice",
                    s.key.0.label(),
                    s.key.1
                ));
            }
            match &mut plane {
                DataPlane::Proxy => {
                    if let Some((addr, f, span)) = methods.into_iter().find(|m| m.1 != Forward::Nat)
                    {
                        return err_at(
                            text,
                            span,
                            format!(
                                "service {} {}: real {addr}: forward {:?} needs mode = \"packet\" \
                                 (proxy mode forwards by masquerading only)",
                                s.key.0.label(),
                                s.key.1,
                                forward_label(f)
                            ),
                        );
                    }
                }
                DataPlane::Packet(p) => {
                    if let Err(e) = check_packet_service(&s) {
                        return err(format!("service {e}"));
                    }
                    for (addr, f, _) in methods {
                        p.forward.insert((s.key, addr), f);
                    }
                }
            }
            services.push(s);
        }
        let config = Config {
            control: raw.control,
            time_wait: seconds(raw.time_wait, 120.0, "time_wait", true)?,
            drain_timeout: seconds(raw.drain_timeout, 10.0, "drain_timeout", true)?,
            services,
        };
        Ok(Self {
            config,
            plane,
            vrrp,
        })
    }

    /// Read and parse a file; errors start with `FILE:` (and `FILE:LINE:` where the setting
    /// has a place).
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        let mut file = Self::parse(&text).map_err(|e| {
            let at =
                e.0.strip_prefix("line ")
                    .and_then(|rest| rest.split_once(": "))
                    .filter(|(n, _)| n.parse::<usize>().is_ok());
            match at {
                Some((n, msg)) => ConfigError(format!("{}:{n}: {msg}", path.display())),
                None => ConfigError(format!("{}: {}", path.display(), e.0)),
            }
        })?;
        if let Some(v) = file.vrrp.as_mut()
            && v.file.is_relative()
            && let Some(dir) = path.parent()
        {
            v.file = dir.join(&v.file);
        }
        Ok(file)
    }
}

impl Config {
    /// Parse and validate a proxy-mode configuration file's text (a packet-mode file is an
    /// error here: read it with [`ConfigFile::parse`]).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let f = ConfigFile::parse(text)?;
        match f.plane {
            DataPlane::Proxy => Ok(f.config),
            DataPlane::Packet(_) => err("mode = \"packet\": this reader takes proxy-mode files"),
        }
    }

    /// Read and parse a proxy-mode file.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let f = ConfigFile::load(path)?;
        match f.plane {
            DataPlane::Proxy => Ok(f.config),
            DataPlane::Packet(_) => err(format!(
                "{}: mode = \"packet\": this reader takes proxy-mode files",
                path.display()
            )),
        }
    }

    /// The control socket path to use.
    pub fn control_path(&self) -> PathBuf {
        self.control.clone().unwrap_or_else(default_control_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
        control = "/tmp/x.sock"
        time_wait = 0
        [[service]]
        listen = "127.0.0.1:8080"
        scheduler = "wrr"
        persistence = 60
        netmask = "255.255.255.0"
        proxy_protocol = true
        [service.health]
        kind = "http"
        path = "/health"
        status = 204
        interval = 0.5
        fall = 2
        [[service.real]]
        address = "127.0.0.1:9001"
        weight = 3
        [[service.real]]
        address = "127.0.0.1:9002"
        upper = 10
        [[service]]
        protocol = "udp"
        listen = "[::1]:53"
        scheduler = "rr"
        udp_timeout = 30
    "#;

    #[test]
    fn full_config_parses() {
        let c = Config::parse(FULL).unwrap();
        assert_eq!(c.control_path(), PathBuf::from("/tmp/x.sock"));
        assert_eq!(c.time_wait, Duration::ZERO);
        let s = &c.services[0];
        assert_eq!(s.key, (Protocol::Tcp, "127.0.0.1:8080".parse().unwrap()));
        assert_eq!(s.persistence.unwrap().v4_prefix, 24);
        assert_eq!(s.persistence.unwrap().timeout, Duration::from_secs(60));
        assert!(s.proxy_protocol);
        let h = s.health.as_ref().unwrap();
        assert_eq!(h.interval, Duration::from_millis(500));
        assert_eq!((h.rise, h.fall), (1, 2));
        let ProbeKind::Http(http) = &h.kind else {
            panic!("http expected")
        };
        assert_eq!((http.path.as_str(), http.status), ("/health", Some(204)));
        assert_eq!(s.reals[0].weight, 3);
        assert_eq!((s.reals[1].weight, s.reals[1].upper), (1, 10));
        let u = &c.services[1];
        assert_eq!(u.key.0, Protocol::Udp);
        assert_eq!(u.udp_timeout, Duration::from_secs(30));
        let check = h.check_for("127.0.0.1:9001".parse().unwrap(), true);
        assert!(check.alpha && check.validate().is_ok());
    }

    #[test]
    fn bad_configs_are_rejected_with_a_reason() {
        let cases = [
            ("[[service]]\nlisten = \"nope\"", "ADDRESS:PORT"),
            (
                "[[service]]\nlisten = \"127.0.0.1:1\"\nscheduler = \"xx\"",
                "unknown scheduler",
            ),
            (
                "[[service]]\nlisten = \"127.0.0.1:1\"\n[[service]]\nlisten = \"127.0.0.1:1\"",
                "twice",
            ),
            (
                "[[service]]\nlisten = \"127.0.0.1:1\"\nnetmask = \"24\"",
                "needs persistence",
            ),
            (
                "[[service]]\nlisten = \"127.0.0.1:1\"\npersistence = 1\nnetmask = \"255.0.255.0\"",
                "contiguous",
            ),
            (
                "[[service]]\nlisten = \"127.0.0.1:1\"\n[service.health]\nkind = \"icmp\"",
                "health kind",
            ),
            (
                "[[service]]\nlisten = \"127.0.0.1:1\"\n[service.health]\nkind = \"tcp\"\ninterval = 0",
                "seconds",
            ),
            ("bogus = 1", "unknown field"),
        ];
        for (text, want) in cases {
            let e = Config::parse(text).unwrap_err();
            assert!(e.0.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn netmasks() {
        assert_eq!(parse_netmask("255.255.255.0", false), Ok(24));
        assert_eq!(parse_netmask("16", false), Ok(16));
        assert_eq!(parse_netmask("64", true), Ok(64));
        assert!(parse_netmask("33", false).is_err());
        assert!(parse_netmask("255.255.255.0", true).is_err());
        assert_eq!(mask_text(24), "255.255.255.0");
        assert_eq!(mask_text(0), "0.0.0.0");
        assert_eq!(mask_text(32), "255.255.255.255");
    }

    #[test]
    fn udp_dns_and_digest_checks_parse_and_name_their_mistakes() {
        let svc = |h: &str| {
            Config::parse(&format!(
                "[[service]]\nprotocol = \"udp\"\nlisten = \"127.0.0.1:53\"\n\
                 [service.health]\n{h}\n[[service.real]]\naddress = \"127.0.0.1:5300\"\n"
            ))
        };
        let c = svc("kind = \"dns\"\nquery = \"example.com.\"\nqtype = \"SOA\"").unwrap();
        let h = c.services[0].health.as_ref().unwrap();
        assert_eq!(
            h.kind,
            ProbeKind::Dns(DnsCheck {
                name: "example.com.".into(),
                qtype: 6
            })
        );
        let c = svc("kind = \"udp\"\nsend = \"ping\\\\n\"\nexpect = \"pong\"").unwrap();
        let ProbeKind::Udp(se) = &c.services[0].health.as_ref().unwrap().kind else {
            panic!("udp expected")
        };
        assert_eq!(
            (se.send.as_slice(), se.expect.as_deref()),
            (&b"ping\n"[..], Some(&b"pong"[..]))
        );
        let c = svc("kind = \"http\"\ndigest = \"9B3A0C85A887A256D6939DA88AABD8CD\"").unwrap();
        let ProbeKind::Http(http) = &c.services[0].health.as_ref().unwrap().kind else {
            panic!("http expected")
        };
        assert_eq!(http.digest.map(|d| d[0]), Some(0x9b));
        for (h, needle) in [
            ("kind = \"http\"\ndigest = \"abc\"", "not 32 hex digits"),
            ("kind = \"dns\"", "needs a query"),
            ("kind = \"dns\"\nquery = \"a..b\"", "not a domain name"),
            (
                "kind = \"dns\"\nquery = \"a.\"\nqtype = \"XYZ\"",
                "health.qtype",
            ),
        ] {
            let e = svc(h).unwrap_err();
            assert!(e.0.contains(needle), "{h}: {e}");
        }
    }
}
