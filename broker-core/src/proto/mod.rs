//! The sans-io protocol core: Broker's wire protocol version 1 without I/O.
//!
//! [`wire`] encodes and decodes frames, handshake messages and envelopes;
//! [`handshake`] is the handshake state machine; [`filter`] holds topic
//! filters and the prefix index; the local side of routing (subscribers,
//! clients, forwards, the advertised filter) and duplicate suppression
//! have modules of their own; [`Core`] ties them together for one
//! endpoint: connections, routing decisions, forwarding and flow control. Nothing here
//! touches a socket, a clock or a random source: the runtime (or a test)
//! moves bytes and passes the time in.

mod core;
mod dedup;
pub mod filter;
pub mod handshake;
mod id;
mod queue;
mod routes;
mod types;
pub mod wire;

pub use self::core::{
    ByType, CloseReason, Config, ConnectionId, Core, Counters, Direction, Event, OverflowPolicy,
    PeerStats, SubscriberId,
};
pub(crate) use self::types::{DEFAULT_MAX_INPUT_BUFFER, DEFAULT_PEER_BUFFER_BYTES};
pub use id::{EndpointId, EndpointIdParseError};
