#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lvs_dns::fuzzing::rndc_message(data));
