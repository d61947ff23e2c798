//! Replays every committed seed of the `sched_hash_ops` fuzz target through the same function.

use std::path::Path;

#[test]
fn sched_hash_ops_corpus_replays_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/sched_hash_ops");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let path = entry.expect("corpus entry").path();
        if path.is_file() {
            let data = std::fs::read(&path).expect("corpus file");
            lvs_sched::fuzzing::hash::sched_ops(&data);
            seen += 1;
        }
    }
    assert!(seen > 0, "no seeds in {}", dir.display());
}

#[test]
fn short_and_empty_inputs_are_harmless() {
    for len in 0..8 {
        lvs_sched::fuzzing::hash::sched_ops(&vec![0xa5; len]);
    }
}

#[test]
fn random_op_sequences_hold_the_invariants() {
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let iters: usize = std::env::var("HASH_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    for _ in 0..iters {
        let len = 2 + (x % 600) as usize;
        let data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        lvs_sched::fuzzing::hash::sched_ops(&data);
    }
}
