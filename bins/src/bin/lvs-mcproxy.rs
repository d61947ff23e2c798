//! `lvs-mcproxy`: a memcached proxy configured like nutcracker (twemproxy).
//!
//! ```text
//! lvs-mcproxy -c nutcracker.yml -w 2
//! lvs-mcproxy -c nutcracker.yml --check
//! ```

use core::time::Duration;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lvs_bins::io::init_logging;
use lvs_bins::mcproxy::{Config, Options, run};
use lvs_sched::mcproxy::SessionConfig;

/// A memcached proxy reading nutcracker's configuration.
#[derive(Debug, Parser)]
#[command(name = "lvs-mcproxy", version, about)]
struct Args {
    /// The nutcracker YAML configuration.
    #[arg(short = 'c', long = "conf-file")]
    conf: PathBuf,
    /// Check the configuration and exit (nutcracker's -t).
    #[arg(short = 't', long = "check", alias = "test-conf")]
    check: bool,
    /// Worker threads, each with its own event loop (SO_REUSEPORT when more than one).
    #[arg(short = 'w', long = "workers", default_value_t = 1)]
    workers: usize,
    /// Milliseconds SIGTERM waits for in-flight requests before closing.
    #[arg(long, default_value_t = 5000)]
    drain_timeout_ms: u64,
    /// Most requests in flight per client connection before reading from it pauses.
    #[arg(long, default_value_t = 1024)]
    max_pending: usize,
    /// More logging (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = init_logging(args.verbose) {
        eprintln!("lvs-mcproxy: {e}");
        return ExitCode::FAILURE;
    }
    if args.check {
        return match Config::load(&args.conf) {
            Ok(c) => {
                println!(
                    "lvs-mcproxy: configuration file '{}' syntax is ok ({} pools)",
                    args.conf.display(),
                    c.pools.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("lvs-mcproxy: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.workers == 0 {
        eprintln!("lvs-mcproxy: -w must be at least 1");
        return ExitCode::FAILURE;
    }
    let opts = Options {
        config_path: args.conf,
        workers: args.workers,
        drain_timeout: Duration::from_millis(args.drain_timeout_ms),
        session: SessionConfig {
            max_pending: args.max_pending.max(1),
            ..SessionConfig::default()
        },
    };
    match run(&opts) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lvs-mcproxy: {e}");
            ExitCode::FAILURE
        }
    }
}
