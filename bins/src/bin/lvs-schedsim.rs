//! `lvs-schedsim`: replay new connections through any lvs scheduler and show what it picks.
//!
//! ```text
//! lvs-schedsim -s wrr -w 4,3,2 -n 9
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;

use clap::Parser;
use lvs_core::{ConnState, DestId, DestParams, Flow, Instant};
use lvs_sched::{SchedFlags, by_name};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// Replay new connections through an IPVS scheduler (or Maglev) and print the picks.
#[derive(Debug, Parser)]
#[command(
    name = "lvs-schedsim",
    version,
    about = "Replay new connections through an IPVS scheduler and print the picks"
)]
struct Args {
    /// Scheduler: rr wrr lc wlc sed nq fo ovf twos lblc lblcr dh sh mh swrr maglev maglev-mc.
    #[arg(short = 's', long = "scheduler", default_value = "wlc")]
    scheduler: String,
    /// Comma-separated weights of the real servers, in list order (A, B, C ...).
    #[arg(short = 'w', long = "weights", value_delimiter = ',', required = true)]
    weights: Vec<u32>,
    /// Number of new connections to schedule.
    #[arg(short = 'n', long = "connections", default_value_t = 20)]
    connections: u32,
    /// Scheduler flags as ipvsadm -b takes them (sh-fallback,sh-port,mh-fallback,mh-port).
    #[arg(short = 'b', long = "sched-flags", default_value = "")]
    flags: String,
    /// Number of distinct client addresses the connections come from.
    #[arg(long, default_value_t = 1000)]
    clients: u32,
    /// Close every connection right after it is scheduled (like short UDP exchanges);
    /// otherwise connections stay open and count as active.
    #[arg(long)]
    close: bool,
    /// Seed for twos and Maglev.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many picks to print in the sequence line (0 = all).
    #[arg(long, default_value_t = 200)]
    show: u32,
}

fn label(i: usize) -> String {
    if i < 26 {
        char::from(b'A' + i as u8).to_string()
    } else {
        format!("rs{}", i + 1)
    }
}

fn run(args: &Args) -> Result<(), String> {
    let flags = SchedFlags::parse(&args.flags).map_err(|e| format!("-b {}: {e}", args.flags))?;
    let rng = ChaCha8Rng::seed_from_u64(args.seed);
    let mut sched = by_name(&args.scheduler, flags, args.seed, rng)
        .map_err(|e| format!("-s {}: {e}", args.scheduler))?;
    if args.weights.is_empty() || args.weights.len() > 100_000 {
        return Err("-w needs between 1 and 100000 weights".into());
    }
    for (i, &w) in args.weights.iter().enumerate() {
        let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0001u32 + i as u32));
        sched
            .add_dest(DestId(i as u32), DestParams::new(addr, 80, w))
            .map_err(|e| format!("real server {}: {e}", label(i)))?;
    }
    let clients = args.clients.max(1);
    let vip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    let mut counts = vec![0u64; args.weights.len()];
    let mut none = 0u64;
    let mut seq = String::new();
    for n in 0..args.connections {
        let client = IpAddr::V4(Ipv4Addr::from(0xc000_0200u32.wrapping_add(n % clients)));
        let flow = Flow::tcp(client, 1024 + (n % 60000) as u16, vip, 80);
        let now = Instant::from_millis(u64::from(n));
        let pick = sched.pick(&flow, now);
        if args.show == 0 || n < args.show {
            match pick {
                Some(d) if args.weights.len() <= 26 => seq.push_str(&label(d.0 as usize)),
                Some(d) => {
                    seq.push_str(&label(d.0 as usize));
                    seq.push(' ');
                }
                None => seq.push('-'),
            }
        }
        match pick {
            Some(d) => {
                counts[d.0 as usize] += 1;
                sched.conn_bound(d, ConnState::Active);
                if args.close {
                    sched.conn_unbound(d, ConnState::Active);
                }
            }
            None => none += 1,
        }
    }
    let total_w: u64 = args.weights.iter().map(|&w| u64::from(w)).sum();
    println!(
        "scheduler {} ({} real servers, {} new connections{})",
        sched.name(),
        args.weights.len(),
        args.connections,
        if args.close {
            ", each closed at once"
        } else {
            ", kept open"
        }
    );
    println!("picks: {}", seq.trim_end());
    println!(
        "{:<8} {:>8} {:>10} {:>8} {:>13}",
        "server", "weight", "picks", "share", "weight share"
    );
    for (i, (&w, &c)) in args.weights.iter().zip(&counts).enumerate() {
        let share = 100.0 * c as f64 / f64::from(args.connections.max(1));
        let wshare = if total_w == 0 {
            0.0
        } else {
            100.0 * f64::from(w) / total_w as f64
        };
        println!(
            "{:<8} {:>8} {:>10} {:>7.2}% {:>12.2}%",
            label(i),
            w,
            c,
            share,
            wshare
        );
    }
    if none > 0 {
        println!("no destination: {none}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lvs-schedsim: {e}");
            ExitCode::from(2)
        }
    }
}
