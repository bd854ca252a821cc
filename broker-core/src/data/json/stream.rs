//! A JSON v1 decoder that parses text straight into [`Data`] with serde,
//! without an intermediate `serde_json::Value`.
//!
//! The common layout (`@data-type` before `data`) is decoded in one pass; if
//! `data` comes first its text is kept as it is (a `RawValue`: the bytes,
//! checked for syntax, nothing built) and decoded once the type is known.
//! Semantic errors travel out of serde through a side cell, so callers get
//! the same typed [`JsonError`]s as from the reference decoder in `json/mod.rs`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::error::{JsonError, MAX_DEPTH};
use crate::data::{Data, DataType, Port, Set, Subnet, Table, Timespan, Timestamp};
use crate::topic::Topic;

/// JSON text for an error message, cut to 64 bytes.
fn shortened(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The first semantic error, set before serde is told to stop.
type ErrorCell = RefCell<Option<JsonError>>;

fn fail<E: de::Error>(cell: &ErrorCell, error: JsonError) -> E {
    let mut slot = cell.borrow_mut();
    if slot.is_none() {
        *slot = Some(error);
    }
    E::custom("invalid Broker JSON")
}

fn finish<T>(result: Result<T, serde_json::Error>, cell: ErrorCell) -> Result<T, JsonError> {
    match (result, cell.into_inner()) {
        (Ok(v), None) => Ok(v),
        (_, Some(e)) => Err(e),
        (Err(e), None) => Err(JsonError::Syntax(e.to_string())),
    }
}

pub(super) fn data_from_str(text: &str) -> Result<Data, JsonError> {
    let cell = ErrorCell::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let result = DataSeed {
        depth: 0,
        cell: &cell,
        message: None,
    }
    .deserialize(&mut de)
    .and_then(|d| de.end().map(|()| d));
    finish(result, cell)
}

/// A data message; with `any_type`, a `type` other than `data-message` is
/// accepted too (what a WebSocket server does with its clients' messages).
pub(super) fn message_from_str(text: &str, any_type: bool) -> Result<(Topic, Data), JsonError> {
    let cell = ErrorCell::default();
    let mut header = MessageHeader::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let result = DataSeed {
        depth: 0,
        cell: &cell,
        message: Some(&mut header),
    }
    .deserialize(&mut de)
    .and_then(|d| de.end().map(|()| d));
    let data = finish(result, cell)?;
    match header.kind {
        None | Some(MessageKind::DataMessage) => {}
        Some(MessageKind::Other(_)) if any_type => {}
        Some(MessageKind::Other(text)) => return Err(JsonError::WrongMessageType(text)),
    }
    let topic = match header.topic {
        Some(Ok(t)) if !t.is_empty() => {
            Topic::new(t).map_err(|e| JsonError::InvalidTopic(e.to_string()))?
        }
        Some(Ok(_)) => return Err(JsonError::InvalidTopic("empty topic".into())),
        Some(Err(())) => return Err(JsonError::InvalidTopic("topic is not a string".into())),
        None => return Err(JsonError::MissingTopic),
    };
    Ok((topic, data))
}

enum MessageKind {
    DataMessage,
    Other(String),
}

/// The `type` and `topic` members of a data message, collected on the way.
#[derive(Default)]
struct MessageHeader {
    kind: Option<MessageKind>,
    topic: Option<Result<String, ()>>,
}

/// One value object `{"@data-type": …, "data": …}`.
struct DataSeed<'a> {
    depth: usize,
    cell: &'a ErrorCell,
    /// For the top level of a data message: where `type` and `topic` go.
    message: Option<&'a mut MessageHeader>,
}

impl<'de> DeserializeSeed<'de> for DataSeed<'_> {
    type Value = Data;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Data, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(fail(self.cell, JsonError::DepthLimitExceeded));
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_> {
    type Value = Data;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Broker value object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Data, A::Error> {
        let DataSeed {
            depth,
            cell,
            mut message,
        } = self;
        let mut data_type: Option<DataType> = None;
        let mut data: Option<Data> = None;
        let mut raw: Option<Box<RawValue>> = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "@data-type" => {
                    let name = map
                        .next_value::<Cow<'de, str>>()
                        .map_err(|_| fail::<A::Error>(cell, JsonError::MissingDataType))?;
                    data_type = Some(DataType::from_name(&name).ok_or_else(|| {
                        fail::<A::Error>(cell, JsonError::UnknownDataType(name.to_string()))
                    })?);
                }
                "data" => match data_type {
                    Some(t) => {
                        data = Some(map.next_value_seed(PayloadSeed {
                            data_type: t,
                            depth,
                            cell,
                        })?)
                    }
                    None => raw = Some(map.next_value::<Box<RawValue>>()?),
                },
                // Kept as text, so that a huge value builds nothing.
                "type" if message.is_some() => {
                    let value = map.next_value::<Box<RawValue>>()?;
                    if let Some(header) = message.as_deref_mut() {
                        let text = value.get();
                        let name = (text.len() <= 64)
                            .then(|| serde_json::from_str::<String>(text).ok())
                            .flatten();
                        header.kind = Some(match name.as_deref() {
                            Some("data-message") => MessageKind::DataMessage,
                            _ => MessageKind::Other(shortened(text)),
                        });
                    }
                }
                "topic" if message.is_some() => {
                    let value = map.next_value::<Box<RawValue>>()?;
                    if let Some(header) = message.as_deref_mut() {
                        header.topic =
                            Some(serde_json::from_str::<String>(value.get()).map_err(|_| ()));
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let Some(data_type) = data_type else {
            return Err(fail(cell, JsonError::MissingDataType));
        };
        match (data, raw) {
            (Some(data), _) => Ok(data),
            (None, Some(raw)) => {
                let mut de = serde_json::Deserializer::from_str(raw.get());
                PayloadSeed {
                    data_type,
                    depth,
                    cell,
                }
                .deserialize(&mut de)
                .map_err(de::Error::custom)
            }
            (None, None) if data_type == DataType::None => Ok(Data::None),
            (None, None) => Err(fail(cell, JsonError::MissingData(data_type))),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Data, A::Error> {
        Err(fail(self.cell, JsonError::NotAnObject))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Data, E> {
        Err(fail(self.cell, JsonError::NotAnObject))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Data, E> {
        Err(fail(self.cell, JsonError::NotAnObject))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Data, E> {
        Err(fail(self.cell, JsonError::NotAnObject))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Data, E> {
        Err(fail(self.cell, JsonError::NotAnObject))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Data, E> {
        Err(fail(self.cell, JsonError::NotAnObject))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Data, E> {
        Err(fail(self.cell, JsonError::NotAnObject))
    }
}

/// The `data` member of a value of a known type.
struct PayloadSeed<'a> {
    data_type: DataType,
    depth: usize,
    cell: &'a ErrorCell,
}

impl PayloadSeed<'_> {
    fn wrong<E: de::Error>(&self) -> E {
        let expected = match self.data_type {
            DataType::Boolean => "true or false",
            DataType::Count | DataType::Integer => "an integer literal",
            DataType::Real => "a number with a fraction or exponent",
            DataType::Set | DataType::Table | DataType::Vector => "a JSON array",
            _ => "a JSON string",
        };
        fail(
            self.cell,
            JsonError::WrongPayload {
                data_type: self.data_type,
                expected,
            },
        )
    }

    fn invalid<E: de::Error>(&self, text: String, reason: String) -> E {
        fail(
            self.cell,
            JsonError::InvalidValue {
                data_type: self.data_type,
                text,
                reason,
            },
        )
    }

    fn element(&self) -> DataSeed<'_> {
        DataSeed {
            depth: self.depth + 1,
            cell: self.cell,
            message: None,
        }
    }
}

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = Data;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Data, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PayloadSeed<'_> {
    type Value = Data;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the data of a {}", self.data_type)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Data, E> {
        match self.data_type {
            DataType::Boolean => Ok(Data::Boolean(b)),
            DataType::None => Ok(Data::None),
            _ => Err(self.wrong()),
        }
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Data, E> {
        match self.data_type {
            DataType::Count => Ok(Data::Count(n)),
            DataType::Integer => i64::try_from(n)
                .map(Data::Integer)
                .map_err(|_| self.invalid(n.to_string(), "not in -2^63..=2^63-1".into())),
            DataType::None => Ok(Data::None),
            _ => Err(self.wrong()),
        }
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Data, E> {
        match self.data_type {
            DataType::Integer => Ok(Data::Integer(n)),
            DataType::Count => match u64::try_from(n) {
                Ok(n) => Ok(Data::Count(n)),
                Err(_) => Err(self.invalid(n.to_string(), "not in 0..=2^64-1".into())),
            },
            DataType::None => Ok(Data::None),
            _ => Err(self.wrong()),
        }
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Data, E> {
        match self.data_type {
            DataType::Real => Ok(Data::Real(x)),
            DataType::None => Ok(Data::None),
            _ => Err(self.wrong()),
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Data, E> {
        let invalid = |reason: String| self.invalid::<E>(format!("{s:?}"), reason);
        match self.data_type {
            DataType::None => Ok(Data::None),
            DataType::String => Ok(Data::String(s.into())),
            DataType::EnumValue => Ok(Data::EnumValue(s.into())),
            DataType::Address => s
                .parse()
                .map(Data::Address)
                .map_err(|e| invalid(format!("{e}"))),
            DataType::Subnet => s
                .parse::<Subnet>()
                .map(Data::Subnet)
                .map_err(|e| invalid(e.to_string())),
            DataType::Port => s
                .parse::<Port>()
                .map(Data::Port)
                .map_err(|e| invalid(e.to_string())),
            DataType::Timestamp => s
                .parse::<Timestamp>()
                .map(Data::Timestamp)
                .map_err(|e| invalid(e.to_string())),
            DataType::Timespan => s
                .parse::<Timespan>()
                .map(Data::Timespan)
                .map_err(|e| invalid(e.to_string())),
            DataType::Real => match s {
                "nan" => Ok(Data::Real(f64::NAN)),
                "inf" => Ok(Data::Real(f64::INFINITY)),
                "-inf" => Ok(Data::Real(f64::NEG_INFINITY)),
                _ => Err(self.wrong()),
            },
            _ => Err(self.wrong()),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Data, E> {
        match self.data_type {
            DataType::None => Ok(Data::None),
            _ => Err(self.wrong()),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Data, A::Error> {
        match self.data_type {
            DataType::None => {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Data::None)
            }
            DataType::Vector => {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element_seed(self.element())? {
                    items.push(item);
                }
                Ok(Data::Vector(items))
            }
            DataType::Set => {
                let mut set = Set::new();
                while let Some(item) = seq.next_element_seed(self.element())? {
                    if !set.insert(item) {
                        return Err(fail(self.cell, JsonError::DuplicateSetElement));
                    }
                }
                Ok(Data::Set(set))
            }
            DataType::Table => {
                let mut table = Table::new();
                while let Some((key, value)) = seq.next_element_seed(EntrySeed {
                    depth: self.depth + 1,
                    cell: self.cell,
                })? {
                    if table.insert(key, value).is_some() {
                        return Err(fail(self.cell, JsonError::DuplicateTableKey));
                    }
                }
                Ok(Data::Table(table))
            }
            _ => Err(self.wrong()),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Data, A::Error> {
        match self.data_type {
            DataType::None => {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Data::None)
            }
            _ => Err(self.wrong()),
        }
    }
}

/// One `{"key": …, "value": …}` entry of a table.
struct EntrySeed<'a> {
    depth: usize,
    cell: &'a ErrorCell,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = (Data, Data);

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(Data, Data), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = (Data, Data);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(Data, Data), A::Error> {
        let seed = || DataSeed {
            depth: self.depth,
            cell: self.cell,
            message: None,
        };
        let (mut key, mut value) = (None, None);
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            match name.as_ref() {
                "key" => key = Some(map.next_value_seed(seed())?),
                "value" => value = Some(map.next_value_seed(seed())?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match (key, value) {
            (Some(k), Some(v)) => Ok((k, v)),
            _ => Err(fail(self.cell, JsonError::InvalidTableEntry)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(Data, Data), A::Error> {
        Err(fail(self.cell, JsonError::InvalidTableEntry))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(Data, Data), E> {
        Err(fail(self.cell, JsonError::InvalidTableEntry))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(Data, Data), E> {
        Err(fail(self.cell, JsonError::InvalidTableEntry))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(Data, Data), E> {
        Err(fail(self.cell, JsonError::InvalidTableEntry))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(Data, Data), E> {
        Err(fail(self.cell, JsonError::InvalidTableEntry))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(Data, Data), E> {
        Err(fail(self.cell, JsonError::InvalidTableEntry))
    }

    fn visit_unit<E: de::Error>(self) -> Result<(Data, Data), E> {
        Err(fail(self.cell, JsonError::InvalidTableEntry))
    }
}
