//! lvs-mcproxy without memcached: `--check`, and backends that refuse connections or never
//! answer (played by the test itself).

mod mcproxy_support;

use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use mcproxy_support::{Proxy, TempDir, free_port};

fn check(text: &str) -> (bool, String) {
    check_file(text, "nutcracker.yml")
}

/// `lvs-mcproxy -c <a temporary file called name> --check`.
fn check_file(text: &str, name: &str) -> (bool, String) {
    let dir = TempDir::new("check");
    let conf = dir.0.join(name);
    std::fs::write(&conf, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lvs-mcproxy"))
        .arg("-c")
        .arg(&conf)
        .arg("--check")
        .output()
        .unwrap();
    let all =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), all)
}

#[test]
fn mcproxy_check_accepts_a_nutcracker_config_and_points_at_mistakes() {
    let good = "\
# from nutcracker's conf/nutcracker.yml
alpha:
  listen: 127.0.0.1:22121
  hash: fnv1a_64
  distribution: ketama
  auto_eject_hosts: true
  redis: false
  server_retry_timeout: 2000
  server_failure_limit: 1
  servers:
   - 127.0.0.1:11211:1

gamma:
  listen: 127.0.0.1:22123
  hash: fnv1a_64
  distribution: ketama
  timeout: 400
  backlog: 1024
  preconnect: true
  auto_eject_hosts: true
  server_retry_timeout: 2000
  server_failure_limit: 3
  servers:
   - 127.0.0.1:11212:1
   - 127.0.0.1:11213:1
";
    let (ok, out) = check(good);
    assert!(ok, "{out}");
    assert!(out.contains("syntax is ok (2 pools)"), "{out}");
    let bad = good.replace(
        "  hash: fnv1a_64\n  distribution: ketama\n  timeout",
        "  hash: fnv9\n  distribution: ketama\n  timeout",
    );
    let (ok, out) = check(&bad);
    assert!(!ok);
    assert!(
        out.contains("nutcracker.yml:15: hash: unknown function \"fnv9\""),
        "{out}"
    );
}

#[test]
fn mcproxy_check_reads_toml_by_its_extension() {
    let good = "\
[alpha]
listen = \"127.0.0.1:22121\"
ejection_policy = \"failover\"
failover = [\"a b\"]
servers = [\"127.0.0.1:11211:1 a\", \"127.0.0.1:11212:1 b\"]
";
    let (ok, out) = check_file(good, "pools.toml");
    assert!(ok, "{out}");
    assert!(out.contains("syntax is ok (1 pools)"), "{out}");
    // The same text is no YAML: the extension decides.
    let (ok, _) = check_file(good, "pools.yml");
    assert!(!ok);
    let (ok, out) = check_file(&good.replace("[\"a b\"]", "[\"a z\"]"), "pools.toml");
    assert!(!ok);
    assert!(
        out.contains("pools.toml:4: failover: no server \"z\""),
        "{out}"
    );
}

#[test]
fn mcproxy_refused_backend_answers_fast_without_hanging() {
    // Nothing listens on the port: connects are refused.
    let dead = format!("127.0.0.1:{}:1", free_port());
    let proxy = Proxy::start(
        &[dead],
        "  server_failure_limit: 2\n  server_retry_timeout: 200\n",
        &[],
    );
    let mut c = proxy.client();
    for _ in 0..5 {
        assert!(c.set("k", "v").starts_with("SERVER_ERROR"));
        assert!(c.get(&["k", "j"]).is_empty(), "keys of a dead server miss");
    }
    assert_eq!(c.call("version\r\n"), "VERSION 1.6.18\r\n");
}

#[test]
fn mcproxy_silent_backend_times_out_with_an_error() {
    // A backend that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let held = {
        let stop = Arc::clone(&stop);
        listener.set_nonblocking(true).unwrap();
        thread::spawn(move || {
            let mut conns = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Ok((s, _)) = listener.accept() {
                    conns.push(s);
                }
                thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let proxy = Proxy::start(&[format!("127.0.0.1:{port}:1")], "  timeout: 150\n", &[]);
    let mut c = proxy.client();
    let t0 = Instant::now();
    let reply = c.set("k", "v");
    let took = t0.elapsed();
    assert!(reply.starts_with("SERVER_ERROR"), "{reply:?}");
    assert!(took >= Duration::from_millis(140), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    stop.store(true, Ordering::Relaxed);
    held.join().unwrap();
}
