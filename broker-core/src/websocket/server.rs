//! The server side: `Endpoint::listen_websocket` and one task per client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use super::{
    PATH, SERVER_VERSION, ServerOptions, ack_message, codes, error_message, parse_client_data,
    parse_subscriptions, valid_application_name,
};
use crate::data::json::{self, JsonError};
use crate::runtime::{ClientClosed, ClientLink, Endpoint, EndpointError, LocalClient, bind};
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
        let retry = self.options().default_listen_retry;
        let listener = loop {
            match bind(address, port).await {
                Ok(listener) => break listener,
                Err(e) if retry.is_zero() || e.kind() != std::io::ErrorKind::AddrInUse => {
                    return Err(EndpointError::Listen {
                        address: address.to_owned(),
                        port,
                        source: e,
                    });
                }
                Err(e) => {
                    tracing::warn!(
                        "cannot listen for WebSocket clients on {address}:{port} ({e}); retrying in {retry:?}"
                    );
                    tokio::time::sleep(retry).await;
                }
            }
        };
        let bound = listener.local_addr().map(|a| a.port()).unwrap_or(port);
        let (link, tls, runtime) = self.gateway_parts();
        let server = Arc::new(Server {
            link: link.clone(),
            tls,
            settings,
            node: self.node_id().to_string(),
            clients: AtomicU64::new(0),
        });
        let task = runtime.spawn(accept_loop(listener, server));
        link.add_listener(task)?;
        Ok(bound)
    }
}

struct Server {
    link: ClientLink,
    tls: Option<Arc<TlsConfig>>,
    settings: ServerOptions,
    node: String,
    clients: AtomicU64,
}

async fn accept_loop(listener: tokio::net::TcpListener, server: Arc<Server>) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let _ = stream.set_nodelay(true);
                // Client tasks end with the endpoint: their queue closes when
                // the driver stops.
                tokio::spawn(serve_tcp(stream, remote, server.clone()));
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
    let Some(prefixes) = read_subscriptions(&mut ws, &server.link).await else {
        return;
    };
    let attached = tokio::select! {
        client = server.link.attach(prefixes, settings.queue_size, settings.overflow_policy) => client,
        _ = server.link.closed() => Err(EndpointError::Closed),
    };
    let Ok(client) = attached else {
        close(&mut ws, CloseCode::Away, "endpoint shutting down").await;
        return;
    };
    let n = server.clients.fetch_add(1, Ordering::Relaxed) + 1;
    let id = format!("{}-websocket-{n}", server.node);
    if ws
        .send(WsMessage::text(ack_message(&id, SERVER_VERSION)))
        .await
        .is_err()
    {
        return;
    }
    tracing::debug!("WebSocket client {remote} attached as {id}");
    run_client(&mut ws, &client).await;
    let dropped = client.queue().dropped();
    if dropped > 0 {
        tracing::warn!("WebSocket client {remote} ({id}): {dropped} messages dropped (queue full)");
    }
    tracing::debug!("WebSocket client {remote} ({id}) gone");
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
) -> Option<Vec<crate::topic::Topic>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            _ = link.closed() => {
                close(ws, CloseCode::Away, "endpoint shutting down").await;
                return None;
            }
        };
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
                if ws.send(WsMessage::text(msg)).await.is_err() {
                    return None;
                }
            }
        }
    }
}

/// The attached phase: client frames become publications, queued
/// messages become frames.
async fn run_client<S>(ws: &mut Ws<S>, client: &LocalClient)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Data messages count from 1, not counting the subscriptions.
    let mut input = 0u64;
    loop {
        tokio::select! {
            biased;
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(WsMessage::Text(text))) => text.to_string(),
                    // Zeek reads a binary frame like a text frame.
                    Some(Ok(WsMessage::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                        Ok(text) => text,
                        Err(_) => {
                            input += 1;
                            let context = format!("failed to decode JSON object (input #{input}: binary frame is not UTF-8)");
                            let msg = error_message(codes::DESERIALIZATION_FAILED, &context);
                            if ws.send(WsMessage::text(msg)).await.is_err() {
                                return;
                            }
                            continue;
                        }
                    },
                    Some(Ok(WsMessage::Close(_))) | None => return,
                    Some(Err(WsError::Capacity(e))) => {
                        close(ws, CloseCode::Size, &e.to_string()).await;
                        return;
                    }
                    Some(Err(_)) => return,
                    Some(Ok(_)) => continue,
                };
                input += 1;
                match parse_client_data(&text) {
                    Ok((topic, data)) => {
                        if client.publish(topic, data).await.is_err() {
                            close(ws, CloseCode::Away, "endpoint shutting down").await;
                            return;
                        }
                    }
                    Err(e) => {
                        let msg = error_message(codes::DESERIALIZATION_FAILED, &data_error_context(input, &e));
                        if ws.send(WsMessage::text(msg)).await.is_err() {
                            return;
                        }
                    }
                }
            }
            next = client.recv() => match next {
                Ok(msg) => {
                    let text = json::data_message_to_json_string(&msg.topic, &msg.data);
                    if ws.feed(WsMessage::text(text)).await.is_err() {
                        return;
                    }
                    for _ in 1..WRITE_BATCH {
                        let Some(msg) = client.queue().try_pop() else { break };
                        let text = json::data_message_to_json_string(&msg.topic, &msg.data);
                        if ws.feed(WsMessage::text(text)).await.is_err() {
                            return;
                        }
                    }
                    if ws.flush().await.is_err() {
                        return;
                    }
                }
                Err(ClientClosed::Overflow) => {
                    close(ws, CloseCode::Policy, "client too slow: message queue overflow").await;
                    return;
                }
                Err(ClientClosed::Shutdown) => {
                    close(ws, CloseCode::Away, "endpoint shutting down").await;
                    return;
                }
            }
        }
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
