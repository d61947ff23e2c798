//! `lvsd --demo`: three HTTP backends on loopback inside the process, a wlc virtual service
//! with HTTP health checks in front of them, a few hundred requests through it, one backend
//! killed and brought back. Needs no configuration and no root.

use core::net::SocketAddr;
use core::time::Duration;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Instant as StdInstant;

use super::config::{Config, HealthSpec, ProbeKind, Protocol, RealSpec, ServiceSpec};
use super::daemon::{Daemon, control_request};
use lvs_core::health::HttpCheck;

/// A tiny HTTP/1.0 server on a thread that answers every request with its name.
#[derive(Debug)]
pub struct Backend {
    /// Its name (the response body).
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Backend {
    /// Start on `addr` (port 0 for an ephemeral one).
    pub fn start(name: &str, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let body = format!("{name}\n");
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut s) = conn else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 8192 {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = format!(
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes());
            }
        });
        Ok(Self {
            name: name.to_owned(),
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// Stop listening (connections are refused afterwards).
    pub fn kill(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag and drops the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP GET through `vip`; the body (the backend's name) or an error.
pub fn get(vip: SocketAddr) -> Result<String, String> {
    let mut s =
        TcpStream::connect_timeout(&vip, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    s.write_all(b"GET / HTTP/1.0\r\nHost: demo\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).map_err(|e| e.to_string())?;
    match resp.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.0 200") => Ok(body.trim().to_owned()),
        _ => Err(format!("bad response {resp:?}")),
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for(
    what: &str,
    limit: Duration,
    mut cond: impl FnMut() -> bool,
) -> Result<Duration, String> {
    let start = StdInstant::now();
    while start.elapsed() < limit {
        if cond() {
            return Ok(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!("timed out waiting for {what}"))
}

fn round(vip: SocketAddr, names: &[String], n: u32) -> (Vec<u32>, u32) {
    let mut counts = vec![0; names.len()];
    let mut failed = 0;
    for _ in 0..n {
        match get(vip) {
            Ok(body) => match names.iter().position(|x| *x == body) {
                Some(i) => counts[i] += 1,
                None => failed += 1,
            },
            Err(_) => failed += 1,
        }
    }
    (counts, failed)
}

fn print_spread(names: &[String], counts: &[u32], weights: &[u32], failed: u32) {
    let total: u32 = counts.iter().sum::<u32>() + failed;
    for ((n, c), w) in names.iter().zip(counts).zip(weights) {
        let pct = f64::from(*c) * 100.0 / f64::from(total.max(1));
        println!("    {n} (weight {w}): {c:4} requests  {pct:5.1} %");
    }
    println!("    failed: {failed}");
}

fn weight_of(ctl: &std::path::Path, addr: SocketAddr) -> Option<u32> {
    let out = control_request(ctl, &["-L -n".to_owned()]).ok()?;
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("-> {addr} ")))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Run the demo, printing as it goes. `Err` names the step that went wrong.
pub fn run() -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let weights = [3u32, 2, 1];
    let names: Vec<String> = ["alpha", "bravo", "charlie"].map(String::from).to_vec();
    let mut backends = Vec::new();
    for n in &names {
        backends.push(Backend::start(n, "127.0.0.1:0".parse().map_err(|_| "addr")?).map_err(io)?);
    }
    let vip: SocketAddr = SocketAddr::from(([127, 0, 0, 1], free_port().map_err(io)?));
    let dir = std::env::temp_dir().join(format!("lvsd-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(io)?;
    let ctl: PathBuf = dir.join("lvsd.sock");
    let mut svc = ServiceSpec::new((Protocol::Tcp, vip), "wlc");
    let interval = Duration::from_millis(100);
    let (rise, fall) = (2, 2);
    svc.health = Some(HealthSpec {
        kind: ProbeKind::Http(HttpCheck::get("/")),
        port: None,
        interval,
        timeout: Duration::from_millis(500),
        rise,
        fall,
    });
    svc.reals = backends
        .iter()
        .zip(weights)
        .map(|(b, weight)| RealSpec {
            addr: b.addr,
            weight,
            upper: 0,
            lower: 0,
        })
        .collect();
    let cfg = Config {
        control: Some(ctl.clone()),
        time_wait: Duration::from_secs(120),
        drain_timeout: Duration::from_secs(2),
        services: vec![svc],
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let daemon = std::thread::spawn(move || -> Result<(), String> {
        let mut d = Daemon::new(&cfg, None, false)?;
        let _ = tx.send(d.stop_handle());
        d.run().map_err(|e| e.to_string())
    });
    let Ok(stop) = rx.recv() else {
        return Err(match daemon.join() {
            Ok(Err(e)) => e,
            _ => "the daemon did not start".into(),
        });
    };
    let result = tour(
        vip,
        &ctl,
        &names,
        &weights,
        &mut backends,
        interval,
        rise,
        fall,
    );
    stop.stop();
    let _ = daemon.join();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[allow(clippy::too_many_arguments)]
fn tour(
    vip: SocketAddr,
    ctl: &std::path::Path,
    names: &[String],
    weights: &[u32],
    backends: &mut [Backend],
    interval: Duration,
    rise: u32,
    fall: u32,
) -> Result<(), String> {
    println!(
        "lvsd demo: virtual service TCP {vip} (wlc, HTTP health check every {} ms, rise {rise}, fall {fall})",
        interval.as_millis()
    );
    for (b, w) in backends.iter().zip(weights) {
        println!("  real server {} at {} weight {w}", b.name, b.addr);
    }
    println!("\n1. 300 requests through {vip}:");
    let (counts, failed) = round(vip, names, 300);
    print_spread(names, &counts, weights, failed);
    if failed > 0 {
        return Err(format!("{failed} requests failed with every backend up"));
    }
    let victim = 1;
    let addr = backends[victim].addr;
    println!("\n2. killing {} ({addr})", backends[victim].name);
    backends[victim].kill();
    let took = wait_for(
        "the health check to take it out",
        Duration::from_secs(5),
        || weight_of(ctl, addr) == Some(0),
    )?;
    println!(
        "   health check took it out after {} ms (fall {fall} x interval {} ms); weight now 0",
        took.as_millis(),
        interval.as_millis()
    );
    println!("   300 more requests:");
    let (counts, failed) = round(vip, names, 300);
    print_spread(names, &counts, weights, failed);
    if failed > 0 || counts[victim] > 0 {
        return Err(format!("{failed} requests failed after the failover"));
    }
    println!("\n3. bringing {} back on {addr}", backends[victim].name);
    backends[victim] = Backend::start(&names[victim], addr).map_err(|e| e.to_string())?;
    let took = wait_for(
        "the health check to restore it",
        Duration::from_secs(5),
        || weight_of(ctl, addr) == Some(weights[victim]),
    )?;
    println!(
        "   back in after {} ms (rise {rise} x interval {} ms)",
        took.as_millis(),
        interval.as_millis()
    );
    let (counts, failed) = round(vip, names, 300);
    print_spread(names, &counts, weights, failed);
    if failed > 0 || counts[victim] == 0 {
        return Err("the restored backend took no requests".into());
    }
    println!("\n4. lvsadm -L -n (over {}):", ctl.display());
    print!("{}", control_request(ctl, &["-L -n".to_owned()])?);
    println!("\ndemo finished: no request failed after the health check acted");
    Ok(())
}
