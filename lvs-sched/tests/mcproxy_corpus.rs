//! Replays the committed corpus of the `mcproxy_session` fuzz target through the same function.

use std::path::Path;

#[test]
fn mcproxy_session_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/mcproxy_session");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(entry.expect("corpus entry").path()).expect("read seed");
        lvs_sched::fuzzing::mcproxy::session(&data);
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Random bytes through the same checker.
    #[test]
    fn random_streams_keep_the_invariants(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
        lvs_sched::fuzzing::mcproxy::session(&data);
    }
}
