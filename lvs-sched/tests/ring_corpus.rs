//! Replays the committed fuzz seeds of `fuzz/corpus/ring_ops/` through the same function the
//! `ring_ops` fuzz target calls, so `cargo test` checks them without libFuzzer.

#[test]
fn ring_ops_corpus_replays_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/ring_ops");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        let data = std::fs::read(&path).expect("read seed");
        lvs_sched::fuzzing::ring::ring_ops(&data);
        n += 1;
    }
    assert!(n > 0, "no seeds in {}", dir.display());
}

#[test]
fn ring_ops_survives_arbitrary_bytes() {
    // A quick deterministic sweep beyond the committed seeds.
    let mut x = 0x1234_5678_9abc_def0_u64;
    for len in 0..400usize {
        let data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 7;
                x ^= x >> 9;
                x as u8
            })
            .collect();
        lvs_sched::fuzzing::ring::ring_ops(&data);
    }
}
