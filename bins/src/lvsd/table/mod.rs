//! The virtual-service table of the proxy: schedulers, real servers, persistence templates,
//! health checks and counters. No sockets: the daemon asks it where a new connection goes and
//! tells it when connections end, and it tells the daemon which probes to run.

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::collections::{BTreeMap, HashMap, VecDeque};

use lvs_core::director::{Estimator, Rates};
use lvs_core::health::{Checker, Event, ProbeResult, ProbeSpec};
use lvs_core::rng::derive_seed;
use lvs_core::{ConnState, DestId, DestParams, Flow, Instant, Scheduler};
use lvs_sched::SchedFlags;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::config::{Config, Protocol, RealSpec, ServiceSpec, SvcKey};

/// Most persistence templates one service keeps; beyond that new clients are not remembered.
pub const MAX_TEMPLATES: usize = 1 << 20;
/// Most closed connections kept in the inactive (TIME_WAIT) count at once.
pub const MAX_LINGER: usize = 1 << 20;

/// A connection's place in the table: which service and real server count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The service's table id.
    pub svc: u32,
    /// The real server.
    pub dest: DestId,
    /// How the scheduler counts it.
    pub state: ConnState,
    /// The client's address (for `-L -n -c`).
    pub client: SocketAddr,
}

/// ipvsadm `--stats` counters. In proxy mode a "packet" is one successful `read()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Connections (TCP) or flows (UDP) scheduled.
    pub conns: u64,
    /// Reads from clients.
    pub in_pkts: u64,
    /// Reads from real servers.
    pub out_pkts: u64,
    /// Bytes from clients.
    pub in_bytes: u64,
    /// Bytes from real servers.
    pub out_bytes: u64,
}

impl Counters {
    /// The same numbers as the estimator's counter type.
    pub fn to_core(&self) -> lvs_core::director::Counters {
        lvs_core::director::Counters {
            conns: self.conns,
            in_pkts: self.in_pkts,
            out_pkts: self.out_pkts,
            in_bytes: self.in_bytes,
            out_bytes: self.out_bytes,
        }
    }

    fn add(&mut self, o: &Self) {
        self.conns += o.conns;
        self.in_pkts += o.in_pkts;
        self.out_pkts += o.out_pkts;
        self.in_bytes += o.in_bytes;
        self.out_bytes += o.out_bytes;
    }
}

/// A real server in a service.
#[derive(Debug, Clone)]
pub struct Real {
    /// As configured.
    pub spec: RealSpec,
    /// Its scheduler id.
    pub id: DestId,
    /// What the health check says (always true without a check).
    pub healthy: bool,
    /// The health check's id.
    pub check: Option<u32>,
    /// The weight a dynamic check (keepalived `misc_dynamic`) reported last; it replaces the
    /// configured weight while set.
    pub dynamic: Option<u32>,
    /// Counters.
    pub stats: Counters,
    est: Estimator,
}

impl Real {
    /// Rates from the kernel-style estimator (`--rate`).
    pub fn rates(&self) -> Rates {
        self.est.rates()
    }

    /// The weight the scheduler uses: the configured one (or the dynamic check's), 0 while
    /// down.
    pub fn effective_weight(&self) -> u32 {
        if self.healthy {
            self.dynamic.unwrap_or(self.spec.weight)
        } else {
            0
        }
    }
}

/// A virtual service.
#[derive(Debug)]
pub struct Service {
    /// Settings (its `reals` list is not kept in step; see [`Service::reals`]).
    pub spec: ServiceSpec,
    sched: Box<dyn Scheduler>,
    reals: Vec<Real>,
    next_dest: u32,
    templates: HashMap<IpAddr, (DestId, Instant)>,
    /// Counters.
    pub stats: Counters,
    est: Estimator,
}

impl Service {
    /// Rates from the kernel-style estimator (`--rate`).
    pub fn rates(&self) -> Rates {
        self.est.rates()
    }

    /// Real servers in list order.
    pub fn reals(&self) -> &[Real] {
        &self.reals
    }

    /// `(active, inactive)` connections of a real server.
    pub fn load(&self, id: DestId) -> (u32, u32) {
        self.sched
            .load(id)
            .map_or((0, 0), |l| (l.active, l.inactive))
    }

    fn real_mut(&mut self, id: DestId) -> Option<&mut Real> {
        self.reals.iter_mut().find(|r| r.id == id)
    }

    fn real_by_addr(&self, addr: SocketAddr) -> Option<&Real> {
        self.reals.iter().find(|r| r.spec.addr == addr)
    }
}

/// A probe the daemon must run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRequest {
    /// Check id, for [`Table::report`].
    pub id: u32,
    /// Where.
    pub target: SocketAddr,
    /// What.
    pub probe: ProbeSpec,
    /// When it is abandoned.
    pub deadline: Instant,
}

/// Every virtual service of the daemon.
#[derive(Debug)]
pub struct Table {
    services: BTreeMap<u32, Service>,
    next_svc: u32,
    checker: Checker<u32>,
    checks: HashMap<u32, (u32, DestId)>,
    next_check: u32,
    seed: u64,
    lingering: VecDeque<(Instant, Binding)>,
    time_wait: Duration,
}

fn build_sched(spec: &ServiceSpec, seed: u64) -> Result<Box<dyn Scheduler>, String> {
    let rng = ChaCha8Rng::seed_from_u64(seed);
    lvs_sched::by_name(&spec.scheduler, spec.flags, seed, rng)
        .map_err(|e| format!("scheduler {:?}: {e}", spec.scheduler))
}

fn params(r: &Real) -> DestParams {
    DestParams {
        addr: r.spec.addr.ip(),
        port: r.spec.addr.port(),
        weight: r.effective_weight(),
        upper_threshold: r.spec.upper,
        lower_threshold: r.spec.lower,
    }
}

fn svc_name(key: SvcKey) -> String {
    format!("{} {}", key.0.label(), key.1)
}

impl Table {
    /// An empty table. `seed` seeds the random schedulers; `time_wait` is how long a closed
    /// TCP connection still counts as inactive.
    pub fn new(seed: u64, time_wait: Duration) -> Self {
        Self {
            services: BTreeMap::new(),
            next_svc: 0,
            checker: Checker::new(),
            checks: HashMap::new(),
            next_check: 0,
            seed,
            lingering: VecDeque::new(),
            time_wait,
        }
    }

    /// Build the table for `cfg`. Real servers that `old` knows as down start down (their
    /// check needs `rise` passes), so a reload does not send traffic to a dead server.
    pub fn build(
        cfg: &Config,
        seed: u64,
        now: Instant,
        old: Option<&Self>,
    ) -> Result<Self, String> {
        let mut t = Self::new(seed, cfg.time_wait);
        if let Some(old) = old {
            t.next_svc = old.next_svc;
            t.next_check = old.next_check;
        }
        for s in &cfg.services {
            let mut bare = s.clone();
            bare.reals.clear();
            t.add_service(bare, now)?;
            for r in &s.reals {
                let down = old
                    .and_then(|o| o.real(s.key, r.addr))
                    .is_some_and(|r| !r.healthy);
                t.add_real_inner(s.key, *r, now, down)?;
            }
        }
        Ok(t)
    }

    /// Move a binding of `old` into this table (reload): the connection is counted on the
    /// same real server of the same service here, or on nothing when that is gone.
    pub fn adopt(&mut self, old: &Self, b: Binding) -> Option<Binding> {
        let (key, addr) = {
            let s = old.services.get(&b.svc)?;
            let r = s.reals.iter().find(|r| r.id == b.dest)?;
            (s.spec.key, r.spec.addr)
        };
        let svc = self.find(key)?;
        let s = self.services.get_mut(&svc)?;
        let dest = s.real_by_addr(addr)?.id;
        s.sched.conn_bound(dest, b.state);
        Some(Binding {
            svc,
            dest,
            state: b.state,
            client: b.client,
        })
    }

    /// Take over the connections `old` still counts as inactive (reload).
    pub fn adopt_lingering(&mut self, old: &mut Self) {
        for (at, b) in core::mem::take(&mut old.lingering) {
            if let Some(nb) = self.adopt(old, b) {
                self.lingering.push_back((at, nb));
            }
        }
    }

    /// The id of the service `key`.
    pub fn find(&self, key: SvcKey) -> Option<u32> {
        self.services
            .iter()
            .find(|(_, s)| s.spec.key == key)
            .map(|(id, _)| *id)
    }

    /// A service by id.
    pub fn service(&self, id: u32) -> Option<&Service> {
        self.services.get(&id)
    }

    /// Every service in order.
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.values()
    }

    /// A real server of a service.
    pub fn real(&self, key: SvcKey, addr: SocketAddr) -> Option<&Real> {
        self.services.get(&self.find(key)?)?.real_by_addr(addr)
    }

    /// Add a service (`ipvsadm -A`); its `reals` are added too.
    pub fn add_service(&mut self, spec: ServiceSpec, now: Instant) -> Result<u32, String> {
        if self.find(spec.key).is_some() {
            return Err(format!("service {} already exists", svc_name(spec.key)));
        }
        let sched = build_sched(&spec, derive_seed(self.seed, u64::from(self.next_svc)))?;
        let id = self.next_svc;
        self.next_svc += 1;
        let reals = spec.reals.clone();
        let key = spec.key;
        let mut bare = spec;
        bare.reals.clear();
        self.services.insert(
            id,
            Service {
                spec: bare,
                sched,
                reals: Vec::new(),
                next_dest: 0,
                templates: HashMap::new(),
                stats: Counters::default(),
                est: Estimator::default(),
            },
        );
        for r in reals {
            if let Err(e) = self.add_real_inner(key, r, now, false) {
                self.services.remove(&id);
                return Err(e);
            }
        }
        Ok(id)
    }

    /// Change a service's scheduler, flags and persistence (`ipvsadm -E`). Real servers and
    /// their connection counts carry over to the new scheduler.
    pub fn edit_service(
        &mut self,
        key: SvcKey,
        scheduler: &str,
        flags: SchedFlags,
        persistence: Option<lvs_core::service::Persistence>,
    ) -> Result<(), String> {
        let id = self.find(key).ok_or_else(|| no_service(key))?;
        let seed = derive_seed(self.seed, u64::from(self.next_svc));
        self.next_svc += 1;
        let s = self.services.get_mut(&id).ok_or_else(|| no_service(key))?;
        let mut spec = s.spec.clone();
        spec.scheduler = scheduler.to_owned();
        spec.flags = flags;
        let mut sched = build_sched(&spec, seed)?;
        for r in &s.reals {
            sched.add_dest(r.id, params(r)).map_err(|e| e.to_string())?;
            let (active, inactive) = s.load(r.id);
            for _ in 0..active {
                sched.conn_bound(r.id, ConnState::Active);
            }
            for _ in 0..inactive {
                sched.conn_bound(r.id, ConnState::Inactive);
            }
        }
        if spec.persistence != persistence {
            s.templates.clear();
        }
        spec.persistence = persistence;
        s.spec = spec;
        s.sched = sched;
        Ok(())
    }

    /// Remove a service (`ipvsadm -D`). Its connections stay open but are no longer counted.
    pub fn remove_service(&mut self, key: SvcKey, now: Instant) -> Result<(), String> {
        let id = self.find(key).ok_or_else(|| no_service(key))?;
        if let Some(s) = self.services.remove(&id) {
            for r in s.reals {
                self.drop_check(r.check, now);
            }
        }
        Ok(())
    }

    /// Remove every service (`ipvsadm -C`).
    pub fn clear(&mut self, now: Instant) {
        let keys: Vec<SvcKey> = self.services.values().map(|s| s.spec.key).collect();
        for k in keys {
            let _ = self.remove_service(k, now);
        }
    }

    /// Add a real server (`ipvsadm -a`); with the service's health check it starts up and
    /// needs `fall` failures to go down.
    pub fn add_real(&mut self, key: SvcKey, r: RealSpec, now: Instant) -> Result<(), String> {
        self.add_real_inner(key, r, now, false)
    }

    fn add_real_inner(
        &mut self,
        key: SvcKey,
        spec: RealSpec,
        now: Instant,
        start_down: bool,
    ) -> Result<(), String> {
        let svc = self.find(key).ok_or_else(|| no_service(key))?;
        let s = self.services.get_mut(&svc).ok_or_else(|| no_service(key))?;
        if s.real_by_addr(spec.addr).is_some() {
            return Err(format!(
                "real server {} already exists in {}",
                spec.addr,
                svc_name(key)
            ));
        }
        if spec.weight > i32::MAX as u32 {
            return Err(format!("weight {} out of range", spec.weight));
        }
        let id = DestId(s.next_dest);
        let mut real = Real {
            spec,
            id,
            healthy: !start_down,
            check: None,
            dynamic: None,
            stats: Counters::default(),
            est: Estimator::default(),
        };
        s.sched
            .add_dest(id, params(&real))
            .map_err(|e| format!("real server {}: {e}", spec.addr))?;
        s.next_dest += 1;
        if let Some(h) = s.spec.health.clone() {
            let check = self.next_check;
            self.next_check += 1;
            self.checker
                .add_check(now, check, h.check_for(spec.addr, start_down))
                .map_err(|e| format!("health check of {}: {e}", spec.addr))?;
            self.checks.insert(check, (svc, id));
            real.check = Some(check);
        }
        if let Some(s) = self.services.get_mut(&svc) {
            s.reals.push(real);
        }
        // `alpha` queued a Down event; the real already starts down, nothing to apply.
        Ok(())
    }

    /// Change a real server's weight and thresholds (`ipvsadm -e`).
    pub fn edit_real(&mut self, key: SvcKey, spec: RealSpec) -> Result<(), String> {
        let svc = self.find(key).ok_or_else(|| no_service(key))?;
        let s = self.services.get_mut(&svc).ok_or_else(|| no_service(key))?;
        if spec.weight > i32::MAX as u32 {
            return Err(format!("weight {} out of range", spec.weight));
        }
        let r = s
            .reals
            .iter_mut()
            .find(|r| r.spec.addr == spec.addr)
            .ok_or_else(|| no_real(key, spec.addr))?;
        r.spec.weight = spec.weight;
        r.spec.upper = spec.upper;
        r.spec.lower = spec.lower;
        let (id, w) = (r.id, r.effective_weight());
        s.sched.set_weight(id, w).map_err(|e| e.to_string())?;
        s.sched
            .set_thresholds(id, spec.upper, spec.lower)
            .map_err(|e| e.to_string())
    }

    /// Remove a real server (`ipvsadm -d`); its connections stay open, uncounted.
    pub fn remove_real(
        &mut self,
        key: SvcKey,
        addr: SocketAddr,
        now: Instant,
    ) -> Result<(), String> {
        let svc = self.find(key).ok_or_else(|| no_service(key))?;
        let s = self.services.get_mut(&svc).ok_or_else(|| no_service(key))?;
        let pos = s
            .reals
            .iter()
            .position(|r| r.spec.addr == addr)
            .ok_or_else(|| no_real(key, addr))?;
        let r = s.reals.remove(pos);
        s.sched.remove_dest(r.id).map_err(|e| e.to_string())?;
        s.templates.retain(|_, (d, _)| *d != r.id);
        self.drop_check(r.check, now);
        Ok(())
    }

    fn drop_check(&mut self, check: Option<u32>, now: Instant) {
        if let Some(c) = check {
            self.checks.remove(&c);
            let _ = self.checker.remove_check(now, c);
        }
    }

    /// Choose the real server for a new connection or flow from `client` and count it
    /// (persistence first, then the scheduler). `None` when no server may take it.
    pub fn pick(
        &mut self,
        svc: u32,
        client: SocketAddr,
        now: Instant,
    ) -> Option<(Binding, SocketAddr)> {
        let s = self.services.get_mut(&svc)?;
        let (proto, vip) = s.spec.key;
        let flow = match proto {
            Protocol::Tcp => Flow::tcp(client.ip(), client.port(), vip.ip(), vip.port()),
            Protocol::Udp => Flow::udp(client.ip(), client.port(), vip.ip(), vip.port()),
        };
        let state = match proto {
            Protocol::Tcp => ConnState::Active,
            Protocol::Udp => ConnState::Inactive,
        };
        let mut chosen = None;
        let persist = s.spec.persistence;
        if let Some(p) = persist {
            let k = p.mask(client.ip());
            if let Some((d, exp)) = s.templates.get(&k).copied()
                && exp > now
                && s.reals
                    .iter()
                    .any(|r| r.id == d && r.effective_weight() > 0)
            {
                chosen = Some(d);
            }
        }
        let dest = match chosen {
            Some(d) => d,
            None => s.sched.pick(&flow, now)?,
        };
        if let Some(p) = persist {
            let k = p.mask(client.ip());
            if s.templates.len() < MAX_TEMPLATES || s.templates.contains_key(&k) {
                s.templates.insert(k, (dest, now + p.timeout));
            }
        }
        s.sched.conn_bound(dest, state);
        s.stats.conns += 1;
        let r = s.real_mut(dest)?;
        r.stats.conns += 1;
        let addr = r.spec.addr;
        Some((
            Binding {
                svc,
                dest,
                state,
                client,
            },
            addr,
        ))
    }

    /// A connection ended. TCP connections stay counted as inactive for `time_wait` (as IPVS
    /// keeps them in TIME_WAIT), so least-connection schedulers see recent short connections.
    pub fn release(&mut self, b: Binding, now: Instant) {
        let Some(s) = self.services.get_mut(&b.svc) else {
            return;
        };
        if b.state == ConnState::Active
            && !self.time_wait.is_zero()
            && self.lingering.len() < MAX_LINGER
        {
            s.sched
                .conn_changed(b.dest, ConnState::Active, ConnState::Inactive);
            let state = ConnState::Inactive;
            self.lingering
                .push_back((now + self.time_wait, Binding { state, ..b }));
        } else {
            s.sched.conn_unbound(b.dest, b.state);
        }
    }

    /// Add traffic counters to a binding's service and real server.
    pub fn account(&mut self, b: Binding, c: &Counters) {
        let Some(s) = self.services.get_mut(&b.svc) else {
            return;
        };
        s.stats.add(c);
        if let Some(r) = s.real_mut(b.dest) {
            r.stats.add(c);
        }
    }

    /// Run the health checker's timers, end expired TIME_WAIT counts and forget expired
    /// persistence templates.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.checker.handle_timeout(now);
        while let Some(&(at, b)) = self.lingering.front() {
            if at > now {
                break;
            }
            self.lingering.pop_front();
            if let Some(s) = self.services.get_mut(&b.svc) {
                s.sched.conn_unbound(b.dest, b.state);
            }
        }
    }

    /// Take one estimator sample of every service and real server; call every
    /// [`ESTIMATOR_PERIOD`](lvs_core::director::ESTIMATOR_PERIOD).
    pub fn estimate(&mut self) {
        for s in self.services.values_mut() {
            s.est.sample(&s.stats.to_core());
            for r in &mut s.reals {
                r.est.sample(&r.stats.to_core());
            }
        }
    }

    /// Closed TCP connections still counted as inactive (TIME_WAIT), with when each ends.
    pub fn lingering(&self) -> impl Iterator<Item = &(Instant, Binding)> {
        self.lingering.iter()
    }

    /// The service key and real server address a binding stands for.
    pub fn endpoints(&self, b: &Binding) -> Option<(SvcKey, SocketAddr)> {
        let s = self.services.get(&b.svc)?;
        let r = s.reals.iter().find(|r| r.id == b.dest)?;
        Some((s.spec.key, r.spec.addr))
    }

    /// Forget expired persistence templates (call about once a second).
    pub fn sweep(&mut self, now: Instant) {
        for s in self.services.values_mut() {
            s.templates.retain(|_, (_, exp)| *exp > now);
        }
    }

    /// The next time [`Table::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let c = self.checker.poll_timeout().map(|(at, _)| at);
        let l = self.lingering.front().map(|(at, _)| *at);
        match (c, l) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drain the checker: apply up/down to the schedulers and return the next probe to run.
    pub fn poll_probe(&mut self) -> Option<ProbeRequest> {
        while let Some(ev) = self.checker.poll_event() {
            match ev {
                Event::Probe {
                    id,
                    target,
                    probe,
                    deadline,
                } => {
                    return Some(ProbeRequest {
                        id,
                        target,
                        probe,
                        deadline,
                    });
                }
                Event::Up { id, weight, .. } => {
                    if weight.is_some() {
                        self.set_dynamic(id, weight);
                    }
                    self.set_health(id, true);
                }
                Event::Down { id, .. } => self.set_health(id, false),
                Event::Weight { id, weight } => self.set_dynamic(id, Some(weight)),
            }
        }
        None
    }

    /// Record a dynamic weight (keepalived `misc_dynamic`) and give it to the scheduler.
    fn set_dynamic(&mut self, check: u32, weight: Option<u32>) {
        let Some(&(svc, dest)) = self.checks.get(&check) else {
            return;
        };
        let Some(s) = self.services.get_mut(&svc) else {
            return;
        };
        let Some(r) = s.real_mut(dest) else {
            return;
        };
        r.dynamic = weight;
        let w = r.effective_weight();
        let _ = s.sched.set_weight(dest, w);
    }

    fn set_health(&mut self, check: u32, up: bool) {
        let Some(&(svc, dest)) = self.checks.get(&check) else {
            return;
        };
        let Some(s) = self.services.get_mut(&svc) else {
            return;
        };
        let key = s.spec.key;
        let Some(r) = s.real_mut(dest) else {
            return;
        };
        if r.healthy != up {
            tracing::warn!(
                "{} real {} is {}",
                svc_name(key),
                r.spec.addr,
                if up { "up" } else { "down" }
            );
        }
        r.healthy = up;
        let w = r.effective_weight();
        let _ = s.sched.set_weight(dest, w);
    }

    /// Feed a probe's outcome. Reports for checks that no longer exist are ignored.
    pub fn report(&mut self, now: Instant, check: u32, result: ProbeResult) {
        let _ = self.checker.report(now, check, result);
    }
}

fn no_service(key: SvcKey) -> String {
    format!("no such service {}", svc_name(key))
}

fn no_real(key: SvcKey, addr: SocketAddr) -> String {
    format!("no real server {addr} in {}", svc_name(key))
}

#[cfg(test)]
mod tests;
