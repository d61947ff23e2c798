//! Replays the committed fuzz corpora of lvs-core's targets through the same functions the
//! fuzz targets call.

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("read seed");
        f(&data);
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

#[test]
fn packet_frame_corpus() {
    replay("packet_frame", lvs_core::fuzzing::packet_frame);
}

#[test]
fn conntrack_ops_corpus() {
    replay("conntrack_ops", lvs_core::fuzzing::conntrack_ops);
}

#[test]
fn director_ops_corpus() {
    replay("director_ops", lvs_core::fuzzing::director_ops);
}
