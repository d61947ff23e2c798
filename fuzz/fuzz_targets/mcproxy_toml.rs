#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lvs_bins::fuzzing::mcproxy_toml(data));
