//! The typed layer's endpoint methods and the dispatcher task.
//!
//! The dispatcher is one task per endpoint, reading one subscriber on every
//! registered handler's and published id's topic. Handlers of a message run
//! one after another, in arrival order, on the dispatcher task; a panicking
//! handler loses only its own call (the panic is caught and logged).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::FutureExt as _;

use super::registry::Registry;
use super::{Context, EventError, Published, RegistryError, TypedEvent};
use crate::data::{Data, ToData};
use crate::runtime::{Endpoint, Message};
use crate::runtime::{EndpointError, EndpointInfo, ErrorEvent, Subscriber, WeakEndpoint};
use crate::status::ErrorCode;
use crate::topic::{IntoTopic, Topic};
use crate::zeek;

/// Why a typed operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TypedError {
    /// The registry holds duplicate names.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The endpoint failed.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// A `Published` value without `#[published_id]` has no name to publish.
    #[error("this Published value is not registered with #[published_id]")]
    Unregistered,
}

/// Per-endpoint state of the typed layer.
#[derive(Default)]
struct TypedState {
    started: AtomicBool,
    /// Auto-publish topics by event name; an event not in the map publishes
    /// on its own topic.
    auto_publish: Mutex<HashMap<&'static str, Vec<Topic>>>,
}

impl TypedState {
    fn topics<E: TypedEvent>(&self) -> Result<Vec<Topic>, EndpointError> {
        let map = self
            .auto_publish
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(E::NAME) {
            Some(topics) => Ok(topics.clone()),
            None => Ok(vec![E::TOPIC.into_topic()?]),
        }
    }

    fn edit<E: TypedEvent, R>(
        &self,
        edit: impl FnOnce(&mut Vec<Topic>) -> R,
    ) -> Result<R, EndpointError> {
        let default = E::TOPIC.into_topic()?;
        let mut map = self
            .auto_publish
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(edit(map.entry(E::NAME).or_insert_with(|| vec![default])))
    }
}

impl Endpoint {
    fn typed_state(&self) -> std::sync::Arc<TypedState> {
        self.extension(TypedState::default)
    }

    /// Starts dispatching to the `#[handler]` functions and
    /// `#[published_id]` statics of the program: checks the registry for
    /// duplicate names, subscribes to their topics and starts the dispatcher.
    /// Calling it again does nothing.
    ///
    /// An event that does not convert to the handler's type (wrong number
    /// of arguments, wrong types, a non-UTF-8 `String`) is not handled; an
    /// error event with [`ErrorCode::TypeClash`] names the event, the
    /// argument and both types.
    pub async fn start_handlers(&self) -> Result<(), TypedError> {
        let registry = Registry::get()?;
        self.start_dispatch(registry, registry.topics()).await
    }

    /// Like [`Endpoint::start_handlers`], but subscribes to `prefixes` only:
    /// for a program whose processes play different roles (a Zeek cluster's
    /// manager, logger, workers), each receives what its role is for, and
    /// handlers of events on other topics stay idle. Published ids are
    /// updated only if their topic is among `prefixes`.
    pub async fn start_handlers_on<T: IntoTopic>(
        &self,
        prefixes: impl IntoIterator<Item = T>,
    ) -> Result<(), TypedError> {
        let registry = Registry::get()?;
        self.start_dispatch(registry, prefixes.into_iter().collect())
            .await
    }

    async fn start_dispatch<T: IntoTopic>(
        &self,
        registry: &'static Registry,
        topics: Vec<T>,
    ) -> Result<(), TypedError> {
        let state = self.typed_state();
        if state.started.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        if topics.is_empty() {
            return Ok(());
        }
        let subscriber = match self.subscribe(topics).await {
            Ok(subscriber) => subscriber,
            Err(e) => {
                state.started.store(false, Ordering::Release);
                return Err(e.into());
            }
        };
        self.runtime_handle()
            .spawn(run(self.downgrade(), subscriber, registry));
        Ok(())
    }

    /// Raises `event` locally: publishes it on its auto-publish topics (its
    /// `#[event(topic)]` unless changed with [`Endpoint::auto_publish`] and
    /// [`Endpoint::auto_unpublish`]), then calls this endpoint's handlers of
    /// it.
    pub async fn raise<E: TypedEvent>(&self, event: E) -> Result<(), TypedError> {
        let registry = Registry::get()?;
        let topics = self.typed_state().topics::<E>()?;
        let has_handlers = registry.handlers.contains_key(E::NAME);
        let args = event.into_args();
        if let Some((last, rest)) = topics.split_last() {
            let data = zeek::Event::new(E::NAME, args.clone()).into_data();
            for topic in rest {
                self.publish(topic, data.clone()).await?;
            }
            self.publish(last, data).await?;
        }
        if has_handlers {
            dispatch_event(self, registry, None, E::NAME, &args).await;
        }
        Ok(())
    }

    /// Publishes `event` on its `#[event(topic)]`.
    pub async fn publish_event<E: TypedEvent>(&self, event: &E) -> Result<(), EndpointError> {
        self.publish(E::TOPIC, event.to_event().into_data()).await
    }

    /// Publishes `event` on `topic`.
    pub async fn publish_event_to<E: TypedEvent>(
        &self,
        topic: impl IntoTopic,
        event: &E,
    ) -> Result<(), EndpointError> {
        self.publish(topic, event.to_event().into_data()).await
    }

    /// Also publishes `E` on `topic` when it is raised locally. Returns
    /// whether the topic was new for `E`.
    pub fn auto_publish<E: TypedEvent>(
        &self,
        topic: impl IntoTopic,
    ) -> Result<bool, EndpointError> {
        let topic = topic.into_topic()?;
        self.typed_state().edit::<E, _>(|topics| {
            let new = !topics.contains(&topic);
            if new {
                topics.push(topic);
            }
            new
        })
    }

    /// Stops publishing `E` on `topic` when it is raised locally (also its
    /// own `#[event(topic)]`). Returns whether it was published there.
    pub fn auto_unpublish<E: TypedEvent>(
        &self,
        topic: impl IntoTopic,
    ) -> Result<bool, EndpointError> {
        let topic = topic.into_topic()?;
        self.typed_state().edit::<E, _>(|topics| {
            let before = topics.len();
            topics.retain(|t| *t != topic);
            topics.len() != before
        })
    }

    /// Publishes the current value of `id` to the peers as an
    /// `IdentifierUpdate` on its topic (Zeek's `Broker::publish_id`).
    pub async fn publish_id<T: ToData>(&self, id: &Published<T>) -> Result<(), TypedError> {
        let (Some(name), Some(topic)) = (id.name(), id.topic()) else {
            return Err(TypedError::Unregistered);
        };
        let value = id.read(ToData::to_data);
        let update = zeek::Message::IdentifierUpdate(zeek::IdentifierUpdate {
            name: name.to_owned(),
            value,
        });
        self.publish(topic, update.into_data()).await?;
        Ok(())
    }
}

/// The dispatcher: until the endpoint goes away.
async fn run(endpoint: WeakEndpoint, mut subscriber: Subscriber, registry: &'static Registry) {
    while let Some(Message { topic, data }) = subscriber.recv().await {
        let Some(endpoint) = endpoint.upgrade() else {
            break;
        };
        let message = match zeek::Message::from_data(&data) {
            Ok(message) => message,
            Err(e) => {
                tracing::debug!("ignoring a message on {topic} that is not a Zeek message: {e}");
                continue;
            }
        };
        // A batch is dispatched element by element, in order.
        let mut pending = vec![message];
        while let Some(message) = pending.pop() {
            match message {
                zeek::Message::Event(event) => {
                    dispatch_event(
                        &endpoint,
                        registry,
                        Some(topic.clone()),
                        &event.name,
                        &event.args,
                    )
                    .await;
                }
                zeek::Message::IdentifierUpdate(update) => {
                    update_id(&endpoint, registry, &update.name, &update.value);
                }
                zeek::Message::Batch(batch) => pending.extend(batch.0.into_iter().rev()),
                zeek::Message::LogCreate(_) | zeek::Message::LogWrite(_) => {}
            }
        }
    }
}

/// Calls every handler of event `name`, in order; reports a type clash
/// (once) instead if the arguments do not convert.
async fn dispatch_event(
    endpoint: &Endpoint,
    registry: &Registry,
    topic: Option<Topic>,
    name: &str,
    args: &[Data],
) {
    let Some(handlers) = registry.handlers.get(name) else {
        return;
    };
    let context = Context {
        endpoint: endpoint.clone(),
        topic,
    };
    for handler in handlers {
        match (handler.invoke)(context.clone(), args) {
            Ok(call) => {
                // A panicking handler loses its own call only; the
                // dispatcher goes on with the next.
                if let Err(panic) = AssertUnwindSafe(call).catch_unwind().await {
                    let text = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    tracing::error!("handler {} panicked: {text}", handler.name);
                }
            }
            Err(error) => {
                type_clash(endpoint, &error);
                return;
            }
        }
    }
}

/// Sets a registered published id from a received update.
fn update_id(endpoint: &Endpoint, registry: &Registry, name: &str, value: &Data) {
    let Some(info) = registry.ids.get(name) else {
        return;
    };
    if let Err(error) = (info.cell)().update(value) {
        endpoint.report_error(ErrorEvent {
            code: ErrorCode::TypeClash,
            endpoint: EndpointInfo::default(),
            message: format!("identifier {name}: {error}"),
        });
    }
}

fn type_clash(endpoint: &Endpoint, error: &EventError) {
    tracing::debug!("type clash: {error}");
    endpoint.report_error(ErrorEvent {
        code: ErrorCode::TypeClash,
        endpoint: EndpointInfo::default(),
        message: error.to_string(),
    });
}
