//! `broker bench serve|send|ping`: throughput and latency over loopback.
//!
//! Events are ordinary Zeek events on `/benchmark/events`, shaped like those
//! of Broker's `broker-throughput` (`event_1` = `[42, "test"]`, `event_2` a
//! conn.log-like record, `event_3` a table), so Broker's tools can be the
//! other side. Between two `broker bench` processes the sender asks the
//! server how many events it received (`/bench/sync` → `/bench/ack`);
//! because a peer's messages arrive in order, the answer counts exactly the
//! events sent before the question.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use broker_core::data::view::DataBuf;
use broker_core::data::{Data, DataType, bin};
use broker_core::payloads::{self, Payload, THROUGHPUT_TOPIC};
use broker_core::runtime::{Endpoint, Subscriber, ViewSubscriber};
use broker_core::tls::TlsConfig;
use broker_core::topic::Topic;
use broker_core::zeek::{Event, Message};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::args::{ListenAddr, PeerAddr, parse_listen, parse_peer};
use crate::node::ConnArgs;
use crate::zmq::ProxyEndpoints;
use broker_core::zeromq::{NodeOptions, ZmqNode};

const SYNC_TOPIC: &str = "/bench/sync";
const ACK_TOPIC: &str = "/bench/ack";
const PING_TOPIC: &str = "/bench/ping";
const PONG_TOPIC: &str = "/bench/pong";
const TERMINATE_TOPIC: &str = "/benchmark/terminate";

#[derive(Subcommand, Debug)]
pub(crate) enum BenchCommand {
    /// Count events from any peer, confirm counts, answer pings.
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(ServeArgs),
    /// Publish events as fast as flow control allows; print one JSON line.
    #[command(after_help = SEND_EXAMPLES)]
    Send(SendArgs),
    /// Measure round trips, one at a time; print one JSON line.
    #[command(after_help = PING_EXAMPLES)]
    Ping(PingArgs),
    /// Measure a ZeroMQ proxy's forwarding rate with raw libzmq sockets (any
    /// XPUB/XSUB proxy: `broker zmq-proxy`, Zeek's, libzmq's zmq_proxy).
    #[command(after_help = PROXY_EXAMPLES)]
    Proxy(ProxyBenchArgs),
}

const PROXY_EXAMPLES: &str = "\
Examples:
  broker zmq-proxy --xsub tcp://127.0.0.1:5556 --xpub tcp://127.0.0.1:5555 &
  broker bench proxy --zeromq-connect tcp://127.0.0.1:5556,tcp://127.0.0.1:5555 --events 1000000

One publisher sends Zeek-framed tiny events (4 frames) as fast as the proxy takes
them; --subscribers raw subscribers count them. Prints
{\"events\":N,\"received\":R,\"seconds\":S,\"events_per_sec\":E}, R being what the
slowest subscriber got and E = R / S.";

#[derive(Args, Debug)]
pub(crate) struct ProxyBenchArgs {
    /// The proxy: its XSUB endpoint, then its XPUB endpoint.
    #[arg(long, value_name = "XSUB_ENDPOINT,XPUB_ENDPOINT", value_parser = crate::zmq::parse_proxy_endpoints)]
    zeromq_connect: ProxyEndpoints,
    /// Events to send.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    events: u64,
    /// Subscribers.
    #[arg(long, value_name = "K", default_value_t = 1)]
    subscribers: usize,
}

const SERVE_EXAMPLES: &str = "\
Examples:
  broker bench serve --disable-ssl --listen 127.0.0.1:9999
  broker bench serve --zeromq-connect tcp://127.0.0.1:5556,tcp://127.0.0.1:5555
  broker bench serve --listen 9999 --ready-file /tmp/port    # TLS (default mode)

Counts events on /benchmark/events from any peer (also Broker's broker-throughput),
answers /bench/sync and /bench/ping; a message on /benchmark/terminate stops it.";

const SEND_EXAMPLES: &str = "\
Examples:
  broker bench send --disable-ssl --peer 127.0.0.1:9999 --events 2000000 --payload tiny
  broker bench send --disable-ssl --peer 127.0.0.1:9999 --payload table --seconds 10
  broker bench send --zeromq-connect tcp://127.0.0.1:5556,tcp://127.0.0.1:5555 --events 1000000

Prints {\"events\":N,\"seconds\":S,\"events_per_sec\":R,\"bytes_per_sec\":B,\"confirmed\":true};
confirmed is false against a server that does not answer /bench/sync.";

const PING_EXAMPLES: &str = "\
Examples:
  broker bench ping --disable-ssl --peer 127.0.0.1:9999 --count 5000

Prints {\"count\":N,\"p50_us\":..,\"p99_us\":..,\"max_us\":..}.";

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Listen on [ADDR:]PORT.
    #[arg(long, value_name = "[ADDR:]PORT", value_parser = parse_listen, required_unless_present = "zeromq_connect")]
    listen: Option<ListenAddr>,
    /// Instead of listening, join a ZeroMQ cluster through the proxy at
    /// XSUB_ENDPOINT,XPUB_ENDPOINT (as `broker node --zeromq-connect`).
    #[arg(long, value_name = "XSUB_ENDPOINT,XPUB_ENDPOINT", value_parser = crate::zmq::parse_proxy_endpoints, conflicts_with = "listen")]
    zeromq_connect: Option<crate::zmq::ProxyEndpoints>,
    /// Write the bound port to F once listening (and the metrics port on a
    /// second line with --metrics).
    #[arg(long, value_name = "F")]
    ready_file: Option<PathBuf>,
    /// Serve the endpoint's metrics at http://[ADDR:]PORT/metrics.
    #[arg(long, value_name = "[ADDR:]PORT", value_parser = parse_listen)]
    metrics: Option<ListenAddr>,
    /// The floor: no endpoint, only count raw frames and echo pings (for
    /// `send --raw` and `ping --raw`), over the same TLS as a peering (plain
    /// TCP with --disable-ssl).
    #[arg(long, conflicts_with_all = ["zeromq_connect", "metrics"])]
    raw: bool,
    /// With --raw: blocking sockets and a thread per connection.
    #[arg(long, requires = "raw")]
    blocking: bool,
    /// Decode every value into an owned tree (`Endpoint::subscribe`)
    /// instead of taking views (`Endpoint::subscribe_views`, checked and
    /// indexed as Broker's receivers parse them).
    #[arg(long, conflicts_with = "raw")]
    values: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PayloadArg {
    Tiny,
    Conn,
    Table,
}

impl From<PayloadArg> for Payload {
    fn from(p: PayloadArg) -> Payload {
        match p {
            PayloadArg::Tiny => Payload::Tiny,
            PayloadArg::Conn => Payload::Conn,
            PayloadArg::Table => Payload::Table,
        }
    }
}

#[derive(Args, Debug)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The server.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_peer, required_unless_present = "zeromq_connect")]
    peer: Option<PeerAddr>,
    /// Instead of peering, reach the server through a ZeroMQ cluster's proxy
    /// at XSUB_ENDPOINT,XPUB_ENDPOINT.
    #[arg(long, value_name = "XSUB_ENDPOINT,XPUB_ENDPOINT", value_parser = crate::zmq::parse_proxy_endpoints, conflicts_with = "peer")]
    zeromq_connect: Option<crate::zmq::ProxyEndpoints>,
    /// Events to send (default 1,000,000, or unlimited with --seconds).
    #[arg(long, value_name = "N")]
    events: Option<u64>,
    /// What each event carries.
    #[arg(long, value_enum, default_value = "tiny")]
    payload: PayloadArg,
    /// Stop sending after S seconds.
    #[arg(long, value_name = "S")]
    seconds: Option<f64>,
    /// The floor: write the same frames, encoded once, to a `serve --raw`
    /// (the same TLS mode on both sides).
    #[arg(long, conflicts_with = "zeromq_connect")]
    raw: bool,
}

#[derive(Args, Debug)]
pub(crate) struct PingArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The server.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_peer, required_unless_present = "zeromq_connect")]
    peer: Option<PeerAddr>,
    /// Instead of peering, reach the server through a ZeroMQ cluster's proxy
    /// at XSUB_ENDPOINT,XPUB_ENDPOINT.
    #[arg(long, value_name = "XSUB_ENDPOINT,XPUB_ENDPOINT", value_parser = crate::zmq::parse_proxy_endpoints, conflicts_with = "peer")]
    zeromq_connect: Option<crate::zmq::ProxyEndpoints>,
    /// Round trips.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    count: u64,
    /// The floor: echo a raw frame with a `serve --raw` (tokio sockets; the
    /// same TLS mode on both sides).
    #[arg(long, conflicts_with = "zeromq_connect")]
    raw: bool,
    /// With --raw: blocking sockets, no runtime at all.
    #[arg(long, requires = "raw")]
    blocking: bool,
}

pub(crate) async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Serve(args) => serve(args).await,
        BenchCommand::Send(args) => send(args).await,
        BenchCommand::Ping(args) => ping(args).await,
        BenchCommand::Proxy(args) => {
            tokio::task::spawn_blocking(move || proxy_bench(&args)).await?
        }
    }
}

/// The arguments of a Zeek event.
fn event_args(data: &Data) -> Option<Vec<Data>> {
    match Message::from_data(data) {
        Ok(Message::Event(e)) => Some(e.args),
        _ => None,
    }
}

/// Writes `text` to the ready file atomically, if one was asked for.
fn write_ready(path: Option<&PathBuf>, text: &str) -> anyhow::Result<()> {
    if let Some(path) = path {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)?;
    }
    Ok(())
}

/// The TLS of a raw floor: what a peering with these options speaks.
fn raw_tls(conn: &ConnArgs) -> anyhow::Result<Option<Arc<TlsConfig>>> {
    Ok(TlsConfig::from_options(&conn.options()?)?.map(Arc::new))
}

/// `serve --raw`: the floor's server.
async fn serve_raw(args: ServeArgs) -> anyhow::Result<()> {
    let listen = args.listen.context("--raw needs --listen")?;
    let tls = raw_tls(&args.conn)?;
    let host = if listen.address.is_empty() {
        "0.0.0.0"
    } else {
        listen.address.as_str()
    };
    if args.blocking {
        let listener = std::net::TcpListener::bind((host, listen.port))?;
        write_ready(
            args.ready_file.as_ref(),
            &format!("{}\n", listener.local_addr()?.port()),
        )?;
        return tokio::task::spawn_blocking(move || {
            crate::bench_raw::serve_blocking(listener, tls)
        })
        .await?;
    }
    let listener = tokio::net::TcpListener::bind((host, listen.port)).await?;
    write_ready(
        args.ready_file.as_ref(),
        &format!("{}\n", listener.local_addr()?.port()),
    )?;
    crate::bench_raw::serve(listener, tls).await
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    if args.raw {
        return serve_raw(args).await;
    }
    let options = args.conn.options()?;
    let ep = Endpoint::new_in(options, tokio::runtime::Handle::current())?;
    let topics = [THROUGHPUT_TOPIC, SYNC_TOPIC, PING_TOPIC, TERMINATE_TOPIC];
    let mut sub = if args.values {
        Incoming::Values(ep.subscribe(topics).await?)
    } else {
        Incoming::Views(ep.subscribe_views(topics).await?)
    };
    let mut _node = None;
    let port = match (&args.listen, &args.zeromq_connect) {
        (Some(listen), _) => ep.listen(&listen.address, listen.port).await?,
        (None, Some(proxy)) => {
            _node = Some(join(&ep, proxy, "bench-serve").await?);
            0
        }
        (None, None) => bail!("--listen or --zeromq-connect is required"),
    };
    let mut ready = format!("{port}\n");
    if let Some(metrics) = &args.metrics {
        let metrics_port = ep.serve_metrics(&metrics.address, metrics.port).await?;
        ready.push_str(&format!("{metrics_port}\n"));
    }
    write_ready(args.ready_file.as_ref(), &ready)?;
    let mut server = BenchServer { ep, received: 0 };
    // One loop per kind: a wrapper future around each `recv` cost the
    // tiny payload 5-15% of its rate.
    match &mut sub {
        Incoming::Views(sub) => {
            while let Some(msg) = sub.recv().await {
                if !server.on(msg.topic, Received::View(msg.value)).await? {
                    break;
                }
            }
        }
        Incoming::Values(sub) => {
            while let Some(msg) = sub.recv().await {
                if !server.on(msg.topic, Received::Value(msg.data)).await? {
                    break;
                }
            }
        }
    }
    server.ep.shutdown().await?;
    Ok(())
}

/// The bench server's endpoint and count.
struct BenchServer {
    ep: Endpoint,
    received: u64,
}

impl BenchServer {
    /// Counts or answers a message; false once told to stop.
    async fn on(&mut self, topic: Topic, value: Received) -> anyhow::Result<bool> {
        let topic = topic.as_str();
        if topic.starts_with(THROUGHPUT_TOPIC) {
            self.received += value.events();
        } else if topic.starts_with(SYNC_TOPIC) {
            let token = event_args(&value.into_data())
                .and_then(|a| a.into_iter().next())
                .unwrap_or_default();
            let ack = Event::new("bench_ack", vec![token, Data::Count(self.received)]);
            self.ep.publish(ACK_TOPIC, ack.into_data()).await?;
        } else if topic.starts_with(PING_TOPIC) {
            let args = event_args(&value.into_data()).unwrap_or_default();
            self.ep
                .publish(PONG_TOPIC, Event::new("bench_pong", args).into_data())
                .await?;
        } else if topic.starts_with(TERMINATE_TOPIC) {
            return Ok(false);
        }
        Ok(true)
    }
}

/// The server's subscription: views (the default) or decoded values.
enum Incoming {
    Views(ViewSubscriber),
    Values(Subscriber),
}

/// A message's value, as the server's subscription delivered it.
enum Received {
    View(DataBuf),
    Value(Data),
}

impl Received {
    /// The events it carries: a batch (a vector of events) counts per
    /// event.
    fn events(&self) -> u64 {
        let batch = match self {
            Received::View(buf) => {
                let root = buf.root();
                (root.data_type() == DataType::Vector
                    && root
                        .get(0)
                        .is_some_and(|e| e.data_type() == DataType::Vector))
                .then(|| root.len())
            }
            Received::Value(Data::Vector(items)) => items
                .first()
                .is_some_and(|i| i.as_vector().is_some())
                .then_some(items.len()),
            Received::Value(_) => None,
        };
        batch.map_or(1, |n| n as u64)
    }

    fn into_data(self) -> Data {
        match self {
            Received::View(buf) => buf.to_data(),
            Received::Value(data) => data,
        }
    }
}

/// Joins a ZeroMQ cluster as `<role>-<pid>` and waits until ready.
async fn join(ep: &Endpoint, proxy: &ProxyEndpoints, role: &str) -> anyhow::Result<ZmqNode> {
    let name = format!("{role}-{}", std::process::id());
    let node = ep
        .join_zeromq(NodeOptions::new(&proxy.xsub, &proxy.xpub, name))
        .await?;
    node.wait_ready(Duration::from_secs(30))
        .await
        .context("the ZeroMQ proxy did not answer")?;
    Ok(node)
}

/// An endpoint connected to the server: peered, or through a ZeroMQ proxy
/// (then with its node, which must live as long as the endpoint is used).
async fn connect(
    conn: &ConnArgs,
    peer: Option<&PeerAddr>,
    zeromq: Option<&ProxyEndpoints>,
    topics: &[&str],
) -> anyhow::Result<(Endpoint, Subscriber, Option<ZmqNode>)> {
    let options = conn.options()?;
    let ep = Endpoint::new_in(options, tokio::runtime::Handle::current())?;
    let sub = ep.subscribe(topics.iter().copied()).await?;
    let node = match (peer, zeromq) {
        (Some(peer), _) => {
            ep.peer_and_wait(&peer.host, peer.port, Duration::ZERO)
                .await
                .with_context(|| {
                    format!("cannot reach the server at {}:{}", peer.host, peer.port)
                })?;
            None
        }
        (None, Some(proxy)) => Some(join(&ep, proxy, "bench-client").await?),
        (None, None) => bail!("--peer or --zeromq-connect is required"),
    };
    Ok((ep, sub, node))
}

async fn send(args: SendArgs) -> anyhow::Result<()> {
    if args.raw {
        let peer = args.peer.as_ref().context("--raw needs --peer")?;
        let limit = args.events.unwrap_or(if args.seconds.is_some() {
            u64::MAX
        } else {
            1_000_000
        });
        let tls = raw_tls(&args.conn)?;
        let target = crate::bench_raw::Target {
            host: &peer.host,
            port: peer.port,
            tls: tls.as_deref(),
        };
        return crate::bench_raw::send(target, Payload::from(args.payload), limit, args.seconds)
            .await;
    }
    let (ep, mut acks, node) = connect(
        &args.conn,
        args.peer.as_ref(),
        args.zeromq_connect.as_ref(),
        &[ACK_TOPIC],
    )
    .await?;
    let payload = Payload::from(args.payload);
    let event = payloads::event(payload, 1).into_data();
    let topic = broker_core::topic::Topic::new(THROUGHPUT_TOPIC)?;
    let bytes_per_event = bin::encode(&event).len() as u64 + 37 + 4 + THROUGHPUT_TOPIC.len() as u64;
    let limit = args.events.unwrap_or(if args.seconds.is_some() {
        u64::MAX
    } else {
        1_000_000
    });
    // The server counts every event it ever received; ask for the count
    // before and after, and report the difference. Through ZeroMQ, our
    // question is lost until the server's subscriptions have reached us:
    // ask again for a while.
    let mut baseline = sync(&ep, &mut acks, Duration::from_secs(3)).await?;
    if node.is_some() {
        let give_up = Instant::now() + Duration::from_secs(15);
        while baseline.is_none() && Instant::now() < give_up {
            baseline = sync(&ep, &mut acks, Duration::from_millis(300)).await?;
        }
    }
    // The time bound starts now, after the question (which waits 3 s for
    // a peer that is not a bench server).
    let start = Instant::now();
    let deadline = args
        .seconds
        .map(|s| start + Duration::from_secs_f64(s.max(0.0)));
    let mut sent = 0u64;
    while sent < limit {
        if sent.is_multiple_of(1024) && deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        // A ZeroMQ node never slows publishers down by itself: wait for
        // room, as Broker peering's flow control would.
        if let Some(node) = &node
            && sent.is_multiple_of(64)
        {
            node.wait_for_room().await;
        }
        // The same value each time, encoded from a reference as a user's
        // heartbeat would be (no copy of the value per event).
        ep.publish(&topic, &event).await?;
        sent += 1;
    }
    // Ask the server how many it got; its answer follows all our events.
    let after = match baseline {
        Some(_) => sync(&ep, &mut acks, Duration::from_secs(60)).await?,
        None => None,
    };
    let (events, confirmed) = match (baseline, after) {
        (Some(before), Some(after)) => (after.saturating_sub(before), true),
        // Not a `broker bench serve`: count what we wrote.
        _ => {
            ep.flush(Duration::from_secs(60)).await?;
            if let Some(node) = &node {
                node.flush(Duration::from_secs(60)).await?;
            }
            (sent, false)
        }
    };
    let result = send_result(events, start.elapsed(), bytes_per_event, confirmed);
    println!("{result}");
    ep.shutdown().await?;
    Ok(())
}

/// The server's count of received events, or `None` if it does not answer
/// (it is not a `broker bench serve`).
async fn sync(ep: &Endpoint, acks: &mut Subscriber, wait: Duration) -> anyhow::Result<Option<u64>> {
    let token = Data::Count(u64::from(std::process::id()));
    ep.publish(
        SYNC_TOPIC,
        Event::new("bench_sync", vec![token]).into_data(),
    )
    .await?;
    match tokio::time::timeout(wait, acks.recv()).await {
        Ok(Some(msg)) => match event_args(&msg.data).as_deref() {
            Some([_, Data::Count(n)]) => Ok(Some(*n)),
            _ => bail!("unexpected answer from the server: {}", msg.data),
        },
        _ => Ok(None),
    }
}

async fn ping(args: PingArgs) -> anyhow::Result<()> {
    if args.raw {
        let peer = args.peer.clone().context("--raw needs --peer")?;
        let count = args.count;
        let tls = raw_tls(&args.conn)?;
        let rtts = if args.blocking {
            tokio::task::spawn_blocking(move || {
                let target = crate::bench_raw::Target {
                    host: &peer.host,
                    port: peer.port,
                    tls: tls.as_deref(),
                };
                crate::bench_raw::ping_blocking(target, count)
            })
            .await??
        } else {
            let target = crate::bench_raw::Target {
                host: &peer.host,
                port: peer.port,
                tls: tls.as_deref(),
            };
            crate::bench_raw::ping(target, count).await?
        };
        print_rtts(rtts);
        return Ok(());
    }
    let (ep, mut pongs, node) = connect(
        &args.conn,
        args.peer.as_ref(),
        args.zeromq_connect.as_ref(),
        &[PONG_TOPIC],
    )
    .await?;
    if node.is_some() {
        // Wait until a ping gets an answer: the server's subscription has
        // reached us.
        let give_up = Instant::now() + Duration::from_secs(15);
        loop {
            ep.publish(
                PING_TOPIC,
                Event::new("bench_ping", vec![Data::Count(u64::MAX)]).into_data(),
            )
            .await?;
            if tokio::time::timeout(Duration::from_millis(300), pongs.recv())
                .await
                .is_ok()
            {
                break;
            }
            if Instant::now() >= give_up {
                bail!("no pong from the server through the ZeroMQ proxy");
            }
        }
    }
    let mut rtts = Vec::with_capacity(args.count as usize);
    let wait = Duration::from_secs(10);
    for seq in 0..args.count {
        let ping = Event::new("bench_ping", vec![Data::Count(seq)]).into_data();
        let start = Instant::now();
        ep.publish(PING_TOPIC, ping).await?;
        loop {
            let msg = tokio::time::timeout(wait, pongs.recv())
                .await
                .ok()
                .flatten()
                .context("no pong from the server")?;
            if matches!(event_args(&msg.data).as_deref(), Some([Data::Count(n)]) if *n == seq) {
                break;
            }
        }
        rtts.push(start.elapsed());
    }
    print_rtts(rtts);
    ep.shutdown().await?;
    Ok(())
}

/// The JSON line of `bench send` (and of `send --raw`, which adds a field):
/// `events` in `elapsed`, `bytes_per_event` each.
pub(crate) fn send_result(
    events: u64,
    elapsed: Duration,
    bytes_per_event: u64,
    confirmed: bool,
) -> serde_json::Value {
    let seconds = elapsed.as_secs_f64();
    let rate = events as f64 / seconds;
    json!({
        "events": events,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "events_per_sec": rate.round(),
        "bytes_per_sec": (rate * bytes_per_event as f64).round(),
        "confirmed": confirmed,
    })
}

/// Prints the ping's JSON line: count, p50, p99 and max in microseconds.
fn print_rtts(mut rtts: Vec<Duration>) {
    rtts.sort();
    let pct = |p: f64| -> f64 {
        if rtts.is_empty() {
            return 0.0;
        }
        let i = ((rtts.len() as f64 * p).ceil() as usize).clamp(1, rtts.len()) - 1;
        (rtts[i].as_secs_f64() * 1e7).round() / 10.0
    };
    println!(
        "{}",
        json!({
            "count": rtts.len(),
            "p50_us": pct(0.50),
            "p99_us": pct(0.99),
            "max_us": pct(1.0),
        })
    );
}

/// The proxy benchmark: raw sockets on plain threads, no endpoint.
fn proxy_bench(args: &ProxyBenchArgs) -> anyhow::Result<()> {
    let ctx = zmq::Context::new();
    let topic = b"zeek.bench.events".to_vec();
    let payload = bin::encode(&payloads::event(Payload::Tiny, 1).into_data());
    let n = args.events;
    // Subscribers: count messages until N or until the stream stops.
    let mut readers = Vec::new();
    for _ in 0..args.subscribers.max(1) {
        let xsub = ctx.socket(zmq::XSUB)?;
        // No limit on the subscriber's side (Zeek's advice for no drops):
        // what is measured is the proxy, not a subscriber's queue.
        xsub.set_rcvhwm(0)?;
        xsub.connect(&args.zeromq_connect.xpub)?;
        let mut sub = vec![1u8];
        sub.extend_from_slice(&topic);
        xsub.send(sub, 0)?;
        readers.push(std::thread::spawn(move || -> (u64, Instant) {
            let mut got = 0u64;
            let mut last = Instant::now();
            let mut msg = zmq::Message::new();
            while got < n {
                // The stream has stopped when nothing comes for 2 s once it
                // has started. The first event may take longer: the
                // publisher waits up to 2 s for subscriptions a proxy passes
                // on only once (a topic it already knows), so a subscriber
                // waiting only 2 s for the first event could give up just
                // before the run starts.
                let wait = if got == 0 { 15_000 } else { 2_000 };
                match xsub.poll(zmq::POLLIN, wait) {
                    Ok(r) if r > 0 => {}
                    _ => break,
                }
                while xsub.recv(&mut msg, zmq::DONTWAIT).is_ok() {
                    if !msg.get_more() {
                        got += 1;
                        last = Instant::now();
                    }
                }
            }
            (got, last)
        }));
    }
    let mut xpub = ctx.socket(zmq::XPUB)?;
    xpub.set_sndhwm(1000)?;
    xpub.set_xpub_verbose(true)?;
    // Block instead of dropping when the proxy does not keep up: the rate
    // is what the proxy takes and passes on.
    set_nodrop(&mut xpub)?;
    xpub.connect(&args.zeromq_connect.xsub)?;
    // Start once every subscriber's subscription came through the proxy
    // (a proxy with XPUB_VERBOSER, as Zeek's, passes each one on; starting
    // at the first let a later subscriber miss the first events). A proxy
    // that passes a topic upstream only once gets 2 s for the others.
    let subscribers = args.subscribers.max(1);
    let mut seen = 0;
    let mut wait = Instant::now() + Duration::from_secs(10);
    while seen < subscribers {
        if Instant::now() > wait {
            if seen == 0 {
                bail!("the proxy passed on no subscription");
            }
            break;
        }
        if xpub.poll(zmq::POLLIN, 100)? > 0 && xpub.recv_bytes(0)?.first() == Some(&1) {
            seen += 1;
            if seen == 1 {
                wait = Instant::now() + Duration::from_secs(2);
            }
        }
    }
    let start = Instant::now();
    for _ in 0..n {
        xpub.send(&topic[..], zmq::SNDMORE)?;
        xpub.send(&b"bench"[..], zmq::SNDMORE)?;
        xpub.send(&b"broker-bin-v1"[..], zmq::SNDMORE)?;
        xpub.send(&payload[..], 0)?;
    }
    let mut received = u64::MAX;
    let mut end = start;
    for reader in readers {
        let (got, last) = reader
            .join()
            .map_err(|_| anyhow::anyhow!("a subscriber thread failed"))?;
        received = received.min(got);
        end = end.max(last);
    }
    let seconds = end.duration_since(start).as_secs_f64().max(1e-9);
    println!(
        "{}",
        json!({
            "subscribers": args.subscribers.max(1),
            "events": n,
            "received": received,
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "events_per_sec": (received as f64 / seconds).round(),
        })
    );
    Ok(())
}

/// `XPUB_NODROP` on (the `zmq` crate has no setter for it).
fn set_nodrop(socket: &mut zmq::Socket) -> anyhow::Result<()> {
    broker_core::zeromq::set_xpub_nodrop(socket, true)?;
    Ok(())
}
