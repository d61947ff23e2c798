//! `lvsd`: the IP virtual server daemon, in proxy mode (the default, no root needed) or in
//! packet mode (`mode = "packet"` in the TOML file: AF_PACKET on an interface, NAT/DR/TUN).
//!
//! ```text
//! lvsd -c /etc/lvsd.toml          # run
//! lvsd -c /etc/lvsd.toml --check  # validate the configuration and exit
//! lvsd --lvs-cf /etc/sysconfig/ha/lvs.cf [--check]   # import Piranha's lvs.cf
//! lvsd -f /etc/keepalived/keepalived.conf [--check]  # import keepalived virtual_servers
//! lvsd --demo                     # a self-contained tour on loopback
//! ```
//!
//! The director pair's VRRP runs inside lvsd when the TOML has a `[vrrp]` table, or when the
//! keepalived.conf given to `-f` has `vrrp_instance` blocks (`--no-vrrp` leaves those to
//! lvs-vrrpd): SIGTERM makes its masters resign while lvsd drains, SIGHUP reloads both halves.
//! In packet mode the VRRP half does not add the VIPs to the interface: it tells the packet
//! plane which VIPs it holds, and lvsd answers ARP only for those (see `lvsd::vrrp`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lvs_bins::io::init_logging;
use lvs_bins::lvsd::config::VrrpSource;
use lvs_bins::lvsd::import::{self, Legacy};
use lvs_bins::lvsd::packet::PacketDaemon;
use lvs_bins::lvsd::vrrp::VrrpHalf;
use lvs_bins::lvsd::{ConfigFile, Daemon, DataPlane, demo};
use lvs_bins::vrrpd::Format;
use lvs_bins::vrrpd::held::HeldVips;

/// IP virtual server: schedules TCP and UDP connections over real servers with the IPVS
/// schedulers, with health checks, as a proxy or as a packet-level director; administer it
/// with lvsadm.
#[derive(Debug, Parser)]
#[command(
    name = "lvsd",
    version,
    about = "The director daemon: IPVS virtual services in proxy or packet mode, with health checks"
)]
struct Args {
    /// Configuration file (TOML).
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        required_unless_present_any = ["demo", "lvs_cf", "keepalived"],
        conflicts_with_all = ["lvs_cf", "keepalived"]
    )]
    config: Option<PathBuf>,
    /// Import a Piranha lvs.cf instead of a TOML configuration.
    #[arg(long = "lvs-cf", value_name = "FILE", conflicts_with = "keepalived")]
    lvs_cf: Option<PathBuf>,
    /// Import the virtual_server blocks of a keepalived.conf.
    #[arg(short = 'f', long = "keepalived", value_name = "FILE")]
    keepalived: Option<PathBuf>,
    /// The control socket (overrides the configuration's `control`; the way to place it for
    /// an imported file, which has no such setting).
    #[arg(long = "control", value_name = "SOCKET")]
    control: Option<PathBuf>,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
    /// Do not run the VRRP instances of a keepalived.conf given to -f (lvs-vrrpd runs them).
    #[arg(long = "no-vrrp")]
    no_vrrp: bool,
    /// Run the built-in demonstration (backends, failover, recovery) and exit.
    #[arg(long, conflicts_with_all = ["config", "check", "lvs_cf", "keepalived"])]
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
    let legacy = match (args.lvs_cf, args.keepalived) {
        (Some(p), _) => Some((p, Legacy::LvsCf)),
        (None, Some(p)) => Some((p, Legacy::Keepalived)),
        (None, None) => None,
    };
    // SIGHUP re-imports an imported file (proxy mode, the only mode an import yields).
    let import_format = legacy.as_ref().map(|(_, f)| *f);
    let (path, mut cfg, plane, reload, vrrp) = if let Some((path, format)) = legacy {
        match import::load(&path, format) {
            Ok(imp) => {
                for n in &imp.notes {
                    eprintln!("lvsd: {n}");
                }
                let vrrp = (imp.vrrp && !args.no_vrrp).then(|| VrrpSource {
                    file: path.clone(),
                    format: Format::Keepalived,
                });
                (path.clone(), imp.config, DataPlane::Proxy, Some(path), vrrp)
            }
            Err(e) => {
                eprintln!("lvsd: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        let Some(path) = args.config else {
            eprintln!("lvsd: -c FILE, --lvs-cf FILE or -f FILE is required");
            return ExitCode::from(2);
        };
        match ConfigFile::load(&path) {
            Ok(f) => (path.clone(), f.config, f.plane, Some(path), f.vrrp),
            Err(e) => {
                eprintln!("lvsd: {e}");
                return ExitCode::from(2);
            }
        }
    };
    if let Some(c) = args.control {
        cfg.control = Some(c);
    }
    if args.check {
        let mode = match &plane {
            DataPlane::Proxy => String::new(),
            DataPlane::Packet(p) => format!(" in packet mode on {}", p.interface),
        };
        let vrrp = match &vrrp {
            None => String::new(),
            Some(v) => match lvs_bins::vrrpd::load(&v.file, v.format) {
                Ok(plan) => format!(", {} VRRP instances", plan.instances.len()),
                Err(errs) => {
                    for e in errs {
                        eprintln!("lvsd: {e}");
                    }
                    return ExitCode::FAILURE;
                }
            },
        };
        println!(
            "{}: OK ({} services{mode}{vrrp}, control socket {})",
            path.display(),
            cfg.services.len(),
            cfg.control_path().display()
        );
        return ExitCode::SUCCESS;
    }
    if let DataPlane::Packet(spec) = &plane {
        let mut daemon = match PacketDaemon::new(&cfg, spec, reload.clone(), true) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("lvsd: {e}");
                return ExitCode::FAILURE;
            }
        };
        // The pair's VIPs stay off the interface: the VRRP half publishes the ones it holds
        // and the packet plane answers ARP for those only.
        let held = vrrp.is_some().then(HeldVips::new);
        if let Some(h) = &held {
            daemon.follow_vrrp(h.clone());
        }
        let half = match start_vrrp(vrrp.as_ref(), held) {
            Ok(h) => h,
            Err(code) => return code,
        };
        if let Some(h) = &half {
            daemon.check_vrrp_vips(h.vips());
        }
        return finish(daemon.run(), half);
    }
    let mut daemon = match Daemon::new(&cfg, reload, true) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("lvsd: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(format) = import_format {
        daemon.set_import(format);
    }
    let half = match start_vrrp(vrrp.as_ref(), None) {
        Ok(h) => h,
        Err(code) => return code,
    };
    finish(daemon.run(), half)
}

/// Start the VRRP half once the data plane is ready to carry the VIPs' traffic; with `held`
/// it publishes its VIPs there instead of adding them to the interfaces.
fn start_vrrp(
    source: Option<&VrrpSource>,
    held: Option<HeldVips>,
) -> Result<Option<VrrpHalf>, ExitCode> {
    let Some(v) = source else {
        return Ok(None);
    };
    match VrrpHalf::start(&v.file, v.format, held) {
        Ok(h) => {
            tracing::info!(
                instances = h.instances(),
                "vrrp: running the instances of {}",
                v.file.display()
            );
            Ok(Some(h))
        }
        Err(e) => {
            eprintln!("lvsd: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// The data plane has stopped: make sure the VRRP half has resigned too, then exit.
fn finish(run: std::io::Result<()>, half: Option<VrrpHalf>) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    if let Err(e) = run {
        eprintln!("lvsd: {e}");
        code = ExitCode::FAILURE;
    }
    if let Some(h) = half
        && let Err(e) = h.stop()
    {
        eprintln!("lvsd: {e}");
        code = ExitCode::FAILURE;
    }
    code
}
