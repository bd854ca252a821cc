//! Decodes arbitrary UTF-8 text as JSON v1.
//!
//! JSON output is lossy (timestamps are floored to the millisecond, invalid
//! UTF-8 in strings becomes U+FFFD), so instead of exact round trips we check
//! that `to_json` is idempotent: the JSON of a decoded value must decode, and
//! re-encode to the same JSON. The direct writers (`to_json_string`,
//! `data_message_to_json_string`) must produce the text of the `Value` forms.
//! The text is also tried as a WebSocket data message.
#![no_main]

use broker_core::data::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = json::from_json_str(text) {
        let first = json::to_json(&value);
        let again = json::from_json(&first)
            .unwrap_or_else(|e| panic!("to_json output {first} does not decode: {e}"));
        assert_eq!(json::to_json(&again), first, "to_json is not idempotent");
        assert_eq!(
            json::to_json_string(&value),
            first.to_string(),
            "to_json_string differs from to_json"
        );
    }
    if let Ok(parsed) = serde_json::from_str::<serde_json::Value>(text)
        && let Ok((topic, value)) = json::data_message_from_json(&parsed)
    {
        let first = json::data_message_to_json(&topic, &value);
        assert_eq!(
            json::data_message_to_json_string(&topic, &value),
            first.to_string(),
            "data_message_to_json_string differs from data_message_to_json"
        );
        let (topic2, again) = json::data_message_from_json(&first)
            .unwrap_or_else(|e| panic!("data_message_to_json output {first} does not decode: {e}"));
        assert_eq!(topic2, topic, "data message topic changed");
        assert_eq!(
            json::data_message_to_json(&topic2, &again),
            first,
            "data_message_to_json is not idempotent"
        );
    }
});
