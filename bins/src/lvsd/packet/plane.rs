//! Packet mode's services: the [`Director`] built from the configuration, the health checker
//! bound to it ([`DirectorBinding`]: a failing server is quiesced, a returning one gets its
//! weight back, a dynamic check sets its weight), the ipvsadm commands (`-A/-E/-D/-C`,
//! `-a/-e/-d`, applied as changes to the running director, see [`reconcile`](super::reconcile))
//! and the listings (`-L -n`, `--stats`, `--rate`, `-c`, `-S`) read from the director's own
//! counters. No sockets.

use core::fmt::Write as _;
use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;

use lvs_core::Instant;
use lvs_core::director::{
    Counters, Director, DirectorConfig, Forward, Rates, RealConfig, RealId, TunnelType,
};
use lvs_core::health::{Checker, DirectorBinding, Event, ProbeResult};
use lvs_core::service::ServiceId;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::super::admin::{Command, ListFormat, flag_names, real_rule, service_rule, stats_row};
use super::super::config::{
    Config, PacketSpec, Protocol, RealSpec, ServiceSpec, forward_label, mask_text,
};
use super::super::table::ProbeRequest;
use super::reconcile::Wanted;

/// How long a real server the health check removes (not quiesces) keeps its connections.
const REMOVE_GRACE: Duration = Duration::from_secs(60);

/// A real server as packet mode runs it.
#[derive(Debug, Clone)]
pub struct PReal {
    /// As configured (the weight is the configured one).
    pub spec: RealSpec,
    /// Forwarding method.
    pub forward: Forward,
    /// The director's id (changes if the health check removed and re-added it).
    pub id: RealId,
    /// Its health check.
    pub check: Option<u32>,
    /// What the health check says (true without a check).
    pub healthy: bool,
    /// The weight a dynamic check (keepalived `misc_dynamic`) reported last; it replaces the
    /// configured weight while the server is up.
    pub dynamic: Option<u32>,
}

impl PReal {
    /// The weight the director should give it now: 0 while its check holds it down, else
    /// the dynamic weight or the configured one.
    pub fn effective_weight(&self) -> u32 {
        if self.healthy {
            self.dynamic.unwrap_or(self.spec.weight)
        } else {
            0
        }
    }
}

/// A virtual service as packet mode runs it.
#[derive(Debug, Clone)]
pub struct PService {
    /// As configured.
    pub spec: ServiceSpec,
    /// The director's id.
    pub id: ServiceId,
    /// Real servers in list order.
    pub reals: Vec<PReal>,
}

/// The director, its services and their health checks.
pub struct Plane {
    /// The data plane.
    pub director: Director,
    pub(super) checker: Checker<u32>,
    pub(super) binding: DirectorBinding<u32>,
    pub(super) services: Vec<PService>,
    interface: String,
    /// Seeds the schedulers of services as they are added.
    pub(super) seed: u64,
    pub(super) next_service: u64,
    /// Check ids are never reused: a late report for a removed check is ignored.
    pub(super) next_check: u32,
}

impl core::fmt::Debug for Plane {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Plane")
            .field("interface", &self.interface)
            .field("services", &self.services.len())
            .finish_non_exhaustive()
    }
}

impl Plane {
    /// Build the director for `cfg`: `dc` carries the interface's MAC and MTU and the
    /// tunnel source.
    pub fn build(
        cfg: &Config,
        spec: &PacketSpec,
        dc: DirectorConfig,
        seed: u64,
        now: Instant,
    ) -> Result<Self, String> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut p = Self {
            director: Director::new(dc, &mut rng, now),
            checker: Checker::new(),
            binding: DirectorBinding::new(REMOVE_GRACE),
            services: Vec::new(),
            interface: spec.interface.clone(),
            seed,
            next_service: 1,
            next_check: 0,
        };
        p.reconcile(Wanted::from_config(cfg, spec), now)?;
        Ok(p)
    }

    /// Switch to the services of a re-read configuration file: the difference is applied to
    /// the running director (its connection table stays), see [`Plane::reconcile`].
    pub fn reload(&mut self, cfg: &Config, spec: &PacketSpec, now: Instant) -> Result<(), String> {
        self.reconcile(Wanted::from_config(cfg, spec), now)
    }

    /// The services in configuration order.
    pub fn services(&self) -> &[PService] {
        &self.services
    }

    /// Every virtual address.
    pub fn vips(&self) -> Vec<Ipv4Addr> {
        let mut v: Vec<Ipv4Addr> = self
            .services
            .iter()
            .filter_map(|s| match s.spec.key.1.ip() {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Every real server address.
    pub fn real_addrs(&self) -> Vec<Ipv4Addr> {
        let mut v: Vec<Ipv4Addr> = self
            .services
            .iter()
            .flat_map(|s| s.reals.iter())
            .filter_map(|r| match r.spec.addr.ip() {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The next time [`Plane::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let c = self.checker.poll_timeout().map(|(at, _)| at);
        [c, self.director.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Run the director's and the checker's timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.director.poll_timeout().is_some_and(|t| t <= now) {
            self.director.handle_timeout(now);
        }
        if self.checker.poll_timeout().is_some_and(|(t, _)| t <= now) {
            self.checker.handle_timeout(now);
        }
    }

    /// Apply the checker's events to the director and return the next probe to run.
    pub fn poll_probe(&mut self, now: Instant) -> Option<ProbeRequest> {
        while let Some(ev) = self.checker.poll_event() {
            let (id, up, dynamic) = match &ev {
                Event::Probe {
                    id,
                    target,
                    probe,
                    deadline,
                } => {
                    return Some(ProbeRequest {
                        id: *id,
                        target: *target,
                        probe: probe.clone(),
                        deadline: *deadline,
                    });
                }
                Event::Up { id, weight, .. } => (*id, Some(true), *weight),
                Event::Down { id, .. } => (*id, Some(false), None),
                Event::Weight { id, weight } => (*id, None, Some(*weight)),
            };
            if let Err(e) = self.binding.apply(&mut self.director, now, &ev) {
                tracing::error!("health event for check {id}: {e}");
            }
            let new_id = self.binding.real(id);
            for s in &mut self.services {
                let key = s.spec.key;
                for r in s.reals.iter_mut().filter(|r| r.check == Some(id)) {
                    if let Some(n) = new_id {
                        r.id = n;
                    }
                    if dynamic.is_some() {
                        r.dynamic = dynamic;
                    }
                    if let Some(up) = up {
                        if r.healthy != up {
                            tracing::warn!(
                                "{} {} real {} is {}",
                                key.0.label(),
                                key.1,
                                r.spec.addr,
                                if up { "up" } else { "down" }
                            );
                        }
                        r.healthy = up;
                    }
                }
            }
        }
        None
    }

    /// Feed a probe's outcome (reports for checks that no longer exist are ignored).
    pub fn report(&mut self, now: Instant, check: u32, result: ProbeResult) {
        let _ = self.checker.report(now, check, result);
    }

    /// Run one administration command; listings go to `out`. Changes (`-A/-E/-D/-C`,
    /// `-a/-e/-d`) are applied to the running director, see [`Plane::admin`]; `--reload`
    /// is the daemon's.
    pub fn apply(&mut self, cmd: &Command, now: Instant, out: &mut String) -> Result<(), String> {
        match cmd {
            Command::List(ListFormat::Connections) => {
                list_conns(&self.director, now, out);
                Ok(())
            }
            Command::List(format) => {
                self.list(*format, out);
                Ok(())
            }
            Command::Save => {
                self.save(out);
                Ok(())
            }
            Command::Reload => Err("--reload is run by the daemon".into()),
            change => self.admin(change, now),
        }
    }

    fn list(&self, format: ListFormat, out: &mut String) {
        let _ = writeln!(
            out,
            "IP Virtual Server version 1.2.1 (lvsd packet mode on {})",
            self.interface
        );
        let columns = match format {
            ListFormat::Stats => Some(["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"]),
            ListFormat::Rate => Some(["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"]),
            ListFormat::Plain | ListFormat::Connections => None,
        };
        match columns {
            Some([a, b, c, d, e]) => {
                let _ = writeln!(
                    out,
                    "{:<33} {a:>8} {b:>8} {c:>8} {d:>8} {e:>8}\n  -> RemoteAddress:Port",
                    "Prot LocalAddress:Port"
                );
            }
            None => {
                out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
                out.push_str(
                    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
                );
            }
        }
        for s in &self.services {
            let head = format!("{}  {}", s.spec.key.0.label(), s.spec.key.1);
            if columns.is_some() {
                let st = self.director.service_stats(s.id);
                let _ = write!(out, "{head:<33}");
                let (c, r) = st.map_or((Counters::default(), Rates::default()), |x| {
                    (x.counters, x.rates)
                });
                stats_row(out, format, counters(&c), &r, false);
                for real in &s.reals {
                    let st = self.director.real_stats(real.id);
                    let (c, r) = st.map_or((Counters::default(), Rates::default()), |x| {
                        (x.counters, x.rates)
                    });
                    let _ = write!(out, "  -> {:<28}", real.spec.addr.to_string());
                    stats_row(out, format, counters(&c), &r, true);
                }
                continue;
            }
            let _ = write!(out, "{head} {}", s.spec.scheduler);
            let flags = flag_names(&s.spec.scheduler, s.spec.flags);
            if !flags.is_empty() {
                let _ = write!(out, " ({})", flags.join(","));
            }
            if let Some(p) = s.spec.persistence {
                let _ = write!(out, " persistent {}", p.timeout.as_secs());
                if p.v4_prefix != 32 {
                    let _ = write!(out, " mask {}", mask_text(p.v4_prefix));
                }
            }
            out.push('\n');
            for r in &s.reals {
                let weight = self.director.real(r.id).map_or(0, |(c, _)| c.weight);
                let (active, inactive) = self
                    .director
                    .real_stats(r.id)
                    .map_or((0, 0), |st| (st.active, st.inactive));
                let _ = writeln!(
                    out,
                    "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                    r.spec.addr.to_string(),
                    forward_label(r.forward),
                    weight,
                    active,
                    inactive
                );
            }
        }
    }

    /// `-S -n`: the running services as ipvsadm-save rules, each real server with its
    /// forwarding method and configured weight (what `-R` restores unchanged).
    pub(super) fn save(&self, out: &mut String) {
        for s in &self.services {
            out.push_str(&service_rule(&s.spec));
            out.push('\n');
            for r in &s.reals {
                out.push_str(&real_rule(s.spec.key, &r.spec, Some(r.forward)));
                out.push('\n');
            }
        }
    }
}

/// The director's settings of a real server.
pub(super) fn real_config(r: &RealSpec, forward: Forward) -> RealConfig {
    RealConfig {
        addr: r.addr.ip(),
        port: r.addr.port(),
        weight: r.weight,
        upper: r.upper,
        lower: r.lower,
        forward,
        mac: None,
        tunnel: TunnelType::Ipip,
    }
}

/// `-L -n -c`: the director's connection entries and persistence templates.
fn list_conns(d: &Director, now: Instant, out: &mut String) {
    out.push_str("IPVS connection entries\n");
    let _ = writeln!(
        out,
        "pro expire {:<11} {:<18} {:<18} destination",
        "state", "source", "virtual"
    );
    for c in d.connections(now) {
        out.push_str(&c.ipvsadm_row());
        out.push('\n');
    }
}

/// The director settings for an interface: its MAC and MTU, the tunnel source, and the UDP
/// timeout of the configuration's UDP services (the director has one for all).
pub fn director_config(
    cfg: &Config,
    mac: [u8; 6],
    mtu: u16,
    tunnel_source: Option<Ipv4Addr>,
) -> DirectorConfig {
    let udp = cfg
        .services
        .iter()
        .filter(|s| s.key.0 == Protocol::Udp)
        .map(|s| s.udp_timeout)
        .min()
        .unwrap_or(Duration::from_secs(300));
    DirectorConfig {
        mac,
        mtu,
        tunnel_source_v4: tunnel_source.map(IpAddr::V4),
        udp_timeout: udp,
        // A server its health check quiesced must not keep its persistent clients (proxy mode
        // does the same): their templates are invalid while its weight is 0.
        expire_quiescent_template: true,
        ..DirectorConfig::default()
    }
}

fn counters(c: &Counters) -> [u64; 5] {
    [c.conns, c.in_pkts, c.out_pkts, c.in_bytes, c.out_bytes]
}
