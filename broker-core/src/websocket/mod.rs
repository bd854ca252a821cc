//! Zeek's WebSocket JSON API (v1): a server for third-party clients, and a
//! client for Zeek's (or our) server.
//!
//! The protocol: a client opens `ws[s]://host:port/v1/messages/json`, sends
//! a JSON array of topic prefixes, gets an ack
//! `{"type":"ack","endpoint":…,"version":…}`, and from then on both sides
//! exchange data messages `{"type":"data-message","topic":…,"@data-type":…,"data":…}`
//! (the [`json`] codec); the server reports bad input with
//! `{"type":"error","code":…,"context":…}` and keeps the connection open.
//!
//! The server ([`Endpoint::listen_websocket`](crate::runtime::Endpoint::listen_websocket))
//! attaches every client to the endpoint's routing core as a peer with its
//! own filter: it receives what native peers, local publishers and other
//! clients publish under its prefixes, never its own publications, and what
//! it publishes reaches native peers, local subscribers and other clients.
//!
//! ```
//! use broker_core::data::Data;
//! use broker_core::options::Options;
//! use broker_core::runtime::Endpoint;
//! use broker_core::websocket::{ClientEvent, ClientOptions, WebSocketClient};
//!
//! let options = Options { disable_ssl: true, ..Options::default() };
//! let server = Endpoint::new(options).unwrap();
//! server.block_on(async {
//!     let port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
//!     let url = format!("ws://127.0.0.1:{port}/v1/messages/json");
//!     let mut a = WebSocketClient::connect(&url, ["/demo"], ClientOptions::default())
//!         .await
//!         .unwrap();
//!     let b = WebSocketClient::connect(&url, Vec::<String>::new(), ClientOptions::default())
//!         .await
//!         .unwrap();
//!     b.publish("/demo/hello", Data::from("world")).await.unwrap();
//!     loop {
//!         match a.recv().await {
//!             Some(ClientEvent::Message(msg)) => {
//!                 assert_eq!(msg.topic.as_str(), "/demo/hello");
//!                 assert_eq!(msg.data, Data::from("world"));
//!                 break;
//!             }
//!             Some(_) => continue,
//!             None => panic!("client ended"),
//!         }
//!     }
//! });
//! ```

use std::time::Duration;

use serde_json::Value;

use crate::data::Data;
use crate::data::json::{self, JsonError};
use crate::options::Options;
use crate::proto::OverflowPolicy;
use crate::runtime::Message;
use crate::topic::Topic;

mod client;
mod server;

pub use client::{CLOSE_NORMAL, ClientError, ClientEvent, ClientOptions, Closed, WebSocketClient};
pub use server::WebSocketServer;

/// The one path the API is served on.
pub const PATH: &str = "/v1/messages/json";

/// The `version` our server puts into its acks.
pub const SERVER_VERSION: &str = concat!("broker-rs/", env!("CARGO_PKG_VERSION"));

/// Settings of a WebSocket server. [`ServerOptions::from_options`] derives
/// them from the endpoint's options.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Messages queued for one client before `overflow_policy` applies
    /// (default: the endpoint's `peer_buffer_size`).
    pub queue_size: usize,
    /// Bytes (of the messages' binary encodings) queued for one client
    /// before `overflow_policy` applies, whichever of this and `queue_size`
    /// comes first (default: the endpoint's `peer_buffer_bytes`).
    pub queue_bytes: usize,
    /// What happens to a client whose queue is full (default: the endpoint's
    /// `overflow_policy`): drop the oldest or the newest message, or
    /// disconnect the client (close code 1008). The endpoint never waits for
    /// a client.
    pub overflow_policy: OverflowPolicy,
    /// The largest message accepted from a client, in bytes (default: the
    /// endpoint's `max_frame_size`); a larger one closes the connection with
    /// code 1009.
    pub max_message_size: usize,
    /// How long the TLS and WebSocket handshakes may take (default: the
    /// endpoint's `handshake_timeout`).
    pub handshake_timeout: Duration,
    /// How often the server pings each client (default: 5 s, Zeek 8's
    /// `Cluster::default_websocket_ping_interval`); zero turns keepalive
    /// off (no pings, no timeout).
    pub ping_interval: Duration,
    /// How long a client may stay silent after a ping was due (default:
    /// 5 s): a client from which no frame at all (a pong, a publication,
    /// anything) has arrived for `ping_interval + ping_timeout` is
    /// dropped with close code 1011, freeing its queue and subscriptions.
    /// A client that stops reading is dropped the same way, since it
    /// cannot answer the pings queued behind its data.
    pub ping_timeout: Duration,
    /// Connections served at once, handshakes included (default 1,024);
    /// further connections are closed as soon as they are accepted.
    pub max_clients: usize,
}

/// The default of [`ServerOptions::max_clients`].
pub const DEFAULT_MAX_CLIENTS: usize = 1024;

/// The most topics in a client's subscription array.
pub const MAX_SUBSCRIPTIONS: usize = 10_000;

/// The largest subscription message, in bytes.
pub const MAX_SUBSCRIPTION_MESSAGE: usize = 1 << 20;

/// The default of [`ServerOptions::ping_interval`]: Zeek 8's
/// `Cluster::default_websocket_ping_interval`.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(5);

/// The default of [`ServerOptions::ping_timeout`].
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(5);

impl ServerOptions {
    /// The settings that `options` imply.
    pub fn from_options(options: &Options) -> ServerOptions {
        ServerOptions {
            queue_size: options.peer_buffer_size,
            queue_bytes: options.peer_buffer_bytes,
            overflow_policy: options.overflow_policy,
            max_message_size: options.max_frame_size,
            handshake_timeout: options.handshake_timeout,
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_timeout: DEFAULT_PING_TIMEOUT,
            max_clients: DEFAULT_MAX_CLIENTS,
        }
    }

    /// Pings every `interval` and drops clients silent for
    /// `interval + timeout` (zero `interval`: no keepalive).
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> ServerOptions {
        self.ping_interval = interval;
        self.ping_timeout = timeout;
        self
    }
}

/// Error codes of the server's error messages (Broker's error names, plus
/// Zeek 8's handshake codes).
pub mod codes {
    /// Bad subscriptions or a data message that cannot be decoded.
    pub const DESERIALIZATION_FAILED: &str = "deserialization_failed";
    /// The request path is not [`PATH`](super::PATH).
    pub const INVALID_URI: &str = "invalid_uri";
    /// The `X-Application-Name` header has characters outside
    /// `[-/_.=:*@a-zA-Z0-9]`.
    pub const INVALID_APPLICATION_NAME: &str = "invalid_application_name";
}

/// A frame from a server, as a client reads it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ServerFrame {
    /// The handshake's ack.
    Ack {
        /// The server's id for this client.
        endpoint: String,
        /// The server's version.
        version: String,
    },
    /// A data message.
    Data(Message),
    /// An error message.
    Error {
        /// The error code (`deserialization_failed`, ...).
        code: String,
        /// What happened.
        context: String,
    },
}

/// Why a server frame cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The text is not a JSON object.
    #[error("not a JSON object: {0}")]
    NotAnObject(String),
    /// An ack or error lacks a string member.
    #[error("{kind} without a string {member:?}")]
    MissingMember {
        /// `ack` or `error`.
        kind: &'static str,
        /// The member.
        member: &'static str,
    },
    /// A data message does not decode.
    #[error(transparent)]
    Data(#[from] JsonError),
}

impl ServerFrame {
    /// Reads a frame a server sent. Data messages follow the same rules as
    /// the server's input (any key order, timestamps with or without zone,
    /// ...).
    pub fn parse(text: &str) -> Result<ServerFrame, FrameError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| FrameError::NotAnObject(e.to_string()))?;
        let Value::Object(map) = &value else {
            return Err(FrameError::NotAnObject("not an object".into()));
        };
        let member = |kind: &'static str, member: &'static str| match map.get(member) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(FrameError::MissingMember { kind, member }),
        };
        match map.get("type").and_then(Value::as_str) {
            Some("ack") => Ok(ServerFrame::Ack {
                endpoint: member("ack", "endpoint")?,
                version: member("ack", "version")?,
            }),
            Some("error") => Ok(ServerFrame::Error {
                code: member("error", "code")?,
                context: member("error", "context")?,
            }),
            _ => {
                let (topic, data) = decode_data_message(value)?;
                Ok(ServerFrame::Data(Message { topic, data }))
            }
        }
    }
}

/// The JSON text of an error message.
pub(crate) fn error_message(code: &str, context: &str) -> String {
    serde_json::json!({"type": "error", "code": code, "context": context}).to_string()
}

/// The JSON text of an ack.
pub(crate) fn ack_message(endpoint: &str, version: &str) -> String {
    serde_json::json!({"type": "ack", "endpoint": endpoint, "version": version}).to_string()
}

/// Decodes a data message (already parsed, as a client reads server frames)
/// as Broker does: the `type` member is not looked at.
fn decode_data_message(mut value: Value) -> Result<(Topic, Data), JsonError> {
    if let Value::Object(map) = &mut value {
        map.remove("type");
    }
    json::data_message_from_json(&value)
}

/// Parses a data message sent by a client.
pub(crate) fn parse_client_data(text: &str) -> Result<(Topic, Data), JsonError> {
    json::data_message_from_json_str_any_type(text)
}

/// Whether an `X-Application-Name` is acceptable: one or more of
/// `[-/_.=:*@a-zA-Z0-9]` (Zeek 8's rule).
pub(crate) fn valid_application_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-/_.=:*@".contains(b))
}

/// Why a subscription frame is unusable (Zeek 8's error contexts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SubscriptionError {
    NotAnArray,
    NotAString,
    BadTopic(String),
    TooLarge,
    TooMany,
}

impl SubscriptionError {
    pub(crate) fn context(&self) -> String {
        match self {
            SubscriptionError::NotAnArray => "subscriptions not an array".into(),
            SubscriptionError::NotAString => "individual subscription not a string".into(),
            SubscriptionError::BadTopic(e) => format!("invalid subscription: {e}"),
            SubscriptionError::TooLarge => {
                format!("subscriptions larger than {MAX_SUBSCRIPTION_MESSAGE} bytes")
            }
            SubscriptionError::TooMany => format!("more than {MAX_SUBSCRIPTIONS} subscriptions"),
        }
    }
}

/// Reads the first frame: a JSON array of topic prefixes.
pub(crate) fn parse_subscriptions(text: &str) -> Result<Vec<Topic>, SubscriptionError> {
    if text.len() > MAX_SUBSCRIPTION_MESSAGE {
        return Err(SubscriptionError::TooLarge);
    }
    let value: Value = serde_json::from_str(text).map_err(|_| SubscriptionError::NotAnArray)?;
    let Value::Array(items) = value else {
        return Err(SubscriptionError::NotAnArray);
    };
    if items.len() > MAX_SUBSCRIPTIONS {
        return Err(SubscriptionError::TooMany);
    }
    items
        .into_iter()
        .map(|item| match item {
            Value::String(s) => {
                Topic::new(s).map_err(|e| SubscriptionError::BadTopic(e.to_string()))
            }
            _ => Err(SubscriptionError::NotAString),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_names_follow_zeeks_rule() {
        assert!(valid_application_name(b"zeek-client/1.5:x=y*@z_"));
        assert!(!valid_application_name(b""));
        assert!(!valid_application_name(b"has space"));
        assert!(!valid_application_name("caf\u{e9}".as_bytes()));
    }

    #[test]
    fn subscriptions_must_be_an_array_of_strings() {
        assert_eq!(
            parse_subscriptions(r#"["/a", "/b", "/a"]"#).unwrap().len(),
            3
        );
        assert!(parse_subscriptions("[]").unwrap().is_empty());
        assert_eq!(
            parse_subscriptions(r#"{"a":1}"#),
            Err(SubscriptionError::NotAnArray)
        );
        assert_eq!(
            parse_subscriptions("not json"),
            Err(SubscriptionError::NotAnArray)
        );
        assert_eq!(
            parse_subscriptions(r#"["/a", 1]"#),
            Err(SubscriptionError::NotAString)
        );
    }

    #[test]
    fn client_data_ignores_the_type_member() {
        let (topic, data) =
            parse_client_data(r#"{"type":"whatever","topic":"/t","@data-type":"count","data":1}"#)
                .unwrap();
        assert_eq!(topic.as_str(), "/t");
        assert_eq!(data, Data::Count(1));
        assert_eq!(
            parse_client_data(r#"{"@data-type":"count","data":1}"#),
            Err(JsonError::MissingTopic)
        );
    }

    #[test]
    fn server_frames_parse_by_type() {
        assert_eq!(
            ServerFrame::parse(r#"{"version":"8.0","endpoint":"x","type":"ack"}"#).unwrap(),
            ServerFrame::Ack {
                endpoint: "x".into(),
                version: "8.0".into()
            }
        );
        assert_eq!(
            ServerFrame::parse(&error_message("invalid_uri", "bad")).unwrap(),
            ServerFrame::Error {
                code: "invalid_uri".into(),
                context: "bad".into()
            }
        );
        let frame = ServerFrame::parse(
            r#"{"@data-type":"boolean","data":true,"topic":"/x","type":"data-message"}"#,
        )
        .unwrap();
        assert!(matches!(frame, ServerFrame::Data(m) if m.data == Data::Boolean(true)));
        assert!(matches!(
            ServerFrame::parse(r#"{"type":"ack","endpoint":"x"}"#),
            Err(FrameError::MissingMember {
                member: "version",
                ..
            })
        ));
        assert!(ServerFrame::parse("[1]").is_err());
    }
}
