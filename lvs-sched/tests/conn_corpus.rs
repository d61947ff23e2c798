//! Replays every committed seed of the `sched_conn_ops` fuzz target through
//! `lvs_sched::fuzzing::conn::sched_ops`, so `cargo test` checks the corpus without libFuzzer.

use std::path::Path;

#[test]
fn sched_conn_ops_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/sched_conn_ops");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus folder exists") {
        let path = entry.expect("readable entry").path();
        if path.is_file() {
            let data = std::fs::read(&path).expect("readable seed");
            lvs_sched::fuzzing::conn::sched_ops(&data);
            seen += 1;
        }
    }
    assert!(seen > 0, "no seeds in {}", dir.display());
}
