//! `lvs-vrrpd`: the VRRP daemon around [`lvs_vrrp::state::Instance`].
//!
//! * [`config`]: the TOML configuration and its validation into a [`config::Plan`];
//!   [`keepalived`]: the keepalived.conf subset importer (line-numbered errors).
//! * [`router`]: every instance behind one machine, adverts dispatched by interface, family
//!   and VRID, sync groups reconciled after every input.
//! * [`daemon`]: the router plus the side effects the instances request: VIPs through
//!   rtnetlink ([`rtnl`]; level-triggered reconciliation, see [`host`]), gratuitous ARP and
//!   unsolicited neighbour advertisements over `AF_PACKET` ([`garp`]), notify scripts, track
//!   scripts with timeouts, interface tracking from sysfs; reload keeps unchanged instances
//!   running; shutdown resigns. In publish mode the VIPs are written into a [`held::HeldVips`]
//!   handle for a data plane in the same process instead (lvsd's packet mode).
//! * [`status`]: the status file (`[global] status_file`), every instance's state and why.
//!
//! # Sockets
//!
//! One raw IP protocol 112 socket per (interface, family): bound to the wildcard address
//! and to the device (`SO_BINDTODEVICE`), TTL / hop limit 255, joined to 224.0.0.18 or ff02::12
//! on that interface, multicast loopback off. Received adverts carry the arrival interface
//! (`IP_PKTINFO`) and are handed to every instance of that interface with the advert's VRID;
//! adverts leave with the instance's primary address as source and its interface index.

pub mod config;
pub mod daemon;
pub mod garp;
pub mod held;
pub mod host;
pub mod keepalived;
pub mod router;
pub mod rtnl;
pub mod status;

use std::path::{Path, PathBuf};

use config::{Config, Plan};

use crate::io::{Control, EventLoop, Handler};

/// The configuration file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The daemon's TOML ([`config`]).
    Toml,
    /// The keepalived.conf subset ([`keepalived`]).
    Keepalived,
}

/// Read and validate a configuration file; every problem is returned as one message.
pub fn load(path: &Path, format: Format) -> Result<Plan, Vec<String>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![format!("{}: {e}", path.display())])?;
    let config: Config = match format {
        Format::Toml => Config::from_toml(&text),
        Format::Keepalived => keepalived::import(&text).map_err(|e| e.to_string()),
    }
    .map_err(|e| vec![format!("{}: {e}", path.display())])?;
    Plan::from_config(&config).map_err(|errs| {
        errs.into_iter()
            .map(|e| format!("{}: {e}", path.display()))
            .collect()
    })
}

/// Opens the event loop (with signal handling), gives the calling thread `plan`'s real-time
/// priority and starts `plan`'s instances on the loop's sockets; with `publish`, masters write
/// their VIPs into that handle instead of adding them to the interfaces. The start of
/// lvs-vrrpd and of lvsd's VRRP half.
pub fn start(
    plan: Plan,
    publish: Option<held::HeldVips>,
) -> Result<(EventLoop, daemon::Daemon), String> {
    let mut el = EventLoop::new().map_err(|e| format!("event loop: {e}"))?;
    el.handle_signals().map_err(|e| format!("signals: {e}"))?;
    host::apply_realtime(plan.rt_priority);
    let mut daemon = daemon::Daemon::new();
    if let Some(held) = publish {
        daemon.publish_to(held);
    }
    let now = el.clock().now();
    daemon
        .apply(plan, el.sockets(), now)
        .map_err(|errs| errs.join("; "))?;
    Ok((el, daemon))
}

/// The event-loop hooks of a VRRP daemon run from a file: SIGHUP reads the file again and
/// applies it (unchanged instances keep running; on any error the running configuration
/// stays), stop makes every master resign and removes the VIPs. Shared by lvs-vrrpd and
/// lvsd's VRRP half; `prefix` starts their log lines (`"vrrp: "` inside lvsd).
#[derive(Debug, Clone)]
pub struct FileShell {
    /// The configuration file.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// Log line prefix.
    pub prefix: &'static str,
}

impl Handler<daemon::Daemon> for FileShell {
    fn event(&mut self, _: &mut Control<'_>, _: &mut daemon::Daemon, e: core::convert::Infallible) {
        match e {}
    }

    fn reload(&mut self, ctl: &mut Control<'_>, d: &mut daemon::Daemon) {
        let now = ctl.now();
        let p = self.prefix;
        match load(&self.path, self.format).and_then(|plan| d.apply(plan, ctl.sockets(), now)) {
            Ok(()) => tracing::info!(instances = d.router().len(), "{p}configuration reloaded"),
            Err(errs) => {
                for e in errs {
                    tracing::error!("{p}reload refused: {e}");
                }
            }
        }
    }

    fn stop(&mut self, ctl: &mut Control<'_>, d: &mut daemon::Daemon) {
        tracing::info!("{}stopping: resigning and removing VIPs", self.prefix);
        d.shutdown(ctl.now());
    }
}
