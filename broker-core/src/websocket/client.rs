//! The client side: connect to a WebSocket endpoint (Zeek's or ours),
//! subscribe, publish and receive raw [`Data`](crate::data::Data) messages, reconnect with retry.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use super::{FrameError, ServerFrame, valid_application_name};
use crate::data::{ToData, json};
use crate::runtime::Message;
use crate::tls::TlsConfig;
use crate::topic::{IntoTopic, Topic, TopicError};

/// How a [`WebSocketClient`] connects.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Sent as `X-Application-Name` (Zeek 8 accepts `[-/_.=:*@a-zA-Z0-9]+`).
    pub app_name: Option<String>,
    /// Wait this long between connection attempts, and reconnect after a
    /// lost connection; zero means one attempt and no reconnection.
    pub retry: Duration,
    /// How long connecting (TCP, TLS, WebSocket upgrade and the ack) may
    /// take per attempt.
    pub connect_timeout: Duration,
    /// TLS for `wss://` URLs: the peering configuration built from
    /// [`Options`](crate::options::Options) (with `ssl_cafile` to check the
    /// server; in the default mode any server certificate is accepted).
    pub tls: Option<Arc<TlsConfig>>,
    /// Events buffered for the application; when full, the client stops
    /// reading from the server (TCP pushes back) and so stops answering
    /// its pings: a server with keepalive drops it after its timeout.
    pub event_queue: usize,
    /// Publications buffered while sending or reconnecting; when full,
    /// [`WebSocketClient::publish`] waits.
    pub publish_queue: usize,
    /// The largest message accepted from the server, in bytes.
    pub max_message_size: usize,
    /// How long closing waits for the server's Close frame before the TCP
    /// connection is dropped anyway ([`WebSocketClient::close`], and the
    /// background close after the client is dropped).
    pub close_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            app_name: None,
            retry: Duration::ZERO,
            connect_timeout: Duration::from_secs(10),
            tls: None,
            event_queue: 1024,
            publish_queue: 1024,
            max_message_size: 64 * 1024 * 1024,
            close_timeout: Duration::from_secs(2),
        }
    }
}

impl ClientOptions {
    /// Reconnect every `retry` (zero: never).
    pub fn retry(mut self, retry: Duration) -> ClientOptions {
        self.retry = retry;
        self
    }

    /// Send `X-Application-Name: name`.
    pub fn app_name(mut self, name: impl Into<String>) -> ClientOptions {
        self.app_name = Some(name.into());
        self
    }

    /// Wait at most `timeout` for the server's Close when closing.
    pub fn close_timeout(mut self, timeout: Duration) -> ClientOptions {
        self.close_timeout = timeout;
        self
    }

    /// Use `tls` for `wss://` URLs.
    pub fn tls(mut self, tls: TlsConfig) -> ClientOptions {
        self.tls = Some(Arc::new(tls));
        self
    }
}

/// What a [`WebSocketClient`] reports.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// A (re)connection completed: the server's ack.
    Connected {
        /// The server's id for this client.
        endpoint: String,
        /// The server's version.
        version: String,
    },
    /// A data message under one of the subscriptions.
    Message(Message),
    /// The server reported an error (the connection stays open).
    Error {
        /// The code, e.g. `deserialization_failed`.
        code: String,
        /// What happened.
        context: String,
    },
    /// A frame from the server that is neither an ack, a data message nor
    /// an error, or a data message that does not decode.
    Invalid {
        /// Why it cannot be read.
        reason: String,
    },
    /// The connection ended (or an attempt failed); with a retry interval
    /// the client reconnects.
    Disconnected {
        /// Why.
        reason: String,
    },
}

/// Why a client cannot be built or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL is not `ws://host[:port][/path]` or `wss://…`.
    #[error("invalid WebSocket URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A `wss://` URL without a TLS configuration.
    #[error("wss:// needs a TLS configuration (ClientOptions::tls)")]
    TlsRequired,
    /// The application name has characters Zeek rejects.
    #[error("invalid application name {0:?}: allowed are [-/_.=:*@a-zA-Z0-9]")]
    InvalidAppName(String),
    /// A topic is invalid.
    #[error(transparent)]
    Topic(#[from] TopicError),
    /// The first connection attempt failed (without retry).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The client has stopped (no retry and the connection ended).
    #[error("the WebSocket client has stopped")]
    Closed,
}

/// A client of a WebSocket JSON endpoint.
///
/// A background task owns the connection: it subscribes, sends
/// publications, turns frames into [`ClientEvent`]s and, with a retry
/// interval, reconnects (re-subscribing) after a lost connection.
/// Publications made while disconnected wait in a bounded queue and go out
/// after the next ack.
///
/// [`WebSocketClient::close`] ends the connection as RFC 6455 asks: it
/// sends a Close frame with a status code (1000, normal closure), waits
/// (bounded by [`ClientOptions::close_timeout`]) for the server's Close, and
/// only then closes TCP. Dropping the client does the same in the
/// background, without blocking the caller, as far as the runtime lets the
/// background task run.
#[derive(Debug)]
pub struct WebSocketClient {
    events: mpsc::Receiver<ClientEvent>,
    publish: mpsc::Sender<Outgoing>,
    ack: (String, String),
}

/// The normal-closure status code (RFC 6455 §7.4.1).
pub const CLOSE_NORMAL: u16 = 1000;

/// How a [`WebSocketClient::close`] went.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Closed {
    /// Both Close frames were exchanged; the server's carried this code
    /// (`None`: a Close frame without a status code).
    Clean {
        /// The server's status code.
        code: Option<u16>,
    },
    /// Our Close frame went out, but the server's did not arrive within the
    /// close timeout (or the connection broke first); TCP was closed anyway.
    TimedOut,
    /// There was no connection to close (it had ended, or the client was
    /// between reconnection attempts).
    NotConnected,
}

/// What the application hands the background task.
enum Outgoing {
    Frame(WsMessage),
    Close {
        code: u16,
        reason: String,
        done: oneshot::Sender<Closed>,
    },
}

impl WebSocketClient {
    /// Connects to `url` (`ws://host:port/v1/messages/json` or `wss://…`),
    /// subscribes to `prefixes` and waits for the ack. Without a retry
    /// interval a failed attempt is an error; with one, attempts repeat
    /// until one succeeds.
    pub async fn connect<T: IntoTopic>(
        url: &str,
        prefixes: impl IntoIterator<Item = T>,
        options: ClientOptions,
    ) -> Result<WebSocketClient, ClientError> {
        let prefixes = prefixes
            .into_iter()
            .map(IntoTopic::into_topic)
            .collect::<Result<Vec<Topic>, _>>()?;
        let target = Target::parse(url)?;
        if target.tls && options.tls.is_none() {
            return Err(ClientError::TlsRequired);
        }
        if let Some(name) = &options.app_name
            && !valid_application_name(name.as_bytes())
        {
            return Err(ClientError::InvalidAppName(name.clone()));
        }
        let subscriptions =
            serde_json::Value::from(prefixes.iter().map(Topic::as_str).collect::<Vec<_>>())
                .to_string();
        let conn = Connector {
            target,
            subscriptions,
            options,
        };
        let (ws, ack) = loop {
            match conn.attempt().await {
                Ok(connected) => break connected,
                Err(reason) if conn.options.retry.is_zero() => {
                    return Err(ClientError::Connect {
                        url: url.to_owned(),
                        reason,
                    });
                }
                Err(reason) => {
                    tracing::debug!("WebSocket {url}: {reason}; retrying");
                    tokio::time::sleep(conn.options.retry).await;
                }
            }
        };
        let (events_tx, events) = mpsc::channel(conn.options.event_queue.max(1));
        let (publish, publish_rx) = mpsc::channel(conn.options.publish_queue.max(1));
        let _ = events_tx.try_send(ClientEvent::Connected {
            endpoint: ack.0.clone(),
            version: ack.1.clone(),
        });
        tokio::spawn(conn.run(ws, events_tx, publish_rx));
        Ok(WebSocketClient {
            events,
            publish,
            ack,
        })
    }

    /// The `endpoint` and `version` of the first connection's ack.
    pub fn ack(&self) -> (&str, &str) {
        (&self.ack.0, &self.ack.1)
    }

    /// The next event; `None` once the client has stopped.
    pub async fn recv(&mut self) -> Option<ClientEvent> {
        self.events.recv().await
    }

    /// The next event, or `None` after `timeout` (or once stopped).
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<ClientEvent> {
        tokio::time::timeout(timeout, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next data message, skipping other events; `None` once stopped.
    pub async fn recv_message(&mut self) -> Option<Message> {
        loop {
            if let ClientEvent::Message(msg) = self.events.recv().await? {
                return Some(msg);
            }
        }
    }

    /// Publishes `data` on `topic`; waits while the publish queue is full.
    pub async fn publish(
        &self,
        topic: impl IntoTopic,
        data: impl ToData,
    ) -> Result<(), ClientError> {
        let topic = topic.into_topic()?;
        let text = json::data_message_to_json_string(&topic, &data.into_data());
        self.send_text(text).await
    }

    /// Sends a text frame as it is (for raw JSON, or to test a server).
    pub async fn send_text(&self, text: impl Into<String>) -> Result<(), ClientError> {
        self.publish
            .send(Outgoing::Frame(WsMessage::text(text.into())))
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// Closes the connection with status 1000 (normal closure) after the
    /// publications queued before it, and waits for the server's Close (at
    /// most [`ClientOptions::close_timeout`]). No reconnection follows.
    ///
    /// ```no_run
    /// # use broker_core::websocket::{ClientOptions, WebSocketClient};
    /// # async fn demo() -> Result<(), broker_core::websocket::ClientError> {
    /// let client = WebSocketClient::connect(
    ///     "ws://127.0.0.1:27759/v1/messages/json",
    ///     ["zeek/events"],
    ///     ClientOptions::default(),
    /// )
    /// .await?;
    /// client.publish("zeek/events/x", 42u64).await?;
    /// client.close().await; // the server sees 1000, then TCP closes
    /// # Ok(())
    /// # }
    /// ```
    pub async fn close(self) -> Closed {
        self.close_with(CLOSE_NORMAL, "").await
    }

    /// Like [`WebSocketClient::close`], with another status code and a
    /// reason (at most 123 bytes of UTF-8 fit in a Close frame; longer
    /// reasons are cut at a character boundary).
    pub async fn close_with(self, code: u16, reason: &str) -> Closed {
        let (done, outcome) = oneshot::channel();
        let close = Outgoing::Close {
            code,
            reason: truncate_reason(reason).to_owned(),
            done,
        };
        if self.publish.send(close).await.is_err() {
            return Closed::NotConnected;
        }
        outcome.await.unwrap_or(Closed::NotConnected)
    }
}

/// The longest prefix of `reason` that fits in a Close frame (125 bytes of
/// payload, 2 of them the code), cut at a character boundary.
fn truncate_reason(reason: &str) -> &str {
    const MAX: usize = 123;
    if reason.len() <= MAX {
        return reason;
    }
    let mut end = MAX;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// A parsed `ws://` or `wss://` URL.
#[derive(Clone, Debug)]
struct Target {
    url: String,
    tls: bool,
    host: String,
    port: u16,
}

impl Target {
    fn parse(url: &str) -> Result<Target, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let (tls, rest) = if let Some(rest) = url.strip_prefix("ws://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("wss://") {
            (true, rest)
        } else {
            return Err(invalid("the scheme must be ws:// or wss://"));
        };
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("unclosed [ in the host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| invalid("invalid port"))?,
            None if tls => 443,
            None => 80,
        };
        // Check that the whole URL makes a request.
        url.into_client_request()
            .map_err(|e| invalid(&e.to_string()))?;
        Ok(Target {
            url: url.to_owned(),
            tls,
            host: host.to_owned(),
            port,
        })
    }
}

struct Connector {
    target: Target,
    subscriptions: String,
    options: ClientOptions,
}

/// A connection of either kind.
enum Conn {
    Plain(Box<WebSocketStream<TcpStream>>),
    Tls(Box<WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>>),
}

impl Connector {
    /// One attempt: connect, upgrade, subscribe, await the ack.
    async fn attempt(&self) -> Result<(Conn, (String, String)), String> {
        tokio::time::timeout(self.options.connect_timeout, self.attempt_untimed())
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "timed out after {:?}",
                    self.options.connect_timeout
                ))
            })
    }

    async fn attempt_untimed(&self) -> Result<(Conn, (String, String)), String> {
        let t = &self.target;
        let tcp = TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        match (&self.options.tls, t.tls) {
            (Some(tls), true) => {
                let stream = tls.connect_rustls(&t.host, tcp).await?;
                let (ws, ack) = self.handshake(stream).await?;
                Ok((Conn::Tls(Box::new(ws)), ack))
            }
            (None, true) => Err("wss:// needs a TLS configuration".into()),
            (_, false) => {
                let (ws, ack) = self.handshake(tcp).await?;
                Ok((Conn::Plain(Box::new(ws)), ack))
            }
        }
    }

    async fn handshake<S>(
        &self,
        stream: S,
    ) -> Result<(WebSocketStream<S>, (String, String)), String>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut request = self
            .target
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| e.to_string())?;
        if let Some(name) = &self.options.app_name {
            let value = HeaderValue::from_str(name).map_err(|e| e.to_string())?;
            request.headers_mut().insert("X-Application-Name", value);
        }
        let config = WebSocketConfig::default()
            .max_message_size(Some(self.options.max_message_size))
            .max_frame_size(Some(self.options.max_message_size));
        let (mut ws, _) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(config))
                .await
                .map_err(|e| format!("WebSocket upgrade failed: {e}"))?;
        ws.send(WsMessage::text(self.subscriptions.clone()))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let text = match ws.next().await {
                Some(Ok(WsMessage::Text(text))) => text.to_string(),
                Some(Ok(WsMessage::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                Some(Ok(WsMessage::Close(frame))) => {
                    return Err(match frame {
                        Some(f) => format!("server closed ({}): {}", f.code, f.reason),
                        None => "server closed the connection".into(),
                    });
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("server closed the connection".into()),
            };
            return match ServerFrame::parse(&text) {
                Ok(ServerFrame::Ack { endpoint, version }) => Ok((ws, (endpoint, version))),
                Ok(ServerFrame::Error { code, context }) => {
                    Err(format!("server error {code}: {context}"))
                }
                Ok(other) => Err(format!("expected an ack, got {other:?}")),
                Err(e) => Err(format!("expected an ack: {e}")),
            };
        }
    }

    /// The background task: serve the connection, reconnect per `retry`.
    async fn run(
        self,
        first: Conn,
        events: mpsc::Sender<ClientEvent>,
        mut publish: mpsc::Receiver<Outgoing>,
    ) {
        let mut conn = first;
        let close_timeout = self.options.close_timeout;
        loop {
            let ended = match &mut conn {
                Conn::Plain(ws) => serve(ws, &events, &mut publish, close_timeout).await,
                Conn::Tls(ws) => serve(ws, &events, &mut publish, close_timeout).await,
            };
            let reason = match ended {
                Ended::Lost(reason) => reason,
                // Closed by the application, or the application is gone.
                Ended::Closed => return,
            };
            if events
                .send(ClientEvent::Disconnected { reason })
                .await
                .is_err()
                || self.options.retry.is_zero()
            {
                return;
            }
            conn = loop {
                tokio::select! {
                    _ = tokio::time::sleep(self.options.retry) => {}
                    _ = events.closed() => return,
                }
                match self.attempt().await {
                    Ok((conn, (endpoint, version))) => {
                        if events
                            .send(ClientEvent::Connected { endpoint, version })
                            .await
                            .is_err()
                        {
                            return;
                        }
                        break conn;
                    }
                    Err(reason) => {
                        if events
                            .send(ClientEvent::Disconnected { reason })
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            };
        }
    }
}

/// How [`serve`] ended.
enum Ended {
    /// The connection ended; with a retry interval the client reconnects.
    Lost(String),
    /// The application closed the client or dropped it; the connection was
    /// closed properly (as far as the server allowed).
    Closed,
}

/// Moves frames until the connection ends or the application closes or
/// drops the client.
async fn serve<S>(
    ws: &mut WebSocketStream<S>,
    events: &mpsc::Sender<ClientEvent>,
    publish: &mut mpsc::Receiver<Outgoing>,
    close_timeout: Duration,
) -> Ended
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        tokio::select! {
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(WsMessage::Text(text))) => text.to_string(),
                    Some(Ok(WsMessage::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(WsMessage::Close(frame))) => {
                        // tungstenite answers the server's Close; send it.
                        let _ = tokio::time::timeout(close_timeout, ws.flush()).await;
                        return Ended::Lost(match frame {
                            Some(f) => format!("server closed ({}): {}", f.code, f.reason),
                            None => "server closed the connection".into(),
                        });
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(WsError::ConnectionClosed)) | None => {
                        return Ended::Lost("server closed the connection".into());
                    }
                    Some(Err(e)) => return Ended::Lost(e.to_string()),
                };
                let event = match ServerFrame::parse(&text) {
                    Ok(ServerFrame::Data(msg)) => ClientEvent::Message(msg),
                    Ok(ServerFrame::Error { code, context }) => ClientEvent::Error { code, context },
                    Ok(ServerFrame::Ack { .. }) => ClientEvent::Invalid { reason: "a second ack".into() },
                    Err(FrameError::Data(e)) => ClientEvent::Invalid { reason: format!("undecodable data message: {e}") },
                    Err(e) => ClientEvent::Invalid { reason: e.to_string() },
                };
                if events.send(event).await.is_err() {
                    // Nobody reads events any more: the client was dropped.
                    close_properly(ws, CLOSE_NORMAL, String::new(), close_timeout).await;
                    return Ended::Closed;
                }
            }
            out = publish.recv() => match out {
                Some(Outgoing::Frame(msg)) => {
                    if let Err(e) = ws.send(msg).await {
                        return Ended::Lost(e.to_string());
                    }
                }
                Some(Outgoing::Close { code, reason, done }) => {
                    let outcome = close_properly(ws, code, reason, close_timeout).await;
                    let _ = done.send(outcome);
                    return Ended::Closed;
                }
                None => {
                    close_properly(ws, CLOSE_NORMAL, String::new(), close_timeout).await;
                    return Ended::Closed;
                }
            },
        }
    }
}

/// The closing handshake of RFC 6455 §7.1.1 from the client's side: send a
/// Close frame, read until the server's Close arrives (dropping data frames
/// still in flight), then let the caller drop TCP. All within `timeout`.
async fn close_properly<S>(
    ws: &mut WebSocketStream<S>,
    code: u16,
    reason: String,
    timeout: Duration,
) -> Closed
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    let handshake = async {
        if ws.close(Some(frame)).await.is_err() {
            return Closed::TimedOut;
        }
        loop {
            match ws.next().await {
                Some(Ok(WsMessage::Close(reply))) => {
                    return Closed::Clean {
                        code: reply.map(|f| u16::from(f.code)),
                    };
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Closed::TimedOut,
            }
        }
    };
    tokio::time::timeout(timeout, handshake)
        .await
        .unwrap_or(Closed::TimedOut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_host_port_and_scheme() {
        let t = Target::parse("ws://127.0.0.1:27759/v1/messages/json").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.tls),
            ("127.0.0.1", 27759, false)
        );
        let t = Target::parse("wss://[::1]/v1/messages/json").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.tls), ("::1", 443, true));
        let t = Target::parse("ws://zeek.example:9997").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("zeek.example", 9997));
        assert!(Target::parse("http://x/").is_err());
        assert!(Target::parse("ws://:80/").is_err());
        assert!(Target::parse("ws://h:99999/").is_err());
    }
}
