//! The `broker` command-line tool: run an endpoint, publish, subscribe.
//!
//! The flags, line formats and exit codes are a stable contract (see
//! `docs/cli.md`): 0 success, 1 runtime failure, 2 usage error; every failure
//! is one line on stderr.

/// mimalloc instead of the system allocator: decoding and dropping message
/// values is mostly small allocations (see docs/performance.md).
#[global_allocator]
static ALLOCATOR: alloc::MiMalloc = alloc::MiMalloc;

mod alloc;
mod args;
mod bench;
mod bench_raw;
mod node;
mod record;
mod schema;
mod zmq;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A typed, Zeek-compatible Broker endpoint.
#[derive(Parser, Debug)]
#[command(name = "broker", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one endpoint until SIGINT/SIGTERM: listen, peer, print what
    /// arrives, publish JSON lines from stdin.
    #[command(after_help = node::EXAMPLES)]
    Node(Box<node::NodeArgs>),
    /// Publish one Zeek event and exit once it was handed to the peer.
    #[command(after_help = node::PUBLISH_EXAMPLES)]
    Publish(node::PublishArgs),
    /// Print messages received under the given prefixes, one JSON line each.
    #[command(after_help = node::SUBSCRIBE_EXAMPLES)]
    Subscribe(node::SubscribeArgs),
    /// Throughput and latency between two processes.
    #[command(subcommand, after_help = BENCH_EXAMPLES)]
    Bench(bench::BenchCommand),
    /// Capture the messages under some prefixes into a CBOR sequence file.
    #[command(after_help = record::RECORD_EXAMPLES)]
    Record(record::RecordArgs),
    /// Publish a recording again, at its pace or as fast as possible.
    #[command(after_help = record::REPLAY_EXAMPLES)]
    Replay(record::ReplayArgs),
    /// Print the Zeek script declarations of the events this tool speaks,
    /// or check them against Zeek scripts.
    #[command(after_help = schema::EXAMPLES)]
    Schema(schema::SchemaArgs),
    /// Run the central XPUB/XSUB proxy of a Zeek ZeroMQ cluster.
    #[command(after_help = zmq::PROXY_EXAMPLES)]
    ZmqProxy(zmq::ProxyArgs),
}

const BENCH_EXAMPLES: &str = "\
Examples:
  broker bench serve --disable-ssl --listen 127.0.0.1:9999 &
  broker bench send --disable-ssl --peer 127.0.0.1:9999 --events 1000000 --payload tiny
  broker bench ping --disable-ssl --peer 127.0.0.1:9999 --count 1000";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colours only for a terminal: logs piped to files stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match std::env::var("BROKER_CLI_THREADS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 1)
    {
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("broker: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // A command that waits on subscribers runs as a spawned task, not as
    // the `block_on` future: a current-thread runtime whose `block_on`
    // future is woken by another task polls its I/O driver once more
    // without waiting (`epoll_wait` with a zero timeout) before polling
    // that future, a system call per message; a spawned task is just
    // queued. `bench send`, a publisher loop that subscribers never wake,
    // stays the `block_on` future: it measured 5% more table events per
    // second that way (the order in which the scheduler polls it against
    // the connection tasks changes how much each write carries; not
    // analysed further). See docs/performance.md.
    let producer = matches!(&cli.command, Command::Bench(bench::BenchCommand::Send(_)));
    let command = async move {
        match cli.command {
            Command::Node(args) => node::run_node(*args).await,
            Command::Publish(args) => node::run_publish(args).await,
            Command::Subscribe(args) => node::run_subscribe(args).await,
            Command::Bench(cmd) => bench::run(cmd).await,
            Command::Record(args) => record::run_record(args).await,
            Command::Replay(args) => record::run_replay(args).await,
            Command::Schema(args) => schema::run(args),
            Command::ZmqProxy(args) => zmq::run_proxy(args).await,
        }
    };
    let result = if producer {
        runtime.block_on(command)
    } else {
        match runtime.block_on(runtime.spawn(command)) {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(anyhow::anyhow!("the command was cancelled: {e}")),
        }
    };
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = if e.downcast_ref::<args::UsageError>().is_some() {
                2
            } else {
                1
            };
            eprintln!("broker: {e:#}");
            ExitCode::from(code)
        }
    }
}
