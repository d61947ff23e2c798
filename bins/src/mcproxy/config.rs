//! The proxy's configuration: nutcracker's YAML pools (see [`super::yaml`]), checked key by key
//! with the line of every mistake, and turned into [`Router`]s.

use core::time::Duration;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use lvs_sched::mcproxy::{DownPolicy, Router};
use lvs_sched::ring::{Distribution, HashFunction, ServerSpec, TwemproxyPool};

use super::toml_conf;
use super::yaml::{self, Entry, Section, Value};

/// Why a configuration was refused; `line` is 1-based (0 for the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct ConfigError {
    /// The file, as given.
    pub path: String,
    /// The line of the mistake.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The connect timeout used when a pool sets no `timeout` (nutcracker would wait forever).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One nutcracker pool.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The pool's name.
    pub name: String,
    /// `listen:` (TCP only).
    pub listen: SocketAddr,
    /// `hash:` (default `fnv1a_64`).
    pub hash: HashFunction,
    /// `hash_tag:` (two characters).
    pub hash_tag: Option<[u8; 2]>,
    /// `distribution:` (default `ketama`; `random` is refused: it cannot route keys).
    pub distribution: Distribution,
    /// `timeout:` in ms: connect and reply timeout. `None` (nutcracker's -1) waits for replies
    /// forever and connects within [`DEFAULT_CONNECT_TIMEOUT`].
    pub timeout: Option<Duration>,
    /// `auto_eject_hosts:` (default false). True remaps an ejected server's keys to its ring
    /// neighbours; false keeps the ring and fails its keys fast while it is ejected.
    pub auto_eject_hosts: bool,
    /// `server_retry_timeout:` (default 30 s): how long an ejected server stays out.
    pub server_retry_timeout: Duration,
    /// `server_failure_limit:` (default 2): consecutive failures that eject a server.
    pub server_failure_limit: u32,
    /// `client_connections:` (default 0 = unlimited), per worker thread.
    pub client_connections: u32,
    /// `tcpkeepalive:` on backend connections.
    pub tcpkeepalive: bool,
    /// `servers:` entries.
    pub servers: Vec<ServerSpec>,
    /// The resolved address of each server, same order.
    pub addrs: Vec<SocketAddr>,
    /// What happens to an ejected server's keys (`ejection_policy:` remap, fail_fast or
    /// failover with the `failover:` lines `<server> <replica> [<replica> ...]`, servers by
    /// name or by `host:port`; by default what `auto_eject_hosts` says: remap or fail fast).
    pub ejection: DownPolicy,
    /// Active health checks (`health_check_interval:` above 0), or nutcracker's passive
    /// ejection alone.
    pub health_check: Option<HealthCheck>,
}

/// Active health checks of a pool's servers: every `interval` each worker sends `version`
/// to each server on a connection of its own; a probe fails when it cannot connect, gets no
/// `VERSION` line within `timeout`, or gets anything else. `fall` consecutive failures eject
/// a server, `rise` consecutive successes put an ejected one back (in place of
/// `server_retry_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthCheck {
    /// `health_check_interval:` in ms.
    pub interval: Duration,
    /// `health_check_timeout:` in ms (default: the interval, at most 1 s).
    pub timeout: Duration,
    /// `health_check_rise:` (default 2).
    pub rise: u32,
    /// `health_check_fall:` (default 3).
    pub fall: u32,
}

impl PoolConfig {
    /// The routing core for this pool: the twemproxy ring and its down policy.
    pub fn router(&self) -> Result<Router, String> {
        let mut pool = TwemproxyPool::new(self.servers.clone(), self.hash, self.distribution)
            .map_err(|e| e.to_string())?;
        if let Some(tag) = self.hash_tag {
            pool = pool.with_hash_tag(&tag).map_err(|e| e.to_string())?;
        }
        Router::new(pool, self.ejection.clone()).map_err(|e| e.to_string())
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    }
}

/// A whole configuration file.
#[derive(Debug, Clone)]
pub struct Config {
    /// The pools, in file order.
    pub pools: Vec<PoolConfig>,
}

/// Keys nutcracker knows that change nothing here (logged once at load).
const IGNORED: &[&str] = &["backlog", "preconnect", "server_connections", "redis_db"];

impl Config {
    /// Reads and checks `path`: TOML when its name ends in `.toml`, nutcracker's YAML
    /// otherwise.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: shown.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        let format = if path.extension().is_some_and(|e| e == "toml") {
            Format::Toml
        } else {
            Format::Yaml
        };
        Self::parse_with(&text, &shown, format, resolve)
    }

    /// Parses and checks nutcracker YAML text; `path` only labels errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        Self::parse_with(text, path, Format::Yaml, resolve)
    }

    /// Parses and checks the same pools written in TOML (one table per pool, the same keys).
    pub fn parse_toml(text: &str, path: &str) -> Result<Self, ConfigError> {
        Self::parse_with(text, path, Format::Toml, resolve)
    }

    /// [`Config::parse`] (or, with `toml`, [`Config::parse_toml`]) without name lookups: host
    /// names are refused instead of resolved, so the fuzz targets never touch the network.
    pub(crate) fn parse_numeric(text: &str, path: &str, toml: bool) -> Result<Self, ConfigError> {
        let format = if toml { Format::Toml } else { Format::Yaml };
        Self::parse_with(text, path, format, resolve_numeric)
    }

    fn parse_with(
        text: &str,
        path: &str,
        format: Format,
        resolve: Resolve,
    ) -> Result<Self, ConfigError> {
        let fail = |line: usize, message: String| ConfigError {
            path: path.to_owned(),
            line,
            message,
        };
        let sections = match format {
            Format::Yaml => yaml::parse(text).map_err(|e| fail(e.line, e.message))?,
            Format::Toml => toml_conf::parse(text).map_err(|(line, m)| fail(line, m))?,
        };
        if sections.is_empty() {
            return Err(fail(0, "no pools configured".into()));
        }
        let mut pools: Vec<PoolConfig> = Vec::with_capacity(sections.len());
        for s in &sections {
            let pool = pool(s, resolve).map_err(|(line, m)| fail(line, m))?;
            if let Some(other) = pools.iter().find(|p| p.listen == pool.listen) {
                return Err(fail(
                    s.line,
                    format!(
                        "pool {:?} listens on the same address as {:?}",
                        pool.name, other.name
                    ),
                ));
            }
            pools.push(pool);
        }
        Ok(Self { pools })
    }
}

/// The two ways to write the pools.
#[derive(Debug, Clone, Copy)]
enum Format {
    Yaml,
    Toml,
}

type Fail = (usize, String);

/// Turns `host:port` into an address; `line` and `what` label the error.
type Resolve = fn(&str, usize, &str) -> Result<SocketAddr, Fail>;

fn scalar(e: &Entry) -> Result<&str, Fail> {
    match &e.value {
        Value::Scalar(s) => Ok(s),
        Value::List(_) => Err((e.line, format!("{}: expected a value, not a list", e.key))),
    }
}

/// nutcracker's `conf_set_bool`: exactly `true` or `false`.
fn boolean(e: &Entry) -> Result<bool, Fail> {
    match scalar(e)? {
        "true" => Ok(true),
        "false" => Ok(false),
        v => Err((
            e.line,
            format!("{}: expected true or false, found {v:?}", e.key),
        )),
    }
}

/// A non-negative decimal integer (digits only, as nutcracker's `nc_atoi`).
fn number(e: &Entry) -> Result<u32, Fail> {
    let v = scalar(e)?;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err((e.line, format!("{}: expected a number, found {v:?}", e.key)));
    }
    v.parse::<u32>()
        .ok()
        .filter(|&n| n <= i32::MAX as u32)
        .ok_or((e.line, format!("{}: {v} is too large", e.key)))
}

fn resolve(host_port: &str, line: usize, what: &str) -> Result<SocketAddr, Fail> {
    let mut addrs = host_port
        .to_socket_addrs()
        .map_err(|err| (line, format!("{what}: cannot resolve {host_port:?}: {err}")))?;
    addrs
        .next()
        .ok_or((line, format!("{what}: {host_port:?} has no address")))
}

/// Like [`resolve`] for literal addresses (`1.2.3.4:11211`, `[::1]:11211`, `::1:11211`), and
/// an error for a host name.
fn resolve_numeric(host_port: &str, line: usize, what: &str) -> Result<SocketAddr, Fail> {
    if let Ok(a) = host_port.parse::<SocketAddr>() {
        return Ok(a);
    }
    host_port
        .rsplit_once(':')
        .and_then(|(h, p)| Some(SocketAddr::new(h.parse().ok()?, p.parse().ok()?)))
        .ok_or((
            line,
            format!("{what}: {host_port:?} is not a literal address"),
        ))
}

fn pool(s: &Section, resolve: Resolve) -> Result<PoolConfig, Fail> {
    let mut listen = None;
    let mut hash = HashFunction::Fnv1a64;
    let mut hash_tag = None;
    let mut distribution = Distribution::Ketama;
    let mut timeout = None;
    let mut auto_eject_hosts = false;
    let mut server_retry_timeout = Duration::from_millis(30_000);
    let mut server_failure_limit = 2;
    let mut client_connections = 0;
    let mut tcpkeepalive = false;
    let mut servers = None;
    let mut policy: Option<(usize, String)> = None;
    let mut failover: Option<(usize, Vec<(usize, String)>)> = None;
    let mut hc_interval = 0;
    let (mut hc_timeout, mut hc_rise, mut hc_fall) = (None, 2, 3);
    for e in &s.entries {
        match e.key.as_str() {
            "listen" => {
                let v = scalar(e)?;
                if v.starts_with('/') {
                    return Err((e.line, "listen: unix sockets are not supported".into()));
                }
                listen = Some(resolve(v, e.line, "listen")?);
            }
            "hash" => {
                let v = scalar(e)?;
                hash = v
                    .parse()
                    .map_err(|_| (e.line, format!("hash: unknown function {v:?}")))?;
            }
            "hash_tag" => {
                let v = scalar(e)?.as_bytes();
                let &[a, b] = v else {
                    return Err((e.line, "hash_tag: expected exactly two characters".into()));
                };
                hash_tag = Some([a, b]);
            }
            "distribution" => {
                distribution = match scalar(e)? {
                    "ketama" => Distribution::Ketama,
                    "modula" => Distribution::Modula,
                    "random" => {
                        return Err((
                            e.line,
                            "distribution: random sends a key's reads and writes to different \
                             servers; use ketama or modula"
                                .into(),
                        ));
                    }
                    v => return Err((e.line, format!("distribution: unknown {v:?}"))),
                };
            }
            "timeout" => {
                // nutcracker's -1 means "wait forever".
                timeout = match scalar(e)? {
                    "-1" => None,
                    _ => Some(Duration::from_millis(u64::from(number(e)?.max(1)))),
                };
            }
            "auto_eject_hosts" => auto_eject_hosts = boolean(e)?,
            "server_retry_timeout" => {
                server_retry_timeout = Duration::from_millis(u64::from(number(e)?));
            }
            "server_failure_limit" => {
                server_failure_limit = number(e)?;
                if server_failure_limit == 0 {
                    return Err((e.line, "server_failure_limit: must be at least 1".into()));
                }
            }
            "client_connections" => client_connections = number(e)?,
            "ejection_policy" => policy = Some((e.line, scalar(e)?.to_owned())),
            "failover" => {
                let Value::List(items) = &e.value else {
                    return Err((
                        e.line,
                        "failover: expected a list of `- <server> <replica> ...`".into(),
                    ));
                };
                failover = Some((e.line, items.clone()));
            }
            "health_check_interval" => hc_interval = number(e)?,
            "health_check_timeout" => {
                let ms = number(e)?;
                if ms == 0 {
                    return Err((e.line, "health_check_timeout: must be at least 1".into()));
                }
                hc_timeout = Some(Duration::from_millis(u64::from(ms)));
            }
            "health_check_rise" | "health_check_fall" => {
                let n = number(e)?;
                if n == 0 {
                    return Err((e.line, format!("{}: must be at least 1", e.key)));
                }
                if e.key == "health_check_rise" {
                    hc_rise = n;
                } else {
                    hc_fall = n;
                }
            }
            "tcpkeepalive" => tcpkeepalive = boolean(e)?,
            "redis" => {
                if boolean(e)? {
                    return Err((e.line, "redis: this proxy speaks memcached only".into()));
                }
            }
            "redis_auth" => return Err((e.line, "redis_auth: memcached pools only".into())),
            "servers" => {
                let Value::List(items) = &e.value else {
                    return Err((
                        e.line,
                        "servers: expected a list of `- host:port:weight`".into(),
                    ));
                };
                servers = Some(items.clone());
            }
            k if IGNORED.contains(&k) => {
                tracing::info!(pool = %s.name, key = k, line = e.line, "key accepted and ignored");
            }
            k => return Err((e.line, format!("unknown key {k:?}"))),
        }
    }
    let listen = listen.ok_or((s.line, format!("pool {:?} has no listen address", s.name)))?;
    let items = servers
        .filter(|v| !v.is_empty())
        .ok_or((s.line, format!("pool {:?} has no servers", s.name)))?;
    let mut specs = Vec::with_capacity(items.len());
    let mut addrs = Vec::with_capacity(items.len());
    for (line, text) in &items {
        let spec =
            ServerSpec::parse(text).map_err(|err| (*line, format!("server {text:?}: {err}")))?;
        if spec.is_unix() {
            return Err((
                *line,
                format!("server {text:?}: unix sockets are not supported"),
            ));
        }
        addrs.push(resolve(
            &format!("{}:{}", spec.addr(), spec.port()),
            *line,
            "server",
        )?);
        specs.push(spec);
    }
    let ejection = ejection(policy, failover, auto_eject_hosts, &specs)?;
    let health_check = (hc_interval > 0).then(|| {
        let interval = Duration::from_millis(u64::from(hc_interval));
        HealthCheck {
            interval,
            timeout: hc_timeout.unwrap_or(interval.min(Duration::from_secs(1))),
            rise: hc_rise,
            fall: hc_fall,
        }
    });
    let cfg = PoolConfig {
        name: s.name.clone(),
        listen,
        hash,
        hash_tag,
        distribution,
        timeout,
        auto_eject_hosts,
        server_retry_timeout,
        server_failure_limit,
        client_connections,
        tcpkeepalive,
        servers: specs,
        addrs,
        ejection,
        health_check,
    };
    // Build the ring once here so that duplicate names or weight overflows are reported now.
    cfg.router()
        .map_err(|m| (s.line, format!("pool {:?}: {m}", s.name)))?;
    Ok(cfg)
}

/// The ejection policy from `ejection_policy:` (or `auto_eject_hosts:`) and the `failover:`
/// lists, servers named as in their `servers:` line or by `host:port`.
fn ejection(
    policy: Option<(usize, String)>,
    failover: Option<(usize, Vec<(usize, String)>)>,
    auto_eject_hosts: bool,
    specs: &[ServerSpec],
) -> Result<DownPolicy, Fail> {
    let chosen = match &policy {
        None if failover.is_some() => "failover",
        None if auto_eject_hosts => "remap",
        None => "fail_fast",
        Some((_, p)) => p.as_str(),
    };
    let line = policy.as_ref().map_or(0, |(l, _)| *l);
    match chosen {
        "remap" | "fail_fast" => {
            if let Some((l, _)) = failover {
                return Err((
                    l,
                    format!("failover: lists are for ejection_policy: failover, not {chosen}"),
                ));
            }
            Ok(if chosen == "remap" {
                DownPolicy::Remap
            } else {
                DownPolicy::FailFast
            })
        }
        "failover" => {
            let Some((_, items)) = failover else {
                return Err((
                    line,
                    "ejection_policy: failover needs a failover: list".into(),
                ));
            };
            let find = |name: &str, l: usize| {
                specs
                    .iter()
                    .position(|s| {
                        s.ketama_name() == name || format!("{}:{}", s.addr(), s.port()) == name
                    })
                    .ok_or((l, format!("failover: no server {name:?} in this pool")))
            };
            let mut lists: Vec<Vec<usize>> = vec![Vec::new(); specs.len()];
            for (l, text) in &items {
                let mut words = text.split_ascii_whitespace();
                let Some(owner) = words.next() else {
                    return Err((*l, "failover: empty line".into()));
                };
                let o = find(owner, *l)?;
                // A listed server has at least one replica (an empty list is refused below).
                if !lists[o].is_empty() {
                    return Err((*l, format!("failover: {owner:?} is listed twice")));
                }
                for w in words {
                    let r = find(w, *l)?;
                    if r == o || lists[o].contains(&r) {
                        return Err((
                            *l,
                            format!("failover: {w:?} repeats in the list of {owner:?}"),
                        ));
                    }
                    lists[o].push(r);
                }
                if lists[o].is_empty() {
                    return Err((*l, format!("failover: {owner:?} has no replica")));
                }
            }
            Ok(DownPolicy::Failover(lists))
        }
        other => Err((
            line,
            format!("ejection_policy: unknown {other:?} (remap, fail_fast or failover)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "\
alpha:
  listen: 127.0.0.1:22121
  hash: murmur
  hash_tag: \"{}\"
  distribution: modula
  timeout: 400
  auto_eject_hosts: true
  server_retry_timeout: 2000
  server_failure_limit: 3
  client_connections: 100
  tcpkeepalive: true
  preconnect: true
  redis: false
  servers:
   - 127.0.0.1:11211:1
   - 127.0.0.1:11212:2 cache-b
";

    #[test]
    fn every_nutcracker_key_is_read() {
        let c = Config::parse(FULL, "t.yml").unwrap();
        let p = &c.pools[0];
        assert_eq!(p.name, "alpha");
        assert_eq!(p.listen, "127.0.0.1:22121".parse().unwrap());
        assert_eq!(p.hash, HashFunction::Murmur);
        assert_eq!(p.hash_tag, Some(*b"{}"));
        assert_eq!(p.distribution, Distribution::Modula);
        assert_eq!(p.timeout, Some(Duration::from_millis(400)));
        assert!(p.auto_eject_hosts && p.tcpkeepalive);
        assert_eq!(p.server_retry_timeout, Duration::from_secs(2));
        assert_eq!(p.server_failure_limit, 3);
        assert_eq!(p.client_connections, 100);
        assert_eq!(p.servers[1].ketama_name(), "cache-b");
        assert_eq!(p.servers[1].weight(), 2);
        assert_eq!(p.addrs[1], "127.0.0.1:11212".parse().unwrap());
        assert_eq!(*p.router().unwrap().policy(), DownPolicy::Remap);
    }

    #[test]
    fn defaults_are_nutcracker_defaults() {
        let c = Config::parse(
            "p:\n  listen: 127.0.0.1:1\n  servers:\n  - 127.0.0.1:2:1\n",
            "x",
        )
        .unwrap();
        let p = &c.pools[0];
        assert_eq!(p.hash, HashFunction::Fnv1a64);
        assert_eq!(p.distribution, Distribution::Ketama);
        assert_eq!(p.timeout, None);
        assert_eq!(p.connect_timeout(), DEFAULT_CONNECT_TIMEOUT);
        assert!(!p.auto_eject_hosts);
        assert_eq!(p.server_retry_timeout, Duration::from_secs(30));
        assert_eq!(p.server_failure_limit, 2);
        assert_eq!(*p.router().unwrap().policy(), DownPolicy::FailFast);
    }

    #[test]
    fn mistakes_are_reported_with_their_line() {
        let base = "p:\n  listen: 127.0.0.1:1\n";
        let srv = "  servers:\n  - 127.0.0.1:2:1\n";
        let cases: Vec<(String, usize, &str)> = vec![
            (format!("{base}  hash: sha1\n{srv}"), 3, "unknown function"),
            (format!("{base}  hash_tag: abc\n{srv}"), 3, "two characters"),
            (format!("{base}  distribution: random\n{srv}"), 3, "random"),
            (format!("{base}  timeout: soon\n{srv}"), 3, "number"),
            (
                format!("{base}  auto_eject_hosts: yes\n{srv}"),
                3,
                "true or false",
            ),
            (
                format!("{base}  server_failure_limit: 0\n{srv}"),
                3,
                "at least 1",
            ),
            (format!("{base}  redis: true\n{srv}"), 3, "memcached only"),
            (format!("{base}  colour: blue\n{srv}"), 3, "unknown key"),
            (
                format!("{base}  servers:\n  - 127.0.0.1:2:0\n"),
                4,
                "weight",
            ),
            (format!("{base}  servers:\n  - 127.0.0.1:2\n"), 4, "server"),
            (format!("{base}  servers:\n  - /tmp/mc.sock:1\n"), 4, "unix"),
            (format!("{base}  servers: 127.0.0.1:2:1\n"), 3, "list"),
            (base.to_owned(), 1, "no servers"),
            (format!("p:\n{srv}"), 1, "no listen"),
            (
                format!("{base}{srv}q:\n  listen: 127.0.0.1:1\n{srv}"),
                5,
                "same address",
            ),
            (
                format!("{base}  servers:\n  - 127.0.0.1:2:1 a\n  - 127.0.0.1:3:1 a\n"),
                1,
                "pool",
            ),
            (String::new(), 0, "no pools"),
        ];
        for (text, line, what) in cases {
            let e = Config::parse(&text, "c.yml").expect_err(&text);
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(what), "{text}: {e}");
            assert!(e.to_string().starts_with(&format!("c.yml:{line}: ")));
        }
    }

    #[test]
    fn timeout_minus_one_waits_forever() {
        let c = Config::parse(
            "p:\n  listen: 127.0.0.1:1\n  timeout: -1\n  servers:\n  - 127.0.0.1:2:1\n",
            "x",
        )
        .unwrap();
        assert_eq!(c.pools[0].timeout, None);
    }

    #[test]
    fn ejection_policy_failover_lists_and_health_checks() {
        let text = "p:\n  listen: 127.0.0.1:1\n  ejection_policy: failover\n  failover:\n  \
                    - a b\n  - 127.0.0.1:3 a c\n  health_check_interval: 500\n  \
                    health_check_rise: 4\n  servers:\n  - 127.0.0.1:2:1 a\n  - 127.0.0.1:3:1 b\n  \
                    - 127.0.0.1:4:1 c\n";
        let p = Config::parse(text, "x").unwrap().pools.remove(0);
        assert_eq!(
            p.ejection,
            DownPolicy::Failover(vec![vec![1], vec![0, 2], vec![]])
        );
        assert_eq!(
            *p.router().unwrap().policy(),
            DownPolicy::Failover(vec![vec![1], vec![0, 2], vec![]])
        );
        assert_eq!(
            p.health_check,
            Some(HealthCheck {
                interval: Duration::from_millis(500),
                timeout: Duration::from_millis(500),
                rise: 4,
                fall: 3,
            })
        );
        // A failover: list alone picks the policy; ejection_policy overrides auto_eject_hosts.
        let base =
            "p:\n  listen: 127.0.0.1:1\n  servers:\n  - 127.0.0.1:2:1 a\n  - 127.0.0.1:3:1 b\n";
        let p = Config::parse(&format!("{base}  failover:\n  - a b\n"), "x").unwrap();
        assert_eq!(
            p.pools[0].ejection,
            DownPolicy::Failover(vec![vec![1], vec![]])
        );
        let p = Config::parse(
            &format!("{base}  auto_eject_hosts: true\n  ejection_policy: fail_fast\n"),
            "x",
        )
        .unwrap();
        assert_eq!(p.pools[0].ejection, DownPolicy::FailFast);
        assert_eq!(p.pools[0].health_check, None);
        let p = Config::parse(&format!("{base}  health_check_interval: 5000\n"), "x").unwrap();
        assert_eq!(
            p.pools[0].health_check.map(|h| h.timeout),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn ejection_and_health_check_mistakes_name_their_line() {
        let base =
            "p:\n  listen: 127.0.0.1:1\n  servers:\n  - 127.0.0.1:2:1 a\n  - 127.0.0.1:3:1 b\n";
        let cases: Vec<(String, usize, &str)> = vec![
            (format!("{base}  ejection_policy: shuffle\n"), 6, "unknown"),
            (
                format!("{base}  ejection_policy: failover\n"),
                6,
                "needs a failover",
            ),
            (format!("{base}  failover: a b\n"), 6, "expected a list"),
            (
                format!("{base}  failover:\n  - a z\n"),
                7,
                "no server \"z\"",
            ),
            (format!("{base}  failover:\n  - a\n"), 7, "no replica"),
            (format!("{base}  failover:\n  - a a\n"), 7, "repeats"),
            (format!("{base}  failover:\n  - a b\n  - a b\n"), 8, "twice"),
            (
                format!("{base}  ejection_policy: remap\n  failover:\n  - a b\n"),
                7,
                "not remap",
            ),
            (format!("{base}  health_check_rise: 0\n"), 6, "at least 1"),
            (format!("{base}  health_check_fall: many\n"), 6, "number"),
            (
                format!("{base}  health_check_timeout: 0\n"),
                6,
                "at least 1",
            ),
        ];
        for (text, line, what) in cases {
            let e = Config::parse(&text, "c.yml").expect_err(&text);
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(what), "{text}: {e}");
        }
    }

    #[test]
    fn toml_reads_the_same_pools_as_yaml() {
        let toml = "[alpha]\nlisten = \"127.0.0.1:22121\"\nhash = \"murmur\"\nhash_tag = \"{}\"\n\
                    distribution = \"modula\"\ntimeout = 400\nauto_eject_hosts = true\n\
                    server_retry_timeout = 2000\nserver_failure_limit = 3\nclient_connections = 100\n\
                    tcpkeepalive = true\npreconnect = true\nredis = false\n\
                    servers = [\"127.0.0.1:11211:1\", \"127.0.0.1:11212:2 cache-b\"]\n";
        let from_toml = Config::parse_toml(toml, "t.toml").unwrap();
        let from_yaml = Config::parse(FULL, "t.yml").unwrap();
        assert_eq!(format!("{from_toml:?}"), format!("{from_yaml:?}"));
        let e = Config::parse_toml(
            "[p]\nlisten = \"127.0.0.1:1\"\ncolour = \"blue\"\n",
            "c.toml",
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.to_string().starts_with("c.toml:3: ")),
            (3, true),
            "{e}"
        );
        assert!(e.message.contains("unknown key"), "{e}");
    }
}
