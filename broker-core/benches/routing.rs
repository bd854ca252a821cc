//! Routing benchmarks: the prefix match as subscriptions grow, and the whole
//! in-process message path (publish → encode → route → decode → subscriber).
//!
//! Run: `cargo bench -p broker-core --bench routing`. Results are in
//! docs/performance.md.

use std::hint::black_box;
use std::time::Instant;

use broker_core::data::bin;
use broker_core::payloads::{self, Payload};
use broker_core::proto::filter::PrefixIndex;
use broker_core::proto::{Config, ConnectionId, Core, Direction, EndpointId, Event, SubscriberId};
use broker_core::topic::Topic;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const SIZES: [usize; 3] = [10, 1_000, 100_000];

fn prefixes(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("/sub/{i:06}/events")).collect()
}

/// Two cores peered in memory; `b` subscribes to `subs` (plus `/bench`).
fn peered(subs: &[String]) -> (Core, Core, ConnectionId, ConnectionId) {
    let mut a = Core::new(Config::new(EndpointId::from_random_bytes([1; 16])));
    let mut b = Core::new(Config::new(EndpointId::from_random_bytes([2; 16])));
    for s in subs {
        b.subscribe(SubscriberId(1), Topic::new(s.as_str()).unwrap());
    }
    b.subscribe(SubscriberId(1), Topic::new("/bench").unwrap());
    let (ca, cb) = (ConnectionId(1), ConnectionId(2));
    let now = Instant::now();
    b.handle_connect(cb, Direction::Inbound, now);
    a.handle_connect(ca, Direction::Outbound, now);
    for _ in 0..10 {
        let mut buf = Vec::new();
        a.poll_transmit(ca, &mut buf, usize::MAX);
        b.handle_bytes(cb, &buf);
        buf.clear();
        b.poll_transmit(cb, &mut buf, usize::MAX);
        a.handle_bytes(ca, &buf);
    }
    while a.poll_event().is_some() {}
    while b.poll_event().is_some() {}
    assert_eq!(a.peers().count(), 1);
    (a, b, ca, cb)
}

fn routing(c: &mut Criterion) {
    let mut group = c.benchmark_group("prefix_match");
    for n in SIZES {
        let mut index = PrefixIndex::new();
        for p in prefixes(n) {
            index.insert(&p, ());
        }
        let hit = format!("/sub/{:06}/events/x", n / 2);
        group.bench_with_input(BenchmarkId::new("hit", n), &hit, |b, topic| {
            b.iter(|| index.any_match(black_box(topic.as_bytes())))
        });
        group.bench_with_input(BenchmarkId::new("miss", n), &"/other/topic", |b, topic| {
            b.iter(|| index.any_match(black_box(topic.as_bytes())))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("route_publish");
    for n in SIZES {
        let (mut a, _b, ca, _) = peered(&prefixes(n));
        let topic = Topic::new(format!("/sub/{:06}/events/x", n / 2)).unwrap();
        let payload = bin::encode(&payloads::event(Payload::Tiny, 0).into_data());
        let mut out = Vec::with_capacity(1 << 16);
        group.bench_function(BenchmarkId::from_parameter(n), |bench| {
            bench.iter(|| {
                a.publish_encoded(black_box(&topic), black_box(&payload));
                out.clear();
                a.poll_transmit(ca, &mut out, usize::MAX);
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("message_path");
    for payload in Payload::ALL {
        let (mut a, mut b, ca, cb) = peered(&[]);
        let topic = Topic::new("/bench/events").unwrap();
        let event = payloads::event(payload, 1).into_data();
        let mut wire = Vec::with_capacity(1 << 16);
        group.bench_function(payload.name(), |bench| {
            bench.iter(|| {
                // What a publisher and a subscriber do per message.
                let encoded = bin::encode(black_box(&event));
                a.publish_encoded(&topic, &encoded);
                wire.clear();
                a.poll_transmit(ca, &mut wire, usize::MAX);
                b.handle_bytes(cb, &wire);
                match b.poll_event() {
                    Some(Event::Deliver { data, .. }) => black_box(data),
                    other => panic!("expected a delivery, got {other:?}"),
                };
            })
        });
    }
    group.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
