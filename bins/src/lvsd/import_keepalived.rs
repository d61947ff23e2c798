//! Import keepalived.conf's `virtual_server` blocks (`lvsd -f FILE`), with the tokenizer the
//! VRRP importer uses ([`crate::vrrpd::keepalived`]).
//!
//! What maps, per `virtual_server IP PORT`: `delay_loop` (health interval, default 60 s),
//! `lb_algo`/`lvs_sched` (scheduler), `lb_kind`/`lvs_method NAT` (recorded; proxy forwarding
//! looks like NAT to the real servers), `persistence_timeout`, `persistence_granularity`,
//! `protocol TCP|UDP`; per `real_server IP PORT`: `weight`, `inhibit_on_failure` (lvsd always
//! quiesces a failed server to weight 0), `TCP_CHECK` and `HTTP_GET` with `connect_timeout`
//! (probe timeout, default 5 s), `connect_port`, `retry`/`nb_get_retry` (fall = retry + 1,
//! default retry 1), and for `HTTP_GET` one `url { path status_code digest }` and
//! `virtualhost`; `MISC_CHECK` with `misc_path` (the command line; keepalived does not expand
//! anything in it, so a literal `%` is kept as `%%`), `misc_timeout` (default the
//! `delay_loop`) and `misc_dynamic` (exit 0 = up, 1 = down, 2..255 = up with weight
//! status − 2). lvsd runs one check per service, so every real server of a service must
//! carry the same check (or none at all); for `MISC_CHECK` the real server's own address
//! written in `misc_path` (as a whole word) counts as the same, and is passed as `%h`.
//!
//! Noted and left out: `delay_before_retry` (lvsd retries at the `delay_loop` interval),
//! `global_defs`, and every `vrrp_*` block: they are the VRRP half, which `lvsd -f` runs
//! from the same file (as keepalived does; [`Imported::vrrp`] says there is one) unless
//! `--no-vrrp` leaves it to `lvs-vrrpd -f`. `include FILE` reads another file, relative to the including one (no wildcards).
//!
//! Refused with `FILE:LINE`: `lb_kind DR|TUN` (lvsd is proxy mode only), `fwmark` and
//! `group` virtual servers, `SSL_GET`, `SMTP_CHECK`, `DNS_CHECK`, `BFD_CHECK`, `sorry_server`, and any other keyword.

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::path::{Path, PathBuf};

use lvs_core::health::judge::parse_digest;
use lvs_core::health::{HttpCheck, ProgramCheck, ProgramJudge};
use lvs_core::service::Persistence;

use super::config::{HealthSpec, ProbeKind, Protocol, RealSpec, ServiceSpec, parse_netmask};
use super::import::{Forwarding, ImportError, Imported, number, secs};
use crate::vrrpd::keepalived::{Stmt, parse};

/// How deep `include` may nest.
const MAX_INCLUDE: usize = 8;

/// Where the statements being read come from.
struct Src<'a> {
    file: &'a str,
    dir: Option<&'a Path>,
    depth: usize,
    /// False for [`import_no_include`]: `include` is an error instead of a file read.
    read_includes: bool,
}

impl Src<'_> {
    fn err(&self, line: usize, m: impl Into<String>) -> ImportError {
        ImportError::new(self.file, line, m)
    }

    fn one<'s>(&self, s: &'s Stmt) -> Result<&'s str, ImportError> {
        if s.block.is_some() {
            return Err(self.err(s.line, format!("{} takes no block", s.key())));
        }
        match s.args() {
            [a] => Ok(a),
            _ => Err(self.err(s.line, format!("{} takes one value", s.key()))),
        }
    }

    fn block<'s>(&self, s: &'s Stmt, nargs: usize) -> Result<&'s [Stmt], ImportError> {
        match &s.block {
            Some(b) if s.args().len() == nargs => Ok(b),
            Some(_) => Err(self.err(s.line, format!("{}: wrong number of words", s.key()))),
            None => Err(self.err(s.line, format!("{} needs a {{ block }}", s.key()))),
        }
    }

    fn addr(&self, s: &Stmt) -> Result<SocketAddr, ImportError> {
        let bad = || {
            self.err(
                s.line,
                format!("{}: expected `IP PORT`, found {:?}", s.key(), s.args()),
            )
        };
        let [ip, port] = s.args() else {
            return Err(bad());
        };
        let ip: IpAddr = ip.parse().map_err(|_| bad())?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        Ok(SocketAddr::new(ip, port))
    }
}

/// One real server's check, compared across the servers of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Check {
    kind: ProbeKind,
    port: Option<u16>,
    /// `None`: the `delay_loop` (a `MISC_CHECK` without `misc_timeout`).
    timeout: Option<Duration>,
    retry: u32,
}

fn url(src: &Src<'_>, s: &Stmt, h: &mut HttpCheck) -> Result<(), ImportError> {
    for u in src.block(s, 0)? {
        let v = src.one(u)?;
        match u.key() {
            "path" => h.path = v.to_owned(),
            "status_code" => h.status = Some(number(v, "status_code", src.file, u.line)?),
            "digest" => {
                h.digest =
                    Some(parse_digest(v).ok_or_else(|| {
                        src.err(u.line, "digest: expected 32 hex digits (an MD5)")
                    })?);
            }
            k => return Err(src.err(u.line, format!("url: unsupported keyword {k:?}"))),
        }
    }
    Ok(())
}

fn check(src: &Src<'_>, s: &Stmt, out: &mut Imported) -> Result<Check, ImportError> {
    let mut http = (s.key() == "HTTP_GET").then(|| HttpCheck::get("/"));
    let mut c = Check {
        kind: ProbeKind::Tcp,
        port: None,
        timeout: Some(Duration::from_secs(5)),
        retry: 1,
    };
    let mut urls = 0;
    for k in src.block(s, 0)? {
        match (k.key(), http.as_mut()) {
            ("url", Some(h)) => {
                urls += 1;
                if urls > 1 {
                    return Err(src.err(k.line, "lvsd checks one url per service"));
                }
                url(src, k, h)?;
            }
            ("virtualhost", Some(h)) => h.host = Some(src.one(k)?.to_owned()),
            ("connect_timeout", _) => {
                c.timeout = Some(secs(src.one(k)?, "connect_timeout", src.file, k.line)?);
            }
            ("connect_port", _) => {
                c.port = Some(number(src.one(k)?, "connect_port", src.file, k.line)?);
            }
            ("retry" | "nb_get_retry", _) => {
                c.retry = number(src.one(k)?, k.key(), src.file, k.line)?;
            }
            ("delay_before_retry", _) => {
                secs(src.one(k)?, k.key(), src.file, k.line)?;
                out.note(
                    src.file,
                    k.line,
                    "delay_before_retry ignored: lvsd retries at the delay_loop interval",
                );
            }
            (key, _) => {
                return Err(src.err(k.line, format!("{}: unsupported keyword {key:?}", s.key())));
            }
        }
    }
    if let Some(h) = http {
        c.kind = ProbeKind::Http(h);
    }
    Ok(c)
}

/// `MISC_CHECK { misc_path misc_timeout misc_dynamic }` of the real server at `real`.
fn misc_check(src: &Src<'_>, s: &Stmt, real: IpAddr) -> Result<Check, ImportError> {
    let mut path: Option<String> = None;
    let mut timeout = None;
    let mut dynamic = false;
    let mut retry = 1;
    for k in src.block(s, 0)? {
        match k.key() {
            "misc_path" => {
                if k.args().is_empty() || k.block.is_some() {
                    return Err(src.err(k.line, "misc_path takes a command line"));
                }
                path = Some(k.args().join(" "));
            }
            "misc_timeout" => {
                timeout = Some(secs(src.one(k)?, "misc_timeout", src.file, k.line)?);
            }
            "misc_dynamic" => {
                if !k.args().is_empty() || k.block.is_some() {
                    return Err(src.err(k.line, "misc_dynamic takes no value"));
                }
                dynamic = true;
            }
            "retry" | "nb_get_retry" => retry = number(src.one(k)?, k.key(), src.file, k.line)?,
            key => {
                return Err(src.err(k.line, format!("MISC_CHECK: unsupported keyword {key:?}")));
            }
        }
    }
    let path = path.ok_or_else(|| src.err(s.line, "MISC_CHECK needs misc_path"))?;
    let template = misc_template(&path, real);
    let program = ProgramCheck::parse(&template, ProgramJudge::ExitCode { dynamic })
        .map_err(|e| src.err(s.line, format!("misc_path: {e}")))?;
    Ok(Check {
        kind: ProbeKind::Program(program),
        port: None,
        timeout,
        retry,
    })
}

/// keepalived's literal `misc_path` as a check template: `%` doubled, and the real server's
/// address where it stands alone (not inside a longer address or name) replaced by `%h`.
fn misc_template(path: &str, real: IpAddr) -> String {
    let escaped = path.replace('%', "%%");
    let ip = real.to_string();
    let part = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == ':';
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped.as_str();
    while let Some(i) = rest.find(&ip) {
        let before = rest[..i].chars().next_back().or(out.chars().next_back());
        let after = rest[i + ip.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(part) || after.is_some_and(part) {
            out.push_str(&ip);
        } else {
            out.push_str("%h");
        }
        rest = &rest[i + ip.len()..];
    }
    out.push_str(rest);
    out
}

fn real_server(
    src: &Src<'_>,
    s: &Stmt,
    out: &mut Imported,
) -> Result<(RealSpec, Option<(usize, Check)>), ImportError> {
    let addr = src.addr(s)?;
    let mut r = RealSpec {
        addr,
        weight: 1,
        upper: 0,
        lower: 0,
    };
    let mut chk: Option<(usize, Check)> = None;
    for k in src.block(s, 2)? {
        match k.key() {
            "weight" => r.weight = number(src.one(k)?, "weight", src.file, k.line)?,
            "inhibit_on_failure" => {
                if !k.args().is_empty() || k.block.is_some() {
                    return Err(src.err(k.line, "inhibit_on_failure takes no value"));
                }
            }
            "TCP_CHECK" | "HTTP_GET" => {
                if chk.is_some() {
                    return Err(src.err(k.line, "lvsd runs one check per real server"));
                }
                chk = Some((k.line, check(src, k, out)?));
            }
            "MISC_CHECK" => {
                if chk.is_some() {
                    return Err(src.err(k.line, "lvsd runs one check per real server"));
                }
                chk = Some((k.line, misc_check(src, k, addr.ip())?));
            }
            key @ ("SSL_GET" | "SMTP_CHECK" | "DNS_CHECK" | "BFD_CHECK" | "UDP_CHECK"
            | "PING_CHECK" | "FILE_CHECK") => {
                return Err(src.err(
                    k.line,
                    format!("{key}: lvsd checks with TCP_CHECK, HTTP_GET or MISC_CHECK only"),
                ));
            }
            key => {
                return Err(src.err(k.line, format!("real_server: unsupported keyword {key:?}")));
            }
        }
    }
    Ok((r, chk))
}

fn virtual_server(src: &Src<'_>, s: &Stmt, out: &mut Imported) -> Result<(), ImportError> {
    if matches!(
        s.args().first().map(String::as_str),
        Some("fwmark" | "group")
    ) {
        return Err(src.err(
            s.line,
            "virtual_server fwmark/group: lvsd proxy mode listens on `IP PORT` services only",
        ));
    }
    let listen = src.addr(s)?;
    let body = src.block(s, 2)?;
    let mut protocol = Protocol::Tcp;
    let mut scheduler = "wlc".to_owned();
    let mut interval = Duration::from_secs(60);
    let mut persistence: Option<u32> = None;
    let mut granularity: Option<(usize, String)> = None;
    let mut reals = Vec::new();
    let mut checks: Vec<(usize, Option<(usize, Check)>)> = Vec::new();
    for k in body {
        match k.key() {
            "real_server" => {
                let (r, c) = real_server(src, k, out)?;
                reals.push(r);
                checks.push((k.line, c));
            }
            "delay_loop" => interval = secs(src.one(k)?, "delay_loop", src.file, k.line)?,
            "lb_algo" | "lvs_sched" => src.one(k)?.clone_into(&mut scheduler),
            "lb_kind" | "lvs_method" => match src.one(k)? {
                "NAT" => out.forwarding = Some(Forwarding::Nat),
                m @ ("DR" | "TUN") => {
                    return Err(src.err(
                        k.line,
                        format!(
                            "{} {m}: lvsd forwards in proxy mode only; use NAT (set up real \
                             servers for DR/TUN with the packet-mode director)",
                            k.key()
                        ),
                    ));
                }
                m => return Err(src.err(k.line, format!("{} {m:?}: unknown", k.key()))),
            },
            "persistence_timeout" => {
                persistence = Some(number(src.one(k)?, k.key(), src.file, k.line)?);
            }
            "persistence_granularity" => granularity = Some((k.line, src.one(k)?.to_owned())),
            "protocol" => {
                protocol = match src.one(k)? {
                    "TCP" | "tcp" => Protocol::Tcp,
                    "UDP" | "udp" => Protocol::Udp,
                    p => return Err(src.err(k.line, format!("protocol {p:?} (TCP or UDP)"))),
                };
            }
            key => {
                return Err(src.err(
                    k.line,
                    format!("virtual_server: unsupported keyword {key:?}"),
                ));
            }
        }
    }
    let mut svc = ServiceSpec::new((protocol, listen), &scheduler);
    svc.reals = reals;
    if let Some(t) = persistence {
        let mut p = Persistence {
            timeout: Duration::from_secs(u64::from(t.max(1))),
            ..Persistence::default()
        };
        if let Some((line, m)) = &granularity {
            let len = parse_netmask(m, listen.is_ipv6())
                .map_err(|e| src.err(*line, format!("persistence_granularity: {e}")))?;
            if listen.is_ipv6() {
                p.v6_prefix = len;
            } else {
                p.v4_prefix = len;
            }
        }
        svc.persistence = Some(p);
    } else if let Some((line, _)) = granularity {
        return Err(src.err(line, "persistence_granularity needs persistence_timeout"));
    }
    let first = checks.iter().find_map(|(_, c)| c.as_ref());
    if let Some((first_line, c)) = first {
        for (line, other) in &checks {
            match other {
                Some((_, o)) if o == c => {}
                _ => {
                    return Err(src.err(
                        *line,
                        format!(
                            "lvsd runs one health check per service: this real_server's check \
                             differs from the one at line {first_line}"
                        ),
                    ));
                }
            }
        }
        svc.health = Some(HealthSpec {
            kind: c.kind.clone(),
            port: c.port,
            interval,
            timeout: c.timeout.unwrap_or(interval),
            rise: 1,
            fall: c.retry.saturating_add(1),
        });
    }
    out.add_service(svc, src.file, s.line)
}

fn include(src: &Src<'_>, s: &Stmt, out: &mut Imported) -> Result<(), ImportError> {
    let name = src.one(s)?;
    if name.contains(['*', '?', '[']) {
        return Err(src.err(s.line, "include: wildcards are not supported"));
    }
    if src.depth >= MAX_INCLUDE {
        return Err(src.err(s.line, "include: nested too deeply"));
    }
    if !src.read_includes {
        return Err(src.err(s.line, "include: not allowed here"));
    }
    let path = match src.dir {
        Some(d) if Path::new(name).is_relative() => d.join(name),
        _ => PathBuf::from(name),
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| src.err(s.line, format!("include {}: {e}", path.display())))?;
    let file = path.display().to_string();
    let inner = Src {
        file: &file,
        dir: path.parent(),
        depth: src.depth + 1,
        read_includes: true,
    };
    statements(&inner, &text, out)
}

fn statements(src: &Src<'_>, text: &str, out: &mut Imported) -> Result<(), ImportError> {
    let stmts = parse(text).map_err(|e| src.err(e.line, e.message))?;
    for s in &stmts {
        match s.key() {
            "virtual_server" => virtual_server(src, s, out)?,
            "include" => include(src, s, out)?,
            k @ "global_defs" => out.note(src.file, s.line, format!("{k} ignored")),
            k if k.starts_with("vrrp_") => {
                out.vrrp = true;
                out.note(
                    src.file,
                    s.line,
                    format!("{k} is VRRP: not a virtual server (lvsd runs it unless --no-vrrp)"),
                );
            }
            k => {
                return Err(src.err(s.line, format!("unsupported top-level keyword {k:?}")));
            }
        }
    }
    Ok(())
}

/// Import a keepalived.conf text; `file` names it in errors, and `include` is relative to
/// the current directory.
pub fn import(text: &str, file: &str) -> Result<Imported, ImportError> {
    import_text(text, file, true)
}

/// [`import`] without the file system: every `include` is an error (the fuzz targets).
pub(crate) fn import_no_include(text: &str, file: &str) -> Result<Imported, ImportError> {
    import_text(text, file, false)
}

fn import_text(text: &str, file: &str, read_includes: bool) -> Result<Imported, ImportError> {
    let mut out = Imported::empty()?;
    let src = Src {
        file,
        dir: None,
        depth: 0,
        read_includes,
    };
    statements(&src, text, &mut out)?;
    Ok(out)
}

/// Read and import a keepalived.conf; `include` is relative to its directory.
pub fn load(path: &Path) -> Result<Imported, ImportError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ImportError::new(&file, 0, format!("cannot read: {e}")))?;
    let mut out = Imported::empty()?;
    let src = Src {
        file: &file,
        dir: path.parent(),
        depth: 0,
        read_includes: true,
    };
    statements(&src, &text, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_must_agree_across_a_service() {
        let t = "virtual_server 127.0.0.1 80 {\n real_server 127.0.0.2 80 {\n  TCP_CHECK {\n  \
                 connect_timeout 3\n  }\n }\n real_server 127.0.0.3 80 {\n }\n}\n";
        let e = import(t, "k").unwrap_err().to_string();
        assert!(e.starts_with("k:7: lvsd runs one health check"), "{e}");
    }

    #[test]
    fn tcp_check_maps_timing() {
        let t = "virtual_server 127.0.0.1 80 {\n delay_loop 3\n real_server 127.0.0.2 80 {\n  \
                 TCP_CHECK {\n   connect_port 81\n   retry 2\n   connect_timeout 1.5\n  }\n }\n}\n";
        let c = import(t, "k").unwrap().config;
        let h = c.services[0].health.clone().unwrap();
        assert_eq!(h.kind, ProbeKind::Tcp);
        assert_eq!((h.port, h.rise, h.fall), (Some(81), 1, 3));
        assert_eq!(h.interval, Duration::from_secs(3));
        assert_eq!(h.timeout, Duration::from_millis(1500));
    }

    #[test]
    fn misc_check_per_server_address_becomes_one_template() {
        let rs = |ip: &str| {
            format!(
                " real_server {ip} 80 {{\n  MISC_CHECK {{\n   misc_path \"/bin/chk {ip} \
                 10.0.0.10 50%\"\n   misc_dynamic\n  }}\n }}\n"
            )
        };
        let t = format!(
            "virtual_server 127.0.0.1 80 {{\n delay_loop 4\n{}{}}}\n",
            rs("10.0.0.1"),
            rs("10.0.0.2")
        );
        let c = import(&t, "k").unwrap().config;
        let h = c.services[0].health.clone().unwrap();
        let ProbeKind::Program(p) = &h.kind else {
            panic!("a program check expected: {h:?}");
        };
        // The first real server's address is the template's %h; a longer address that
        // merely starts with it stays, and a literal % is kept.
        assert_eq!(p.argv, ["/bin/chk", "%h", "10.0.0.10", "50%%"]);
        assert_eq!(p.judge, ProgramJudge::ExitCode { dynamic: true });
        // No misc_timeout: the delay_loop.
        assert_eq!(h.timeout, Duration::from_secs(4));
    }

    #[test]
    fn wildcard_include_is_refused() {
        let e = import("include /etc/k/*.conf\n", "k")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "k:1: include: wildcards are not supported");
    }
}
