//! serde support for [`Data`], so CBOR (ciborium) and other formats carry it.
//!
//! `Data` is written as an externally tagged enum whose variant names are the
//! JSON v1 type names (`"count"`, `"enum-value"`, …). Strings and addresses
//! are byte strings; subnets are `(address bytes, raw length)`; ports are
//! `(number, protocol)`; timestamps and timespans are nanoseconds; tables are
//! sequences of `(key, value)` pairs, so non-string keys work in every format.
//! Deserializing validates like the binary decoder: repeated set elements or
//! table keys, bad subnet lengths and unknown port protocols are errors.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::{
    Address, ByteString, Data, EnumValue, Port, Protocol, Set, Subnet, Table, Timespan, Timestamp,
};

#[derive(Serialize)]
enum ReprRef<'a> {
    #[serde(rename = "none")]
    None,
    #[serde(rename = "boolean")]
    Boolean(bool),
    #[serde(rename = "count")]
    Count(u64),
    #[serde(rename = "integer")]
    Integer(i64),
    #[serde(rename = "real")]
    Real(f64),
    #[serde(rename = "string")]
    String(Bytes<'a>),
    #[serde(rename = "address")]
    Address(Bytes<'a>),
    #[serde(rename = "subnet")]
    Subnet(Bytes<'a>, u8),
    #[serde(rename = "port")]
    Port(u16, u8),
    #[serde(rename = "timestamp")]
    Timestamp(i64),
    #[serde(rename = "timespan")]
    Timespan(i64),
    #[serde(rename = "enum-value")]
    EnumValue(&'a str),
    #[serde(rename = "set")]
    Set(#[serde(serialize_with = "set_as_seq")] &'a Set),
    #[serde(rename = "table")]
    Table(#[serde(serialize_with = "table_as_pairs")] &'a Table),
    #[serde(rename = "vector")]
    Vector(&'a [Data]),
}

#[derive(Deserialize)]
enum ReprOwned {
    #[serde(rename = "none")]
    None,
    #[serde(rename = "boolean")]
    Boolean(bool),
    #[serde(rename = "count")]
    Count(u64),
    #[serde(rename = "integer")]
    Integer(i64),
    #[serde(rename = "real")]
    Real(f64),
    #[serde(rename = "string")]
    String(ByteBuf),
    #[serde(rename = "address")]
    Address(ByteBuf),
    #[serde(rename = "subnet")]
    Subnet(ByteBuf, u8),
    #[serde(rename = "port")]
    Port(u16, u8),
    #[serde(rename = "timestamp")]
    Timestamp(i64),
    #[serde(rename = "timespan")]
    Timespan(i64),
    #[serde(rename = "enum-value")]
    EnumValue(String),
    #[serde(rename = "set")]
    Set(Vec<Data>),
    #[serde(rename = "table")]
    Table(Vec<(Data, Data)>),
    #[serde(rename = "vector")]
    Vector(Vec<Data>),
}

impl Serialize for Data {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let octets;
        let repr = match self {
            Data::None => ReprRef::None,
            Data::Boolean(b) => ReprRef::Boolean(*b),
            Data::Count(n) => ReprRef::Count(*n),
            Data::Integer(n) => ReprRef::Integer(*n),
            Data::Real(x) => ReprRef::Real(*x),
            Data::String(s) => ReprRef::String(Bytes(s.as_bytes())),
            Data::Address(a) => {
                octets = a.octets();
                ReprRef::Address(Bytes(&octets))
            }
            Data::Subnet(s) => {
                octets = s.network().octets();
                ReprRef::Subnet(Bytes(&octets), s.raw_len())
            }
            Data::Port(p) => ReprRef::Port(p.number, p.protocol as u8),
            Data::Timestamp(t) => ReprRef::Timestamp(t.as_nanos()),
            Data::Timespan(t) => ReprRef::Timespan(t.as_nanos()),
            Data::EnumValue(e) => ReprRef::EnumValue(e.name()),
            Data::Set(s) => ReprRef::Set(s),
            Data::Table(t) => ReprRef::Table(t),
            Data::Vector(v) => ReprRef::Vector(v),
        };
        repr.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Data, D::Error> {
        Ok(match ReprOwned::deserialize(deserializer)? {
            ReprOwned::None => Data::None,
            ReprOwned::Boolean(b) => Data::Boolean(b),
            ReprOwned::Count(n) => Data::Count(n),
            ReprOwned::Integer(n) => Data::Integer(n),
            ReprOwned::Real(x) => Data::Real(x),
            ReprOwned::String(b) => Data::String(ByteString::from(b.0)),
            ReprOwned::Address(b) => Data::Address(address::<D::Error>(b)?),
            ReprOwned::Subnet(b, len) => Data::Subnet(
                Subnet::from_raw(address::<D::Error>(b)?, len).map_err(de::Error::custom)?,
            ),
            ReprOwned::Port(number, protocol) => {
                let protocol = Protocol::from_u8(protocol).ok_or_else(|| {
                    de::Error::custom(format!("invalid port protocol {protocol}"))
                })?;
                Data::Port(Port::new(number, protocol))
            }
            ReprOwned::Timestamp(n) => Data::Timestamp(Timestamp::from_nanos(n)),
            ReprOwned::Timespan(n) => Data::Timespan(Timespan::from_nanos(n)),
            ReprOwned::EnumValue(name) => Data::EnumValue(EnumValue::new(name)),
            ReprOwned::Set(items) => {
                let len = items.len();
                let set: Set = items.into_iter().collect();
                if set.len() != len {
                    return Err(de::Error::custom("duplicate set element"));
                }
                Data::Set(set)
            }
            ReprOwned::Table(entries) => {
                let len = entries.len();
                let table: Table = entries.into_iter().collect();
                if table.len() != len {
                    return Err(de::Error::custom("duplicate table key"));
                }
                Data::Table(table)
            }
            ReprOwned::Vector(items) => Data::Vector(items),
        })
    }
}

fn address<E: de::Error>(bytes: ByteBuf) -> Result<Address, E> {
    let octets: [u8; 16] = bytes
        .0
        .try_into()
        .map_err(|b: Vec<u8>| E::invalid_length(b.len(), &"16 address bytes"))?;
    Ok(Address::from_octets(octets))
}

fn set_as_seq<S: Serializer>(set: &&Set, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(set.iter())
}

fn table_as_pairs<S: Serializer>(table: &&Table, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(table.iter())
}

/// Borrowed bytes written with `serialize_bytes`.
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Owned bytes read from a byte string, a text string or a sequence of bytes.
struct ByteBuf(Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ByteBuf, D::Error> {
        deserializer.deserialize_byte_buf(ByteBufVisitor)
    }
}

struct ByteBufVisitor;

impl<'de> Visitor<'de> for ByteBufVisitor {
    type Value = ByteBuf;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
        Ok(ByteBuf(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
        Ok(ByteBuf(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteBuf, E> {
        Ok(ByteBuf(v.as_bytes().to_vec()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ByteBuf, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(ByteBuf(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_json_round_trip_of_every_type() {
        let value = Data::Vector(vec![
            Data::None,
            Data::Boolean(true),
            Data::Count(u64::MAX),
            Data::Integer(i64::MIN),
            Data::Real(-7.5),
            Data::String(vec![0xff, b'a'].into()),
            Data::Address("10.0.0.1".parse().unwrap()),
            Data::Subnet("10.0.0.0/8".parse().unwrap()),
            Data::Port(Port::new(53, Protocol::Udp)),
            Data::Timestamp(Timestamp::from_nanos(-1)),
            Data::Timespan(Timespan::from_nanos(5)),
            Data::EnumValue(EnumValue::new("Conn::LOG")),
            Data::Set([Data::Count(1), Data::Count(2)].into_iter().collect()),
            Data::Table([(Data::Count(1), Data::from("x"))].into_iter().collect()),
        ]);
        let text = serde_json::to_string(&value).unwrap();
        assert_eq!(serde_json::from_str::<Data>(&text).unwrap(), value);
    }

    #[test]
    fn deserialize_rejects_duplicates_and_bad_fields() {
        let dup_set = r#"{"set":[{"count":1},{"count":1}]}"#;
        assert!(serde_json::from_str::<Data>(dup_set).is_err());
        let dup_key = r#"{"table":[[{"count":1},"none"],[{"count":1},"none"]]}"#;
        assert!(serde_json::from_str::<Data>(dup_key).is_err());
        assert!(serde_json::from_str::<Data>(r#"{"port":[80,9]}"#).is_err());
        assert!(serde_json::from_str::<Data>(r#"{"address":[1,2,3]}"#).is_err());
        let long_subnet = format!(r#"{{"subnet":[{:?},200]}}"#, [0u8; 16]);
        assert!(serde_json::from_str::<Data>(&long_subnet).is_err());
    }
}
