//! `lvs-ntpd`: NTP client and server with ntpd's configuration and operator tools.
//!
//! ```text
//! lvs-ntpd -c /etc/ntp.conf                 # run (monitor mode without CAP_SYS_TIME)
//! lvs-ntpd -c ntp.conf --check              # check the configuration
//! lvs-ntpd -c ntp.conf --monitor --port 4123 --listen 127.0.0.1
//! lvs-ntpd --peers  [--control PATH]        # ntpq -p
//! lvs-ntpd --status [--control PATH]        # ntpstat (exit 0 / 1 / 2)
//! lvs-ntpd -q 192.0.2.1                     # ntpdate -q
//! ```

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lvs_bins::io::init_logging;
use lvs_bins::ntpd::config::{Config, DEFAULT_CONTROL_SOCKET, ServerEntry};
use lvs_bins::ntpd::control::{Request, ask};
use lvs_bins::ntpd::daemon::{Options, run};
use lvs_bins::ntpd::query::{query, query_replies};
use lvs_ntp::report::{NTPSTAT_INDETERMINATE, NTPSTAT_NO_DAEMON, TraceHop, query_report};

/// An NTP daemon reading ntp.conf.
#[derive(Debug, Parser)]
#[command(
    name = "lvs-ntpd",
    version,
    about = "NTP client and intranet time server (ntpd-compatible configuration)"
)]
struct Args {
    /// ntp.conf (or a .toml file).
    #[arg(short = 'c', long = "conf")]
    conf: Option<PathBuf>,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
    /// Never change the clock: log what would be done.
    #[arg(long)]
    monitor: bool,
    /// UDP port to serve on.
    #[arg(long, default_value_t = 123)]
    port: u16,
    /// Address to serve on.
    #[arg(long, default_value = "0.0.0.0")]
    listen: IpAddr,
    /// Control socket (default: the configuration's `controlsocket`, else /run/lvs-ntpd.sock).
    #[arg(long)]
    control: Option<PathBuf>,
    /// Print the peer table of a running daemon (like `ntpq -p`).
    #[arg(long, conflicts_with_all = ["status", "query"])]
    peers: bool,
    /// Print the synchronisation status of a running daemon (like `ntpstat`).
    #[arg(long, conflicts_with = "query")]
    status: bool,
    /// Query these servers once and print the result (like `ntpdate -q`).
    #[arg(short = 'q', long = "query", num_args = 1..)]
    query: Vec<String>,
    /// Walk up the strata from this server (like `ntptrace`): HOST or HOST:PORT; every
    /// upstream is asked on the same port.
    #[arg(long, conflicts_with_all = ["peers", "status", "query"])]
    trace: Option<String>,
    /// More logging (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = init_logging(args.verbose) {
        eprintln!("lvs-ntpd: {e}");
        return ExitCode::FAILURE;
    }
    let config = match &args.conf {
        Some(path) => match Config::load(path) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("lvs-ntpd: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let control = args
        .control
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.control_socket.clone()))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONTROL_SOCKET));
    if args.peers || args.status {
        let request = if args.peers {
            Request::Peers
        } else {
            Request::Status
        };
        return match ask(&control, request) {
            Ok((code, text)) => {
                print!("{text}");
                ExitCode::from(code)
            }
            Err(e) => {
                print!("{NTPSTAT_NO_DAEMON}");
                eprintln!("lvs-ntpd: {}: {e}", control.display());
                ExitCode::from(NTPSTAT_INDETERMINATE)
            }
        };
    }
    if !args.query.is_empty() {
        return one_shot(&args.query);
    }
    if let Some(host) = &args.trace {
        return trace(host);
    }
    let Some(config) = config else {
        eprintln!("lvs-ntpd: -c CONFIG is required to run the daemon");
        return ExitCode::FAILURE;
    };
    if args.check {
        println!(
            "lvs-ntpd: configuration ok ({} servers, {} restrict entries)",
            config.servers.len(),
            config.restrict.len()
        );
        return ExitCode::SUCCESS;
    }
    let opts = Options {
        config,
        listen: args.listen,
        port: args.port,
        monitor: args.monitor,
        control_socket: control,
    };
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lvs-ntpd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Hops a trace follows at most (ntptrace stops at stratum 1 or a loop long before).
const TRACE_HOPS: usize = 16;

fn trace(host: &str) -> ExitCode {
    let mut rng: rand_chacha::ChaCha20Rng = rand::make_rng();
    let first = match Config::from_ntp_conf(&format!("server {host}"))
        .map_err(|e| e.to_string())
        .and_then(|c| {
            let entry = c.servers.into_iter().next().ok_or("no server")?;
            entry.resolve().map_err(|e| e.to_string())
        }) {
        Ok(addrs) if !addrs.is_empty() => addrs[0],
        Ok(_) => {
            eprintln!("lvs-ntpd: {host}: no address");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("lvs-ntpd: {host}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut next = Some(first);
    let mut seen = Vec::new();
    while let Some(server) = next.take() {
        if seen.len() == TRACE_HOPS || seen.contains(&server.ip()) {
            println!("{}: loop or too many hops, stopping", server.ip());
            break;
        }
        seen.push(server.ip());
        let replies = match query_replies(server, Duration::from_secs(1), &mut rng) {
            Ok(r) => r,
            Err(e) => {
                println!("{}: {e}", server.ip());
                return ExitCode::FAILURE;
            }
        };
        // The lowest-delay sample, as ntpdate and ntptrace report.
        let Some((sample, reply)) = replies
            .iter()
            .min_by(|a, b| a.0.delay.total_cmp(&b.0.delay))
        else {
            println!("{}: timed out, nothing received", server.ip());
            return ExitCode::FAILURE;
        };
        let hop = TraceHop {
            host: server.ip(),
            stratum: reply.stratum,
            offset: sample.offset,
            root_delay: reply.root_delay.as_secs_f64(),
            root_dispersion: reply.root_dispersion.as_secs_f64(),
            refid: reply.refid,
        };
        println!("{}", hop.line());
        next = hop
            .upstream()
            .map(|a| SocketAddr::new(IpAddr::V4(a), server.port()));
    }
    ExitCode::SUCCESS
}

fn one_shot(servers: &[String]) -> ExitCode {
    let mut rng: rand_chacha::ChaCha20Rng = rand::make_rng();
    let mut samples = Vec::new();
    for host in servers {
        let entry = match Config::from_ntp_conf(&format!("server {host}")) {
            Ok(c) => c.servers.into_iter().next(),
            Err(e) => {
                eprintln!("lvs-ntpd: {host}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let addrs = entry.as_ref().map_or(Ok(Vec::new()), ServerEntry::resolve);
        match addrs {
            Ok(addrs) => {
                for a in addrs {
                    match query(a, Duration::from_secs(1), &mut rng) {
                        Ok(s) => samples.extend(s),
                        Err(e) => eprintln!("lvs-ntpd: {a}: {e}"),
                    }
                }
            }
            Err(e) => eprintln!("lvs-ntpd: {host}: {e}"),
        }
    }
    let (text, code) = query_report(&samples);
    print!("{text}");
    ExitCode::from(code)
}
