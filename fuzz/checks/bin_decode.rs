// Shared by the fuzz target of the same name and by
// broker-core/tests/fuzz_corpus.rs (through `include!`), so the fuzzer and the
// replay test check the same things. Paths are spelled out so that several of
// these files can be included into one module.

/// The `bin_decode` fuzz target: a decoded value re-encodes to bytes that
/// decode to the same value, and both JSON writers agree on it; the view
/// (`DataBuf`) accepts exactly what decoding accepts, with the same error,
/// and reads back the same value.
fn check_bin_decode(data: &[u8]) {
    let decoded = broker_core::data::bin::decode(data);
    let view = broker_core::data::view::DataBuf::parse(data);
    match (&decoded, &view) {
        (Ok(value), Ok(buf)) => assert_eq!(&buf.to_data(), value, "the view reads another value"),
        (Err(a), Err(b)) => assert_eq!(a, b, "the view refuses with another error"),
        _ => panic!("decode: {decoded:?}, view: {view:?}"),
    }
    if let Ok(value) = decoded {
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
