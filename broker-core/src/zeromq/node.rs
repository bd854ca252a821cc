//! The node role: an endpoint joins a Zeek ZeroMQ cluster through the
//! central proxy (XPUB and XSUB sockets on a dedicated thread).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};

use super::keys::{self, CurveKeys};
use super::membership::{ClusterEvent, Membership, NodeType, Output, nodeid_topic};
use super::monitor::{HandshakeFailure, Monitor, SocketKind};
use super::sys::{Stop, WakeFd, Waker, recv_bounded, set_int_option, wake_pair};
use super::wire::{EventFormat, EventMessage, Subscription, WireError, encode_event};
use super::{Limits, ZmqError, default_node_id};
use crate::data::Data;
use crate::runtime::{
    Endpoint, EndpointInfo, ErrorEvent, LocalClient, NetworkInfo, Transport, WeakEndpoint,
};
use crate::status::ErrorCode;
use crate::topic::Topic;
use crate::zeek::Message;

/// The prefix of the topics of the ready check (Zeek's
/// `zeek.zeromq.internal.<id>.<n>.`); never handed to the endpoint.
const INTERNAL_PREFIX: &str = "zeek.zeromq.internal.";

/// Messages read from a socket per poll round, for fairness between them.
const READ_BATCH: usize = 1000;

/// Settings of a node (see [`Endpoint::join_zeromq`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NodeOptions {
    /// The proxy's XSUB endpoint, which this node's XPUB connects to (Zeek's
    /// `connect_xpub_endpoint`, default `tcp://127.0.0.1:5556`).
    pub proxy_xsub: String,
    /// The proxy's XPUB endpoint, which this node's XSUB connects to (Zeek's
    /// `connect_xsub_endpoint`, default `tcp://127.0.0.1:5555`).
    pub proxy_xpub: String,
    /// The node's name: its key in Zeek's `Cluster::nodes`.
    pub name: String,
    /// The node's id; `None` makes one as Zeek does (see
    /// [`default_node_id`](super::default_node_id)). It must be unique in
    /// the cluster and new for every run.
    pub id: Option<String>,
    /// The node's type, which decides its topics (default: worker).
    pub node_type: NodeType,
    /// The serializer of what this node publishes (Zeek's
    /// `Cluster::event_serializer`; default `broker-bin-v1`). Both formats
    /// are accepted on receipt.
    pub format: EventFormat,
    /// CURVE: the server public key and the client key pair. `None`: plain.
    pub curve: Option<CurveKeys>,
    /// Bounds.
    pub limits: Limits,
}

impl NodeOptions {
    /// A worker named `name` that connects to a proxy's XSUB and XPUB.
    pub fn new(
        proxy_xsub: impl Into<String>,
        proxy_xpub: impl Into<String>,
        name: impl Into<String>,
    ) -> NodeOptions {
        NodeOptions {
            proxy_xsub: proxy_xsub.into(),
            proxy_xpub: proxy_xpub.into(),
            name: name.into(),
            id: None,
            node_type: NodeType::Worker,
            format: EventFormat::BinV1,
            curve: None,
            limits: Limits::default(),
        }
    }
}

/// Counters of a [`ZmqNode`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeStats {
    /// Messages published to the cluster (hellos included).
    pub messages_out: u64,
    /// Their bytes (all frames).
    pub bytes_out: u64,
    /// Messages received from the cluster and handed to the endpoint.
    pub messages_in: u64,
    /// Bytes received (all frames, bad messages included).
    pub bytes_in: u64,
    /// Received messages dropped because the endpoint did not keep up.
    pub dropped_in: u64,
    /// Received messages that did not decode (reported as error events).
    pub errors: u64,
    /// Our own messages that came back (dropped, as Zeek does).
    pub echoes: u64,
    /// Cluster topics ignored beyond [`Limits::max_cluster_topics`].
    pub topics_refused: u64,
    /// Messages for the cluster that the node's queue dropped by the
    /// endpoint's `overflow_policy` (it holds `peer_buffer_size` messages;
    /// local publishers never wait for it).
    pub dropped_out: u64,
    /// Failed handshakes of the node's sockets with the proxy, every
    /// attempt counted (each distinct failure is reported once, as a
    /// [`ClusterEvent::HandshakeFailed`], until a handshake succeeds).
    pub handshakes_failed: u64,
}

#[derive(Default, Debug)]
struct Counters {
    messages_out: AtomicU64,
    bytes_out: AtomicU64,
    messages_in: AtomicU64,
    bytes_in: AtomicU64,
    dropped_in: AtomicU64,
    errors: AtomicU64,
    echoes: AtomicU64,
    topics_refused: AtomicU64,
    handshakes_failed: AtomicU64,
    /// Messages taken from the client's queue and not yet sent (or
    /// dropped) by the I/O thread.
    pending: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// What the I/O thread hands to the endpoint.
enum Inbound {
    /// A message, with its bin v1 bytes when it came as `broker-bin-v1`.
    Message(Topic, Data, Option<Vec<u8>>),
    ClusterSubscribe(Topic),
    ClusterUnsubscribe(Topic),
    Cluster(ClusterEvent),
    Handshake(HandshakeFailure),
    Ready,
    Error(String),
}

/// Requests to the I/O thread besides data.
enum Ctl {
    Subscribe(Vec<u8>),
    Unsubscribe(Vec<u8>),
}

/// The frames of one published message.
type Frames = [Vec<u8>; 4];

/// A node joined to a cluster (see [`Endpoint::join_zeromq`]). It leaves
/// when dropped or when the endpoint shuts down; the cluster then sees its
/// id topic unsubscribed (Zeek's `Cluster::node_down`).
pub struct ZmqNode {
    name: String,
    id: String,
    counters: Arc<Counters>,
    stop: Stop,
    ready: watch::Receiver<bool>,
    failure: watch::Receiver<Option<HandshakeFailure>>,
    events: broadcast::Sender<ClusterEvent>,
    up: Arc<Mutex<HashMap<String, String>>>,
    client: Arc<LocalClient>,
}

impl std::fmt::Debug for ZmqNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZmqNode")
            .field("name", &self.name)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Cluster events of a node (see [`ZmqNode::cluster_events`]).
#[derive(Debug)]
pub struct ClusterEvents {
    rx: broadcast::Receiver<ClusterEvent>,
}

impl ClusterEvents {
    /// The next event; `None` once the node has stopped. Events missed by a
    /// slow reader are skipped.
    pub async fn recv(&mut self) -> Option<ClusterEvent> {
        loop {
            match self.rx.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// [`ClusterEvents::recv`], or `None` after `timeout`.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<ClusterEvent> {
        tokio::time::timeout(timeout, self.recv())
            .await
            .ok()
            .flatten()
    }
}

impl ZmqNode {
    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Waits until the node's subscriptions have reached the proxy and come
    /// back (Zeek's ready check): from then on, what it publishes reaches
    /// the cluster's subscribers.
    ///
    /// Fails at once with [`ZmqError::Handshake`] when a handshake of the
    /// node's XPUB or XSUB with the proxy has failed for good (see
    /// [`ZmqNode::handshake_failure`]), before or while waiting.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), ZmqError> {
        let mut ready = self.ready.clone();
        let mut failure = self.failure.clone();
        let failed = async move {
            let first = failure.wait_for(Option::is_some).await.map(|f| f.clone());
            match first {
                Ok(first) => first,
                // The I/O thread has ended: readiness decides.
                Err(_) => std::future::pending().await,
            }
        };
        let wait = async {
            tokio::select! {
                biased;
                Some(failure) = failed => Err(ZmqError::Handshake(failure)),
                ready = ready.wait_for(|r| *r) => match ready {
                    Ok(_) => Ok(()),
                    Err(_) => Err(ZmqError::Endpoint(crate::runtime::EndpointError::Closed)),
                },
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Err(ZmqError::Timeout))
    }

    /// The first handshake failure that keeps the node out of the cluster
    /// for good ([`HandshakeFailure::is_fatal`]: the proxy refused our
    /// CURVE client key, CURVE is on at one side only, or the peer broke
    /// ZMTP); `None` so far. libzmq does not redial after such a failure,
    /// and Zeek exits on one; the node stays, and it is up to the caller
    /// to give up (`broker node` exits 1). Failures that libzmq retries
    /// (the peer hung up mid-handshake) are only reported as
    /// [`ClusterEvent::HandshakeFailed`].
    pub fn handshake_failure(&self) -> Option<HandshakeFailure> {
        self.failure.borrow().clone()
    }

    /// Waits until everything the endpoint handed to the node so far has
    /// been given to libzmq (which sends it within its linger time), at
    /// most `timeout`. Call [`Endpoint::flush`] first for what was just
    /// published.
    pub async fn flush(&self, timeout: Duration) -> Result<(), ZmqError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.client.queue().is_empty() && self.counters.pending.load(Ordering::SeqCst) == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ZmqError::Timeout);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until the node's queue is less than half full (counting what
    /// its thread holds). Local publishers never wait for a ZeroMQ node on
    /// their own (its queue drops by the overflow policy when full); a
    /// publisher that must not lose messages to a slow cluster calls this
    /// before publishing, as `broker node` does for its stdin. Publications
    /// on their way through the endpoint (up to about 1,300) are not seen
    /// yet: this keeps the queue from overflowing when `peer_buffer_size`
    /// is at least 2,600 (the default is 8,192).
    pub async fn wait_for_room(&self) {
        let queue = self.client.queue();
        let limit = (queue.capacity() / 2).max(1);
        while queue.len() + self.counters.pending.load(Ordering::SeqCst) as usize >= limit {
            if self.stop.is_stopped() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Node up and down events, and failed handshakes, from now on.
    pub fn cluster_events(&self) -> ClusterEvents {
        ClusterEvents {
            rx: self.events.subscribe(),
        }
    }

    /// The nodes that said hello and are still there: (name, id), sorted.
    pub fn nodes_up(&self) -> Vec<(String, String)> {
        let up = self.up.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<(String, String)> = up
            .iter()
            .map(|(id, name)| (name.clone(), id.clone()))
            .collect();
        out.sort();
        out
    }

    /// The counters now.
    pub fn stats(&self) -> NodeStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        NodeStats {
            messages_out: get(&c.messages_out),
            bytes_out: get(&c.bytes_out),
            messages_in: get(&c.messages_in),
            bytes_in: get(&c.bytes_in),
            dropped_in: get(&c.dropped_in),
            errors: get(&c.errors),
            echoes: get(&c.echoes),
            topics_refused: get(&c.topics_refused),
            dropped_out: self.client.queue().dropped(),
            handshakes_failed: get(&c.handshakes_failed),
        }
    }
}

impl Drop for ZmqNode {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

fn check_name(what: &'static str, value: &str) -> Result<(), ZmqError> {
    let reason = if value.is_empty() {
        "empty"
    } else if value.contains('.') {
        // Topics end in `.`: a name or id with dots can be a prefix of
        // another's topic and receive its messages.
        "contains a dot"
    } else if !value.bytes().all(|b| b.is_ascii_graphic()) {
        "not printable ASCII"
    } else {
        return Ok(());
    };
    Err(ZmqError::InvalidName {
        what,
        value: value.to_owned(),
        reason,
    })
}

impl Endpoint {
    /// Joins a Zeek ZeroMQ cluster as node `options.name`: connects an XPUB
    /// to the proxy's XSUB and an XSUB to the proxy's XPUB, subscribes the
    /// node's own topics, and answers the hello handshake so that Zeek's
    /// nodes raise `Cluster::node_up` for it (they need an entry for the
    /// name in their `Cluster::nodes`).
    ///
    /// From then on, the endpoint's subscriptions (local subscribers, typed
    /// handlers, WebSocket clients, and Broker peers' filters: the endpoint
    /// bridges them) become the node's cluster subscriptions, and shrink with
    /// unsubscribe; what the endpoint publishes (or receives from peers)
    /// under a topic that a cluster node subscribed to goes to the cluster;
    /// and what the cluster publishes reaches local subscribers, handlers
    /// and peers as messages from Broker peers do.
    ///
    /// Messages that do not decode are dropped and reported as error events
    /// (`deserialization_failed`).
    pub async fn join_zeromq(&self, options: NodeOptions) -> Result<ZmqNode, ZmqError> {
        let id = options
            .id
            .clone()
            .unwrap_or_else(|| default_node_id(&options.name));
        check_name("name", &options.name)?;
        check_name("id", &id)?;
        let client_keys = options.curve.as_ref().map(CurveKeys::client).transpose()?;
        let (link, _, runtime) = self.gateway_parts();
        let own = self.options();
        let client = link
            .attach(
                Transport::ZeroMq,
                Vec::new(),
                own.peer_buffer_size,
                own.peer_buffer_bytes,
                own.overflow_policy,
            )
            .await?;
        let wanted = link.watch_wanted(&client)?;
        let client = Arc::new(client);

        let (waker, wake_fd) = wake_pair()?;
        let waker = Arc::new(waker);
        let stop = Stop::new(Some(waker.clone()));
        let counters = Arc::new(Counters::default());
        let (in_tx, in_rx) = mpsc::channel(options.limits.queue_size.max(1));
        let (out_tx, out_rx) = mpsc::channel::<Frames>(1024);
        let (ctl_tx, ctl_rx) = std::sync::mpsc::channel::<Ctl>();

        // Sockets are made here, so that errors reach the caller.
        let ctx = zmq::Context::new();
        let mut xpub = ctx
            .socket(zmq::XPUB)
            .map_err(|e| ZmqError::socket("XPUB", e))?;
        let xsub = ctx
            .socket(zmq::XSUB)
            .map_err(|e| ZmqError::socket("XSUB", e))?;
        {
            let opt = |r: zmq::Result<()>| r.map_err(|e| ZmqError::socket("socket options", e));
            let limits = &options.limits;
            opt(xpub.set_linger(500))?;
            opt(xpub.set_sndhwm(limits.hwm))?;
            opt(xpub.set_xpub_verbose(true))?;
            opt(xpub.set_maxmsgsize(limits.maxmsgsize()))?;
            // NODROP: a full pipe makes the send fail, so that this node
            // holds the message back instead of losing it silently.
            set_int_option(&mut xpub, zmq_sys::ZMQ_XPUB_NODROP, 1)?;
            opt(xsub.set_linger(0))?;
            opt(xsub.set_rcvhwm(limits.hwm))?;
            opt(xsub.set_maxmsgsize(limits.maxmsgsize()))?;
            if let Some(keys) = &client_keys {
                keys::apply_client(&xpub, keys)?;
                keys::apply_client(&xsub, keys)?;
            }
        }
        // Monitors first: events before their PAIRs connect are lost.
        let curve = client_keys.is_some();
        let monitors = [
            Monitor::attach(&ctx, &xpub, SocketKind::Xpub, curve)?,
            Monitor::attach(&ctx, &xsub, SocketKind::Xsub, curve)?,
        ];
        {
            xpub.connect(&options.proxy_xsub).map_err(|e| {
                ZmqError::socket(&format!("connect XPUB to {}", options.proxy_xsub), e)
            })?;
            xsub.connect(&options.proxy_xpub).map_err(|e| {
                ZmqError::socket(&format!("connect XSUB to {}", options.proxy_xpub), e)
            })?;
        }
        let (failure_tx, failure_rx) = watch::channel(None);
        let io = NodeIo {
            _ctx: ctx,
            xpub,
            xsub,
            monitors,
            failure: failure_tx,
            wake: wake_fd,
            stop: stop.clone(),
            counters: counters.clone(),
            in_tx,
            out_rx,
            ctl_rx,
            id: id.clone(),
            format: options.format,
            membership: Membership::new(&options.name, &id),
            subscribed: HashMap::new(),
            cluster_topics: HashSet::new(),
            max_cluster_topics: options.limits.max_cluster_topics,
            outq: VecDeque::new(),
            ready_topic: format!("{INTERNAL_PREFIX}{id}.1."),
            ready: false,
        };
        // The node's own topics, then the ready check.
        for topic in options.node_type.topics(&options.name, &id) {
            let _ = ctl_tx.send(Ctl::Subscribe(topic.into_bytes()));
        }
        let _ = ctl_tx.send(Ctl::Subscribe(io.ready_topic.clone().into_bytes()));
        std::thread::Builder::new()
            .name("broker-zmq-node".into())
            .spawn(move || io.run())
            .map_err(ZmqError::Thread)?;
        waker.wake();

        let (ready_tx, ready_rx) = watch::channel(false);
        let (events, _) = broadcast::channel(256);
        let up = Arc::new(Mutex::new(HashMap::new()));
        let at = options.proxy_xpub.clone();
        runtime.spawn(outbound(
            client.clone(),
            out_tx,
            waker.clone(),
            id.clone().into_bytes(),
            options.format,
            stop.clone(),
            counters.clone(),
        ));
        runtime.spawn(inbound(
            client.clone(),
            in_rx,
            self.downgrade(),
            ready_tx,
            events.clone(),
            up.clone(),
            at,
        ));
        runtime.spawn(follow_wanted(wanted, ctl_tx, waker.clone(), stop.clone()));
        let watch_stop = stop.clone();
        runtime.spawn(async move {
            link.closed().await;
            watch_stop.stop();
        });
        Ok(ZmqNode {
            name: options.name,
            id,
            counters,
            stop,
            ready: ready_rx,
            failure: failure_rx,
            events,
            up,
            client,
        })
    }
}

/// Local messages for the cluster: the client's queue to the I/O thread.
async fn outbound(
    client: Arc<LocalClient>,
    out: mpsc::Sender<Frames>,
    waker: Arc<Waker>,
    sender: Vec<u8>,
    format: EventFormat,
    stop: Stop,
    counters: Arc<Counters>,
) {
    while let Ok(delivery) = client.recv().await {
        let frames = encode_event(&delivery.msg.topic, &sender, format, &delivery.msg.data);
        counters.pending.fetch_add(1, Ordering::SeqCst);
        if out.send(frames).await.is_err() {
            break;
        }
        waker.wake();
    }
    stop.stop();
}

/// What the I/O thread received: to the endpoint.
async fn inbound(
    client: Arc<LocalClient>,
    mut rx: mpsc::Receiver<Inbound>,
    endpoint: WeakEndpoint,
    ready: watch::Sender<bool>,
    events: broadcast::Sender<ClusterEvent>,
    up: Arc<Mutex<HashMap<String, String>>>,
    at: String,
) {
    while let Some(item) = rx.recv().await {
        match item {
            Inbound::Message(topic, data, payload) => {
                let sent = match payload {
                    Some(payload) => client.publish_encoded(topic, payload, data).await,
                    None => client.publish(topic, data).await,
                };
                if sent.is_err() {
                    break;
                }
            }
            Inbound::ClusterSubscribe(topic) => {
                let _ = client.add_topic(topic);
            }
            Inbound::ClusterUnsubscribe(topic) => {
                let _ = client.remove_topic(topic);
            }
            Inbound::Ready => {
                ready.send_replace(true);
            }
            Inbound::Cluster(event) => {
                {
                    let mut up = up.lock().unwrap_or_else(PoisonError::into_inner);
                    match &event {
                        ClusterEvent::NodeUp { name, id } => {
                            up.insert(id.clone(), name.clone());
                        }
                        ClusterEvent::NodeDown { id, .. } => {
                            up.remove(id);
                        }
                        ClusterEvent::HandshakeFailed(_) => {}
                    }
                }
                tracing::info!("zeromq: {event:?}");
                let _ = events.send(event);
            }
            Inbound::Handshake(failure) => {
                // A fatal failure is the caller's to report (`wait_ready`,
                // the error event): `broker node` exits with one line.
                if failure.is_fatal() {
                    tracing::debug!("zeromq node: {failure}");
                } else {
                    tracing::warn!("zeromq node: {failure}");
                }
                let Some(ep) = endpoint.upgrade() else {
                    break;
                };
                ep.report_error(handshake_error(&failure));
                drop(ep);
                let _ = events.send(ClusterEvent::HandshakeFailed(failure));
            }
            Inbound::Error(message) => {
                tracing::warn!("zeromq node: {message}");
                let Some(ep) = endpoint.upgrade() else {
                    break;
                };
                ep.report_error(ErrorEvent {
                    code: ErrorCode::DeserializationFailed,
                    endpoint: EndpointInfo {
                        id: None,
                        network: Some(NetworkInfo {
                            address: at.clone(),
                            port: 0,
                        }),
                    },
                    message,
                });
            }
        }
    }
}

/// A failed handshake as an error event: `peer_unavailable`, as a failed
/// TLS handshake of a Broker peering is.
pub(crate) fn handshake_error(failure: &HandshakeFailure) -> ErrorEvent {
    ErrorEvent {
        code: ErrorCode::PeerUnavailable,
        endpoint: EndpointInfo {
            id: None,
            network: Some(NetworkInfo {
                address: failure.endpoint.clone(),
                port: 0,
            }),
        },
        message: failure.to_string(),
    }
}

/// The endpoint's wanted topics become the node's cluster subscriptions.
async fn follow_wanted(
    mut wanted: watch::Receiver<Vec<Topic>>,
    ctl: std::sync::mpsc::Sender<Ctl>,
    waker: Arc<Waker>,
    stop: Stop,
) {
    let mut current: BTreeSet<Topic> = BTreeSet::new();
    loop {
        let now: BTreeSet<Topic> = wanted.borrow_and_update().iter().cloned().collect();
        for gone in current.difference(&now) {
            let _ = ctl.send(Ctl::Unsubscribe(gone.as_str().as_bytes().to_vec()));
        }
        for new in now.difference(&current) {
            let _ = ctl.send(Ctl::Subscribe(new.as_str().as_bytes().to_vec()));
        }
        current = now;
        waker.wake();
        if wanted.changed().await.is_err() || stop.is_stopped() {
            break;
        }
    }
}

/// The I/O thread's state.
struct NodeIo {
    _ctx: zmq::Context,
    xpub: zmq::Socket,
    xsub: zmq::Socket,
    /// The XPUB's and the XSUB's monitors.
    monitors: [Monitor; 2],
    /// The first fatal handshake failure (read by `wait_ready`).
    failure: watch::Sender<Option<HandshakeFailure>>,
    wake: WakeFd,
    stop: Stop,
    counters: Arc<Counters>,
    in_tx: mpsc::Sender<Inbound>,
    out_rx: mpsc::Receiver<Frames>,
    ctl_rx: std::sync::mpsc::Receiver<Ctl>,
    id: String,
    format: EventFormat,
    membership: Membership,
    /// Our subscriptions with how many reasons we have for each: each prefix
    /// is subscribed once at the proxy (libzmq counts per prefix).
    subscribed: HashMap<Vec<u8>, usize>,
    /// Topics the cluster subscribes to, as handed to the endpoint.
    cluster_topics: HashSet<Vec<u8>>,
    max_cluster_topics: usize,
    /// Messages waiting for room in the XPUB; `true` for the endpoint's
    /// (counted in `pending`), `false` for hellos.
    outq: VecDeque<(Frames, bool)>,
    ready_topic: String,
    ready: bool,
}

impl NodeIo {
    fn run(mut self) {
        while !self.stop.is_stopped() {
            let want_out = !self.outq.is_empty();
            let mut items = [
                self.xsub.as_poll_item(zmq::POLLIN),
                self.xpub.as_poll_item(if want_out {
                    zmq::POLLIN | zmq::POLLOUT
                } else {
                    zmq::POLLIN
                }),
                zmq::PollItem::from_fd(self.wake.fd(), zmq::POLLIN),
                self.monitors[0].socket().as_poll_item(zmq::POLLIN),
                self.monitors[1].socket().as_poll_item(zmq::POLLIN),
            ];
            if zmq::poll(&mut items, 1000).is_err() {
                continue;
            }
            let monitored = items[3].is_readable() || items[4].is_readable();
            self.wake.drain();
            if monitored {
                self.read_monitors();
            }
            self.handle_ctl();
            self.read_xsub();
            self.read_xpub();
            self.send_out();
        }
        // Unsubscribing happens when the XSUB closes: the proxy tells
        // everyone (Zeek's node_down).
    }

    /// Handshake failures: the first fatal one is kept for `wait_ready`;
    /// each new one goes to the endpoint.
    fn read_monitors(&mut self) {
        let mut failures = Vec::new();
        for monitor in &mut self.monitors {
            monitor.drain(&self.counters.handshakes_failed, |f| failures.push(f));
        }
        for failure in failures {
            if failure.is_fatal() {
                self.failure.send_if_modified(|first| {
                    let new = first.is_none();
                    if new {
                        *first = Some(failure.clone());
                    }
                    new
                });
            }
            self.deliver(Inbound::Handshake(failure));
        }
    }

    fn handle_ctl(&mut self) {
        while let Ok(ctl) = self.ctl_rx.try_recv() {
            match ctl {
                Ctl::Subscribe(topic) => self.subscribe(topic),
                Ctl::Unsubscribe(topic) => self.unsubscribe(topic),
            }
        }
    }

    fn subscribe(&mut self, topic: Vec<u8>) {
        let count = self.subscribed.entry(topic.clone()).or_default();
        *count += 1;
        if *count == 1 {
            let _ = self
                .xsub
                .send(Subscription::Subscribe(topic).encode(), zmq::DONTWAIT);
        }
    }

    fn unsubscribe(&mut self, topic: Vec<u8>) {
        let Some(count) = self.subscribed.get_mut(&topic) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            self.subscribed.remove(&topic);
            let _ = self
                .xsub
                .send(Subscription::Unsubscribe(topic).encode(), zmq::DONTWAIT);
        }
    }

    fn deliver(&self, item: Inbound) {
        if self.in_tx.try_send(item).is_err() {
            add(&self.counters.dropped_in, 1);
        }
    }

    fn error(&self, message: String) {
        add(&self.counters.errors, 1);
        self.deliver(Inbound::Error(message));
    }

    fn read_xsub(&mut self) {
        for _ in 0..READ_BATCH {
            let Some(msg) = recv_bounded(&self.xsub, 4) else {
                return;
            };
            add(&self.counters.bytes_in, msg.bytes as u64);
            let frames = msg.frames;
            if msg.count == 4 && frames[1] == self.id.as_bytes() {
                add(&self.counters.echoes, 1);
                continue;
            }
            let decoded = if msg.count == 4 {
                EventMessage::decode(&frames)
            } else {
                Err(WireError::FrameCount {
                    expected: 4,
                    found: msg.count,
                })
            };
            let mut frames = frames;
            let msg = match decoded {
                Ok(msg) => msg,
                Err(e) => {
                    self.error(format!("dropped a message from the cluster: {e}"));
                    continue;
                }
            };
            if msg.topic.as_str() == nodeid_topic(&self.id)
                && let Ok(Message::Event(event)) = Message::from_data(&msg.data)
            {
                let outputs = self.membership.on_event(&event);
                self.apply(outputs);
            }
            add(&self.counters.messages_in, 1);
            // bin v1 bytes that decoded are what the endpoint would encode
            // again: hand them over.
            let payload =
                (msg.format == EventFormat::BinV1).then(|| std::mem::take(&mut frames[3]));
            self.deliver(Inbound::Message(msg.topic, msg.data, payload));
        }
    }

    fn read_xpub(&mut self) {
        for _ in 0..READ_BATCH {
            let Some(msg) = recv_bounded(&self.xpub, 1) else {
                return;
            };
            if msg.count != 1 {
                self.error(format!(
                    "dropped a subscription message of {} frames",
                    msg.count
                ));
                continue;
            }
            match Subscription::decode(&msg.frames[0]) {
                Ok(Some(Subscription::Subscribe(topic))) => self.on_cluster_subscribe(topic),
                Ok(Some(Subscription::Unsubscribe(topic))) => self.on_cluster_unsubscribe(topic),
                Ok(None) => {}
                Err(e) => self.error(format!("dropped a subscription message: {e}")),
            }
        }
    }

    fn on_cluster_subscribe(&mut self, topic: Vec<u8>) {
        if topic == self.ready_topic.as_bytes() {
            if !self.ready {
                self.ready = true;
                let topic = self.ready_topic.clone().into_bytes();
                self.unsubscribe(topic);
                self.deliver(Inbound::Ready);
            }
            return;
        }
        let outputs = self.membership.on_subscribe(&topic);
        self.apply(outputs);
        if topic.starts_with(INTERNAL_PREFIX.as_bytes()) || self.cluster_topics.contains(&topic) {
            return;
        }
        let Ok(t) = Topic::from_bytes(&topic) else {
            return;
        };
        if self.cluster_topics.len() >= self.max_cluster_topics {
            add(&self.counters.topics_refused, 1);
            if self.counters.topics_refused.load(Ordering::Relaxed) == 1 {
                self.error(format!(
                    "the cluster subscribes to more than {} topics; ignoring the rest",
                    self.max_cluster_topics
                ));
            }
            return;
        }
        self.cluster_topics.insert(topic);
        self.deliver(Inbound::ClusterSubscribe(t));
    }

    fn on_cluster_unsubscribe(&mut self, topic: Vec<u8>) {
        let outputs = self.membership.on_unsubscribe(&topic);
        self.apply(outputs);
        if self.cluster_topics.remove(&topic)
            && let Ok(t) = Topic::from_bytes(&topic)
        {
            self.deliver(Inbound::ClusterUnsubscribe(t));
        }
    }

    fn apply(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Publish { topic, event } => {
                    let Ok(topic) = Topic::new(topic) else {
                        continue;
                    };
                    let data = Message::Event(event).into_data();
                    let frames = encode_event(&topic, self.id.as_bytes(), self.format, &data);
                    self.outq.push_back((frames, false));
                }
                Output::Event(event) => self.deliver(Inbound::Cluster(event)),
            }
        }
    }

    /// Sends what is queued, then what the endpoint hands over, while the
    /// XPUB takes it; what it does not take waits (back-pressure reaches the
    /// endpoint's client queue, whose overflow policy applies).
    fn send_out(&mut self) {
        loop {
            let (frames, counted) = match self.outq.pop_front() {
                Some(item) => item,
                None => match self.out_rx.try_recv() {
                    Ok(frames) => (frames, true),
                    Err(_) => return,
                },
            };
            let size: usize = frames.iter().map(Vec::len).sum();
            match self.xpub.send_multipart(&frames, zmq::DONTWAIT) {
                Ok(()) => {
                    add(&self.counters.messages_out, 1);
                    add(&self.counters.bytes_out, size as u64);
                }
                Err(zmq::Error::EAGAIN) => {
                    self.outq.push_front((frames, counted));
                    return;
                }
                Err(e) => {
                    tracing::warn!("zeromq node: cannot publish: {e}");
                }
            }
            if counted {
                self.counters.pending.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}
