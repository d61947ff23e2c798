#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lvs_core::memcache::fuzzing::request(data));
