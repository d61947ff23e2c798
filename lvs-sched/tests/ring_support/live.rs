//! Live peers on loopback: memcached backends, a nutcracker in front, and a libmemcached oracle.
//! Every child process is owned by a [`Procs`] guard that kills and reaps it on drop, so a
//! failing assertion never leaves a process behind.
//!
//! This harness plays the shell's part (real sockets, a wall clock for connect deadlines, a
//! sleep between connection attempts), so the purity bans of the protocol crates do not apply.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lvs_sched::ring::{Distribution, HashFunction};

use super::{Golden, dist_name};

/// Finds a program on PATH or in the sbin directories Debian uses.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Skips loudly, or fails when `LVS_REQUIRE_INTEROP=1`.
pub fn skip_or_fail(why: &str) {
    let msg = format!(
        "\n\n*** SKIPPING ring interop test: {why} ***\n\
         *** install the Debian packages `nutcracker memcached` (and `libmemcached-dev gcc` \
         for the libmemcached oracle); set LVS_REQUIRE_INTEROP=1 to make this a failure ***\n"
    );
    if std::env::var("LVS_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("{msg}");
    }
    eprintln!("{msg}");
}

/// Child processes killed and reaped on drop.
#[derive(Default)]
pub struct Procs(Vec<Child>);

impl Procs {
    pub fn spawn(&mut self, cmd: &mut Command) -> std::io::Result<()> {
        let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).spawn()?;
        self.0.push(child);
        Ok(())
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `n` distinct, currently free loopback ports: all are held open together, so none repeats,
/// and closed just before the peers bind them.
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind loopback"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

fn connect(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_secs(10)))
                    .expect("timeout");
                return s;
            }
            Err(e) if Instant::now() > deadline => panic!("port {port} never came up: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Reads until `done(buffer)` holds.
fn read_until(s: &mut TcpStream, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    while !done(&buf) {
        let n = s.read(&mut chunk).expect("read from peer");
        assert!(
            n > 0,
            "peer closed; got {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
    buf
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// One pool to run through nutcracker.
pub struct PoolCase {
    pub hash: HashFunction,
    pub distribution: Distribution,
    pub hash_tag: Option<&'static str>,
    /// `(weight, optional name)` per backend.
    pub servers: Vec<(u32, Option<&'static str>)>,
}

/// Starts `backends` memcached instances and one nutcracker with a pool per case, stores every
/// key through each pool in turn and asks the backends directly where each key landed.
pub fn run_nutcracker(
    nutcracker: &Path,
    memcached: &Path,
    backends: usize,
    cases: &[PoolCase],
    keys: &[Vec<u8>],
) -> Vec<Golden> {
    let dir = std::env::temp_dir().join(format!("lvs-ring-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut procs = Procs::default();
    let mut all = free_ports(backends + cases.len() + 1);
    let stats = all.pop().expect("stats port").to_string();
    let listen = all.split_off(backends);
    let ports = all;
    for &p in &ports {
        procs
            .spawn(Command::new(memcached).args([
                "-u",
                "nobody",
                "-l",
                "127.0.0.1",
                "-p",
                &p.to_string(),
                "-U",
                "0",
                "-t",
                "1",
                "-m",
                "64",
            ]))
            .expect("start memcached");
    }
    let mut yaml = String::new();
    let mut goldens = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let lp = listen[i];
        yaml += &format!(
            "pool{i}:\n  listen: 127.0.0.1:{lp}\n  hash: {}\n  distribution: {}\n",
            c.hash,
            dist_name(c.distribution)
        );
        if let Some(t) = c.hash_tag {
            yaml += &format!("  hash_tag: \"{t}\"\n");
        }
        yaml += "  servers:\n";
        let mut servers = Vec::new();
        for (j, (w, name)) in c.servers.iter().enumerate() {
            let entry = match name {
                Some(n) => format!("127.0.0.1:{}:{w} {n}", ports[j]),
                None => format!("127.0.0.1:{}:{w}", ports[j]),
            };
            yaml += &format!("   - {entry}\n");
            servers.push(entry);
        }
        goldens.push(Golden {
            hash: c.hash,
            distribution: c.distribution,
            hash_tag: c.hash_tag.map(str::to_owned),
            servers,
            placements: Vec::new(),
        });
    }
    let conf = dir.join("nutcracker.yml");
    std::fs::write(&conf, yaml).expect("write config");
    procs
        .spawn(
            Command::new(nutcracker)
                .arg("-c")
                .arg(&conf)
                .args(["-s", &stats, "-a", "127.0.0.1", "-o"])
                .arg(dir.join("nutcracker.log")),
        )
        .expect("start nutcracker");

    let mut direct: Vec<TcpStream> = ports.iter().map(|&p| connect(p)).collect();
    for (ci, (case, golden)) in cases.iter().zip(&mut goldens).enumerate() {
        let n = case.servers.len();
        for s in &mut direct[..n] {
            s.write_all(b"flush_all\r\n").expect("flush");
            read_until(s, |b| b.ends_with(b"OK\r\n"));
        }
        let mut proxy = connect(listen[ci]);
        for batch in keys.chunks(200) {
            let mut req = Vec::new();
            for k in batch {
                req.extend_from_slice(b"set ");
                req.extend_from_slice(k);
                req.extend_from_slice(b" 0 0 1\r\nx\r\n");
            }
            proxy.write_all(&req).expect("set through nutcracker");
            let want = batch.len();
            let got = read_until(&mut proxy, |b| count(b, b"\r\n") >= want);
            assert_eq!(
                count(&got, b"STORED\r\n"),
                want,
                "{}",
                String::from_utf8_lossy(&got)
            );
        }
        let mut owner: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        for (j, s) in direct[..n].iter_mut().enumerate() {
            for batch in keys.chunks(100) {
                let mut req = b"get".to_vec();
                for k in batch {
                    req.push(b' ');
                    req.extend_from_slice(k);
                }
                req.extend_from_slice(b"\r\n");
                s.write_all(&req).expect("get from backend");
                let resp = read_until(s, |b| b.ends_with(b"END\r\n"));
                for k in parse_values(&resp) {
                    assert!(owner.insert(k, j).is_none(), "key stored twice");
                }
            }
        }
        for k in keys {
            let j = *owner
                .get(k)
                .unwrap_or_else(|| panic!("key {k:?} stored nowhere"));
            golden.placements.push((k.clone(), j));
        }
    }
    drop(procs);
    let _ = std::fs::remove_dir_all(&dir);
    goldens
}

/// Keys of the `VALUE <key> <flags> <bytes>\r\n<data>\r\n` blocks of a get response.
fn parse_values(mut resp: &[u8]) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    while resp.starts_with(b"VALUE ") {
        let eol = resp
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("line end");
        let line = &resp[6..eol];
        let mut parts = line.rsplitn(3, |&b| b == b' ');
        let bytes: usize = std::str::from_utf8(parts.next().expect("bytes"))
            .expect("ascii")
            .parse()
            .expect("length");
        let _flags = parts.next();
        keys.push(parts.next().expect("key").to_vec());
        resp = &resp[eol + 2 + bytes + 2..];
    }
    assert_eq!(resp, b"END\r\n");
    keys
}

/// The C oracle: libmemcached with `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED`, asked for the server
/// index of each key through `memcached_generate_hash` (no server needs to run).
const ORACLE_C: &str = r#"
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int unhex(const char *s, char *out) {
  int n = 0;
  while (s[0] && s[1] && s[0] != '\n') { unsigned v; sscanf(s, "%2x", &v); out[n++] = (char)v; s += 2; }
  return n;
}
int main(void) {
  memcached_st *m = memcached_create(NULL);
  if (memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1) != MEMCACHED_SUCCESS) return 2;
  char line[4096], host[1100], key[600];
  unsigned port, weight;
  while (fgets(line, sizeof line, stdin)) {
    if (sscanf(line, "server %1099s %u %u", host, &port, &weight) == 3) {
      if (memcached_server_add_with_weight(m, host, (in_port_t)port, weight) != MEMCACHED_SUCCESS) return 3;
    } else if (strncmp(line, "key ", 4) == 0) {
      int n = unhex(line + 4, key);
      printf("%u\n", memcached_generate_hash(m, key, (size_t)n));
    }
  }
  memcached_free(m);
  return 0;
}
"#;

/// Compiles the oracle (needs `cc` and libmemcached-dev); `None` when it cannot.
pub fn build_libmemcached_oracle() -> Option<PathBuf> {
    let cc = find_program("cc").or_else(|| find_program("gcc"))?;
    if !Path::new("/usr/include/libmemcached-1.0/memcached.h").exists()
        && !Path::new("/usr/include/libmemcached/memcached.h").exists()
    {
        return None;
    }
    // One directory per call: tests in this process build the oracle concurrently.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("lvs-ring-oracle-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let src = dir.join("oracle.c");
    let bin = dir.join("oracle");
    std::fs::write(&src, ORACLE_C).ok()?;
    let ok = Command::new(cc)
        .arg(&src)
        .arg("-o")
        .arg(&bin)
        .arg("-lmemcached")
        .status()
        .ok()?
        .success();
    ok.then_some(bin)
}

/// Runs the oracle for `servers` (`host, port, weight`) and `keys`.
pub fn run_libmemcached_oracle(
    oracle: &Path,
    servers: &[(String, u16, u32)],
    keys: &[Vec<u8>],
) -> Vec<usize> {
    let mut input = String::new();
    for (h, p, w) in servers {
        input += &format!("server {h} {p} {w}\n");
    }
    for k in keys {
        input += &format!("key {}\n", super::hex(k));
    }
    let mut child = Command::new(oracle)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run oracle");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("feed oracle");
    let out = child.wait_with_output().expect("oracle output");
    assert!(out.status.success(), "oracle failed: {:?}", out.status);
    String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(|l| l.parse().expect("index"))
        .collect()
}
