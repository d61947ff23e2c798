//! Changing packet mode's services while the director runs: a reload and every ipvsadm
//! change command (`-A/-E/-D/-C`, `-a/-e/-d`) describe the services they want
//! ([`Wanted`]), and [`Plane::reconcile`] applies the difference through the director's own
//! add / edit / remove calls, so its connection table (and the connections to real servers
//! that stay) survive:
//!
//! * a service that stays keeps its director id; a new scheduler or new scheduler flags
//!   replace its scheduler ([`Director::edit_service`](lvs_core::director::Director)), new
//!   persistence settings are edited in place;
//! * a real server that stays keeps its id, its connections and its health state; new
//!   weights and thresholds are edited in place (a server its check holds down gets them
//!   when it comes back, and a dynamic weight keeps replacing the configured one);
//! * a real server whose forwarding method changes is removed and added again (the director
//!   has no way to change the method of a live entry): its connections end;
//! * a service whose health check changes gets fresh checks (its servers start up again);
//! * a real server that is gone gets no new connection from that moment; its established
//!   ones keep flowing until they end, as with the kernel's deleted destinations (the
//!   director drains it, [`REMOVED_DRAIN`] at most); a service that is gone is removed.
//!
//! Everything a change can be refused for is checked before the first step ([`validate`]);
//! the steps that remain can fail only if the director runs out of slots, and then the error
//! says that the change was applied in part.

use core::net::{IpAddr, SocketAddr};

use lvs_core::director::{Forward, RealConfig, RealId, ServiceConfig};
use lvs_core::proto;
use lvs_core::rng::derive_seed;
use lvs_core::service::{ServiceId, ServiceKey};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::super::admin::Command;
use super::super::config::{
    Config, HealthSpec, PacketSpec, Protocol, RealSpec, ServiceSpec, SvcKey, check_scheduler,
};
use super::plane::{PReal, PService, Plane, real_config};

/// One service as a change wants it: its settings and real servers, and each real server's
/// forwarding method (in the order of `spec.reals`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The service, with its real servers.
    pub spec: ServiceSpec,
    /// `forward[i]` is how `spec.reals[i]` is reached.
    pub forward: Vec<Forward>,
}

impl Wanted {
    /// The services of a configuration file.
    pub fn from_config(cfg: &Config, spec: &PacketSpec) -> Vec<Self> {
        cfg.services
            .iter()
            .map(|s| Self {
                spec: s.clone(),
                forward: s
                    .reals
                    .iter()
                    .map(|r| spec.forward_of(s.key, r.addr))
                    .collect(),
            })
            .collect()
    }
}

/// How long a removed real server's established connections may go on (IPVS's default TCP
/// established timeout, 15 minutes; an idle connection expires before that anyway).
pub const REMOVED_DRAIN: core::time::Duration = core::time::Duration::from_secs(900);

fn name(key: SvcKey) -> String {
    format!("{} {}", key.0.label(), key.1)
}

fn no_service(key: SvcKey) -> String {
    format!("no such service {}", name(key))
}

/// Where the real server at `addr` is in `w`.
fn real_index(w: &Wanted, key: SvcKey, addr: SocketAddr) -> Result<usize, String> {
    w.spec
        .reals
        .iter()
        .position(|o| o.addr == addr)
        .ok_or_else(|| format!("no real server {addr} in {}", name(key)))
}

fn ip_proto(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => proto::TCP,
        Protocol::Udp => proto::UDP,
    }
}

fn service_config(s: &ServiceSpec) -> ServiceConfig {
    let key = ServiceKey::Addr {
        protocol: ip_proto(s.key.0),
        addr: s.key.1.ip(),
        port: s.key.1.port(),
    };
    ServiceConfig {
        persistence: s.persistence,
        ..ServiceConfig::new(key)
    }
}

/// What packet mode refuses in one service on its own: a VIP that is not a specific IPv4
/// address, an IPv6 real server, the PROXY protocol. Shared by the configuration file's
/// checks and [`validate`].
pub(crate) fn check_packet_service(s: &ServiceSpec) -> Result<(), String> {
    let n = name(s.key);
    let v4 = |a: SocketAddr| matches!(a.ip(), IpAddr::V4(_));
    if !v4(s.key.1) || s.key.1.ip().is_unspecified() {
        return Err(format!(
            "{n}: packet mode takes a specific IPv4 virtual address (ARP; no neighbour \
             discovery for IPv6 yet)"
        ));
    }
    if s.proxy_protocol {
        return Err(format!("{n}: proxy_protocol is for proxy mode"));
    }
    if let Some(r) = s.reals.iter().find(|r| !v4(r.addr)) {
        return Err(format!("{n}: real {}: packet mode takes IPv4", r.addr));
    }
    Ok(())
}

/// Everything packet mode refuses, checked before anything changes.
pub fn validate(wanted: &[Wanted]) -> Result<(), String> {
    for (i, w) in wanted.iter().enumerate() {
        let s = &w.spec;
        let n = name(s.key);
        if wanted[..i].iter().any(|o| o.spec.key == s.key) {
            return Err(format!("service {n} defined twice"));
        }
        check_packet_service(s)?;
        check_scheduler(&s.scheduler, s.flags).map_err(|e| format!("{n}: {e}"))?;
        if w.forward.len() != s.reals.len() {
            return Err(format!("{n}: a forwarding method for every real server"));
        }
        for (j, (r, f)) in s.reals.iter().zip(&w.forward).enumerate() {
            if s.reals[..j].iter().any(|o| o.addr == r.addr) {
                return Err(format!("{n}: real server {} listed twice", r.addr));
            }
            if *f != Forward::Nat && r.addr.port() != s.key.1.port() {
                return Err(format!(
                    "{n}: real {}: {} keeps the virtual port {} (only masquerading maps ports)",
                    r.addr,
                    if *f == Forward::Dr { "-g" } else { "-i" },
                    s.key.1.port()
                ));
            }
            if r.weight > i32::MAX as u32 {
                return Err(format!("{n}: real {}: weight out of range", r.addr));
            }
        }
    }
    Ok(())
}

impl Plane {
    /// The running services as [`Wanted`] (what a change edits).
    pub fn wanted(&self) -> Vec<Wanted> {
        self.services
            .iter()
            .map(|s| {
                let mut spec = s.spec.clone();
                spec.reals = s.reals.iter().map(|r| r.spec).collect();
                Wanted {
                    spec,
                    forward: s.reals.iter().map(|r| r.forward).collect(),
                }
            })
            .collect()
    }

    /// Run an ipvsadm change command (`-A/-E/-D/-C`, `-a/-e/-d`) against the running
    /// services. A server added with `-a` and no method is reached by direct routing
    /// (ipvsadm's default); `-e` without a method keeps the server's.
    pub fn admin(&mut self, cmd: &Command, now: lvs_core::Instant) -> Result<(), String> {
        let mut wanted = self.wanted();
        let find = |w: &mut Vec<Wanted>, key: SvcKey| -> Result<usize, String> {
            w.iter()
                .position(|x| x.spec.key == key)
                .ok_or_else(|| no_service(key))
        };
        match cmd {
            Command::AddService(s) => {
                if wanted.iter().any(|w| w.spec.key == s.key) {
                    return Err(format!("service {} already exists", name(s.key)));
                }
                let mut spec = s.clone();
                spec.reals.clear();
                wanted.push(Wanted {
                    spec,
                    forward: Vec::new(),
                });
            }
            Command::EditService(s) => {
                let i = find(&mut wanted, s.key)?;
                let w = &mut wanted[i].spec;
                w.scheduler.clone_from(&s.scheduler);
                w.flags = s.flags;
                w.persistence = s.persistence;
            }
            Command::DeleteService(key) => {
                let i = find(&mut wanted, *key)?;
                wanted.remove(i);
            }
            Command::Clear => wanted.clear(),
            Command::AddServer(key, r, f) => {
                let i = find(&mut wanted, *key)?;
                let w = &mut wanted[i];
                if w.spec.reals.iter().any(|o| o.addr == r.addr) {
                    return Err(format!(
                        "real server {} already exists in {}",
                        r.addr,
                        name(*key)
                    ));
                }
                w.spec.reals.push(*r);
                w.forward.push(f.unwrap_or(Forward::Dr));
            }
            Command::EditServer(key, r, f) => {
                let i = find(&mut wanted, *key)?;
                let w = &mut wanted[i];
                let j = real_index(w, *key, r.addr)?;
                w.spec.reals[j] = *r;
                if let Some(f) = f {
                    w.forward[j] = *f;
                }
            }
            Command::DeleteServer(key, a) => {
                let i = find(&mut wanted, *key)?;
                let w = &mut wanted[i];
                let j = real_index(w, *key, *a)?;
                w.spec.reals.remove(j);
                w.forward.remove(j);
            }
            Command::List(_) | Command::Save | Command::Reload => {
                return Err(format!("{:?} changes nothing", cmd.to_line()));
            }
        }
        self.reconcile(wanted, now)
    }

    /// Make the running services those of `wanted` (see the module docs).
    pub fn reconcile(&mut self, wanted: Vec<Wanted>, now: lvs_core::Instant) -> Result<(), String> {
        validate(&wanted)?;
        // Build every new scheduler first: an unknown name or bad flags change nothing.
        let mut scheds = Vec::with_capacity(wanted.len());
        for w in &wanted {
            let old = self.services.iter().find(|s| s.spec.key == w.spec.key);
            let same = old.is_some_and(|o| {
                o.spec.scheduler == w.spec.scheduler && o.spec.flags == w.spec.flags
            });
            scheds.push(if same {
                None
            } else {
                let sseed = derive_seed(self.seed, self.next_service);
                self.next_service += 1;
                let sched = lvs_sched::by_name(
                    &w.spec.scheduler,
                    w.spec.flags,
                    sseed,
                    ChaCha8Rng::seed_from_u64(sseed),
                )
                .map_err(|e| {
                    format!(
                        "{}: scheduler {:?}: {e}",
                        name(w.spec.key),
                        w.spec.scheduler
                    )
                })?;
                Some(sched)
            });
        }
        let partly = |e: String| format!("{e} (the change was applied in part)");
        let old = core::mem::take(&mut self.services);
        let mut keep = Vec::new();
        for s in old {
            if wanted.iter().any(|w| w.spec.key == s.spec.key) {
                keep.push(s);
            } else {
                self.drop_service(s, now);
            }
        }
        let mut result = Ok(());
        for (w, sched) in wanted.into_iter().zip(scheds) {
            let (s, step) = match keep.iter().position(|s| s.spec.key == w.spec.key) {
                Some(i) => {
                    let s = keep.swap_remove(i);
                    let (s, step) = self.update_service(s, w, sched, now);
                    (Some(s), step)
                }
                None => match sched {
                    Some(sched) => self.add_service(w, sched, now),
                    None => (None, Err(format!("{}: no scheduler", name(w.spec.key)))),
                },
            };
            if let Some(s) = s {
                self.services.push(s);
            }
            if let Err(e) = step {
                result = Err(partly(e));
            }
        }
        self.set_udp_timeout();
        result
    }

    /// The director has one UDP timeout: the shortest of the UDP services'.
    fn set_udp_timeout(&mut self) {
        let udp = self
            .services
            .iter()
            .filter(|s| s.spec.key.0 == Protocol::Udp)
            .map(|s| s.spec.udp_timeout)
            .min();
        if let Some(t) = udp {
            self.director
                .set_timeouts(core::time::Duration::ZERO, core::time::Duration::ZERO, t);
        }
    }

    fn add_service(
        &mut self,
        w: Wanted,
        sched: Box<dyn lvs_core::Scheduler>,
        now: lvs_core::Instant,
    ) -> (Option<PService>, Result<(), String>) {
        let n = name(w.spec.key);
        let id = match self.director.add_service(service_config(&w.spec), sched) {
            Ok(id) => id,
            Err(e) => return (None, Err(format!("{n}: {e}"))),
        };
        let mut bare = w.spec.clone();
        bare.reals.clear();
        let mut s = PService {
            spec: bare,
            id,
            reals: Vec::new(),
        };
        for (r, f) in w.spec.reals.iter().zip(&w.forward) {
            match self.add_real(id, w.spec.key, *r, *f, w.spec.health.as_ref(), now) {
                Ok(p) => s.reals.push(p),
                Err(e) => return (Some(s), Err(e)),
            }
        }
        (Some(s), Ok(()))
    }

    fn update_service(
        &mut self,
        mut s: PService,
        w: Wanted,
        sched: Option<Box<dyn lvs_core::Scheduler>>,
        now: lvs_core::Instant,
    ) -> (PService, Result<(), String>) {
        let n = name(w.spec.key);
        if (sched.is_some() || s.spec.persistence != w.spec.persistence)
            && let Err(e) = self
                .director
                .edit_service(s.id, service_config(&w.spec), sched)
        {
            return (s, Err(format!("{n}: {e}")));
        }
        if s.spec.health != w.spec.health {
            // New checks for every server: drop the old ones and give back the weights
            // they held down.
            for r in &mut s.reals {
                if let Some(c) = r.check.take() {
                    self.forget_check(c, now);
                }
                r.healthy = true;
                r.dynamic = None;
                if self.is_live(s.id, r) {
                    let _ =
                        self.director
                            .edit_real(r.id, r.spec.weight, r.spec.upper, r.spec.lower);
                }
            }
        }
        let mut bare = w.spec.clone();
        bare.reals.clear();
        s.spec = bare;
        let mut old = core::mem::take(&mut s.reals);
        for (r, f) in w.spec.reals.iter().zip(&w.forward) {
            let step = match old.iter().position(|o| o.spec.addr == r.addr) {
                Some(i) if old[i].forward == *f => {
                    let mut p = old.swap_remove(i);
                    self.update_real(s.id, &mut p, *r, w.spec.health.as_ref(), now)
                        .map(|()| p)
                }
                Some(i) => {
                    // A new forwarding method: the entry goes now (its connections end).
                    let p = old.swap_remove(i);
                    self.drop_real(s.id, &p, now, false);
                    self.add_real(s.id, s.spec.key, *r, *f, w.spec.health.as_ref(), now)
                }
                None => self.add_real(s.id, s.spec.key, *r, *f, w.spec.health.as_ref(), now),
            };
            match step {
                Ok(p) => s.reals.push(p),
                Err(e) => {
                    for p in old {
                        self.drop_real(s.id, &p, now, true);
                    }
                    return (s, Err(e));
                }
            }
        }
        for p in old {
            self.drop_real(s.id, &p, now, true);
        }
        (s, Ok(()))
    }

    fn add_real(
        &mut self,
        svc: ServiceId,
        key: SvcKey,
        r: RealSpec,
        forward: Forward,
        health: Option<&HealthSpec>,
        now: lvs_core::Instant,
    ) -> Result<PReal, String> {
        let rc = real_config(&r, forward);
        let id = match self.revive(svc, &rc) {
            Some(id) => id,
            None => self
                .director
                .add_real(svc, rc)
                .map_err(|e| format!("{}: real {}: {e}", name(key), r.addr))?,
        };
        let mut p = PReal {
            spec: r,
            forward,
            id,
            check: None,
            healthy: true,
            dynamic: None,
        };
        if let Some(h) = health
            && let Err(e) = self.add_check(svc, &mut p, h, now)
        {
            let _ = self.director.remove_real(id);
            return Err(format!("{}: health check of {}: {e}", name(key), r.addr));
        }
        Ok(p)
    }

    fn add_check(
        &mut self,
        svc: ServiceId,
        p: &mut PReal,
        h: &HealthSpec,
        now: lvs_core::Instant,
    ) -> Result<(), String> {
        let c = self.next_check;
        self.checker
            .add_check(now, c, h.check_for(p.spec.addr, false))
            .map_err(|e| e.to_string())?;
        self.next_check += 1;
        self.binding
            .bind(c, svc, p.id, real_config(&p.spec, p.forward));
        p.check = Some(c);
        Ok(())
    }

    fn update_real(
        &mut self,
        svc: ServiceId,
        p: &mut PReal,
        r: RealSpec,
        health: Option<&HealthSpec>,
        now: lvs_core::Instant,
    ) -> Result<(), String> {
        let changed = p.spec != r;
        p.spec = r;
        if let Some(c) = p.check {
            // The binding's settings are what a returning server gets.
            let id = self.binding.real(c).unwrap_or(p.id);
            self.binding.bind(c, svc, id, real_config(&r, p.forward));
        } else if let Some(h) = health {
            self.add_check(svc, p, h, now)?;
        }
        if changed && p.healthy && self.is_live(svc, p) {
            self.director
                .edit_real(p.id, p.effective_weight(), r.upper, r.lower)
                .map_err(|e| format!("real {}: {e}", r.addr))?;
        }
        Ok(())
    }

    /// Stop checking a real server and take it out of the director as the kernel does with a
    /// deleted destination: no new connection goes to it, its established ones keep flowing
    /// until they end (the director removes it then, or after [`REMOVED_DRAIN`] at the latest).
    /// With `drain` false it is removed at once.
    fn drop_real(&mut self, svc: ServiceId, p: &PReal, now: lvs_core::Instant, drain: bool) {
        if let Some(c) = p.check {
            self.forget_check(c, now);
        }
        if self.is_live(svc, p) {
            let _ = if drain {
                self.director.drain_real(p.id, now, REMOVED_DRAIN)
            } else {
                self.director.remove_real(p.id)
            };
        }
    }

    /// A real server of `svc` at `addr` that is still draining after its removal: added again
    /// with the same forwarding method it is revived with its connections (the kernel takes a
    /// destination back from its trash the same way); with another method it goes at once.
    fn revive(&mut self, svc: ServiceId, rc: &RealConfig) -> Option<RealId> {
        let id = self
            .director
            .reals_of(svc)
            .ok()?
            .iter()
            .copied()
            .find(|&id| {
                self.director.real(id).is_ok_and(|(c, st)| {
                    c.addr == rc.addr
                        && c.port == rc.port
                        && matches!(st, lvs_core::director::RealState::Draining { .. })
                })
            })?;
        let (c, _) = self.director.real(id).ok()?;
        if c.forward == rc.forward && c.tunnel == rc.tunnel {
            self.director
                .edit_real(id, rc.weight, rc.upper, rc.lower)
                .ok()
                .map(|()| id)
        } else {
            let _ = self.director.remove_real(id);
            None
        }
    }

    fn drop_service(&mut self, s: PService, now: lvs_core::Instant) {
        for p in &s.reals {
            if let Some(c) = p.check {
                self.forget_check(c, now);
            }
        }
        let _ = self.director.remove_service(s.id);
    }

    fn forget_check(&mut self, c: u32, now: lvs_core::Instant) {
        let _ = self.checker.remove_check(now, c);
        self.binding.unbind(c);
    }

    /// Whether `p.id` is this server in the director (a server its check removed may be
    /// gone, and its id taken by another).
    fn is_live(&self, svc: ServiceId, p: &PReal) -> bool {
        self.director.real(p.id).is_ok_and(|(c, st)| {
            st != lvs_core::director::RealState::Removed
                && c.addr == p.spec.addr.ip()
                && c.port == p.spec.addr.port()
        }) && self.director.reals_of(svc).is_ok_and(|r| r.contains(&p.id))
    }
}

#[cfg(test)]
mod tests {
    use core::net::Ipv4Addr;

    use lvs_core::Instant;
    use lvs_core::director::Verdict;

    use super::*;
    use crate::lvsd::config::{ConfigFile, DataPlane};
    use crate::lvsd::packet::plane::director_config;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    fn file(body: &str) -> (Config, PacketSpec) {
        let f =
            ConfigFile::parse(&format!("mode = \"packet\"\ninterface = \"eth0\"\n{body}")).unwrap();
        let DataPlane::Packet(p) = f.plane else {
            panic!("packet mode expected")
        };
        (f.config, p)
    }

    fn service(port: u16, reals: &[(u8, u32)]) -> String {
        let mut s = format!("[[service]]\nlisten = \"10.0.1.100:{port}\"\nscheduler = \"rr\"\n");
        for (host, w) in reals {
            s.push_str(&format!(
                "[[service.real]]\naddress = \"10.0.2.{host}:{port}\"\nweight = {w}\n\
                 forward = \"dr\"\n"
            ));
        }
        s
    }

    /// An Ethernet frame with a TCP segment from 10.0.1.2:`sport` to the VIP:80.
    fn tcp(sport: u16, flags: u8) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&MAC);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 0x08, 0x00]);
        let ip = [
            0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 1, 2, 10, 0, 1, 100,
        ];
        f.extend_from_slice(&ip);
        let sum = f[14..34]
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum::<u32>();
        let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
        f[24..26].copy_from_slice(&sum.to_be_bytes());
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&80u16.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f
    }

    fn forward(p: &mut Plane, now: Instant, sport: u16, flags: u8) -> IpAddr {
        let mut f = tcp(sport, flags);
        match p.director.process(now, &mut f, 0) {
            Verdict::Forward { next_hop, .. } => next_hop,
            other => panic!("{other:?}"),
        }
    }

    fn save(p: &Plane) -> String {
        let mut out = String::new();
        p.save(&mut out);
        out
    }

    #[test]
    fn a_removed_server_keeps_its_connections_and_comes_back_whole() {
        let (c, s) = file(&service(80, &[(11, 1)]));
        let dc = director_config(&c, MAC, 1500, Some(Ipv4Addr::new(10, 0, 2, 1)));
        let now = Instant::ZERO;
        let mut p = Plane::build(&c, &s, dc, 7, now).unwrap();
        let hop = forward(&mut p, now, 40_000, 0x02);
        let old_id = p.services()[0].reals[0].id;

        // Removed (as `-d` or a reload does): no new connection, the established one flows.
        let (c2, s2) = file(&service(80, &[(12, 1)]));
        p.reload(&c2, &s2, now).unwrap();
        assert!(matches!(
            p.director.real(old_id),
            Ok((_, lvs_core::director::RealState::Draining { .. }))
        ));
        assert_eq!(forward(&mut p, now, 40_000, 0x10), hop);
        let fresh = forward(&mut p, now, 40_001, 0x02);
        assert_eq!(fresh, IpAddr::V4(Ipv4Addr::new(10, 0, 2, 12)));

        // Added again while it drains: the same entry, active, with its connection.
        let (c3, s3) = file(&service(80, &[(11, 3), (12, 1)]));
        p.reload(&c3, &s3, now).unwrap();
        let back = p.services()[0]
            .reals
            .iter()
            .find(|r| r.spec.addr.ip() == hop)
            .map(|r| r.id);
        assert_eq!(back, Some(old_id));
        let (cfg, st) = p.director.real(old_id).unwrap();
        assert_eq!((cfg.weight, st), (3, lvs_core::director::RealState::Active));
        assert_eq!(forward(&mut p, now, 40_000, 0x10), hop);
    }

    #[test]
    fn reload_keeps_the_connection_table_and_the_servers_that_stay() {
        let (c, s) = file(&service(80, &[(11, 1), (12, 1)]));
        let dc = director_config(&c, MAC, 1500, Some(Ipv4Addr::new(10, 0, 2, 1)));
        let now = Instant::ZERO;
        let mut p = Plane::build(&c, &s, dc, 7, now).unwrap();
        let hop = forward(&mut p, now, 40_000, 0x02);
        let IpAddr::V4(kept) = hop else {
            panic!("{hop}")
        };
        let other = if kept.octets()[3] == 11 { 12 } else { 11 };
        let id = |p: &Plane, host: u8| {
            p.services()[0]
                .reals
                .iter()
                .find(|r| r.spec.addr.ip() == IpAddr::V4(Ipv4Addr::new(10, 0, 2, host)))
                .map(|r| r.id)
        };
        let kept_id = id(&p, kept.octets()[3]);
        assert_eq!(p.director.conn_count(), 1);

        // The server that holds the connection stays with a new weight, the other goes, a
        // server and a service are added.
        let body = format!(
            "{}{}",
            service(80, &[(kept.octets()[3], 5), (13, 1)]),
            service(81, &[(11, 1)])
        );
        let (c2, s2) = file(&body);
        p.reload(&c2, &s2, now).unwrap();
        assert_eq!(id(&p, kept.octets()[3]), kept_id);
        assert_eq!(id(&p, other), None);
        assert_eq!(p.director.conn_count(), 1);
        assert_eq!(forward(&mut p, now, 40_000, 0x10), hop);
        let rules = save(&p);
        assert_eq!(
            rules,
            format!(
                "-A -t 10.0.1.100:80 -s rr\n-a -t 10.0.1.100:80 -r {kept}:80 -g -w 5\n\
                 -a -t 10.0.1.100:80 -r 10.0.2.13:80 -g -w 1\n-A -t 10.0.1.100:81 -s rr\n\
                 -a -t 10.0.1.100:81 -r 10.0.2.11:81 -g -w 1\n"
            )
        );
        assert_eq!(p.vips(), [Ipv4Addr::new(10, 0, 1, 100)]);

        // Refused changes leave everything as it was.
        let key = (Protocol::Tcp, "10.0.1.100:80".parse().unwrap());
        let real = |a: &str| RealSpec {
            addr: a.parse().unwrap(),
            weight: 1,
            upper: 0,
            lower: 0,
        };
        for cmd in [
            Command::AddServer(key, real("10.0.2.14:81"), Some(Forward::Tun)),
            Command::AddServer(key, real("10.0.2.13:80"), None),
            Command::EditServer(key, real("10.0.2.99:80"), None),
            Command::DeleteService((Protocol::Udp, "10.0.1.100:80".parse().unwrap())),
            Command::AddService(ServiceSpec::new(
                (Protocol::Tcp, "[::1]:80".parse().unwrap()),
                "rr",
            )),
            Command::AddService(ServiceSpec::new(
                (Protocol::Tcp, "0.0.0.0:80".parse().unwrap()),
                "rr",
            )),
        ] {
            assert!(p.admin(&cmd, now).is_err(), "{cmd:?}");
            assert_eq!(save(&p), rules, "{cmd:?}");
        }
        let (bad, sb) = file(&service(80, &[(11, 1)]).replace("\"rr\"", "\"maglev\""));
        let mut wanted = Wanted::from_config(&bad, &sb);
        wanted[0].spec.scheduler = "bogus".into();
        assert!(p.reconcile(wanted, now).is_err());
        assert_eq!(save(&p), rules);

        // -e with another method re-adds the server; -e without one keeps it; -C empties.
        let e = Command::EditServer(key, real("10.0.2.13:80"), Some(Forward::Nat));
        p.admin(&e, now).unwrap();
        assert!(save(&p).contains("-r 10.0.2.13:80 -m -w 1\n"));
        let e = Command::EditServer(
            key,
            RealSpec {
                weight: 9,
                ..real("10.0.2.13:80")
            },
            None,
        );
        p.admin(&e, now).unwrap();
        assert!(save(&p).contains("-r 10.0.2.13:80 -m -w 9\n"));
        assert_eq!(forward(&mut p, now, 40_000, 0x10), hop);
        p.admin(&Command::Clear, now).unwrap();
        assert_eq!(save(&p), "");
        assert!(p.vips().is_empty());
    }
}
