//! [`Published<T>`]: a global value that peers update (`Broker::publish_id`).

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::registry::PublishedCell;
use crate::data::{ConversionError, Data, FromData, ToData};

/// A global value kept in step across endpoints, declared with
/// `#[published_id(topic = "…")]` on a `static`:
///
/// ```
/// use broker_core::prelude::*;
///
/// #[published_id(topic = "/config", name = "Example::threshold")]
/// static SCAN_THRESHOLD: Published<u64> = Published::new(25);
///
/// assert_eq!(SCAN_THRESHOLD.get(), 25);
/// assert_eq!(SCAN_THRESHOLD.name(), Some("Example::threshold"));
/// ```
///
/// [`Endpoint::publish_id`](crate::runtime::Endpoint::publish_id) sends the
/// current value to the peers as an `IdentifierUpdate`; an endpoint that
/// started its handlers sets its own value when an update for the same name
/// arrives. Reads take a read lock that writers hold only to swap the value,
/// so they are cheap and never wait on the network.
#[derive(Debug)]
pub struct Published<T> {
    value: RwLock<T>,
    version: AtomicU64,
    id: Option<(&'static str, &'static str)>,
}

impl<T> Published<T> {
    /// A value that is not registered yet (the macro registers it).
    pub const fn new(value: T) -> Published<T> {
        Published {
            value: RwLock::new(value),
            version: AtomicU64::new(0),
            id: None,
        }
    }

    /// The same value registered as identifier `name` on `topic` (used by
    /// `#[published_id]`).
    #[doc(hidden)]
    pub const fn with_id(mut self, name: &'static str, topic: &'static str) -> Published<T> {
        self.id = Some((name, topic));
        self
    }

    /// The identifier name, once registered.
    pub fn name(&self) -> Option<&'static str> {
        self.id.map(|(name, _)| name)
    }

    /// The topic updates are published on, once registered.
    pub fn topic(&self) -> Option<&'static str> {
        self.id.map(|(_, topic)| topic)
    }

    /// A copy of the current value.
    pub fn get(&self) -> T
    where
        T: Clone,
    {
        self.read(T::clone)
    }

    /// Calls `f` with the current value.
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let guard = self
            .value
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&guard)
    }

    /// Sets the value here only; publish it with
    /// [`Endpoint::publish_id`](crate::runtime::Endpoint::publish_id).
    pub fn set(&self, value: T) {
        let old = {
            let mut guard = self
                .value
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            std::mem::replace(&mut *guard, value)
        };
        self.version.fetch_add(1, Ordering::Release);
        drop(old);
    }

    /// How many times the value has been set (locally or by an update).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }
}

impl<T: FromData + ToData + Send + Sync> PublishedCell for Published<T> {
    fn update(&self, data: &Data) -> Result<(), ConversionError> {
        self.set(T::from_data(data)?);
        Ok(())
    }

    fn current(&self) -> Data {
        self.read(ToData::to_data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static VALUE: Published<u64> = Published::new(1).with_id("Site::v", "/ids");

    #[test]
    fn updates_convert_and_count_versions() {
        assert_eq!(VALUE.get(), 1);
        assert_eq!(VALUE.name(), Some("Site::v"));
        VALUE.update(&Data::Count(5)).unwrap();
        assert_eq!(VALUE.get(), 5);
        let err = VALUE.update(&Data::from("x")).unwrap_err();
        assert_eq!(err.to_string(), "expected count, found string");
        assert_eq!(VALUE.get(), 5);
        assert_eq!(VALUE.version(), 1);
        assert_eq!(VALUE.current(), Data::Count(5));
    }
}
