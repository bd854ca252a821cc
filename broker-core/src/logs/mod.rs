//! Log streams: typed log records shipped to and from Zeek.
//!
//! Zeek ships logs over Broker in two messages: a
//! [`LogCreate`](crate::zeek::LogCreate) announces a stream's columns, and
//! [`LogWrite`](crate::zeek::LogWrite)s carry one record each, serialized in
//! Zeek's own binary format ([`encode_record`], [`decode_record`]; see
//! `docs/zeek-log-format.md`). Writes are batched per stream and topic.
//!
//! A log record is a struct deriving [`Data`](crate::Data) and
//! [`Log`](crate::Log):
//!
//! ```
//! use broker_core::data::{Port, Timestamp};
//! use broker_core::logs::{LogSubscriber, Logger, TypedLogSubscriber};
//! use broker_core::options::Options;
//! use broker_core::runtime::Endpoint;
//! use std::net::IpAddr;
//! use std::time::Duration;
//!
//! #[derive(broker_core::Data, Clone, Debug, PartialEq)]
//! #[broker(name = "conn_id")]
//! struct ConnId { orig_h: IpAddr, orig_p: Port, resp_h: IpAddr, resp_p: Port }
//!
//! #[derive(broker_core::Data, broker_core::Log, Clone, Debug, PartialEq)]
//! #[broker(name = "Conn::Info")]
//! #[log(stream = "Conn::LOG", path = "conn")]
//! struct Conn { ts: Timestamp, uid: String, id: ConnId, service: Option<String> }
//!
//! let options = Options { disable_ssl: true, ..Options::default() };
//! let zeek = Endpoint::new(options.clone()).unwrap();
//! let sensor = Endpoint::new(options).unwrap();
//! zeek.block_on(async {
//!     let port = zeek.listen("127.0.0.1", 0).await.unwrap();
//!     let mut conns = TypedLogSubscriber::<Conn>::new(&zeek).await.unwrap();
//!     sensor.peer_and_wait("127.0.0.1", port, Duration::from_secs(1)).await.unwrap();
//!     zeek.await_peer(sensor.node_id(), Duration::from_secs(5)).await.unwrap();
//!
//!     let logger = Logger::new(&sensor).await.unwrap();
//!     let stream = logger.stream::<Conn>().unwrap();
//!     let conn = Conn {
//!         ts: Timestamp::from_nanos(1_700_000_000_000_000_000),
//!         uid: "CHhAvVGS1DHFjwGM9".into(),
//!         id: ConnId {
//!             orig_h: "10.0.0.1".parse().unwrap(),
//!             orig_p: "49152/tcp".parse().unwrap(),
//!             resp_h: "10.0.0.2".parse().unwrap(),
//!             resp_p: "80/tcp".parse().unwrap(),
//!         },
//!         service: None,
//!     };
//!     stream.write(&conn).await.unwrap();
//!     assert_eq!(logger.flush_logs().await.unwrap(), 1);
//!     assert_eq!(conns.recv().await.unwrap().unwrap(), conn);
//! });
//! ```
//!
//! Behaviour follows Zeek's Broker manager: a stream's `LogCreate` goes to
//! `default_log_topic_prefix` + stream id when the stream writes its first
//! record and again whenever a peer is added; writes go to
//! [`Options::log_topic`](crate::options::Options::log_topic), batched until
//! `log_batch_size` records of the stream are pending or `log_batch_interval`
//! passed, or [`Logger::flush_logs`] is called. While the endpoint has no
//! peers, records are dropped, as Zeek drops them.

pub(crate) mod format;
mod reader;
mod schema;
pub(crate) mod writer;

pub use format::{
    DecodeError, DecodeErrorKind, EncodeError, LogValue, MAX_DEPTH, TypeTag, decode_record,
    encode_record,
};
pub use reader::{
    LogRow, LogSubscriber, MAX_FIELDS, MAX_REMEMBERED_FIELDS, MAX_STREAMS, TypedLogSubscriber,
};
pub use schema::{Column, SchemaError, ValueError, columns, log_fields, to_log_value};
pub use writer::{LogStream, Logger, RawLogStream};

use crate::data::schema::ZeekTyped;
use crate::data::{ConversionError, FromData, ToData};
use crate::runtime::EndpointError;
use crate::topic::TopicError;
use crate::zeek::MessageError;

/// A Rust record that is a Zeek log record: its stream id and default path.
///
/// Derive it with `#[derive(broker_core::Data, broker_core::Log)]` and
/// `#[log(stream = "Conn::LOG", path = "conn")]`; the columns come from the
/// record's [`ZeekTyped`] type (nested records flattened with dots).
pub trait Log: ToData + FromData + ZeekTyped {
    /// The stream id, a value of Zeek's `Log::ID` enum, e.g. `Conn::LOG`.
    const STREAM: &'static str;
    /// The default path (the file name for Zeek's ASCII writer), e.g. `conn`.
    const PATH: &'static str;
}

/// Zeek's default log writer, `Log::WRITER_ASCII`.
pub const WRITER_ASCII: &str = "Log::WRITER_ASCII";

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The record type cannot be logged.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// A record could not be serialized.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A received record is not valid Zeek serialization.
    #[error("stream {stream}: {source}")]
    Decode {
        /// The stream id.
        stream: String,
        /// What is wrong.
        source: DecodeError,
    },
    /// A received message is not a valid Zeek message.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// A value does not fit its column.
    #[error("column {column}: {source}")]
    Value {
        /// The column name.
        column: String,
        /// What is wrong.
        source: ValueError,
    },
    /// The log topic is not a valid topic.
    #[error(transparent)]
    Topic(#[from] TopicError),
    /// The endpoint failed (or has shut down).
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The record has another number of columns than the stream.
    #[error("stream {stream}: expected {expected} columns, found {found}")]
    ColumnCount {
        /// The stream id.
        stream: String,
        /// Columns expected.
        expected: usize,
        /// Columns found.
        found: usize,
    },
    /// A column has another type than the Rust field.
    #[error("stream {stream}: column {column} is {found}, expected {expected}")]
    ColumnType {
        /// The stream id.
        stream: String,
        /// The column name.
        column: String,
        /// The expected type (tag, and element tag of a container).
        expected: String,
        /// The type found.
        found: String,
    },
    /// A required column is not in the stream.
    #[error("stream {stream}: no column {column}")]
    MissingColumn {
        /// The stream id.
        stream: String,
        /// The column name.
        column: String,
    },
    /// A subscriber already remembers [`MAX_STREAMS`] streams and paths.
    #[error("stream {stream} at path {path}: more than {MAX_STREAMS} streams announced")]
    TooManyStreams {
        /// The stream id.
        stream: String,
        /// The path.
        path: String,
    },
    /// A `LogCreate` announces more than [`MAX_FIELDS`] columns, or
    /// more than the subscriber can remember in all.
    #[error("stream {stream} at path {path}: {fields} columns are more than a subscriber keeps")]
    TooManyFields {
        /// The stream id.
        stream: String,
        /// The path.
        path: String,
        /// The columns announced.
        fields: usize,
    },
    /// The values do not convert to the Rust type.
    #[error("stream {stream}: {source}")]
    Convert {
        /// The stream id.
        stream: String,
        /// What is wrong.
        source: ConversionError,
    },
}
