//! The named.conf subset a forward-only BIND uses, read into [`NamedConf`] and mapped onto
//! [`ForwarderConfig`].
//!
//! Statements: `options`, `acl`, `key`, `controls`, `include` (see [`super::parse`]). Options:
//! `directory`, `forward`, `forwarders`, `allow-query`, `allow-query-cache`, `allow-recursion`,
//! `listen-on`, `listen-on-v6`, `max-cache-size`, `max-cache-ttl`, `max-ncache-ttl`,
//! `stale-answer-enable`, `stale-cache-enable`, `stale-answer-ttl`, `max-stale-ttl`,
//! `stale-refresh-time`, `stale-answer-client-timeout`, `edns-udp-size`, `max-udp-size`,
//! `recursion`, `tcp-clients`, `tcp-idle-timeout`, `dnssec-validation` (accepted, ignored with
//! a warning). Anything else is an error at its line, as named-checkconf reports it.
//!
//! Checking runs in two passes like named-checkconf: syntax and value types first (the first
//! error wins), then references and ranges (undefined ACLs, unknown keys, bad secrets).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;

use lvs_dns::forwarder::{Acls, ForwardMode, ForwarderConfig, MatchElement, MatchList};

use super::parse::{ConfError, Item, Loc, Source, Stmt, parse_file};
use super::values::{
    Refs, Size, address, boolean, duration, integer, is_base64, match_list, port, size, word,
};

/// BIND's ceiling for `max-ncache-ttl` (7 days).
pub const MAX_NCACHE_TTL: u32 = 604_800;

/// One `listen-on` / `listen-on-v6` statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenOn {
    /// `port N`, if given.
    pub port: Option<u16>,
    /// The address match list.
    pub list: MatchList,
}

/// A TSIG key (`key "name" { algorithm ...; secret "..."; };`), kept for rndc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// The key's name.
    pub name: String,
    /// The algorithm (`hmac-sha256` ...).
    pub algorithm: String,
    /// The secret, base64 as written.
    pub secret: String,
}

/// One `controls { inet ... };` channel, kept for rndc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlChannel {
    /// Address and port (953 unless given; `*` is the unspecified address).
    pub addr: SocketAddr,
    /// Who may connect.
    pub allow: MatchList,
    /// Keys accepted.
    pub keys: Vec<String>,
    /// `read-only yes`.
    pub read_only: bool,
}

/// Everything read from named.conf (unset options are `None`; defaults apply at mapping).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NamedConf {
    /// `directory`.
    pub directory: Option<String>,
    /// `statistics-file` (rndc stats appends to it).
    pub statistics_file: Option<String>,
    /// `dump-file` (rndc dumpdb writes it).
    pub dump_file: Option<String>,
    /// `forward`.
    pub forward: Option<ForwardMode>,
    /// `forwarders` (port 53 unless given).
    pub forwarders: Vec<SocketAddr>,
    /// `acl` statements.
    pub acls: Vec<(String, MatchList)>,
    /// `allow-query`.
    pub allow_query: Option<MatchList>,
    /// `allow-query-cache`.
    pub allow_query_cache: Option<MatchList>,
    /// `allow-recursion`.
    pub allow_recursion: Option<MatchList>,
    /// `listen-on` statements.
    pub listen_on: Vec<ListenOn>,
    /// `listen-on-v6` statements.
    pub listen_on_v6: Vec<ListenOn>,
    /// `max-cache-size`.
    pub max_cache_size: Option<Size>,
    /// `max-cache-ttl` in seconds.
    pub max_cache_ttl: Option<u32>,
    /// `max-ncache-ttl` in seconds.
    pub max_ncache_ttl: Option<u32>,
    /// `stale-answer-enable`.
    pub stale_answer_enable: Option<bool>,
    /// `stale-cache-enable`.
    pub stale_cache_enable: Option<bool>,
    /// `stale-answer-ttl` in seconds.
    pub stale_answer_ttl: Option<u32>,
    /// `max-stale-ttl` in seconds.
    pub max_stale_ttl: Option<u32>,
    /// `stale-refresh-time` in seconds.
    pub stale_refresh_time: Option<u32>,
    /// `stale-answer-client-timeout` in ms (`Some(None)`: `off` / `disabled`).
    pub stale_answer_client_timeout: Option<Option<u32>>,
    /// `edns-udp-size`.
    pub edns_udp_size: Option<u16>,
    /// `max-udp-size`.
    pub max_udp_size: Option<u16>,
    /// `recursion`.
    pub recursion: Option<bool>,
    /// `tcp-clients`.
    pub tcp_clients: Option<u32>,
    /// `tcp-idle-timeout` in units of 100 ms (as BIND).
    pub tcp_idle_timeout: Option<u32>,
    /// `key` statements.
    pub keys: Vec<Key>,
    /// `controls` channels.
    pub controls: Vec<ControlChannel>,
    /// Warnings (`FILE:LINE: message`): accepted but ignored options, clamped values.
    pub warnings: Vec<String>,
}

/// Where the forwarder listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenPlan {
    /// The one port every listen socket uses.
    pub port: u16,
    /// The addresses to bind (unspecified for `any`).
    pub addrs: Vec<IpAddr>,
    /// Elements that name no bindable address (prefixes, ACLs), as warnings.
    pub skipped: Vec<String>,
}

impl NamedConf {
    /// Reads `file` and its includes from `src`, checking it as named-checkconf does.
    pub fn load(src: &mut dyn Source, file: &str) -> Result<Self, ConfError> {
        let stmts = parse_file(src, file)?;
        let mut conf = Self::default();
        let mut refs = Refs::new();
        let mut key_refs = Vec::new();
        let mut semantic = Vec::new();
        let mut seen_options = false;
        for s in &stmts {
            let Some(kw) = s.keyword() else {
                return Err(ConfError::at(s.loc(), "unexpected '{'"));
            };
            match kw {
                "options" => {
                    if seen_options {
                        return Err(ConfError::at(s.loc(), "'options' redefined near 'options'"));
                    }
                    seen_options = true;
                    let body = block_at(s, 1)?;
                    conf.options(body, &mut refs, &mut semantic)?;
                }
                "acl" => {
                    let (name, loc) = word(s.items.get(1), &s.end, "string")?;
                    let list = match_list(block_at(s, 2)?, &mut refs)?;
                    if let Some(prev) = stmts
                        .iter()
                        .take_while(|p| !core::ptr::eq(*p, s))
                        .find(|p| {
                            p.keyword() == Some("acl")
                                && matches!(p.items.get(1), Some(Item::Word { text, .. }) if text == name)
                        })
                    {
                        semantic.push(ConfError::at(
                            loc,
                            format!(
                                "attempt to redefine acl '{name}' previous definition: {}",
                                prev.loc()
                            ),
                        ));
                    }
                    conf.acls.push((name.to_owned(), list));
                }
                "key" => conf.key(s, &mut semantic)?,
                "controls" => conf.controls(block_at(s, 1)?, &mut refs, &mut key_refs)?,
                other => {
                    return Err(ConfError::at(s.loc(), format!("unknown option '{other}'")));
                }
            }
        }
        let builtin = ["any", "none", "localhost", "localnets"];
        for (name, loc) in &refs {
            if !builtin.contains(&name.as_str()) && !conf.acls.iter().any(|(n, _)| n == name) {
                semantic.push(ConfError::at(loc, format!("undefined ACL '{name}'")));
            }
        }
        for (name, loc) in &key_refs {
            if !conf.keys.iter().any(|k| &k.name == name) {
                semantic.push(ConfError::at(loc, format!("unknown key '{name}'")));
            }
        }
        let acls = Acls::new(conf.acls.clone());
        for (name, list) in &conf.acls {
            if let Err(e) = acls.check(list) {
                let loc = refs.iter().find(|(n, _)| n == name).map(|(_, l)| l.clone());
                semantic.push(ConfError {
                    loc,
                    message: e.to_string(),
                });
            }
        }
        match semantic
            .into_iter()
            .min_by_key(|e| e.loc.as_ref().map(|l| l.line))
        {
            Some(e) => Err(e),
            None => Ok(conf),
        }
    }

    fn options(
        &mut self,
        body: &[Stmt],
        refs: &mut Refs,
        semantic: &mut Vec<ConfError>,
    ) -> Result<(), ConfError> {
        let mut seen: Vec<&str> = Vec::new();
        for s in body {
            let Some(kw) = s.keyword() else {
                return Err(ConfError::at(s.loc(), "unexpected '{'"));
            };
            let repeatable = matches!(kw, "listen-on" | "listen-on-v6");
            if !repeatable && seen.contains(&kw) {
                return Err(ConfError::at(
                    s.loc(),
                    format!("'{kw}' redefined near '{kw}'"),
                ));
            }
            seen.push(kw);
            let arg = || word(s.items.get(1), &s.end, "value");
            let one = || -> Result<(&str, &Loc), ConfError> {
                let v = arg()?;
                if let Some(extra) = s.items.get(2) {
                    return Err(ConfError::at(
                        extra.loc(),
                        format!("missing ';' before '{}'", extra.describe()),
                    ));
                }
                Ok(v)
            };
            match kw {
                "directory" => self.directory = Some(one()?.0.to_owned()),
                "statistics-file" => self.statistics_file = Some(one()?.0.to_owned()),
                "dump-file" => self.dump_file = Some(one()?.0.to_owned()),
                "forward" => {
                    let (v, loc) = one()?;
                    self.forward = Some(match v {
                        "only" => ForwardMode::Only,
                        "first" => ForwardMode::First,
                        _ => return Err(ConfError::at(loc, format!("'{v}' unexpected"))),
                    });
                }
                "forwarders" => self.forwarders = forwarders(s)?,
                "allow-query" => self.allow_query = Some(match_list(block_at(s, 1)?, refs)?),
                "allow-query-cache" => {
                    self.allow_query_cache = Some(match_list(block_at(s, 1)?, refs)?);
                }
                "allow-recursion" => {
                    self.allow_recursion = Some(match_list(block_at(s, 1)?, refs)?);
                }
                "listen-on" | "listen-on-v6" => {
                    let (port, at) = match s.items.get(1) {
                        Some(Item::Word { text, .. }) if text == "port" => {
                            let (p, loc) = word(s.items.get(2), &s.end, "port")?;
                            (Some(port(p, loc)?), 3)
                        }
                        _ => (None, 1),
                    };
                    let list = match_list(block_at(s, at)?, refs)?;
                    let l = ListenOn { port, list };
                    if kw == "listen-on" {
                        self.listen_on.push(l);
                    } else {
                        self.listen_on_v6.push(l);
                    }
                }
                "max-cache-size" => {
                    let (v, loc) = one()?;
                    self.max_cache_size = Some(size(v, loc)?);
                }
                "max-cache-ttl" => self.max_cache_ttl = Some(dur(one()?)?),
                "max-ncache-ttl" => {
                    let (v, loc) = one()?;
                    let d = duration(v, loc)?;
                    if d > MAX_NCACHE_TTL {
                        semantic.push(ConfError::at(
                            loc,
                            format!("max-ncache-ttl '{d}' is out of range (0..{MAX_NCACHE_TTL})"),
                        ));
                    }
                    self.max_ncache_ttl = Some(d);
                }
                "stale-answer-enable" => self.stale_answer_enable = Some(flag(one()?)?),
                "stale-cache-enable" => self.stale_cache_enable = Some(flag(one()?)?),
                "stale-answer-ttl" => self.stale_answer_ttl = Some(dur(one()?)?),
                "max-stale-ttl" => self.max_stale_ttl = Some(dur(one()?)?),
                "stale-refresh-time" => self.stale_refresh_time = Some(dur(one()?)?),
                "stale-answer-client-timeout" => {
                    let (v, loc) = one()?;
                    self.stale_answer_client_timeout = Some(match v {
                        "off" | "disabled" => None,
                        _ => Some(integer(v, loc)?),
                    });
                }
                "edns-udp-size" | "max-udp-size" => {
                    let (v, loc) = one()?;
                    let n = integer(v, loc)?;
                    let clamped = n.clamp(512, 4096);
                    if clamped != n {
                        self.warnings
                            .push(format!("{loc}: {kw} {n} adjusted to {clamped}"));
                    }
                    let n = u16::try_from(clamped).unwrap_or(4096);
                    if kw == "edns-udp-size" {
                        self.edns_udp_size = Some(n);
                    } else {
                        self.max_udp_size = Some(n);
                    }
                }
                "recursion" => self.recursion = Some(flag(one()?)?),
                "tcp-clients" => {
                    let (v, loc) = one()?;
                    self.tcp_clients = Some(integer(v, loc)?);
                }
                "tcp-idle-timeout" => {
                    let (v, loc) = one()?;
                    self.tcp_idle_timeout = Some(integer(v, loc)?.clamp(1, 1200));
                }
                "dnssec-validation" => {
                    let (v, loc) = one()?;
                    if v != "auto" {
                        boolean(v, loc)?;
                    }
                    self.warnings.push(format!(
                        "{loc}: dnssec-validation is not implemented by lvs-named; ignored"
                    ));
                }
                other => return Err(ConfError::at(s.loc(), format!("unknown option '{other}'"))),
            }
        }
        Ok(())
    }

    fn key(&mut self, s: &Stmt, semantic: &mut Vec<ConfError>) -> Result<(), ConfError> {
        let (name, _) = word(s.items.get(1), &s.end, "string")?;
        let mut algorithm = None;
        let mut secret = None;
        for st in block_at(s, 2)? {
            let (v, loc) = word(st.items.get(1), &st.end, "string")?;
            match st.keyword() {
                Some("algorithm") => algorithm = Some(v.to_owned()),
                Some("secret") => {
                    if !is_base64(v) {
                        semantic.push(ConfError::at(loc, "bad secret 'bad base64 encoding'"));
                    }
                    secret = Some(v.to_owned());
                }
                _ => {
                    return Err(ConfError::at(
                        st.loc(),
                        format!("unknown option '{}'", st.items[0].describe()),
                    ));
                }
            }
        }
        let (Some(algorithm), Some(secret)) = (algorithm, secret) else {
            return Err(ConfError::at(
                s.loc(),
                format!("key '{name}' must have both 'secret' and 'algorithm' defined"),
            ));
        };
        self.keys.push(Key {
            name: name.to_owned(),
            algorithm,
            secret,
        });
        Ok(())
    }

    fn controls(
        &mut self,
        body: &[Stmt],
        refs: &mut Refs,
        key_refs: &mut Vec<(String, Loc)>,
    ) -> Result<(), ConfError> {
        for s in body {
            match s.keyword() {
                Some("inet") => {}
                Some(other) => {
                    return Err(ConfError::at(
                        s.loc(),
                        format!("unsupported control channel '{other}'"),
                    ));
                }
                None => return Err(ConfError::at(s.loc(), "unexpected '{'")),
            }
            let (a, loc) = word(s.items.get(1), &s.end, "address")?;
            let ip = if a == "*" {
                IpAddr::from(Ipv4Addr::UNSPECIFIED)
            } else {
                address(a, loc)?
            };
            let mut ch = ControlChannel {
                addr: SocketAddr::new(ip, 953),
                allow: MatchList::none(),
                keys: Vec::new(),
                read_only: false,
            };
            let mut i = 2;
            let mut has_allow = false;
            while let Some(item) = s.items.get(i) {
                let (kw, loc) = word(Some(item), &s.end, "keyword")?;
                match kw {
                    "port" => {
                        let (p, l) = word(s.items.get(i + 1), &s.end, "port")?;
                        if p != "*" {
                            ch.addr.set_port(port(p, l)?);
                        }
                        i += 2;
                    }
                    "allow" => {
                        ch.allow = match_list(block_at(s, i + 1)?, refs)?;
                        has_allow = true;
                        i += 2;
                    }
                    "keys" => {
                        for k in block_at(s, i + 1)? {
                            let (name, l) = word(k.items.first(), &k.end, "key name")?;
                            ch.keys.push(name.to_owned());
                            key_refs.push((name.to_owned(), l.clone()));
                        }
                        i += 2;
                    }
                    "read-only" => {
                        let (v, l) = word(s.items.get(i + 1), &s.end, "boolean")?;
                        ch.read_only = boolean(v, l)?;
                        i += 2;
                    }
                    _ => return Err(ConfError::at(loc, format!("'{kw}' unexpected"))),
                }
            }
            if !has_allow {
                return Err(ConfError::at(&s.end, "expected 'allow' near ';'"));
            }
            self.controls.push(ch);
        }
        Ok(())
    }

    /// The forwarder's configuration; `listen_port` comes from [`NamedConf::listen_plan`].
    pub fn forwarder_config(&self, listen_port: u16) -> Result<ForwarderConfig, String> {
        if self.forwarders.is_empty() {
            return Err("no forwarders configured: lvs-named only forwards".into());
        }
        let mut c = ForwarderConfig::new(self.forwarders.iter().copied());
        c.listen_port = listen_port;
        c.mode = self.forward.unwrap_or(ForwardMode::First);
        c.cache.max_size = match self.max_cache_size {
            None | Some(Size::Default) => c.cache.max_size,
            Some(Size::Bytes(n)) => usize::try_from(n).unwrap_or(usize::MAX / 2),
            Some(Size::Unlimited) => usize::MAX / 2,
            Some(Size::Percent(p)) => physical_memory().map_or(c.cache.max_size, |m| {
                usize::try_from(m / 100 * u64::from(p)).unwrap_or(usize::MAX / 2)
            }),
        };
        if let Some(t) = self.max_cache_ttl {
            c.cache.ttl.max_ttl = t;
        }
        if let Some(t) = self.max_ncache_ttl {
            c.cache.ttl.max_ncache_ttl = t.min(MAX_NCACHE_TTL);
        }
        let st = &mut c.stale;
        st.answer_enable = self.stale_answer_enable.unwrap_or(st.answer_enable);
        st.cache_enable = self.stale_cache_enable.unwrap_or(st.cache_enable);
        st.answer_ttl = self.stale_answer_ttl.unwrap_or(st.answer_ttl).max(1);
        if let Some(t) = self.max_stale_ttl {
            st.max_stale_ttl = Duration::from_secs(u64::from(t));
        }
        if let Some(t) = self.stale_refresh_time {
            st.refresh_time = Duration::from_secs(u64::from(t));
        }
        if let Some(t) = self.stale_answer_client_timeout {
            st.client_timeout = t.map(|ms| Duration::from_millis(u64::from(ms)));
        }
        c.edns_udp_size = self.edns_udp_size.unwrap_or(c.edns_udp_size);
        c.max_udp_size = self.max_udp_size.unwrap_or(c.max_udp_size);
        let a = &mut c.access;
        a.acls = Acls::new(self.acls.clone());
        if let Some(l) = &self.allow_query {
            a.allow_query = l.clone();
        }
        if self.recursion == Some(false) {
            a.allow_recursion = MatchList::none();
            a.allow_query_cache = Some(self.allow_query_cache.clone().unwrap_or_default());
        } else {
            if let Some(l) = &self.allow_recursion {
                a.allow_recursion = l.clone();
            }
            a.allow_query_cache = self.allow_query_cache.clone();
        }
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    /// The listen sockets: one port for all (`port_override` wins), the addresses of
    /// `listen-on` (default `any`) and `listen-on-v6` (default `any`).
    pub fn listen_plan(&self, port_override: Option<u16>) -> Result<ListenPlan, String> {
        let v4 = default_any(&self.listen_on);
        let v6 = default_any(&self.listen_on_v6);
        let mut ports: Vec<u16> = v4
            .iter()
            .chain(&v6)
            .filter(|l| !is_none(&l.list))
            .map(|l| l.port.unwrap_or(53))
            .collect();
        ports.dedup();
        let port = match (port_override, ports.as_slice()) {
            (Some(p), _) => p,
            (None, []) => 53,
            (None, [p]) => *p,
            (None, _) => {
                return Err("every listen-on and listen-on-v6 must use the same port".into());
            }
        };
        let mut plan = ListenPlan {
            port,
            addrs: Vec::new(),
            skipped: Vec::new(),
        };
        for (lists, any, lo) in [
            (
                &v4,
                IpAddr::from(Ipv4Addr::UNSPECIFIED),
                IpAddr::from(Ipv4Addr::LOCALHOST),
            ),
            (
                &v6,
                Ipv6Addr::UNSPECIFIED.into(),
                Ipv6Addr::LOCALHOST.into(),
            ),
        ] {
            for l in lists.iter() {
                for e in &l.list.0 {
                    let addr = match e {
                        MatchElement::Any => Some(any),
                        MatchElement::Not(inner) if **inner == MatchElement::Any => None,
                        MatchElement::Prefix(p)
                            if p.len == if p.addr.is_ipv4() { 32 } else { 128 } =>
                        {
                            Some(p.addr)
                        }
                        MatchElement::List(l) if *l == MatchList::localhost() => Some(lo),
                        other => {
                            plan.skipped.push(format!("{other:?}"));
                            None
                        }
                    };
                    if let Some(a) =
                        addr.filter(|a| a.is_ipv4() == any.is_ipv4() && !plan.addrs.contains(a))
                    {
                        plan.addrs.push(a);
                    }
                }
            }
        }
        Ok(plan)
    }

    /// The client TCP connection limit (`tcp-clients`, BIND's default 150).
    pub fn tcp_clients(&self) -> usize {
        self.tcp_clients
            .map_or(150, |n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// The client TCP idle timeout (`tcp-idle-timeout`, 100 ms units, BIND's default 30 s).
    pub fn tcp_idle_timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.tcp_idle_timeout.unwrap_or(300)) * 100)
    }
}

fn default_any(l: &[ListenOn]) -> Vec<ListenOn> {
    if l.is_empty() {
        vec![ListenOn {
            port: None,
            list: MatchList::any(),
        }]
    } else {
        l.to_vec()
    }
}

fn is_none(l: &MatchList) -> bool {
    l.0.iter()
        .all(|e| matches!(e, MatchElement::Not(i) if **i == MatchElement::Any))
}

fn flag((v, loc): (&str, &Loc)) -> Result<bool, ConfError> {
    boolean(v, loc)
}

fn dur((v, loc): (&str, &Loc)) -> Result<u32, ConfError> {
    duration(v, loc)
}

/// The block at item `i` of `s`.
fn block_at(s: &Stmt, i: usize) -> Result<&[Stmt], ConfError> {
    match s.items.get(i) {
        Some(Item::Block { stmts, .. }) => {
            if let Some(extra) = s.items.get(i + 1)
                && !matches!(s.keyword(), Some("inet"))
            {
                return Err(ConfError::at(
                    extra.loc(),
                    format!("'{}' unexpected", extra.describe()),
                ));
            }
            Ok(stmts)
        }
        Some(Item::Word { text, loc, .. }) => {
            Err(ConfError::at(loc, format!("expected '{{' near '{text}'")))
        }
        None => Err(ConfError::at(&s.end, "expected '{' near ';'")),
    }
}

/// `forwarders [port N] { addr [port N]; ... };`
fn forwarders(s: &Stmt) -> Result<Vec<SocketAddr>, ConfError> {
    let (default_port, at) = match s.items.get(1) {
        Some(Item::Word { text, .. }) if text == "port" => {
            let (p, loc) = word(s.items.get(2), &s.end, "port")?;
            (port(p, loc)?, 3)
        }
        _ => (53, 1),
    };
    let mut out = Vec::new();
    for f in block_at(s, at)? {
        let (a, loc) = word(f.items.first(), &f.end, "address")?;
        let ip = address(a, loc)?;
        let p = match f.items.get(1) {
            None => default_port,
            Some(Item::Word { text, .. }) if text == "port" => {
                let (p, l) = word(f.items.get(2), &f.end, "port")?;
                if let Some(extra) = f.items.get(3) {
                    return Err(ConfError::at(
                        extra.loc(),
                        format!("'{}' unexpected", extra.describe()),
                    ));
                }
                port(p, l)?
            }
            Some(other) => {
                return Err(ConfError::at(
                    other.loc(),
                    format!("missing ';' before '{}'", other.describe()),
                ));
            }
        };
        out.push(SocketAddr::new(ip, p));
    }
    Ok(out)
}

/// Physical memory from /proc/meminfo (for `max-cache-size N%`).
fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

#[cfg(test)]
mod tests;
