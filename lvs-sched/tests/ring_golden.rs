//! Golden placements recorded from live peers (see `ring_interop.rs`): nutcracker 0.5.0 for
//! every hash function and distribution case, libmemcached 1.1.4 for weighted ketama. Every
//! recorded key must land on the recorded server.

mod ring_support;

use std::path::Path;

use lvs_sched::ring::{LibmemcachedKetama, LibmemcachedServer};
use ring_support::{Golden, hex, unhex};

fn fixtures(prefix: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ring");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".txt"))
        })
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read fixture");
            (p.display().to_string(), text)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn nutcracker_golden_placements() {
    let files = fixtures("twemproxy_");
    assert!(
        files.len() >= 15,
        "expected the 15 twemproxy fixtures, found {}",
        files.len()
    );
    for (name, text) in files {
        let g = Golden::parse(&text);
        assert!(g.placements.len() >= 200, "{name}: too few keys");
        let bad = g.mismatches();
        assert!(
            bad.is_empty(),
            "{name}: {} differ: {:?}",
            bad.len(),
            &bad[..bad.len().min(3)]
        );
    }
}

#[test]
fn every_hash_function_has_a_golden_file() {
    let files = fixtures("twemproxy_ketama_");
    for h in lvs_sched::ring::HashFunction::ALL {
        assert!(
            files
                .iter()
                .any(|(n, _)| n.ends_with(&format!("twemproxy_ketama_{h}.txt"))),
            "no golden file for {h}"
        );
    }
}

#[test]
fn libmemcached_golden_placements() {
    let files = fixtures("libmemcached_weighted_");
    assert!(files.len() >= 3, "expected libmemcached fixtures");
    for (name, text) in files {
        let mut servers = Vec::new();
        let mut keys = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = line.split(' ').collect();
            match f[0] {
                "server" => servers.push(LibmemcachedServer::new(
                    f[1],
                    f[2].parse().expect("port"),
                    f[3].parse().expect("weight"),
                )),
                "key" => keys.push((unhex(f[1]), f[2].parse::<usize>().expect("index"))),
                _ => panic!("{name}: bad line {line}"),
            }
        }
        let ring = LibmemcachedKetama::new(servers).expect("ring");
        assert!(keys.len() >= 200);
        for (k, want) in keys {
            assert_eq!(ring.pick(&k), Some(want), "{name}: key {}", hex(&k));
        }
    }
}
