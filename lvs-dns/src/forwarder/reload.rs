//! Applying a changed configuration to a running forwarder (`rndc reload`, SIGHUP) without
//! losing the cache.

use lvs_core::Instant;
use lvs_core::rng::CryptoRng;

use super::Forwarder;
use super::acl::Rrl;
use super::config::{ConfigError, ForwarderConfig};
use super::upstream::Server;
use crate::cache::KeyedHash;

/// What [`Forwarder::reconfigure`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reconfigured {
    /// Forwarders added to the list.
    pub forwarders_added: usize,
    /// Forwarders removed from the list (their queries in flight were abandoned).
    pub forwarders_removed: usize,
    /// Fetches in flight that were kept.
    pub fetches_kept: usize,
    /// What happened to the cache.
    pub cache: crate::cache::Reconfigured,
}

impl<R: CryptoRng> Forwarder<R> {
    /// Replaces the configuration at `now` and keeps the cache (BIND's `rndc reload` of a
    /// forward-only server). A `config` that does not validate changes nothing.
    ///
    /// * **Forwarders**: servers that stay keep their SRTT, counters and 0x20 verdict; new ones
    ///   start like at boot. Queries in flight to removed servers are abandoned (their replies
    ///   are dropped as unexpected) and their fetches move on to the remaining servers.
    /// * **Cache**: entries stay; lower TTL ceilings shorten them, a smaller budget evicts
    ///   down to it (see [`Cache::reconfigure`](crate::cache::Cache::reconfigure)).
    /// * **ACLs, timing, limits, EDNS sizes, 0x20, prefetch**: apply to the next query. A
    ///   smaller pending bound keeps the fetches in flight and refuses new ones until below it.
    /// * **RRL**: a changed `rate-limit` starts with empty buckets; an unchanged one keeps them.
    /// * **Serve-stale**: `rndc serve-stale on|off` survives a reload unless the configured
    ///   `stale-answer-enable` itself changed, which then wins.
    pub fn reconfigure(
        &mut self,
        now: Instant,
        mut config: ForwarderConfig,
    ) -> Result<Reconfigured, ConfigError> {
        config.validate()?;
        let now = self.guard.observe(now);
        let mut report = Reconfigured::default();
        if config.forwarders != self.config.forwarders {
            let mut map = vec![None; self.servers.len()];
            let mut servers = Vec::with_capacity(config.forwarders.len());
            for (n, &addr) in config.forwarders.iter().enumerate() {
                match self.servers.iter().position(|s| s.addr == addr) {
                    Some(old) if map[old].is_none() => {
                        map[old] = Some(n);
                        servers.push(self.servers[old].clone());
                    }
                    _ => {
                        report.forwarders_added += 1;
                        let initial = 1 + u64::from(self.rng.next_u32() % 32);
                        servers.push(Server::new(addr, initial));
                    }
                }
            }
            report.forwarders_removed = map.iter().filter(|m| m.is_none()).count();
            // The new list is in force before fetches move on (they pick from it).
            self.config.forwarders.clone_from(&config.forwarders);
            self.config.timing = config.timing;
            self.config.use_0x20 = config.use_0x20;
            self.config.edns_udp_size = config.edns_udp_size;
            self.replace_servers(now, servers, &map);
        }
        if config.rrl != self.config.rrl {
            let hash = KeyedHash::new(self.rng.next_u64(), self.rng.next_u64());
            self.rrl = config.rrl.map(|c| Rrl::new(c, hash));
        }
        if config.stale.answer_enable != self.config.stale.answer_enable {
            self.serve_stale = config.stale.answer_enable;
        }
        report.cache = self.cache.reconfigure(config.cache, now);
        report.fetches_kept = self.live;
        self.config = config;
        Ok(report)
    }
}
