//! `lvs-named`: a caching DNS forwarder configured like a forward-only BIND.
//!
//! ```text
//! lvs-named -c /etc/bind/named.conf -n 2
//! lvs-named --checkconf /etc/bind/named.conf    # as named-checkconf: silent and 0 when valid
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lvs_bins::io::init_logging;
use lvs_bins::named::{Options, checkconf, run};

/// A caching DNS forwarder reading BIND's named.conf.
#[derive(Debug, Parser)]
#[command(
    name = "lvs-named",
    version,
    about = "A caching DNS forwarder that runs BIND forward-only configurations"
)]
struct Args {
    /// The configuration file.
    #[arg(short = 'c', default_value = "/etc/bind/named.conf")]
    config: PathBuf,
    /// Check FILE as named-checkconf does: print nothing and exit 0 when it is valid, print
    /// `FILE:LINE: message` and exit 1 otherwise.
    #[arg(long, value_name = "FILE")]
    checkconf: Option<String>,
    /// Worker threads, each with its own loop and forwarder (SO_REUSEPORT).
    #[arg(short = 'n', default_value_t = 1)]
    workers: usize,
    /// Listen on this port instead of the configured one.
    #[arg(short = 'p')]
    port: Option<u16>,
    /// Run in the foreground (always the case; accepted for BIND compatibility).
    #[arg(short = 'g')]
    foreground: bool,
    /// Run in the foreground (always the case; accepted for BIND compatibility).
    #[arg(short = 'f')]
    foreground_f: bool,
    /// More logging (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(file) = &args.checkconf {
        return match checkconf(file) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                println!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Err(e) = init_logging(args.verbose) {
        eprintln!("lvs-named: {e}");
        return ExitCode::FAILURE;
    }
    let opts = Options {
        config: args.config,
        workers: args.workers,
        port: args.port,
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lvs-named: {e}");
            ExitCode::FAILURE
        }
    }
}
