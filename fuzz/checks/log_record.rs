// Shared by the fuzz target of the same name and by
// broker-core/tests/logs.rs (through `include!`), so the fuzzer and the
// replay test check the same things.

/// The `log_record` fuzz target: bytes as the `serial_data` of a Zeek
/// `LogWrite`. A record that decodes re-encodes to bytes that decode to the
/// same record, and every value converts to `Data` or fails with an error.
fn check_log_record(data: &[u8]) {
    let Ok(values) = broker_core::logs::decode_record(data) else {
        return;
    };
    let bytes = broker_core::logs::encode_record(&values).expect("a decoded record encodes");
    assert_eq!(
        broker_core::logs::decode_record(&bytes).as_ref(),
        Ok(&values),
        "record does not survive encode/decode"
    );
    for value in &values {
        let _ = value.to_data();
    }
}
