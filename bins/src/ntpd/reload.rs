//! Configuration pieces shared by start-up and SIGHUP: the resolved server list, the restrict
//! engine, and the plan a reload applies (the daemon hands the new server list to
//! [`lvs_ntp::client::Client::reconfigure`], which keeps the state of unchanged servers).

use core::net::SocketAddr;
use std::io;
use std::path::Path;

use lvs_ntp::client::ServerConfig;
use lvs_ntp::restrict::Restrictions;

use super::config::Config;

/// The configured servers resolved to addresses (first occurrence wins), with the `t` column
/// of each (`p` for pool members).
pub fn resolve_servers(cfg: &Config) -> io::Result<(Vec<ServerConfig>, Vec<char>)> {
    let mut servers: Vec<ServerConfig> = Vec::new();
    let mut kinds = Vec::new();
    for s in &cfg.servers {
        let addrs = s
            .resolve()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", s.host)))?;
        for addr in addrs {
            if servers.iter().any(|c| c.addr == addr) {
                continue;
            }
            servers.push(ServerConfig {
                iburst: s.iburst,
                burst: s.burst,
                prefer: s.prefer,
                minpoll: s.minpoll,
                maxpoll: s.maxpoll,
                ..ServerConfig::new(addr)
            });
            kinds.push(if s.pool { 'p' } else { 'u' });
        }
    }
    Ok((servers, kinds))
}

/// The restrict engine of `cfg`.
pub fn restrictions(cfg: &Config) -> Restrictions {
    let mut r = Restrictions::new(cfg.rate);
    for &(net, flags) in &cfg.restrict {
        r.add(net, flags);
    }
    r
}

/// What a SIGHUP applies.
#[derive(Debug)]
pub struct ReloadPlan {
    /// The new restrict rules and rate limit.
    pub restrict: Restrictions,
    /// The new `local stratum`.
    pub local_stratum: Option<u8>,
    /// The whole new server list, in configuration order.
    pub servers: Vec<ServerConfig>,
    /// The `t` column of each entry of `servers`.
    pub kinds: Vec<char>,
    /// Servers in the file but not running (or running with other options).
    pub added: Vec<SocketAddr>,
    /// Servers running but gone from the file (or with other options).
    pub removed: Vec<SocketAddr>,
}

/// Re-reads `path` and compares its servers with `running`.
pub fn reload_plan(path: &Path, running: &[ServerConfig]) -> Result<ReloadPlan, String> {
    let cfg = Config::load(path).map_err(|e| e.to_string())?;
    let (servers, kinds) = resolve_servers(&cfg).map_err(|e| e.to_string())?;
    let added = servers
        .iter()
        .filter(|s| !running.contains(s))
        .map(|s| s.addr)
        .collect();
    let removed = running
        .iter()
        .filter(|s| !servers.contains(s))
        .map(|s| s.addr)
        .collect();
    Ok(ReloadPlan {
        restrict: restrictions(&cfg),
        local_stratum: cfg.local_stratum,
        added,
        removed,
        servers,
        kinds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_lists_server_changes() {
        let dir = std::env::temp_dir().join(format!("lvs-ntpd-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ntp.conf");
        std::fs::write(
            &path,
            "server 192.0.2.1 iburst\nserver 192.0.2.3\nrestrict default noquery\nlocal stratum 7\n",
        )
        .unwrap();
        let running = [
            ServerConfig::new("192.0.2.1:123".parse().unwrap()).with_iburst(),
            ServerConfig::new("192.0.2.2:123".parse().unwrap()),
        ];
        let plan = reload_plan(&path, &running).unwrap();
        assert_eq!(plan.added, ["192.0.2.3:123".parse::<SocketAddr>().unwrap()]);
        assert_eq!(
            plan.removed,
            ["192.0.2.2:123".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(plan.local_stratum, Some(7));
        let addrs: Vec<String> = plan.servers.iter().map(|s| s.addr.to_string()).collect();
        assert_eq!(addrs, ["192.0.2.1:123", "192.0.2.3:123"]);
        assert!(plan.servers[0].iburst && !plan.servers[1].iburst);
        assert_eq!(plan.kinds, ['u', 'u']);
        assert!(
            plan.restrict
                .lookup("198.51.100.1".parse().unwrap())
                .contains(lvs_ntp::restrict::Flags::NOQUERY)
        );
        std::fs::write(&path, "bogus\n").unwrap();
        assert!(reload_plan(&path, &running).unwrap_err().contains("line 1"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
