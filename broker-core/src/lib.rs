//! A typed, Zeek-compatible Broker.
//!
//! Broker is the messaging layer of the Zeek network monitor: endpoints peer
//! over TCP, subscribe to topic prefixes, and exchange events, identifier
//! updates and log records. This crate speaks Broker's wire protocol and data
//! formats, so Rust programs can join Zeek deployments.
//!
//! # The data model
//!
//! Every value is a [`Data`](data::Data), one of Broker's fifteen types.
//! Rust types convert with [`ToData`](data::ToData) and
//! [`FromData`](data::FromData):
//!
//! ```
//! use broker_core::data::{bin, json, Data, FromData, ToData};
//!
//! let args = ("hello", 42u64).to_data();
//! let bytes = bin::encode(&args); // Broker's binary format
//! let back = bin::decode(&bytes).unwrap();
//! assert_eq!(<(String, u64)>::from_data(&back).unwrap(), ("hello".to_owned(), 42));
//! println!("{}", json::to_json_string(&back)); // Zeek's JSON format
//! ```
//!
//! # Zeek messages
//!
//! Events, log messages and identifier updates are vectors of a fixed shape;
//! [`zeek`] converts between those vectors and typed structs.
//!
//! # Endpoints
//!
//! A [`runtime::Endpoint`] listens, peers, subscribes and publishes, with
//! Broker's semantics (prefix subscriptions, forwarding, TLS by default) and
//! bounded queues everywhere. Its methods are `async`; `block_on` serves
//! blocking code.
//!
//! ```
//! use broker_core::prelude::*;
//! use std::time::Duration;
//!
//! let options = Options { disable_ssl: true, ..Options::default() };
//! let (a, b) = (Endpoint::new(options.clone()).unwrap(), Endpoint::new(options).unwrap());
//! a.block_on(async {
//!     let port = a.listen("127.0.0.1", 0).await.unwrap();
//!     let mut inbox = a.subscribe(["/tutorial"]).await.unwrap();
//!     b.peer_and_wait("127.0.0.1", port, Duration::from_secs(1)).await.unwrap();
//!     b.publish("/tutorial/hello", Data::from("world")).await.unwrap();
//!     assert_eq!(inbox.recv().await.unwrap().data, Data::from("world"));
//! });
//! ```
//!
//! # Typed events, handlers and published ids
//!
//! `#[event]` makes a struct a Zeek event, `#[handler]` registers a function
//! that receives it, `#[published_id]` a global that peers keep in step;
//! [`Endpoint::start_handlers`](runtime::Endpoint::start_handlers) puts them
//! to work. Arguments that do not match the Rust types never reach a handler:
//! the endpoint reports a `type_clash` error event instead. See
//! [`typed`] and `docs/macros.md`.
//!
//! ```rust,standalone_crate
//! use broker_core::prelude::*;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! #[event(topic = "/tutorial/events", name = "Tutorial::seen")]
//! struct Seen { host: std::net::IpAddr, count: u64 }
//!
//! static TOTAL: AtomicU64 = AtomicU64::new(0);
//!
//! #[handler]
//! fn on_seen(seen: Seen) {
//!     TOTAL.fetch_add(seen.count, Ordering::SeqCst);
//! }
//!
//! let ep = Endpoint::new(Options { disable_ssl: true, ..Options::default() }).unwrap();
//! ep.block_on(async {
//!     ep.start_handlers().await.unwrap();
//!     ep.raise(Seen { host: "10.0.0.1".parse().unwrap(), count: 3 }).await.unwrap();
//! });
//! assert_eq!(TOTAL.load(Ordering::SeqCst), 3);
//! // The Zeek side's declarations, from the Rust types:
//! let schema = broker_core::typed::Schema::collect().unwrap().to_string();
//! assert!(schema.contains("global Tutorial::seen: event(host: addr, count: count);"));
//! ```
//!
//! # Logs and the WebSocket API
//!
//! [`logs`] ships typed log records (`#[derive(Data, Log)]`) in Zeek's own
//! log format and receives Zeek's logs; [`websocket`] serves Zeek's JSON API
//! at `/v1/messages/json` and connects to it as a client. [`options`] holds
//! every option of Zeek's `Broker::` module; `docs/guide.md` maps that whole
//! API to this crate.
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod data;
pub mod logs;
pub mod options;
pub mod payloads;
pub mod proto;
pub mod runtime;
pub mod status;
pub mod tls;
pub mod topic;
pub mod typed;
pub mod websocket;
pub mod zeek;
pub mod zeromq;

/// Derives [`ToData`](data::ToData) and [`FromData`](data::FromData): a
/// struct becomes a Zeek record (a vector of its fields), a newtype its inner
/// value, an enum of unit variants a Zeek enum value. See `docs/macros.md`.
///
/// ```
/// use broker_core::data::{Data, EnumValue, FromData, ToData};
///
/// #[derive(broker_core::Data, Debug, PartialEq)]
/// #[broker(module = "Notice", rename_all = "SCREAMING_SNAKE_CASE")]
/// enum Action {
///     ActionLog,
///     ActionEmail,
/// }
///
/// #[derive(broker_core::Data, Debug, PartialEq)]
/// struct Info {
///     uid: String,
///     action: Action,
///     note: Option<String>,
/// }
///
/// let info = Info { uid: "C1".into(), action: Action::ActionLog, note: None };
/// let data = info.to_data();
/// assert_eq!(
///     data,
///     Data::Vector(vec![
///         Data::from("C1"),
///         Data::EnumValue(EnumValue::new("Notice::ACTION_LOG")),
///         Data::None,
///     ])
/// );
/// assert_eq!(Info::from_data(&data).unwrap(), info);
/// ```
pub use broker_macros::Data;

/// Derives [`Log`](logs::Log) for a record that also derives `Data`:
/// `#[log(stream = "Conn::LOG", path = "conn")]` names its Zeek log stream
/// and default path. See [`logs`].
pub use broker_macros::Log;

pub use broker_macros::{event, handler, published_id};

/// Generates Rust types from Zeek scripts: for every record and enum a
/// `#[derive(Data)]` type, for every event an `#[event]` struct, in Rust
/// modules named after the Zeek modules. See `docs/macros.md`.
///
/// ```rust,standalone_crate
/// mod zeek {
///     broker_core::zeek_types!("../broker-derive-tests/zeek/site.zeek", topic = "/site");
/// }
///
/// let scan = zeek::site::ScanDetected {
///     src: "10.0.0.1".parse().unwrap(),
///     ports: vec![broker_core::data::Port::new(22, broker_core::data::Protocol::Tcp)],
///     first_seen: broker_core::data::Timestamp::EPOCH,
/// };
/// let level = zeek::site::Level::High; // Site::HIGH
/// # let _ = (scan, level);
/// ```
pub use broker_macros::zeek_types;

/// The Zeek script parser behind the `zeek = "…"` checks,
/// [`typed::check_scripts`] and [`zeek_types!`].
pub use zeek_script;

/// Support for the code that `#[derive(Data)]` generates; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::data::schema::{ConstText, ZeekType, ZeekTypeExpr, ZeekTyped};
    pub use crate::data::{
        ConversionError, ConversionErrorKind, Data, EnumValue, FromData, ToData,
    };
    pub use crate::data::{Port, Set, Subnet, Table, Timespan, Timestamp};
    pub use crate::logs::Log;
    pub use crate::typed::{
        Context, EventError, EventInfo, HandlerFuture, HandlerInfo, HandlerOutput, Published,
        PublishedCell, PublishedInfo, TypedEvent,
    };
    pub use ::core::result::Result;
    pub use ::inventory;
    pub use ::std::boxed::Box;
    pub use ::std::vec::Vec;
    /// `#[derive(Data)]` and `#[event]` for the types `zeek_types!`
    /// generates.
    pub use broker_macros::{Data as DeriveData, event};

    use crate::data::PathSegment;

    /// A registered published id as the registry sees it.
    pub fn published_cell<T: FromData + ToData + Send + Sync>(
        id: &'static Published<T>,
    ) -> &'static dyn PublishedCell {
        id
    }

    /// A `Vec` of `items`.
    pub fn list<T, const N: usize>(items: [T; N]) -> Vec<T> {
        Vec::from(items)
    }

    /// Checks that event `event` got `expected` arguments.
    pub fn check_arity(
        event: &'static str,
        args: &[Data],
        expected: usize,
    ) -> Result<(), EventError> {
        if args.len() == expected {
            Result::Ok(())
        } else {
            Result::Err(EventError::Arity {
                event,
                expected,
                found: args.len(),
            })
        }
    }

    /// Argument `index` (field `name`) of event `event`, converted.
    pub fn arg<T: FromData>(
        event: &'static str,
        args: &[Data],
        index: usize,
        name: &'static str,
    ) -> Result<T, EventError> {
        T::from_data(args.get(index).unwrap_or(&NONE)).map_err(|error| EventError::Argument {
            event,
            index,
            name,
            error,
        })
    }
    use crate::data::schema::{EnumType, RecordField, RecordType};

    /// A field of a record's Zeek type.
    pub fn record_field(name: &str, ty: ZeekType, optional: bool) -> RecordField {
        RecordField {
            name: name.into(),
            ty,
            optional,
        }
    }

    /// A named record type.
    pub fn record_type(name: &str, fields: ::std::vec::Vec<RecordField>) -> ZeekType {
        ZeekType::Record(RecordType {
            name: name.into(),
            fields,
        })
    }

    /// A named enum type.
    pub fn enum_type(name: &str, values: &[&str]) -> ZeekType {
        ZeekType::Enum(EnumType {
            name: name.into(),
            values: values.iter().map(|v| (*v).into()).collect(),
        })
    }

    /// `vector of any`: a fixed-size tuple struct.
    pub fn vector_of_any() -> ZeekType {
        ZeekType::Vector(::std::boxed::Box::new(ZeekType::Any))
    }

    /// The `none` that stands in for a missing trailing record field.
    static NONE: Data = Data::None;

    /// A vector of already converted elements.
    pub fn vector<const N: usize>(items: [Data; N]) -> Data {
        Data::Vector(::std::vec::Vec::from(items))
    }

    /// The elements of a record of `fields` fields, of which the first
    /// `required` must be present (the rest are `Option`s).
    pub fn record(data: &Data, fields: usize, required: usize) -> Result<&[Data], ConversionError> {
        let items = crate::data::expect_vector(data, "vector")?;
        if items.len() < required {
            return Err(ConversionError::new(ConversionErrorKind::WrongLength {
                expected: fields,
                at_least: true,
                found: items.len(),
            }));
        }
        Ok(items)
    }

    /// Record field `index`, named `name`; `none` if it is missing.
    pub fn field<T: FromData>(
        items: &[Data],
        index: usize,
        name: &'static str,
    ) -> Result<T, ConversionError> {
        T::from_data(items.get(index).unwrap_or(&NONE)).map_err(|e| e.at(PathSegment::Field(name)))
    }

    /// The elements of a vector of exactly `len` elements.
    pub fn tuple(data: &Data, len: usize) -> Result<&[Data], ConversionError> {
        let items = crate::data::expect_vector(data, "vector")?;
        if items.len() != len {
            return Err(ConversionError::new(ConversionErrorKind::WrongLength {
                expected: len,
                at_least: false,
                found: items.len(),
            }));
        }
        Ok(items)
    }

    /// Element `index` of a vector checked by [`tuple`].
    pub fn element<T: FromData>(items: &[Data], index: usize) -> Result<T, ConversionError> {
        T::from_data(items.get(index).unwrap_or(&NONE)).map_err(|e| e.at(PathSegment::Index(index)))
    }

    /// The enum value `name`.
    pub fn enum_value(name: &str) -> Data {
        Data::EnumValue(EnumValue::new(name))
    }

    /// The name of an enum value.
    pub fn enum_name(data: &Data) -> Result<&str, ConversionError> {
        match data {
            Data::EnumValue(value) => Ok(value.name()),
            other => Err(ConversionError::type_mismatch("enum value", other)),
        }
    }

    /// An enum name that matches no variant.
    pub fn unknown_variant(name: &str) -> ConversionError {
        ConversionError::new(ConversionErrorKind::UnknownVariant {
            name: name.to_owned(),
        })
    }
}

/// The names most programs need.
pub mod prelude {
    pub use crate::data::{
        Address, ByteString, Data, DataType, EnumValue, FromData, Port, Protocol, Subnet, Timespan,
        Timestamp, ToData, ZeekTyped,
    };
    pub use crate::options::Options;
    pub use crate::runtime::Endpoint;
    pub use crate::topic::Topic;
    pub use crate::typed::{Context, Published, TypedEvent};
    pub use crate::zeek::Event;
    /// `#[derive(Data)]`, next to the `Data` type (as serde's derives sit
    /// next to its traits).
    pub use broker_macros::Data;
    /// The typed-event attributes.
    pub use broker_macros::{event, handler, published_id};
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The guide's examples, compiled (and run where they can) as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide.md")]
pub struct GuideDoctests;

/// The macro guide's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/macros.md")]
pub struct MacrosDoctests;
