#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lvs_vrrp::fuzzing::vrrp_packet(data));
