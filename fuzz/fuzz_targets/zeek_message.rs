//! Decodes arbitrary bytes as bin v1 and then as a Zeek message. A message
//! that validates must convert back to a value that validates to the same
//! message.
#![no_main]

use broker_core::data::bin;
use broker_core::zeek::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = bin::decode(data) else {
        return;
    };
    if let Ok(message) = Message::from_data(&value) {
        let back = message.clone().into_data();
        assert_eq!(
            Message::from_data(&back),
            Ok(message),
            "message does not survive into_data/from_data"
        );
    }
});
