//! Decodes arbitrary bytes as a Zeek log record (the payload of a LogWrite).
//! A record that decodes must re-encode to bytes that decode to the same
//! record.
#![no_main]

include!("../checks/log_record.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_log_record(data));
