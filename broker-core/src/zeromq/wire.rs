//! The messages of Zeek's ZeroMQ cluster backend, as pure functions over
//! frames (no sockets): published events, subscriptions and log batches.
//!
//! * An **event** is four frames: the topic, the sender's node id, the
//!   serializer name (`broker-bin-v1` or `broker-json-v1`) and the
//!   serialized value (Broker's Zeek event message `[1, 1, [name, args,
//!   metadata?]]`, though any value decodes).
//! * A **subscription** is one frame: `0x01` (subscribe) or `0x00`
//!   (unsubscribe), then the topic prefix.
//! * A **log batch** is four frames: `log-write`, the sender's node id,
//!   `zeek-bin-serializer`, and the batch in Zeek's binary serialization
//!   format ([`LogBatch`]).
//!
//! ```
//! use broker_core::data::Data;
//! use broker_core::zeromq::wire::{EventFormat, EventMessage};
//!
//! let msg = EventMessage::new("zeek.cluster.worker", "rust-1", Data::Count(1)).unwrap();
//! let frames = msg.encode();
//! assert_eq!(frames[2], b"broker-bin-v1");
//! let back = EventMessage::decode(&frames).unwrap();
//! assert_eq!(back, msg);
//! assert_eq!(back.format, EventFormat::BinV1);
//! ```

use crate::data::json::{self, JsonError};
use crate::data::{Data, bin};
use crate::logs::format::{Reader, encode_bytes, encode_value};
use crate::logs::{DecodeError, DecodeErrorKind, EncodeError, LogValue, MAX_FIELDS};
use crate::topic::{Topic, TopicError};
use crate::zeek::LogField;

/// The serializer name of Broker's binary format (Zeek's default).
pub const SERIALIZER_BIN_V1: &str = "broker-bin-v1";
/// The serializer name of Broker's JSON format.
pub const SERIALIZER_JSON_V1: &str = "broker-json-v1";
/// The serializer name of log batches, the only one Zeek has.
pub const SERIALIZER_LOG: &str = "zeek-bin-serializer";
/// The first frame of a log batch (Zeek's loggers do not read it).
pub const LOG_WRITE: &str = "log-write";

/// The first byte of a subscription message.
pub const SUBSCRIBE: u8 = 0x01;
/// The first byte of an unsubscription message.
pub const UNSUBSCRIBE: u8 = 0x00;

/// Why frames are not a valid ZeroMQ cluster message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// A message has the wrong number of frames (Zeek: "expected 4 parts").
    #[error("expected {expected} frames, have {found}")]
    FrameCount {
        /// Frames expected.
        expected: usize,
        /// Frames received.
        found: usize,
    },
    /// An event's serializer frame names no known serializer.
    #[error("unknown event serializer {0:?}")]
    UnknownSerializer(String),
    /// A log batch's serializer frame is not `zeek-bin-serializer`.
    #[error("log batch in format {0:?}, expected {SERIALIZER_LOG}")]
    WrongLogFormat(String),
    /// The topic frame is not a valid topic (not UTF-8, or too long).
    #[error("invalid topic: {0}")]
    Topic(#[from] TopicError),
    /// A `broker-bin-v1` payload does not decode (or has bytes left over).
    #[error("malformed broker-bin-v1 payload: {0}")]
    Bin(#[from] bin::DecodeError),
    /// A `broker-json-v1` payload does not decode.
    #[error("malformed broker-json-v1 payload: {0}")]
    Json(#[from] JsonError),
    /// A log batch does not decode.
    #[error("malformed log batch: {0}")]
    LogBatch(#[from] DecodeError),
    /// A log batch has a text that is not UTF-8.
    #[error("log batch: the {0} is not UTF-8")]
    NonUtf8(&'static str),
    /// A log batch announces more columns than [`MAX_FIELDS`].
    #[error("log batch: {0} columns are more than {MAX_FIELDS}")]
    TooManyFields(usize),
    /// A log batch has records but no columns.
    #[error("log batch: records without columns")]
    NoFields,
    /// A subscription message is empty (no flag byte).
    #[error("empty subscription message")]
    EmptySubscription,
}

/// Why a log batch cannot be encoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchEncodeError {
    /// A value or string cannot be serialized.
    #[error(transparent)]
    Value(#[from] EncodeError),
    /// A record has another number of values than the batch has columns.
    #[error("record {record} has {found} values for {expected} columns")]
    RecordLength {
        /// The record's index.
        record: usize,
        /// The number of columns.
        expected: usize,
        /// The number of values.
        found: usize,
    },
    /// A column's type tag does not fit Zeek's 32-bit field.
    #[error("column {0}: type tag out of range")]
    TypeTag(String),
    /// More records or columns than Zeek's 32-bit counts hold.
    #[error("too many {0}")]
    TooMany(&'static str),
}

/// The serializer of an event (frame 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum EventFormat {
    /// `broker-bin-v1`: Broker's binary format (Zeek's default).
    #[default]
    BinV1,
    /// `broker-json-v1`: Broker's JSON format.
    JsonV1,
}

impl EventFormat {
    /// The serializer name, as in frame 2.
    pub fn name(self) -> &'static str {
        match self {
            EventFormat::BinV1 => SERIALIZER_BIN_V1,
            EventFormat::JsonV1 => SERIALIZER_JSON_V1,
        }
    }

    /// The format named `name`.
    pub fn from_name(name: &[u8]) -> Result<EventFormat, WireError> {
        match name {
            b"broker-bin-v1" => Ok(EventFormat::BinV1),
            b"broker-json-v1" => Ok(EventFormat::JsonV1),
            other => Err(WireError::UnknownSerializer(
                String::from_utf8_lossy(other).into_owned(),
            )),
        }
    }

    /// `data` serialized in this format.
    pub fn encode(self, data: &Data) -> Vec<u8> {
        match self {
            EventFormat::BinV1 => bin::encode(data),
            EventFormat::JsonV1 => json::to_json_string(data).into_bytes(),
        }
    }

    /// A payload in this format; all bytes must be used.
    pub fn decode(self, payload: &[u8]) -> Result<Data, WireError> {
        match self {
            EventFormat::BinV1 => Ok(bin::decode(payload)?),
            EventFormat::JsonV1 => {
                let text = std::str::from_utf8(payload)
                    .map_err(|_| WireError::Json(JsonError::Syntax("not UTF-8".into())))?;
                Ok(json::from_json_str(text)?)
            }
        }
    }
}

/// A published message (frames: topic, sender, format, payload).
#[derive(Clone, Debug, PartialEq)]
pub struct EventMessage {
    /// The topic the message was published on (what ZeroMQ filters on).
    pub topic: Topic,
    /// The publisher's node id (Zeek only compares it with its own).
    pub sender: Vec<u8>,
    /// The payload's serializer.
    pub format: EventFormat,
    /// The value: a Zeek event message for Zeek's nodes.
    pub data: Data,
}

impl EventMessage {
    /// A message in `broker-bin-v1`.
    pub fn new(
        topic: impl Into<String>,
        sender: impl Into<Vec<u8>>,
        data: Data,
    ) -> Result<EventMessage, TopicError> {
        Ok(EventMessage {
            topic: Topic::new(topic)?,
            sender: sender.into(),
            format: EventFormat::BinV1,
            data,
        })
    }

    /// Reads the four frames of a message.
    pub fn decode<F: AsRef<[u8]>>(frames: &[F]) -> Result<EventMessage, WireError> {
        let [topic, sender, format, payload] = frames else {
            return Err(WireError::FrameCount {
                expected: 4,
                found: frames.len(),
            });
        };
        let topic = Topic::from_bytes(topic.as_ref())?;
        let format = EventFormat::from_name(format.as_ref())?;
        let data = format.decode(payload.as_ref())?;
        Ok(EventMessage {
            topic,
            sender: sender.as_ref().to_vec(),
            format,
            data,
        })
    }

    /// The four frames.
    pub fn encode(&self) -> [Vec<u8>; 4] {
        encode_event(&self.topic, &self.sender, self.format, &self.data)
    }
}

/// The four frames of a message on `topic` from `sender`.
pub fn encode_event(
    topic: &Topic,
    sender: &[u8],
    format: EventFormat,
    data: &Data,
) -> [Vec<u8>; 4] {
    [
        topic.as_str().as_bytes().to_vec(),
        sender.to_vec(),
        format.name().as_bytes().to_vec(),
        format.encode(data),
    ]
}

/// A subscription message: one frame, `0x01` or `0x00` and a topic prefix.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subscription {
    /// `0x01` + prefix.
    Subscribe(Vec<u8>),
    /// `0x00` + prefix.
    Unsubscribe(Vec<u8>),
}

impl Subscription {
    /// Reads a one-frame subscription message. A frame that starts with
    /// another byte is not a subscription (`Ok(None)`; Zeek ignores it).
    pub fn decode(frame: &[u8]) -> Result<Option<Subscription>, WireError> {
        match frame.split_first() {
            None => Err(WireError::EmptySubscription),
            Some((&SUBSCRIBE, topic)) => Ok(Some(Subscription::Subscribe(topic.to_vec()))),
            Some((&UNSUBSCRIBE, topic)) => Ok(Some(Subscription::Unsubscribe(topic.to_vec()))),
            Some(_) => Ok(None),
        }
    }

    /// The frame.
    pub fn encode(&self) -> Vec<u8> {
        let (flag, topic) = match self {
            Subscription::Subscribe(t) => (SUBSCRIBE, t),
            Subscription::Unsubscribe(t) => (UNSUBSCRIBE, t),
        };
        let mut out = Vec::with_capacity(topic.len() + 1);
        out.push(flag);
        out.extend_from_slice(topic);
        out
    }

    /// The topic prefix.
    pub fn topic(&self) -> &[u8] {
        match self {
            Subscription::Subscribe(t) | Subscription::Unsubscribe(t) => t,
        }
    }
}

/// One log batch in Zeek's binary serialization format: one stream, writer,
/// filter and path, the columns, and records of one value per column.
#[derive(Clone, Debug, PartialEq)]
pub struct LogBatch {
    /// The stream, a `Log::ID` enum name such as `Conn::LOG`.
    pub stream: String,
    /// The writer, a `Log::Writer` enum name such as `Log::WRITER_ASCII`.
    pub writer: String,
    /// The filter's name (`default` for the default filter).
    pub filter: String,
    /// The path (the file name for the ASCII writer).
    pub path: String,
    /// The columns.
    pub fields: Vec<LogField>,
    /// The records, each with one value per column.
    pub records: Vec<Vec<LogValue>>,
}

/// The fewest bytes a field takes: flag (1), name length (4), type (4),
/// subtype (4), optional (1).
const MIN_FIELD_LEN: usize = 14;
/// The fewest bytes a value takes: type (4), subtype (4), presence (1).
const MIN_VALUE_LEN: usize = 9;

impl LogBatch {
    /// Reads a batch; all bytes must be used. Bounded on any input: counts
    /// are checked against the bytes left before anything is allocated.
    pub fn decode(bytes: &[u8]) -> Result<LogBatch, WireError> {
        let mut r = Reader::new(bytes);
        let text = |r: &mut Reader<'_>, what: &'static str| -> Result<String, WireError> {
            let raw = r.read_bytes()?;
            String::from_utf8(raw.to_vec()).map_err(|_| WireError::NonUtf8(what))
        };
        let stream = text(&mut r, "stream name")?;
        let writer = text(&mut r, "writer name")?;
        let filter = text(&mut r, "filter name")?;
        let path = text(&mut r, "path")?;
        let num_fields = r.read_count("field count", MIN_FIELD_LEN)?;
        if num_fields > MAX_FIELDS {
            return Err(WireError::TooManyFields(num_fields));
        }
        let mut fields = Vec::with_capacity(num_fields);
        for _ in 0..num_fields {
            let secondary_name = if r.read_u8()? == 1 {
                Some(text(&mut r, "secondary name")?)
            } else {
                None
            };
            let name = text(&mut r, "field name")?;
            let tag = |r: &mut Reader<'_>| -> Result<u64, WireError> {
                let raw = r.read_i32()?;
                u64::try_from(raw)
                    .map_err(|_| WireError::LogBatch(r.error(DecodeErrorKind::UnknownType(raw))))
            };
            let type_tag = tag(&mut r)?;
            let subtype_tag = tag(&mut r)?;
            let optional = r.read_u8()? == 1;
            fields.push(LogField {
                name,
                secondary_name,
                type_tag,
                subtype_tag,
                optional,
            });
        }
        let num_records = if num_fields == 0 {
            match r.read_i32()? {
                0 => 0,
                _ => return Err(WireError::NoFields),
            }
        } else {
            r.read_count("record count", MIN_VALUE_LEN * num_fields)?
        };
        let mut records = Vec::with_capacity(num_records);
        for _ in 0..num_records {
            let mut values = Vec::with_capacity(num_fields);
            for _ in 0..num_fields {
                values.push(r.read_value()?);
            }
            records.push(values);
        }
        if r.remaining() > 0 {
            let left = r.remaining();
            return Err(WireError::LogBatch(
                r.error(DecodeErrorKind::TrailingBytes(left)),
            ));
        }
        Ok(LogBatch {
            stream,
            writer,
            filter,
            path,
            fields,
            records,
        })
    }

    /// The batch's bytes, as Zeek writes them (values with subtype 0).
    pub fn encode(&self) -> Result<Vec<u8>, BatchEncodeError> {
        let mut out = Vec::with_capacity(256 + self.records.len() * self.fields.len() * 16);
        for text in [&self.stream, &self.writer, &self.filter, &self.path] {
            encode_bytes(text.as_bytes(), &mut out)?;
        }
        push_count(&mut out, self.fields.len(), "columns")?;
        for field in &self.fields {
            match &field.secondary_name {
                Some(name) => {
                    out.push(1);
                    encode_bytes(name.as_bytes(), &mut out)?;
                }
                None => out.push(0),
            }
            encode_bytes(field.name.as_bytes(), &mut out)?;
            for tag in [field.type_tag, field.subtype_tag] {
                let tag = i32::try_from(tag)
                    .map_err(|_| BatchEncodeError::TypeTag(field.name.clone()))?;
                out.extend_from_slice(&tag.to_be_bytes());
            }
            out.push(u8::from(field.optional));
        }
        push_count(&mut out, self.records.len(), "records")?;
        for (i, record) in self.records.iter().enumerate() {
            if record.len() != self.fields.len() {
                return Err(BatchEncodeError::RecordLength {
                    record: i,
                    expected: self.fields.len(),
                    found: record.len(),
                });
            }
            for value in record {
                encode_value(value, &mut out)?;
            }
        }
        Ok(out)
    }

    /// Appends a record given as a serialized `LogWrite` record (a value
    /// count, then the values), without decoding it again: the bytes after
    /// the count are the batch's bytes for it. Used by the PUSH side.
    #[allow(dead_code)] // TODO(zeromq): used by the PUSH side
    pub(crate) fn encode_serialized(
        head: &LogBatchHead<'_>,
        records: &[&[u8]],
    ) -> Result<Vec<u8>, BatchEncodeError> {
        let mut out = Vec::with_capacity(256 + records.iter().map(|r| r.len()).sum::<usize>());
        for text in [head.stream, head.writer, head.filter, head.path] {
            encode_bytes(text.as_bytes(), &mut out)?;
        }
        push_count(&mut out, head.fields.len(), "columns")?;
        for field in head.fields {
            out.push(0);
            encode_bytes(field.name.as_bytes(), &mut out)?;
            for tag in [field.type_tag, field.subtype_tag] {
                let tag = i32::try_from(tag)
                    .map_err(|_| BatchEncodeError::TypeTag(field.name.clone()))?;
                out.extend_from_slice(&tag.to_be_bytes());
            }
            out.push(u8::from(field.optional));
        }
        push_count(&mut out, records.len(), "records")?;
        for record in records {
            out.extend_from_slice(record.get(4..).unwrap_or_default());
        }
        Ok(out)
    }
}

/// The header of a batch built from serialized records.
#[allow(dead_code)] // TODO(zeromq): used by the PUSH side
pub(crate) struct LogBatchHead<'a> {
    pub(crate) stream: &'a str,
    pub(crate) writer: &'a str,
    pub(crate) filter: &'a str,
    pub(crate) path: &'a str,
    pub(crate) fields: &'a [LogField],
}

fn push_count(out: &mut Vec<u8>, n: usize, what: &'static str) -> Result<(), BatchEncodeError> {
    let n = u32::try_from(n)
        .ok()
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or(BatchEncodeError::TooMany(what))?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

/// A log batch message (frames: `log-write`, sender, serializer, batch).
#[derive(Clone, Debug, PartialEq)]
pub struct LogMessage {
    /// The sender's node id (Zeek's loggers do not read it).
    pub sender: Vec<u8>,
    /// The batch.
    pub batch: LogBatch,
}

impl LogMessage {
    /// Reads the four frames of a log message. As Zeek's loggers do, it
    /// checks the frame count and the serializer; frames 0 and 1 may hold
    /// anything.
    pub fn decode<F: AsRef<[u8]>>(frames: &[F]) -> Result<LogMessage, WireError> {
        let [_, sender, format, batch] = frames else {
            return Err(WireError::FrameCount {
                expected: 4,
                found: frames.len(),
            });
        };
        if format.as_ref() != SERIALIZER_LOG.as_bytes() {
            return Err(WireError::WrongLogFormat(
                String::from_utf8_lossy(format.as_ref()).into_owned(),
            ));
        }
        Ok(LogMessage {
            sender: sender.as_ref().to_vec(),
            batch: LogBatch::decode(batch.as_ref())?,
        })
    }

    /// The four frames.
    pub fn encode(&self) -> Result<[Vec<u8>; 4], BatchEncodeError> {
        Ok(log_frames(&self.sender, self.batch.encode()?))
    }
}

/// The four frames of a log message with an encoded batch.
pub fn log_frames(sender: &[u8], batch: Vec<u8>) -> [Vec<u8>; 4] {
    [
        LOG_WRITE.as_bytes().to_vec(),
        sender.to_vec(),
        SERIALIZER_LOG.as_bytes().to_vec(),
        batch,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::TypeTag;

    fn batch() -> LogBatch {
        LogBatch {
            stream: "Test::LOG".into(),
            writer: "Log::WRITER_ASCII".into(),
            filter: "default".into(),
            path: "test".into(),
            fields: vec![
                LogField {
                    name: "n".into(),
                    secondary_name: None,
                    type_tag: 3,
                    subtype_tag: 0,
                    optional: false,
                },
                LogField {
                    name: "s".into(),
                    secondary_name: Some("alias".into()),
                    type_tag: 7,
                    subtype_tag: 0,
                    optional: true,
                },
            ],
            records: vec![
                vec![LogValue::Count(1), LogValue::String("a".into())],
                vec![LogValue::Count(2), LogValue::Unset(TypeTag::String)],
            ],
        }
    }

    #[test]
    fn log_batches_round_trip() {
        let b = batch();
        let bytes = b.encode().unwrap();
        assert_eq!(LogBatch::decode(&bytes).unwrap(), b);
    }

    #[test]
    fn log_batch_decoding_rejects_trailing_and_missing_bytes() {
        let mut bytes = batch().encode().unwrap();
        bytes.push(0);
        assert!(matches!(
            LogBatch::decode(&bytes),
            Err(WireError::LogBatch(DecodeError {
                kind: DecodeErrorKind::TrailingBytes(1),
                ..
            }))
        ));
        bytes.truncate(bytes.len() - 2);
        assert!(matches!(
            LogBatch::decode(&bytes),
            Err(WireError::LogBatch(DecodeError {
                kind: DecodeErrorKind::Truncated { .. },
                ..
            }))
        ));
    }

    #[test]
    fn log_batch_counts_cannot_claim_more_than_the_input_holds() {
        let mut b = batch();
        b.records.clear();
        let mut bytes = b.encode().unwrap();
        // The record count is the last four bytes: claim 2^31 - 1 records.
        let n = bytes.len();
        bytes[n - 4..].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            LogBatch::decode(&bytes),
            Err(WireError::LogBatch(DecodeError {
                kind: DecodeErrorKind::TooMany { .. },
                ..
            }))
        ));
        b.fields.clear();
        let mut bytes = b.encode().unwrap();
        let n = bytes.len();
        bytes[n - 4..].copy_from_slice(&5u32.to_be_bytes());
        assert_eq!(LogBatch::decode(&bytes), Err(WireError::NoFields));
    }

    #[test]
    fn serialized_records_make_the_same_batch() {
        let b = batch();
        let records: Vec<Vec<u8>> = b
            .records
            .iter()
            .map(|r| crate::logs::encode_record(r).unwrap())
            .collect();
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let mut plain = b.clone();
        plain.fields[1].secondary_name = None;
        let head = LogBatchHead {
            stream: &b.stream,
            writer: &b.writer,
            filter: &b.filter,
            path: &b.path,
            fields: &plain.fields,
        };
        let bytes = LogBatch::encode_serialized(&head, &refs).unwrap();
        assert_eq!(bytes, plain.encode().unwrap());
    }

    #[test]
    fn records_must_have_one_value_per_column() {
        let mut b = batch();
        b.records[1].pop();
        assert!(matches!(
            b.encode(),
            Err(BatchEncodeError::RecordLength { record: 1, .. })
        ));
    }

    #[test]
    fn events_need_four_frames_and_a_known_serializer() {
        let frames = EventMessage::new("t", "me", Data::Count(1))
            .unwrap()
            .encode();
        assert_eq!(
            EventMessage::decode(&frames[..3]),
            Err(WireError::FrameCount {
                expected: 4,
                found: 3
            })
        );
        let mut bad = frames.to_vec();
        bad[2] = b"broker-bin-v2".to_vec();
        assert_eq!(
            EventMessage::decode(&bad),
            Err(WireError::UnknownSerializer("broker-bin-v2".into()))
        );
        let mut json = frames.to_vec();
        json[2] = SERIALIZER_JSON_V1.as_bytes().to_vec();
        json[3] = br#"{"@data-type":"count","data":1}"#.to_vec();
        assert_eq!(EventMessage::decode(&json).unwrap().data, Data::Count(1));
        let mut garbage = frames.to_vec();
        garbage[3].push(0);
        assert!(matches!(
            EventMessage::decode(&garbage),
            Err(WireError::Bin(_))
        ));
    }

    #[test]
    fn subscriptions_are_a_flag_and_a_prefix() {
        assert_eq!(
            Subscription::decode(b"\x01zeek").unwrap(),
            Some(Subscription::Subscribe(b"zeek".to_vec()))
        );
        assert_eq!(
            Subscription::decode(b"\x00").unwrap(),
            Some(Subscription::Unsubscribe(Vec::new()))
        );
        assert_eq!(Subscription::decode(b"\x02x").unwrap(), None);
        assert_eq!(Subscription::decode(b""), Err(WireError::EmptySubscription));
        assert_eq!(
            Subscription::Unsubscribe(b"a.".to_vec()).encode(),
            b"\x00a.".to_vec()
        );
    }
}
