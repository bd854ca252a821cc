// Shared by the fuzz target of the same name and by
// broker-core/tests/fuzz_corpus.rs (through `include!`), so the fuzzer and
// the replay test check the same things.

/// Splits fuzz input into frames: each frame is a 2-byte big-endian length
/// and that many bytes (the last frame takes what is left).
fn zeromq_frames_of(data: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 && frames.len() < 8 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        let take = len.min(rest.len());
        frames.push(rest[..take].to_vec());
        rest = &rest[take..];
    }
    frames
}

/// The `zeromq_frames` fuzz target: bytes as ZeroMQ cluster messages. Every
/// decoder of `broker_core::zeromq::wire` runs on them without panicking;
/// what decodes re-encodes to something that decodes to the same message
/// (subscriptions to the same bytes).
fn check_zeromq_frames(data: &[u8]) {
    use broker_core::zeromq::wire::{EventFormat, EventMessage, LogBatch, LogMessage, Subscription};

    let frames = zeromq_frames_of(data);
    for frame in &frames {
        if let Ok(Some(sub)) = Subscription::decode(frame) {
            assert_eq!(&sub.encode(), frame, "subscription does not re-encode");
        }
    }
    if let Ok(msg) = EventMessage::decode(&frames) {
        // JSON floors timestamps to milliseconds: only bin v1 must round-trip.
        if msg.format == EventFormat::BinV1 {
            let again = EventMessage::decode(&msg.encode()).expect("an encoded message decodes");
            assert_eq!(again, msg, "event message does not survive encode/decode");
        }
    }
    if let Ok(msg) = LogMessage::decode(&frames) {
        let encoded = msg.encode().expect("a decoded batch encodes");
        assert_eq!(
            LogMessage::decode(&encoded).as_ref(),
            Ok(&msg),
            "log message does not survive encode/decode"
        );
    }
    if let Ok(batch) = LogBatch::decode(data) {
        let bytes = batch.encode().expect("a decoded batch encodes");
        assert_eq!(
            LogBatch::decode(&bytes).as_ref(),
            Ok(&batch),
            "log batch does not survive encode/decode"
        );
    }
}
