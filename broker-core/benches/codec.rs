//! Codec benchmarks with the payloads of Broker's serialization benchmark.
//!
//! Run: `cargo bench -p broker-core --bench codec`. Results and the
//! comparison with Broker are in docs/performance.md.

use std::hint::black_box;

use broker_core::data::view::DataBuf;
use broker_core::data::{bin, json};
use broker_core::payloads::Payload;
use criterion::{Criterion, criterion_group, criterion_main};

fn codec(c: &mut Criterion) {
    for payload in Payload::ALL {
        let value = payload.args(1);
        let bytes = bin::encode(&value);
        let text = json::to_json_string(&value);
        let name = payload.name();

        c.bench_function(&format!("bin_encode/{name}"), |b| {
            let mut out = Vec::with_capacity(bytes.len());
            b.iter(|| {
                out.clear();
                bin::encode_into(black_box(&value), &mut out);
                black_box(out.len())
            })
        });
        c.bench_function(&format!("bin_decode/{name}"), |b| {
            b.iter(|| bin::decode(black_box(&bytes)))
        });
        // Received as a view: the copy of the bytes, the check, the index
        // and the drop, as a view subscriber pays per message.
        c.bench_function(&format!("view_parse/{name}"), |b| {
            b.iter(|| DataBuf::parse(black_box(&bytes)))
        });
        c.bench_function(&format!("json_encode/{name}"), |b| {
            b.iter(|| json::to_json_string(black_box(&value)))
        });
        c.bench_function(&format!("json_decode/{name}"), |b| {
            b.iter(|| json::from_json_str(black_box(&text)))
        });
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
