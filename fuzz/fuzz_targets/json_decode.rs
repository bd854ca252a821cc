//! Decodes arbitrary UTF-8 text as JSON v1.
//!
//! JSON output is lossy (timestamps are floored to the millisecond, invalid
//! UTF-8 in strings becomes U+FFFD), so instead of exact round trips we check
//! that `to_json` is idempotent: the JSON of a decoded value must decode, and
//! re-encode to the same JSON. The direct writers (`to_json_string`,
//! `data_message_to_json_string`) must produce the text of the `Value` forms.
//! The text is also tried as a WebSocket data message.
#![no_main]

include!("../checks/json_decode.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_json_decode(data));
