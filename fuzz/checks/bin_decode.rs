// Shared by the fuzz target of the same name and by
// broker-core/tests/fuzz_corpus.rs (through `include!`), so the fuzzer and the
// replay test check the same things. Paths are spelled out so that several of
// these files can be included into one module.

/// The `bin_decode` fuzz target: a decoded value re-encodes to bytes that
/// decode to the same value, and both JSON writers agree on it.
fn check_bin_decode(data: &[u8]) {
    if let Ok(value) = broker_core::data::bin::decode(data) {
        // bin v1 reaches values JSON input cannot (strings that are not
        // UTF-8, NaN payloads), so the direct JSON writer is checked here too.
        assert_eq!(
            broker_core::data::json::to_json_string(&value),
            broker_core::data::json::to_json(&value).to_string(),
            "to_json_string differs from to_json"
        );
        let bytes = broker_core::data::bin::encode(&value);
        assert_eq!(
            broker_core::data::bin::decode(&bytes),
            Ok(value),
            "re-encoded bytes {bytes:02x?} do not decode to the same value"
        );
    }
}
