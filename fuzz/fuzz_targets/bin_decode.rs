//! Decodes arbitrary bytes as bin v1. A value that decodes must re-encode to
//! bytes that decode to the same value (reals compare with `total_cmp`, so
//! NaN equals NaN), and its JSON from the direct writer (`to_json_string`)
//! must be the text of its `serde_json::Value` form (`to_json`).
#![no_main]

use broker_core::data::{bin, json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = bin::decode(data) {
        // bin v1 reaches values JSON input cannot (strings that are not
        // UTF-8, NaN payloads), so the direct JSON writer is checked here too.
        assert_eq!(
            json::to_json_string(&value),
            json::to_json(&value).to_string(),
            "to_json_string differs from to_json"
        );
        let bytes = bin::encode(&value);
        assert_eq!(
            bin::decode(&bytes),
            Ok(value),
            "re-encoded bytes {bytes:02x?} do not decode to the same value"
        );
    }
});
