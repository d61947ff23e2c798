#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lvs_sched::fuzzing::mcproxy::session(data));
