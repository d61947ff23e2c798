//! `lvs-vrrpd`: a VRRP v2/v3 daemon (keepalived's VRRP half) on the lvs event loop.
//!
//! ```text
//! lvs-vrrpd -c /etc/lvs/vrrpd.toml          # run
//! lvs-vrrpd -f /etc/keepalived/keepalived.conf --check
//! ```
//!
//! SIGTERM / SIGINT: masters resign (priority 0), VIPs are removed, the daemon exits.
//! SIGHUP: the configuration is read again; unchanged instances keep running.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lvs_bins::io::{Exit, init_logging};
use lvs_bins::vrrpd::config::Plan;
use lvs_bins::vrrpd::{FileShell, Format, load, start};

/// A VRRP daemon (RFC 3768 / 5798 / 9568) that interoperates with keepalived.
#[derive(Debug, Parser)]
#[command(
    name = "lvs-vrrpd",
    version,
    about = "VRRP v2/v3 router daemon, interoperable with keepalived"
)]
struct Args {
    /// The configuration in the daemon's TOML format.
    #[arg(
        short = 'c',
        long = "config",
        conflicts_with = "keepalived",
        required_unless_present = "keepalived"
    )]
    config: Option<PathBuf>,
    /// A keepalived.conf (the vrrp_instance / vrrp_sync_group / vrrp_script subset).
    #[arg(short = 'f', long = "keepalived-conf")]
    keepalived: Option<PathBuf>,
    /// Validate the configuration, print the result and exit (0: valid, 1: not).
    #[arg(long)]
    check: bool,
    /// More logging (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (path, format) = match (&args.config, &args.keepalived) {
        (Some(p), _) => (p.clone(), Format::Toml),
        (None, Some(p)) => (p.clone(), Format::Keepalived),
        (None, None) => {
            eprintln!("lvs-vrrpd: give -c <config.toml> or -f <keepalived.conf>");
            return ExitCode::FAILURE;
        }
    };
    let plan = match load(&path, format) {
        Ok(p) => p,
        Err(errs) => {
            for e in errs {
                eprintln!("lvs-vrrpd: {e}");
            }
            return ExitCode::FAILURE;
        }
    };
    if args.check {
        println!(
            "{}: OK ({} instances, {} scripts, {} sync groups)",
            path.display(),
            plan.instances.len(),
            plan.scripts.len(),
            plan.groups.len()
        );
        return ExitCode::SUCCESS;
    }
    if let Err(e) = init_logging(args.verbose.max(1)) {
        eprintln!("lvs-vrrpd: {e}");
        return ExitCode::FAILURE;
    }
    let shell = FileShell {
        path,
        format,
        prefix: "",
    };
    match run(plan, shell) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(plan: Plan, mut shell: FileShell) -> Result<(), String> {
    let (mut el, mut daemon) = start(plan, None)?;
    let exit = el
        .run(&mut daemon, &mut shell)
        .map_err(|e| format!("event loop: {e}"))?;
    match exit {
        Exit::Signal(sig) => tracing::info!(signal = sig, "exited"),
        Exit::Requested => tracing::info!("exited"),
    }
    Ok(())
}
