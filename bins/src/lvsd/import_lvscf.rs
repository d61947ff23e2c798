//! Import Piranha's `lvs.cf` (`lvsd --lvs-cf FILE`).
//!
//! ```text
//! serial_no = 42
//! primary = 192.0.2.1
//! service = lvs
//! network = direct
//! virtual www {
//!     address = 192.0.2.10 eth0:1
//!     active = 1
//!     port = 80
//!     protocol = tcp
//!     scheduler = wlc
//!     persistent = 300
//!     pmask = 255.255.255.0
//!     send = "GET / HTTP/1.0\r\n\r\n"
//!     expect = "HTTP"
//!     timeout = 6
//!     reentry = 15
//!     server web1 {
//!         address = 10.0.0.11
//!         active = 1
//!         weight = 1
//!     }
//! }
//! ```
//!
//! What maps: `address` (the device word is noted: lvsd binds the VIP, it does not add it),
//! `port`, `protocol`, `scheduler`, `persistent`, `pmask`, `send`/`expect` (nanny's escapes
//! are kept for the checker; with neither, nanny's defaults apply: an HTTP request on port
//! 80, a connect elsewhere), `send_program` (a program run for each real server with `%h`
//! replaced by its address; the first line it prints must equal `expect`, default `OK`, as
//! nanny judges it; `send` is then unused), `timeout` (probe timeout), `reentry` (seconds a server must keep
//! passing before it returns: rise = reentry / interval, rounded up), `quiesce_server` (lvsd
//! always quiesces a dead server to weight 0), `use_regex = 0`, `load_monitor = none`,
//! `active = 0` (the service or server is left out, with a note), and each server's
//! `address`, `active` and `weight`. The health interval is lvsd's default (2 s) and one
//! failure takes a server down, as with nanny.
//!
//! What is noted and left out: `serial_no`; the heartbeat settings (`primary`,
//! `primary_private`, `backup`, `backup_private`, `backup_active`, `heartbeat`,
//! `heartbeat_port`, `keepalive`, `deadtime`, `rsh_command`, `monitor_links`, `syncdaemon`,
//! `debug_level`: failover is lvs-vrrpd's job); `nat_router` and `nat_nmask` (proxy mode needs
//! no NAT gateway); `network` is recorded in [`Imported::forwarding`], and forwarding is proxy.
//!
//! What is refused: `fwmark` services (a firewall mark is a packet-mode idea; proxy mode
//! listens on an address and port), `use_regex = 1`, a `load_monitor` other than `none`, `service` other than `lvs`,
//! and any key lvsd does not know.

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use lvs_core::health::{ProgramCheck, ProgramJudge, SendExpect};
use lvs_core::service::Persistence;

use super::config::{HealthSpec, ProbeKind, Protocol, RealSpec, ServiceSpec, parse_netmask};
use super::import::{Forwarding, ImportError, Imported, number, secs};

/// The health interval of imported services.
const INTERVAL: Duration = Duration::from_secs(2);

/// `key = value` and where it was.
#[derive(Debug, Clone)]
struct Entry {
    line: usize,
    key: String,
    value: String,
}

/// A `virtual` or `server` block.
#[derive(Debug, Clone, Default)]
struct Block {
    line: usize,
    name: String,
    entries: Vec<Entry>,
    servers: Vec<Self>,
}

enum Line {
    Set(Entry),
    Open { kind: String, name: String },
    Close,
}

/// Strip a `#` comment (outside quotes) and split one line.
fn lex(raw: &str, file: &str, line: usize) -> Result<Option<Line>, ImportError> {
    let mut text = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in raw.chars() {
        if c == '#' && !quoted {
            break;
        }
        if quoted && !escaped && c == '"' {
            quoted = false;
        } else if !quoted && c == '"' {
            quoted = true;
        }
        escaped = quoted && !escaped && c == '\\';
        text.push(c);
    }
    if quoted {
        return Err(ImportError::new(file, line, "unterminated quote"));
    }
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text == "}" {
        return Ok(Some(Line::Close));
    }
    if let Some(head) = text.strip_suffix('{') {
        let words: Vec<&str> = head.split_whitespace().collect();
        return match words.as_slice() {
            [kind, name] => Ok(Some(Line::Open {
                kind: (*kind).to_owned(),
                name: (*name).to_owned(),
            })),
            _ => Err(ImportError::new(
                file,
                line,
                "a block opens with `virtual NAME {` or `server NAME {`",
            )),
        };
    }
    let Some((key, value)) = text.split_once('=') else {
        return Err(ImportError::new(
            file,
            line,
            format!("expected `key = value`, found {text:?}"),
        ));
    };
    let key = key.trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(ImportError::new(file, line, format!("bad key {key:?}")));
    }
    let value = value.trim();
    let value = match value.strip_prefix('"') {
        Some(rest) => match rest.strip_suffix('"') {
            Some(inner) => inner.to_owned(),
            None => {
                return Err(ImportError::new(
                    file,
                    line,
                    format!("{key}: text after the closing quote"),
                ));
            }
        },
        None => value.to_owned(),
    };
    Ok(Some(Line::Set(Entry {
        line,
        key: key.to_owned(),
        value,
    })))
}

/// Read the file into global entries and `virtual` blocks.
fn parse(text: &str, file: &str) -> Result<(Vec<Entry>, Vec<Block>), ImportError> {
    let mut globals = Vec::new();
    let mut virtuals: Vec<Block> = Vec::new();
    // 0: top level, 1: in a virtual, 2: in a server.
    let mut depth = 0;
    let mut open_line = 0;
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let Some(l) = lex(raw, file, line)? else {
            continue;
        };
        match (l, depth) {
            (Line::Set(e), 0) => globals.push(e),
            (Line::Set(e), 1) => {
                if let Some(v) = virtuals.last_mut() {
                    v.entries.push(e);
                }
            }
            (Line::Set(e), _) => {
                if let Some(s) = virtuals.last_mut().and_then(|v| v.servers.last_mut()) {
                    s.entries.push(e);
                }
            }
            (Line::Open { kind, name }, 0) if kind == "virtual" => {
                virtuals.push(Block {
                    line,
                    name,
                    ..Block::default()
                });
                depth = 1;
                open_line = line;
            }
            (Line::Open { kind, name }, 1) if kind == "server" => {
                if let Some(v) = virtuals.last_mut() {
                    v.servers.push(Block {
                        line,
                        name,
                        ..Block::default()
                    });
                }
                depth = 2;
            }
            (Line::Open { kind, .. }, _) => {
                let want = match depth {
                    0 => "`virtual NAME {`",
                    1 => "`server NAME {`",
                    _ => "no block",
                };
                return Err(ImportError::new(
                    file,
                    line,
                    format!("unexpected block {kind:?} here (expected {want})"),
                ));
            }
            (Line::Close, 0) => return Err(ImportError::new(file, line, "unmatched '}'")),
            (Line::Close, d) => depth = d - 1,
        }
    }
    if depth > 0 {
        return Err(ImportError::new(
            file,
            open_line,
            "block opened here is never closed",
        ));
    }
    Ok((globals, virtuals))
}

fn flag(e: &Entry, file: &str) -> Result<bool, ImportError> {
    match e.value.as_str() {
        "0" => Ok(false),
        "1" => Ok(true),
        v => Err(ImportError::new(
            file,
            e.line,
            format!("{}: {v:?} (0 or 1)", e.key),
        )),
    }
}

fn global(e: &Entry, out: &mut Imported, file: &str) -> Result<(), ImportError> {
    match e.key.as_str() {
        "serial_no" => {}
        "service" if e.value == "lvs" => {}
        "service" => {
            return Err(ImportError::new(
                file,
                e.line,
                format!("service = {}: lvsd imports `service = lvs` only", e.value),
            ));
        }
        "network" => {
            let f = match e.value.as_str() {
                "nat" => Forwarding::Nat,
                "direct" => Forwarding::Direct,
                "tunnel" => Forwarding::Tunnel,
                v => {
                    return Err(ImportError::new(
                        file,
                        e.line,
                        format!("network = {v}: expected direct, nat or tunnel"),
                    ));
                }
            };
            out.forwarding = Some(f);
            if f != Forwarding::Nat {
                out.note(
                    file,
                    e.line,
                    format!(
                        "network = {}: lvsd forwards in proxy mode; real servers see \
                         connections from this host, not from the clients",
                        e.value
                    ),
                );
            }
        }
        "nat_router" | "nat_nmask" => out.note(
            file,
            e.line,
            format!("{} ignored: proxy mode needs no NAT gateway", e.key),
        ),
        "primary" | "primary_private" | "backup" | "backup_private" | "backup_active"
        | "heartbeat" | "heartbeat_port" | "keepalive" | "deadtime" | "rsh_command"
        | "monitor_links" | "syncdaemon" | "debug_level" => out.note(
            file,
            e.line,
            format!(
                "{} ignored: heartbeat and failover belong to lvs-vrrpd",
                e.key
            ),
        ),
        k => {
            return Err(ImportError::new(
                file,
                e.line,
                format!("unknown global setting {k:?}"),
            ));
        }
    }
    Ok(())
}

fn server(
    b: &Block,
    port: u16,
    out: &mut Imported,
    file: &str,
) -> Result<Option<RealSpec>, ImportError> {
    let mut addr = None;
    let mut weight = 1;
    let mut active = true;
    for e in &b.entries {
        match e.key.as_str() {
            "address" => {
                let ip: IpAddr = e.value.parse().map_err(|_| {
                    ImportError::new(file, e.line, format!("address: bad IP {:?}", e.value))
                })?;
                addr = Some(SocketAddr::new(ip, port));
            }
            "active" => active = flag(e, file)?,
            "weight" => weight = number(&e.value, "weight", file, e.line)?,
            k => {
                return Err(ImportError::new(
                    file,
                    e.line,
                    format!("server {}: unknown setting {k:?}", b.name),
                ));
            }
        }
    }
    let Some(addr) = addr else {
        return Err(ImportError::new(
            file,
            b.line,
            format!("server {} has no address", b.name),
        ));
    };
    if !active {
        out.note(
            file,
            b.line,
            format!("server {} is not active: left out", b.name),
        );
        return Ok(None);
    }
    Ok(Some(RealSpec {
        addr,
        weight,
        upper: 0,
        lower: 0,
    }))
}

/// The settings of one `virtual` block before they become a service.
#[derive(Default)]
struct Virtual {
    ip: Option<IpAddr>,
    port: Option<u16>,
    protocol: Option<Protocol>,
    scheduler: Option<String>,
    persistent: u32,
    pmask: Option<(usize, String)>,
    send: Option<String>,
    expect: Option<String>,
    program: Option<(usize, String)>,
    timeout: Option<Duration>,
    reentry: Option<Duration>,
    active: bool,
}

fn virtual_entry(
    e: &Entry,
    v: &mut Virtual,
    out: &mut Imported,
    file: &str,
) -> Result<(), ImportError> {
    let bad = |m: String| ImportError::new(file, e.line, m);
    match e.key.as_str() {
        "address" => {
            let mut words = e.value.split_whitespace();
            let ip = words.next().unwrap_or("");
            v.ip = Some(
                ip.parse()
                    .map_err(|_| bad(format!("address: bad IP {ip:?}")))?,
            );
            if let Some(dev) = words.next() {
                out.note(
                    file,
                    e.line,
                    format!(
                        "device {dev} ignored: lvsd binds the VIP and does not add it \
                         (lvs-vrrpd or the system must)"
                    ),
                );
            }
            if words.next().is_some() {
                return Err(bad("address: expected `IP [DEVICE]`".into()));
            }
        }
        "active" => v.active = flag(e, file)?,
        "port" => v.port = Some(number(&e.value, "port", file, e.line)?),
        "protocol" => {
            v.protocol = Some(match e.value.as_str() {
                "tcp" | "TCP" => Protocol::Tcp,
                "udp" | "UDP" => Protocol::Udp,
                p => return Err(bad(format!("protocol {p:?} (tcp or udp)"))),
            });
        }
        "scheduler" => v.scheduler = Some(e.value.clone()),
        "persistent" => v.persistent = number(&e.value, "persistent", file, e.line)?,
        "pmask" => v.pmask = Some((e.line, e.value.clone())),
        "send" => v.send = Some(e.value.clone()),
        "expect" => v.expect = Some(e.value.clone()),
        "timeout" => v.timeout = Some(secs(&e.value, "timeout", file, e.line)?),
        "reentry" => v.reentry = Some(secs(&e.value, "reentry", file, e.line)?),
        "quiesce_server" => {
            flag(e, file)?;
        }
        "use_regex" => {
            if flag(e, file)? {
                return Err(bad(
                    "use_regex = 1: lvsd matches the expect string as a prefix, not a regex".into(),
                ));
            }
        }
        "load_monitor" if e.value == "none" => {}
        "load_monitor" => {
            return Err(bad(format!(
                "load_monitor = {}: lvsd does not adjust weights from load reports",
                e.value
            )));
        }
        "fwmark" => {
            return Err(bad(
                "fwmark: firewall-mark services need the packet-mode director; lvsd proxy \
                 mode listens on an address and port"
                    .into(),
            ));
        }
        "send_program" => v.program = Some((e.line, e.value.clone())),
        k => return Err(bad(format!("unknown virtual server setting {k:?}"))),
    }
    Ok(())
}

fn virtual_service(b: &Block, out: &mut Imported, file: &str) -> Result<(), ImportError> {
    let mut v = Virtual {
        active: true,
        ..Virtual::default()
    };
    for e in &b.entries {
        virtual_entry(e, &mut v, out, file)?;
    }
    let missing =
        |what: &str| ImportError::new(file, b.line, format!("virtual {} has no {what}", b.name));
    let ip = v.ip.ok_or_else(|| missing("address"))?;
    let port = v.port.ok_or_else(|| missing("port"))?;
    if !v.active {
        out.note(
            file,
            b.line,
            format!("virtual {} is not active: left out", b.name),
        );
        return Ok(());
    }
    let listen = SocketAddr::new(ip, port);
    let protocol = v.protocol.unwrap_or(Protocol::Tcp);
    let mut s = ServiceSpec::new((protocol, listen), v.scheduler.as_deref().unwrap_or("wlc"));
    match (v.persistent, v.pmask) {
        (0, Some((line, _))) => {
            return Err(ImportError::new(file, line, "pmask needs persistent"));
        }
        (0, None) => {}
        (t, mask) => {
            let mut p = Persistence {
                timeout: Duration::from_secs(u64::from(t)),
                ..Persistence::default()
            };
            if let Some((line, m)) = mask {
                let len = parse_netmask(&m, listen.is_ipv6())
                    .map_err(|e| ImportError::new(file, line, format!("pmask: {e}")))?;
                if listen.is_ipv6() {
                    p.v6_prefix = len;
                } else {
                    p.v4_prefix = len;
                }
            }
            s.persistence = Some(p);
        }
    }
    let probe = SendExpect::nanny(port, v.send.as_deref(), v.expect.as_deref(), false);
    let kind = if let Some((line, command)) = &v.program {
        let expect = v.expect.clone().unwrap_or_else(|| "OK".to_owned());
        let program = ProgramCheck::parse(command, ProgramJudge::Output(expect))
            .map_err(|e| ImportError::new(file, *line, format!("send_program: {e}")))?;
        if v.send.is_some() {
            out.note(file, *line, "send is not used with send_program");
        }
        ProbeKind::Program(program)
    } else if probe.send.is_empty() && probe.expect.is_none() {
        ProbeKind::Tcp
    } else {
        ProbeKind::SendExpect(probe)
    };
    let reentry = v.reentry.unwrap_or(Duration::ZERO);
    let rise = reentry.as_nanos().div_ceil(INTERVAL.as_nanos()).max(1);
    s.health = Some(HealthSpec {
        kind,
        port: None,
        interval: INTERVAL,
        timeout: v.timeout.unwrap_or(Duration::from_secs(10)),
        rise: u32::try_from(rise).unwrap_or(u32::MAX),
        fall: 1,
    });
    for sb in &b.servers {
        if let Some(r) = server(sb, port, out, file)? {
            s.reals.push(r);
        }
    }
    out.add_service(s, file, b.line)
}

/// Import an `lvs.cf` text; `file` names it in errors and notes.
pub fn import(text: &str, file: &str) -> Result<Imported, ImportError> {
    let (globals, virtuals) = parse(text, file)?;
    let mut out = Imported::empty()?;
    for e in &globals {
        global(e, &mut out, file)?;
    }
    for b in &virtuals {
        virtual_service(b, &mut out, file)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_keep_escapes_and_hashes() {
        let t = "virtual a {\n address = 127.0.0.1\n port = 80\n send = \"GET /#x \\\"q\\\"\\r\\n\" # c\n}\n";
        let (_, v) = parse(t, "f").unwrap();
        assert_eq!(v[0].entries[2].value, "GET /#x \\\"q\\\"\\r\\n");
    }

    #[test]
    fn structure_errors_name_the_line() {
        let cases = [
            ("}\n", "f:1: unmatched"),
            ("virtual a {\n port = 1\n", "f:1: block opened here"),
            ("server a {\n}\n", "f:1: unexpected block"),
            (
                "virtual a {\n server b {\n  server c {\n",
                "f:3: unexpected block",
            ),
            ("junk\n", "f:1: expected `key = value`"),
            ("x = \"a\n", "f:1: unterminated"),
        ];
        for (t, want) in cases {
            let e = import(t, "f").unwrap_err().to_string();
            assert!(e.starts_with(want), "{t:?}: {e}");
        }
    }

    #[test]
    fn reentry_sets_rise_and_defaults_follow_nanny() {
        let t = "virtual a {\n address = 127.0.0.1\n port = 80\n reentry = 15\n \
                 server s {\n address = 127.0.0.2\n }\n}\n";
        let c = import(t, "f").unwrap().config;
        let h = c.services[0].health.as_ref().unwrap();
        assert_eq!((h.rise, h.fall), (8, 1));
        let ProbeKind::SendExpect(p) = &h.kind else {
            panic!("nanny's HTTP default expected");
        };
        assert_eq!(p.send, lvs_core::health::NANNY_HTTP_SEND);
        let t = "virtual a {\n address = 127.0.0.1\n port = 25\n}\n";
        let c = import(t, "f").unwrap().config;
        assert_eq!(c.services[0].health.as_ref().unwrap().kind, ProbeKind::Tcp);
    }

    #[test]
    fn send_program_is_a_program_check_judged_by_its_output() {
        let t = "virtual a {\n address = 127.0.0.1\n port = 25\n \
                 send_program = \"/usr/bin/check --host %h\"\n}\n";
        let c = import(t, "f").unwrap().config;
        let h = c.services[0].health.as_ref().unwrap();
        let ProbeKind::Program(p) = &h.kind else {
            panic!("a program check expected: {h:?}");
        };
        assert_eq!(p.argv, ["/usr/bin/check", "--host", "%h"]);
        assert_eq!(p.judge, ProgramJudge::Output("OK".into()));
    }
}
