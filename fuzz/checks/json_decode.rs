// Shared by the fuzz target of the same name and by
// broker-core/tests/fuzz_corpus.rs (through `include!`), so the fuzzer and the
// replay test check the same things. Paths are spelled out so that several of
// these files can be included into one module.

/// The `json_decode` fuzz target: `to_json` of a decoded value decodes and
/// re-encodes to the same JSON, the direct writers give the same text, also
/// as a WebSocket data message.
fn check_json_decode(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = broker_core::data::json::from_json_str(text) {
        let first = broker_core::data::json::to_json(&value);
        let again = broker_core::data::json::from_json(&first)
            .unwrap_or_else(|e| panic!("to_json output {first} does not decode: {e}"));
        assert_eq!(broker_core::data::json::to_json(&again), first, "to_json is not idempotent");
        assert_eq!(
            broker_core::data::json::to_json_string(&value),
            first.to_string(),
            "to_json_string differs from to_json"
        );
    }
    if let Ok(parsed) = serde_json::from_str::<serde_json::Value>(text)
        && let Ok((topic, value)) = broker_core::data::json::data_message_from_json(&parsed)
    {
        let first = broker_core::data::json::data_message_to_json(&topic, &value);
        assert_eq!(
            broker_core::data::json::data_message_to_json_string(&topic, &value),
            first.to_string(),
            "data_message_to_json_string differs from data_message_to_json"
        );
        let (topic2, again) = broker_core::data::json::data_message_from_json(&first)
            .unwrap_or_else(|e| panic!("data_message_to_json output {first} does not decode: {e}"));
        assert_eq!(topic2, topic, "data message topic changed");
        assert_eq!(
            broker_core::data::json::data_message_to_json(&topic2, &again),
            first,
            "data_message_to_json is not idempotent"
        );
    }
}
