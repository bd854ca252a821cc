//! Clients: peers attached to the endpoint without the native protocol (the
//! WebSocket gateway's clients, the ZeroMQ node).
//!
//! A client is routed by the same core as native peers: it has its own
//! filter, receives what native peers, local publishers and other clients
//! publish under it, never its own publications, and what it publishes
//! reaches native peers, local subscribers and other clients (see
//! [`Core::add_client`](crate::proto::Core::add_client)). Its messages
//! arrive in a [`ClientQueue`](super::delivery::ClientQueue).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::EndpointError;
use super::batch;
use super::control::{Control, Publish};
use super::delivery::{ClientClosed, ClientQueue, Delivery};
use super::metrics::Transport;
use crate::data::{Data, bin};
use crate::proto::{OverflowPolicy, SubscriberId};
use crate::topic::Topic;

/// A way to reach an endpoint's driver that does not keep the endpoint
/// alive (a gateway's tasks hold this, not an [`Endpoint`](super::Endpoint)).
#[derive(Clone)]
pub(crate) struct ClientLink {
    pub(super) control: mpsc::UnboundedSender<Control>,
    pub(super) publish: batch::Sender<Publish>,
}

impl ClientLink {
    /// Attaches a client of `transport` subscribed to `prefixes`, with a
    /// queue of `capacity` messages or `max_bytes` under `policy`.
    pub(crate) async fn attach(
        &self,
        transport: Transport,
        prefixes: Vec<Topic>,
        capacity: usize,
        max_bytes: usize,
        policy: OverflowPolicy,
    ) -> Result<LocalClient, EndpointError> {
        let queue = Arc::new(ClientQueue::new(capacity, max_bytes, policy));
        let (reply, wait) = oneshot::channel();
        self.control
            .send(Control::AttachClient {
                transport,
                prefixes,
                queue: queue.clone(),
                reply,
            })
            .map_err(|_| EndpointError::Closed)?;
        let id = wait
            .await
            .map_err(|_| EndpointError::Closed)?
            .ok_or(EndpointError::TooManySubscriptions)?;
        Ok(LocalClient {
            id,
            queue,
            link: self.clone(),
        })
    }

    /// Hands a task to the driver, which aborts it when the endpoint shuts
    /// down (a gateway's listener).
    pub(crate) fn add_listener(
        &self,
        task: tokio::task::JoinHandle<()>,
    ) -> Result<(), EndpointError> {
        self.control
            .send(Control::AddListener { task })
            .map_err(|e| {
                if let Control::AddListener { task } = e.0 {
                    task.abort();
                }
                EndpointError::Closed
            })
    }

    /// A watch of the prefixes the endpoint wants from the network on
    /// behalf of everyone but the client `except`: local subscriptions,
    /// forwards, other clients' subscriptions and peers' filters. A client
    /// that bridges another network subscribes there to these.
    #[cfg_attr(not(feature = "zeromq"), allow(dead_code))] // used by the ZeroMQ roles
    pub(crate) fn watch_wanted(
        &self,
        except: &LocalClient,
    ) -> Result<tokio::sync::watch::Receiver<Vec<Topic>>, EndpointError> {
        let (tx, rx) = tokio::sync::watch::channel(Vec::new());
        self.control
            .send(Control::WatchWanted {
                except: except.id,
                tx,
            })
            .map_err(|_| EndpointError::Closed)?;
        Ok(rx)
    }

    /// Resolves once the endpoint's driver has stopped.
    pub(crate) async fn closed(&self) {
        self.control.closed().await;
    }
}

/// An attached client; detached when dropped.
pub(crate) struct LocalClient {
    id: SubscriberId,
    queue: Arc<ClientQueue>,
    link: ClientLink,
}

impl LocalClient {
    /// The next message for the client.
    pub(crate) async fn recv(&self) -> Result<Arc<Delivery>, ClientClosed> {
        self.queue.pop().await
    }

    /// Publishes for the client; waits while peers' queues are full, like
    /// [`Endpoint::publish`](super::Endpoint::publish).
    pub(crate) async fn publish(&self, topic: Topic, data: Data) -> Result<(), EndpointError> {
        let payload = bin::encode(&data);
        self.publish_encoded(topic, payload, data).await
    }

    /// [`LocalClient::publish`] with the value's bin v1 bytes at hand (a
    /// gateway that received them), so that they are not encoded again.
    pub(crate) async fn publish_encoded(
        &self,
        topic: Topic,
        payload: Vec<u8>,
        data: Data,
    ) -> Result<(), EndpointError> {
        let msg = Publish {
            topic,
            payload,
            source: Some((self.id, data)),
        };
        self.link
            .publish
            .send(msg)
            .await
            .map_err(|_| EndpointError::Closed)
    }

    /// Adds a prefix to the client's subscriptions (refused, with a
    /// warning, when the endpoint's filter is full).
    #[cfg_attr(not(feature = "zeromq"), allow(dead_code))] // used by the ZeroMQ roles
    pub(crate) fn add_topic(&self, prefix: Topic) -> Result<(), EndpointError> {
        self.link
            .control
            .send(Control::AddTopic {
                sub: self.id,
                prefix,
            })
            .map_err(|_| EndpointError::Closed)
    }

    /// Removes a prefix from the client's subscriptions.
    #[cfg_attr(not(feature = "zeromq"), allow(dead_code))] // used by the ZeroMQ roles
    pub(crate) fn remove_topic(&self, prefix: Topic) -> Result<(), EndpointError> {
        self.link
            .control
            .send(Control::RemoveTopic {
                sub: self.id,
                prefix,
            })
            .map_err(|_| EndpointError::Closed)
    }

    /// The client's queue.
    pub(crate) fn queue(&self) -> &ClientQueue {
        &self.queue
    }
}

impl Drop for LocalClient {
    fn drop(&mut self) {
        let _ = self
            .link
            .control
            .send(Control::Unsubscribe { sub: self.id });
    }
}
