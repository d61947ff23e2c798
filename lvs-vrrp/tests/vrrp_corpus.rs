//! Replays the committed fuzz corpus of `vrrp_packet` through the function the fuzz target
//! calls, and checks that the golden seeds are the crate's golden packets.

use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/vrrp_packet")
}

#[test]
fn vrrp_packet_corpus() {
    let dir = corpus_dir();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("read seed");
        lvs_vrrp::fuzzing::vrrp_packet(&data);
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

#[test]
fn golden_seeds_match_the_fixtures() {
    use lvs_vrrp::testing;
    let dir = corpus_dir();
    for (name, bytes) in [
        ("v2_prio150", &testing::V2_PRIO150[..]),
        ("v2_prio0", &testing::V2_PRIO0[..]),
        ("v3_v4_10cs", &testing::V3_V4_10CS[..]),
        ("v3_v6_100cs", &testing::V3_V6_100CS[..]),
    ] {
        let seed = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(seed, bytes, "{name}");
    }
}
