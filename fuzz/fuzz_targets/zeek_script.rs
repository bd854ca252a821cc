//! Parses arbitrary text as a Zeek script: never a panic, errors inside the
//! text, and every parsed type prints back as Zeek script of the same type.
#![no_main]

include!("../checks/zeek_script.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_zeek_script(data));
