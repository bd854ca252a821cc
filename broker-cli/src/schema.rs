//! `broker schema` and the typed events of the `broker` tool itself.
//!
//! The bench protocol's events are declared here as typed events, so that
//! `broker schema` prints the Zeek declarations a Zeek script needs to talk
//! to `broker bench serve`; a program of your own prints its schema with
//! `broker_core::typed::Schema::collect()`.

use broker_core::payloads::THROUGHPUT_TOPIC;
use broker_core::typed::Schema;

/// The `tiny` payload of `broker bench send` (Broker's `broker-throughput -t 1`).
#[broker_core::event(topic = "/benchmark/events", name = "event_1")]
pub(crate) struct Tiny {
    n: u64,
    s: String,
}

/// `broker bench send` asks the server how many events it received.
#[broker_core::event(topic = "/bench/sync", name = "bench_sync")]
pub(crate) struct BenchSync {
    token: u64,
}

/// The server's answer to [`BenchSync`].
#[broker_core::event(topic = "/bench/ack", name = "bench_ack")]
pub(crate) struct BenchAck {
    token: u64,
    received: u64,
}

/// One round trip of `broker bench ping`.
#[broker_core::event(topic = "/bench/ping", name = "bench_ping")]
pub(crate) struct BenchPing {
    seq: u64,
}

/// The server's answer to [`BenchPing`].
#[broker_core::event(topic = "/bench/pong", name = "bench_pong")]
pub(crate) struct BenchPong {
    seq: u64,
}

pub(crate) const EXAMPLES: &str = "\
Examples:
  broker schema > broker-bench.zeek

Prints the Zeek declarations of the events the broker tool itself sends and
understands (the bench protocol). Your own program prints the declarations of
its #[event] and #[published_id] items with
  print!(\"{}\", broker_core::typed::Schema::collect()?);";

pub(crate) fn run() -> anyhow::Result<()> {
    debug_assert_eq!(
        <Tiny as broker_core::typed::TypedEvent>::TOPIC,
        THROUGHPUT_TOPIC
    );
    let schema = Schema::collect()?;
    print!("{schema}");
    Ok(())
}
