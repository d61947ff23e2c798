//! The forwarder's configuration: the named.conf `options` subset it implements, as plain data.

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use super::acl::{AclError, Acls, MatchList, RrlConfig};
use crate::cache::CacheConfig;
use crate::wire::{DEFAULT_PAYLOAD, advertised_payload};

/// Most forwarders accepted (an unbounded server list is its own CVE class, BIND CVE-2026-3592).
pub const MAX_FORWARDERS: usize = 32;

/// BIND's `forward` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ForwardMode {
    /// `forward only`: when every forwarder fails, answer SERVFAIL.
    #[default]
    Only,
    /// `forward first`: BIND would fall back to iterating from the root. This machine does not
    /// iterate, so when every forwarder fails it answers SERVFAIL carrying Extended DNS Error
    /// 22 (No Reachable Authority), and counts the case separately.
    First,
}

/// What a client outside the ACLs gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RefusedAction {
    /// REFUSED (with EDE 18 Prohibited when it fits), never larger than the query.
    #[default]
    Refuse,
    /// Nothing (unbound's `deny`); counted.
    Drop,
}

/// Access control (BIND `allow-query`, `allow-query-cache`, `allow-recursion`, `acl`).
#[derive(Clone, Debug)]
pub struct AccessConfig {
    /// The named ACLs the lists may refer to.
    pub acls: Acls,
    /// Who may query at all (checked on the header alone, before any other parsing).
    pub allow_query: MatchList,
    /// Who may be answered from the cache; `None` means the same as `allow_recursion`.
    pub allow_query_cache: Option<MatchList>,
    /// Who may cause upstream queries.
    pub allow_recursion: MatchList,
    /// What refused clients get.
    pub refused: RefusedAction,
}

impl Default for AccessConfig {
    /// Anyone may query; cache and recursion for [`MatchList::local_default`]; REFUSED.
    fn default() -> Self {
        Self {
            acls: Acls::default(),
            allow_query: MatchList::any(),
            allow_query_cache: None,
            allow_recursion: MatchList::local_default(),
            refused: RefusedAction::Refuse,
        }
    }
}

/// Serve-stale (RFC 8767; BIND `stale-*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaleConfig {
    /// Keep expired answers for `max_stale_ttl` (`stale-cache-enable`).
    pub cache_enable: bool,
    /// Serve them when the forwarders fail or are slow (`stale-answer-enable`).
    pub answer_enable: bool,
    /// The TTL of a stale answer (`stale-answer-ttl`).
    pub answer_ttl: u32,
    /// How long past expiry an answer is kept (`max-stale-ttl`).
    pub max_stale_ttl: Duration,
    /// After a failed refresh, answer stale without asking upstream for this long
    /// (`stale-refresh-time`).
    pub refresh_time: Duration,
    /// A client waiting on a refresh of a stale name gets the stale answer after this long
    /// (RFC 8767's client response timer); `None` waits for the fetch to end.
    pub client_timeout: Option<Duration>,
}

impl Default for StaleConfig {
    /// Off, as in BIND; when switched on: TTL 30 s, one day, 30 s refresh hold-off, 1.8 s.
    fn default() -> Self {
        Self {
            cache_enable: false,
            answer_enable: false,
            answer_ttl: 30,
            max_stale_ttl: Duration::from_secs(86_400),
            refresh_time: Duration::from_secs(30),
            client_timeout: Some(Duration::from_millis(1800)),
        }
    }
}

/// Upstream timing: timeouts, retries, hedging and probing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimingConfig {
    /// The smallest per-attempt UDP timeout (BIND `retryinterval`-like floor).
    pub min_timeout: Duration,
    /// The largest per-attempt timeout.
    pub max_timeout: Duration,
    /// Extra time granted to a TCP attempt.
    pub tcp_extra: Duration,
    /// The whole fetch gives up after this long (BIND `resolver-query-timeout`).
    pub fetch_timeout: Duration,
    /// Attempts per forwarder per fetch (RFC 9520: at most twice).
    pub tries_per_server: u8,
    /// Hedge when the first attempt is slower than `hedge_factor` × its server's SRTT...
    pub hedge_factor: f64,
    /// ...but never sooner than this.
    pub hedge_min_delay: Duration,
    /// Hedged queries allowed per primary upstream query (the extra-query budget).
    pub hedge_budget: f64,
    /// A forwarder not queried for this long gets a copy of the next query (re-probing).
    pub probe_interval: Duration,
    /// Consecutive timeouts after which a forwarder is reported down.
    pub down_after: u32,
}

impl Default for TimingConfig {
    /// 400 ms floor, 3 s ceiling, +1 s on TCP, 10 s per fetch, 2 tries, hedge at 1.2 × SRTT
    /// (≥ 50 ms) within a 5 % budget, re-probe after 30 s, down after 3 timeouts.
    fn default() -> Self {
        Self {
            min_timeout: Duration::from_millis(400),
            max_timeout: Duration::from_secs(3),
            tcp_extra: Duration::from_secs(1),
            fetch_timeout: Duration::from_secs(10),
            tries_per_server: 2,
            hedge_factor: 1.2,
            hedge_min_delay: Duration::from_millis(50),
            hedge_budget: 0.05,
            probe_interval: Duration::from_secs(30),
            down_after: 3,
        }
    }
}

/// Everything the forwarder needs.
#[derive(Clone, Debug)]
pub struct ForwarderConfig {
    /// The forwarders, in configuration order (`forwarders { ... }`).
    pub forwarders: Vec<SocketAddr>,
    /// `forward only` or `forward first`.
    pub mode: ForwardMode,
    /// The port client queries arrive on (the listen sockets); datagrams to other ports are
    /// upstream traffic.
    pub listen_port: u16,
    /// The local address upstream IPv4 queries leave from (`query-source`); unspecified lets the
    /// shell choose.
    pub source_v4: IpAddr,
    /// The local address upstream IPv6 queries leave from.
    pub source_v6: IpAddr,
    /// Cache size, TTL clamps (the stale window is set from [`StaleConfig`]).
    pub cache: CacheConfig,
    /// Serve-stale.
    pub stale: StaleConfig,
    /// Refresh names queried in the last 10 % of their TTL (`prefetch`).
    pub prefetch: bool,
    /// Only prefetch answers whose TTL is at least this (BIND's eligibility, 9 s).
    pub prefetch_min_ttl: u32,
    /// Access control.
    pub access: AccessConfig,
    /// Response-rate limiting; `None` is off (BIND's default).
    pub rrl: Option<RrlConfig>,
    /// Upstream timing.
    pub timing: TimingConfig,
    /// Randomise the case of upstream question names (0x20), per forwarder while it echoes.
    pub use_0x20: bool,
    /// The EDNS payload we advertise upstream (`edns-udp-size`).
    pub edns_udp_size: u16,
    /// The largest UDP reply to clients (`max-udp-size`).
    pub max_udp_size: u16,
    /// Most upstream fetches in flight (the pending table bound); more get SERVFAIL.
    pub max_pending: usize,
    /// Most clients waiting on one fetch (`clients-per-query`); more are dropped.
    pub clients_per_query: usize,
}

impl Default for ForwarderConfig {
    /// No forwarders (add some), `forward only`, port 53, defaults everywhere else.
    fn default() -> Self {
        Self {
            forwarders: Vec::new(),
            mode: ForwardMode::Only,
            listen_port: 53,
            source_v4: IpAddr::from([0, 0, 0, 0]),
            source_v6: IpAddr::from([0u16; 8]),
            cache: CacheConfig::default(),
            stale: StaleConfig::default(),
            prefetch: true,
            prefetch_min_ttl: 9,
            access: AccessConfig::default(),
            rrl: None,
            timing: TimingConfig::default(),
            use_0x20: false,
            edns_udp_size: DEFAULT_PAYLOAD,
            max_udp_size: DEFAULT_PAYLOAD,
            max_pending: 10_000,
            clients_per_query: 100,
        }
    }
}

/// Why a configuration cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No forwarders are configured.
    #[error("no forwarders configured")]
    NoForwarders,
    /// More than [`MAX_FORWARDERS`].
    #[error("more than {MAX_FORWARDERS} forwarders")]
    TooManyForwarders,
    /// A forwarder address is unusable (port 0, unspecified or multicast address).
    #[error("forwarder {0} is not a unicast address and port")]
    BadForwarder(SocketAddr),
    /// An access list is invalid.
    #[error(transparent)]
    Acl(#[from] AclError),
    /// A limit is zero where it must not be (pending table, clients per query, tries).
    #[error("a limit is zero")]
    ZeroLimit,
}

impl ForwarderConfig {
    /// A configuration forwarding to `forwarders`, everything else default.
    pub fn new(forwarders: impl IntoIterator<Item = SocketAddr>) -> Self {
        Self {
            forwarders: forwarders.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Checks the configuration and normalises sizes.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        if self.forwarders.is_empty() {
            return Err(ConfigError::NoForwarders);
        }
        if self.forwarders.len() > MAX_FORWARDERS {
            return Err(ConfigError::TooManyForwarders);
        }
        if let Some(bad) = self
            .forwarders
            .iter()
            .find(|a| a.port() == 0 || a.ip().is_unspecified() || a.ip().is_multicast())
        {
            return Err(ConfigError::BadForwarder(*bad));
        }
        if self.max_pending == 0 || self.clients_per_query == 0 || self.timing.tries_per_server == 0
        {
            return Err(ConfigError::ZeroLimit);
        }
        let a = &self.access;
        a.acls.check(&a.allow_query)?;
        a.acls.check(&a.allow_recursion)?;
        if let Some(l) = &a.allow_query_cache {
            a.acls.check(l)?;
        }
        self.edns_udp_size = advertised_payload(self.edns_udp_size);
        self.max_udp_size = advertised_payload(self.max_udp_size);
        self.cache.max_stale = if self.stale.cache_enable || self.stale.answer_enable {
            self.stale.max_stale_ttl
        } else {
            Duration::ZERO
        };
        Ok(())
    }
}
