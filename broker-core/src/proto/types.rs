//! The vocabulary of the protocol core: its settings, the names the driver
//! gives connections and subscribers, what it outputs, and what it counts.

use std::time::Duration;

use super::EndpointId;
use super::wire::{DEFAULT_MAX_FRAME_SIZE, DEFAULT_TTL, EnvelopeType, PROTOCOL_VERSION_2};
use crate::data::Data;
use crate::data::view::DataBuf;
use crate::status::{ErrorCode, StatusCode};
use crate::topic::Topic;

/// The default of [`Config::max_input_buffer`] (1 GiB).
pub(crate) const DEFAULT_MAX_INPUT_BUFFER: usize = 1 << 30;

/// The default byte limit of a peer's queue (64 MiB).
pub(crate) const DEFAULT_PEER_BUFFER_BYTES: usize = 64 * 1024 * 1024;

/// What the core does when a peer's outbound queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OverflowPolicy {
    /// Drop the peering (Broker's default).
    Disconnect,
    /// Drop the message that does not fit.
    DropNewest,
    /// Drop the oldest queued message to make room (Zeek's default since 7.2).
    #[default]
    DropOldest,
}

/// Settings of a core.
#[derive(Clone, Debug)]
pub struct Config {
    /// Our id.
    pub id: EndpointId,
    /// Whether to relay messages between peers (`forward_messages`).
    pub forward: bool,
    /// The largest frame accepted from a peer.
    pub max_frame_size: usize,
    /// A handshake not complete after this long is dropped.
    pub handshake_timeout: Duration,
    /// How long an unpeer waits for the peer's goodbye before closing.
    pub unpeer_timeout: Duration,
    /// Messages queued per peer before the overflow policy applies.
    pub peer_buffer_size: usize,
    /// Bytes queued per peer before the overflow policy applies (the queue
    /// is full at either limit; one frame may go past this one).
    pub peer_buffer_bytes: usize,
    /// Bytes of partly received frames that all connections together may
    /// hold; the connection that goes past it is closed.
    pub max_input_buffer: usize,
    /// What to do with a full queue.
    pub overflow_policy: OverflowPolicy,
    /// The TTL written into messages we publish.
    pub ttl: u16,
    /// The highest protocol version offered: 1 behaves exactly like Broker,
    /// 2 adds origin ids for duplicate suppression between our endpoints.
    pub max_version: u8,
    /// How long a full peer queue may hold local publishers back.
    pub stall_timeout: Duration,
}

impl Config {
    /// Defaults for an endpoint with this id.
    pub fn new(id: EndpointId) -> Config {
        Config {
            id,
            forward: false,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            handshake_timeout: Duration::from_secs(10),
            unpeer_timeout: Duration::from_secs(3),
            peer_buffer_size: 8192,
            peer_buffer_bytes: DEFAULT_PEER_BUFFER_BYTES,
            max_input_buffer: DEFAULT_MAX_INPUT_BUFFER,
            overflow_policy: OverflowPolicy::DropOldest,
            ttl: DEFAULT_TTL,
            max_version: PROTOCOL_VERSION_2,
            stall_timeout: Duration::from_secs(5),
        }
    }
}

/// A connection, as named by the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// A local subscriber, as named by the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriberId(pub u64);

/// Who opened the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The peer connected to us.
    Inbound,
    /// We connected to the peer.
    Outbound,
}

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// We unpeered.
    Unpeered,
    /// The peer closed the connection or it broke.
    Lost,
    /// The peer's queue overflowed (policy `Disconnect`).
    Overflow,
    /// The handshake failed or timed out.
    HandshakeFailed(ErrorCode),
    /// The peer sent something malformed.
    ProtocolError(ErrorCode),
    /// A second connection to a peer we already have.
    Redundant,
}

/// An output of the core.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A status change of a peering.
    Status {
        /// The connection.
        conn: ConnectionId,
        /// The peer.
        peer: EndpointId,
        /// What happened.
        code: StatusCode,
        /// Broker's text for it.
        message: String,
    },
    /// An error.
    Error {
        /// The connection, if any.
        conn: Option<ConnectionId>,
        /// The peer, if known.
        peer: Option<EndpointId>,
        /// The code.
        code: ErrorCode,
        /// What happened.
        message: String,
    },
    /// A message for local subscribers.
    Deliver {
        /// The topic.
        topic: Topic,
        /// The value.
        data: Data,
        /// The size of its bin v1 encoding.
        size: usize,
        /// Who subscribed to it.
        subscribers: Vec<SubscriberId>,
    },
    /// A message for local subscribers that take values as views (see
    /// [`Core::add_view_subscriber`](super::Core::add_view_subscriber)):
    /// checked and indexed, not decoded.
    DeliverView {
        /// The topic.
        topic: Topic,
        /// The value.
        value: DataBuf,
        /// Who subscribed to it.
        subscribers: Vec<SubscriberId>,
    },
    /// A handshake completed: the connection is a peering now.
    Peered {
        /// The connection.
        conn: ConnectionId,
        /// The peer.
        peer: EndpointId,
    },
    /// The driver must close this connection once its pending bytes are
    /// written; the core has forgotten it.
    Close {
        /// The connection.
        conn: ConnectionId,
        /// Why.
        reason: CloseReason,
    },
}

/// Counters for one peering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Messages queued now.
    pub queued: usize,
    /// Bytes of the messages queued now (their frames).
    pub queued_bytes: usize,
    /// Times the queue was full when a message came: the overflow policy
    /// applied (Zeek's `zeek_broker_peer_buffer_overflows_total`).
    pub overflows: u64,
}

/// Envelopes counted by their type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ByType {
    /// Published values.
    pub data: u64,
    /// Data-store commands.
    pub command: u64,
    /// Filter updates.
    pub routing_update: u64,
    /// Pings.
    pub ping: u64,
    /// Pongs.
    pub pong: u64,
}

impl ByType {
    pub(super) fn add(&mut self, kind: EnvelopeType) {
        match kind {
            EnvelopeType::Data => self.data += 1,
            EnvelopeType::Command => self.command += 1,
            EnvelopeType::RoutingUpdate => self.routing_update += 1,
            EnvelopeType::Ping => self.ping += 1,
            EnvelopeType::Pong => self.pong += 1,
        }
    }

    /// The counts with Broker's names of the types (`data`, `command`,
    /// `routing-update`, `ping`, `pong`), as its metric labels spell them.
    pub fn labelled(&self) -> [(&'static str, u64); 5] {
        [
            ("data", self.data),
            ("command", self.command),
            ("routing-update", self.routing_update),
            ("ping", self.ping),
            ("pong", self.pong),
        ]
    }
}

/// What a core has counted since it started (for metrics). Plain counters:
/// the core has one owner, which reads them when asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Envelopes received from peers, by type.
    pub received: ByType,
    /// Envelopes queued for peers, by type (each copy counts: a message for
    /// three peers is three).
    pub sent: ByType,
    /// Messages lost to the overflow policy: the new ones refused
    /// (`DropNewest`), the old ones dropped (`DropOldest`), or what a
    /// disconnected peer's queue held (`Disconnect`).
    pub dropped: u64,
    /// Frames that did not decode (the connection was closed).
    pub malformed_frames: u64,
    /// Data messages whose value did not decode (the message was dropped).
    pub malformed_values: u64,
}
