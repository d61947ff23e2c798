//! Replays the committed memcache fuzz corpora through the fuzz entry points.

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        f(&std::fs::read(&path).expect("read seed"));
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

#[test]
fn memcache_request_corpus() {
    replay("memcache_request", lvs_core::memcache::fuzzing::request);
}

#[test]
fn memcache_response_corpus() {
    replay("memcache_response", lvs_core::memcache::fuzzing::response);
}
