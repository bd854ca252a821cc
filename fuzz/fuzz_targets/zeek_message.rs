//! Decodes arbitrary bytes as bin v1 and then as a Zeek message. A message
//! that validates must convert back to a value that validates to the same
//! message.
#![no_main]

include!("../checks/zeek_message.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_zeek_message(data));
