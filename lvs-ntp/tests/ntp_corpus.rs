//! Replays the committed seeds of `fuzz/corpus/ntp_packet/` through the function the
//! `ntp_packet` fuzz target calls, so `cargo test` checks them without libFuzzer.

use std::path::Path;

use lvs_ntp::fuzzing::ntp_packet;
use lvs_ntp::testing::{CLIENT_REQUEST, KOD_RATE, SERVER_REPLY};
use lvs_ntp::wire::NtpMessage;

#[test]
fn ntp_packet_corpus_replays_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/ntp_packet");
    let mut seeds = 0;
    let mut parsed = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(entry.expect("dir entry").path()).expect("read seed");
        ntp_packet(&data);
        seeds += 1;
        parsed += usize::from(NtpMessage::parse(&data).is_ok());
    }
    assert!(seeds > 0, "no seeds in {}", dir.display());
    // The corpus mixes valid packets (plain, EFs, MACs) with rejects; both kinds must be there.
    assert!(
        parsed >= 5 && parsed < seeds,
        "{parsed} of {seeds} seeds parse"
    );
}

#[test]
fn ntp_packet_survives_mutated_fixtures() {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for base in [&CLIENT_REQUEST[..], &SERVER_REPLY[..], &KOD_RATE[..]] {
        for _ in 0..300 {
            let mut data = base.to_vec();
            // Append a random trailer, then flip a few bytes anywhere.
            let extra = (next() % 80) as usize;
            data.extend((0..extra).map(|_| next() as u8));
            for _ in 0..(next() % 4) {
                let i = (next() as usize) % data.len();
                data[i] = next() as u8;
            }
            ntp_packet(&data);
        }
    }
}
