//! `broker schema` and the typed events of the `broker` tool itself.
//!
//! The bench protocol's events are declared here as typed events, so that
//! `broker schema` prints the Zeek declarations a Zeek script needs to talk
//! to `broker bench serve`; a program of your own prints its schema with
//! `broker_core::typed::Schema::collect()`. `broker schema --check FILE…`
//! compares them with Zeek scripts instead
//! (`broker_core::typed::check_scripts` in a program of your own).

use std::path::PathBuf;

use broker_core::payloads::THROUGHPUT_TOPIC;
use broker_core::typed::Schema;

/// `broker schema [--check FILE.zeek…]`.
#[derive(clap::Args, Debug)]
pub(crate) struct SchemaArgs {
    /// Compare the events with these Zeek scripts (read in order, as Zeek
    /// loads them) instead of printing them: one line per mismatch on
    /// stdout, exit 1 if there is any.
    #[arg(long, value_name = "FILE.zeek", num_args = 1..)]
    check: Vec<PathBuf>,
}

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
  broker schema --check scripts/bench.zeek

Prints the Zeek declarations of the events the broker tool itself sends and
understands (the bench protocol). Your own program prints the declarations of
its #[event] and #[published_id] items with
  print!(\"{}\", broker_core::typed::Schema::collect()?);

With --check, compares those events with the declarations of Zeek scripts
(arity, argument names and order, types, records and enums they use) and
prints one line per mismatch, for CI of repositories that hold both; your
own program does the same with broker_core::typed::check_scripts(paths).";

pub(crate) fn run(args: SchemaArgs) -> anyhow::Result<()> {
    debug_assert_eq!(
        <Tiny as broker_core::typed::TypedEvent>::TOPIC,
        THROUGHPUT_TOPIC
    );
    let schema = Schema::collect()?;
    if args.check.is_empty() {
        print!("{schema}");
        return Ok(());
    }
    let scripts = broker_core::zeek_script::load(&args.check)?;
    let mismatches = schema.check(&scripts);
    for mismatch in &mismatches {
        println!("{mismatch}");
    }
    let files = args
        .check
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    match mismatches.len() {
        0 => {
            println!(
                "ok: {} events and {} published ids agree with {files}",
                schema.events.len(),
                schema.ids.len()
            );
            Ok(())
        }
        1 => anyhow::bail!("1 mismatch between the registered types and {files}"),
        n => anyhow::bail!("{n} mismatches between the registered types and {files}"),
    }
}
