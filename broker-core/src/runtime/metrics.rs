//! An endpoint's metrics: what [`Endpoint::metrics`](super::Endpoint::metrics)
//! returns, and its Prometheus text form.
//!
//! The counters live where their events happen — the protocol core counts
//! envelopes by type, overflow drops and malformed input; the driver counts
//! bytes, error events, handshake failures and client traffic — as plain
//! integers owned by the endpoint's one driver task. Nothing is shared
//! between threads and nothing is locked on the publish path: a snapshot is
//! assembled by the driver when someone asks.
//!
//! Names follow Broker's metrics where Broker has one (`broker_connections`,
//! `broker_processed_messages_total{type}`) and Prometheus conventions
//! otherwise (units in names, `_total` for counters). `docs/operations.md`
//! lists them all with their meaning.

use std::fmt::Write as _;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::proto::{ByType, EndpointId, OverflowPolicy};
use crate::status::ErrorCode;

/// How a peer is attached to the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Transport {
    /// Broker's native protocol over TCP (or TLS).
    Native,
    /// Zeek's WebSocket JSON API (a client of our server).
    WebSocket,
    /// Zeek's ZeroMQ cluster backend (the endpoint's node in a cluster).
    ZeroMq,
}

impl Transport {
    /// The label value: `native`, `websocket`, `zeromq`.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Native => "native",
            Transport::WebSocket => "websocket",
            Transport::ZeroMq => "zeromq",
        }
    }
}

/// Why a handshake (TCP, TLS or Broker's) failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum HandshakeFailure {
    /// The TCP connection could not be made.
    Connect,
    /// The TLS handshake failed (mode mismatch, certificate rejected).
    Tls,
    /// The peer did not finish Broker's handshake in time.
    Timeout,
    /// The peer speaks incompatible protocol versions.
    Incompatible,
    /// The peer sent something that is not Broker's handshake.
    Malformed,
    /// The peer closed the connection during the handshake.
    Disconnected,
}

impl HandshakeFailure {
    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            HandshakeFailure::Connect => "connect",
            HandshakeFailure::Tls => "tls",
            HandshakeFailure::Timeout => "timeout",
            HandshakeFailure::Incompatible => "incompatible",
            HandshakeFailure::Malformed => "malformed",
            HandshakeFailure::Disconnected => "disconnected",
        }
    }

    const ALL: [HandshakeFailure; 6] = [
        HandshakeFailure::Connect,
        HandshakeFailure::Tls,
        HandshakeFailure::Timeout,
        HandshakeFailure::Incompatible,
        HandshakeFailure::Malformed,
        HandshakeFailure::Disconnected,
    ];
}

/// How many peers of one transport are in one state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerCount {
    /// The transport.
    pub transport: Transport,
    /// `peered`, `handshake` (a connection is up, the handshake runs),
    /// `connecting` (dialing) or `reconnecting` (waiting to dial again).
    pub state: &'static str,
    /// How many.
    pub count: u64,
}

/// One native peer's send queue.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerQueue {
    /// The peer.
    pub peer: EndpointId,
    /// Messages queued now.
    pub messages: u64,
    /// Bytes queued now.
    pub bytes: u64,
    /// Times the queue was full when a message came (the overflow policy
    /// applied).
    pub overflows: u64,
}

/// Traffic between the endpoint and its clients of one transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientTraffic {
    /// Messages the clients published.
    pub received: u64,
    /// Messages handed to the clients' queues.
    pub sent: u64,
    /// Messages the clients' queues dropped by overflow policy (or cleared
    /// when a client was disconnected for overflowing).
    pub dropped: u64,
}

/// An endpoint's metrics at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Metrics {
    /// Native network connections open: handshakes and peerings
    /// (`broker_connections`, as Broker).
    pub connections: u64,
    /// Peers by transport and state (`broker_peers`).
    pub peers: Vec<PeerCount>,
    /// Envelopes received from native peers, by type
    /// (`broker_processed_messages_total`, as Broker).
    pub received: ByType,
    /// Envelopes queued for native peers, by type
    /// (`broker_sent_messages_total`).
    pub sent: ByType,
    /// Bytes read from native connections (`broker_received_bytes_total`).
    pub received_bytes: u64,
    /// Bytes handed to native connections' writers (`broker_sent_bytes_total`).
    pub sent_bytes: u64,
    /// Each native peer's queue (`broker_peer_queued_messages`,
    /// `broker_peer_queued_bytes`, `broker_peer_overflows_total`).
    pub peer_queues: Vec<PeerQueue>,
    /// The overflow policy of native peers' queues.
    pub overflow_policy: OverflowPolicy,
    /// Messages native peers' queues lost to it
    /// (`broker_dropped_messages_total{transport="native"}`).
    pub dropped: u64,
    /// Traffic with WebSocket clients and the ZeroMQ node
    /// (`broker_client_messages_total`, `broker_dropped_messages_total`).
    pub clients: Vec<(Transport, ClientTraffic)>,
    /// Error events by code (`broker_errors_total{code}`); type clashes
    /// reported by typed handlers are `type_clash`.
    pub errors: Vec<(ErrorCode, u64)>,
    /// Failed handshakes by cause (`broker_handshake_failures_total{cause}`).
    pub handshake_failures: Vec<(HandshakeFailure, u64)>,
    /// Frames from peers that did not decode; each closed its connection
    /// (`broker_malformed_messages_total{kind="frame"}`).
    pub malformed_frames: u64,
    /// Data messages whose value did not decode; each was dropped
    /// (`broker_malformed_messages_total{kind="value"}`).
    pub malformed_values: u64,
    /// Prefixes in the filter the endpoint advertises to peers
    /// (`broker_subscriptions`).
    pub subscriptions: u64,
    /// Local subscribers (`broker_subscribers`).
    pub subscribers: u64,
}

impl Metrics {
    /// The errors counted with `code`.
    pub fn errors_with(&self, code: ErrorCode) -> u64 {
        self.errors
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(0, |(_, n)| *n)
    }

    /// The handshake failures counted for `cause`.
    pub fn handshake_failures_for(&self, cause: HandshakeFailure) -> u64 {
        self.handshake_failures
            .iter()
            .find(|(c, _)| *c == cause)
            .map_or(0, |(_, n)| *n)
    }

    /// The peers of `transport` in `state`.
    pub fn peers_in(&self, transport: Transport, state: &str) -> u64 {
        self.peers
            .iter()
            .filter(|p| p.transport == transport && p.state == state)
            .map(|p| p.count)
            .sum()
    }

    /// The client traffic of `transport`.
    pub fn client_traffic(&self, transport: Transport) -> ClientTraffic {
        self.clients
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, traffic)| *traffic)
            .unwrap_or_default()
    }

    /// The metrics in Prometheus's text exposition format (OpenMetrics
    /// 1.0 text, which Prometheus reads; it ends with `# EOF`).
    ///
    /// ```
    /// use broker_core::runtime::Metrics;
    ///
    /// let text = Metrics::default().to_prometheus_text();
    /// assert!(text.contains("# TYPE broker_connections gauge"));
    /// assert!(text.ends_with("# EOF\n"));
    /// ```
    pub fn to_prometheus_text(&self) -> String {
        let registry = self.registry();
        let mut out = String::new();
        // Writing to a String cannot fail.
        if encode(&mut out, &registry).is_err() {
            out.clear();
            let _ = writeln!(out, "# EOF");
        }
        out
    }

    fn registry(&self) -> Registry {
        type Labels = Vec<(&'static str, String)>;
        let mut registry = Registry::default();
        let gauge = |registry: &mut Registry, name: &str, help: &str, value: u64| {
            let g = Gauge::<i64>::default();
            g.set(saturating_i64(value));
            registry.register(name, help, g);
        };

        gauge(
            &mut registry,
            "broker_connections",
            "Number of active network connections.",
            self.connections,
        );
        let peers = Family::<Labels, Gauge<i64>>::default();
        for transport in [Transport::Native, Transport::WebSocket, Transport::ZeroMq] {
            for state in ["peered", "handshake", "connecting", "reconnecting"] {
                if transport != Transport::Native && state != "peered" {
                    continue;
                }
                peers
                    .get_or_create(&vec![
                        ("transport", transport.name().to_owned()),
                        ("state", state.to_owned()),
                    ])
                    .set(saturating_i64(self.peers_in(transport, state)));
            }
        }
        registry.register(
            "broker_peers",
            "Number of peers by transport and state.",
            peers,
        );

        let by_type = |registry: &mut Registry, name: &str, help: &str, counts: &ByType| {
            let family = Family::<Labels, Counter>::default();
            for (kind, n) in counts.labelled() {
                family
                    .get_or_create(&vec![("type", kind.to_owned())])
                    .inc_by(n);
            }
            registry.register(name, help, family);
        };
        by_type(
            &mut registry,
            "broker_processed_messages",
            "Total number of processed messages (received from peers), by type.",
            &self.received,
        );
        by_type(
            &mut registry,
            "broker_sent_messages",
            "Total number of messages queued for peers, by type.",
            &self.sent,
        );
        let counter_unit =
            |registry: &mut Registry, name: &str, help: &str, unit: Unit, value: u64| {
                let c = Counter::<u64>::default();
                c.inc_by(value);
                registry.register_with_unit(name, help, unit, c);
            };
        counter_unit(
            &mut registry,
            "broker_received",
            "Bytes read from native peer connections.",
            Unit::Bytes,
            self.received_bytes,
        );
        counter_unit(
            &mut registry,
            "broker_sent",
            "Bytes written to native peer connections.",
            Unit::Bytes,
            self.sent_bytes,
        );

        let queued = Family::<Labels, Gauge<i64>>::default();
        let queued_bytes = Family::<Labels, Gauge<i64>>::default();
        let overflows = Family::<Labels, Counter>::default();
        for q in &self.peer_queues {
            let labels = vec![("peer", q.peer.to_string())];
            queued
                .get_or_create(&labels)
                .set(saturating_i64(q.messages));
            queued_bytes
                .get_or_create(&labels)
                .set(saturating_i64(q.bytes));
            overflows.get_or_create(&labels).inc_by(q.overflows);
        }
        registry.register(
            "broker_peer_queued_messages",
            "Messages queued for a peer.",
            queued,
        );
        registry.register_with_unit(
            "broker_peer_queued",
            "Bytes queued for a peer.",
            Unit::Bytes,
            queued_bytes,
        );
        registry.register(
            "broker_peer_overflows",
            "Times a peer's queue was full when a message came.",
            overflows,
        );

        let dropped = Family::<Labels, Counter>::default();
        dropped
            .get_or_create(&vec![
                ("transport", Transport::Native.name().to_owned()),
                ("policy", policy_name(self.overflow_policy).to_owned()),
            ])
            .inc_by(self.dropped);
        let client_messages = Family::<Labels, Counter>::default();
        for transport in [Transport::WebSocket, Transport::ZeroMq] {
            let traffic = self.client_traffic(transport);
            for (direction, n) in [("received", traffic.received), ("sent", traffic.sent)] {
                client_messages
                    .get_or_create(&vec![
                        ("transport", transport.name().to_owned()),
                        ("direction", direction.to_owned()),
                    ])
                    .inc_by(n);
            }
            dropped
                .get_or_create(&vec![
                    ("transport", transport.name().to_owned()),
                    ("policy", "client".to_owned()),
                ])
                .inc_by(traffic.dropped);
        }
        registry.register(
            "broker_dropped_messages",
            "Messages lost to a full queue, by transport and overflow policy.",
            dropped,
        );
        registry.register(
            "broker_client_messages",
            "Messages exchanged with WebSocket clients and the ZeroMQ node.",
            client_messages,
        );

        let errors = Family::<Labels, Counter>::default();
        for (code, n) in &self.errors {
            errors
                .get_or_create(&vec![("code", code.name().to_owned())])
                .inc_by(*n);
        }
        // The codes operators alert on are always present, at zero.
        for code in [
            ErrorCode::TypeClash,
            ErrorCode::DeserializationFailed,
            ErrorCode::PeerUnavailable,
        ] {
            let _ = errors.get_or_create(&vec![("code", code.name().to_owned())]);
        }
        registry.register("broker_errors", "Error events by code.", errors);

        let handshakes = Family::<Labels, Counter>::default();
        for cause in HandshakeFailure::ALL {
            handshakes
                .get_or_create(&vec![("cause", cause.name().to_owned())])
                .inc_by(self.handshake_failures_for(cause));
        }
        registry.register(
            "broker_handshake_failures",
            "Failed peering handshakes (TCP, TLS or Broker's) by cause.",
            handshakes,
        );

        let malformed = Family::<Labels, Counter>::default();
        malformed
            .get_or_create(&vec![("kind", "frame".to_owned())])
            .inc_by(self.malformed_frames);
        malformed
            .get_or_create(&vec![("kind", "value".to_owned())])
            .inc_by(self.malformed_values);
        registry.register(
            "broker_malformed_messages",
            "Input from peers that did not decode: frames (the connection was closed) and values (the message was dropped).",
            malformed,
        );

        gauge(
            &mut registry,
            "broker_subscriptions",
            "Topic prefixes in the filter advertised to peers.",
            self.subscriptions,
        );
        gauge(
            &mut registry,
            "broker_subscribers",
            "Local subscribers.",
            self.subscribers,
        );
        registry
    }
}

fn policy_name(policy: OverflowPolicy) -> &'static str {
    match policy {
        OverflowPolicy::DropOldest => "drop_oldest",
        OverflowPolicy::DropNewest => "drop_newest",
        OverflowPolicy::Disconnect => "disconnect",
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// What the driver counts itself (the core counts the rest).
#[derive(Default)]
pub(super) struct DriverCounters {
    pub(super) received_bytes: u64,
    pub(super) sent_bytes: u64,
    errors: Vec<(ErrorCode, u64)>,
    handshake_failures: [u64; 6],
}

impl DriverCounters {
    pub(super) fn error(&mut self, code: ErrorCode) {
        match self.errors.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => self.errors.push((code, 1)),
        }
    }

    pub(super) fn handshake_failure(&mut self, cause: HandshakeFailure) {
        if let Some(i) = HandshakeFailure::ALL.iter().position(|c| *c == cause) {
            self.handshake_failures[i] += 1;
        }
    }

    pub(super) fn errors(&self) -> Vec<(ErrorCode, u64)> {
        let mut errors = self.errors.clone();
        errors.sort_by_key(|(code, _)| *code as u8);
        errors
    }

    pub(super) fn handshake_failures(&self) -> Vec<(HandshakeFailure, u64)> {
        HandshakeFailure::ALL
            .iter()
            .copied()
            .zip(self.handshake_failures)
            .collect()
    }
}

/// The cause of a failed handshake, from the error event that reported it.
pub(super) fn handshake_failure_of(code: ErrorCode, message: &str) -> Option<HandshakeFailure> {
    Some(match code {
        ErrorCode::PeerTimeout | ErrorCode::ConnectionTimeout => HandshakeFailure::Timeout,
        ErrorCode::PeerIncompatible => HandshakeFailure::Incompatible,
        ErrorCode::WrongMagicNumber | ErrorCode::InvalidMessage => HandshakeFailure::Malformed,
        ErrorCode::PeerDisconnectDuringHandshake => HandshakeFailure::Disconnected,
        ErrorCode::PeerUnavailable if message.starts_with("TLS handshake failed") => {
            HandshakeFailure::Tls
        }
        ErrorCode::PeerUnavailable => HandshakeFailure::Connect,
        _ => return None,
    })
}
