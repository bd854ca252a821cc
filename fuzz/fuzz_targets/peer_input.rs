//! Arbitrary bytes from a peer, fed to a protocol core: first as a fresh
//! inbound connection (handshake phase), then on a connection that completed
//! its handshake (envelope phase). The core must never panic.
#![no_main]

include!("../checks/peer_input.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_peer_input(data));
