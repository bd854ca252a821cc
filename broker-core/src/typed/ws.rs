//! Typed events over a [`WebSocketClient`]: the client side of Zeek's
//! WebSocket API with `#[event]` types.

use super::{EventError, TypedEvent};
use crate::runtime::Message;
use crate::websocket::{ClientError, WebSocketClient};
use crate::zeek;

/// The event `E` in a received message: `None` if the message is not a Zeek
/// event named `E::NAME`, else the conversion's outcome.
///
/// ```
/// use broker_core::prelude::*;
/// use broker_core::runtime::Message;
/// use broker_core::typed::decode_event;
///
/// #[event(topic = "/t", name = "Doc::hello")]
/// #[derive(Debug, PartialEq)]
/// struct Hello { n: u64 }
///
/// let msg = Message {
///     topic: Topic::new("/t").unwrap(),
///     data: Event::new("Doc::hello", vec![Data::Count(3)]).into_data(),
/// };
/// assert_eq!(decode_event::<Hello>(&msg), Some(Ok(Hello { n: 3 })));
/// ```
pub fn decode_event<E: TypedEvent>(message: &Message) -> Option<Result<E, EventError>> {
    match zeek::Message::from_data(&message.data) {
        Ok(zeek::Message::Event(event)) if event.name == E::NAME => Some(E::from_args(&event.args)),
        _ => None,
    }
}

impl WebSocketClient {
    /// Publishes `event` on its `#[event(topic)]`.
    pub async fn publish_event<E: TypedEvent>(&self, event: &E) -> Result<(), ClientError> {
        self.publish(E::TOPIC, event.to_event().into_data()).await
    }

    /// The next event of type `E`, skipping other messages and client
    /// events; `None` once the client has stopped. A message named
    /// `E::NAME` whose arguments do not convert is returned as the error.
    pub async fn recv_event<E: TypedEvent>(&mut self) -> Option<Result<E, EventError>> {
        loop {
            let message = self.recv_message().await?;
            if let Some(result) = decode_event::<E>(&message) {
                return Some(result);
            }
        }
    }
}
