#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lvs_ntp::fuzzing::ntp_mode6(data));
