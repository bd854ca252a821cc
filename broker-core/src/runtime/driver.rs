//! The driver task: owns the protocol core and connects it to sockets,
//! timers, subscribers and the endpoint's handles.

/// Connection ids are ours (a counter): a fast hash.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::batch;
use super::control::{Control, Publish};
use super::delivery::{Local, SubTx};
use super::io::{self, ConnTasks, Input, IoEvent, PeerStream};
use super::metrics::{self, DriverCounters, Metrics, PeerCount, PeerQueue, Transport};
use super::spin::Spinner;
use super::{EndpointError, EndpointInfo, ErrorEvent, NetworkInfo, PeerInfo, Status, network};
use crate::options::Options;
use crate::proto::{
    CloseReason, Config, ConnectionId, Core, Direction, EndpointId, Event, SubscriberId,
};
use crate::status::{ErrorCode, PeerStatus};
use crate::tls::{TlsConfig, TlsStream};
use crate::topic::Topic;

/// How many publish requests wait in the channel at most. The driver takes
/// them in batches of up to as many again, so at most 1,024 are held.
const PUBLISH_QUEUE: usize = 512;
/// How many read chunks wait for the driver at most.
const INPUT_QUEUE: usize = 64;
/// The largest chunk handed to a writer at once.
const WRITE_CHUNK: usize = 256 * 1024;
/// Chunks below this size the driver writes itself on plain TCP while the
/// writer is idle (see `flush_conn`).
const DIRECT_WRITE_MAX: usize = 64 * 1024;
/// The same over TLS, where writing means encrypting: one record's worth
/// (16 KiB), so that bulk encryption stays with the writer task.
const DIRECT_WRITE_MAX_TLS: usize = 16 * 1024;
/// Publish requests handled per wakeup before yielding to other work.
const PUBLISH_BATCH: usize = 256;
/// After delivering this many encoded bytes to local subscribers, the driver
/// yields to them (a few hundred kilobytes once decoded, within a core's
/// second-level cache).
const HOT_DELIVERY: usize = 64 * 1024;

/// Starts the driver; returns the channels to reach it.
pub(crate) fn spawn(
    handle: &tokio::runtime::Handle,
    id: EndpointId,
    options: Options,
    tls: Option<Arc<TlsConfig>>,
) -> (mpsc::UnboundedSender<Control>, batch::Sender<Publish>) {
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let (publish_tx, publish_rx) = batch::channel(PUBLISH_QUEUE);
    let (input_tx, input_rx) = mpsc::channel(INPUT_QUEUE);
    let (io_tx, io_rx) = mpsc::unbounded_channel();
    let mut config = Config::new(id);
    config.forward = options.forward_messages;
    config.max_frame_size = options.max_frame_size;
    config.handshake_timeout = options.handshake_timeout;
    config.unpeer_timeout = options.unpeer_timeout;
    config.peer_buffer_size = options.peer_buffer_size;
    config.peer_buffer_bytes = options.peer_buffer_bytes;
    config.max_input_buffer = options.max_input_buffer;
    config.overflow_policy = options.overflow_policy;
    config.max_version = options.max_protocol_version;
    config.stall_timeout = options.peer_stall_timeout;
    let spinner = (!options.busy_poll.is_zero()).then(|| Spinner::start(handle, options.busy_poll));
    let driver = Driver {
        core: Core::new(config),
        options,
        tls,
        epoch: std::time::Instant::now(),
        base: Instant::now(),
        conns: HashMap::default(),
        requests: HashMap::default(),
        local: Local::default(),
        counters: DriverCounters::default(),
        peer_waiters: Vec::new(),
        flush_waiters: Vec::new(),
        listeners: Vec::new(),
        input_tx,
        io_tx,
        next_conn: 0,
        next_request: 0,
        shutting_down: None,
        shutdown_replies: Vec::new(),
        spinner,
        wanted_watchers: Vec::new(),
        wanted_seen: 0,
    };
    handle.spawn(driver.run(control_rx, publish_rx, input_rx, io_rx));
    (control_tx, publish_tx)
}

struct Conn {
    tasks: ConnTasks,
    remote: SocketAddr,
    /// The outbound request this connection serves.
    request: Option<u64>,
    /// A chunk is with the writer.
    busy: bool,
    /// The TLS error that ended reading, if any.
    tls_error: Option<String>,
    /// Plain TCP: whether bytes arrived yet, and whether the first looked
    /// like a TLS record (the peer has SSL enabled and we do not).
    seen_data: bool,
    peer_speaks_tls: bool,
}

/// An outbound peering the user asked for.
struct PeerRequest {
    address: String,
    port: u16,
    retry: Duration,
    conn: Option<ConnectionId>,
    /// The peer's id, once a handshake told us.
    peer: Option<EndpointId>,
    status: PeerStatus,
    /// The dial or redial timer in flight.
    task: Option<AbortHandle>,
    done: Vec<oneshot::Sender<Result<EndpointId, ErrorEvent>>>,
}

struct Driver {
    core: Core,
    options: Options,
    /// TLS configuration; `None` with `disable_ssl`.
    tls: Option<Arc<TlsConfig>>,
    /// The core's clock: std time, anchored with tokio time for sleeping.
    epoch: std::time::Instant,
    base: Instant,
    conns: HashMap<ConnectionId, Conn>,
    requests: HashMap<u64, PeerRequest>,
    /// Subscribers, clients and status subscribers.
    local: Local,
    /// What the driver counts for metrics (the core counts the rest).
    counters: DriverCounters,
    peer_waiters: Vec<(EndpointId, oneshot::Sender<()>)>,
    flush_waiters: Vec<oneshot::Sender<()>>,
    listeners: Vec<tokio::task::JoinHandle<()>>,
    input_tx: mpsc::Sender<Input>,
    io_tx: mpsc::UnboundedSender<IoEvent>,
    next_conn: u64,
    next_request: u64,
    shutting_down: Option<(Instant, Vec<oneshot::Sender<()>>)>,
    /// Answered once everything is closed.
    shutdown_replies: Vec<oneshot::Sender<()>>,
    /// Busy polling after work, if enabled.
    spinner: Option<Arc<Spinner>>,
    /// `WatchWanted` watchers, and the core's generation they last saw.
    wanted_watchers: Vec<(SubscriberId, tokio::sync::watch::Sender<Vec<Topic>>)>,
    wanted_seen: u64,
}

impl Driver {
    async fn run(
        mut self,
        mut control: mpsc::UnboundedReceiver<Control>,
        mut publish: batch::Receiver<Publish>,
        mut input: mpsc::Receiver<Input>,
        mut io: mpsc::UnboundedReceiver<IoEvent>,
    ) {
        loop {
            let deadline = self.next_deadline();
            let now = self.now();
            let publish_open = self.shutting_down.is_none() && self.core.can_publish(now);
            let reading = !self.local.is_blocked();
            let blocked_sub = self.local.blocked();
            tokio::select! {
                biased;
                cmd = control.recv() => match cmd {
                    Some(Control::Shutdown { reply }) => {
                        // Messages published before the shutdown still go out.
                        while let Some(msg) = publish.try_recv() {
                            self.publish(msg);
                        }
                        self.flush_all();
                        self.begin_shutdown(reply);
                    }
                    Some(cmd) => self.handle_control(cmd),
                    None => self.begin_shutdown(None),
                },
                Some(event) = io.recv() => self.handle_io(event),
                () = async {
                    if let Some(tx) = &blocked_sub {
                        tx.room().await;
                    }
                }, if blocked_sub.is_some() => {
                    // Room, or the subscriber is gone: either way the
                    // waiting deliveries move on.
                    for sub in self.local.send_pending() {
                        self.remove_subscriber(sub);
                    }
                }
                Some(data) = input.recv(), if reading => {
                    self.handle_input(data);
                    // Take whatever else is ready without waiting.
                    for _ in 0..16 {
                        if self.local.is_blocked() || self.local.delivered() >= HOT_DELIVERY {
                            break;
                        }
                        match input.try_recv() {
                            Ok(more) => {
                                self.process_events();
                                self.handle_input(more);
                            }
                            Err(_) => break,
                        }
                    }
                }
                Some(msg) = publish.recv(), if publish_open => {
                    self.publish(msg);
                    for _ in 0..PUBLISH_BATCH {
                        if !self.core.can_publish(now) {
                            break;
                        }
                        match publish.try_recv() {
                            Some(msg) => self.publish(msg),
                            None => break,
                        }
                    }
                }
                // Built only when polled: without a deadline (the usual
                // case) no timer is made, and no clock read, per turn.
                () = async {
                    if let Some(deadline) = deadline {
                        tokio::time::sleep_until(deadline).await;
                    }
                }, if deadline.is_some() => {
                    let now = self.now();
                    self.core.handle_timeout(now);
                }
            }
            self.process_events();
            self.flush_all();
            self.check_flush_waiters();
            self.update_wanted_watchers();
            if self.check_shutdown() {
                break;
            }
            if let Some(spinner) = &self.spinner {
                spinner.touch();
            }
            // Let subscribers on this thread take what was decoded while it
            // is still in the cache: otherwise the driver decodes until their
            // queues are full (megabytes of values for large events), and
            // they then read back and free values the cache has lost.
            if self.local.take_delivered() >= HOT_DELIVERY {
                tokio::task::yield_now().await;
            }
        }
        if let Some(spinner) = &self.spinner {
            spinner.stop();
        }
        // Close the listening sockets before saying we are done, so that a
        // new endpoint can bind the same port at once.
        for handle in self.listeners.drain(..) {
            handle.abort();
            let _ = handle.await;
        }
        for (_, req) in self.requests.drain() {
            if let Some(task) = req.task {
                task.abort();
            }
        }
        for (_, conn) in self.conns.drain() {
            conn.tasks.close();
        }
        self.local.close_clients();
        for reply in self.shutdown_replies.drain(..) {
            let _ = reply.send(());
        }
    }

    fn publish(&mut self, msg: Publish) {
        match msg.source {
            None => self.core.publish_encoded(&msg.topic, &msg.payload),
            Some((sub, data)) => {
                self.local.client_published(sub);
                self.core.publish_from(sub, &msg.topic, &msg.payload, data)
            }
        };
    }

    /// The metrics now.
    fn metrics(&self) -> Metrics {
        let core = self.core.counters();
        let peered = self.core.peers().count() as u64;
        let connections = self.core.connection_count() as u64;
        let (mut connecting, mut reconnecting) = (0, 0);
        for req in self.requests.values() {
            match req.status {
                PeerStatus::Connecting if req.conn.is_none() => connecting += 1,
                PeerStatus::Reconnecting => reconnecting += 1,
                _ => {}
            }
        }
        let native = |state, count| PeerCount {
            transport: Transport::Native,
            state,
            count,
        };
        let mut peers = vec![
            native("peered", peered),
            native("handshake", connections.saturating_sub(peered)),
            native("connecting", connecting),
            native("reconnecting", reconnecting),
        ];
        for transport in [Transport::WebSocket, Transport::ZeroMq] {
            peers.push(PeerCount {
                transport,
                state: "peered",
                count: self.local.client_count(transport),
            });
        }
        let peer_queues = self
            .core
            .peers()
            .filter_map(|(peer, conn)| {
                let stats = self.core.stats(conn)?;
                Some(PeerQueue {
                    peer,
                    messages: stats.queued as u64,
                    bytes: stats.queued_bytes as u64,
                    overflows: stats.overflows,
                })
            })
            .collect();
        Metrics {
            connections,
            peers,
            received: core.received,
            sent: core.sent,
            received_bytes: self.counters.received_bytes,
            sent_bytes: self.counters.sent_bytes,
            peer_queues,
            overflow_policy: self.options.overflow_policy,
            dropped: core.dropped,
            clients: self.local.client_traffic(),
            errors: self.counters.errors(),
            handshake_failures: self.counters.handshake_failures(),
            malformed_frames: core.malformed_frames,
            malformed_values: core.malformed_values,
            subscriptions: self.core.advertised_filter_len() as u64,
            subscribers: self.local.subscriber_count(),
        }
    }

    fn now(&self) -> std::time::Instant {
        self.epoch + self.base.elapsed()
    }

    fn next_deadline(&self) -> Option<Instant> {
        let core = self
            .core
            .poll_timeout()
            .map(|t| self.base + t.saturating_duration_since(self.epoch));
        let shutdown = self.shutting_down.as_ref().map(|(t, _)| *t);
        match (core, shutdown) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---- control ------------------------------------------------------

    fn handle_control(&mut self, cmd: Control) {
        match cmd {
            Control::Listen {
                address,
                port,
                retry,
                reply,
            } => self.listen(address, port, retry, reply),
            Control::Peer {
                address,
                port,
                retry,
                reply,
                done,
            } => {
                let existing = self
                    .requests
                    .iter_mut()
                    .find(|(_, r)| r.address == address && r.port == port);
                if let Some((_, req)) = existing {
                    let _ = reply.send(false);
                    if let Some(done) = done {
                        match (req.status, req.peer) {
                            (PeerStatus::Peered, Some(peer)) => {
                                let _ = done.send(Ok(peer));
                            }
                            _ => req.done.push(done),
                        }
                    }
                    return;
                }
                self.next_request += 1;
                let id = self.next_request;
                let task = io::spawn_dial(
                    id,
                    address.clone(),
                    port,
                    Duration::ZERO,
                    self.options.connect_timeout,
                    self.tls.clone(),
                    self.io_tx.clone(),
                );
                self.requests.insert(
                    id,
                    PeerRequest {
                        address,
                        port,
                        retry,
                        conn: None,
                        peer: None,
                        status: PeerStatus::Connecting,
                        task: Some(task),
                        done: done.into_iter().collect(),
                    },
                );
                let _ = reply.send(true);
            }
            Control::Unpeer {
                address,
                port,
                reply,
            } => {
                let found = self.unpeer(&address, port);
                if !found {
                    self.emit_error(ErrorEvent {
                        code: ErrorCode::PeerInvalid,
                        endpoint: EndpointInfo {
                            id: None,
                            network: Some(NetworkInfo { address, port }),
                        },
                        message: "cannot unpeer from unknown peer".into(),
                    });
                }
                let _ = reply.send(found);
            }
            Control::Peers { reply } => {
                let _ = reply.send(self.peer_infos());
            }
            Control::PeerSubscriptions { reply } => {
                let mut all: Vec<Topic> = self
                    .core
                    .peers()
                    .flat_map(|(peer, _)| self.core.peer_filter(peer))
                    .collect();
                all.sort();
                all.dedup();
                let _ = reply.send(all);
            }
            Control::AwaitPeer { peer, reply } => {
                let (tx, rx) = oneshot::channel();
                if self.core.peers().any(|(p, _)| p == peer) {
                    let _ = tx.send(());
                } else {
                    self.peer_waiters.push((peer, tx));
                }
                let _ = reply.send(rx);
            }
            Control::Subscribe {
                prefixes,
                tx,
                reply,
            } => {
                let views = matches!(tx, SubTx::Views(_));
                let sub = self.local.add_subscriber(tx, prefixes.clone());
                if views {
                    self.core.add_view_subscriber(sub);
                }
                for prefix in prefixes {
                    self.core.subscribe(sub, prefix);
                }
                let _ = reply.send(sub);
            }
            Control::AddTopic { sub, prefix } => {
                let full = self.core.advertised_filter_len() >= crate::proto::wire::MAX_FILTER_SIZE;
                match self.local.prefixes_mut(sub) {
                    // As at attach: a client's topics must not take the
                    // advertised filter past what peers accept.
                    Some((_, true)) if full => {
                        tracing::warn!("client {}: topic {prefix} refused, filter full", sub.0);
                    }
                    Some((prefixes, _)) => {
                        prefixes.push(prefix.clone());
                        self.core.subscribe(sub, prefix);
                    }
                    None => {}
                }
            }
            Control::RemoveTopic { sub, prefix } => match self.local.prefixes_mut(sub) {
                Some((prefixes, false)) => {
                    prefixes.retain(|p| *p != prefix);
                    self.core.unsubscribe(sub, &prefix);
                }
                Some((prefixes, true)) => {
                    if let Some(i) = prefixes.iter().position(|p| *p == prefix) {
                        prefixes.swap_remove(i);
                        self.core.unsubscribe(sub, &prefix);
                    }
                }
                None => {}
            },
            Control::Unsubscribe { sub } => self.remove_subscriber(sub),
            Control::Forward { prefix, reply } => {
                self.core.forward(prefix);
                let _ = reply.send(());
            }
            Control::Unforward { prefix, reply } => {
                self.core.unforward(&prefix);
                let _ = reply.send(());
            }
            Control::StatusSubscribe {
                tx,
                receive_statuses,
                reply,
            } => {
                self.local.add_status_subscriber(tx, receive_statuses);
                let _ = reply.send(());
            }
            Control::Flush { reply } => {
                let (tx, rx) = oneshot::channel();
                self.flush_waiters.push(tx);
                let _ = reply.send(rx);
            }
            Control::ReportError { error } => self.emit_error(error),
            Control::Shutdown { reply } => self.begin_shutdown(reply),
            Control::Metrics { reply } => {
                let _ = reply.send(self.metrics());
            }
            Control::AttachClient {
                transport,
                prefixes,
                queue,
                reply,
            } => {
                // Clients' topics become ours and go to every peer, which
                // would drop us past `MAX_FILTER_SIZE`.
                if self.core.advertised_filter_len() + prefixes.len()
                    > crate::proto::wire::MAX_FILTER_SIZE
                {
                    let _ = reply.send(None);
                    return;
                }
                let sub = self.local.add_client(queue, prefixes.clone(), transport);
                for prefix in prefixes {
                    self.core.subscribe(sub, prefix);
                }
                self.core.add_client(sub);
                let _ = reply.send(Some(sub));
            }
            Control::AddListener { task } => {
                if self.shutting_down.is_some() {
                    task.abort();
                } else {
                    self.listeners.push(task);
                }
            }
            Control::WatchWanted { except, tx } => {
                tx.send_replace(self.core.wanted_except(except));
                self.wanted_watchers.push((except, tx));
            }
        }
    }

    /// Tells `WatchWanted` watchers about changes (one computation per
    /// change of the core's generation, however many changes it covers).
    fn update_wanted_watchers(&mut self) {
        if self.wanted_watchers.is_empty() {
            return;
        }
        let generation = self.core.wanted_generation();
        if generation == self.wanted_seen {
            return;
        }
        self.wanted_seen = generation;
        self.wanted_watchers.retain(|(except, tx)| {
            let wanted = self.core.wanted_except(*except);
            tx.send_if_modified(|current| {
                if *current == wanted {
                    false
                } else {
                    *current = wanted;
                    true
                }
            });
            !tx.is_closed()
        });
    }

    fn listen(
        &mut self,
        address: String,
        port: u16,
        retry: Duration,
        reply: oneshot::Sender<Result<u16, EndpointError>>,
    ) {
        let events = self.io_tx.clone();
        let tls = self.tls.clone();
        let handle = tokio::spawn(async move {
            let listener = loop {
                match io::bind(&address, port).await {
                    Ok(listener) => break listener,
                    Err(e) if retry.is_zero() || e.kind() != std::io::ErrorKind::AddrInUse => {
                        let _ = reply.send(Err(EndpointError::Listen {
                            address,
                            port,
                            source: e,
                        }));
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(
                            "cannot listen on {address}:{port} ({e}); retrying in {retry:?}"
                        );
                        tokio::time::sleep(retry).await;
                    }
                }
            };
            let bound = listener.local_addr().map(|a| a.port()).unwrap_or(port);
            let _ = reply.send(Ok(bound));
            io::accept_loop(listener, events, tls).await;
        });
        self.listeners.push(handle);
    }

    fn unpeer(&mut self, address: &str, port: u16) -> bool {
        let now = self.now();
        let request = self
            .requests
            .iter()
            .find(|(_, r)| r.address == address && r.port == port)
            .map(|(id, _)| *id);
        if let Some(id) = request {
            if let Some(req) = self.requests.remove(&id) {
                if let Some(task) = req.task {
                    task.abort();
                }
                if let Some(conn) = req.conn
                    && !self.core.unpeer(conn, now)
                {
                    self.core.close(conn, CloseReason::Unpeered);
                }
            }
            return true;
        }
        let inbound = self
            .conns
            .iter()
            .find(|(_, c)| c.remote.ip().to_string() == address && c.remote.port() == port)
            .map(|(id, _)| *id);
        match inbound {
            Some(conn) => self.core.unpeer(conn, now),
            None => false,
        }
    }

    fn peer_infos(&self) -> Vec<PeerInfo> {
        let mut out: Vec<PeerInfo> = self
            .core
            .peers()
            .map(|(peer, conn)| {
                let c = self.conns.get(&conn);
                let network = c.map(|c| self.network_of(c));
                let stats = self.core.stats(conn).unwrap_or_default();
                PeerInfo {
                    peer: EndpointInfo {
                        id: Some(peer),
                        network,
                    },
                    status: PeerStatus::Peered,
                    is_outbound: self.core.direction(conn) == Some(Direction::Outbound),
                    queued: stats.queued,
                    dropped: stats.overflows,
                }
            })
            .collect();
        for req in self.requests.values() {
            if req.status != PeerStatus::Peered {
                out.push(PeerInfo {
                    peer: EndpointInfo {
                        id: req.peer,
                        network: Some(NetworkInfo {
                            address: req.address.clone(),
                            port: req.port,
                        }),
                    },
                    status: req.status,
                    is_outbound: true,
                    queued: 0,
                    dropped: 0,
                });
            }
        }
        out
    }

    /// The address a user would name a connection by: the one given to
    /// `peer` for outbound connections, the remote address otherwise.
    fn network_of(&self, c: &Conn) -> NetworkInfo {
        match c.request.and_then(|r| self.requests.get(&r)) {
            Some(req) => NetworkInfo {
                address: req.address.clone(),
                port: req.port,
            },
            None => network(c.remote.ip(), c.remote.port()),
        }
    }

    /// Forgets a subscriber or client, here and in the core.
    fn remove_subscriber(&mut self, sub: SubscriberId) {
        if let Some(prefixes) = self.local.remove(sub) {
            self.core.remove_subscriber(sub, &prefixes);
        }
    }

    // ---- sockets ------------------------------------------------------

    fn handle_input(&mut self, input: Input) {
        let Some(c) = self.conns.get_mut(&input.conn) else {
            return;
        };
        match input.data {
            Some(bytes) => {
                self.counters.received_bytes += bytes.len() as u64;
                if !c.seen_data {
                    c.seen_data = true;
                    c.peer_speaks_tls = looks_like_tls(&bytes);
                }
                self.core.handle_bytes(input.conn, &bytes);
            }
            None => {
                c.tls_error = input.tls_error;
                self.core.handle_closed(input.conn);
            }
        }
    }

    fn handle_io(&mut self, event: IoEvent) {
        match event {
            IoEvent::Accepted { stream, remote } => {
                if self.shutting_down.is_some() {
                    return;
                }
                if self.conns.len() >= self.options.max_connections {
                    // Dropping the stream closes it.
                    tracing::warn!(
                        "inbound connection from {remote} refused: {} connections open (max_connections)",
                        self.conns.len()
                    );
                    return;
                }
                self.add_connection(stream, remote, Direction::Inbound, None);
            }
            IoEvent::AcceptFailed { remote, message } => {
                self.counters
                    .handshake_failure(metrics::HandshakeFailure::Tls);
                self.emit_error(ErrorEvent {
                    code: ErrorCode::PeerUnavailable,
                    endpoint: EndpointInfo {
                        id: None,
                        network: Some(network(remote.ip(), remote.port())),
                    },
                    message,
                });
            }
            IoEvent::Connected {
                request,
                stream,
                remote,
            } => {
                let Some(req) = self.requests.get_mut(&request) else {
                    return; // unpeered meanwhile
                };
                req.task = None;
                let conn = self.add_connection(stream, remote, Direction::Outbound, Some(request));
                if let Some(req) = self.requests.get_mut(&request) {
                    req.conn = Some(conn);
                }
            }
            IoEvent::ConnectFailed { request, message } => {
                let Some(req) = self.requests.get_mut(&request) else {
                    return;
                };
                if let Some(cause) =
                    metrics::handshake_failure_of(ErrorCode::PeerUnavailable, &message)
                {
                    self.counters.handshake_failure(cause);
                }
                let event = ErrorEvent {
                    code: ErrorCode::PeerUnavailable,
                    endpoint: EndpointInfo {
                        id: None,
                        network: Some(NetworkInfo {
                            address: req.address.clone(),
                            port: req.port,
                        }),
                    },
                    message,
                };
                self.fail_request(request, event);
            }
            IoEvent::RedialDue { request } => {
                if let Some(req) = self.requests.get_mut(&request) {
                    req.status = PeerStatus::Connecting;
                    req.task = Some(io::spawn_dial(
                        request,
                        req.address.clone(),
                        req.port,
                        Duration::ZERO,
                        self.options.connect_timeout,
                        self.tls.clone(),
                        self.io_tx.clone(),
                    ));
                }
            }
            IoEvent::Closed { conn } => {
                if self.conns.contains_key(&conn) {
                    self.core.handle_closed(conn);
                }
            }
            IoEvent::Drained { conn } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.busy = false;
                }
                self.flush_conn(conn);
            }
        }
    }

    /// A request's attempt failed: report, then retry or give up.
    fn fail_request(&mut self, request: u64, event: ErrorEvent) {
        let Some(req) = self.requests.get_mut(&request) else {
            return;
        };
        req.conn = None;
        if req.retry.is_zero() {
            let req = self.requests.remove(&request);
            for done in req.into_iter().flat_map(|r| r.done) {
                let _ = done.send(Err(event.clone()));
            }
        } else {
            req.status = PeerStatus::Reconnecting;
            req.task = Some(io::spawn_redial_timer(
                request,
                req.retry,
                self.io_tx.clone(),
            ));
        }
        self.emit_error(event);
    }

    fn add_connection(
        &mut self,
        stream: PeerStream,
        remote: SocketAddr,
        direction: Direction,
        request: Option<u64>,
    ) -> ConnectionId {
        self.next_conn += 1;
        let conn = ConnectionId(self.next_conn);
        let (input, events) = (self.input_tx.clone(), self.io_tx.clone());
        let tasks = match stream {
            PeerStream::Plain(stream) => io::spawn_plain_connection(stream, conn, input, events),
            PeerStream::Tls(TlsStream::Rustls(stream)) => {
                io::spawn_connection(*stream, conn, input, events)
            }
            #[cfg(feature = "openssl")]
            PeerStream::Tls(TlsStream::OpenSsl(stream)) => {
                io::spawn_connection(*stream, conn, input, events)
            }
        };
        self.conns.insert(
            conn,
            Conn {
                tasks,
                remote,
                request,
                busy: false,
                tls_error: None,
                seen_data: self.tls.is_some(),
                peer_speaks_tls: false,
            },
        );
        let now = self.now();
        self.core.handle_connect(conn, direction, now);
        conn
    }

    fn flush_all(&mut self) {
        let pending = self.core.pending_transmits();
        for conn in pending {
            self.flush_conn(conn);
        }
    }

    fn flush_conn(&mut self, conn: ConnectionId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.busy || !self.core.has_transmit(conn) {
            return;
        }
        loop {
            let Some((mut chunk, _)) = self.core.poll_transmit_chunk(conn, WRITE_CHUNK) else {
                return;
            };
            // The writer is idle: write a small chunk now. What does not
            // leave at once goes to the writer, in order. (Large chunks
            // always go to the writer: writing them here too raised the
            // sender's peak memory by a sixth in the table benchmark, for no
            // gain in speed.)
            if let Some(direct) = &c.tasks.direct
                && chunk.len()
                    < match direct {
                        io::Direct::Plain(_) => DIRECT_WRITE_MAX,
                        io::Direct::Stream(_) => DIRECT_WRITE_MAX_TLS,
                    }
            {
                let (written, rest) = direct.write_now(chunk);
                self.counters.sent_bytes += written as u64;
                match rest {
                    Some(rest) => chunk = rest,
                    None => continue,
                }
            }
            let len = chunk.len() as u64;
            if c.tasks.writer.try_send(chunk).is_ok() {
                c.busy = true;
                self.counters.sent_bytes += len;
            }
            return;
        }
    }

    // ---- core events --------------------------------------------------

    fn process_events(&mut self) {
        self.process_core_events();
        // Deliveries wait until the core's events are handled, so that a
        // run of messages for one subscriber takes one lock of its channel.
        for sub in self.local.send_pending() {
            self.remove_subscriber(sub);
        }
    }

    fn process_core_events(&mut self) {
        while let Some(event) = self.core.poll_event() {
            match event {
                Event::Deliver {
                    topic,
                    data,
                    size,
                    subscribers,
                } => {
                    for sub in self.local.deliver(topic, data, size, subscribers) {
                        self.remove_subscriber(sub);
                    }
                }
                Event::DeliverView {
                    topic,
                    value,
                    subscribers,
                } => self.local.deliver_view(topic, value, subscribers),
                Event::Peered { conn, peer } => self.on_peered(conn, peer),
                Event::Status {
                    conn,
                    peer,
                    code,
                    message,
                } => {
                    let network = self.conns.get(&conn).map(|c| self.network_of(c));
                    self.emit_status(Status {
                        code,
                        endpoint: EndpointInfo {
                            id: Some(peer),
                            network,
                        },
                        message,
                    });
                }
                Event::Error {
                    conn,
                    peer,
                    code,
                    message,
                } => {
                    let known = conn.and_then(|c| self.conns.get(&c));
                    let network = known.map(|c| self.network_of(c));
                    let mut event = ErrorEvent {
                        code,
                        endpoint: EndpointInfo { id: peer, network },
                        message,
                    };
                    // A TLS error that ended the connection during Broker's
                    // handshake is the TLS handshake failing late: with TLS
                    // 1.3 a peer rejects our certificate only after our side
                    // of the handshake completed.
                    if code == ErrorCode::PeerDisconnectDuringHandshake
                        && let Some(tls_error) = known.and_then(|c| c.tls_error.as_ref())
                    {
                        event.code = ErrorCode::PeerUnavailable;
                        event.message = format!("TLS handshake failed: {tls_error}");
                    } else if known.is_some_and(|c| c.peer_speaks_tls) {
                        event
                            .message
                            .push_str(" (the peer seems to speak TLS: is SSL disabled here only?)");
                    }
                    // Handshake failures of an outbound request count as a
                    // failed attempt of that request.
                    let failed_attempt = conn
                        .filter(|c| !self.core.is_peered(*c))
                        .and_then(|c| self.conns.get(&c))
                        .and_then(|c| c.request);
                    let handshaking = conn.is_some_and(|c| !self.core.is_peered(c));
                    if handshaking
                        && let Some(cause) =
                            metrics::handshake_failure_of(event.code, &event.message)
                    {
                        self.counters.handshake_failure(cause);
                    }
                    match failed_attempt {
                        Some(request) => self.fail_request(request, event),
                        None => self.emit_error(event),
                    }
                }
                Event::Close { conn, reason } => self.on_close(conn, reason),
            }
        }
    }

    fn on_peered(&mut self, conn: ConnectionId, peer: EndpointId) {
        if let Some(request) = self.conns.get(&conn).and_then(|c| c.request)
            && let Some(req) = self.requests.get_mut(&request)
        {
            req.status = PeerStatus::Peered;
            req.peer = Some(peer);
            for done in req.done.drain(..) {
                let _ = done.send(Ok(peer));
            }
        }
        let (ready, waiting): (Vec<_>, Vec<_>) =
            self.peer_waiters.drain(..).partition(|(p, _)| *p == peer);
        self.peer_waiters = waiting;
        for (_, tx) in ready {
            let _ = tx.send(());
        }
    }

    fn on_close(&mut self, conn: ConnectionId, reason: CloseReason) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        // Hand the writer what is left (a drop_conn, say), then let it close.
        if let Some((rest, _)) = self.core.poll_transmit_chunk(conn, usize::MAX) {
            let _ = c.tasks.writer.try_send(rest);
        }
        let request = c.request;
        c.tasks.close();
        let Some(request) = request else {
            return;
        };
        let Some(req) = self.requests.get_mut(&request) else {
            return;
        };
        req.conn = None;
        match reason {
            // The handshake failure was reported already (fail_request).
            CloseReason::HandshakeFailed(_) => {}
            CloseReason::Redundant => {
                // We are (or are becoming) peered with that endpoint over
                // another connection; the request is satisfied.
                req.status = PeerStatus::Peered;
            }
            CloseReason::Unpeered | CloseReason::Overflow => {
                // A local removal is final, as in Broker.
                self.requests.remove(&request);
            }
            CloseReason::Lost | CloseReason::ProtocolError(_) => {
                if req.retry.is_zero() || self.shutting_down.is_some() {
                    self.requests.remove(&request);
                } else {
                    req.status = PeerStatus::Reconnecting;
                    req.task = Some(io::spawn_redial_timer(
                        request,
                        req.retry,
                        self.io_tx.clone(),
                    ));
                }
            }
        }
    }

    fn emit_status(&mut self, status: Status) {
        self.local.status(status);
    }

    fn emit_error(&mut self, error: ErrorEvent) {
        self.counters.error(error.code);
        self.local.error(error);
    }

    // ---- flushing and shutdown ----------------------------------------

    fn all_flushed(&self) -> bool {
        self.core.is_idle() && self.conns.values().all(|c| !c.busy)
    }

    fn check_flush_waiters(&mut self) {
        if !self.flush_waiters.is_empty() && self.all_flushed() {
            for tx in self.flush_waiters.drain(..) {
                let _ = tx.send(());
            }
        }
    }

    fn begin_shutdown(&mut self, reply: Option<oneshot::Sender<()>>) {
        let now = self.now();
        match &mut self.shutting_down {
            Some((_, replies)) => replies.extend(reply),
            None => {
                for handle in &self.listeners {
                    handle.abort();
                }
                for req in self.requests.values_mut() {
                    if let Some(task) = req.task.take() {
                        task.abort();
                    }
                }
                let peered: Vec<ConnectionId> = self.core.peers().map(|(_, c)| c).collect();
                for conn in peered {
                    self.core.unpeer(conn, now);
                }
                let deadline = Instant::now() + self.options.unpeer_timeout;
                self.shutting_down = Some((deadline, reply.into_iter().collect()));
            }
        }
    }

    /// True when the driver should stop.
    fn check_shutdown(&mut self) -> bool {
        let Some((deadline, _)) = &self.shutting_down else {
            return false;
        };
        let done = self.core.peers().next().is_none() && self.all_flushed();
        if done || Instant::now() >= *deadline {
            if let Some((_, replies)) = self.shutting_down.take() {
                self.shutdown_replies = replies;
            }
            return true;
        }
        false
    }
}

/// Whether `bytes` start like a TLS record (handshake or alert, TLS 1.0 to
/// 1.3). No Broker frame does: its length would exceed any sane frame limit.
fn looks_like_tls(bytes: &[u8]) -> bool {
    matches!(bytes, [0x15 | 0x16, 0x03, 0x00..=0x04, ..])
}
