//! The server side: `Endpoint::listen_websocket` and one task per client.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message as WsMessage, Utf8Bytes};

use super::{
    PATH, SERVER_VERSION, ServerOptions, ack_message, codes, error_message, parse_client_data,
    parse_subscriptions, valid_application_name,
};
use crate::data::json::JsonError;
use crate::runtime::{
    ClientClosed, ClientLink, Delivery, Endpoint, EndpointError, LocalClient, Transport, bind,
};
use crate::tls::TlsConfig;

/// How many queued messages are written before one flush.
const WRITE_BATCH: usize = 64;
/// How long a closing handshake may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

impl Endpoint {
    /// Serves Zeek's WebSocket JSON API on `address:port` (path
    /// `/v1/messages/json`) and returns the bound port. Port 0 lets the OS
    /// choose; an empty address means all interfaces. TLS (`wss`) follows
    /// the peering options: off with `disable_ssl`, otherwise the same
    /// certificate (in the default mode, the endpoint's ephemeral one, and
    /// clients present none). Settings come from
    /// [`ServerOptions::from_options`]; see
    /// [`Endpoint::listen_websocket_with`].
    ///
    /// Each client becomes a peer of this endpoint with its own filter (see
    /// [`crate::websocket`]). The listener stops when the endpoint shuts down.
    pub async fn listen_websocket(&self, address: &str, port: u16) -> Result<u16, EndpointError> {
        let settings = ServerOptions::from_options(self.options());
        self.listen_websocket_with(address, port, settings).await
    }

    /// [`Endpoint::listen_websocket`] with explicit settings.
    pub async fn listen_websocket_with(
        &self,
        address: &str,
        port: u16,
        settings: ServerOptions,
    ) -> Result<u16, EndpointError> {
        let server = self.websocket_server(address, port, settings).await?;
        Ok(server.port())
    }

    /// [`Endpoint::listen_websocket_with`], returning a handle that also
    /// tells how many clients are attached.
    pub async fn websocket_server(
        &self,
        address: &str,
        port: u16,
        settings: ServerOptions,
    ) -> Result<WebSocketServer, EndpointError> {
        let retry = self.options().default_listen_retry;
        let (link, tls, runtime) = self.gateway_parts();
        // Bound on the endpoint's runtime, whose reactor then drives the
        // listener, whatever runtime the caller is on (a listener bound on
        // the caller's runtime would stop accepting while that runtime is
        // blocked or gone).
        let host = address.to_owned();
        let binding = runtime.spawn(async move {
            loop {
                match bind(&host, port).await {
                    Ok(listener) => return Ok(listener),
                    Err(e) if retry.is_zero() || e.kind() != std::io::ErrorKind::AddrInUse => {
                        return Err(EndpointError::Listen {
                            address: host,
                            port,
                            source: e,
                        });
                    }
                    Err(e) => {
                        tracing::warn!(
                            "cannot listen for WebSocket clients on {host}:{port} ({e}); retrying in {retry:?}"
                        );
                        tokio::time::sleep(retry).await;
                    }
                }
            }
        });
        let listener = binding.await.map_err(|_| EndpointError::Closed)??;
        let bound = listener.local_addr().map(|a| a.port()).unwrap_or(port);
        let (attached, attached_rx) = watch::channel(0);
        let server = Arc::new(Server {
            link: link.clone(),
            tls,
            settings,
            node: self.node_id().to_string(),
            clients: AtomicU64::new(0),
            attached,
        });
        let task = runtime.spawn(accept_loop(listener, server));
        link.add_listener(task)?;
        Ok(WebSocketServer {
            port: bound,
            attached: attached_rx,
        })
    }
}

/// A running WebSocket listener (see [`Endpoint::websocket_server`]): its
/// port and its attached clients.
#[derive(Clone, Debug)]
pub struct WebSocketServer {
    port: u16,
    attached: watch::Receiver<usize>,
}

impl WebSocketServer {
    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Clients attached now: past the subscription frame, with their
    /// subscriptions active, and not yet gone.
    pub fn clients(&self) -> usize {
        *self.attached.borrow()
    }

    /// Waits until at least one client is attached; `false` once the
    /// server has stopped (its endpoint shut down and every client left).
    pub async fn wait_for_client(&self) -> bool {
        let mut attached = self.attached.clone();
        attached.wait_for(|n| *n > 0).await.is_ok()
    }
}

struct Server {
    link: ClientLink,
    tls: Option<Arc<TlsConfig>>,
    settings: ServerOptions,
    node: String,
    clients: AtomicU64,
    /// Attached clients, for [`WebSocketServer`].
    attached: watch::Sender<usize>,
}

/// Counts one attached client while it lives.
struct Attached<'a>(&'a watch::Sender<usize>);

impl<'a> Attached<'a> {
    fn new(counter: &'a watch::Sender<usize>) -> Attached<'a> {
        counter.send_modify(|n| *n += 1);
        Attached(counter)
    }
}

impl Drop for Attached<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, server: Arc<Server>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(server.settings.max_clients));
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    // Dropping the stream closes it.
                    tracing::warn!(
                        "WebSocket client {remote} refused: {} connections open (max_clients)",
                        server.settings.max_clients
                    );
                    continue;
                };
                let _ = stream.set_nodelay(true);
                // Client tasks end with the endpoint: their queue closes when
                // the driver stops. The slot is freed when the task ends.
                let server = server.clone();
                tokio::spawn(async move {
                    serve_tcp(stream, remote, server).await;
                    drop(slot);
                });
            }
            Err(e) => {
                tracing::warn!("WebSocket accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_tcp(stream: TcpStream, remote: SocketAddr, server: Arc<Server>) {
    match &server.tls {
        None => serve(stream, remote, &server).await,
        Some(tls) => match tls.accept_websocket(stream).await {
            Ok(stream) => serve(stream, remote, &server).await,
            Err(e) => tracing::warn!("WebSocket client {remote}: TLS handshake failed: {e}"),
        },
    }
}

/// What the HTTP upgrade request said.
#[derive(Default)]
struct Upgrade {
    path: String,
    app_name: Option<Vec<u8>>,
}

type Ws<S> = WebSocketStream<S>;

async fn serve<S>(stream: S, remote: SocketAddr, server: &Server)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let settings = &server.settings;
    let config = WebSocketConfig::default()
        .max_message_size(Some(settings.max_message_size))
        .max_frame_size(Some(settings.max_message_size));
    let mut upgrade = Upgrade::default();
    // The signature is tungstenite's `Callback`; it never fails here.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        upgrade.path = request.uri().path().to_owned();
        upgrade.app_name = request
            .headers()
            .get("x-application-name")
            .map(|v| v.as_bytes().to_vec());
        Ok(response)
    };
    let accepted = tokio::time::timeout(
        settings.handshake_timeout,
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)),
    )
    .await;
    let mut ws = match accepted {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!("WebSocket client {remote}: handshake failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!("WebSocket client {remote}: handshake timed out");
            return;
        }
    };
    // Zeek 8: the upgrade succeeds, then an error message and close 1008.
    if upgrade.path != PATH {
        let context = format!("Invalid URI - use {PATH}");
        refuse(&mut ws, codes::INVALID_URI, &context).await;
        return;
    }
    if let Some(name) = &upgrade.app_name
        && !valid_application_name(name)
    {
        refuse(
            &mut ws,
            codes::INVALID_APPLICATION_NAME,
            "Invalid X-Application-Name",
        )
        .await;
        return;
    }
    let mut keepalive = Keepalive::new(settings);
    let Some(prefixes) = read_subscriptions(&mut ws, &server.link, &mut keepalive).await else {
        return;
    };
    let attached = tokio::select! {
        client = server.link.attach(
            Transport::WebSocket,
            prefixes,
            settings.queue_size,
            settings.queue_bytes,
            settings.overflow_policy,
        ) => client,
        _ = server.link.closed() => Err(EndpointError::Closed),
    };
    let client = match attached {
        Ok(client) => client,
        Err(EndpointError::TooManySubscriptions) => {
            let context = "too many subscriptions on this endpoint";
            refuse(&mut ws, codes::DESERIALIZATION_FAILED, context).await;
            return;
        }
        Err(_) => {
            close(&mut ws, CloseCode::Away, "endpoint shutting down").await;
            return;
        }
    };
    let counted = Attached::new(&server.attached);
    let n = server.clients.fetch_add(1, Ordering::Relaxed) + 1;
    let id = format!("{}-websocket-{n}", server.node);
    let acked = keepalive
        .bounded(ws.send(WsMessage::text(ack_message(&id, SERVER_VERSION))))
        .await;
    if !matches!(acked, Some(Ok(()))) {
        return;
    }
    tracing::debug!("WebSocket client {remote} attached as {id}");
    let end = run_client(&mut ws, &client, &mut keepalive).await;
    let dropped = client.queue().dropped();
    // Detach before the closing handshake: the queue and the
    // subscriptions go at once.
    drop(client);
    drop(counted);
    if dropped > 0 {
        tracing::warn!("WebSocket client {remote} ({id}): {dropped} messages dropped (queue full)");
    }
    match end {
        End::Gone => {}
        End::Close(code, reason) => {
            if code == CloseCode::Error {
                tracing::info!("WebSocket client {remote} ({id}): {reason}");
            }
            close(&mut ws, code, reason).await;
        }
    }
    tracing::debug!("WebSocket client {remote} ({id}) gone");
}

/// How a client's attached phase ended.
enum End {
    /// The connection is gone (closed by the client, or broken).
    Gone,
    /// The server closes it with this code and reason.
    Close(CloseCode, &'static str),
}

/// Resolves at `deadline` (never for `None`).
async fn expired(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The close reason of a client dropped by the keepalive.
const PING_TIMEOUT: &str = "ping timeout";

/// The server's pings, and the deadline by which a client must have been
/// heard from.
struct Keepalive {
    /// `None` when keepalive is off.
    ticks: Option<Interval>,
    /// How long a client may stay silent: interval plus timeout.
    limit: Duration,
    last_heard: Instant,
}

impl Keepalive {
    fn new(settings: &ServerOptions) -> Keepalive {
        let ticks = (!settings.ping_interval.is_zero()).then(|| {
            let start = Instant::now() + settings.ping_interval;
            let mut ticks = tokio::time::interval_at(start, settings.ping_interval);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks
        });
        Keepalive {
            ticks,
            limit: settings.ping_interval.saturating_add(settings.ping_timeout),
            last_heard: Instant::now(),
        }
    }

    /// A frame arrived (or the server itself kept the client waiting).
    fn heard(&mut self) {
        self.last_heard = Instant::now();
    }

    /// When the client is dropped unless heard from.
    fn deadline(&self) -> Option<Instant> {
        self.ticks.as_ref()?;
        self.last_heard.checked_add(self.limit)
    }

    /// Resolves when the next ping is due (never without keepalive).
    async fn ping_due(&mut self) {
        match &mut self.ticks {
            Some(ticks) => {
                ticks.tick().await;
            }
            None => std::future::pending().await,
        }
    }

    /// Runs `work` (a write to the client) until the deadline; `None` when
    /// the deadline passed first.
    async fn bounded<F: Future>(&self, work: F) -> Option<F::Output> {
        match self.deadline() {
            Some(deadline) => tokio::time::timeout_at(deadline, work).await.ok(),
            None => Some(work.await),
        }
    }
}

/// Sends an error message and closes with 1008 (policy violation).
async fn refuse<S>(ws: &mut Ws<S>, code: &str, context: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if ws
        .send(WsMessage::text(error_message(code, context)))
        .await
        .is_ok()
    {
        close(ws, CloseCode::Policy, context).await;
    }
}

/// Starts the closing handshake and waits (briefly) for the client's answer.
async fn close<S>(ws: &mut Ws<S>, code: CloseCode, reason: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let finish = async {
        if ws.close(Some(frame)).await.is_err() {
            return;
        }
        while let Some(Ok(_)) = ws.next().await {}
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, finish).await;
}

/// Reads frames until one is a valid subscription array; answers bad ones
/// with an error message and keeps waiting (the connection stays open, as
/// in Zeek 8). `None` when the client or the endpoint went away.
async fn read_subscriptions<S>(
    ws: &mut Ws<S>,
    link: &ClientLink,
    keepalive: &mut Keepalive,
) -> Option<Vec<crate::topic::Topic>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let frame = tokio::select! {
            biased;
            frame = ws.next() => frame,
            _ = link.closed() => {
                close(ws, CloseCode::Away, "endpoint shutting down").await;
                return None;
            }
            _ = expired(keepalive.deadline()) => {
                tracing::debug!("WebSocket client without subscriptions: {PING_TIMEOUT}");
                close(ws, CloseCode::Error, PING_TIMEOUT).await;
                return None;
            }
            _ = keepalive.ping_due() => {
                if !matches!(keepalive.bounded(ws.send(WsMessage::Ping(Bytes::new()))).await, Some(Ok(()))) {
                    return None;
                }
                continue;
            }
        };
        keepalive.heard();
        let text = match frame {
            Some(Ok(WsMessage::Text(text))) => text.to_string(),
            Some(Ok(WsMessage::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
            Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return None,
            Some(Ok(_)) => continue, // pings are answered by tungstenite
        };
        match parse_subscriptions(&text) {
            Ok(prefixes) => return Some(prefixes),
            Err(e) => {
                let msg = error_message(codes::DESERIALIZATION_FAILED, &e.context());
                if !matches!(
                    keepalive.bounded(ws.send(WsMessage::text(msg))).await,
                    Some(Ok(()))
                ) {
                    return None;
                }
            }
        }
    }
}

/// The attached phase: client frames become publications, queued
/// messages become frames, pings go out every interval. Every write is
/// bounded by the keepalive deadline, so a client that neither reads nor
/// answers cannot hold the task.
async fn run_client<S>(ws: &mut Ws<S>, client: &LocalClient, keepalive: &mut Keepalive) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Data messages count from 1, not counting the subscriptions.
    let mut input = 0u64;
    loop {
        tokio::select! {
            // Biased: frames from the client first (a pong refreshes the
            // deadline before it is checked), pings before data (a busy
            // queue cannot starve them).
            biased;
            frame = ws.next() => {
                keepalive.heard();
                let text = match frame {
                    Some(Ok(WsMessage::Text(text))) => text.to_string(),
                    // Zeek reads a binary frame like a text frame.
                    Some(Ok(WsMessage::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                        Ok(text) => text,
                        Err(_) => {
                            input += 1;
                            let context = format!("failed to decode JSON object (input #{input}: binary frame is not UTF-8)");
                            if let Some(end) = send_error(ws, keepalive, &context).await {
                                return end;
                            }
                            continue;
                        }
                    },
                    Some(Ok(WsMessage::Close(_))) | None => return End::Gone,
                    Some(Err(WsError::Capacity(_))) => {
                        return End::Close(CloseCode::Size, "message too large");
                    }
                    Some(Err(_)) => return End::Gone,
                    Some(Ok(_)) => continue,
                };
                input += 1;
                match parse_client_data(&text) {
                    Ok((topic, data)) => {
                        if client.publish(topic, data).await.is_err() {
                            return End::Close(CloseCode::Away, "endpoint shutting down");
                        }
                        // Time spent waiting for our own peers is not the
                        // client's silence.
                        keepalive.heard();
                    }
                    Err(e) => {
                        if let Some(end) = send_error(ws, keepalive, &data_error_context(input, &e)).await {
                            return end;
                        }
                    }
                }
            }
            _ = expired(keepalive.deadline()) => return End::Close(CloseCode::Error, PING_TIMEOUT),
            _ = keepalive.ping_due() => {
                match keepalive.bounded(ws.send(WsMessage::Ping(Bytes::new()))).await {
                    Some(Ok(())) => {}
                    Some(Err(_)) => return End::Gone,
                    None => return End::Close(CloseCode::Error, PING_TIMEOUT),
                }
            }
            next = client.recv() => match next {
                Ok(msg) => {
                    let written = keepalive.bounded(write_batch(ws, client, msg)).await;
                    match written {
                        Some(Ok(())) => {}
                        Some(Err(_)) => return End::Gone,
                        None => return End::Close(CloseCode::Error, PING_TIMEOUT),
                    }
                }
                Err(ClientClosed::Overflow) => {
                    return End::Close(CloseCode::Policy, "client too slow: message queue overflow");
                }
                Err(ClientClosed::Shutdown) => {
                    return End::Close(CloseCode::Away, "endpoint shutting down");
                }
            }
        }
    }
}

/// Writes `first` and what else is queued (up to [`WRITE_BATCH`]), then
/// flushes.
async fn write_batch<S>(
    ws: &mut Ws<S>,
    client: &LocalClient,
    first: Arc<Delivery>,
) -> Result<(), WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.feed(text_frame(&first)).await?;
    for _ in 1..WRITE_BATCH {
        let Some(delivery) = client.queue().try_pop() else {
            break;
        };
        ws.feed(text_frame(&delivery)).await?;
    }
    ws.flush().await
}

/// A delivery's JSON as a text frame, sharing the rendered bytes.
fn text_frame(delivery: &Delivery) -> WsMessage {
    let json = delivery.json();
    match Utf8Bytes::try_from(json.clone()) {
        Ok(text) => WsMessage::Text(text),
        // Rendered from a `String`, so this does not happen.
        Err(_) => WsMessage::text(String::from_utf8_lossy(json).into_owned()),
    }
}

/// Sends a `deserialization_failed` error; `Some` when the client is to be
/// let go.
async fn send_error<S>(ws: &mut Ws<S>, keepalive: &Keepalive, context: &str) -> Option<End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let msg = error_message(codes::DESERIALIZATION_FAILED, context);
    match keepalive.bounded(ws.send(WsMessage::text(msg))).await {
        Some(Ok(())) => None,
        Some(Err(_)) => Some(End::Gone),
        None => Some(End::Close(CloseCode::Error, PING_TIMEOUT)),
    }
}

/// The context of an error about data message number `input`: Zeek 8's
/// text, with the reason added.
fn data_error_context(input: u64, e: &JsonError) -> String {
    match e {
        JsonError::MissingTopic => "no topic in top-level JSON object".into(),
        e => format!("failed to decode JSON object (input #{input}: {e})"),
    }
}
