//! Replays the committed fuzz corpus of the `dns_message` target through the same function the
//! fuzz target calls, and checks that every fixture of `lvs_dns::testing` is in the corpus.

use std::path::{Path, PathBuf};

use lvs_dns::testing::{hostile, well_formed};
use lvs_dns::wire::frame_prefix;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/dns_message")
}

/// Every seed the corpus must hold: the well-formed fixtures, the hostile inputs, and a
/// pipelined TCP stream of all well-formed fixtures.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = well_formed()
        .into_iter()
        .map(|(n, b)| (format!("ok_{n}"), b))
        .chain(
            hostile()
                .into_iter()
                .map(|h| (format!("hostile_{}", h.name), h.bytes)),
        )
        .collect();
    let mut stream = Vec::new();
    for (_, b) in well_formed() {
        stream.extend_from_slice(&frame_prefix(b.len()).expect("fits a frame"));
        stream.extend_from_slice(&b);
    }
    v.push(("tcp_pipelined_fixtures".into(), stream));
    v
}

#[test]
fn dns_message_corpus() {
    let dir = corpus_dir();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("read seed");
        lvs_dns::fuzzing::dns_message(&data);
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

/// Every fixture is committed as a seed, byte for byte. With `LVS_WRITE_SEEDS=1` the seeds are
/// (re)written from the fixtures first.
#[test]
fn every_fixture_is_a_seed() {
    if std::env::var("LVS_WRITE_SEEDS").as_deref() == Ok("1") {
        let dir = corpus_dir();
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        for (name, bytes) in seeds() {
            std::fs::write(dir.join(name), bytes).expect("write seed");
        }
    }
    for (name, bytes) in seeds() {
        let path = corpus_dir().join(&name);
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (regenerate: LVS_WRITE_SEEDS=1 cargo test -p lvs-dns --test dns_corpus)",
                path.display()
            )
        });
        assert_eq!(on_disk, bytes, "seed {name} differs from its fixture");
    }
}
