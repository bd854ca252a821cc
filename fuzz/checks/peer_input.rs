// Shared by fuzz/fuzz_targets/peer_input.rs and broker-core/tests/fuzz_corpus.rs
// (through `include!`), so the fuzzer and the replay test check the same things.

use std::time::Instant;

use broker_core::proto::{Config, ConnectionId, Core, Direction, EndpointId, Event, SubscriberId};
use broker_core::topic::Topic;

fn core(n: u8) -> Core {
    let mut config = Config::new(EndpointId::from_random_bytes([n; 16]));
    config.forward = true;
    config.max_frame_size = 1 << 16;
    let mut core = Core::new(config);
    core.subscribe(SubscriberId(1), Topic::new("").unwrap());
    core
}

fn drain(core: &mut Core) {
    while let Some(event) = core.poll_event() {
        if let Event::Deliver { data, .. } = event {
            std::hint::black_box(data);
        }
    }
    for conn in core.pending_transmits() {
        let mut out = Vec::new();
        core.poll_transmit(conn, &mut out, usize::MAX);
    }
}

/// The checks of the `peer_input` target (shared with the stable replay test).
fn check_peer_input(data: &[u8]) {
    let now = Instant::now();
    // Handshake phase: garbage on a fresh inbound connection.
    let mut target = core(9);
    let conn = ConnectionId(1);
    target.handle_connect(conn, Direction::Inbound, now);
    for chunk in data.chunks(7) {
        target.handle_bytes(conn, chunk);
        drain(&mut target);
    }
    target.handle_timeout(now + std::time::Duration::from_secs(60));
    drain(&mut target);

    // Envelope phase: peer a real core, then send the bytes after the handshake.
    let mut a = core(1);
    let mut b = core(2);
    let (ca, cb) = (ConnectionId(1), ConnectionId(2));
    b.handle_connect(cb, Direction::Inbound, now);
    a.handle_connect(ca, Direction::Outbound, now);
    for _ in 0..6 {
        let mut buf = Vec::new();
        a.poll_transmit(ca, &mut buf, usize::MAX);
        b.handle_bytes(cb, &buf);
        buf.clear();
        b.poll_transmit(cb, &mut buf, usize::MAX);
        a.handle_bytes(ca, &buf);
    }
    assert_eq!(b.peers().count(), 1, "handshake in memory must succeed");
    b.handle_bytes(cb, data);
    drain(&mut b);
    b.handle_closed(cb);
    drain(&mut b);
}
