//! `lvs-ntpd` configuration: the ntp.conf subset, or the same settings as TOML (chosen by a
//! `.toml` file name).
//!
//! # ntp.conf directives
//!
//! | directive | meaning |
//! |---|---|
//! | `server HOST[:PORT] [iburst] [burst] [prefer] [minpoll N] [maxpoll N] [port N]` | poll one server (`port` and `HOST:PORT` are ours, for tests on unprivileged ports) |
//! | `pool HOST ...` | the same for every address HOST resolves to (shown with `t` = `p`) |
//! | `server 127.127.1.0` + `fudge 127.127.1.0 stratum N` | the classic local clock: serve our own clock at stratum N (10 if not fudged) while unsynchronised |
//! | `local stratum N` | chrony's spelling of the same |
//! | `tos orphan N` | treated as `local stratum N` (no orphan election) |
//! | `tos minsane N`, `tos minclock N`, `tos maxdist S` | selection limits |
//! | `tinker panic S`, `tinker step S`, `tinker stepout S` | discipline thresholds (`panic 0` / `step 0` disable) |
//! | `restrict ...` | see [`lvs_ntp::restrict`] |
//! | `discard average A minimum M` | rate limit for `limited` entries |
//! | `driftfile PATH` | frequency file, rewritten atomically |
//! | `controlsocket PATH` | the Unix socket `--peers` / `--status` talk to (ours) |
//! | `statistics`, `filegen`, `statsdir`, `leapfile`, `logfile` | accepted and ignored, with a warning |
//!
//! Anything else is an error naming the line.
//!
//! SIGHUP re-reads the file ([`super::reload`]): `restrict`, `discard` and `local stratum`
//! apply at once; servers that are unchanged keep their associations (filter state, reach,
//! selection), added ones are polled (with iburst), removed ones are dropped; a file that no
//! longer parses changes nothing.

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};

use lvs_ntp::restrict::{Flags, Net, RateConfig, RestrictError, parse_restrict};
use serde::Deserialize;

/// Where `--peers` and `--status` look when nothing else is configured.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/lvs-ntpd.sock";
/// The stratum of `server 127.127.1.0` without a `fudge`.
pub const DEFAULT_LOCAL_STRATUM: u8 = 10;

/// One configured upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerEntry {
    /// Host name or address as written.
    pub host: String,
    /// UDP port (123 unless given).
    pub port: u16,
    /// `pool` rather than `server`.
    pub pool: bool,
    /// Fast start.
    pub iburst: bool,
    /// Bursts while reachable.
    pub burst: bool,
    /// Preferred system peer.
    pub prefer: bool,
    /// Minimum poll exponent.
    pub minpoll: i8,
    /// Maximum poll exponent.
    pub maxpoll: i8,
}

impl ServerEntry {
    fn new(host: &str, pool: bool) -> Self {
        Self {
            host: host.to_owned(),
            port: 123,
            pool,
            iburst: false,
            burst: false,
            prefer: false,
            minpoll: 6,
            maxpoll: 10,
        }
    }

    /// The addresses to poll: one for a server, every resolved address for a pool (at most 8).
    pub fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        let mut addrs: Vec<SocketAddr> =
            (self.host.as_str(), self.port).to_socket_addrs()?.collect();
        addrs.dedup();
        addrs.truncate(if self.pool { 8 } else { 1 });
        Ok(addrs)
    }
}

/// The daemon's settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// Upstreams.
    pub servers: Vec<ServerEntry>,
    /// Restrict entries in order.
    pub restrict: Vec<(Net, Flags)>,
    /// `discard` parameters.
    pub rate: RateConfig,
    /// Drift file.
    pub driftfile: Option<PathBuf>,
    /// Serve the local clock at this stratum while unsynchronised.
    pub local_stratum: Option<u8>,
    /// `tos minsane`.
    pub min_sane: Option<usize>,
    /// `tos minclock`.
    pub min_clock: Option<usize>,
    /// `tos maxdist`.
    pub max_distance: Option<Duration>,
    /// `tinker panic` (`Some(None)`: disabled).
    pub panic: Option<Option<Duration>>,
    /// `tinker step` (`Some(None)`: never step).
    pub step: Option<Option<Duration>>,
    /// `tinker stepout`.
    pub stepout: Option<Duration>,
    /// Control socket path.
    pub control_socket: Option<PathBuf>,
    /// Directives accepted but ignored (line, keyword).
    pub ignored: Vec<(usize, String)>,
    /// The file this was read from (what SIGHUP re-reads).
    pub source: Option<PathBuf>,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A bad ntp.conf line.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Bad TOML.
    #[error("TOML: {0}")]
    Toml(String),
}

fn line_err(line: usize, message: impl Into<String>) -> ConfigError {
    ConfigError::Line {
        line,
        message: message.into(),
    }
}

impl Config {
    /// Reads `path`: TOML if it ends in `.toml`, ntp.conf otherwise.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut c = if path.extension().is_some_and(|e| e == "toml") {
            Self::from_toml(&text)
        } else {
            Self::from_ntp_conf(&text)
        }?;
        c.source = Some(path.to_owned());
        Ok(c)
    }

    /// Parses the ntp.conf subset (see the module docs).
    pub fn from_ntp_conf(text: &str) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut local_clock = false;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.split('#').next().unwrap_or("");
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some((&kw, args)) = words.split_first() else {
                continue;
            };
            match kw {
                "server" | "pool" => {
                    if args.first() == Some(&"127.127.1.0") {
                        local_clock = true;
                        continue;
                    }
                    let s = parse_server(args, kw == "pool").map_err(|m| line_err(n, m))?;
                    c.servers.push(s);
                }
                "fudge" => match args {
                    ["127.127.1.0", "stratum", s] => {
                        c.local_stratum = Some(stratum(s).map_err(|m| line_err(n, m))?);
                    }
                    _ => {
                        return Err(line_err(
                            n,
                            "only 'fudge 127.127.1.0 stratum N' is supported",
                        ));
                    }
                },
                "local" => match args {
                    ["stratum", s, ..] => {
                        c.local_stratum = Some(stratum(s).map_err(|m| line_err(n, m))?);
                    }
                    _ => return Err(line_err(n, "expected 'local stratum N'")),
                },
                "restrict" => {
                    let entries = parse_restrict(args).map_err(|e| line_err(n, e.to_string()))?;
                    c.restrict.extend(entries);
                }
                "discard" => c
                    .rate
                    .apply_discard(args)
                    .map_err(|e: RestrictError| line_err(n, e.to_string()))?,
                "driftfile" => match args {
                    [p] => c.driftfile = Some(PathBuf::from(p)),
                    _ => return Err(line_err(n, "expected 'driftfile PATH'")),
                },
                "controlsocket" => match args {
                    [p] => c.control_socket = Some(PathBuf::from(p)),
                    _ => return Err(line_err(n, "expected 'controlsocket PATH'")),
                },
                "tos" => parse_tos(&mut c, args).map_err(|m| line_err(n, m))?,
                "tinker" => parse_tinker(&mut c, args).map_err(|m| line_err(n, m))?,
                "statistics" | "filegen" | "statsdir" | "leapfile" | "logfile" => {
                    c.ignored.push((n, kw.to_owned()));
                }
                _ => return Err(line_err(n, format!("unknown directive '{kw}'"))),
            }
        }
        if local_clock && c.local_stratum.is_none() {
            c.local_stratum = Some(DEFAULT_LOCAL_STRATUM);
        }
        Ok(c)
    }

    /// Parses the TOML form:
    ///
    /// ```toml
    /// driftfile = "/var/lib/lvs-ntpd/drift"
    /// local_stratum = 10
    /// restrict = ["default kod limited nomodify notrap", "127.0.0.1"]
    /// [[server]]
    /// address = "192.0.2.1"
    /// iburst = true
    /// ```
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let t: TomlConfig = toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))?;
        let mut c = Self {
            driftfile: t.driftfile,
            local_stratum: t.local_stratum,
            control_socket: t.control_socket,
            min_sane: t.minsane,
            min_clock: t.minclock,
            max_distance: secs(t.maxdist).map_err(ConfigError::Toml)?,
            panic: t
                .panic
                .map(|s| secs(Some(s)).map(|d| d.filter(|d| !d.is_zero())))
                .transpose()
                .map_err(ConfigError::Toml)?,
            step: t
                .step
                .map(|s| secs(Some(s)).map(|d| d.filter(|d| !d.is_zero())))
                .transpose()
                .map_err(ConfigError::Toml)?,
            stepout: secs(t.stepout).map_err(ConfigError::Toml)?,
            ..Self::default()
        };
        if let Some(s) = c.local_stratum
            && !(1..=15).contains(&s)
        {
            return Err(ConfigError::Toml(format!(
                "local_stratum {s} outside 1..15"
            )));
        }
        for s in t.server {
            let mut words: Vec<String> = vec![s.address];
            for (flag, on) in [
                ("iburst", s.iburst),
                ("burst", s.burst),
                ("prefer", s.prefer),
            ] {
                if on {
                    words.push(flag.to_owned());
                }
            }
            for (k, v) in [("minpoll", s.minpoll), ("maxpoll", s.maxpoll)] {
                if let Some(v) = v {
                    words.extend([k.to_owned(), v.to_string()]);
                }
            }
            if let Some(p) = s.port {
                words.extend(["port".to_owned(), p.to_string()]);
            }
            let refs: Vec<&str> = words.iter().map(String::as_str).collect();
            c.servers
                .push(parse_server(&refs, s.pool).map_err(ConfigError::Toml)?);
        }
        for line in &t.restrict {
            let words: Vec<&str> = line.split_whitespace().collect();
            c.restrict.extend(
                parse_restrict(&words)
                    .map_err(|e| ConfigError::Toml(format!("restrict {line}: {e}")))?,
            );
        }
        if let Some(d) = t.discard {
            let mut args = Vec::new();
            if let Some(a) = d.average {
                args.extend(["average".to_owned(), a.to_string()]);
            }
            if let Some(m) = d.minimum {
                args.extend(["minimum".to_owned(), m.to_string()]);
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            c.rate
                .apply_discard(&refs)
                .map_err(|e| ConfigError::Toml(e.to_string()))?;
        }
        Ok(c)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlConfig {
    #[serde(default)]
    server: Vec<TomlServer>,
    #[serde(default)]
    restrict: Vec<String>,
    discard: Option<TomlDiscard>,
    driftfile: Option<PathBuf>,
    local_stratum: Option<u8>,
    control_socket: Option<PathBuf>,
    minsane: Option<usize>,
    minclock: Option<usize>,
    maxdist: Option<f64>,
    panic: Option<f64>,
    step: Option<f64>,
    stepout: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlServer {
    address: String,
    #[serde(default)]
    pool: bool,
    #[serde(default)]
    iburst: bool,
    #[serde(default)]
    burst: bool,
    #[serde(default)]
    prefer: bool,
    minpoll: Option<i8>,
    maxpoll: Option<i8>,
    port: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlDiscard {
    average: Option<u8>,
    minimum: Option<u8>,
}

fn secs(v: Option<f64>) -> Result<Option<Duration>, String> {
    v.map(|s| Duration::try_from_secs_f64(s).map_err(|_| format!("invalid seconds {s}")))
        .transpose()
}

fn stratum(s: &str) -> Result<u8, String> {
    match s.parse::<u8>() {
        Ok(v) if (1..=15).contains(&v) => Ok(v),
        _ => Err(format!("stratum '{s}' is not 1..15")),
    }
}

fn poll_exp(s: Option<&&str>) -> Result<i8, String> {
    let s = s.ok_or("missing poll exponent")?;
    match s.parse::<i8>() {
        Ok(v) if (0..=17).contains(&v) => Ok(v),
        _ => Err(format!("poll exponent '{s}' is not 0..17")),
    }
}

fn parse_server(args: &[&str], pool: bool) -> Result<ServerEntry, String> {
    let (&host, rest) = args.split_first().ok_or("missing server address")?;
    let mut s = match host.parse::<SocketAddr>() {
        Ok(sa) => {
            let mut s = ServerEntry::new(&sa.ip().to_string(), pool);
            s.port = sa.port();
            s
        }
        Err(_) => match host.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => {
                let mut s = ServerEntry::new(h, pool);
                s.port = p.parse().map_err(|_| format!("invalid port in '{host}'"))?;
                s
            }
            _ => ServerEntry::new(host.trim_start_matches('[').trim_end_matches(']'), pool),
        },
    };
    let mut it = rest.iter();
    while let Some(&w) = it.next() {
        match w {
            "iburst" => s.iburst = true,
            "burst" => s.burst = true,
            "prefer" => s.prefer = true,
            "minpoll" => s.minpoll = poll_exp(it.next())?,
            "maxpoll" => s.maxpoll = poll_exp(it.next())?,
            "port" => {
                let p = it.next().ok_or("missing port")?;
                s.port = p.parse().map_err(|_| format!("invalid port '{p}'"))?;
            }
            other => return Err(format!("unknown server option '{other}'")),
        }
    }
    if s.minpoll > s.maxpoll {
        return Err(format!("minpoll {} above maxpoll {}", s.minpoll, s.maxpoll));
    }
    Ok(s)
}

fn parse_tos(c: &mut Config, args: &[&str]) -> Result<(), String> {
    let mut it = args.iter();
    while let Some(&k) = it.next() {
        let v = it
            .next()
            .ok_or_else(|| format!("missing value for tos {k}"))?;
        let bad = || format!("invalid value '{v}' for tos {k}");
        match k {
            "minsane" => c.min_sane = Some(v.parse().map_err(|_| bad())?),
            "minclock" => c.min_clock = Some(v.parse().map_err(|_| bad())?),
            "maxdist" => c.max_distance = secs(Some(v.parse().map_err(|_| bad())?))?,
            "orphan" => c.local_stratum = Some(stratum(v)?),
            _ => return Err(format!("unsupported tos option '{k}'")),
        }
    }
    Ok(())
}

fn parse_tinker(c: &mut Config, args: &[&str]) -> Result<(), String> {
    let mut it = args.iter();
    while let Some(&k) = it.next() {
        let v = it
            .next()
            .ok_or_else(|| format!("missing value for tinker {k}"))?;
        let value: f64 = v
            .parse()
            .map_err(|_| format!("invalid value '{v}' for tinker {k}"))?;
        let d = secs(Some(value))?.filter(|d| !d.is_zero());
        match k {
            "panic" => c.panic = Some(d),
            "step" => c.step = Some(d),
            "stepout" => c.stepout = d,
            _ => return Err(format!("unsupported tinker option '{k}'")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_config() {
        let c = Config::from_ntp_conf(
            "# comment\ndriftfile /var/lib/ntp/ntp.drift\nserver 192.0.2.1 iburst prefer\n\
             pool 127.0.0.1:11123 iburst minpoll 0 maxpoll 0\n\
             restrict default kod nomodify notrap nopeer noquery limited\nrestrict 127.0.0.1\n\
             restrict 192.168.1.0 mask 255.255.255.0 nomodify notrap\nrestrict -6 default ignore\n\
             server 127.127.1.0\nfudge 127.127.1.0 stratum 8\ntinker panic 0 step 0.5\n\
             tos minsane 2\ndiscard average 4 minimum 1\nstatsdir /var/log/ntpstats\n",
        )
        .unwrap();
        assert_eq!(c.servers.len(), 2);
        assert!(c.servers[0].iburst && c.servers[0].prefer && c.servers[0].port == 123);
        assert!(c.servers[1].pool && c.servers[1].port == 11123 && c.servers[1].minpoll == 0);
        assert_eq!(c.local_stratum, Some(8));
        assert_eq!(c.restrict.len(), 5);
        assert_eq!(c.panic, Some(None));
        assert_eq!(c.step, Some(Some(Duration::from_millis(500))));
        assert_eq!(c.min_sane, Some(2));
        assert_eq!((c.rate.average, c.rate.minimum), (4, 1));
        assert_eq!(c.ignored, vec![(14, "statsdir".to_owned())]);
    }

    #[test]
    fn errors_name_the_line() {
        let e = Config::from_ntp_conf("server 192.0.2.1\n\nbogus 1\n").unwrap_err();
        assert_eq!(e.to_string(), "line 3: unknown directive 'bogus'");
        let e = Config::from_ntp_conf("server 192.0.2.1 minpoll 9 maxpoll 4").unwrap_err();
        assert!(e.to_string().starts_with("line 1: minpoll"), "{e}");
        let e = Config::from_ntp_conf("restrict 10.0.0.0 mask 255.0.255.0").unwrap_err();
        assert!(e.to_string().starts_with("line 1: invalid mask"), "{e}");
        assert!(Config::from_ntp_conf("local stratum 16").is_err());
        assert!(Config::from_ntp_conf("server [::1]:123 iburst").is_ok());
    }

    #[test]
    fn toml_form() {
        let c = Config::from_toml(
            "local_stratum = 8\nrestrict = [\"default limited kod\"]\n[[server]]\naddress = \"127.0.0.1\"\nport = 4123\niburst = true\nminpoll = 0\nmaxpoll = 2\n",
        )
        .unwrap();
        assert_eq!(c.servers[0].port, 4123);
        assert_eq!((c.servers[0].minpoll, c.servers[0].maxpoll), (0, 2));
        assert_eq!(c.restrict.len(), 2);
        assert!(Config::from_toml("nonsense = 1").is_err());
    }
}
