//! Zeek's ZeroMQ cluster backend (Zeek 7.1+, zeekctl's default since 8.1).
//!
//! [`wire`] holds the messages as pure functions over frames. The roles,
//! behind the default feature `zeromq` (they link libzmq), are built on the
//! endpoint's runtime as the WebSocket gateway is: each attaches to the
//! endpoint as a client with its own filter, so it receives what peers,
//! local publishers and other clients publish under its topics (never its
//! own publications), and what it publishes reaches peers, local
//! subscribers, typed handlers and other clients. Its sockets live on a
//! dedicated thread that runs `zmq::poll`.
//!
//! * a **node** ([`Endpoint::join_zeromq`](crate::runtime::Endpoint::join_zeromq))
//!   joins a cluster through its central XPUB/XSUB proxy;
//! * the **proxy** ([`ZmqProxy`]) is that central forwarder;
//! * a **logger** ([`Endpoint::zeromq_logger`](crate::runtime::Endpoint::zeromq_logger))
//!   receives Zeek's log batches on a PULL socket, and a log pusher
//!   ([`Endpoint::zeromq_log_pusher`](crate::runtime::Endpoint::zeromq_log_pusher))
//!   ships a [`Logger`](crate::logs::Logger)'s records to Zeek's loggers.
//!
//! An endpoint that is also peered with Broker peers, or serves WebSocket
//! clients, bridges them to the cluster by topic. `docs/zeromq.md` explains
//! how to point a cluster at these roles, and what differs from Zeek.

pub mod wire;

#[cfg(feature = "zeromq")]
mod keys;
#[cfg(feature = "zeromq")]
mod logger;
#[cfg(feature = "zeromq")]
mod membership;
#[cfg(feature = "zeromq")]
mod monitor;
#[cfg(feature = "zeromq")]
mod node;
#[cfg(feature = "zeromq")]
mod proxy;
#[cfg(feature = "zeromq")]
mod sys;

#[cfg(feature = "zeromq")]
pub use keys::{
    CurveKey, CurveKeys, ENV_CLIENT_PUBLIC, ENV_CLIENT_SECRET, ENV_SERVER_PUBLIC, ENV_SERVER_SECRET,
};
#[cfg(feature = "zeromq")]
pub use logger::{LogPusherOptions, LoggerOptions, LoggerStats, ZmqLogPusher, ZmqLogger};
#[cfg(feature = "zeromq")]
pub use membership::{ClusterEvent, NodeType};
#[cfg(feature = "zeromq")]
pub use monitor::{HandshakeCause, HandshakeFailure, SocketKind};
#[cfg(feature = "zeromq")]
pub use node::{ClusterEvents, NodeOptions, NodeStats, ZmqNode};
#[cfg(feature = "zeromq")]
pub use proxy::{DEFAULT_STALL_TIMEOUT, LOSSY_PERIOD, ProxyOptions, ProxyStats, ZmqProxy};

#[cfg(feature = "zeromq")]
use crate::runtime::EndpointError;

/// Zeek's default proxy XPUB endpoint (`listen_xpub_endpoint`; nodes'
/// `connect_xsub_endpoint`).
pub const DEFAULT_PROXY_XPUB: &str = "tcp://127.0.0.1:5555";
/// Zeek's default proxy XSUB endpoint (`listen_xsub_endpoint`; nodes'
/// `connect_xpub_endpoint`).
pub const DEFAULT_PROXY_XSUB: &str = "tcp://127.0.0.1:5556";

/// Why a ZeroMQ role failed.
#[cfg(feature = "zeromq")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZmqError {
    /// A libzmq call failed (binding a busy port, an invalid endpoint, ...).
    #[error("zeromq: {context}: {message}")]
    Socket {
        /// What was being done.
        context: String,
        /// libzmq's message.
        message: String,
    },
    /// A CURVE key is not 40 characters of Z85.
    #[error("invalid CURVE {name}: {reason}")]
    InvalidKey {
        /// Which key.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A CURVE key that the role needs was not given.
    #[error("CURVE: the {0} is missing")]
    MissingKey(&'static str),
    /// The server public key given is not the one of the server secret key.
    #[error("CURVE: the server public key does not belong to the server secret key")]
    KeyMismatch,
    /// CURVE keys were given in both ways Zeek knows (options and the
    /// environment).
    #[error(
        "CURVE keys given both as options and in ZEEK_CLUSTER_BACKEND_ZEROMQ_CURVE_* variables"
    )]
    KeysTwice,
    /// libzmq was built without CURVE.
    #[error("this libzmq has no CURVE support (link one built with libsodium; see docs/zeromq.md)")]
    NoCurve,
    /// A node name or id is unusable.
    #[error("invalid node {what} {value:?}: {reason}")]
    InvalidName {
        /// `name` or `id`.
        what: &'static str,
        /// The value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The I/O thread could not be started.
    #[error("cannot start the ZeroMQ I/O thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The endpoint failed or has shut down.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// A socket's handshake with its peer failed for good (wrong CURVE
    /// keys, CURVE on one side only, a peer that breaks ZMTP): libzmq does
    /// not redial, so the role cannot reach that peer.
    #[error(transparent)]
    Handshake(HandshakeFailure),
    /// Waiting timed out.
    #[error("timed out")]
    Timeout,
}

#[cfg(feature = "zeromq")]
impl ZmqError {
    pub(crate) fn socket(context: &str, e: zmq::Error) -> ZmqError {
        ZmqError::Socket {
            context: context.to_owned(),
            message: e.message().to_owned(),
        }
    }
}

/// Bounds every role applies to what comes from the network.
#[cfg(feature = "zeromq")]
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest message accepted, in bytes (libzmq's `MAXMSGSIZE`: a
    /// peer that sends a larger one is disconnected). Default: the
    /// endpoint's `max_frame_size`.
    pub max_message_size: usize,
    /// Messages decoded by the I/O thread that wait for the endpoint at
    /// most; further ones are dropped and counted (the sockets are always
    /// drained). Default 10,000, Zeek's `onloop_queue_hwm`.
    pub queue_size: usize,
    /// libzmq's send and receive high-water marks (Zeek's 1,000).
    pub hwm: i32,
    /// The most distinct topics a node tracks from the cluster's
    /// subscriptions; further ones are ignored and reported. Default 65,536.
    pub max_cluster_topics: usize,
}

#[cfg(feature = "zeromq")]
impl Limits {
    /// The limits that the endpoint's options imply.
    pub fn from_options(options: &crate::options::Options) -> Limits {
        Limits {
            max_message_size: options.max_frame_size,
            ..Limits::default()
        }
    }

    fn maxmsgsize(&self) -> i64 {
        i64::try_from(self.max_message_size).unwrap_or(i64::MAX)
    }
}

#[cfg(feature = "zeromq")]
impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message_size: crate::proto::wire::DEFAULT_MAX_FRAME_SIZE,
            queue_size: 10_000,
            hwm: 1000,
            max_cluster_topics: 1 << 16,
        }
    }
}

/// Sets `XPUB_NODROP` on an XPUB socket (the `zmq` crate has no setter):
/// with it, a send fails with `EAGAIN`, or blocks, instead of dropping the
/// message when a subscriber's queue is full.
#[cfg(feature = "zeromq")]
pub fn set_xpub_nodrop(socket: &mut zmq::Socket, on: bool) -> Result<(), ZmqError> {
    sys::set_int_option(socket, zmq_sys::ZMQ_XPUB_NODROP, i32::from(on))
}

/// This host's name, for node ids (dots replaced: see [`default_node_id`]).
#[cfg(feature = "zeromq")]
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// A node id as Zeek makes them, `zeromq_<name>_<host>_<pid>_<random>`,
/// with the host's dots replaced by `-` (an id that is a prefix of another
/// would receive the other's messages: its topic ends in `.`).
#[cfg(feature = "zeromq")]
pub fn default_node_id(name: &str) -> String {
    let mut random = [0u8; 8];
    if getrandom::fill(&mut random).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        random = (t as u64).to_le_bytes();
    }
    let host = hostname().replace('.', "-");
    format!(
        "zeromq_{name}_{host}_{}_N{}",
        std::process::id(),
        u64::from_le_bytes(random)
    )
}
