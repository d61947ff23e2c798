//! Packet mode's services: the [`Director`] built from the configuration, the health checker
//! bound to it ([`DirectorBinding`]: a failing server is quiesced, a returning one gets its
//! weight back), and the ipvsadm listings (`-L -n`, `--stats`, `--rate`, `-c`, `-S`) read
//! from the director's own counters. No sockets.

use core::fmt::Write as _;
use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;

use lvs_core::Instant;
use lvs_core::director::{
    Counters, Director, DirectorConfig, Forward, Rates, RealConfig, RealId, ServiceConfig,
    TunnelType,
};
use lvs_core::health::{Checker, DirectorBinding, Event, ProbeResult};
use lvs_core::proto;
use lvs_core::rng::derive_seed;
use lvs_core::service::{ServiceId, ServiceKey};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::super::admin::{Command, ListFormat};
use super::super::config::{
    Config, PacketSpec, Protocol, RealSpec, ServiceSpec, SvcKey, forward_label, mask_text,
};
use super::super::table::ProbeRequest;

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
    checker: Checker<u32>,
    binding: DirectorBinding<u32>,
    services: Vec<PService>,
    interface: String,
}

impl core::fmt::Debug for Plane {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Plane")
            .field("interface", &self.interface)
            .field("services", &self.services.len())
            .finish_non_exhaustive()
    }
}

fn ip_proto(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => proto::TCP,
        Protocol::Udp => proto::UDP,
    }
}

impl Plane {
    /// Build the director for `cfg`: `mac` is the interface's, `tunnel_source` the outer
    /// source of TUN packets, `mtu` the interface's.
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
        };
        let mut next_check = 0u32;
        for (i, s) in cfg.services.iter().enumerate() {
            let name = format!("{} {}", s.key.0.label(), s.key.1);
            let sseed = derive_seed(seed, i as u64 + 1);
            let sched = lvs_sched::by_name(
                &s.scheduler,
                s.flags,
                sseed,
                ChaCha8Rng::seed_from_u64(sseed),
            )
            .map_err(|e| format!("{name}: scheduler {:?}: {e}", s.scheduler))?;
            let key = ServiceKey::Addr {
                protocol: ip_proto(s.key.0),
                addr: s.key.1.ip(),
                port: s.key.1.port(),
            };
            let sc = ServiceConfig {
                persistence: s.persistence,
                ..ServiceConfig::new(key)
            };
            let id = p
                .director
                .add_service(sc, sched)
                .map_err(|e| format!("{name}: {e}"))?;
            let mut reals = Vec::new();
            for r in &s.reals {
                let forward = spec.forward_of(s.key, r.addr);
                let rc = real_config(r, forward);
                let rid = p
                    .director
                    .add_real(id, rc)
                    .map_err(|e| format!("{name}: real {}: {e}", r.addr))?;
                let check = match &s.health {
                    Some(h) => {
                        let c = next_check;
                        next_check += 1;
                        p.checker
                            .add_check(now, c, h.check_for(r.addr, false))
                            .map_err(|e| format!("{name}: health check of {}: {e}", r.addr))?;
                        p.binding.bind(c, id, rid, rc);
                        Some(c)
                    }
                    None => None,
                };
                reals.push(PReal {
                    spec: *r,
                    forward,
                    id: rid,
                    check,
                    healthy: true,
                });
            }
            let mut bare = s.clone();
            bare.reals.clear();
            p.services.push(PService {
                spec: bare,
                id,
                reals,
            });
        }
        Ok(p)
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
            let (id, up) = match &ev {
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
                Event::Up { id, .. } => (*id, Some(true)),
                Event::Down { id, .. } => (*id, Some(false)),
                Event::Weight { id, .. } => (*id, None),
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

    /// Run one administration command; listings go to `out`.
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
            Command::EditServer(key, r) => self.edit_real(*key, *r),
            _ => Err(format!(
                "{:?} is not available in packet mode: change the configuration file instead",
                cmd.to_line()
            )),
        }
    }

    /// `-e`: a real server's weight and thresholds. A server its check holds down keeps
    /// weight 0 until it comes back, then gets the new weight.
    fn edit_real(&mut self, key: SvcKey, spec: RealSpec) -> Result<(), String> {
        let s = self
            .services
            .iter_mut()
            .find(|s| s.spec.key == key)
            .ok_or_else(|| format!("no such service {} {}", key.0.label(), key.1))?;
        let r = s
            .reals
            .iter_mut()
            .find(|r| r.spec.addr == spec.addr)
            .ok_or_else(|| {
                format!(
                    "no real server {} in {} {}",
                    spec.addr,
                    key.0.label(),
                    key.1
                )
            })?;
        r.spec.weight = spec.weight;
        r.spec.upper = spec.upper;
        r.spec.lower = spec.lower;
        let rc = real_config(&r.spec, r.forward);
        if let Some(c) = r.check {
            self.binding.bind(c, s.id, r.id, rc);
        }
        let w = if r.healthy { spec.weight } else { 0 };
        self.director
            .edit_real(r.id, w, spec.upper, spec.lower)
            .map_err(|e| e.to_string())
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
                row(out, format, &c, &r, false);
                for real in &s.reals {
                    let st = self.director.real_stats(real.id);
                    let (c, r) = st.map_or((Counters::default(), Rates::default()), |x| {
                        (x.counters, x.rates)
                    });
                    let _ = write!(out, "  -> {:<28}", real.spec.addr.to_string());
                    row(out, format, &c, &r, true);
                }
                continue;
            }
            let _ = write!(out, "{head} {}", s.spec.scheduler);
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

    fn save(&self, out: &mut String) {
        for s in &self.services {
            let (proto, addr) = s.spec.key;
            let _ = write!(out, "-A {} {addr} -s {}", proto.switch(), s.spec.scheduler);
            if let Some(p) = s.spec.persistence {
                let _ = write!(out, " -p {}", p.timeout.as_secs());
                if p.v4_prefix != 32 {
                    let _ = write!(out, " -M {}", mask_text(p.v4_prefix));
                }
            }
            out.push('\n');
            for r in &s.reals {
                let method = match r.forward {
                    Forward::Nat => "-m",
                    Forward::Dr => "-g",
                    Forward::Tun => "-i",
                };
                let _ = write!(
                    out,
                    "-a {} {addr} -r {} {method} -w {}",
                    proto.switch(),
                    r.spec.addr,
                    r.spec.weight
                );
                if r.spec.upper != 0 {
                    let _ = write!(out, " -x {}", r.spec.upper);
                }
                if r.spec.lower != 0 {
                    let _ = write!(out, " -y {}", r.spec.lower);
                }
                out.push('\n');
            }
        }
    }
}

fn real_config(r: &RealSpec, forward: Forward) -> RealConfig {
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

/// ipvsadm's `print_largenum`.
fn largenum(out: &mut String, i: u64) {
    let _ = match i {
        0..100_000_000 => write!(out, "{i:9}"),
        100_000_000..1_000_000_000 => write!(out, "{:8}K", i / 1_000),
        1_000_000_000..100_000_000_000 => write!(out, "{:8}M", i / 1_000_000),
        100_000_000_000..100_000_000_000_000 => write!(out, "{:8}G", i / 1_000_000_000),
        _ => write!(out, "{:8}T", i / 1_000_000_000_000),
    };
}

fn row(out: &mut String, format: ListFormat, c: &Counters, r: &Rates, real: bool) {
    if format == ListFormat::Rate {
        if real {
            let _ = write!(out, " {:>8} {:>8} {:>8}", r.cps, r.in_pps, r.out_pps);
        } else {
            for v in [r.cps, r.in_pps, r.out_pps] {
                largenum(out, v);
            }
        }
        largenum(out, r.in_bps);
        largenum(out, r.out_bps);
    } else {
        for v in [c.conns, c.in_pkts, c.out_pkts, c.in_bytes, c.out_bytes] {
            largenum(out, v);
        }
    }
    out.push('\n');
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
