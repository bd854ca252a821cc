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
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod data;
pub mod options;
pub mod payloads;
pub mod proto;
pub mod runtime;
pub mod status;
pub mod tls;
pub mod topic;
pub mod zeek;

/// The names most programs need.
pub mod prelude {
    pub use crate::data::{
        Address, ByteString, Data, DataType, EnumValue, FromData, Port, Protocol, Subnet, Timespan,
        Timestamp, ToData,
    };
    pub use crate::topic::Topic;
    pub use crate::zeek::Event;
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
