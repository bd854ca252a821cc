//! Typed events, handlers and published identifiers on top of the runtime.
//!
//! `#[event(topic = "…")]` makes a struct a Zeek event ([`TypedEvent`]),
//! `#[handler]` registers a function that receives it, and
//! `#[published_id(topic = "…")]` a [`Published`] value that peers update.
//! The macros register what they annotate in a program-wide registry
//! (through `inventory`); [`Endpoint::start_handlers`] checks the registry,
//! subscribes to the topics of the registered handlers and published ids, and
//! dispatches incoming events by name.
//!
//! ```
//! use broker_core::prelude::*;
//! use broker_core::options::Options;
//! use broker_core::runtime::Endpoint;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! #[event(topic = "/demo/typed", name = "Demo::ping")]
//! struct Ping {
//!     n: u64,
//!     text: String,
//! }
//!
//! static SEEN: AtomicU64 = AtomicU64::new(0);
//!
//! #[handler]
//! fn on_ping(ping: Ping) {
//!     SEEN.fetch_add(ping.n, Ordering::SeqCst);
//! }
//!
//! let endpoint = Endpoint::new(Options { disable_ssl: true, ..Options::default() }).unwrap();
//! endpoint.block_on(async {
//!     endpoint.start_handlers().await.unwrap();
//!     // A local raise calls the local handlers (and publishes to the
//!     // event's auto-publish topics, here to no peer).
//!     endpoint.raise(Ping { n: 7, text: "hi".into() }).await.unwrap();
//! });
//! assert_eq!(SEEN.load(Ordering::SeqCst), 7);
//! ```

mod check;
mod dispatch;
mod published;
mod registry;
mod schema;
mod ws;

use std::future::Future;
use std::pin::Pin;

use crate::data::{ConversionError, Data, ZeekType};
use crate::runtime::Endpoint;
use crate::topic::Topic;
use crate::zeek;

pub use check::{CheckError, Mismatch, Problem, Subject, check_scripts};
pub use dispatch::TypedError;
pub use published::Published;
pub use registry::{EventInfo, HandlerInfo, PublishedCell, PublishedInfo, RegistryError};
pub use schema::{EventSchema, IdSchema, Schema};
pub use ws::decode_event;

/// A Rust type that is a Zeek event: `#[event(topic = "…")]` implements it.
///
/// The fields are the event's arguments, in order.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event",
    label = "a handler takes an event type as its first argument",
    note = "make it an event with `#[broker_core::event(topic = \"…\")]` on the struct"
)]
pub trait TypedEvent: Sized + Send + 'static {
    /// The Zeek event name, e.g. `Alerts::scan_detected`.
    const NAME: &'static str;
    /// The topic it is published on and its handlers subscribe to.
    const TOPIC: &'static str;

    /// The arguments, converted.
    fn to_args(&self) -> Vec<Data>;

    /// The arguments, converted, consuming the event.
    fn into_args(self) -> Vec<Data>;

    /// The event from its arguments: exactly as many as it has fields, each
    /// of the field's type.
    fn from_args(args: &[Data]) -> Result<Self, EventError>;

    /// The argument names and Zeek types, for schemas.
    fn arg_types() -> Vec<(&'static str, ZeekType)>;

    /// The Zeek event message (no metadata).
    fn to_event(&self) -> zeek::Event {
        zeek::Event::new(Self::NAME, self.to_args())
    }

    /// The Zeek event message, consuming the event.
    fn into_event(self) -> zeek::Event {
        zeek::Event::new(Self::NAME, self.into_args())
    }

    /// The event from a Zeek event message, checking its name.
    fn from_event(event: &zeek::Event) -> Result<Self, EventError> {
        if event.name != Self::NAME {
            return Err(EventError::WrongName {
                event: Self::NAME,
                found: event.name.clone(),
            });
        }
        Self::from_args(&event.args)
    }
}

/// Why received arguments do not make a typed event (the error event raised
/// for it has [`ErrorCode::TypeClash`](crate::status::ErrorCode::TypeClash)).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The number of arguments is not the event's.
    #[error("event {event}: expected {expected} arguments, found {found}")]
    Arity {
        /// The event name.
        event: &'static str,
        /// How many arguments it has.
        expected: usize,
        /// How many arrived.
        found: usize,
    },
    /// An argument does not convert to its field's type.
    #[error("event {event}: argument {index} ({name}): {error}")]
    Argument {
        /// The event name.
        event: &'static str,
        /// The argument's position, from 0.
        index: usize,
        /// The field name.
        name: &'static str,
        /// What was expected and found.
        error: ConversionError,
    },
    /// A message for another event.
    #[error("expected event {event}, found {found}")]
    WrongName {
        /// The expected name.
        event: &'static str,
        /// The name that arrived.
        found: String,
    },
}

/// What a handler is given besides the event: the endpoint that received it
/// and the topic it arrived on.
#[derive(Clone, Debug)]
pub struct Context {
    endpoint: Endpoint,
    topic: Option<Topic>,
}

impl Context {
    /// The endpoint that received the event; publish answers through it.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The topic the event arrived on; `None` for a local
    /// [`raise`](Endpoint::raise).
    pub fn topic(&self) -> Option<&Topic> {
        self.topic.as_ref()
    }

    /// Whether the event was raised on this endpoint rather than received.
    pub fn is_local(&self) -> bool {
        self.topic.is_none()
    }
}

/// What a handler returns: `()`, or a `Result` whose error is logged.
pub trait HandlerOutput {
    /// Reports the outcome of handler `name`.
    fn report(self, name: &'static str);
}

impl HandlerOutput for () {
    fn report(self, _name: &'static str) {}
}

impl<E: std::fmt::Display> HandlerOutput for Result<(), E> {
    fn report(self, name: &'static str) {
        if let Err(error) = self {
            tracing::warn!("handler {name} failed: {error}");
        }
    }
}

/// The future a registered handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
