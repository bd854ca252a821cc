//! Local delivery: the bounded queues of clients (peers attached to the
//! endpoint without the native protocol, as the WebSocket gateway's
//! clients), which never make the driver wait: when one is full, the
//! overflow policy applies at once. A message for several clients is one
//! [`Delivery`] they share, rendered as JSON once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use tokio::sync::Notify;

use super::Message;
use crate::data::json;
use crate::proto::OverflowPolicy;

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
            let a = link.attach(topic(), 8, 1 << 20, OverflowPolicy::DropOldest);
            let a = a.await.unwrap();
            let b = link.attach(topic(), 8, 1 << 20, OverflowPolicy::DropOldest);
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
