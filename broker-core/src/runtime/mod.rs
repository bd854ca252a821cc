//! The tokio runtime: [`Endpoint`], subscribers and status events.
//!
//! An endpoint owns one protocol [`Core`](crate::proto::Core) driven by one
//! task; every connection has a reader and a writer task that only move
//! bytes. The endpoint's methods talk to the driver through channels, so they
//! work from any async runtime (or, through [`Endpoint::block_on`], from
//! blocking code).
//!
//! ```
//! use broker_core::data::Data;
//! use broker_core::options::Options;
//! use broker_core::runtime::Endpoint;
//! use std::time::Duration;
//!
//! let options = Options { disable_ssl: true, ..Options::default() };
//! let server = Endpoint::new(options.clone()).unwrap();
//! let client = Endpoint::new(options).unwrap();
//! server.block_on(async {
//!     let port = server.listen("127.0.0.1", 0).await.unwrap();
//!     let mut sub = server.subscribe(["/demo"]).await.unwrap();
//!     client.peer_and_wait("127.0.0.1", port, Duration::from_secs(1)).await.unwrap();
//!     server.await_peer(client.node_id(), Duration::from_secs(5)).await.unwrap();
//!     client.publish("/demo/hello", Data::from("world")).await.unwrap();
//!     let msg = sub.recv().await.unwrap();
//!     assert_eq!(msg.topic.as_str(), "/demo/hello");
//!     assert_eq!(msg.data, Data::from("world"));
//! });
//! ```

mod batch;
mod client;
mod control;
mod delivery;
mod driver;
mod io;
mod metrics;
mod metrics_http;
mod spin;

pub(crate) use client::{ClientLink, LocalClient};
pub(crate) use delivery::{ClientClosed, Delivery};
pub(crate) use io::bind;
pub use metrics::{ClientTraffic, HandshakeFailure, Metrics, PeerCount, PeerQueue, Transport};

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::data::view::DataBuf;
use crate::data::{Data, ToData};
use crate::options::{Options, OptionsError, UnauthenticatedTls};
use crate::proto::{EndpointId, SubscriberId};
use crate::status::{ErrorCode, PeerStatus, StatusCode};
use crate::tls::{TlsConfig, TlsError, TlsMode};
use crate::topic::{IntoTopic, Topic, TopicError};

use control::{Control, Publish};
use delivery::SubTx;

/// A received message: a topic and a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The topic it was published on.
    pub topic: Topic,
    /// The value.
    pub data: Data,
}

/// A received message whose value is read in place (see
/// [`Endpoint::subscribe_views`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ViewMessage {
    /// The topic it was published on.
    pub topic: Topic,
    /// The value, checked and indexed: [`DataBuf::root`] reads it,
    /// [`DataBuf::to_data`] decodes it.
    pub value: DataBuf,
}

/// Where an endpoint is on the network.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NetworkInfo {
    /// The address (as given to `peer`, or the remote address of an inbound peer).
    pub address: String,
    /// The port.
    pub port: u16,
}

/// An endpoint, by id and network location (Zeek's `Broker::EndpointInfo`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct EndpointInfo {
    /// Its id, once known.
    pub id: Option<EndpointId>,
    /// Its network location, if known.
    pub network: Option<NetworkInfo>,
}

/// A peering (Zeek's `Broker::PeerInfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer.
    pub peer: EndpointInfo,
    /// The state of the peering.
    pub status: PeerStatus,
    /// Whether we dialed.
    pub is_outbound: bool,
    /// Messages waiting in this peer's send queue now (ours, not Zeek's).
    pub queued: usize,
    /// Messages the overflow policy dropped for this peer so far (ours).
    pub dropped: u64,
}

/// A status change (Zeek's `Broker::peer_added` and friends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// What happened.
    pub code: StatusCode,
    /// The peer it happened with.
    pub endpoint: EndpointInfo,
    /// Broker's text.
    pub message: String,
}

/// An error event (Zeek's `Broker::error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorEvent {
    /// The code.
    pub code: ErrorCode,
    /// The peer concerned, as far as known.
    pub endpoint: EndpointInfo,
    /// What happened.
    pub message: String,
}

/// An event on a [`StatusSubscriber`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusEvent {
    /// A status change.
    Status(Status),
    /// An error.
    Error(ErrorEvent),
}

/// Why an endpoint operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The options are unusable.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// The runtime could not be started.
    #[error("cannot start the endpoint's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// Listening failed.
    #[error("cannot listen on {address}:{port}: {source}")]
    Listen {
        /// The address.
        address: String,
        /// The port.
        port: u16,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A topic is invalid.
    #[error(transparent)]
    Topic(#[from] TopicError),
    /// The endpoint has shut down.
    #[error("the endpoint has shut down")]
    Closed,
    /// A non-blocking publish found the queue full.
    #[error("the publish queue is full")]
    WouldBlock,
    /// A client's subscriptions would take the endpoint's filter past what
    /// peers accept (`proto::wire::MAX_FILTER_SIZE` topics).
    #[error("too many subscriptions: the endpoint's filter would exceed what peers accept")]
    TooManySubscriptions,
    /// Peering failed.
    #[error("peering with {address}:{port} failed: {message} ({code})")]
    Peer {
        /// The address.
        address: String,
        /// The port.
        port: u16,
        /// The error code.
        code: ErrorCode,
        /// What happened.
        message: String,
    },
    /// Waiting timed out.
    #[error("timed out")]
    Timeout,
    /// The TLS configuration is unusable (a file is missing, a key does not
    /// decrypt or match its certificate, ...).
    #[error(transparent)]
    Tls(#[from] TlsError),
}

struct Inner {
    id: EndpointId,
    options: Options,
    control: mpsc::UnboundedSender<Control>,
    publish: batch::Sender<Publish>,
    handle: tokio::runtime::Handle,
    runtime: Option<tokio::runtime::Runtime>,
    tls: Option<Arc<TlsConfig>>,
    /// The port `Options::metrics_port` was served on.
    metrics_port: Option<u16>,
    /// State of the layers above the runtime (the typed layer's dispatcher),
    /// one value per type.
    extensions: std::sync::Mutex<Vec<Arc<dyn std::any::Any + Send + Sync>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Shutdown { reply: None });
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Binds `address:port` now (blocking briefly), registered with `handle`'s
/// runtime. An empty address means all interfaces.
fn bind_now(
    address: &str,
    port: u16,
    handle: &tokio::runtime::Handle,
) -> Result<tokio::net::TcpListener, EndpointError> {
    let listen_error = |source| EndpointError::Listen {
        address: address.to_owned(),
        port,
        source,
    };
    let host = if address.is_empty() {
        "0.0.0.0"
    } else {
        address
    };
    let listener = std::net::TcpListener::bind((host, port)).map_err(listen_error)?;
    listener.set_nonblocking(true).map_err(listen_error)?;
    let _runtime = handle.enter();
    tokio::net::TcpListener::from_std(listener).map_err(listen_error)
}

/// The bin v1 encoding of a value to publish, written straight into the
/// vector that is queued (no copy). The vector starts with room for this
/// thread's recent encodings (their maximum, decaying by an eighth per call,
/// at most [`ENCODE_HINT_MAX`]), so a stream of similar messages neither
/// grows it step by step nor copies it; one left with more than a quarter
/// (and 64 bytes) of spare room is shrunk to fit, so queued messages hold
/// little spare capacity.
fn encode(data: impl ToData) -> Vec<u8> {
    thread_local! {
        static HINT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    let hint = HINT.get();
    // The slack: the encoder writes a short string as a whole fixed-size
    // record and then cuts it to length, so it needs room past the end.
    let mut payload = Vec::with_capacity(hint + ENCODE_SLACK);
    data.into_bin(&mut payload);
    let len = payload.len();
    HINT.set(len.max(hint - hint / 8).min(ENCODE_HINT_MAX));
    if payload.capacity() - len > len / 4 + 2 * ENCODE_SLACK {
        payload.shrink_to_fit();
    }
    payload
}

/// The most room [`encode`] reserves ahead of encoding.
const ENCODE_HINT_MAX: usize = 1 << 20;
/// The room [`encode`] adds to its estimate.
const ENCODE_SLACK: usize = 32;

/// A handle to an [`Endpoint`] that does not keep it alive.
#[derive(Clone, Debug)]
pub struct WeakEndpoint {
    inner: std::sync::Weak<Inner>,
}

impl WeakEndpoint {
    /// The endpoint, unless it has been dropped.
    pub fn upgrade(&self) -> Option<Endpoint> {
        self.inner.upgrade().map(|inner| Endpoint { inner })
    }
}

/// A Broker endpoint: it listens, peers, subscribes and publishes.
///
/// Cloning is cheap and gives another handle to the same endpoint; the
/// endpoint stops when the last handle is dropped (or at
/// [`Endpoint::shutdown`]).
#[derive(Clone)]
pub struct Endpoint {
    inner: Arc<Inner>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.inner.id)
            .finish()
    }
}

fn random_id() -> EndpointId {
    use std::hash::{BuildHasher, RandomState};
    let mut bytes = [0u8; 16];
    // Without an OS random source, fall back to std's randomly keyed hasher;
    // ids only need to be unique, not secret.
    if getrandom::fill(&mut bytes).is_err() {
        let now = std::time::SystemTime::now();
        let hi = RandomState::new().hash_one(now);
        let lo = RandomState::new().hash_one(now);
        bytes[..8].copy_from_slice(&hi.to_le_bytes());
        bytes[8..].copy_from_slice(&lo.to_le_bytes());
    }
    EndpointId::from_random_bytes(bytes)
}

impl Endpoint {
    /// An endpoint with its own runtime of `options.max_threads` threads.
    ///
    /// Unless `options.disable_ssl` is set, this builds the TLS configuration
    /// (see [`crate::tls`]): it reads the certificate, key and CA files, or
    /// generates the endpoint's self-signed certificate in the default mode.
    /// An unusable configuration fails here with [`EndpointError::Tls`].
    pub fn new(options: Options) -> Result<Endpoint, EndpointError> {
        options.validate()?;
        let tls = TlsConfig::from_options(&options)?.map(Arc::new);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.max_threads)
            .thread_name("broker")
            .enable_all()
            .build()
            .map_err(EndpointError::Runtime)?;
        let handle = runtime.handle().clone();
        Endpoint::start(options, handle, Some(runtime), tls)
    }

    /// An endpoint whose tasks run on an existing tokio runtime. TLS as for
    /// [`Endpoint::new`].
    pub fn new_in(
        options: Options,
        handle: tokio::runtime::Handle,
    ) -> Result<Endpoint, EndpointError> {
        options.validate()?;
        let tls = TlsConfig::from_options(&options)?.map(Arc::new);
        Endpoint::start(options, handle, None, tls)
    }

    fn start(
        options: Options,
        handle: tokio::runtime::Handle,
        runtime: Option<tokio::runtime::Runtime>,
        tls: Option<Arc<TlsConfig>>,
    ) -> Result<Endpoint, EndpointError> {
        if options.polling_knobs_changed() {
            tracing::warn!(
                "the CAF polling options (aggressive_*, moderate_*, relaxed_*) have no effect here"
            );
        }
        let id = options.endpoint_id.unwrap_or_else(random_id);
        if let Some(tls) = &tls
            && tls.mode() == TlsMode::Unauthenticated
        {
            tracing::warn!(
                endpoint = %id,
                "TLS without authentication ({}): peerings are encrypted against passive \
                 listeners but nobody is authenticated, so an active man in the middle can \
                 read and change them; set ssl_certificate and ssl_cafile to authenticate peers",
                match tls.unauthenticated_tls() {
                    Some(UnauthenticatedTls::Anonymous) => "Broker's anonymous ECDH",
                    _ => "ephemeral certificates",
                }
            );
        }
        // Bound before anything starts, so that a busy port fails here.
        let metrics = match options.metrics_port {
            Some(port) => match bind_now(&options.metrics_address, port, &handle) {
                Ok(listener) => Some(listener),
                Err(e) => {
                    // Dropping a runtime blocks, which panics in async code.
                    if let Some(runtime) = runtime {
                        runtime.shutdown_background();
                    }
                    return Err(e);
                }
            },
            None => None,
        };
        let metrics_port = metrics
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port());
        let (control, publish) = driver::spawn(&handle, id, options.clone(), tls.clone());
        let endpoint = Endpoint {
            inner: Arc::new(Inner {
                id,
                options,
                control,
                publish,
                handle,
                runtime,
                tls,
                metrics_port,
                extensions: std::sync::Mutex::default(),
            }),
        };
        if let Some(listener) = metrics {
            endpoint.spawn_metrics_server(listener)?;
        }
        Ok(endpoint)
    }

    /// The port of the metrics endpoint that [`Options::metrics_port`]
    /// asked for; `None` when the option is not set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.inner.metrics_port
    }

    /// The tokio runtime the endpoint's tasks run on.
    pub fn runtime_handle(&self) -> &tokio::runtime::Handle {
        &self.inner.handle
    }

    /// A handle that does not keep the endpoint alive.
    pub fn downgrade(&self) -> WeakEndpoint {
        WeakEndpoint {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// The endpoint's value of type `T` for a layer built on the runtime,
    /// made by `init` on first use.
    pub(crate) fn extension<T: Send + Sync + 'static>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let mut extensions = self
            .inner
            .extensions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for ext in extensions.iter() {
            if let Ok(found) = Arc::clone(ext).downcast::<T>() {
                return found;
            }
        }
        let value = Arc::new(init());
        extensions.push(value.clone());
        value
    }

    /// Delivers `error` to the status subscribers as if the endpoint had
    /// raised it (layers above the runtime report their errors this way).
    pub(crate) fn report_error(&self, error: ErrorEvent) {
        let _ = self.inner.control.send(Control::ReportError { error });
    }

    /// A link to the driver for gateways (it does not keep the endpoint
    /// alive), the TLS configuration they share with peering, and the
    /// runtime to spawn their tasks on.
    pub(crate) fn gateway_parts(
        &self,
    ) -> (ClientLink, Option<Arc<TlsConfig>>, tokio::runtime::Handle) {
        let link = ClientLink {
            control: self.inner.control.clone(),
            publish: self.inner.publish.clone(),
        };
        (link, self.inner.tls.clone(), self.inner.handle.clone())
    }

    /// This endpoint's id.
    pub fn node_id(&self) -> EndpointId {
        self.inner.id
    }

    /// The options the endpoint was built with.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Runs a future to completion on the endpoint's runtime, for blocking
    /// code. Must not be called from inside an async context.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.inner.handle.block_on(future)
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Control,
    ) -> Result<T, EndpointError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .control
            .send(make(tx))
            .map_err(|_| EndpointError::Closed)?;
        rx.await.map_err(|_| EndpointError::Closed)
    }

    /// Asks the driver for a signal and waits for it, at most `timeout`.
    async fn wait_for(
        &self,
        timeout: Duration,
        make: impl FnOnce(oneshot::Sender<oneshot::Receiver<()>>) -> Control,
    ) -> Result<(), EndpointError> {
        let wait = async {
            let signal = self.request(make).await?;
            signal.await.map_err(|_| EndpointError::Closed)
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Err(EndpointError::Timeout))
    }

    /// Listens for peers on `address:port` and returns the bound port. Port 0
    /// lets the OS choose; an empty address means all interfaces. While the
    /// port is busy, binding is retried every `default_listen_retry` (no
    /// retry when that is zero).
    pub async fn listen(&self, address: &str, port: u16) -> Result<u16, EndpointError> {
        let retry = self.inner.options.default_listen_retry;
        self.listen_with_retry(address, port, retry).await
    }

    /// [`Endpoint::listen`] with an explicit retry interval.
    pub async fn listen_with_retry(
        &self,
        address: &str,
        port: u16,
        retry: Duration,
    ) -> Result<u16, EndpointError> {
        let address = address.to_owned();
        self.request(|reply| Control::Listen {
            address,
            port,
            retry,
            reply,
        })
        .await?
    }

    /// Starts peering with `address:port` in the background and returns
    /// whether this is a new peering request. Failed attempts raise
    /// `PeerUnavailable` errors; with a non-zero `retry` the endpoint keeps
    /// trying, and redials after the connection is lost.
    pub async fn peer(
        &self,
        address: &str,
        port: u16,
        retry: Duration,
    ) -> Result<bool, EndpointError> {
        let address = address.to_owned();
        self.request(|reply| Control::Peer {
            address,
            port,
            retry,
            reply,
            done: None,
        })
        .await
    }

    /// Peers with `address:port` and waits until the handshake completed (or,
    /// with `retry` zero, the first attempt failed).
    pub async fn peer_and_wait(
        &self,
        address: &str,
        port: u16,
        retry: Duration,
    ) -> Result<EndpointId, EndpointError> {
        let (done, wait) = oneshot::channel();
        let owned = address.to_owned();
        self.request(|reply| Control::Peer {
            address: owned,
            port,
            retry,
            reply,
            done: Some(done),
        })
        .await?;
        match wait.await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(e)) => Err(EndpointError::Peer {
                address: address.to_owned(),
                port,
                code: e.code,
                message: e.message,
            }),
            Err(_) => Err(EndpointError::Closed),
        }
    }

    /// Ends the peering made with `peer(address, port)` (or, for an inbound
    /// peer, with that remote address and port). Unknown peers raise a
    /// `PeerInvalid` error and give `false`.
    pub async fn unpeer(&self, address: &str, port: u16) -> Result<bool, EndpointError> {
        let address = address.to_owned();
        self.request(|reply| Control::Unpeer {
            address,
            port,
            reply,
        })
        .await
    }

    /// All peerings, including outbound ones still connecting.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, EndpointError> {
        self.request(|reply| Control::Peers { reply }).await
    }

    /// The union of the filters our peers advertised.
    pub async fn peer_subscriptions(&self) -> Result<Vec<Topic>, EndpointError> {
        self.request(|reply| Control::PeerSubscriptions { reply })
            .await
    }

    /// The endpoint's metrics now: connections and peers, messages and
    /// bytes by type and direction, queues, drops, errors and handshake
    /// failures (see [`Metrics`] and `docs/operations.md`).
    ///
    /// ```
    /// # use broker_core::{options::Options, runtime::Endpoint};
    /// let endpoint = Endpoint::new(Options::default())?;
    /// let metrics = endpoint.block_on(endpoint.metrics())?;
    /// assert_eq!(metrics.connections, 0);
    /// println!("{}", metrics.to_prometheus_text());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn metrics(&self) -> Result<Metrics, EndpointError> {
        self.request(|reply| Control::Metrics { reply }).await
    }

    /// Serves the metrics in Prometheus's text format at
    /// `http://address:port/metrics` until the endpoint shuts down, and
    /// returns the bound port (port 0: the OS picks). An empty address means
    /// all interfaces. Plain HTTP, no authentication: bind it where only
    /// your Prometheus can reach it (`127.0.0.1` by default in the CLI).
    pub async fn serve_metrics(&self, address: &str, port: u16) -> Result<u16, EndpointError> {
        // Bound on the endpoint's runtime, whose reactor then drives the
        // listener, whatever runtime the caller is on.
        let host = address.to_owned();
        let listener = self
            .inner
            .handle
            .spawn(async move {
                io::bind(&host, port)
                    .await
                    .map_err(|source| EndpointError::Listen {
                        address: host,
                        port,
                        source,
                    })
            })
            .await
            .map_err(|_| EndpointError::Closed)??;
        let bound = listener.local_addr().map_or(port, |a| a.port());
        self.spawn_metrics_server(listener)?;
        Ok(bound)
    }

    /// Serves the metrics on `listener` until the endpoint shuts down.
    fn spawn_metrics_server(&self, listener: tokio::net::TcpListener) -> Result<(), EndpointError> {
        let control = self.inner.control.clone();
        let task = self
            .inner
            .handle
            .spawn(metrics_http::serve(listener, control));
        self.inner
            .control
            .send(Control::AddListener { task })
            .map_err(|e| {
                if let Control::AddListener { task } = e.0 {
                    task.abort();
                }
                EndpointError::Closed
            })
    }

    /// Waits until a peering with `peer` exists.
    pub async fn await_peer(
        &self,
        peer: EndpointId,
        timeout: Duration,
    ) -> Result<(), EndpointError> {
        self.wait_for(timeout, |reply| Control::AwaitPeer { peer, reply })
            .await
    }

    /// A subscriber for messages whose topics start with any of `prefixes`.
    /// Its queue holds `congestion_queue_size` messages; a full queue slows
    /// the endpoint down rather than losing messages.
    pub async fn subscribe<T: IntoTopic>(
        &self,
        prefixes: impl IntoIterator<Item = T>,
    ) -> Result<Subscriber, EndpointError> {
        let (tx, rx) = batch::channel(self.inner.options.congestion_queue_size);
        let sub = self.subscription(prefixes, SubTx::Values(tx)).await?;
        Ok(Subscriber { rx, sub })
    }

    /// Like [`Endpoint::subscribe`], but the values arrive as views
    /// ([`ViewMessage`]): checked as decoding checks them (a malformed value
    /// is an error event, never a message) and indexed, but not built into
    /// a [`Data`] tree. For subscribers that read a few fields of each
    /// message, count messages or pass their bytes on: a message that only
    /// view subscribers take is never decoded, which is what Broker's own
    /// receivers do (its `variant`).
    pub async fn subscribe_views<T: IntoTopic>(
        &self,
        prefixes: impl IntoIterator<Item = T>,
    ) -> Result<ViewSubscriber, EndpointError> {
        let (tx, rx) = batch::channel(self.inner.options.congestion_queue_size);
        let sub = self.subscription(prefixes, SubTx::Views(tx)).await?;
        Ok(ViewSubscriber { rx, sub })
    }

    async fn subscription<T: IntoTopic>(
        &self,
        prefixes: impl IntoIterator<Item = T>,
        tx: SubTx,
    ) -> Result<Subscription, EndpointError> {
        let prefixes = prefixes
            .into_iter()
            .map(IntoTopic::into_topic)
            .collect::<Result<Vec<Topic>, _>>()?;
        let id = self
            .request(|reply| Control::Subscribe {
                prefixes: prefixes.clone(),
                tx,
                reply,
            })
            .await?;
        Ok(Subscription {
            id,
            prefixes,
            control: self.inner.control.clone(),
        })
    }

    /// Asks peers for messages under `prefix` without delivering them
    /// locally; with `forward_messages` they are relayed to other peers.
    pub async fn forward(&self, prefix: impl IntoTopic) -> Result<(), EndpointError> {
        let prefix = prefix.into_topic()?;
        self.request(|reply| Control::Forward { prefix, reply })
            .await
    }

    /// Undoes [`Endpoint::forward`].
    pub async fn unforward(&self, prefix: impl IntoTopic) -> Result<(), EndpointError> {
        let prefix = prefix.into_topic()?;
        self.request(|reply| Control::Unforward { prefix, reply })
            .await
    }

    /// A subscriber to status and error events (errors only unless
    /// `receive_statuses`).
    pub async fn status_subscriber(
        &self,
        receive_statuses: bool,
    ) -> Result<StatusSubscriber, EndpointError> {
        let (tx, rx) = mpsc::channel(1024);
        self.request(|reply| Control::StatusSubscribe {
            tx,
            receive_statuses,
            reply,
        })
        .await?;
        Ok(StatusSubscriber { rx })
    }

    /// Publishes `data` on `topic` to every peer whose subscriptions match.
    /// Waits while peers' queues are full (flow control); never delivers to
    /// this endpoint's own subscribers.
    pub async fn publish(
        &self,
        topic: impl IntoTopic,
        data: impl ToData,
    ) -> Result<(), EndpointError> {
        let msg = Publish {
            topic: topic.into_topic()?,
            payload: encode(data),
            source: None,
        };
        self.inner
            .publish
            .send(msg)
            .await
            .map_err(|_| EndpointError::Closed)
    }

    /// Like [`Endpoint::publish`], but fails with `WouldBlock` instead of
    /// waiting.
    pub fn try_publish(
        &self,
        topic: impl IntoTopic,
        data: impl ToData,
    ) -> Result<(), EndpointError> {
        let msg = Publish {
            topic: topic.into_topic()?,
            payload: encode(data),
            source: None,
        };
        self.inner.publish.try_send(msg).map_err(|e| match e {
            batch::TrySendError::Full(_) => EndpointError::WouldBlock,
            batch::TrySendError::Closed(_) => EndpointError::Closed,
        })
    }

    /// Waits until every message published so far has been handed to the
    /// network (or its peer is gone), at most `timeout`.
    pub async fn flush(&self, timeout: Duration) -> Result<(), EndpointError> {
        self.wait_for(timeout, |reply| Control::Flush { reply })
            .await
    }

    /// Says goodbye to every peer, flushes pending messages (at most
    /// `unpeer_timeout`), and stops. Later calls fail with `Closed`.
    pub async fn shutdown(&self) -> Result<(), EndpointError> {
        self.request(|reply| Control::Shutdown { reply: Some(reply) })
            .await
    }
}

/// Messages for a set of topic prefixes: decoded ([`Message`], from
/// [`Endpoint::subscribe`]) or as views ([`ViewMessage`], from
/// [`Endpoint::subscribe_views`]). Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscriber<M = Message> {
    rx: batch::Receiver<M>,
    sub: Subscription,
}

/// A subscriber whose values arrive as views (see
/// [`Endpoint::subscribe_views`]).
pub type ViewSubscriber = Subscriber<ViewMessage>;

impl<M> Subscriber<M> {
    /// The next message; `None` once the endpoint has shut down.
    pub async fn recv(&mut self) -> Option<M> {
        self.rx.recv().await
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<M> {
        self.rx.try_recv()
    }

    /// The next message, blocking the thread (not for async code).
    pub fn blocking_recv(&mut self) -> Option<M> {
        self.rx.blocking_recv()
    }

    /// The next message, or `None` after `timeout`.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<M> {
        tokio::time::timeout(timeout, self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Messages waiting.
    pub fn available(&self) -> usize {
        self.rx.len()
    }

    /// The prefixes subscribed to.
    pub fn prefixes(&self) -> &[Topic] {
        &self.sub.prefixes
    }

    /// Adds a prefix.
    pub fn add_topic(&mut self, prefix: impl IntoTopic) -> Result<(), EndpointError> {
        self.sub.add_topic(prefix)
    }

    /// Removes a prefix; the filter advertised to peers shrinks accordingly.
    pub fn remove_topic(&mut self, prefix: impl IntoTopic) -> Result<(), EndpointError> {
        self.sub.remove_topic(prefix)
    }
}

/// A subscriber's registration with the driver: its prefixes, kept in step
/// with the driver's, and its removal when dropped.
#[derive(Debug)]
struct Subscription {
    id: SubscriberId,
    prefixes: Vec<Topic>,
    control: mpsc::UnboundedSender<Control>,
}

impl Subscription {
    fn add_topic(&mut self, prefix: impl IntoTopic) -> Result<(), EndpointError> {
        let prefix = prefix.into_topic()?;
        self.prefixes.push(prefix.clone());
        self.control
            .send(Control::AddTopic {
                sub: self.id,
                prefix,
            })
            .map_err(|_| EndpointError::Closed)
    }

    fn remove_topic(&mut self, prefix: impl IntoTopic) -> Result<(), EndpointError> {
        let prefix = prefix.into_topic()?;
        self.prefixes.retain(|p| *p != prefix);
        self.control
            .send(Control::RemoveTopic {
                sub: self.id,
                prefix,
            })
            .map_err(|_| EndpointError::Closed)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Unsubscribe { sub: self.id });
    }
}

/// Status and error events of an endpoint.
#[derive(Debug)]
pub struct StatusSubscriber {
    rx: mpsc::Receiver<StatusEvent>,
}

impl StatusSubscriber {
    /// The next event; `None` once the endpoint has shut down.
    pub async fn recv(&mut self) -> Option<StatusEvent> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<StatusEvent> {
        self.rx.try_recv().ok()
    }

    /// The next event, or `None` after `timeout`.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<StatusEvent> {
        tokio::time::timeout(timeout, self.rx.recv())
            .await
            .ok()
            .flatten()
    }
}

fn network(address: IpAddr, port: u16) -> NetworkInfo {
    NetworkInfo {
        address: address.to_string(),
        port,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn encoded_publications_are_exact_and_hold_little_spare_room() {
        use crate::data::{Data, bin};
        let big = Data::String(vec![7u8; 100_000].into());
        let small = Data::Count(1);
        let mid = Data::String(vec![1u8; 3000].into());
        for value in [&small, &big, &small, &mid, &big, &mid, &mid, &small] {
            let payload = super::encode(value.clone());
            assert_eq!(payload, bin::encode(value));
            let spare = payload.capacity() - payload.len();
            assert!(
                spare <= payload.len() / 4 + 2 * super::ENCODE_SLACK,
                "{} bytes with {spare} spare",
                payload.len()
            );
        }
    }

    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn handles_are_send_and_sync() {
        assert_send_sync::<Endpoint>();
        assert_send::<Subscriber>();
        assert_send::<StatusSubscriber>();
    }
}
