//! Decodes arbitrary bytes as bin v1. A value that decodes must re-encode to
//! bytes that decode to the same value (reals compare with `total_cmp`, so
//! NaN equals NaN), and its JSON from the direct writer (`to_json_string`)
//! must be the text of its `serde_json::Value` form (`to_json`).
#![no_main]

include!("../checks/bin_decode.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_bin_decode(data));
