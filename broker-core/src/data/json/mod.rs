//! Zeek's JSON v1 format for Broker values (the WebSocket API's format).
//!
//! Every value is an object `{"@data-type": <type name>, "data": <payload>}`:
//!
//! ```
//! use broker_core::data::{json, Data};
//!
//! let value = Data::Vector(vec![Data::Count(42), Data::Real(2.5)]);
//! let text = json::to_json_string(&value);
//! assert_eq!(
//!     text,
//!     r#"{"@data-type":"vector","data":[{"@data-type":"count","data":42},{"@data-type":"real","data":2.5}]}"#
//! );
//! assert_eq!(json::from_json_str(&text).unwrap(), value);
//! ```
//!
//! # Input
//!
//! We accept what Broker accepts (see `docs/zeek-compatibility.md` for the
//! few differences): any key order; `none` with any `data` or none at all;
//! counts and integers as exact integer literals up to the `u64`/`i64` limits;
//! reals only as numbers with a `.` or an exponent; timestamps with 0–9
//! fractional digits and an optional zone; timespans as an integer or decimal
//! number with `ns`, `us`, `ms`, `s`, `min`, `h` (and `d`, which Broker
//! rejects); repeated set elements and table keys are errors.
//!
//! # Output
//!
//! Where Broker's output is lossy or invalid JSON we emit something better
//! that Broker and common clients still read:
//!
//! * reals are written in the shortest form that reads back exactly, always
//!   with a `.` or an exponent (`2.5`, `1.0`, `1e-7`); Broker writes `%f`
//!   (`0.000000` for `1e-7`). Non-finite reals, which JSON cannot express,
//!   are the strings `"inf"`, `"-inf"` and `"nan"` (Broker writes bare words);
//! * control characters in strings are escaped as `\u00XX` (Broker writes
//!   them raw); strings that are not UTF-8 have the invalid sequences
//!   replaced by U+FFFD, since a JSON text must be UTF-8 (Broker writes the
//!   raw bytes);
//! * timestamps are `YYYY-MM-DDThh:mm:ss.mmm` in UTC, floored to the
//!   millisecond (correct before 1970, where Broker is off by up to a second);
//! * timespans use the coarsest exact unit of `ns`, `us`, `ms`, `s` (`0s` for
//!   zero), exactly as Broker.

use serde_json::{Map, Number, Value};

use super::{Data, DataType, Port, Set, Subnet, Table, Timespan, Timestamp};
use crate::topic::Topic;

mod error;
mod stream;

pub use error::{JsonError, MAX_DEPTH};

/// The JSON v1 form of `data`.
pub fn to_json(data: &Data) -> Value {
    let mut map = Map::with_capacity(2);
    insert_value(&mut map, data);
    Value::Object(map)
}

/// The JSON v1 form of `data`, as compact text (the same text as
/// `to_json(data).to_string()`, written directly).
pub fn to_json_string(data: &Data) -> String {
    let mut out = String::with_capacity(64);
    write_value(data, &mut out);
    out
}

/// A WebSocket data message as compact text, keys in Broker's order.
pub fn data_message_to_json_string(topic: &Topic, data: &Data) -> String {
    let mut out = String::with_capacity(96);
    out.push_str(r#"{"type":"data-message","topic":"#);
    write_string(topic.as_str(), &mut out);
    out.push(',');
    write_fields(data, &mut out);
    out.push('}');
    out
}

/// A WebSocket data message: `{"type":"data-message","topic":…,"@data-type":…,"data":…}`.
pub fn data_message_to_json(topic: &Topic, data: &Data) -> Value {
    let mut map = Map::with_capacity(4);
    map.insert("type".into(), Value::from("data-message"));
    map.insert("topic".into(), Value::from(topic.as_str()));
    insert_value(&mut map, data);
    Value::Object(map)
}

/// The value that a JSON v1 object describes.
pub fn from_json(value: &Value) -> Result<Data, JsonError> {
    decode(value, 0)
}

/// The value that a JSON v1 text describes.
///
/// This parses the text straight into a [`Data`], without building a
/// `serde_json::Value` first (much faster than [`from_json`] on a parsed
/// value, with the same verdicts).
pub fn from_json_str(text: &str) -> Result<Data, JsonError> {
    stream::data_from_str(text)
}

/// The topic and value of a WebSocket data message given as text, parsed
/// straight into [`Data`]. Same rules as [`data_message_from_json`].
pub fn data_message_from_json_str(text: &str) -> Result<(Topic, Data), JsonError> {
    stream::message_from_str(text, false)
}

/// As [`data_message_from_json_str`], but any `"type"` is accepted (a
/// WebSocket server takes its clients' messages as data whatever they say).
pub(crate) fn data_message_from_json_str_any_type(text: &str) -> Result<(Topic, Data), JsonError> {
    stream::message_from_str(text, true)
}

/// The topic and value of a WebSocket data message. `"type"` may be missing;
/// if present it must be `"data-message"`. Unknown keys are ignored.
pub fn data_message_from_json(value: &Value) -> Result<(Topic, Data), JsonError> {
    let Value::Object(map) = value else {
        return Err(JsonError::NotAnObject);
    };
    match map.get("type") {
        None => {}
        Some(Value::String(t)) if t == "data-message" => {}
        Some(other) => return Err(JsonError::WrongMessageType(other.to_string())),
    }
    let topic = match map.get("topic") {
        Some(Value::String(t)) if !t.is_empty() => {
            Topic::new(t.as_str()).map_err(|e| JsonError::InvalidTopic(e.to_string()))?
        }
        Some(Value::String(_)) => return Err(JsonError::InvalidTopic("empty topic".into())),
        Some(_) => return Err(JsonError::InvalidTopic("topic is not a string".into())),
        None => return Err(JsonError::MissingTopic),
    };
    Ok((topic, decode(value, 0)?))
}

fn write_value(data: &Data, out: &mut String) {
    out.push('{');
    write_fields(data, out);
    out.push('}');
}

/// `"@data-type":…,"data":…` without the braces.
fn write_fields(data: &Data, out: &mut String) {
    out.push_str(r#""@data-type":""#);
    out.push_str(data.data_type().name());
    out.push_str(r#"","data":"#);
    let mut itoa = itoa::Buffer::new();
    match data {
        Data::None => out.push_str("{}"),
        Data::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Data::Count(n) => out.push_str(itoa.format(*n)),
        Data::Integer(n) => out.push_str(itoa.format(*n)),
        Data::Real(_) => out.push_str(&payload(data).to_string()),
        Data::String(s) => write_string(&s.to_string_lossy(), out),
        Data::EnumValue(e) => write_string(e.name(), out),
        Data::Address(_)
        | Data::Subnet(_)
        | Data::Port(_)
        | Data::Timestamp(_)
        | Data::Timespan(_) => {
            // None of these text forms needs escaping.
            use std::fmt::Write;
            out.push('"');
            let _ = match data {
                Data::Address(a) => write!(out, "{a}"),
                Data::Subnet(s) => write!(out, "{s}"),
                Data::Port(p) => write!(out, "{p}"),
                Data::Timestamp(t) => write!(out, "{t}"),
                Data::Timespan(t) => write!(out, "{t}"),
                _ => Ok(()),
            };
            out.push('"');
        }
        Data::Set(items) => write_array(items.iter(), out),
        Data::Vector(items) => write_array(items.iter(), out),
        Data::Table(t) => {
            out.push('[');
            for (i, (k, v)) in t.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"key":"#);
                write_value(k, out);
                out.push_str(r#","value":"#);
                write_value(v, out);
                out.push('}');
            }
            out.push(']');
        }
    }
}

fn write_array<'a>(items: impl Iterator<Item = &'a Data>, out: &mut String) {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_value(item, out);
    }
    out.push(']');
}

/// A JSON string literal, escaped as serde_json escapes: quote, backslash,
/// the short forms for backspace, form feed, newline, return and tab, and
/// `\u00XX` for the other control characters.
fn write_string(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn insert_value(map: &mut Map<String, Value>, data: &Data) {
    map.insert("@data-type".into(), Value::from(data.data_type().name()));
    map.insert("data".into(), payload(data));
}

fn payload(data: &Data) -> Value {
    match data {
        Data::None => Value::Object(Map::new()),
        Data::Boolean(b) => Value::Bool(*b),
        Data::Count(n) => Value::from(*n),
        Data::Integer(n) => Value::from(*n),
        Data::Real(x) => match Number::from_f64(*x) {
            Some(n) => Value::Number(n),
            None if x.is_nan() => Value::from("nan"),
            None if *x > 0.0 => Value::from("inf"),
            None => Value::from("-inf"),
        },
        Data::String(s) => Value::from(s.to_string_lossy().into_owned()),
        Data::Address(a) => Value::from(a.to_string()),
        Data::Subnet(s) => Value::from(s.to_string()),
        Data::Port(p) => Value::from(p.to_string()),
        Data::Timestamp(t) => Value::from(t.to_string()),
        Data::Timespan(t) => Value::from(t.to_string()),
        Data::EnumValue(e) => Value::from(e.name()),
        Data::Set(s) => Value::Array(s.iter().map(to_json).collect()),
        Data::Table(t) => Value::Array(
            t.iter()
                .map(|(k, v)| {
                    let mut entry = Map::with_capacity(2);
                    entry.insert("key".into(), to_json(k));
                    entry.insert("value".into(), to_json(v));
                    Value::Object(entry)
                })
                .collect(),
        ),
        Data::Vector(v) => Value::Array(v.iter().map(to_json).collect()),
    }
}

fn decode(value: &Value, depth: usize) -> Result<Data, JsonError> {
    if depth > MAX_DEPTH {
        return Err(JsonError::DepthLimitExceeded);
    }
    let Value::Object(map) = value else {
        return Err(JsonError::NotAnObject);
    };
    let Some(Value::String(name)) = map.get("@data-type") else {
        return Err(JsonError::MissingDataType);
    };
    let data_type =
        DataType::from_name(name).ok_or_else(|| JsonError::UnknownDataType(name.clone()))?;
    if data_type == DataType::None {
        return Ok(Data::None);
    }
    let payload = map.get("data").ok_or(JsonError::MissingData(data_type))?;
    decode_payload(data_type, payload, depth)
}

/// The value of type `data_type` that a JSON `data` member describes.
fn decode_payload(data_type: DataType, payload: &Value, depth: usize) -> Result<Data, JsonError> {
    let wrong = |expected| JsonError::WrongPayload {
        data_type,
        expected,
    };
    let invalid = |reason: String| JsonError::InvalidValue {
        data_type,
        text: payload.to_string(),
        reason,
    };
    let text = || payload.as_str().ok_or_else(|| wrong("a JSON string"));
    let array = || payload.as_array().ok_or_else(|| wrong("a JSON array"));
    Ok(match data_type {
        DataType::None => Data::None,
        DataType::Boolean => {
            Data::Boolean(payload.as_bool().ok_or_else(|| wrong("true or false"))?)
        }
        DataType::Count => match payload {
            Value::Number(n) if !n.is_f64() => Data::Count(
                n.as_u64()
                    .ok_or_else(|| invalid("not in 0..=2^64-1".into()))?,
            ),
            _ => return Err(wrong("an integer literal")),
        },
        DataType::Integer => match payload {
            Value::Number(n) if !n.is_f64() => Data::Integer(
                n.as_i64()
                    .ok_or_else(|| invalid("not in -2^63..=2^63-1".into()))?,
            ),
            _ => return Err(wrong("an integer literal")),
        },
        DataType::Real => match payload {
            Value::Number(n) if n.is_f64() => {
                Data::Real(n.as_f64().ok_or_else(|| invalid("not a double".into()))?)
            }
            Value::String(s) => Data::Real(match s.as_str() {
                "nan" => f64::NAN,
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                _ => return Err(wrong("a number with a fraction or exponent")),
            }),
            _ => return Err(wrong("a number with a fraction or exponent")),
        },
        DataType::String => Data::String(text()?.into()),
        DataType::EnumValue => Data::EnumValue(text()?.into()),
        DataType::Address => Data::Address(text()?.parse().map_err(|e| invalid(format!("{e}")))?),
        DataType::Subnet => Data::Subnet(
            text()?
                .parse::<Subnet>()
                .map_err(|e| invalid(e.to_string()))?,
        ),
        DataType::Port => Data::Port(
            text()?
                .parse::<Port>()
                .map_err(|e| invalid(e.to_string()))?,
        ),
        DataType::Timestamp => Data::Timestamp(
            text()?
                .parse::<Timestamp>()
                .map_err(|e| invalid(e.to_string()))?,
        ),
        DataType::Timespan => Data::Timespan(
            text()?
                .parse::<Timespan>()
                .map_err(|e| invalid(e.to_string()))?,
        ),
        DataType::Vector => Data::Vector(
            array()?
                .iter()
                .map(|item| decode(item, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        DataType::Set => {
            let mut set = Set::new();
            for item in array()? {
                if !set.insert(decode(item, depth + 1)?) {
                    return Err(JsonError::DuplicateSetElement);
                }
            }
            Data::Set(set)
        }
        DataType::Table => {
            let mut table = Table::new();
            for entry in array()? {
                let (Some(key), Some(value)) = (entry.get("key"), entry.get("value")) else {
                    return Err(JsonError::InvalidTableEntry);
                };
                let key = decode(key, depth + 1)?;
                if table.insert(key, decode(value, depth + 1)?).is_some() {
                    return Err(JsonError::DuplicateTableKey);
                }
            }
            Data::Table(table)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Data, JsonError> {
        from_json_str(text)
    }

    #[test]
    fn output_keeps_key_order() {
        let topic = Topic::new("/t").unwrap();
        let expected = r#"{"type":"data-message","topic":"/t","@data-type":"count","data":1}"#;
        assert_eq!(
            data_message_to_json(&topic, &Data::Count(1)).to_string(),
            expected
        );
        assert_eq!(
            data_message_to_json_string(&topic, &Data::Count(1)),
            expected
        );
    }

    #[test]
    fn direct_writer_escapes_like_serde_json() {
        let all_bytes: String = (0u8..0x80)
            .map(char::from)
            .chain("ü\u{2028}🦀".chars())
            .collect();
        let value = Data::from(all_bytes);
        assert_eq!(to_json_string(&value), to_json(&value).to_string());
    }

    #[test]
    fn reals_always_have_a_fraction_or_exponent() {
        assert_eq!(
            to_json_string(&Data::Real(1.0)),
            r#"{"@data-type":"real","data":1.0}"#
        );
        assert_eq!(
            to_json_string(&Data::Real(1e-7)),
            r#"{"@data-type":"real","data":1e-7}"#
        );
    }

    #[test]
    fn non_finite_reals_are_strings_and_read_back() {
        for x in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            let text = to_json_string(&Data::Real(x));
            assert_eq!(parse(&text).unwrap(), Data::Real(x));
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        let text = to_json_string(&Data::String(vec![b'a', 0, 0x0b, 0x1f].into()));
        assert_eq!(
            text,
            r#"{"@data-type":"string","data":"a\u0000\u000b\u001f"}"#
        );
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let text = to_json_string(&Data::String(vec![b'o', 0xff, b'k'].into()));
        assert_eq!(text, "{\"@data-type\":\"string\",\"data\":\"o\u{fffd}k\"}");
    }

    // One test per JsonError variant.

    #[test]
    fn syntax_errors() {
        let err = parse("How is it going?").unwrap_err();
        assert!(matches!(err, JsonError::Syntax(_)));
        assert_eq!(err.broker_error_name(), "invalid_json");
    }

    #[test]
    fn not_an_object() {
        assert_eq!(parse("[1,2,3]"), Err(JsonError::NotAnObject));
        assert_eq!(
            parse(r#"{"@data-type":"vector","data":[1,2]}"#),
            Err(JsonError::NotAnObject)
        );
    }

    #[test]
    fn missing_data_type() {
        assert_eq!(parse(r#"{"data":1}"#), Err(JsonError::MissingDataType));
    }

    #[test]
    fn unknown_data_type() {
        assert_eq!(
            parse(r#"{"@data-type":"phone","data":"555-0123"}"#),
            Err(JsonError::UnknownDataType("phone".into()))
        );
    }

    #[test]
    fn missing_data() {
        assert_eq!(
            parse(r#"{"@data-type":"count"}"#),
            Err(JsonError::MissingData(DataType::Count))
        );
        assert_eq!(parse(r#"{"@data-type":"none"}"#), Ok(Data::None));
    }

    #[test]
    fn wrong_payload() {
        for (text, data_type) in [
            (r#"{"@data-type":"real","data":2}"#, DataType::Real),
            (r#"{"@data-type":"count","data":1.0}"#, DataType::Count),
            (r#"{"@data-type":"boolean","data":1}"#, DataType::Boolean),
            (r#"{"@data-type":"string","data":5}"#, DataType::String),
            (
                r#"{"@data-type":"timestamp","data":1.5}"#,
                DataType::Timestamp,
            ),
        ] {
            assert!(
                matches!(parse(text), Err(JsonError::WrongPayload { data_type: t, .. }) if t == data_type),
                "{text}"
            );
        }
    }

    #[test]
    fn invalid_value() {
        for text in [
            r#"{"@data-type":"count","data":-1}"#,
            r#"{"@data-type":"integer","data":9223372036854775808}"#,
            r#"{"@data-type":"address","data":"not-an-address"}"#,
            r#"{"@data-type":"subnet","data":"10.0.0.0/33"}"#,
            r#"{"@data-type":"port","data":"70000/tcp"}"#,
            r#"{"@data-type":"timestamp","data":"2022-04-10"}"#,
            r#"{"@data-type":"timespan","data":"10 us"}"#,
        ] {
            assert!(
                matches!(parse(text), Err(JsonError::InvalidValue { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn invalid_table_entry() {
        assert_eq!(
            parse(r#"{"@data-type":"table","data":[{"key":{"@data-type":"string","data":"a"}}]}"#),
            Err(JsonError::InvalidTableEntry)
        );
    }

    #[test]
    fn duplicate_set_element() {
        let err = parse(
            r#"{"@data-type":"set","data":[{"@data-type":"count","data":1},{"@data-type":"count","data":1}]}"#,
        )
        .unwrap_err();
        assert_eq!(err, JsonError::DuplicateSetElement);
        assert_eq!(err.broker_error_name(), "deserialization_failed");
    }

    #[test]
    fn duplicate_table_key() {
        let entry = r#"{"key":{"@data-type":"count","data":1},"value":{"@data-type":"none"}}"#;
        assert_eq!(
            parse(&format!(
                r#"{{"@data-type":"table","data":[{entry},{entry}]}}"#
            )),
            Err(JsonError::DuplicateTableKey)
        );
    }

    #[test]
    fn depth_limit_exceeded() {
        let mut value = to_json(&Data::None);
        for _ in 0..=MAX_DEPTH {
            let mut map = Map::new();
            map.insert("@data-type".into(), Value::from("vector"));
            map.insert("data".into(), Value::Array(vec![value]));
            value = Value::Object(map);
        }
        assert_eq!(from_json(&value), Err(JsonError::DepthLimitExceeded));
    }

    #[test]
    fn data_message_errors() {
        let msg = |text: &str| data_message_from_json(&serde_json::from_str(text).unwrap());
        assert_eq!(
            msg(r#"{"@data-type":"count","data":1}"#),
            Err(JsonError::MissingTopic)
        );
        assert!(matches!(
            msg(r#"{"topic":"","@data-type":"count","data":1}"#),
            Err(JsonError::InvalidTopic(_))
        ));
        assert!(matches!(
            msg(r#"{"type":"error","topic":"/t","@data-type":"count","data":1}"#),
            Err(JsonError::WrongMessageType(_))
        ));
        assert_eq!(msg("[]"), Err(JsonError::NotAnObject));
        let (topic, data) =
            msg(r#"{"data":1,"@data-type":"count","topic":"/t","extra":true}"#).unwrap();
        assert_eq!((topic.as_str(), data), ("/t", Data::Count(1)));
    }
}
