//! `lvs-mcproxy`: a memcached proxy configured like nutcracker (twemproxy).
//!
//! ```text
//! lvs-mcproxy -c nutcracker.yml -w 2
//! lvs-mcproxy -c pools.toml --key-policy strict
//! lvs-mcproxy -c nutcracker.yml --check
//! ```

use core::time::Duration;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use lvs_bins::io::init_logging;
use lvs_bins::mcproxy::{Config, Options, run};
use lvs_core::memcache::{KeyPolicy, Limits};
use lvs_sched::mcproxy::SessionConfig;

/// Which key bytes clients may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Keys {
    /// memcached 1.6.18's own rule: any byte but space (a NUL ends the command line).
    Memcached,
    /// No NUL, no control byte (TAB included), no DEL, no byte of 0x80 and above:
    /// `CLIENT_ERROR bad command line format` instead, so the proxy hashes exactly the key
    /// the server stores.
    Strict,
    /// As strict, but bytes of 0x80 and above (UTF-8 keys) are allowed.
    StrictHighBytes,
}

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
    /// Which key bytes clients may use.
    #[arg(long, value_enum, default_value_t = Keys::Memcached)]
    key_policy: Keys,
    /// The servers' item size limit in bytes (memcached's -I): a larger item is answered
    /// `SERVER_ERROR object too large for cache` by the proxy, as the server would.
    #[arg(long, default_value_t = 1 << 20, value_parser = clap::value_parser!(u32).range(1024..=1 << 30))]
    item_size_max: u32,
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
            limits: Limits {
                keys: match args.key_policy {
                    Keys::Memcached => KeyPolicy::Memcached,
                    Keys::Strict => KeyPolicy::Strict {
                        allow_high_bytes: false,
                    },
                    Keys::StrictHighBytes => KeyPolicy::Strict {
                        allow_high_bytes: true,
                    },
                },
                item_size_max: args.item_size_max as usize,
                ..Limits::MEMCACHED_1_6_18
            },
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
