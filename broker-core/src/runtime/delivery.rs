//! Local delivery: what the core hands to this endpoint's own subscribers,
//! clients and status subscribers.
//!
//! * Subscribers ([`Endpoint::subscribe`](super::Endpoint::subscribe)) have
//!   bounded channels. A message that does not fit waits in `pending`, in
//!   order, and while anything waits the driver stops reading from peers:
//!   a slow subscriber slows the endpoint down rather than losing messages.
//! * Clients (peers attached without the native protocol: the WebSocket
//!   gateway's clients, the ZeroMQ node) have [`ClientQueue`]s that never
//!   make the driver wait: when one is full, the overflow policy applies at
//!   once. A message for several clients is one [`Delivery`] they share,
//!   rendered as JSON once.
//! * Status subscribers get status and error events; a full one misses
//!   events rather than holding anything up.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

use super::batch::{self, Run};
use super::metrics::{ClientTraffic, Transport};
use super::{ErrorEvent, Message, Status, StatusEvent, ViewMessage};
use crate::data::view::DataBuf;
use crate::data::{Data, json};
use crate::proto::{OverflowPolicy, SubscriberId};
use crate::topic::Topic;

/// Looked up once per delivery: a fast hash (ids are ours, not an
/// attacker's).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The local receivers of an endpoint: subscribers, clients, status
/// subscribers, and the deliveries waiting for a full subscriber.
#[derive(Default)]
pub(super) struct Local {
    subscribers: HashMap<SubscriberId, Subscriber>,
    /// Attached clients: their queues, prefixes and transports.
    clients: HashMap<SubscriberId, (Arc<ClientQueue>, Vec<Topic>, Transport)>,
    /// Traffic with clients, for WebSocket and ZeroMQ.
    traffic: [ClientTraffic; 2],
    status_subs: Vec<(mpsc::Sender<StatusEvent>, bool)>,
    /// Deliveries that did not fit a subscriber's queue, in order. While any
    /// wait, reading from peers pauses.
    pending: VecDeque<(SubscriberId, Message)>,
    /// The same for subscribers that take views.
    pending_views: VecDeque<(SubscriberId, ViewMessage)>,
    /// Encoded bytes of the messages queued for subscribers since the
    /// driver last let them run (see [`Local::take_delivered`]).
    delivered: usize,
    next_sub: u64,
}

/// The index of a client transport in the traffic counters.
fn traffic_slot(transport: Transport) -> Option<usize> {
    match transport {
        Transport::WebSocket => Some(0),
        Transport::ZeroMq => Some(1),
        Transport::Native => None,
    }
}

struct Subscriber {
    tx: SubTx,
    prefixes: Vec<Topic>,
}

/// A subscriber's channel: of decoded messages, or of views.
#[derive(Clone)]
pub(crate) enum SubTx {
    Values(batch::Sender<Message>),
    Views(batch::Sender<ViewMessage>),
}

impl SubTx {
    /// Waits until the channel has room (or its receiver is gone).
    pub(super) async fn room(&self) {
        match self {
            SubTx::Values(tx) => tx.room().await,
            SubTx::Views(tx) => tx.room().await,
        }
    }

    /// [`batch::Sender::try_send_run`] for a run of decoded messages. Each
    /// subscriber only ever gets its own kind from the core; the
    /// conversions are there to be total (a view decodes; a value that
    /// would not decode, deeper than the decoder's limit, is left out).
    fn send_values(
        &self,
        queue: &mut VecDeque<(SubscriberId, Message)>,
        sub: &SubscriberId,
    ) -> Result<Run, ()> {
        match self {
            SubTx::Values(tx) => tx.try_send_run(queue, sub, Some),
            SubTx::Views(tx) => tx.try_send_run(queue, sub, |msg| {
                Some(ViewMessage {
                    value: DataBuf::from_data(&msg.data).ok()?,
                    topic: msg.topic,
                })
            }),
        }
    }

    /// [`SubTx::send_values`] for a run of views.
    fn send_views(
        &self,
        queue: &mut VecDeque<(SubscriberId, ViewMessage)>,
        sub: &SubscriberId,
    ) -> Result<Run, ()> {
        match self {
            SubTx::Views(tx) => tx.try_send_run(queue, sub, Some),
            SubTx::Values(tx) => tx.try_send_run(queue, sub, |view| {
                Some(Message {
                    data: view.value.to_data(),
                    topic: view.topic,
                })
            }),
        }
    }
}

/// Sends the waiting deliveries of `queue` with `send` until one does not
/// fit; adds the subscribers found gone to `gone`.
fn send_queued<T>(
    queue: &mut VecDeque<(SubscriberId, T)>,
    subscribers: &HashMap<SubscriberId, Subscriber>,
    gone: &mut Vec<SubscriberId>,
    send: impl Fn(&SubTx, &mut VecDeque<(SubscriberId, T)>, &SubscriberId) -> Result<Run, ()>,
) {
    while let Some(&(sub, _)) = queue.front() {
        let Some(s) = subscribers.get(&sub).filter(|_| !gone.contains(&sub)) else {
            queue.pop_front();
            continue;
        };
        match send(&s.tx, queue, &sub) {
            Ok(Run::Sent) => {}
            Ok(Run::Full) => break,
            Err(()) => gone.push(sub),
        }
    }
}

impl Local {
    /// Adds a subscriber with its channel; returns its id.
    pub(super) fn add_subscriber(&mut self, tx: SubTx, prefixes: Vec<Topic>) -> SubscriberId {
        let sub = self.next_id();
        self.subscribers.insert(sub, Subscriber { tx, prefixes });
        sub
    }

    /// Adds a client of `transport` with its queue; returns its id.
    pub(super) fn add_client(
        &mut self,
        queue: Arc<ClientQueue>,
        prefixes: Vec<Topic>,
        transport: Transport,
    ) -> SubscriberId {
        let sub = self.next_id();
        self.clients.insert(sub, (queue, prefixes, transport));
        sub
    }

    /// The client `sub` published a message (for the traffic counters).
    pub(super) fn client_published(&mut self, sub: SubscriberId) {
        if let Some(t) = self.clients.get(&sub).and_then(|c| traffic_slot(c.2)) {
            self.traffic[t].received += 1;
        }
    }

    /// The traffic with clients, by transport.
    pub(super) fn client_traffic(&self) -> Vec<(Transport, ClientTraffic)> {
        vec![
            (Transport::WebSocket, self.traffic[0]),
            (Transport::ZeroMq, self.traffic[1]),
        ]
    }

    /// How many clients of `transport` are attached.
    pub(super) fn client_count(&self, transport: Transport) -> u64 {
        self.clients.values().filter(|c| c.2 == transport).count() as u64
    }

    /// How many local subscribers there are.
    pub(super) fn subscriber_count(&self) -> u64 {
        self.subscribers.len() as u64
    }

    fn next_id(&mut self) -> SubscriberId {
        self.next_sub += 1;
        SubscriberId(self.next_sub)
    }

    /// The prefixes of a subscriber or client, and whether it is a client.
    pub(super) fn prefixes_mut(&mut self, sub: SubscriberId) -> Option<(&mut Vec<Topic>, bool)> {
        if let Some(s) = self.subscribers.get_mut(&sub) {
            return Some((&mut s.prefixes, false));
        }
        self.clients
            .get_mut(&sub)
            .map(|(_, prefixes, _)| (prefixes, true))
    }

    /// Forgets a subscriber or client (closing a client's queue) and what
    /// waits for it; returns its prefixes, for the core to forget too.
    pub(super) fn remove(&mut self, sub: SubscriberId) -> Option<Vec<Topic>> {
        let prefixes = if let Some(s) = self.subscribers.remove(&sub) {
            Some(s.prefixes)
        } else if let Some((queue, prefixes, _)) = self.clients.remove(&sub) {
            queue.close(ClientClosed::Shutdown);
            Some(prefixes)
        } else {
            None
        };
        self.pending.retain(|(s, _)| *s != sub);
        self.pending_views.retain(|(s, _)| *s != sub);
        prefixes
    }

    /// The encoded bytes of the messages queued for subscribers since the
    /// last call.
    pub(super) fn take_delivered(&mut self) -> usize {
        std::mem::take(&mut self.delivered)
    }

    /// The encoded bytes of the messages queued for subscribers since the
    /// last [`Local::take_delivered`].
    pub(super) fn delivered(&self) -> usize {
        self.delivered
    }

    /// Whether deliveries wait for a full subscriber.
    pub(super) fn is_blocked(&self) -> bool {
        !self.pending.is_empty() || !self.pending_views.is_empty()
    }

    /// The channel of the subscriber the first waiting delivery is for.
    pub(super) fn blocked(&self) -> Option<SubTx> {
        let sub = match self.pending.front() {
            Some((sub, _)) => sub,
            None => &self.pending_views.front()?.0,
        };
        let s = self.subscribers.get(sub)?;
        Some(s.tx.clone())
    }

    /// Hands `data` on `topic` (`size` bytes encoded) to `subscribers`.
    /// Returns the subscribers found gone or overflowing (to remove).
    pub(super) fn deliver(
        &mut self,
        topic: Topic,
        data: Data,
        size: usize,
        subscribers: Vec<SubscriberId>,
    ) -> Vec<SubscriberId> {
        let mut gone = Vec::new();
        let last = subscribers.len().saturating_sub(1);
        // The last subscriber gets the topic and the value themselves, the
        // others copies (one subscriber: no reference count touched).
        let mut parts = Some((topic, data));
        // Clients share one delivery (and its JSON rendering).
        let mut shared: Option<Arc<Delivery>> = None;
        for (i, sub) in subscribers.into_iter().enumerate() {
            let mut message = || {
                let (topic, data) = if i == last {
                    parts.take()
                } else {
                    parts.clone()
                }
                .unwrap_or_default();
                Message { topic, data }
            };
            // Clients never hold the driver up: their queues apply the
            // overflow policy at once.
            if let Some((queue, _, transport)) = self.clients.get(&sub) {
                let slot = traffic_slot(*transport);
                let delivery = shared
                    .get_or_insert_with(|| Arc::new(Delivery::new(message())))
                    .clone();
                let dropped_before = queue.dropped();
                let outcome = queue.push(delivery, size);
                if let Some(t) = slot {
                    let traffic = &mut self.traffic[t];
                    traffic.sent += 1;
                    traffic.dropped += queue.dropped() - dropped_before;
                    if outcome == Push::Overflow {
                        traffic.dropped += 1;
                    }
                }
                match outcome {
                    Push::Queued => {}
                    Push::Dropped => {
                        tracing::debug!("client {}: queue full, message dropped", sub.0);
                    }
                    Push::Overflow | Push::Closed => {
                        tracing::warn!("client {}: queue overflow, disconnecting", sub.0);
                        gone.push(sub);
                    }
                }
                continue;
            }
            // Subscribers' messages wait in `pending`, in order, until
            // `send_pending`: a run of messages for one subscriber then
            // costs one lock of its channel, not one each.
            if self.subscribers.contains_key(&sub) {
                self.pending.push_back((sub, message()));
                self.delivered += size;
            }
        }
        gone
    }

    /// Hands the view `value` on `topic` to `subscribers` (subscribers that
    /// take views; clients never do).
    pub(super) fn deliver_view(
        &mut self,
        topic: Topic,
        value: DataBuf,
        subscribers: Vec<SubscriberId>,
    ) {
        let size = value.as_bytes().len();
        let last = subscribers.len().saturating_sub(1);
        let mut parts = Some((topic, value));
        for (i, sub) in subscribers.into_iter().enumerate() {
            if !self.subscribers.contains_key(&sub) {
                continue;
            }
            let parts = if i == last {
                parts.take()
            } else {
                parts.clone()
            };
            if let Some((topic, value)) = parts {
                self.pending_views
                    .push_back((sub, ViewMessage { topic, value }));
                self.delivered += size;
            }
        }
    }

    /// Sends the waiting deliveries until one does not fit (reading from
    /// peers pauses while any wait): after [`Local::deliver`], and when the
    /// blocked subscriber has room (or is gone). Returns the subscribers
    /// found gone.
    pub(super) fn send_pending(&mut self) -> Vec<SubscriberId> {
        let mut gone = Vec::new();
        send_queued(
            &mut self.pending,
            &self.subscribers,
            &mut gone,
            SubTx::send_values,
        );
        send_queued(
            &mut self.pending_views,
            &self.subscribers,
            &mut gone,
            SubTx::send_views,
        );
        gone
    }

    /// Adds a status subscriber (errors only unless `statuses`).
    pub(super) fn add_status_subscriber(&mut self, tx: mpsc::Sender<StatusEvent>, statuses: bool) {
        self.status_subs.push((tx, statuses));
    }

    /// Tells status subscribers that want statuses.
    pub(super) fn status(&mut self, status: Status) {
        tracing::debug!("status {}: {:?}", status.code, status.endpoint);
        self.status_subs.retain(|(tx, statuses)| {
            !*statuses
                || !matches!(
                    tx.try_send(StatusEvent::Status(status.clone())),
                    Err(mpsc::error::TrySendError::Closed(_))
                )
        });
    }

    /// Tells every status subscriber.
    pub(super) fn error(&mut self, error: ErrorEvent) {
        tracing::debug!("error {}: {}", error.code, error.message);
        self.status_subs.retain(|(tx, _)| {
            !matches!(
                tx.try_send(StatusEvent::Error(error.clone())),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        });
    }

    /// Closes every client's queue (the endpoint shuts down).
    pub(super) fn close_clients(&mut self) {
        for (_, (queue, _, _)) in self.clients.drain() {
            queue.close(ClientClosed::Shutdown);
        }
    }
}

/// A message for clients, shared by every client it goes to.
pub(crate) struct Delivery {
    pub(crate) msg: Message,
    json: OnceLock<Bytes>,
}

impl Delivery {
    pub(crate) fn new(msg: Message) -> Delivery {
        Delivery {
            msg,
            json: OnceLock::new(),
        }
    }

    /// The message as a WebSocket data message (UTF-8), rendered by the
    /// first client that asks and shared with the others.
    pub(crate) fn json(&self) -> &Bytes {
        self.json.get_or_init(|| {
            Bytes::from(json::data_message_to_json_string(
                &self.msg.topic,
                &self.msg.data,
            ))
        })
    }
}

/// What became of a message offered to a [`ClientQueue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Push {
    /// It was queued.
    Queued,
    /// The queue was full and a message was dropped (the new one or the
    /// oldest, by policy).
    Dropped,
    /// The queue was full and the policy is to disconnect: the queue is
    /// closed now.
    Overflow,
    /// The queue was closed already.
    Closed,
}

/// Why a client's queue closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientClosed {
    /// The client was too slow and the policy is `Disconnect`.
    Overflow,
    /// The endpoint shut down.
    Shutdown,
}

struct QueueState {
    /// Messages with the size of their encoding.
    items: VecDeque<(Arc<Delivery>, usize)>,
    /// The sizes in `items`, summed.
    bytes: usize,
    closed: Option<ClientClosed>,
    dropped: u64,
}

impl QueueState {
    fn pop(&mut self) -> Option<Arc<Delivery>> {
        let (msg, size) = self.items.pop_front()?;
        self.bytes -= size;
        Some(msg)
    }
}

/// A bounded queue of messages for one client, filled by the driver and
/// drained by the client's connection task.
pub(crate) struct ClientQueue {
    state: Mutex<QueueState>,
    ready: Notify,
    capacity: usize,
    max_bytes: usize,
    policy: OverflowPolicy,
}

impl ClientQueue {
    /// A queue that is full at `capacity` messages (at least one) or
    /// `max_bytes` of their encodings, whichever comes first; one message
    /// may go past the byte limit, so any message fits an empty queue.
    pub(crate) fn new(capacity: usize, max_bytes: usize, policy: OverflowPolicy) -> ClientQueue {
        ClientQueue {
            state: Mutex::new(QueueState {
                items: VecDeque::new(),
                bytes: 0,
                closed: None,
                dropped: 0,
            }),
            ready: Notify::new(),
            capacity: capacity.max(1),
            max_bytes,
            policy,
        }
    }

    fn is_full(&self, state: &QueueState) -> bool {
        !state.items.is_empty()
            && (state.items.len() >= self.capacity || state.bytes >= self.max_bytes)
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A panic while holding this lock cannot leave the queue
        // inconsistent (every update is a single push or pop).
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Offers a message whose encoding takes `size` bytes; never waits.
    pub(crate) fn push(&self, msg: Arc<Delivery>, size: usize) -> Push {
        let result = {
            let mut state = self.lock();
            if state.closed.is_some() {
                return Push::Closed;
            }
            if !self.is_full(&state) {
                state.items.push_back((msg, size));
                state.bytes += size;
                Push::Queued
            } else {
                match self.policy {
                    OverflowPolicy::DropNewest => {
                        state.dropped += 1;
                        Push::Dropped
                    }
                    OverflowPolicy::DropOldest => {
                        while self.is_full(&state) {
                            state.pop();
                            state.dropped += 1;
                        }
                        state.items.push_back((msg, size));
                        state.bytes += size;
                        Push::Dropped
                    }
                    OverflowPolicy::Disconnect => {
                        state.items.clear();
                        state.bytes = 0;
                        state.closed = Some(ClientClosed::Overflow);
                        Push::Overflow
                    }
                }
            }
        };
        self.ready.notify_one();
        result
    }

    /// Closes the queue; the consumer sees `cause` once the queue is empty
    /// (at once for an overflow, which clears it).
    pub(crate) fn close(&self, cause: ClientClosed) {
        {
            let mut state = self.lock();
            if state.closed.is_none() {
                state.closed = Some(cause);
            }
        }
        self.ready.notify_one();
    }

    /// The next message, waiting for one; the cause once closed.
    pub(crate) async fn pop(&self) -> Result<Arc<Delivery>, ClientClosed> {
        loop {
            let notified = self.ready.notified();
            {
                let mut state = self.lock();
                if let Some(msg) = state.pop() {
                    return Ok(msg);
                }
                if let Some(cause) = state.closed {
                    return Err(cause);
                }
            }
            notified.await;
        }
    }

    /// The next message if one is waiting.
    pub(crate) fn try_pop(&self) -> Option<Arc<Delivery>> {
        self.lock().pop()
    }

    /// Messages waiting now.
    #[cfg_attr(not(feature = "zeromq"), allow(dead_code))] // used by the ZeroMQ roles
    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// How many messages make the queue full.
    #[cfg_attr(not(feature = "zeromq"), allow(dead_code))] // used by the ZeroMQ roles
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether no message is waiting.
    #[cfg_attr(not(feature = "zeromq"), allow(dead_code))] // used by the ZeroMQ roles
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().items.is_empty()
    }

    /// Messages dropped by the overflow policy so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.lock().dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Data;
    use crate::topic::Topic;

    fn msg(n: u64) -> Arc<Delivery> {
        Arc::new(Delivery::new(Message {
            topic: Topic::new("t").unwrap(),
            data: Data::Count(n),
        }))
    }

    fn counts(q: &ClientQueue) -> Vec<u64> {
        q.lock()
            .items
            .iter()
            .map(|(m, _)| match m.msg.data {
                Data::Count(n) => n,
                _ => u64::MAX,
            })
            .collect()
    }

    #[test]
    fn clients_share_one_delivery_and_one_rendering() {
        let options = crate::options::Options {
            disable_ssl: true,
            ..Default::default()
        };
        let endpoint = super::super::Endpoint::new(options).unwrap();
        let (link, _, _) = endpoint.gateway_parts();
        endpoint.block_on(async {
            let topic = || vec![Topic::new("/t").unwrap()];
            let ws = Transport::WebSocket;
            let a = link.attach(ws, topic(), 8, 1 << 20, OverflowPolicy::DropOldest);
            let a = a.await.unwrap();
            let b = link.attach(ws, topic(), 8, 1 << 20, OverflowPolicy::DropOldest);
            let b = b.await.unwrap();
            endpoint.publish("/t", Data::Count(5)).await.unwrap();
            let (first, second) = (a.recv().await.unwrap(), b.recv().await.unwrap());
            assert!(Arc::ptr_eq(&first, &second), "one delivery for both");
            assert_eq!(first.msg.data, Data::Count(5));
            assert_eq!(
                first.json().as_ptr(),
                second.json().as_ptr(),
                "rendered once"
            );
            let text = std::str::from_utf8(first.json()).unwrap();
            assert!(text.contains(r#""topic":"/t""#), "{text}");
        });
    }

    #[test]
    fn the_queue_is_also_full_at_its_byte_limit() {
        // Room for 100 messages but 250 bytes: messages of 100 bytes fill
        // it at three (one may go past the limit).
        let q = ClientQueue::new(100, 250, OverflowPolicy::DropOldest);
        for n in 1..=3 {
            assert_eq!(q.push(msg(n), 100), Push::Queued);
        }
        assert_eq!(q.push(msg(4), 100), Push::Dropped);
        assert_eq!(counts(&q), [2, 3, 4]);
        assert_eq!(q.push(msg(5), 1000), Push::Dropped);
        assert_eq!(counts(&q), [3, 4, 5]);
        // Now over the limit by 950 bytes: a message pushes out as many as
        // it must, and still goes in.
        assert_eq!(q.push(msg(6), 1), Push::Dropped);
        assert_eq!(counts(&q), [6]);
        assert_eq!(q.dropped(), 5);
        assert_eq!(
            q.try_pop().map(|m| m.msg.data.clone()),
            Some(Data::Count(6))
        );
        assert_eq!(q.lock().bytes, 0);
    }

    #[test]
    fn drop_oldest_keeps_the_newest_messages() {
        let q = ClientQueue::new(2, usize::MAX, OverflowPolicy::DropOldest);
        assert_eq!(q.push(msg(1), 8), Push::Queued);
        assert_eq!(q.push(msg(2), 8), Push::Queued);
        assert_eq!(q.push(msg(3), 8), Push::Dropped);
        assert_eq!(counts(&q), [2, 3]);
        assert_eq!(q.dropped(), 1);
    }

    #[test]
    fn drop_newest_keeps_the_oldest_messages() {
        let q = ClientQueue::new(2, usize::MAX, OverflowPolicy::DropNewest);
        q.push(msg(1), 8);
        q.push(msg(2), 8);
        assert_eq!(q.push(msg(3), 8), Push::Dropped);
        assert_eq!(counts(&q), [1, 2]);
    }

    #[test]
    fn disconnect_closes_and_clears_the_queue() {
        let q = ClientQueue::new(1, usize::MAX, OverflowPolicy::Disconnect);
        q.push(msg(1), 8);
        assert_eq!(q.push(msg(2), 8), Push::Overflow);
        assert_eq!(q.len(), 0);
        assert_eq!(q.push(msg(3), 8), Push::Closed);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(matches!(rt.block_on(q.pop()), Err(ClientClosed::Overflow)));
    }

    #[test]
    fn close_delivers_what_is_queued_first() {
        let q = ClientQueue::new(4, usize::MAX, OverflowPolicy::DropOldest);
        q.push(msg(7), 8);
        q.close(ClientClosed::Shutdown);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(q.pop()).unwrap().msg.data, Data::Count(7));
        assert!(matches!(rt.block_on(q.pop()), Err(ClientClosed::Shutdown)));
    }
}
