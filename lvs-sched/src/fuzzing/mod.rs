//! Fuzz entry points. Each `fuzz/fuzz_targets/<name>.rs` is a one-line call into a function
//! here, and `cargo test` replays the committed seeds in `fuzz/corpus/<name>/` through the same
//! function, so the fuzz targets keep passing on stable Rust without libFuzzer.

pub mod conn;
pub mod hash;
pub mod mcproxy;
pub mod ring;
