// Shared by the fuzz target of the same name and by
// broker-core/tests/fuzz_corpus.rs (through `include!`), so the fuzzer and the
// replay test check the same things. Paths are spelled out so that several of
// these files can be included into one module.

/// The `zeek_message` fuzz target: a valid message survives
/// `into_data`/`from_data`.
fn check_zeek_message(data: &[u8]) {
    let Ok(value) = broker_core::data::bin::decode(data) else {
        return;
    };
    if let Ok(message) = broker_core::zeek::Message::from_data(&value) {
        let back = message.clone().into_data();
        assert_eq!(
            broker_core::zeek::Message::from_data(&back),
            Ok(message),
            "message does not survive into_data/from_data"
        );
    }
}
