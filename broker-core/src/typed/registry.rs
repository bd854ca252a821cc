//! The program-wide registry the macros fill through `inventory`.
//!
//! Registration happens before `main` (see inventory's docs); the compiler
//! cannot see across crates, so duplicate names are found here, once, when
//! an endpoint first starts its handlers.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use super::{Context, EventError, HandlerFuture};
use crate::data::{ConversionError, Data, ZeekType};

/// An `#[event]` type (registered by the macro).
#[derive(Debug)]
pub struct EventInfo {
    /// The Zeek event name.
    pub name: &'static str,
    /// Its topic.
    pub topic: &'static str,
    /// The Rust type, as written with its module path.
    pub rust_type: &'static str,
    /// The argument names and types.
    pub args: fn() -> Vec<(&'static str, ZeekType)>,
}

/// A `#[handler]` function (registered by the macro).
#[derive(Debug)]
pub struct HandlerInfo {
    /// The name of the event it handles.
    pub event: &'static str,
    /// The topic prefix it subscribes to.
    pub topic: &'static str,
    /// The function, with its module path.
    pub name: &'static str,
    /// Converts the arguments and returns the call.
    pub invoke: fn(Context, &[Data]) -> Result<HandlerFuture, EventError>,
}

/// A value a received `IdentifierUpdate` can update.
pub trait PublishedCell: Sync {
    /// Sets the value from `data`, or says why it does not convert.
    fn update(&self, data: &Data) -> Result<(), ConversionError>;
    /// The current value.
    fn current(&self) -> Data;
}

/// A `#[published_id]` static (registered by the macro).
pub struct PublishedInfo {
    /// The Zeek identifier name.
    pub name: &'static str,
    /// The topic updates are published on.
    pub topic: &'static str,
    /// The static, with its module path.
    pub rust_path: &'static str,
    /// The static itself.
    pub cell: fn() -> &'static dyn PublishedCell,
    /// Its Zeek type.
    pub zeek_type: fn() -> ZeekType,
}

impl std::fmt::Debug for PublishedInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishedInfo")
            .field("name", &self.name)
            .field("topic", &self.topic)
            .field("rust_path", &self.rust_path)
            .finish()
    }
}

inventory::collect!(EventInfo);
inventory::collect!(HandlerInfo);
inventory::collect!(PublishedInfo);

/// Two registrations that claim the same name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two event types with one Zeek name.
    #[error("duplicate event name {name}: declared by {first} and {second}")]
    DuplicateEvent {
        /// The event name.
        name: &'static str,
        /// One Rust type.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// Two published statics with one identifier name.
    #[error("duplicate published id {name}: declared by {first} and {second}")]
    DuplicateId {
        /// The identifier.
        name: &'static str,
        /// One static.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
}

/// Everything registered, indexed.
#[derive(Debug)]
pub(crate) struct Registry {
    /// Events by name.
    pub(crate) events: BTreeMap<&'static str, &'static EventInfo>,
    /// Handlers by event name, in a stable order (by function name).
    pub(crate) handlers: HashMap<&'static str, Vec<&'static HandlerInfo>>,
    /// Published ids by name.
    pub(crate) ids: BTreeMap<&'static str, &'static PublishedInfo>,
}

impl Registry {
    /// The registry of this program, checked once.
    pub(crate) fn get() -> Result<&'static Registry, RegistryError> {
        static REGISTRY: OnceLock<Result<Registry, RegistryError>> = OnceLock::new();
        REGISTRY
            .get_or_init(|| {
                Registry::build(
                    inventory::iter::<EventInfo>(),
                    inventory::iter::<HandlerInfo>(),
                    inventory::iter::<PublishedInfo>(),
                )
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn build(
        events: impl IntoIterator<Item = &'static EventInfo>,
        handlers: impl IntoIterator<Item = &'static HandlerInfo>,
        ids: impl IntoIterator<Item = &'static PublishedInfo>,
    ) -> Result<Registry, RegistryError> {
        let mut registry = Registry {
            events: BTreeMap::new(),
            handlers: HashMap::new(),
            ids: BTreeMap::new(),
        };
        // Sorted first so that the error names the same pair every run.
        let mut events: Vec<_> = events.into_iter().collect();
        events.sort_by_key(|e| (e.name, e.rust_type));
        for event in events {
            if let Some(first) = registry.events.insert(event.name, event) {
                return Err(RegistryError::DuplicateEvent {
                    name: event.name,
                    first: first.rust_type,
                    second: event.rust_type,
                });
            }
        }
        let mut ids: Vec<_> = ids.into_iter().collect();
        ids.sort_by_key(|i| (i.name, i.rust_path));
        for id in ids {
            if let Some(first) = registry.ids.insert(id.name, id) {
                return Err(RegistryError::DuplicateId {
                    name: id.name,
                    first: first.rust_path,
                    second: id.rust_path,
                });
            }
        }
        for handler in handlers {
            registry
                .handlers
                .entry(handler.event)
                .or_default()
                .push(handler);
        }
        for list in registry.handlers.values_mut() {
            list.sort_by_key(|h| h.name);
        }
        Ok(registry)
    }

    /// The topic prefixes to subscribe to: every handler's and every
    /// published id's, without duplicates.
    pub(crate) fn topics(&self) -> Vec<&'static str> {
        let mut topics: Vec<&'static str> = self
            .handlers
            .values()
            .flatten()
            .map(|h| h.topic)
            .chain(self.ids.values().map(|i| i.topic))
            .collect();
        topics.sort_unstable();
        topics.dedup();
        topics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_args() -> Vec<(&'static str, ZeekType)> {
        Vec::new()
    }

    static A: EventInfo = EventInfo {
        name: "M::e",
        topic: "/t",
        rust_type: "a::E",
        args: no_args,
    };
    static B: EventInfo = EventInfo {
        name: "M::e",
        topic: "/u",
        rust_type: "b::E",
        args: no_args,
    };
    static C: EventInfo = EventInfo {
        name: "M::f",
        topic: "/u",
        rust_type: "c::F",
        args: no_args,
    };

    #[test]
    fn duplicate_event_names_are_reported_with_both_types() {
        let err = Registry::build([&B, &C, &A], [], []).unwrap_err();
        assert_eq!(
            err.to_string(),
            "duplicate event name M::e: declared by a::E and b::E"
        );
        let ok = Registry::build([&A, &C], [], []).unwrap();
        assert_eq!(ok.events.len(), 2);
    }

    struct Cell;
    impl PublishedCell for Cell {
        fn update(&self, _: &Data) -> Result<(), ConversionError> {
            Ok(())
        }
        fn current(&self) -> Data {
            Data::None
        }
    }
    static CELL: Cell = Cell;
    fn cell() -> &'static dyn PublishedCell {
        &CELL
    }
    static X: PublishedInfo = PublishedInfo {
        name: "Site::x",
        topic: "/ids",
        rust_path: "a::X",
        cell,
        zeek_type: || ZeekType::Count,
    };
    static Y: PublishedInfo = PublishedInfo {
        name: "Site::x",
        topic: "/ids",
        rust_path: "b::Y",
        cell,
        zeek_type: || ZeekType::Count,
    };

    #[test]
    fn duplicate_published_ids_are_reported() {
        let err = Registry::build([], [], [&Y, &X]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "duplicate published id Site::x: declared by a::X and b::Y"
        );
    }

    #[test]
    fn topics_are_deduplicated() {
        let registry = Registry::build([], [], [&X]).unwrap();
        assert_eq!(registry.topics(), vec!["/ids"]);
    }
}
