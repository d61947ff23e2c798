//! The `mcload` example (the proxy benchmarks' load generator) against a real memcached (Debian
//! package `memcached`): a closed-loop run and a fixed-rate run whose pacing is checked, plus
//! its behaviour against a server that answers garbage and on bad arguments. Skips loudly
//! without memcached; fails instead under LVS_REQUIRE_INTEROP=1.
//!
//! `cargo test -p lvs-bins` builds the examples before the integration tests; the binary is
//! found next to this test's executable (`target/<profile>/examples/mcload`); a missing or
//! stale one fails with the command that builds it.

mod mcproxy_support;

// The example's self-contained parts, compiled here so that `cargo test` runs their unit tests
// (cargo builds examples for integration tests but does not run their tests).
// (`dead_code`: what only the example's loop reads is unused here.)
#[allow(dead_code)]
#[path = "../examples/mcload/hist.rs"]
mod hist;
#[allow(dead_code)]
#[path = "../examples/mcload/wire.rs"]
mod wire;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mcproxy_support::{GarbageServer, Memcached, require};

/// `target/<profile>/examples/<name>`, beside `target/<profile>/deps/<this test>`, refused
/// when older than any of its `sources` (paths under the crate).
fn example(name: &str, sources: &[&str]) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable in target/<profile>/deps");
    let bin = profile_dir.join("examples").join(name);
    let hint = format!(
        "run `cargo test -p lvs-bins` (which builds the examples) or \
         `cargo build -p lvs-bins --example {name}` first"
    );
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}: {hint}", bin.display()));
    // `cargo test --test mcload_smoke` alone does not rebuild the examples: refuse stale ones.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for src in sources {
        let p = root.join(src);
        match std::fs::read_dir(&p) {
            Ok(dir) => files.extend(dir.map(|f| f.expect("examples entry").path())),
            Err(_) => files.push(p),
        }
    }
    for f in files {
        let changed = std::fs::metadata(&f).and_then(|m| m.modified()).unwrap();
        assert!(
            changed <= built,
            "{} is older than {}: {hint}",
            bin.display(),
            f.display()
        );
    }
    bin
}

fn mcload() -> PathBuf {
    example("mcload", &["examples/mcload"])
}

/// Runs mcload with `args`; fails the test if it has not exited within 60 s.
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(mcload())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mcload");
    let start = Instant::now();
    while child.try_wait().expect("wait for mcload").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mcload {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("mcload output")
}

/// The `name=value` fields of mcload's result line.
fn fields(out: &Output) -> HashMap<String, f64> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "mcload failed ({}): {stdout}{stderr}",
        out.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    let map: HashMap<String, f64> = line
        .split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect();
    for k in [
        "ops",
        "seconds",
        "ops_per_s",
        "errors",
        "late",
        "p50_us",
        "p99_us",
        "p999_us",
    ] {
        assert!(map.contains_key(k), "no {k} in {line:?} (stderr: {stderr})");
    }
    map
}

#[test]
fn mcload_closed_loop_and_fixed_rate_against_memcached() {
    let Some(bin) = require(
        "memcached",
        "memcached",
        "mcload_closed_loop_and_fixed_rate_against_memcached",
    ) else {
        return;
    };
    let server = Memcached::start(&bin);
    let addr = format!("127.0.0.1:{}", server.port);

    let closed = fields(&run(&[
        "--addr",
        &addr,
        "--seconds",
        "1",
        "--conns",
        "4",
        "--depth",
        "8",
        "--keys",
        "1000",
        "--preload",
    ]));
    eprintln!("closed loop: {closed:?}");
    assert!(closed["ops"] > 0.0, "{closed:?}");
    assert_eq!(closed["errors"], 0.0, "{closed:?}");
    assert_eq!(
        closed["late"], 0.0,
        "a closed loop is never late: {closed:?}"
    );
    assert!(closed["p50_us"] > 0.0 && closed["p50_us"] <= closed["p999_us"]);

    let (rate, seconds) = (2000.0, 1.0);
    let paced = fields(&run(&[
        "--addr",
        &addr,
        "--seconds",
        "1",
        "--rate",
        "2000",
        "--conns",
        "4",
        "--depth",
        "8",
        "--keys",
        "1000",
    ]));
    eprintln!("fixed rate: {paced:?}");
    assert_eq!(paced["errors"], 0.0, "{paced:?}");
    let expected = rate * seconds;
    assert!(
        // Wide enough for a loaded CI box; a closed loop would do 50x more, no pacing at all
        // nothing.
        (paced["ops"] - expected).abs() <= 0.5 * expected,
        "a fixed rate of {rate}/s for {seconds} s should complete about {expected} requests: \
         {paced:?}"
    );
}

#[test]
fn mcload_counts_garbage_replies_as_errors_without_failing() {
    let server = GarbageServer::start(b"BOGUS REPLY\r\n");
    let addr = format!("127.0.0.1:{}", server.port);
    let out = fields(&run(&[
        "--addr",
        &addr,
        "--seconds",
        "0.5",
        "--conns",
        "2",
        "--depth",
        "4",
    ]));
    assert_eq!(out["ops"], 0.0, "{out:?}");
    assert!(out["errors"] > 0.0, "{out:?}");
}

#[test]
fn mcload_counts_late_requests_when_the_server_stalls() {
    // A listener that never reads: the kernel completes the handshakes, nothing answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let out = fields(&run(&[
        "--addr",
        &addr,
        "--seconds",
        "1",
        "--rate",
        "500",
        "--conns",
        "2",
        "--depth",
        "2",
    ]));
    drop(listener);
    assert_eq!(out["ops"], 0.0, "{out:?}");
    assert_eq!(out["errors"], 0.0, "a stall is not an error: {out:?}");
    // 500 due, 4 of them sent (2 connections x depth 2), the rest late (the lower bound leaves
    // room for a loaded box that runs the generator late).
    let late = out["late"];
    assert!((200.0..=496.0).contains(&late), "{out:?}");
}

#[test]
fn mcload_refuses_bad_arguments() {
    for bad in [
        &["--conns", "0"][..],
        &["--depth", "0"],
        &["--seconds", "0"],
        &["--seconds", "NaN"],
        &["--rate", "0"],
        &["--rate", "inf"],
        &["--rate", "2e7"],
        &["--rate", "-5"],
        &["--keys", "0"],
        &["--size", "0"],
        &["--size", "2000000"],
        &["--size", "x"],
        &["--get-ratio", "1.5"],
        &["--conns", "4096", "--depth", "4096"],
    ] {
        let mut args = vec!["--addr", "127.0.0.1:1"];
        args.extend_from_slice(bad);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(!out.stderr.is_empty(), "{args:?}: no message");
    }
    let out = run(&["--seconds", "1"]);
    assert_eq!(out.status.code(), Some(2), "--addr is required: {out:?}");
    let out = run(&["--addr", "no-port"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // Nobody listens: a clear failure, not a panic.
    let port = mcproxy_support::free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let out = run(&["--addr", &addr, "--seconds", "1"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("cannot connect"), "{msg}");
}

/// The `mc_floor` example (the proxies' CPU floor in mcproxy_vs_nutcracker.sh), killed when
/// dropped.
struct Floor {
    child: std::process::Child,
    addr: String,
}

impl Floor {
    fn start() -> Self {
        let mut child = Command::new(example("mc_floor", &["examples/mc_floor.rs"]))
            .arg("127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mc_floor");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("mc_floor stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("mc_floor prints its address");
        Self {
            child,
            addr: line.trim().to_owned(),
        }
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn mc_floor_answers_every_request_mcload_sends() {
    let floor = Floor::start();
    assert!(floor.addr.starts_with("127.0.0.1:"), "{:?}", floor.addr);
    // Sets (a value to skip, split across reads by the large size) and gets (misses), closed
    // loop and pipelined: every reply is checked by mcload.
    let out = fields(&run(&[
        "--addr",
        &floor.addr,
        "--seconds",
        "1",
        "--conns",
        "4",
        "--depth",
        "8",
        "--keys",
        "100",
        "--size",
        "100000",
        "--get-ratio",
        "0.5",
    ]));
    eprintln!("mc_floor: {out:?}");
    assert!(out["ops"] > 0.0, "{out:?}");
    assert_eq!(out["errors"], 0.0, "{out:?}");
    // A malformed set closes the connection; the floor keeps serving others.
    let mut bad = std::net::TcpStream::connect(&floor.addr).unwrap();
    bad.write_all(b"set k 0 0 nonsense\r\n").unwrap();
    let mut buf = [0u8; 16];
    bad.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(bad.read(&mut buf).unwrap(), 0, "closed after a bad set");
    let mut good = std::net::TcpStream::connect(&floor.addr).unwrap();
    good.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    good.write_all(b"get k\r\nset k 0 0 1\r\nx\r\nversion\r\n")
        .unwrap();
    let want = b"END\r\nSTORED\r\nERROR\r\n";
    let mut got = Vec::new();
    while got.len() < want.len() {
        let n = good.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, want);
}
