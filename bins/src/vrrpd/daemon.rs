//! [`Daemon`]: the [`Router`] plus everything the instances only request — VIPs, gratuitous
//! ARP, notify and track scripts, interface tracking — as one machine for the shared event
//! loop.
//!
//! VIPs become local addresses through rtnetlink or, in publish mode ([`Daemon::publish_to`]),
//! entries of a [`HeldVips`] handle for a data plane that answers for them itself.
//!
//! The daemon's own deadlines (GARP pacing, script runs, child reaping, interface polling,
//! VIP reconciliation) join the instances' in [`StateMachine::poll_timeout`], so the loop
//! sleeps until the earliest of them. Instance events are carried out inside each `&mut`
//! call; the loop only sees the adverts to send.

use core::convert::Infallible;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use lvs_core::{Datagram, Instant, StateMachine, Transmit};
use lvs_vrrp::state::{Event, Instance, State, SyncGroup, Timer};
use lvs_vrrp::wire::{IP_PROTOCOL, MULTICAST_V4, MULTICAST_V6};

use super::config::{GlobalSpec, InstanceSpec, Plan, ScriptSpec, Vip};
use super::garp::{GarpQueue, announce_frame};
use super::held::HeldVips;
use super::host::{self, Children, Job, REAP_PERIOD};
use super::router::{Router, RouterEvent, Slot};
use super::rtnl::{Outcome, Rtnl};
use super::status::StatusWriter;
use crate::io::{Group, PacketSocket, RawOptions, Sockets, Token, ifindex};

/// Why the daemon wants to be woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// An instance timer.
    Vrrp(Timer),
    /// Housekeeping: GARP pacing, scripts, children, interfaces, reconciliation.
    Housekeeping,
}

/// Counters of the daemon's side effects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DaemonStats {
    /// Gratuitous ARP frames sent.
    pub garp_sent: u64,
    /// Unsolicited neighbour advertisements sent.
    pub na_sent: u64,
    /// Announcement frames (GARP or NA) that could not be sent.
    pub garp_errors: u64,
    /// Addresses added or removed over rtnetlink (or, in publish mode, in the handle).
    pub vip_changes: u64,
    /// Adds that found the address present and deletes that found it gone (`EEXIST`,
    /// `EADDRNOTAVAIL`): already as desired.
    pub vip_already: u64,
    /// Failed rtnetlink requests (listing or changing addresses).
    pub vip_errors: u64,
    /// Notify scripts started.
    pub notifies: u64,
}

#[derive(Debug, Clone)]
struct ScriptState {
    spec: ScriptSpec,
    up: bool,
    successes: u32,
    failures: u32,
    next_run: Instant,
    running: bool,
}

/// The VRRP daemon as one machine. Build it with [`Daemon::new`], give it its sockets with
/// [`Daemon::apply`], and hand it to [`EventLoop::run`](crate::io::EventLoop::run).
#[derive(Debug)]
pub struct Daemon {
    plan: Plan,
    router: Router,
    specs: Vec<InstanceSpec>,
    holding: Vec<bool>,
    managed: BTreeMap<String, BTreeSet<IpAddr>>,
    scripts: Vec<ScriptState>,
    links: BTreeMap<String, bool>,
    children: Children,
    next_reap: Option<Instant>,
    garp: GarpQueue,
    garp_sockets: BTreeMap<String, AnnounceSocket>,
    raw: BTreeMap<(String, bool), Token>,
    next_poll: Instant,
    next_reconcile: Option<Instant>,
    /// Interfaces whose VIP set changed: reconciled on the loop's next turn, so the advert
    /// that came with the change leaves before the (synchronous) netlink requests.
    vips_dirty: BTreeSet<String>,
    nl: Option<Rtnl>,
    publish: Option<HeldVips>,
    status: StatusWriter,
    stats: DaemonStats,
}

impl Default for Daemon {
    fn default() -> Self {
        Self::new()
    }
}

impl Daemon {
    /// A daemon with no instances.
    pub fn new() -> Self {
        Self {
            plan: Plan {
                global: GlobalSpec {
                    garp_interval: Duration::ZERO,
                    interface_poll: Duration::from_secs(1),
                    vip_reconcile: Duration::ZERO,
                },
                scripts: Vec::new(),
                instances: Vec::new(),
                groups: Vec::new(),
                status_file: None,
                rt_priority: 0,
            },
            router: Router::new(),
            specs: Vec::new(),
            holding: Vec::new(),
            managed: BTreeMap::new(),
            scripts: Vec::new(),
            links: BTreeMap::new(),
            children: Children::default(),
            next_reap: None,
            garp: GarpQueue::default(),
            garp_sockets: BTreeMap::new(),
            raw: BTreeMap::new(),
            next_poll: Instant::ZERO,
            next_reconcile: None,
            vips_dirty: BTreeSet::new(),
            nl: None,
            publish: None,
            status: StatusWriter::default(),
            stats: DaemonStats::default(),
        }
    }

    /// The instances.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Publish mode (see [`HeldVips`]): each interface's desired VIPs are written into `held`,
    /// none is added or removed through rtnetlink. Call it before [`Daemon::apply`].
    pub fn publish_to(&mut self, held: HeldVips) {
        self.publish = Some(held);
    }

    /// Side-effect counters.
    pub fn stats(&self) -> DaemonStats {
        self.stats
    }

    /// Run `plan`: open the sockets it needs, keep every running instance whose
    /// specification, interface and primary address are unchanged, stop the others and start
    /// the new ones. On error nothing changes.
    pub fn apply(
        &mut self,
        plan: Plan,
        sockets: &mut Sockets,
        now: Instant,
    ) -> Result<(), Vec<String>> {
        let all_vips: BTreeSet<IpAddr> = plan
            .instances
            .iter()
            .flat_map(|s| s.vips.iter().map(|v| v.addr))
            .collect();
        let mut errs = Vec::new();
        let mut resolved = Vec::new();
        for spec in &plan.instances {
            let idx = match ifindex(&spec.interface) {
                Ok(i) => i,
                Err(e) => {
                    errs.push(format!(
                        "instance {}: interface {}: {e}",
                        spec.name, spec.interface
                    ));
                    continue;
                }
            };
            let primary = match spec.primary {
                Some(p) => p,
                None => match self
                    .rtnl()
                    .and_then(|nl| host::primary_address(nl, idx, spec.is_v6(), &all_vips))
                {
                    Ok(p) => p,
                    Err(e) => {
                        errs.push(format!("instance {}: {}: {e}", spec.name, spec.interface));
                        continue;
                    }
                },
            };
            resolved.push((idx, primary));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        // Sockets: one raw protocol-112 socket per (interface, family).
        let mut wanted = BTreeMap::new();
        for (spec, &(idx, primary)) in plan.instances.iter().zip(&resolved) {
            wanted
                .entry((spec.interface.clone(), spec.is_v6()))
                .or_insert((idx, primary));
        }
        let mut opened = Vec::new();
        for (key, &(idx, primary)) in &wanted {
            if self.raw.contains_key(key) {
                continue;
            }
            match open_raw(sockets, &key.0, idx, primary) {
                Ok(t) => opened.push((key.clone(), t)),
                Err(e) => errs.push(format!("interface {}: VRRP socket: {e}", key.0)),
            }
        }
        if !errs.is_empty() {
            for (_, t) in opened {
                sockets.remove(t);
            }
            return Err(errs);
        }
        self.raw.extend(opened);

        // Stop the instances that do not carry over, with their VIPs and notifications.
        let keep: Vec<Option<usize>> = (0..self.router.len())
            .map(|i| {
                let inst = self.router.instance(i)?;
                let slot = self.router.slot(i)?;
                plan.instances
                    .iter()
                    .zip(&resolved)
                    .position(|(s, &(idx, p))| {
                        *s == self.specs[i] && idx == slot.ifindex && p == inst.settings().primary
                    })
            })
            .collect();
        for (i, k) in keep.iter().enumerate() {
            if k.is_none() {
                tracing::info!(instance = %self.specs[i].name, "stopping (removed or changed)");
                self.router.with(now, i, |inst| inst.shutdown(now));
            }
        }
        self.process_events(now);
        let mut old: Vec<Option<_>> = self.router.take_all().into_iter().map(Some).collect();
        let old_holding = core::mem::take(&mut self.holding);

        // Scripts carry their state over when unchanged.
        let old_scripts = core::mem::take(&mut self.scripts);
        for spec in &plan.scripts {
            let st = old_scripts
                .iter()
                .find(|s| s.spec == *spec)
                .cloned()
                .unwrap_or_else(|| ScriptState {
                    up: !spec.init_fail,
                    successes: 0,
                    failures: 0,
                    next_run: now,
                    running: false,
                    spec: spec.clone(),
                });
            self.scripts.push(st);
        }

        let mut fresh = Vec::new();
        for (n, (spec, &(idx, primary))) in plan.instances.iter().zip(&resolved).enumerate() {
            let slot = Slot {
                name: spec.name.clone(),
                interface: spec.interface.clone(),
                ifindex: idx,
            };
            let carried = keep.iter().position(|k| *k == Some(n));
            match carried.and_then(|o| old[o].take().map(|x| (o, x))) {
                Some((o, (_, inst))) => {
                    self.router.push(slot, inst);
                    self.holding
                        .push(old_holding.get(o).copied().unwrap_or(false));
                }
                None => {
                    // Validated at load time with a stand-in primary; the real one has the
                    // same family, so this cannot fail.
                    let inst = match spec.build(primary) {
                        Ok(i) => i,
                        Err(e) => {
                            tracing::error!(error = %e, "cannot build instance");
                            continue;
                        }
                    };
                    fresh.push(self.router.push(slot, inst));
                    self.holding.push(false);
                }
            }
            self.managed
                .entry(spec.interface.clone())
                .or_default()
                .extend(spec.vips.iter().map(|v| v.addr));
        }
        self.specs = plan.instances.clone();
        self.router.set_groups(
            plan.groups
                .iter()
                .map(|(_, m)| SyncGroup::new(m.iter().copied()))
                .collect(),
        );

        // Close sockets no instance needs any more.
        let stale: Vec<_> = self
            .raw
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for k in stale {
            if let Some(t) = self.raw.remove(&k) {
                sockets.remove(t);
            }
        }
        self.garp_sockets
            .retain(|name, _| plan.instances.iter().any(|s| s.interface == *name));
        self.status
            .configure(plan.status_file.clone(), plan.global.interface_poll);
        self.plan = plan;

        for i in fresh {
            self.start_instance(now, i);
        }
        self.next_poll = now + self.plan.global.interface_poll;
        if !self.plan.global.vip_reconcile.is_zero() {
            self.next_reconcile = Some(now + self.plan.global.vip_reconcile);
        }
        self.process_events(now);
        self.reconcile_all();
        Ok(())
    }

    fn start_instance(&mut self, now: Instant, i: usize) {
        let spec = self.specs[i].clone();
        let mut tracks = Vec::new();
        for (name, w) in &spec.track_scripts {
            let up = self
                .scripts
                .iter()
                .find(|s| s.spec.name == *name)
                .is_none_or(|s| s.up);
            tracks.push((format!("script:{name}"), up, *w));
        }
        for (name, w) in &spec.track_interfaces {
            let up = host::link_up(name);
            self.links.insert(name.clone(), up);
            tracks.push((format!("if:{name}"), up, *w));
        }
        tracing::info!(
            instance = %spec.name, interface = %spec.interface, vrid = spec.config.vrid,
            priority = spec.config.priority, "starting"
        );
        self.router.with(now, i, |inst| {
            for (name, up, w) in &tracks {
                // Weights were range-checked at load time.
                if let Err(e) = inst.set_track(now, name, *up, *w) {
                    tracing::error!(track = %name, error = %e, "track");
                }
            }
            inst.start(now);
        });
    }

    /// SIGTERM: every master sends priority 0, every VIP is removed (or unpublished), STOP is
    /// notified. The loop sends the queued adverts before it returns.
    pub fn shutdown(&mut self, now: Instant) {
        self.router.shutdown_all(now);
        self.process_events(now);
        self.reconcile_all();
        self.status.write_now(&self.router, &self.stats, now);
    }

    /// Carry out what the instances asked for.
    fn process_events(&mut self, now: Instant) {
        while let Some(RouterEvent { index, event }) = self.router.poll_event() {
            let Some(slot) = self.router.slot(index).cloned() else {
                continue;
            };
            let name = &slot.name;
            match event {
                Event::Vips { vips } => {
                    if let Some(h) = self.holding.get_mut(index) {
                        *h = !vips.is_empty();
                    }
                    self.vips_dirty.insert(slot.interface.clone());
                }
                Event::StateChanged { from, to, reason } => {
                    let priority = self.router.instance(index).map_or(0, Instance::priority);
                    tracing::info!(instance = %name, %from, %to, ?reason, priority, "transition");
                    self.status.mark();
                    if to != State::Master {
                        let vips = self.vips(index);
                        self.garp.cancel(&slot.interface, &vips);
                    }
                    self.notify(index, to, priority);
                }
                Event::Announce { vips, repeat } => {
                    let interval = self.plan.global.garp_interval;
                    // Queued, not sent here: the burst is due at `now`, so the loop first
                    // sends the advert this input produced and then, on its next turn
                    // (microseconds later), the frames: advert before GARP / NA, as the RFCs
                    // order them.
                    self.garp
                        .burst(now, &slot.interface, &vips, repeat, interval);
                }
                Event::Drift { peer, drift } => {
                    tracing::warn!(instance = %name, %peer, ?drift, "peer configuration differs");
                }
                Event::MasterRxLowerPriority { peer, priority } => {
                    tracing::info!(instance = %name, %peer, priority, "lower-priority advert as master");
                }
                Event::Late { timer, by } => {
                    tracing::warn!(instance = %name, ?timer, ?by, "timer served late (stall)");
                }
                other => tracing::debug!(instance = %name, event = ?other, "event"),
            }
        }
    }

    fn vips(&self, i: usize) -> Vec<IpAddr> {
        self.specs
            .get(i)
            .map_or_else(Vec::new, |s| s.vips.iter().map(|v| v.addr).collect())
    }

    fn notify(&mut self, i: usize, to: State, priority: u8) {
        let Some(spec) = self.specs.get(i) else {
            return;
        };
        let n = &spec.notify;
        let specific = match to {
            State::Master => n.master.clone(),
            State::Backup => n.backup.clone(),
            State::Fault => n.fault.clone(),
            State::Initialize => n.stop.clone(),
        };
        let generic = n.any.clone().map(|mut argv| {
            argv.extend([
                "INSTANCE".to_owned(),
                spec.name.clone(),
                to.notify_name().to_owned(),
                priority.to_string(),
            ]);
            argv
        });
        for argv in [specific, generic].into_iter().flatten() {
            if self.children.spawn(&argv, Job::Notify, None) {
                self.stats.notifies += 1;
            }
        }
        self.arm_reap();
    }

    fn arm_reap(&mut self) {
        if self.children.any() && self.next_reap.is_none() {
            // Due at once: the next housekeeping pass reaps and re-arms from its `now`.
            self.next_reap = Some(Instant::ZERO);
        }
    }

    fn reconcile_all(&mut self) {
        self.vips_dirty.clear();
        let ifaces: Vec<String> = self.managed.keys().cloned().collect();
        for i in ifaces {
            self.reconcile(&i);
        }
    }

    /// Make `interface` hold exactly the VIPs of the instances that want them.
    fn reconcile(&mut self, interface: &str) {
        let desired: BTreeSet<_> = (0..self.router.len())
            .filter(|&i| {
                self.holding.get(i).copied().unwrap_or(false)
                    && self
                        .router
                        .slot(i)
                        .is_some_and(|s| s.interface == interface)
            })
            .flat_map(|i| self.specs[i].vips.iter().copied())
            .collect();
        let Some(managed) = self.managed.get(interface).cloned() else {
            return;
        };
        if let Some(held) = &self.publish {
            let change = held.set(interface, desired.iter().map(|v| v.addr).collect());
            for (op, vip) in (change.added.iter().map(|v| ("add", v)))
                .chain(change.removed.iter().map(|v| ("del", v)))
            {
                self.stats.vip_changes += 1;
                tracing::info!(%interface, %vip, op, "VIP (published to the data plane)");
            }
            return;
        }
        let listed = ifindex(interface).and_then(|idx| {
            let nl = self.rtnl()?;
            nl.addresses(idx).map(|l| (idx, l))
        });
        let (idx, current) = match listed {
            Ok(x) => x,
            Err(e) => {
                self.vip_error(interface, "list", None, &e);
                return;
            }
        };
        let (add, del) = host::plan_vips(&current, &desired, &managed);
        for (is_add, vip) in add
            .into_iter()
            .map(|v| (true, v))
            .chain(del.into_iter().map(|v| (false, v)))
        {
            let op = if is_add { "add" } else { "del" };
            let done = self.rtnl().and_then(|nl| {
                if is_add {
                    nl.add(idx, vip)
                } else {
                    nl.del(idx, vip)
                }
            });
            match done {
                Ok(Outcome::Changed) => {
                    self.stats.vip_changes += 1;
                    tracing::info!(%interface, %vip, op, "VIP");
                }
                Ok(Outcome::Already) => {
                    self.stats.vip_already += 1;
                    tracing::debug!(%interface, %vip, op, "VIP already as desired");
                }
                Err(e) => self.vip_error(interface, op, Some(vip), &e),
            }
        }
    }

    /// The rtnetlink socket, opened on first use (and again after a failure dropped it).
    fn rtnl(&mut self) -> std::io::Result<&mut Rtnl> {
        if self.nl.is_none() {
            self.nl = Some(Rtnl::open()?);
        }
        self.nl
            .as_mut()
            .ok_or_else(|| std::io::Error::other("rtnetlink socket"))
    }

    fn vip_error(&mut self, interface: &str, op: &str, vip: Option<Vip>, e: &std::io::Error) {
        self.stats.vip_errors += 1;
        tracing::warn!(%interface, op, vip = ?vip, error = %e, "VIP change failed");
        // A timeout may leave a late answer in the socket; start the next request afresh.
        if e.kind() == std::io::ErrorKind::TimedOut {
            self.nl = None;
        }
    }

    /// Send every announcement frame that is due: GARP for IPv4 VIPs, unsolicited NA for
    /// IPv6 ones, from the interface's own MAC.
    fn send_due_garps(&mut self, now: Instant) {
        while let Some(p) = self.garp.pop_due(now) {
            if !self.garp_sockets.contains_key(&p.interface) {
                match AnnounceSocket::open(&p.interface) {
                    Ok(s) => {
                        self.garp_sockets.insert(p.interface.clone(), s);
                    }
                    Err(e) => {
                        self.stats.garp_errors += 1;
                        tracing::warn!(interface = %p.interface, error = %e, "GARP socket");
                        continue;
                    }
                }
            }
            let Some(s) = self.garp_sockets.get(&p.interface) else {
                continue;
            };
            let router = p.vip.is_ipv6() && forwarding_v6(&p.interface);
            match s.socket.send_frame(&announce_frame(s.mac, p.vip, router)) {
                Ok(()) if p.vip.is_ipv6() => self.stats.na_sent += 1,
                Ok(()) => self.stats.garp_sent += 1,
                Err(e) => {
                    self.stats.garp_errors += 1;
                    tracing::debug!(interface = %p.interface, error = %e, "GARP/NA send");
                }
            }
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        // VIPs first, then the GARP / NA burst announcing them.
        for iface in core::mem::take(&mut self.vips_dirty) {
            self.reconcile(&iface);
        }
        self.send_due_garps(now);
        if self.next_reap.is_some_and(|t| t <= now) {
            self.next_reap = None;
            for (job, ok) in self.children.reap(now) {
                if let Job::Script(s) = job {
                    self.script_result(now, s, ok);
                }
            }
        }
        for s in 0..self.scripts.len() {
            let st = &mut self.scripts[s];
            if st.running || st.next_run > now {
                continue;
            }
            st.next_run = now + st.spec.interval;
            let deadline = now + st.spec.timeout;
            let argv = st.spec.argv.clone();
            if self.children.spawn(&argv, Job::Script(s), Some(deadline)) {
                self.scripts[s].running = true;
            } else {
                self.script_result(now, s, false);
            }
        }
        if self.next_poll <= now {
            self.next_poll = now + self.plan.global.interface_poll;
            self.poll_links(now);
        }
        if self.next_reconcile.is_some_and(|t| t <= now) {
            self.next_reconcile = Some(now + self.plan.global.vip_reconcile);
            self.reconcile_all();
        }
        if self.children.any() && self.next_reap.is_none() {
            self.next_reap = Some(now + REAP_PERIOD);
        }
        self.status.write_due(&self.router, &self.stats, now);
    }

    fn script_result(&mut self, now: Instant, s: usize, ok: bool) {
        let Some(st) = self.scripts.get_mut(s) else {
            return;
        };
        st.running = false;
        if ok {
            st.failures = 0;
            st.successes = st.successes.saturating_add(1);
        } else {
            st.successes = 0;
            st.failures = st.failures.saturating_add(1);
        }
        let was = st.up;
        if !st.up && st.successes >= st.spec.rise {
            st.up = true;
        } else if st.up && st.failures >= st.spec.fall {
            st.up = false;
        }
        if st.up != was {
            let (name, up) = (st.spec.name.clone(), st.up);
            tracing::info!(script = %name, up, "track script changed");
            self.set_tracks(now, |spec| {
                spec.track_scripts
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|&(_, w)| (format!("script:{name}"), up, w))
            });
        }
    }

    fn poll_links(&mut self, now: Instant) {
        let names: Vec<String> = self.links.keys().cloned().collect();
        for name in names {
            let up = host::link_up(&name);
            if self.links.insert(name.clone(), up) != Some(up) {
                tracing::info!(interface = %name, up, "tracked interface changed");
                self.set_tracks(now, |spec| {
                    spec.track_interfaces
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|&(_, w)| (format!("if:{name}"), up, w))
                });
            }
        }
    }

    fn set_tracks(
        &mut self,
        now: Instant,
        f: impl Fn(&InstanceSpec) -> Option<(String, bool, i16)>,
    ) {
        for i in 0..self.specs.len() {
            if let Some((track, up, w)) = f(&self.specs[i]) {
                self.router.with(now, i, |inst| {
                    if let Err(e) = inst.set_track(now, &track, up, w) {
                        tracing::error!(%track, error = %e, "track");
                    }
                });
            }
        }
        self.process_events(now);
    }

    fn housekeeping_at(&self) -> Option<Instant> {
        let scripts = self
            .scripts
            .iter()
            .filter(|s| !s.running)
            .map(|s| s.next_run)
            .min();
        [
            self.garp.next_at(),
            scripts,
            self.next_reap,
            (!self.links.is_empty()).then_some(self.next_poll),
            self.next_reconcile,
            // Due at once: the loop's next turn, after this turn's adverts are sent.
            (!self.vips_dirty.is_empty()).then_some(Instant::ZERO),
            self.status.due_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// The `AF_PACKET` socket announcements leave through, with the interface's MAC.
///
/// It is opened with protocol 0: it can send any frame (the kernel reads the EtherType from
/// the frame) but receives none, so no unread queue builds up behind it.
#[derive(Debug)]
struct AnnounceSocket {
    socket: PacketSocket,
    mac: [u8; 6],
}

impl AnnounceSocket {
    fn open(interface: &str) -> std::io::Result<Self> {
        Ok(Self {
            mac: host::mac_address(interface)?,
            socket: PacketSocket::open(interface, 0)?,
        })
    }
}

/// Whether IPv6 forwarding is on for `interface` (the NA's Router flag, as keepalived sets it).
fn forwarding_v6(interface: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{interface}/forwarding"))
        .is_ok_and(|s| s.trim() == "1")
}

fn open_raw(
    sockets: &mut Sockets,
    interface: &str,
    idx: u32,
    primary: IpAddr,
) -> std::io::Result<Token> {
    let (bind, group) = match primary {
        IpAddr::V4(a) => (
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Group::V4 {
                group: MULTICAST_V4,
                interface: a,
            },
        ),
        IpAddr::V6(_) => (
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            Group::V6 {
                group: MULTICAST_V6,
                ifindex: idx,
            },
        ),
    };
    let mut opts = RawOptions::new(IP_PROTOCOL, bind)
        .ttl(255)
        .device(interface)
        .join(group)
        .multicast_loop(false);
    if primary.is_ipv6() {
        opts = opts.ipv6_checksum_offset(6);
    }
    sockets.add_raw(&opts)
}

impl StateMachine for Daemon {
    type Event = Infallible;
    type Timer = Wake;

    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        self.router.handle_datagram(now, d);
        self.process_events(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        // Decided before the instances run: a burst they queue now waits for the loop's next
        // turn, after their adverts have been sent.
        let house_due = self.housekeeping_at().is_some_and(|at| at <= now);
        if self.router.poll_timeout().is_some_and(|(at, _)| at <= now) {
            self.router.handle_timeout(now);
            self.process_events(now);
        }
        if house_due {
            self.housekeeping(now);
            self.process_events(now);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.router.poll_transmit()
    }

    fn poll_event(&mut self) -> Option<Infallible> {
        None
    }

    fn poll_timeout(&self) -> Option<(Instant, Wake)> {
        let vrrp = self
            .router
            .poll_timeout()
            .map(|(at, t)| (at, Wake::Vrrp(t)));
        let house = self.housekeeping_at().map(|at| (at, Wake::Housekeeping));
        match (vrrp, house) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
#[path = "daemon_tests.rs"]
mod tests;
