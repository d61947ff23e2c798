//! libmemcached's conformance tool `memccapable -a` (Debian package `libmemcached-tools`) run
//! through lvs-mcproxy in front of two real memcached. The target is 27/27 (nutcracker
//! passes 6). Skips loudly without the tools; fails instead under LVS_REQUIRE_INTEROP=1.

mod mcproxy_support;

use std::process::Command;

use mcproxy_support::{Memcached, Proxy, require};

#[test]
fn mcproxy_memccapable_ascii_passes_every_test() {
    let name = "mcproxy_memccapable_ascii_passes_every_test";
    let Some(mc) = require("memcached", "memcached", name) else {
        return;
    };
    let Some(capable) = require("memccapable", "libmemcached-tools", name) else {
        return;
    };
    let backends: Vec<Memcached> = (0..2).map(|_| Memcached::start(&mc)).collect();
    let servers: Vec<String> = backends.iter().map(Memcached::server_entry).collect();
    let proxy = Proxy::start(&servers, "  timeout: 2000\n", &[]);
    let out = Command::new(capable)
        .args(["-a", "-t", "5", "-h", "127.0.0.1", "-p"])
        .arg(proxy.port.to_string())
        .output()
        .expect("memccapable runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let passed: Vec<&str> = text.lines().filter(|l| l.contains("[pass]")).collect();
    let failed: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ascii") && !l.contains("[pass]") && !l.contains("[skip]"))
        .collect();
    eprintln!(
        "memccapable -a through lvs-mcproxy: {} of {} passed",
        passed.len(),
        passed.len() + failed.len()
    );
    for f in &failed {
        eprintln!("  FAIL {f}");
    }
    assert!(passed.len() >= 27, "{text}");
    assert!(failed.is_empty(), "{text}");
}
