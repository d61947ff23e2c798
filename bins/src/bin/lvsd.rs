//! `lvsd`: the proxy-mode IP virtual server daemon (no root needed).
//!
//! ```text
//! lvsd -c /etc/lvsd.toml          # run
//! lvsd -c /etc/lvsd.toml --check  # validate the configuration and exit
//! lvsd --demo                     # a self-contained tour on loopback
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lvs_bins::io::init_logging;
use lvs_bins::lvsd::{Config, Daemon, demo};

/// Proxy-mode IP virtual server: schedules TCP and UDP connections over real servers with the
/// IPVS schedulers, with health checks; administer it with lvsadm.
#[derive(Debug, Parser)]
#[command(
    name = "lvsd",
    version,
    about = "The director daemon: IPVS virtual services in proxy mode, with health checks"
)]
struct Args {
    /// Configuration file (TOML).
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        required_unless_present = "demo"
    )]
    config: Option<PathBuf>,
    /// Check the configuration and exit.
    #[arg(long, requires = "config")]
    check: bool,
    /// Run the built-in demonstration (backends, failover, recovery) and exit.
    #[arg(long, conflicts_with_all = ["config", "check"])]
    demo: bool,
    /// More logging (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // The demo prints its own story; its log lines only with -v.
    if (!args.demo || args.verbose > 0)
        && let Err(e) = init_logging(args.verbose)
    {
        eprintln!("lvsd: {e}");
        return ExitCode::from(2);
    }
    if args.demo {
        return match demo::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lvsd --demo: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let Some(path) = args.config else {
        eprintln!("lvsd: -c FILE is required");
        return ExitCode::from(2);
    };
    let cfg = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lvsd: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!(
            "{}: OK ({} services, control socket {})",
            path.display(),
            cfg.services.len(),
            cfg.control_path().display()
        );
        return ExitCode::SUCCESS;
    }
    let mut daemon = match Daemon::new(&cfg, Some(path), true) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("lvsd: {e}");
            return ExitCode::FAILURE;
        }
    };
    match daemon.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lvsd: {e}");
            ExitCode::FAILURE
        }
    }
}
