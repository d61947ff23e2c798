//! `lvs-mcproxy`: a memcached proxy that reads nutcracker's configuration and runs the
//! [`lvs_sched::mcproxy`] core over real sockets.
//!
//! * [`Config`]: nutcracker YAML pools (`listen`, `hash`, `hash_tag`, `distribution`,
//!   `timeout`, `auto_eject_hosts`, `server_retry_timeout`, `server_failure_limit`,
//!   `client_connections`, `tcpkeepalive`, `servers`), parsed by a strict line-based reader of
//!   that YAML subset with line-numbered errors, or the same pools in TOML (a file ending in
//!   `.toml`); beyond nutcracker, `ejection_policy` / `failover` and the `health_check_*` keys.
//! * [`Worker`]: one mio loop per thread; every worker binds each pool's address (with
//!   `SO_REUSEPORT` when there are several). Each client connection gets a
//!   [`Session`](lvs_sched::mcproxy::Session); the sessions of a worker share one backend
//!   connection per pool server (opened lazily, non-blocking connect with a timeout), where
//!   their requests are queued in order, written in one batch per wake-up, and the replies
//!   handed back to their sessions in that order (as nutcracker multiplexes its clients).
//!   Client reads stop while a session applies backpressure; a slow client never holds up the
//!   shared connection (its replies wait in its own session, which then stops taking
//!   requests); all buffers are bounded by the session limits.
//! * Backend health ([`Health`]), per worker and pool: `server_failure_limit` consecutive
//!   failures (refused or timed-out connect, reset, reply timeout, protocol fault) eject a
//!   server for `server_retry_timeout`. A failure settles the in-flight requests of every
//!   session on that connection (errors, or misses inside multi-gets) and nothing else; an
//!   ejection also marks the server down in every session (`backend_down`), then up
//!   again (`backend_up`) when the time has passed. With `auto_eject_hosts: true` its keys move
//!   to the ring neighbours (twemproxy); with `false` the ring is kept and its keys fail fast
//!   (`SERVER_ERROR backend unavailable`, misses inside multi-gets) instead of every request
//!   waiting on a dead server. `ejection_policy: failover` sends them to the first live
//!   server of the ejected one's `failover:` list instead.
//! * Active health checks (`health_check_interval:` above 0): every interval each worker
//!   sends `version` to each server on a probe connection of its own; `health_check_fall`
//!   consecutive failed probes (no connection, no `VERSION` line within the timeout, or any
//!   other line) eject the server as above, and an ejected server comes back only after
//!   `health_check_rise` consecutive successful probes instead of after
//!   `server_retry_timeout`.
//! * Signals: SIGTERM / SIGINT stop accepting and let in-flight requests finish (up to the
//!   drain timeout); SIGHUP re-reads the configuration for new connections.

mod config;
mod health;
mod pipe;
mod toml_conf;
mod worker;
mod yaml;

use core::time::Duration;
use std::path::PathBuf;

pub use config::{Config, ConfigError, DEFAULT_CONNECT_TIMEOUT, HealthCheck, PoolConfig};
pub use health::{Health, ProbeChange};
pub use worker::{Worker, WorkerOptions, WorkerStats};
pub use yaml::YamlError;

use lvs_sched::mcproxy::SessionConfig;

/// What [`run`] needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The nutcracker configuration file.
    pub config_path: PathBuf,
    /// Worker threads (at least 1).
    pub workers: usize,
    /// How long SIGTERM waits for in-flight requests.
    pub drain_timeout: Duration,
    /// Session limits.
    pub session: SessionConfig,
}

/// Why the proxy could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A socket, poll or thread could not be set up.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A worker thread panicked.
    #[error("worker {0} panicked")]
    Panicked(usize),
}

/// Loads the configuration, starts the workers and waits for them to stop (after SIGTERM or
/// SIGINT). Listeners are bound and signal handlers installed before this returns control
/// to any worker, so a bind error is reported here.
pub fn run(opts: &Options) -> Result<WorkerStats, RunError> {
    let config = Config::load(&opts.config_path)?;
    let n = opts.workers.max(1);
    let wopts = WorkerOptions {
        session: opts.session.clone(),
        drain_timeout: opts.drain_timeout,
        reuse_port: n > 1,
        config_path: Some(opts.config_path.clone()),
    };
    let mut workers = Vec::with_capacity(n);
    for id in 0..n {
        let w = Worker::new(id, &config, wopts.clone()).map_err(|source| RunError::Io {
            context: format!("worker {id}"),
            source,
        })?;
        workers.push(w);
    }
    for p in &config.pools {
        tracing::info!(pool = %p.name, listen = %p.listen, servers = p.servers.len(), workers = n, "listening");
    }
    let mut handles = Vec::with_capacity(n);
    for (id, w) in workers.into_iter().enumerate() {
        let h = std::thread::Builder::new()
            .name(format!("mcproxy-{id}"))
            .spawn(move || w.run())
            .map_err(|source| RunError::Io {
                context: "spawning a worker".into(),
                source,
            })?;
        handles.push(h);
    }
    let mut total = WorkerStats::default();
    let mut first_error = None;
    for (id, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(Ok(s)) => {
                total.accepted += s.accepted;
                total.refused += s.refused;
                total.backend_connects += s.backend_connects;
                total.backend_failures += s.backend_failures;
                total.ejections += s.ejections;
                total.requests += s.requests;
                total.unavailable += s.unavailable;
            }
            Ok(Err(source)) => {
                first_error.get_or_insert(RunError::Io {
                    context: format!("worker {id}"),
                    source,
                });
            }
            Err(_) => {
                first_error.get_or_insert(RunError::Panicked(id));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(total),
    }
}
