//! Criterion benchmarks for lvs live in `benches/benches/`, one file per area. Run them with
//! `cargo bench -p lvs-benches`. This library only holds shared input generators.
