//! What endpoint handles send the driver: requests, and publications
//! already encoded.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::delivery::{ClientQueue, SubTx};
use super::metrics::{Metrics, Transport};
use super::{EndpointError, ErrorEvent, PeerInfo, StatusEvent};
use crate::proto::{EndpointId, SubscriberId};
use crate::topic::Topic;

/// Requests from endpoint handles.
pub(crate) enum Control {
    Listen {
        address: String,
        port: u16,
        retry: Duration,
        reply: oneshot::Sender<Result<u16, EndpointError>>,
    },
    Peer {
        address: String,
        port: u16,
        retry: Duration,
        reply: oneshot::Sender<bool>,
        done: Option<oneshot::Sender<Result<EndpointId, ErrorEvent>>>,
    },
    Unpeer {
        address: String,
        port: u16,
        reply: oneshot::Sender<bool>,
    },
    Peers {
        reply: oneshot::Sender<Vec<PeerInfo>>,
    },
    PeerSubscriptions {
        reply: oneshot::Sender<Vec<Topic>>,
    },
    AwaitPeer {
        peer: EndpointId,
        reply: oneshot::Sender<oneshot::Receiver<()>>,
    },
    Subscribe {
        prefixes: Vec<Topic>,
        /// Of messages, or of views (`Endpoint::subscribe_views`).
        tx: SubTx,
        reply: oneshot::Sender<SubscriberId>,
    },
    AddTopic {
        sub: SubscriberId,
        prefix: Topic,
    },
    RemoveTopic {
        sub: SubscriberId,
        prefix: Topic,
    },
    Unsubscribe {
        sub: SubscriberId,
    },
    Forward {
        prefix: Topic,
        reply: oneshot::Sender<()>,
    },
    Unforward {
        prefix: Topic,
        reply: oneshot::Sender<()>,
    },
    StatusSubscribe {
        tx: mpsc::Sender<StatusEvent>,
        receive_statuses: bool,
        reply: oneshot::Sender<()>,
    },
    Flush {
        reply: oneshot::Sender<oneshot::Receiver<()>>,
    },
    ReportError {
        error: ErrorEvent,
    },
    Shutdown {
        reply: Option<oneshot::Sender<()>>,
    },
    /// A client (see `client.rs`) subscribed to `prefixes`.
    AttachClient {
        transport: Transport,
        prefixes: Vec<Topic>,
        queue: Arc<ClientQueue>,
        /// `None` when the prefixes would take the endpoint's filter past
        /// what peers accept.
        reply: oneshot::Sender<Option<SubscriberId>>,
    },
    /// A snapshot of the metrics.
    Metrics {
        reply: oneshot::Sender<Metrics>,
    },
    /// A listener of a gateway, aborted at shutdown.
    AddListener {
        task: tokio::task::JoinHandle<()>,
    },
    /// Keep `tx` up to date with what the endpoint wants from the network
    /// on behalf of everyone but the client `except` (see `client.rs`).
    #[cfg_attr(not(feature = "zeromq"), allow(dead_code))] // used by the ZeroMQ roles
    WatchWanted {
        except: SubscriberId,
        tx: tokio::sync::watch::Sender<Vec<Topic>>,
    },
}

/// A message to publish, already encoded by the caller.
pub(crate) struct Publish {
    pub(crate) topic: Topic,
    pub(crate) payload: Vec<u8>,
    /// The client publishing, with the value for local delivery; `None`
    /// for the endpoint's own publications.
    pub(crate) source: Option<(SubscriberId, crate::data::Data)>,
}
