//! `mcload`: a single-threaded memcached load generator for the side-by-side proxy benchmarks
//! (`benches/scripts/mcproxy_vs_nutcracker.sh`).
//!
//! ```text
//! cargo build --release -p lvs-bins --example mcload
//! mcload --addr 127.0.0.1:22122 --seconds 10                  # closed loop, saturating
//! mcload --addr 127.0.0.1:22122 --seconds 10 --rate 50000     # open loop, fixed offered rate
//! ```
//!
//! One mio loop drives `--conns` connections. Requests are `get key:<i>` or, with probability
//! `1 - --get-ratio`, `set key:<i> 0 0 <--size>` with a value of `x` bytes; `i` is uniform over
//! `--keys` (ChaCha8 seeded with `--seed`). `--preload` first sets every key on one connection
//! and requires `STORED` for each.
//!
//! * Closed loop (no `--rate`): every connection keeps `--depth` requests in flight; a reply
//!   frees a slot that is refilled in the same loop turn.
//! * Open loop (`--rate R`): request `g` is due at `start + g / R` and goes to connection
//!   `g mod conns`, so each connection offers `R / conns` per second. A request is sent when due
//!   unless its connection already has `--depth` in flight (or is reconnecting): then it is
//!   counted as `late` and sent as soon as a slot frees. Its latency is still measured from the
//!   time it was due, so a stalled server cannot hide its stall (no coordinated omission). The
//!   loop wakes on a `timerfd` at most every `--tick-us` microseconds, which bounds the
//!   generator's own wakeups (and adds up to that much to the measured latency).
//!
//! Every reply is parsed with [`lvs_core::memcache::parse_response`] and checked: a `get` must
//! answer `END`, or one `VALUE` for the requested key with flags 0 and `--size` bytes followed
//! by `END`; a `set` must answer `STORED`. A wrong but well-formed reply completes its request
//! and counts one error. A reply the parser refuses, a reply with no request outstanding, a
//! reply larger than the read buffer or a closed or failed connection counts one error per
//! request that was in flight on it (at least one), closes it and reconnects it 100 ms later;
//! the lost requests are not sent again.
//!
//! Output, one line on stdout:
//! `ops=<n> seconds=<s> ops_per_s=<r> errors=<e> late=<l> p50_us=<> p99_us=<> p999_us=<>`,
//! where `ops` counts correct replies within the run and the percentiles come from a
//! histogram with fixed log-linear buckets (under 1.6 % relative error). Exit status 2 for bad
//! arguments, 1 when the run cannot start (no connection, failed preload).

mod hist;
mod load;
mod wire;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::load::{Load, preload};

/// A memcached load generator: closed loop, or open loop at a fixed rate.
#[derive(Debug, Parser)]
#[command(name = "mcload", about)]
struct Args {
    /// The server or proxy, HOST:PORT.
    #[arg(long)]
    addr: String,
    /// Connections.
    #[arg(long, default_value_t = 32)]
    conns: usize,
    /// Requests in flight per connection (at most).
    #[arg(long, default_value_t = 16)]
    depth: usize,
    /// Length of the run in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Total offered requests per second (open loop); absent: closed loop.
    #[arg(long)]
    rate: Option<f64>,
    /// Distinct keys (`key:0` ...).
    #[arg(long, default_value_t = 10_000)]
    keys: u32,
    /// Value bytes of a set.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Fraction of requests that are gets.
    #[arg(long, default_value_t = 0.9)]
    get_ratio: f64,
    /// Set every key before the run, requiring STORED.
    #[arg(long)]
    preload: bool,
    /// Seed of the key and command choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Open loop: the shortest sleep between two sends, in microseconds.
    #[arg(long, default_value_t = 50)]
    tick_us: u64,
}

/// Largest value: what a default memcached (`-I 1m`) stores with a short key.
const MAX_SIZE: usize = 1_000_000;
/// Memory the connection buffers may need at most.
const MAX_BUFFER_BYTES: usize = 1 << 30;
/// Fastest offered rate: a single-threaded loop can schedule it with room to spare.
const MAX_RATE: f64 = 1e7;
/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Validated settings.
#[derive(Debug)]
struct Config {
    addr: SocketAddr,
    conns: usize,
    depth: usize,
    run_ns: u64,
    /// Nanoseconds between two due requests (open loop).
    period_ns: Option<f64>,
    keys: u32,
    size: usize,
    /// A request is a get when the low 32 random bits are below this.
    get_below: u64,
    preload: bool,
    seed: u64,
    tick_ns: u64,
}

fn validate(a: &Args) -> Result<Config, String> {
    let addr = a
        .addr
        .to_socket_addrs()
        .map_err(|e| format!("--addr {}: {e}", a.addr))?
        .next()
        .ok_or_else(|| format!("--addr {}: no address", a.addr))?;
    if !(1..=4096).contains(&a.conns) {
        return Err("--conns must be 1..=4096".into());
    }
    if !(1..=4096).contains(&a.depth) {
        return Err("--depth must be 1..=4096".into());
    }
    if !(a.seconds.is_finite() && a.seconds > 0.0 && a.seconds <= 86_400.0) {
        return Err("--seconds must be above 0 and at most 86400".into());
    }
    let period_ns = match a.rate {
        None => None,
        Some(r) if r.is_finite() && (0.001..=MAX_RATE).contains(&r) => Some(1e9 / r),
        Some(_) => {
            return Err(format!(
                "--rate must be 0.001..={MAX_RATE} requests per second"
            ));
        }
    };
    if a.keys == 0 {
        return Err("--keys must be at least 1".into());
    }
    if !(1..=MAX_SIZE).contains(&a.size) {
        return Err(format!("--size must be 1..={MAX_SIZE}"));
    }
    if !(0.0..=1.0).contains(&a.get_ratio) {
        return Err("--get-ratio must be within 0..=1".into());
    }
    // Per connection: the write buffer (depth requests, plus one in a partial write) and the
    // read buffer (see `Load::new`).
    let per_conn = (a.depth + 1)
        .saturating_mul(a.size + 64)
        .saturating_add(a.size.max(4096) + (80 << 10));
    if a.conns.saturating_mul(per_conn) > MAX_BUFFER_BYTES {
        return Err("--conns x --depth x --size would need more than 1 GiB of buffers".into());
    }
    Ok(Config {
        addr,
        conns: a.conns,
        depth: a.depth,
        run_ns: (a.seconds * 1e9) as u64,
        period_ns,
        keys: a.keys,
        size: a.size,
        get_below: (a.get_ratio * 4_294_967_296.0) as u64,
        preload: a.preload,
        seed: a.seed,
        tick_ns: a.tick_us.clamp(1, 1_000_000) * 1000,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = match validate(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mcload: {e}");
            return ExitCode::from(2);
        }
    };
    let addr = cfg.addr;
    let mut load = match Load::new(cfg) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mcload: cannot connect to {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if load.cfg.preload
        && let Err(e) = preload(&load.cfg, &load.set_tail)
    {
        eprintln!("mcload: {e}");
        return ExitCode::FAILURE;
    }
    match load.run() {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mcload: {e}");
            ExitCode::FAILURE
        }
    }
}
