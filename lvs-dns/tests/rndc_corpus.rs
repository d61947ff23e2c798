//! Replays the committed corpus of the `rndc_message` fuzz target through the same function.

use std::path::Path;

#[test]
fn rndc_message_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/rndc_message");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(entry.expect("corpus entry").path()).expect("read seed");
        lvs_dns::fuzzing::rndc_message(&data);
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

proptest::proptest! {
    /// Flipped bytes in a real frame go through the same checker.
    #[test]
    fn mutated_frames_keep_the_invariants(flips in proptest::collection::vec((0usize..200, proptest::prelude::any::<u8>()), 0..4)) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/rndc_message");
        let mut f = std::fs::read(dir.join("status")).expect("status seed");
        for (at, x) in flips {
            let i = at % f.len();
            f[i] ^= x;
        }
        lvs_dns::fuzzing::rndc_message(&f);
    }
}
