//! The daemon's configuration: a TOML file read with serde ([`Config`]), validated into a
//! [`Plan`] of ready-to-run instance specifications.
//!
//! ```toml
//! [global]
//! garp_interval = 0.0       # seconds between the frames of one GARP burst
//! interface_poll = 1.0      # seconds between /sys/class/net/*/operstate reads
//! status_file = "/run/lvs-vrrpd.status"  # every instance's state and why (see status.rs)
//! rt_priority = 50          # SCHED_FIFO priority of the VRRP loop (1..=99; 0: none), as
//!                           # keepalived's vrrp_rt_priority; read at start only
//!
//! [[script]]
//! name = "chk_web"
//! script = "/usr/local/bin/check-web --quiet"
//! interval = 2.0            # seconds between runs
//! timeout = 1.0             # a run still going after this long is killed and counts as failed
//! weight = -20
//!
//! [[instance]]
//! name = "VI_1"
//! interface = "eth0"
//! vrid = 51
//! priority = 150
//! version = 3               # 2 or 3
//! advert_int = 1.0          # seconds (v2: whole seconds; v3: multiples of 0.01)
//! virtual_addresses = ["192.0.2.10/24", "192.0.2.11"]
//! preempt = true
//! preempt_delay = 0.0
//! track_script = [{ name = "chk_web" }]
//! track_interface = [{ name = "eth1", weight = -30 }]
//! notify_master = "/etc/vrrp/notify.sh master"
//!
//! [[sync_group]]
//! name = "G1"
//! members = ["VI_1"]
//! ```
//!
//! Every problem is reported, not just the first ([`Plan::from_config`] returns all messages),
//! so `--check` shows the whole list at once.

use core::net::IpAddr;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use lvs_vrrp::config::{InstanceConfig, Transport, UnicastConfig};
use lvs_vrrp::state::{AnnounceSettings, Instance, LowerPriority, Settings};
use lvs_vrrp::wire::{Addresses, Auth, VersionRepr};
use serde::Deserialize;

/// The whole configuration file as written.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Daemon-wide settings.
    #[serde(default)]
    pub global: GlobalConfig,
    /// Track scripts (keepalived `vrrp_script`), referenced by name from instances.
    #[serde(default, rename = "script")]
    pub scripts: Vec<ScriptConfig>,
    /// The virtual router instances.
    #[serde(default, rename = "instance")]
    pub instances: Vec<InstanceToml>,
    /// Sync groups (keepalived `vrrp_sync_group`).
    #[serde(default, rename = "sync_group")]
    pub sync_groups: Vec<SyncGroupConfig>,
}

/// Daemon-wide settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// Seconds between the frames of one gratuitous ARP burst (keepalived `vrrp_garp_interval`).
    pub garp_interval: f64,
    /// Seconds between reads of the tracked interfaces' operational state.
    pub interface_poll: f64,
    /// Seconds between full VIP reconciliations against the interface's addresses (0: only on
    /// change).
    pub vip_reconcile: f64,
    /// A file rewritten with every instance's state, reasons and counters after each change
    /// and at each interface poll ([`super::status`]).
    pub status_file: Option<std::path::PathBuf>,
    /// Real-time (`SCHED_FIFO`) priority for the thread running the VRRP loop, 1..=99; 0
    /// keeps the normal scheduler (keepalived `vrrp_rt_priority`).
    pub rt_priority: u8,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        Self {
            garp_interval: 0.0,
            interface_poll: 1.0,
            vip_reconcile: 5.0,
            status_file: None,
            rt_priority: 0,
        }
    }
}

/// A track script.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptConfig {
    /// The name instances refer to.
    pub name: String,
    /// The command: a program and its arguments, split on white space (quotes group words).
    /// It is executed directly, not through a shell.
    pub script: String,
    /// Seconds between runs.
    pub interval: f64,
    /// Seconds a run may take (default: the interval).
    pub timeout: Option<f64>,
    /// The weight (-253..=253; 0 means fault while failing).
    pub weight: i16,
    /// Consecutive successes needed to go up.
    pub rise: u32,
    /// Consecutive failures needed to go down.
    pub fall: u32,
    /// Start in the failed state (keepalived `init_fail`).
    pub init_fail: bool,
}

impl Default for ScriptConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            script: String::new(),
            interval: 1.0,
            timeout: None,
            weight: 0,
            rise: 1,
            fall: 1,
            init_fail: false,
        }
    }
}

/// A reference from an instance to a track script, with an optional weight override.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackScriptRef {
    /// The script's name.
    pub name: String,
    /// Overrides the script's weight for this instance.
    #[serde(default)]
    pub weight: Option<i16>,
}

/// A tracked interface.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackInterface {
    /// The interface name.
    pub name: String,
    /// The weight (-253..=253; 0, the default, means fault while the link is down).
    #[serde(default)]
    pub weight: i16,
}

/// One virtual router instance as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstanceToml {
    /// A unique name (notify scripts and logs use it).
    pub name: String,
    /// The interface adverts are sent and received on, and the VIPs are added to.
    pub interface: String,
    /// The Virtual Router Identifier, 1..=255.
    pub vrid: u8,
    /// The priority, 1..=255 (255: the address owner).
    pub priority: u8,
    /// The VRRP version, 2 or 3.
    pub version: u8,
    /// The advertisement interval in seconds.
    pub advert_int: f64,
    /// The virtual addresses, `addr` or `addr/prefix` (default prefix /32 or /128).
    pub virtual_addresses: Vec<String>,
    /// Preempt a lower-priority master (`false` is keepalived `nopreempt`).
    pub preempt: bool,
    /// keepalived `preempt_delay` in seconds (0..=1000).
    pub preempt_delay: f64,
    /// The source address of our adverts (keepalived `mcast_src_ip`); default: the
    /// interface's first address that is not a VIP (IPv6: its link-local address).
    pub primary: Option<IpAddr>,
    /// Unicast mode: our source address (keepalived `unicast_src_ip`).
    pub unicast_src: Option<IpAddr>,
    /// Unicast mode: the peers (keepalived `unicast_peer`); empty means multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// Version 2 simple text password (keepalived `auth_type PASS` + `auth_pass`; first 8 bytes).
    pub auth_pass: Option<String>,
    /// Track scripts by name.
    pub track_script: Vec<TrackScriptRef>,
    /// Tracked interfaces.
    pub track_interface: Vec<TrackInterface>,
    /// Do not go to FAULT when the instance's own interface is down (keepalived
    /// `dont_track_primary`).
    pub dont_track_primary: bool,
    /// Run on becoming master.
    pub notify_master: Option<String>,
    /// Run on becoming backup.
    pub notify_backup: Option<String>,
    /// Run on entering fault.
    pub notify_fault: Option<String>,
    /// Run on stopping.
    pub notify_stop: Option<String>,
    /// Run on every change with `INSTANCE <name> <STATE> <priority>` appended.
    pub notify: Option<String>,
    /// Seconds until the second GARP burst after becoming master (0: none).
    pub garp_master_delay: f64,
    /// Frames per address in the first and second burst.
    pub garp_master_repeat: u32,
    /// Seconds between refresh bursts while master (0: off).
    pub garp_master_refresh: f64,
    /// Frames per address in a refresh burst.
    pub garp_master_refresh_repeat: u32,
    /// Frames per address when answering a lower-priority advert.
    pub garp_lower_prio_repeat: u32,
    /// Ignore lower-priority adverts as master instead of answering them at once.
    pub lower_prio_no_advert: bool,
}

impl Default for InstanceToml {
    fn default() -> Self {
        let a = AnnounceSettings::default();
        Self {
            name: String::new(),
            interface: String::new(),
            vrid: 0,
            priority: 100,
            version: 3,
            advert_int: 1.0,
            virtual_addresses: Vec::new(),
            preempt: true,
            preempt_delay: 0.0,
            primary: None,
            unicast_src: None,
            unicast_peers: Vec::new(),
            auth_pass: None,
            track_script: Vec::new(),
            track_interface: Vec::new(),
            dont_track_primary: false,
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            notify_stop: None,
            notify: None,
            garp_master_delay: a.master_delay.as_secs_f64(),
            garp_master_repeat: a.master_repeat,
            garp_master_refresh: a.refresh.as_secs_f64(),
            garp_master_refresh_repeat: a.refresh_repeat,
            garp_lower_prio_repeat: a.lower_prio_repeat,
            lower_prio_no_advert: false,
        }
    }
}

/// A sync group as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncGroupConfig {
    /// The group's name.
    pub name: String,
    /// Instance names.
    pub members: Vec<String>,
}

/// A virtual address with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vip {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length the address is added with.
    pub prefix: u8,
}

impl core::fmt::Display for Vip {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Vip {
    /// Parse `addr` or `addr/prefix`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| format!("bad address {s:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("bad prefix length in {s:?}"))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }
}

/// The notify commands of one instance, as argument vectors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notify {
    /// On MASTER.
    pub master: Option<Vec<String>>,
    /// On BACKUP.
    pub backup: Option<Vec<String>>,
    /// On FAULT.
    pub fault: Option<Vec<String>>,
    /// On STOP.
    pub stop: Option<Vec<String>>,
    /// On every change, with `INSTANCE <name> <STATE> <priority>` appended.
    pub any: Option<Vec<String>>,
}

/// A validated instance: everything needed to build and run it except the primary address,
/// which may come from the interface at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    /// The unique name.
    pub name: String,
    /// The interface.
    pub interface: String,
    /// The receive-side configuration.
    pub config: InstanceConfig,
    /// The virtual addresses with their prefixes.
    pub vips: Vec<Vip>,
    /// The configured primary address, if any (else taken from the interface).
    pub primary: Option<IpAddr>,
    /// Preempt mode.
    pub preempt: bool,
    /// keepalived `preempt_delay`.
    pub preempt_delay: Duration,
    /// GARP scheduling.
    pub announce: AnnounceSettings,
    /// What a master does with a lower-priority advert.
    pub lower_priority: LowerPriority,
    /// `(script name, weight)` pairs.
    pub track_scripts: Vec<(String, i16)>,
    /// `(interface, weight)` pairs, including the instance's own interface (weight 0) unless
    /// `dont_track_primary`.
    pub track_interfaces: Vec<(String, i16)>,
    /// Notify commands.
    pub notify: Notify,
}

impl InstanceSpec {
    /// The machine's settings with `primary` as the advert source.
    pub fn settings(&self, primary: IpAddr) -> Settings {
        let mut s = Settings::new(primary);
        s.preempt = self.preempt;
        s.preempt_delay = self.preempt_delay;
        s.announce = self.announce;
        s.lower_priority = self.lower_priority;
        s
    }

    /// Build the (stopped) machine.
    pub fn build(&self, primary: IpAddr) -> Result<Instance, String> {
        Instance::new(self.config.clone(), self.settings(primary))
            .map_err(|e| format!("instance {}: {e}", self.name))
    }

    /// Whether this instance speaks IPv6.
    pub fn is_v6(&self) -> bool {
        self.vips.first().is_some_and(|v| v.addr.is_ipv6())
    }
}

/// A validated track script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptSpec {
    /// Its name.
    pub name: String,
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Time between runs.
    pub interval: Duration,
    /// Time a run may take.
    pub timeout: Duration,
    /// Consecutive successes to go up.
    pub rise: u32,
    /// Consecutive failures to go down.
    pub fall: u32,
    /// Initially failed.
    pub init_fail: bool,
}

/// Validated daemon-wide settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalSpec {
    /// Pacing of GARP frames within a burst.
    pub garp_interval: Duration,
    /// Interface state polling period.
    pub interface_poll: Duration,
    /// Periodic VIP reconciliation (zero: off).
    pub vip_reconcile: Duration,
}

/// A validated configuration, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Daemon-wide settings.
    pub global: GlobalSpec,
    /// Track scripts.
    pub scripts: Vec<ScriptSpec>,
    /// Instances, in file order.
    pub instances: Vec<InstanceSpec>,
    /// Sync groups: name and member indices into `instances`.
    pub groups: Vec<(String, Vec<usize>)>,
    /// Where the status is written, if anywhere ([`super::status`]).
    pub status_file: Option<std::path::PathBuf>,
    /// `SCHED_FIFO` priority for the VRRP loop (0: none); see [`super::host::set_realtime`].
    pub rt_priority: u8,
}

/// Split a command line into words: white space separates, single or double quotes group
/// (the same rules as the health checks' program probes).
pub fn split_command(s: &str) -> Result<Vec<String>, String> {
    let words = lvs_core::health::split_command(s).map_err(|e| format!("{e} in {s:?}"))?;
    if words.is_empty() {
        return Err("empty command".to_owned());
    }
    Ok(words)
}

/// Seconds as a duration, within `min..=max`.
fn seconds(what: &str, v: f64, min: f64, max: f64) -> Result<Duration, String> {
    if v.is_finite() && v >= min && v <= max {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("{what} must be {min}..={max} seconds, not {v}"))
    }
}

fn weight(what: &str, w: i16) -> Result<i16, String> {
    if (-253..=253).contains(&w) {
        Ok(w)
    } else {
        Err(format!("{what}: weight {w} is outside -253..=253"))
    }
}

impl Config {
    /// Parse TOML text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

impl Plan {
    /// Validate `c`, reporting every problem found.
    pub fn from_config(c: &Config) -> Result<Self, Vec<String>> {
        let mut errs = Vec::new();
        let g = &c.global;
        let global = GlobalSpec {
            garp_interval: seconds("global.garp_interval", g.garp_interval, 0.0, 10.0)
                .unwrap_or_else(|e| push(&mut errs, e, Duration::ZERO)),
            interface_poll: seconds("global.interface_poll", g.interface_poll, 0.05, 3600.0)
                .unwrap_or_else(|e| push(&mut errs, e, Duration::from_secs(1))),
            vip_reconcile: seconds("global.vip_reconcile", g.vip_reconcile, 0.0, 86_400.0)
                .unwrap_or_else(|e| push(&mut errs, e, Duration::ZERO)),
        };
        if g.rt_priority > 99 {
            errs.push(format!(
                "global.rt_priority {}: SCHED_FIFO priorities are 1..=99 (0: none)",
                g.rt_priority
            ));
        }
        let mut scripts = Vec::new();
        let mut script_weights = BTreeMap::new();
        for s in &c.scripts {
            match script_spec(s) {
                Ok(spec) => {
                    if script_weights.insert(s.name.clone(), s.weight).is_some() {
                        errs.push(format!("script {:?} defined twice", s.name));
                    }
                    scripts.push(spec);
                }
                Err(e) => errs.push(e),
            }
        }
        let mut instances = Vec::new();
        let mut names = BTreeMap::new();
        let mut vrids = BTreeSet::new();
        for i in &c.instances {
            match instance_spec(i, &script_weights) {
                Ok(spec) => {
                    if names.insert(spec.name.clone(), instances.len()).is_some() {
                        errs.push(format!("instance {:?} defined twice", spec.name));
                    }
                    if !vrids.insert((spec.interface.clone(), spec.config.vrid, spec.is_v6())) {
                        errs.push(format!(
                            "instance {}: VRID {} is used twice on {}",
                            spec.name, spec.config.vrid, spec.interface
                        ));
                    }
                    instances.push(spec);
                }
                Err(mut e) => errs.append(&mut e),
            }
        }
        let mut groups = Vec::new();
        let mut grouped = BTreeSet::new();
        for sg in &c.sync_groups {
            let mut members = Vec::new();
            for m in &sg.members {
                match names.get(m) {
                    Some(&ix) if grouped.insert(ix) => members.push(ix),
                    Some(_) => errs.push(format!(
                        "sync group {}: instance {m} is already in a sync group",
                        sg.name
                    )),
                    None => errs.push(format!("sync group {}: no instance {m:?}", sg.name)),
                }
            }
            if members.is_empty() {
                errs.push(format!("sync group {:?} has no members", sg.name));
            }
            groups.push((sg.name.clone(), members));
        }
        if errs.is_empty() {
            Ok(Self {
                global,
                scripts,
                instances,
                groups,
                status_file: g.status_file.clone(),
                rt_priority: g.rt_priority,
            })
        } else {
            Err(errs)
        }
    }

    /// Parse and validate TOML text.
    pub fn from_toml(text: &str) -> Result<Self, Vec<String>> {
        let c = Config::from_toml(text).map_err(|e| vec![e])?;
        Self::from_config(&c)
    }
}

fn push<T>(errs: &mut Vec<String>, e: String, fallback: T) -> T {
    errs.push(e);
    fallback
}

fn script_spec(s: &ScriptConfig) -> Result<ScriptSpec, String> {
    let what = format!("script {:?}", s.name);
    if s.name.is_empty() {
        return Err("a script has no name".to_owned());
    }
    let argv = split_command(&s.script).map_err(|e| format!("{what}: {e}"))?;
    let interval = seconds(&format!("{what} interval"), s.interval, 0.01, 86_400.0)?;
    let timeout = match s.timeout {
        Some(t) => seconds(&format!("{what} timeout"), t, 0.01, 86_400.0)?,
        None => interval,
    };
    weight(&what, s.weight)?;
    if s.rise == 0 || s.fall == 0 {
        return Err(format!("{what}: rise and fall must be at least 1"));
    }
    Ok(ScriptSpec {
        name: s.name.clone(),
        argv,
        interval,
        timeout,
        rise: s.rise,
        fall: s.fall,
        init_fail: s.init_fail,
    })
}

fn notify(what: &str, s: Option<&String>, errs: &mut Vec<String>) -> Option<Vec<String>> {
    let s = s?;
    split_command(s)
        .map_err(|e| errs.push(format!("{what}: {e}")))
        .ok()
}

fn instance_spec(
    i: &InstanceToml,
    script_weights: &BTreeMap<String, i16>,
) -> Result<InstanceSpec, Vec<String>> {
    let name = if i.name.is_empty() {
        "<unnamed>"
    } else {
        &i.name
    };
    let what = format!("instance {name}");
    let mut errs = Vec::new();
    if i.name.is_empty() {
        errs.push("an instance has no name".to_owned());
    }
    if i.interface.is_empty() {
        errs.push(format!("{what}: no interface"));
    }
    let mut vips = Vec::new();
    for s in &i.virtual_addresses {
        match Vip::parse(s) {
            Ok(v) => vips.push(v),
            Err(e) => errs.push(format!("{what}: {e}")),
        }
    }
    let v6 = vips.first().is_some_and(|v| v.addr.is_ipv6());
    if vips.iter().any(|v| v.addr.is_ipv6() != v6) {
        errs.push(format!("{what}: virtual addresses mix IPv4 and IPv6"));
    }
    let addresses = if v6 {
        Addresses::V6(
            vips.iter()
                .filter_map(|v| match v.addr {
                    IpAddr::V6(a) => Some(a),
                    IpAddr::V4(_) => None,
                })
                .collect(),
        )
    } else {
        Addresses::V4(
            vips.iter()
                .filter_map(|v| match v.addr {
                    IpAddr::V4(a) => Some(a),
                    IpAddr::V6(_) => None,
                })
                .collect(),
        )
    };
    let version = match i.version {
        2 => {
            let ok = i.advert_int.fract() == 0.0 && (1.0..=255.0).contains(&i.advert_int);
            if !ok {
                errs.push(format!(
                    "{what}: version 2 advert_int must be whole seconds 1..=255"
                ));
            }
            if v6 {
                errs.push(format!("{what}: version 2 is IPv4 only"));
            }
            let auth = match &i.auth_pass {
                Some(p) if p.is_empty() => {
                    errs.push(format!("{what}: empty auth_pass"));
                    Auth::None
                }
                Some(p) => Auth::simple_text(p.as_bytes()),
                None => Auth::None,
            };
            // Range-checked above (any error is reported), so the cast cannot truncate.
            VersionRepr::V2 {
                auth,
                adver_int: i.advert_int.clamp(1.0, 255.0) as u8,
            }
        }
        3 => {
            let centis = (i.advert_int * 100.0).round();
            let exact = ((i.advert_int * 100.0) - centis).abs() < 1e-6;
            if !(exact && (1.0..=4095.0).contains(&centis)) {
                errs.push(format!(
                    "{what}: version 3 advert_int must be 0.01..=40.95 s in steps of 0.01"
                ));
            }
            if i.auth_pass.is_some() {
                errs.push(format!("{what}: auth_pass needs version 2"));
            }
            // Range-checked above, so the cast cannot truncate.
            VersionRepr::V3 {
                max_adver_int: centis.clamp(1.0, 4095.0) as u16,
            }
        }
        n => {
            errs.push(format!("{what}: version must be 2 or 3, not {n}"));
            VersionRepr::V3 { max_adver_int: 100 }
        }
    };
    let mut config = InstanceConfig::new(i.vrid, i.priority, version, addresses);
    for (label, ip) in [("primary", i.primary), ("unicast_src", i.unicast_src)] {
        if let Some(ip) = ip
            && ip.is_ipv6() != v6
        {
            errs.push(format!("{what}: {label} {ip} is not of the VIPs' family"));
        }
    }
    if !i.unicast_peers.is_empty() {
        if i.unicast_peers.iter().any(|p| p.is_ipv6() != v6) {
            errs.push(format!("{what}: a unicast peer is not of the VIPs' family"));
        }
        config.transport = Transport::Unicast(UnicastConfig::new(i.unicast_peers.clone()));
    } else if i.unicast_src.is_some() {
        errs.push(format!("{what}: unicast_src without unicast_peers"));
    }
    let preempt_delay = seconds(
        &format!("{what} preempt_delay"),
        i.preempt_delay,
        0.0,
        1000.0,
    )
    .unwrap_or_else(|e| push(&mut errs, e, Duration::ZERO));
    let announce = AnnounceSettings {
        master_delay: seconds(
            &format!("{what} garp_master_delay"),
            i.garp_master_delay,
            0.0,
            86_400.0,
        )
        .unwrap_or_else(|e| push(&mut errs, e, Duration::ZERO)),
        master_repeat: i.garp_master_repeat.min(1000),
        refresh: seconds(
            &format!("{what} garp_master_refresh"),
            i.garp_master_refresh,
            0.0,
            86_400.0,
        )
        .unwrap_or_else(|e| push(&mut errs, e, Duration::ZERO)),
        refresh_repeat: i.garp_master_refresh_repeat.min(1000),
        lower_prio_repeat: i.garp_lower_prio_repeat.min(1000),
    };
    let mut track_scripts = Vec::new();
    for t in &i.track_script {
        match script_weights.get(&t.name) {
            Some(&w) => match weight(
                &format!("{what} track_script {}", t.name),
                t.weight.unwrap_or(w),
            ) {
                Ok(w) => track_scripts.push((t.name.clone(), w)),
                Err(e) => errs.push(e),
            },
            None => errs.push(format!("{what}: no script named {:?}", t.name)),
        }
    }
    let mut track_interfaces = Vec::new();
    if !i.dont_track_primary && !i.interface.is_empty() {
        track_interfaces.push((i.interface.clone(), 0));
    }
    for t in &i.track_interface {
        match weight(&format!("{what} track_interface {}", t.name), t.weight) {
            Ok(w) => track_interfaces.push((t.name.clone(), w)),
            Err(e) => errs.push(e),
        }
    }
    let notify = Notify {
        master: notify(&what, i.notify_master.as_ref(), &mut errs),
        backup: notify(&what, i.notify_backup.as_ref(), &mut errs),
        fault: notify(&what, i.notify_fault.as_ref(), &mut errs),
        stop: notify(&what, i.notify_stop.as_ref(), &mut errs),
        any: notify(&what, i.notify.as_ref(), &mut errs),
    };
    let spec = InstanceSpec {
        name: i.name.clone(),
        interface: i.interface.clone(),
        config,
        vips,
        primary: i.primary.or(i.unicast_src),
        preempt: i.preempt,
        preempt_delay,
        announce,
        lower_priority: if i.lower_prio_no_advert {
            LowerPriority::Discard
        } else {
            LowerPriority::Answer
        },
        track_scripts,
        track_interfaces,
        notify,
    };
    // The machine's own checks (VRID, priority, interval, family), with a stand-in primary.
    let stand_in = spec.primary.unwrap_or(if v6 {
        IpAddr::V6(core::net::Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED)
    });
    if errs.is_empty()
        && let Err(e) = spec.build(stand_in)
    {
        errs.push(e);
    }
    if errs.is_empty() { Ok(spec) } else { Err(errs) }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
