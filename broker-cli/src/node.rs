//! `broker node`, `broker publish` and `broker subscribe`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use broker_core::data::{Data, json};
use broker_core::options::{Options, UnauthenticatedTls};
use broker_core::runtime::{Endpoint, Message, StatusEvent, StatusSubscriber, Subscriber};
use broker_core::status::StatusCode;
use broker_core::topic::Topic;
use broker_core::websocket::{ServerOptions, WebSocketServer};
use broker_core::zeek::Event;
use broker_core::zeromq::{
    ClusterEvent, HandshakeFailure, Limits, LoggerOptions, NodeOptions, NodeType, ZmqError, ZmqNode,
};
use clap::Args;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::sync::Notify;

use crate::args::{ListenAddr, PeerAddr, UsageError, parse_listen, parse_peer, parse_seconds};

pub(crate) const EXAMPLES: &str = "\
Examples:
  # a node that listens and prints everything under /demo
  broker node --disable-ssl --listen 127.0.0.1:9999 --subscribe /demo
  # a node that peers with it and publishes the JSON lines it reads
  echo '{\"topic\":\"/demo/x\",\"@data-type\":\"count\",\"data\":1}' | \\
    broker node --disable-ssl --peer 127.0.0.1:9999 --exit-on-eof";

pub(crate) const PUBLISH_EXAMPLES: &str = "\
Examples:
  broker publish --disable-ssl --peer 127.0.0.1:9999 --topic /demo ping hi 42
  broker publish --disable-ssl --peer 127.0.0.1:9999 --topic /demo \\
    alert '{\"@data-type\":\"address\",\"data\":\"10.0.0.1\"}'";

pub(crate) const SUBSCRIBE_EXAMPLES: &str = "\
Examples:
  broker subscribe --disable-ssl --peer 127.0.0.1:9999 /demo zeek/events";

/// Connection options shared by all commands.
#[derive(Args, Debug, Clone)]
pub(crate) struct ConnArgs {
    /// Plain TCP instead of TLS.
    #[arg(long)]
    disable_ssl: bool,
    /// CA certificate file (PEM).
    #[arg(long, value_name = "F")]
    ssl_cafile: Option<PathBuf>,
    /// Directory of CA certificates.
    #[arg(long, value_name = "D")]
    ssl_capath: Option<PathBuf>,
    /// Our certificate (PEM).
    #[arg(long, value_name = "F")]
    ssl_certificate: Option<PathBuf>,
    /// Our private key (PEM).
    #[arg(long, value_name = "F")]
    ssl_keyfile: Option<PathBuf>,
    /// Passphrase of an encrypted private key.
    #[arg(long, value_name = "P")]
    ssl_passphrase: Option<String>,
    /// Also check the peer's certificate against the host name dialed
    /// (stricter than Broker, which checks only the chain).
    #[arg(long)]
    ssl_verify_hostname: bool,
    /// What TLS speaks without certificates: Broker's anonymous ECDH on
    /// OpenSSL (the default; peers with Zeek and Broker), or rustls with
    /// ephemeral certificates (peers with broker-rs; cannot dial Zeek or
    /// Broker).
    #[arg(long, value_name = "MODE", value_enum, default_value_t = UnauthenticatedMode::Anonymous)]
    unauthenticated_tls: UnauthenticatedMode,
    /// Connect and listen retry interval in seconds (default: the options' default).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    retry: Option<Duration>,
    /// Keep polling for this many microseconds after any work before
    /// sleeping: lower latency for up to that much CPU per burst (default 0).
    #[arg(long, value_name = "MICROS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    busy_poll: u64,
}

/// `--unauthenticated-tls`: the values of [`UnauthenticatedTls`].
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnauthenticatedMode {
    /// Broker's anonymous ECDH (OpenSSL).
    Anonymous,
    /// rustls with ephemeral self-signed certificates.
    Certificates,
}

impl ConnArgs {
    pub(crate) fn options(&self) -> anyhow::Result<Options> {
        let mut options = Options::from_env()?;
        options.disable_ssl = self.disable_ssl;
        let path = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        options.ssl_cafile = path(&self.ssl_cafile);
        options.ssl_capath = path(&self.ssl_capath);
        options.ssl_certificate = path(&self.ssl_certificate);
        options.ssl_keyfile = path(&self.ssl_keyfile);
        options.ssl_passphrase = self.ssl_passphrase.clone().unwrap_or_default();
        options.ssl_verify_hostname = self.ssl_verify_hostname;
        options.unauthenticated_tls = match self.unauthenticated_tls {
            UnauthenticatedMode::Anonymous => UnauthenticatedTls::Anonymous,
            UnauthenticatedMode::Certificates => UnauthenticatedTls::EphemeralCertificates,
        };
        if let Some(retry) = self.retry {
            options.default_connect_retry = retry;
            options.default_listen_retry = retry;
        }
        options.busy_poll = Duration::from_micros(self.busy_poll);
        Ok(options)
    }
}

#[derive(Args, Debug)]
pub(crate) struct NodeArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Listen for peers on [ADDR:]PORT (port 0: the OS picks).
    #[arg(long, value_name = "[ADDR:]PORT", value_parser = parse_listen)]
    listen: Option<ListenAddr>,
    /// Peer with HOST:PORT; repeatable; redials with the retry interval.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_peer)]
    peer: Vec<PeerAddr>,
    /// Write messages under PREFIX to stdout; repeatable.
    #[arg(long, value_name = "PREFIX")]
    subscribe: Vec<String>,
    /// Relay messages under PREFIX without local delivery; repeatable.
    #[arg(long, value_name = "PREFIX")]
    forward: Vec<String>,
    /// Forward received messages to subscribing peers.
    #[arg(long)]
    forward_messages: bool,
    /// Also serve the WebSocket JSON API (/v1/messages/json) on [ADDR:]PORT;
    /// wss unless --disable-ssl, with the same SSL options as peering.
    #[arg(long, value_name = "[ADDR:]PORT", value_parser = parse_listen)]
    websocket: Option<ListenAddr>,
    /// Serve the endpoint's metrics in Prometheus's text format at
    /// http://[ADDR:]PORT/metrics (PORT alone: all interfaces, as --listen).
    #[arg(long, value_name = "[ADDR:]PORT", value_parser = parse_listen)]
    metrics: Option<ListenAddr>,
    /// Once listening, write the bound port (and the WebSocket port) to F.
    #[arg(long, value_name = "F")]
    ready_file: Option<PathBuf>,
    /// Also write status and error events to stdout.
    #[arg(long)]
    status: bool,
    /// Exit 0 once N data messages have been written to stdout.
    #[arg(long, value_name = "N")]
    exit_after: Option<u64>,
    /// When stdin ends, flush everything to every peer, then exit 0.
    #[arg(long)]
    exit_on_eof: bool,
    /// Join a Zeek ZeroMQ cluster through its central proxy: the proxy's
    /// XSUB endpoint (this node's XPUB connects there), then its XPUB
    /// endpoint (Zeek's defaults: tcp://127.0.0.1:5556,tcp://127.0.0.1:5555).
    #[arg(long, value_name = "XSUB_ENDPOINT,XPUB_ENDPOINT", value_parser = crate::zmq::parse_proxy_endpoints, requires = "zeromq_node")]
    zeromq_connect: Option<crate::zmq::ProxyEndpoints>,
    /// The node's name in the cluster layout (a key of Zeek's Cluster::nodes).
    #[arg(long, value_name = "NAME", requires = "zeromq_connect")]
    zeromq_node: Option<String>,
    /// Act as a logger of a Zeek ZeroMQ cluster: bind a PULL socket on
    /// ENDPOINT (e.g. tcp://127.0.0.1:27762) and turn Zeek's log batches into
    /// log messages on the log topics (print them with --subscribe).
    #[arg(long, value_name = "ENDPOINT")]
    zeromq_logger: Option<String>,
    #[command(flatten)]
    curve: crate::zmq::CurveArgs,
}

#[derive(Args, Debug)]
pub(crate) struct PublishArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The endpoint to publish to.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_peer)]
    peer: PeerAddr,
    /// The topic.
    #[arg(long, value_name = "T")]
    topic: String,
    /// The event name, e.g. `ping`.
    event: String,
    /// Arguments: JSON v1 values, or literals (true/false, numbers, addresses,
    /// subnets, ports; anything else is a string). Negative numbers are
    /// arguments, not flags.
    #[arg(allow_negative_numbers = true)]
    args: Vec<String>,
}

#[derive(Args, Debug)]
pub(crate) struct SubscribeArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The endpoint to subscribe at.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_peer)]
    peer: PeerAddr,
    /// Exit 0 after N messages.
    #[arg(long, value_name = "N")]
    exit_after: Option<u64>,
    /// Topic prefixes.
    #[arg(required = true)]
    prefixes: Vec<String>,
}

pub(crate) fn topic(s: &str) -> anyhow::Result<Topic> {
    Topic::new(s).map_err(|e| UsageError(format!("invalid topic {s:?}: {e}")).into())
}

/// Command-line topic prefixes, each checked.
pub(crate) fn topics(prefixes: &[String]) -> anyhow::Result<Vec<Topic>> {
    prefixes.iter().map(|s| topic(s)).collect()
}

fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn print_message(msg: &Message) {
    print_line(&json::data_message_to_json_string(&msg.topic, &msg.data));
}

fn status_line(event: &StatusEvent) -> String {
    match event {
        StatusEvent::Status(s) => {
            let network = s.endpoint.network.as_ref();
            json!({
                "type": "status",
                "code": s.code.name(),
                "endpoint": s.endpoint.id.map(|id| id.to_string()),
                "address": network.map(|n| n.address.clone()),
                "port": network.map(|n| n.port),
                "message": s.message,
            })
            .to_string()
        }
        StatusEvent::Error(e) => json!({
            "type": "error",
            "code": e.code.name(),
            "message": e.message,
        })
        .to_string(),
    }
}

/// Counts peerings from status events, and wakes waiters when one appears.
#[derive(Default)]
struct PeerCount {
    count: AtomicUsize,
    changed: Notify,
}

impl PeerCount {
    fn update(&self, event: &StatusEvent) {
        if let StatusEvent::Status(s) = event {
            match s.code {
                StatusCode::PeerAdded => {
                    self.count.fetch_add(1, Ordering::SeqCst);
                    self.changed.notify_waiters();
                }
                StatusCode::PeerLost | StatusCode::PeerRemoved => {
                    let _ = self
                        .count
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
                }
                _ => {}
            }
        }
    }

    /// Waits until a native peer or a WebSocket client of `websocket` is
    /// there to receive.
    async fn wait_for_peer(&self, mut websocket: Option<&WebSocketServer>) {
        loop {
            let notified = self.changed.notified();
            if self.count.load(Ordering::SeqCst) > 0 {
                return;
            }
            match websocket {
                Some(ws) if ws.clients() > 0 => return,
                Some(ws) => tokio::select! {
                    _ = notified => {}
                    running = ws.wait_for_client() => if !running {
                        // The server stopped: only native peers count now.
                        websocket = None;
                    },
                },
                None => notified.await,
            }
        }
    }
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn write_ready_file(path: &PathBuf, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Reads data messages from stdin and publishes them, one per line, once
/// a native peer, a WebSocket client or the ZeroMQ cluster is there; as
/// fast as the peers, and the ZeroMQ node, take them.
async fn publish_stdin(
    ep: Endpoint,
    peers: Arc<PeerCount>,
    websocket: Option<WebSocketServer>,
    zmq_node: Option<Arc<ZmqNode>>,
) {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut number = 0u64;
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(e) => {
                eprintln!("broker: cannot read stdin: {e}");
                return;
            }
        };
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let parsed = json::data_message_from_json_str(&line).map_err(|e| e.to_string());
        match parsed {
            Ok((topic, data)) => {
                // Nothing is published into the void: wait for a peer or
                // a WebSocket client.
                peers.wait_for_peer(websocket.as_ref()).await;
                // A ZeroMQ node never slows publishers down by itself.
                if let Some(node) = &zmq_node {
                    node.wait_for_room().await;
                }
                if ep.publish(topic, data).await.is_err() {
                    return;
                }
            }
            Err(reason) => eprintln!("broker: stdin line {number}: {reason}"),
        }
    }
}

/// Capacity of the node's subscriber queue (messages).
const NODE_QUEUE: usize = 8_192;

pub(crate) async fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    let mut options = args.conn.options()?;
    options.forward_messages = args.forward_messages;
    // The node's subscriber absorbs a peer's burst (a Broker peer drops the
    // peering when 2,048 messages wait for us) while stdout catches up.
    options.congestion_queue_size = options.congestion_queue_size.max(NODE_QUEUE);
    let retry = options.default_connect_retry;
    let listen_retry = options.default_listen_retry;
    let ep = Endpoint::new_in(options, tokio::runtime::Handle::current())?;
    let mut statuses = ep.status_subscriber(true).await?;
    let prefixes = topics(&args.subscribe)?;
    let mut subscriber = if prefixes.is_empty() {
        None
    } else {
        Some(ep.subscribe(prefixes).await?)
    };
    for prefix in &args.forward {
        ep.forward(topic(prefix)?).await?;
    }
    let mut ready = String::new();
    if let Some(listen) = &args.listen {
        let port = ep
            .listen_with_retry(&listen.address, listen.port, listen_retry)
            .await?;
        ready = format!("{port}\n");
    }
    let mut websocket = None;
    if let Some(ws) = &args.websocket {
        let settings = ServerOptions::from_options(ep.options());
        let server = ep.websocket_server(&ws.address, ws.port, settings).await?;
        let port = server.port();
        websocket = Some(server);
        // The WebSocket port goes on the second line, after the peering
        // port (or an empty line without --listen).
        ready = format!(
            "{ready}{}{port}\n",
            if ready.is_empty() { "\n" } else { "" }
        );
    }
    let curve = if args.zeromq_connect.is_some() || args.zeromq_logger.is_some() {
        args.curve.keys()?
    } else {
        None
    };
    let mut zmq_logger = None;
    if let Some(listen) = &args.zeromq_logger {
        let mut options = LoggerOptions::new(listen);
        options.limits = Limits::from_options(ep.options());
        options.curve = curve.clone();
        let logger = ep.zeromq_logger(options).await?;
        // The logger's endpoint goes on the third line.
        let lines = ready.lines().count();
        let pad = "\n".repeat(2usize.saturating_sub(lines));
        ready = format!("{ready}{pad}{}\n", logger.endpoint());
        zmq_logger = Some(logger);
    }
    if let Some(metrics) = &args.metrics {
        let port = ep.serve_metrics(&metrics.address, metrics.port).await?;
        // The metrics port goes on the fourth line.
        let lines = ready.lines().count();
        let pad = "\n".repeat(3usize.saturating_sub(lines));
        ready = format!("{ready}{pad}{port}\n");
    }
    if let Some(path) = &args.ready_file {
        write_ready_file(path, &ready)?;
    }
    for peer in &args.peer {
        ep.peer(&peer.host, peer.port, retry).await?;
    }
    let peers = Arc::new(PeerCount::default());
    let mut zmq_node = None;
    let mut cluster_events = None;
    // A handshake with the proxy that failed for good: the node can never
    // join, so it exits 1, as a Zeek node does.
    let mut fatal: Option<HandshakeFailure> = None;
    if let (Some(proxy), Some(name)) = (&args.zeromq_connect, &args.zeromq_node) {
        let mut options = NodeOptions::new(&proxy.xsub, &proxy.xpub, name);
        options.limits = Limits::from_options(ep.options());
        options.curve = curve;
        if zmq_logger.is_some() {
            options.node_type = NodeType::Logger;
        }
        let node = ep.join_zeromq(options).await?;
        cluster_events = Some(node.cluster_events());
        // One that came before the subscription.
        fatal = node.handshake_failure();
        let (node, peers) = (Arc::new(node), peers.clone());
        zmq_node = Some(node.clone());
        // The cluster counts as a peer for stdin once the node is ready.
        tokio::spawn(async move {
            if node
                .wait_ready(Duration::from_secs(24 * 3600))
                .await
                .is_ok()
            {
                peers.count.fetch_add(1, Ordering::SeqCst);
                peers.changed.notify_waiters();
            }
        });
    }
    let mut stdin_task = tokio::spawn(publish_stdin(
        ep.clone(),
        peers.clone(),
        websocket,
        zmq_node.clone(),
    ));
    let mut stdin_open = true;
    let mut written = 0u64;
    let signal = shutdown_signal();
    tokio::pin!(signal);
    let mut recent_errors = RecentErrors::default();
    while fatal.is_none() {
        tokio::select! {
            // Biased: a status that is ready is printed before data that is
            // ready (statuses and data travel on separate channels).
            biased;
            _ = &mut signal => break,
            event = statuses.recv() => match event {
                Some(event) => {
                    peers.update(&event);
                    if args.status {
                        print_line(&status_line(&event));
                    }
                    recent_errors.note(&event);
                }
                None => break,
            },
            msg = async { subscriber.as_mut()?.recv().await }, if subscriber.is_some() => {
                let Some(msg) = msg else { break };
                // Write what is already waiting in one go (stdout alone is
                // line-buffered: a system call per line); every line is
                // flushed before the node waits for more.
                let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
                let mut next = Some(msg);
                while let Some(msg) = next.take() {
                    let _ = writeln!(out, "{}", json::data_message_to_json_string(&msg.topic, &msg.data));
                    written += 1;
                    if args.exit_after.is_some_and(|n| written >= n) {
                        break;
                    }
                    next = subscriber.as_mut().and_then(Subscriber::try_recv);
                }
                let _ = out.flush();
                if args.exit_after.is_some_and(|n| written >= n) {
                    break;
                }
            }
            event = async { cluster_events.as_mut()?.recv().await }, if cluster_events.is_some() => {
                match event {
                    Some(ClusterEvent::HandshakeFailed(failure)) if failure.is_fatal() => {
                        fatal = Some(failure);
                    }
                    Some(event) if args.status => {
                        if let Some(line) = cluster_line(&event) {
                            print_line(&line);
                        }
                    }
                    Some(_) => {}
                    None => cluster_events = None,
                }
            }
            _ = &mut stdin_task, if stdin_open => {
                stdin_open = false;
                if args.exit_on_eof {
                    ep.flush(Duration::from_secs(24 * 3600)).await?;
                    if let Some(node) = &zmq_node {
                        node.flush(Duration::from_secs(24 * 3600)).await?;
                    }
                    break;
                }
            }
        }
        if args.exit_after == Some(0) {
            break;
        }
    }
    stdin_task.abort();
    if let Some(failure) = fatal.as_ref().filter(|_| args.status) {
        // The failure's error event is reported before the cluster event:
        // print it before leaving if it has not come yet.
        let message = failure.to_string();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        while !recent_errors.contains(&message) {
            let Ok(Some(event)) = tokio::time::timeout_at(deadline, statuses.recv()).await else {
                break;
            };
            print_line(&status_line(&event));
            recent_errors.note(&event);
        }
    }
    ep.shutdown().await?;
    drop(zmq_node);
    drop(zmq_logger);
    match fatal {
        Some(failure) => Err(ZmqError::Handshake(failure).into()),
        None => Ok(()),
    }
}

/// The messages of the last few error events printed.
#[derive(Default)]
struct RecentErrors(std::collections::VecDeque<String>);

impl RecentErrors {
    fn note(&mut self, event: &StatusEvent) {
        if let StatusEvent::Error(e) = event {
            if self.0.len() == 8 {
                self.0.pop_front();
            }
            self.0.push_back(e.message.clone());
        }
    }

    fn contains(&self, message: &str) -> bool {
        self.0.iter().any(|m| m == message)
    }
}

/// A cluster event as a JSON line: `{"type":"zeromq","event":"node_up",...}`.
/// Failed handshakes have none: they come as error events
/// (`{"type":"error","code":"peer_unavailable",...}`).
fn cluster_line(event: &ClusterEvent) -> Option<String> {
    let line = match event {
        ClusterEvent::NodeUp { name, id } => {
            json!({"type": "zeromq", "event": "node_up", "name": name, "id": id})
        }
        ClusterEvent::NodeDown { name, id } => {
            json!({"type": "zeromq", "event": "node_down", "name": name, "id": id})
        }
        ClusterEvent::HandshakeFailed(_) => return None,
        _ => json!({"type": "zeromq", "event": "other"}),
    };
    Some(line.to_string())
}

/// A command-line argument as a Broker value.
fn literal(arg: &str) -> anyhow::Result<Data> {
    if arg.trim_start().starts_with('{') {
        let value: Value = serde_json::from_str(arg)
            .map_err(|e| UsageError(format!("argument {arg:?} is not JSON: {e}")))?;
        return json::from_json(&value)
            .map_err(|e| UsageError(format!("argument {arg:?}: {e}")).into());
    }
    Ok(match arg {
        "true" | "T" => Data::Boolean(true),
        "false" | "F" => Data::Boolean(false),
        _ => {
            if let Ok(n) = arg.parse::<u64>() {
                Data::Count(n)
            } else if let Ok(n) = arg.parse::<i64>() {
                Data::Integer(n)
            } else if let Some(x) = arg
                .parse::<f64>()
                .ok()
                .filter(|_| arg.contains(['.', 'e', 'E']))
            {
                Data::Real(x)
            } else if let Ok(a) = arg.parse() {
                Data::Address(a)
            } else if let Ok(s) = arg.parse() {
                Data::Subnet(s)
            } else if let Some(p) = arg.contains('/').then(|| arg.parse().ok()).flatten() {
                Data::Port(p)
            } else {
                Data::from(arg)
            }
        }
    })
}

pub(crate) async fn run_publish(args: PublishArgs) -> anyhow::Result<()> {
    let options = args.conn.options()?;
    let topic = topic(&args.topic)?;
    let event_args = args
        .args
        .iter()
        .map(|a| literal(a))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let ep = Endpoint::new_in(options, tokio::runtime::Handle::current())?;
    ep.peer_and_wait(&args.peer.host, args.peer.port, Duration::ZERO)
        .await?;
    ep.publish(topic, Event::new(args.event, event_args).into_data())
        .await?;
    ep.flush(Duration::from_secs(30)).await?;
    ep.shutdown().await?;
    Ok(())
}

pub(crate) async fn run_subscribe(args: SubscribeArgs) -> anyhow::Result<()> {
    let options = args.conn.options()?;
    let retry = options.default_connect_retry;
    let prefixes = topics(&args.prefixes)?;
    let ep = Endpoint::new_in(options, tokio::runtime::Handle::current())?;
    let mut sub = ep.subscribe(prefixes).await?;
    let mut errors: StatusSubscriber = ep.status_subscriber(false).await?;
    ep.peer(&args.peer.host, args.peer.port, retry).await?;
    let mut written = 0u64;
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            _ = &mut signal => break,
            msg = sub.recv() => match msg {
                Some(msg) => {
                    print_message(&msg);
                    written += 1;
                    if args.exit_after.is_some_and(|n| written >= n) {
                        break;
                    }
                }
                None => break,
            },
            event = errors.recv() => match event {
                Some(event) => eprintln!("broker: {}", status_line(&event)),
                None => break,
            },
        }
    }
    ep.shutdown().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_pick_the_unambiguous_type() {
        assert_eq!(literal("42").unwrap(), Data::Count(42));
        assert_eq!(literal("-1").unwrap(), Data::Integer(-1));
        assert_eq!(literal("2.5").unwrap(), Data::Real(2.5));
        assert_eq!(literal("true").unwrap(), Data::Boolean(true));
        assert!(matches!(literal("10.0.0.1").unwrap(), Data::Address(_)));
        assert!(matches!(literal("10.0.0.0/8").unwrap(), Data::Subnet(_)));
        assert!(matches!(literal("80/tcp").unwrap(), Data::Port(_)));
        assert_eq!(literal("hello").unwrap(), Data::from("hello"));
        assert_eq!(
            literal(r#"{"@data-type":"integer","data":5}"#).unwrap(),
            Data::Integer(5)
        );
        assert!(literal("{not json").is_err());
    }
}
