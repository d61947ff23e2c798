//! `lvs-named`: a caching DNS forwarder configured like a forward-only BIND.
//!
//! * [`conf`]: the named.conf subset (options, acl, key, controls, include), checked the way
//!   named-checkconf checks it, and its mapping onto
//!   [`ForwarderConfig`].
//! * [`worker`]: one mio loop per worker around one
//!   [`Forwarder`]; workers share the listen port with
//!   `SO_REUSEPORT`.
//! * [`run`]: the supervisor: starts `-n` workers, turns SIGTERM/SIGINT into a stop and SIGHUP
//!   into a reload (a new forwarder configuration for every worker, applied with
//!   [`Forwarder::reconfigure`]: the cache is kept, shortened to lower TTL ceilings and
//!   evicted down to a smaller budget).

mod batch;
pub mod conf;
pub mod control;
pub mod parse;
mod tcp;
pub mod values;
pub mod worker;

use core::time::Duration;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;

use lvs_dns::forwarder::{Forwarder, ForwarderConfig};
use mio::Waker;
use rand::SeedableRng;
use rand::rngs::{StdRng, SysRng};

pub use conf::NamedConf;
pub use parse::{ConfError, Files};
use worker::{Command, Worker, WorkerConfig};

/// Unsent reply bytes per TCP client before reading from it pauses.
pub const MAX_UNSENT: usize = 256 * 1024;
/// Unanswered queries per TCP client before reading from it pauses.
pub const MAX_OUTSTANDING: usize = 128;

/// A CSPRNG seeded from the operating system (upstream IDs and ports must be unpredictable).
pub fn os_rng() -> Result<StdRng, String> {
    StdRng::try_from_rng(&mut SysRng).map_err(|e| format!("OS entropy: {e}"))
}

/// How to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// named.conf.
    pub config: PathBuf,
    /// Worker threads (`-n`).
    pub workers: usize,
    /// Listen port override (`-p`).
    pub port: Option<u16>,
}

/// named-checkconf: `Ok(())` for a valid file, else the error as `FILE:LINE: message`.
pub fn checkconf(file: &str) -> Result<NamedConf, ConfError> {
    NamedConf::load(&mut Files, file)
}

/// What one load of the configuration gives every worker.
fn plan(
    file: &str,
    port: Option<u16>,
) -> Result<(NamedConf, ForwarderConfig, WorkerConfig), String> {
    let conf = checkconf(file).map_err(|e| e.to_string())?;
    for w in &conf.warnings {
        tracing::warn!("{w}");
    }
    let listen = conf.listen_plan(port)?;
    for s in &listen.skipped {
        tracing::warn!(element = %s, "listen-on element names no address; not bound");
    }
    if listen.addrs.is_empty() {
        return Err("listen-on and listen-on-v6 name no address to listen on".into());
    }
    let fwd = conf.forwarder_config(listen.port)?;
    let wc = WorkerConfig {
        listen: listen
            .addrs
            .iter()
            .map(|&a| (a, listen.port).into())
            .collect(),
        tcp_clients: conf.tcp_clients(),
        tcp_idle: conf.tcp_idle_timeout(),
        max_unsent: MAX_UNSENT,
        max_outstanding: MAX_OUTSTANDING,
    };
    Ok((conf, fwd, wc))
}

struct Handle {
    tx: Sender<Command>,
    waker: Arc<Waker>,
    join: JoinHandle<()>,
}

fn spawn(i: usize, fwd: ForwarderConfig, wc: WorkerConfig) -> Result<Handle, String> {
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let join = std::thread::Builder::new()
        .name(format!("named-w{i}"))
        .spawn(move || {
            let started = os_rng()
                .and_then(|rng| Forwarder::new(fwd, rng).map_err(|e| e.to_string()))
                .and_then(|f| Worker::new(f, wc, rx).map_err(|e| format!("listen: {e}")));
            match started {
                Ok((mut w, waker)) => {
                    tracing::info!(worker = i, addrs = ?w.local_addrs(), "listening");
                    let _ = ready_tx.send(Ok(waker));
                    if let Err(e) = w.run() {
                        tracing::error!(worker = i, %e, "worker failed");
                    }
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        })
        .map_err(|e| format!("spawn: {e}"))?;
    let waker = ready_rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| "worker did not start".to_owned())??;
    Ok(Handle { tx, waker, join })
}

fn tell(handles: &[Handle], cmd: impl Fn() -> Command) {
    for h in handles {
        if h.tx.send(cmd()).is_ok() {
            let _ = h.waker.wake();
        }
    }
}

/// Starts the rndc command channels of `conf` (none when it has no `controls`).
fn start_control(conf: &NamedConf, file: &str, handles: &[Handle]) -> Result<(), String> {
    let channels = control::channels(conf)?;
    if channels.is_empty() {
        return Ok(());
    }
    let boot = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let info = control::Info {
        config: file.to_owned(),
        workers: handles.len(),
        boot,
        statistics_file: conf
            .statistics_file
            .clone()
            .unwrap_or_else(|| "named.stats".into()),
        dump_file: conf
            .dump_file
            .clone()
            .unwrap_or_else(|| "named_dump.db".into()),
    };
    let workers = handles
        .iter()
        .map(|h| (h.tx.clone(), Arc::clone(&h.waker)))
        .collect();
    let acls = lvs_dns::forwarder::Acls::new(conf.acls.clone());
    control::start(channels, &acls, &workers, &info).map(|_| ())
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(opts: &Options) -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| format!("signals: {e}"))?;
    let file = std::path::absolute(&opts.config)
        .map_err(|e| format!("{}: {e}", opts.config.display()))?
        .to_string_lossy()
        .into_owned();
    let (conf, fwd, wc) = plan(&file, opts.port)?;
    if let Some(dir) = &conf.directory {
        std::env::set_current_dir(dir)
            .map_err(|e| format!("change directory to '{dir}' failed: {e}"))?;
    }
    let mut handles = Vec::new();
    for i in 0..opts.workers.max(1) {
        match spawn(i, fwd.clone(), wc.clone()) {
            Ok(h) => handles.push(h),
            Err(e) => {
                tell(&handles, || Command::Stop);
                return Err(e);
            }
        }
    }
    tracing::info!(workers = handles.len(), forwarders = ?fwd.forwarders, "running");
    if let Err(e) = start_control(&conf, &file, &handles) {
        tell(&handles, || Command::Stop);
        return Err(e);
    }
    for sig in signals.forever() {
        if sig == SIGHUP {
            match plan(&file, opts.port) {
                Ok((_, fwd, wc)) => {
                    tracing::info!("reloading {file}");
                    tell(&handles, || {
                        Command::Reload(Box::new((fwd.clone(), wc.clone())))
                    });
                }
                Err(e) => tracing::error!("reload failed, keeping the running configuration: {e}"),
            }
        } else {
            tracing::info!(signal = sig, "stopping");
            break;
        }
    }
    tell(&handles, || Command::Stop);
    for h in handles {
        let _ = h.join.join();
    }
    Ok(())
}
