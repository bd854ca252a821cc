//! Zeek's message layer: events, log messages, identifier updates, batches.
//!
//! Every Zeek message is a Broker vector `[version, type, content]` with
//! version 1 and `content` a vector whose layout depends on the type:
//!
//! | type | content |
//! |---|---|
//! | 1 [`Event`] | `[name, args, metadata?]` |
//! | 2 [`LogCreate`] | `[stream_id, writer_id, writer_info, fields]` |
//! | 3 [`LogWrite`] | `[stream_id, writer_id, path, serial_data]` |
//! | 4 [`IdentifierUpdate`] | `[id_name, value]` |
//! | 5 [`Batch`] | `[message, …]` |
//!
//! ```
//! use broker_core::data::{bin, Data};
//! use broker_core::zeek::{Event, Message};
//!
//! let ping = Event::new("ping", vec![Data::from("hi")]);
//! let data = Message::Event(ping.clone()).into_data();
//! assert_eq!(data.to_string(), "(1, 1, (ping, (hi)))");
//! assert_eq!(bin::encode(&data).len(), 34);
//! assert_eq!(Message::from_data(&data).unwrap(), Message::Event(ping));
//! ```

use std::collections::BTreeMap;

use crate::data::{
    ByteString, ConversionError, ConversionErrorKind, Data, DataType, EnumValue, FromData,
    PathSegment, Timestamp, ToData,
};

/// The version number at the start of every Zeek message.
pub const PROTOCOL_VERSION: u64 = 1;

/// The metadata key of the network timestamp (its value is a timestamp).
pub const METADATA_NETWORK_TIMESTAMP: u64 = 1;

/// The first metadata key free for users (1–199 are reserved for Zeek).
pub const METADATA_FIRST_USER_KEY: u64 = 200;

/// The type number of a Zeek message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// An event.
    Event = 1,
    /// The start of a log stream.
    LogCreate = 2,
    /// A batch of log records.
    LogWrite = 3,
    /// A new value of a global identifier.
    IdentifierUpdate = 4,
    /// Several messages in one.
    Batch = 5,
}

impl MessageType {
    fn from_u64(n: u64) -> Option<MessageType> {
        match n {
            1 => Some(MessageType::Event),
            2 => Some(MessageType::LogCreate),
            3 => Some(MessageType::LogWrite),
            4 => Some(MessageType::IdentifierUpdate),
            5 => Some(MessageType::Batch),
            _ => None,
        }
    }
}

/// A Zeek message.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// An event.
    Event(Event),
    /// The start of a log stream.
    LogCreate(LogCreate),
    /// A batch of log records.
    LogWrite(LogWrite),
    /// A new value of a global identifier.
    IdentifierUpdate(IdentifierUpdate),
    /// Several messages in one.
    Batch(Batch),
}

/// Why a value is not a valid Zeek message.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The value is not a vector `[version, type, content]`.
    #[error("a Zeek message is a vector [version, type, content], found {0}")]
    NotAMessage(DataType),
    /// The version is not 1.
    #[error("unsupported Zeek message version {0}")]
    UnsupportedVersion(u64),
    /// The type number is not 1 to 5.
    #[error("unknown Zeek message type {0}")]
    UnknownType(u64),
    /// The content does not have the layout of its type.
    #[error("invalid {message_type:?} content: {source}")]
    InvalidContent {
        /// The message type.
        message_type: MessageType,
        /// What is wrong, with the path into the content.
        source: ConversionError,
    },
    /// An event's metadata is malformed.
    #[error("invalid event metadata: {0}")]
    InvalidMetadata(String),
}

impl ToData for Message {
    fn to_data(&self) -> Data {
        self.clone().into_data()
    }

    fn into_data(self) -> Data {
        Message::into_data(self)
    }
}

impl ToData for Event {
    fn to_data(&self) -> Data {
        self.clone().into_data()
    }

    fn into_data(self) -> Data {
        Event::into_data(self)
    }
}

impl Message {
    /// The message type.
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Event(_) => MessageType::Event,
            Message::LogCreate(_) => MessageType::LogCreate,
            Message::LogWrite(_) => MessageType::LogWrite,
            Message::IdentifierUpdate(_) => MessageType::IdentifierUpdate,
            Message::Batch(_) => MessageType::Batch,
        }
    }

    /// The message as the Broker value `[1, type, content]`.
    pub fn into_data(self) -> Data {
        let message_type = self.message_type();
        let content = match self {
            Message::Event(e) => e.content(),
            Message::LogCreate(l) => l.content(),
            Message::LogWrite(l) => l.content(),
            Message::IdentifierUpdate(u) => Data::Vector(vec![Data::from(u.name), u.value]),
            Message::Batch(b) => Data::Vector(b.0.into_iter().map(Message::into_data).collect()),
        };
        Data::Vector(vec![
            Data::Count(PROTOCOL_VERSION),
            Data::Count(message_type as u64),
            content,
        ])
    }

    /// The message a Broker value holds, validated.
    pub fn from_data(data: &Data) -> Result<Message, MessageError> {
        let Data::Vector(parts) = data else {
            return Err(MessageError::NotAMessage(data.data_type()));
        };
        let [Data::Count(version), Data::Count(kind), content] = parts.as_slice() else {
            return Err(MessageError::NotAMessage(DataType::Vector));
        };
        if *version != PROTOCOL_VERSION {
            return Err(MessageError::UnsupportedVersion(*version));
        }
        let message_type = MessageType::from_u64(*kind).ok_or(MessageError::UnknownType(*kind))?;
        let invalid = |source| MessageError::InvalidContent {
            message_type,
            source,
        };
        match message_type {
            MessageType::Event => Event::from_content(content).map(Message::Event),
            MessageType::LogCreate => LogCreate::from_content(content)
                .map(Message::LogCreate)
                .map_err(invalid),
            MessageType::LogWrite => LogWrite::from_content(content)
                .map(Message::LogWrite)
                .map_err(invalid),
            MessageType::IdentifierUpdate => {
                let (name, value) = <(String, Data)>::from_data(content).map_err(invalid)?;
                Ok(Message::IdentifierUpdate(IdentifierUpdate { name, value }))
            }
            MessageType::Batch => {
                let items = crate::data::expect_vector(content, "vector").map_err(invalid)?;
                items
                    .iter()
                    .map(Message::from_data)
                    .collect::<Result<_, _>>()
                    .map(|messages| Message::Batch(Batch(messages)))
            }
        }
    }
}

/// A Zeek event: a name, positional arguments, and optional metadata.
///
/// `metadata` is `None` when the message has no metadata element and
/// `Some(vec![])` when it has an empty one; both occur in practice (Zeek 8
/// sends either) and both are kept as they came.
///
/// An event is [`ToData`], so it can be published as it is:
///
/// ```
/// use broker_core::data::{Data, ToData};
/// use broker_core::zeek::{Event, Message};
///
/// let event = Event::new("Demo::ping", vec![Data::Count(42), Data::from("hi")]);
/// // endpoint.publish("zeek/events", event).await? sends exactly this value:
/// let value = event.to_data();
/// assert_eq!(Message::from_data(&value), Ok(Message::Event(event)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The event name, e.g. `Cluster::hello`.
    pub name: String,
    /// The arguments, in declaration order.
    pub args: Vec<Data>,
    /// `[key, value]` pairs; key 1 is the network timestamp.
    pub metadata: Option<Vec<(u64, Data)>>,
}

impl Event {
    /// An event without metadata.
    pub fn new(name: impl Into<String>, args: Vec<Data>) -> Event {
        Event {
            name: name.into(),
            args,
            metadata: None,
        }
    }

    /// The same event with its network timestamp set (replacing any other).
    pub fn with_network_timestamp(mut self, ts: Timestamp) -> Event {
        let metadata = self.metadata.get_or_insert_with(Vec::new);
        metadata.retain(|(key, _)| *key != METADATA_NETWORK_TIMESTAMP);
        metadata.insert(0, (METADATA_NETWORK_TIMESTAMP, Data::Timestamp(ts)));
        self
    }

    /// The network timestamp from the metadata, if present.
    pub fn network_timestamp(&self) -> Option<Timestamp> {
        self.metadata
            .iter()
            .flatten()
            .find_map(|(key, value)| match (key, value) {
                (&METADATA_NETWORK_TIMESTAMP, Data::Timestamp(ts)) => Some(*ts),
                _ => None,
            })
    }

    /// The event as the Broker value `[1, 1, [name, args, metadata?]]`.
    pub fn into_data(self) -> Data {
        Message::Event(self).into_data()
    }

    fn content(self) -> Data {
        let mut content = vec![Data::from(self.name), Data::Vector(self.args)];
        if let Some(metadata) = self.metadata {
            content.push(Data::Vector(
                metadata
                    .into_iter()
                    .map(|(key, value)| Data::Vector(vec![Data::Count(key), value]))
                    .collect(),
            ));
        }
        Data::Vector(content)
    }

    fn from_content(content: &Data) -> Result<Event, MessageError> {
        let invalid = |source| MessageError::InvalidContent {
            message_type: MessageType::Event,
            source,
        };
        let parts = crate::data::expect_vector(content, "vector").map_err(invalid)?;
        let (name, args, metadata) = match parts {
            [name, args] => (name, args, None),
            [name, args, metadata] => (name, args, Some(metadata)),
            _ => {
                return Err(invalid(ConversionError::new(
                    ConversionErrorKind::WrongLength {
                        expected: 2,
                        at_least: true,
                        found: parts.len(),
                    },
                )));
            }
        };
        let name =
            String::from_data(name).map_err(|e| invalid(e.at(PathSegment::Field("name"))))?;
        let Data::Vector(args) = args else {
            return Err(invalid(
                ConversionError::type_mismatch("vector", args).at(PathSegment::Field("args")),
            ));
        };
        let metadata = metadata.map(parse_metadata).transpose()?;
        Ok(Event {
            name,
            args: args.clone(),
            metadata,
        })
    }
}

fn parse_metadata(data: &Data) -> Result<Vec<(u64, Data)>, MessageError> {
    let Data::Vector(entries) = data else {
        return Err(MessageError::InvalidMetadata(format!(
            "expected a vector, found {}",
            data.data_type()
        )));
    };
    entries
        .iter()
        .map(|entry| match entry.as_vector().map(Vec::as_slice) {
            Some([Data::Count(METADATA_NETWORK_TIMESTAMP), value]) => match value {
                Data::Timestamp(_) => Ok((METADATA_NETWORK_TIMESTAMP, value.clone())),
                other => Err(MessageError::InvalidMetadata(format!(
                    "network timestamp must be a timestamp, found {}",
                    other.data_type()
                ))),
            },
            Some([Data::Count(key), value]) => Ok((*key, value.clone())),
            _ => Err(MessageError::InvalidMetadata(format!(
                "entry {entry} is not a [count, value] pair"
            ))),
        })
        .collect()
}

/// Zeek's `WriterBackend::WriterInfo`: where and how a log stream is written.
///
/// Equality compares the times as [`Data`] does (every NaN equal).
#[derive(Clone, Debug)]
pub struct WriterInfo {
    /// The log path, e.g. `conn`.
    pub path: String,
    /// Rotation base time, in seconds.
    pub rotation_base: f64,
    /// Rotation interval, in seconds.
    pub rotation_interval: f64,
    /// Network time when the stream was created, in seconds.
    pub network_time: f64,
    /// Writer configuration.
    pub config: BTreeMap<String, String>,
    /// The post-processing function's name, or empty.
    pub post_proc_func: String,
}

impl PartialEq for WriterInfo {
    fn eq(&self, other: &WriterInfo) -> bool {
        use crate::data::real_eq;
        self.path == other.path
            && real_eq(self.rotation_base, other.rotation_base)
            && real_eq(self.rotation_interval, other.rotation_interval)
            && real_eq(self.network_time, other.network_time)
            && self.config == other.config
            && self.post_proc_func == other.post_proc_func
    }
}

/// Zeek's `threading::Field`: one column of a log stream.
#[derive(Clone, Debug, PartialEq)]
pub struct LogField {
    /// The column name, e.g. `id.orig_h`.
    pub name: String,
    /// A secondary name (used by some input readers).
    pub secondary_name: Option<String>,
    /// Zeek's type tag of the column.
    pub type_tag: u64,
    /// Zeek's type tag of the elements, for sets and vectors.
    pub subtype_tag: u64,
    /// Whether the column is `&optional`.
    pub optional: bool,
}

/// The start of a log stream: its writer and its columns.
#[derive(Clone, Debug, PartialEq)]
pub struct LogCreate {
    /// The stream, e.g. `Conn::LOG`.
    pub stream_id: EnumValue,
    /// The writer, e.g. `Log::WRITER_ASCII`.
    pub writer_id: EnumValue,
    /// Where and how to write.
    pub writer_info: WriterInfo,
    /// The columns.
    pub fields: Vec<LogField>,
}

impl LogCreate {
    fn content(self) -> Data {
        let info = self.writer_info;
        Data::Vector(vec![
            Data::EnumValue(self.stream_id),
            Data::EnumValue(self.writer_id),
            Data::Vector(vec![
                Data::from(info.path),
                Data::Real(info.rotation_base),
                Data::Real(info.rotation_interval),
                Data::Real(info.network_time),
                info.config.to_data(),
                Data::from(info.post_proc_func),
            ]),
            Data::Vector(
                self.fields
                    .into_iter()
                    .map(|f| {
                        Data::Vector(vec![
                            Data::from(f.name),
                            f.secondary_name.to_data(),
                            Data::Count(f.type_tag),
                            Data::Count(f.subtype_tag),
                            Data::Boolean(f.optional),
                        ])
                    })
                    .collect(),
            ),
        ])
    }

    fn from_content(content: &Data) -> Result<LogCreate, ConversionError> {
        let (stream_id, writer_id, info, fields) =
            <(EnumValue, EnumValue, Data, Vec<Data>)>::from_data(content)?;
        let (path, rotation_base, rotation_interval, network_time, config, post_proc_func) =
            FromData::from_data(&info).map_err(|e: ConversionError| e.at(PathSegment::Index(2)))?;
        let fields = fields
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let (name, secondary_name, type_tag, subtype_tag, optional) =
                    FromData::from_data(field)
                        .map_err(|e: ConversionError| e.at(PathSegment::Index(i)))?;
                Ok(LogField {
                    name,
                    secondary_name,
                    type_tag,
                    subtype_tag,
                    optional,
                })
            })
            .collect::<Result<_, ConversionError>>()
            .map_err(|e| e.at(PathSegment::Index(3)))?;
        Ok(LogCreate {
            stream_id,
            writer_id,
            writer_info: WriterInfo {
                path,
                rotation_base,
                rotation_interval,
                network_time,
                config,
                post_proc_func,
            },
            fields,
        })
    }
}

/// A batch of log records in Zeek's own binary serialization.
#[derive(Clone, Debug, PartialEq)]
pub struct LogWrite {
    /// The stream, e.g. `Conn::LOG`.
    pub stream_id: EnumValue,
    /// The writer, e.g. `Log::WRITER_ASCII`.
    pub writer_id: EnumValue,
    /// The log path, e.g. `conn`.
    pub path: String,
    /// The records, serialized by Zeek's `BinarySerializationFormat`.
    pub serial_data: ByteString,
}

impl LogWrite {
    fn content(self) -> Data {
        Data::Vector(vec![
            Data::EnumValue(self.stream_id),
            Data::EnumValue(self.writer_id),
            Data::from(self.path),
            Data::String(self.serial_data),
        ])
    }

    fn from_content(content: &Data) -> Result<LogWrite, ConversionError> {
        let (stream_id, writer_id, path, serial_data) = FromData::from_data(content)?;
        Ok(LogWrite {
            stream_id,
            writer_id,
            path,
            serial_data,
        })
    }
}

/// A new value for a global identifier (`Broker::publish_id`).
#[derive(Clone, Debug, PartialEq)]
pub struct IdentifierUpdate {
    /// The identifier, e.g. `Site::local_nets`.
    pub name: String,
    /// Its new value.
    pub value: Data,
}

/// Several complete messages sent as one.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Batch(pub Vec<Message>);

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u64, content: Data) -> Data {
        Data::Vector(vec![Data::Count(1), Data::Count(kind), content])
    }

    #[test]
    fn event_round_trips_with_and_without_metadata() {
        let plain = Event::new("ping", vec![Data::from("hi")]);
        let stamped = plain
            .clone()
            .with_network_timestamp(Timestamp::from_nanos(5));
        let empty = Event {
            metadata: Some(vec![]),
            ..plain.clone()
        };
        for event in [plain, stamped, empty] {
            let data = event.clone().into_data();
            assert_eq!(Message::from_data(&data), Ok(Message::Event(event)));
        }
    }

    #[test]
    fn network_timestamp_is_read_from_metadata() {
        let event = Event::new("e", vec![]).with_network_timestamp(Timestamp::from_nanos(7));
        assert_eq!(event.network_timestamp(), Some(Timestamp::from_nanos(7)));
        assert_eq!(Event::new("e", vec![]).network_timestamp(), None);
    }

    #[test]
    fn rejects_non_messages() {
        assert_eq!(
            Message::from_data(&Data::Count(1)),
            Err(MessageError::NotAMessage(DataType::Count))
        );
        assert_eq!(
            Message::from_data(&Data::Vector(vec![Data::Count(1)])),
            Err(MessageError::NotAMessage(DataType::Vector))
        );
    }

    #[test]
    fn rejects_other_versions_and_types() {
        let content = Data::Vector(vec![]);
        assert_eq!(
            Message::from_data(&Data::Vector(vec![
                Data::Count(2),
                Data::Count(1),
                content.clone()
            ])),
            Err(MessageError::UnsupportedVersion(2))
        );
        assert_eq!(
            Message::from_data(&message(9, content)),
            Err(MessageError::UnknownType(9))
        );
    }

    #[test]
    fn rejects_invalid_event_content() {
        let err = Message::from_data(&message(1, Data::Vector(vec![Data::from("e")])));
        assert!(matches!(
            err,
            Err(MessageError::InvalidContent {
                message_type: MessageType::Event,
                ..
            })
        ));
        let err = Message::from_data(&message(
            1,
            Data::Vector(vec![Data::Count(1), Data::Vector(vec![])]),
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid Event content: expected string, found count at .name"
        );
    }

    #[test]
    fn rejects_network_timestamp_of_wrong_type() {
        let bad = Data::Vector(vec![Data::Vector(vec![Data::Count(1), Data::Count(5)])]);
        let content = Data::Vector(vec![Data::from("e"), Data::Vector(vec![]), bad]);
        assert!(matches!(
            Message::from_data(&message(1, content)),
            Err(MessageError::InvalidMetadata(_))
        ));
        let user = Data::Vector(vec![Data::Vector(vec![Data::Count(200), Data::Count(5)])]);
        let content = Data::Vector(vec![Data::from("e"), Data::Vector(vec![]), user]);
        assert!(Message::from_data(&message(1, content)).is_ok());
    }

    #[test]
    fn log_messages_round_trip() {
        let create = LogCreate {
            stream_id: EnumValue::new("Conn::LOG"),
            writer_id: EnumValue::new("Log::WRITER_ASCII"),
            writer_info: WriterInfo {
                path: "conn".into(),
                rotation_base: 0.0,
                rotation_interval: 3600.0,
                network_time: 1.5,
                config: BTreeMap::from([("k".into(), "v".into())]),
                post_proc_func: String::new(),
            },
            fields: vec![LogField {
                name: "ts".into(),
                secondary_name: None,
                type_tag: 8,
                subtype_tag: 0,
                optional: false,
            }],
        };
        let write = LogWrite {
            stream_id: EnumValue::new("Conn::LOG"),
            writer_id: EnumValue::new("Log::WRITER_ASCII"),
            path: "conn".into(),
            serial_data: vec![0, 1, 2].into(),
        };
        for msg in [Message::LogCreate(create), Message::LogWrite(write)] {
            assert_eq!(Message::from_data(&msg.clone().into_data()), Ok(msg));
        }
    }

    #[test]
    fn rejects_log_create_with_bad_field() {
        let content = Data::Vector(vec![
            Data::EnumValue(EnumValue::new("Conn::LOG")),
            Data::EnumValue(EnumValue::new("Log::WRITER_ASCII")),
            Data::Vector(vec![
                Data::from("conn"),
                Data::Real(0.0),
                Data::Real(0.0),
                Data::Real(0.0),
                Data::Table(Default::default()),
                Data::from(""),
            ]),
            Data::Vector(vec![Data::Vector(vec![Data::from("ts")])]),
        ]);
        let err = Message::from_data(&message(2, content)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid LogCreate content: expected 5 elements, found 1 at [3][0]"
        );
    }

    #[test]
    fn batch_of_messages_round_trips_and_rejects_bad_members() {
        let batch = Message::Batch(Batch(vec![
            Message::Event(Event::new("a", vec![])),
            Message::IdentifierUpdate(IdentifierUpdate {
                name: "Test::x".into(),
                value: Data::Count(25),
            }),
        ]));
        assert_eq!(Message::from_data(&batch.clone().into_data()), Ok(batch));
        let bad = message(5, Data::Vector(vec![Data::Count(1)]));
        assert!(Message::from_data(&bad).is_err());
    }
}
