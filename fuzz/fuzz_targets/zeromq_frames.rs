//! Decodes arbitrary bytes as ZeroMQ cluster messages (events,
//! subscriptions, log batches): no panic, and what decodes round-trips.
#![no_main]

include!("../checks/zeromq_frames.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_zeromq_frames(data));
