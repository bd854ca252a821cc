//! Zeek's binary serialization of log records: the `serial_data` of a
//! [`LogWrite`](crate::zeek::LogWrite).
//!
//! A record is a count of values followed by the values. Every value starts
//! with its Zeek type tag, a subtype tag and a presence flag; a present value
//! continues with a body whose layout depends on the type. All integers are
//! big-endian. `docs/zeek-log-format.md` describes the layout with worked
//! examples.
//!
//! ```
//! use broker_core::logs::{decode_record, encode_record, LogValue, TypeTag};
//!
//! let record = vec![LogValue::Count(7), LogValue::Unset(TypeTag::String)];
//! let bytes = encode_record(&record).unwrap();
//! assert_eq!(
//!     bytes,
//!     [
//!         0, 0, 0, 2, // two values
//!         0, 0, 0, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, // count 7
//!         0, 0, 0, 7, 0, 0, 0, 0, 0, // an unset string
//!     ]
//! );
//! assert_eq!(decode_record(&bytes).unwrap(), record);
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::data::{Address, ByteString, Port, Protocol, Subnet, real_eq};

/// The deepest nesting of containers [`decode_record`] accepts. Zeek's
/// logging only produces sets and vectors of atomic values (depth 1).
pub const MAX_DEPTH: usize = 16;

/// The fewest bytes a value takes: type (4), subtype (4), presence (1).
const MIN_VALUE_LEN: usize = 9;

/// Zeek's type tags (`TypeTag` in Zeek's `Type.h`), numbered as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TypeTag {
    /// `void`: 0, the subtype of everything but sets and vectors.
    Void = 0,
    /// `bool`: 1.
    Bool = 1,
    /// `int`: 2.
    Int = 2,
    /// `count`: 3.
    Count = 3,
    /// `double`: 4.
    Double = 4,
    /// `time`: 5.
    Time = 5,
    /// `interval`: 6.
    Interval = 6,
    /// `string`: 7.
    String = 7,
    /// `pattern`: 8 (not loggable).
    Pattern = 8,
    /// `enum`: 9.
    Enum = 9,
    /// `port`: 10.
    Port = 10,
    /// `addr`: 11.
    Addr = 11,
    /// `subnet`: 12.
    Subnet = 12,
    /// `any`: 13 (not loggable).
    Any = 13,
    /// `table`: 14; logged tables are sets.
    Table = 14,
    /// `record`: 15 (logged flattened, never as a value).
    Record = 15,
    /// `list`: 16 (not loggable).
    List = 16,
    /// `func`: 17; logged as its description.
    Func = 17,
    /// `file`: 18; logged as its name.
    File = 18,
    /// `vector`: 19.
    Vector = 19,
    /// `opaque`: 20 (not loggable).
    Opaque = 20,
    /// `type`: 21 (not loggable).
    Type = 21,
    /// `error`: 22 (not loggable).
    Error = 22,
}

impl TypeTag {
    const ALL: [TypeTag; 23] = [
        TypeTag::Void,
        TypeTag::Bool,
        TypeTag::Int,
        TypeTag::Count,
        TypeTag::Double,
        TypeTag::Time,
        TypeTag::Interval,
        TypeTag::String,
        TypeTag::Pattern,
        TypeTag::Enum,
        TypeTag::Port,
        TypeTag::Addr,
        TypeTag::Subnet,
        TypeTag::Any,
        TypeTag::Table,
        TypeTag::Record,
        TypeTag::List,
        TypeTag::Func,
        TypeTag::File,
        TypeTag::Vector,
        TypeTag::Opaque,
        TypeTag::Type,
        TypeTag::Error,
    ];

    /// The tag with this number (0–22).
    pub fn from_u64(n: u64) -> Option<TypeTag> {
        usize::try_from(n)
            .ok()
            .and_then(|i| TypeTag::ALL.get(i))
            .copied()
    }

    /// The tag's number, as a [`LogField`](crate::zeek::LogField) carries it.
    pub fn as_u64(self) -> u64 {
        self as u64
    }

    /// Zeek's name of the type, e.g. `count`.
    pub fn name(self) -> &'static str {
        match self {
            TypeTag::Void => "void",
            TypeTag::Bool => "bool",
            TypeTag::Int => "int",
            TypeTag::Count => "count",
            TypeTag::Double => "double",
            TypeTag::Time => "time",
            TypeTag::Interval => "interval",
            TypeTag::String => "string",
            TypeTag::Pattern => "pattern",
            TypeTag::Enum => "enum",
            TypeTag::Port => "port",
            TypeTag::Addr => "addr",
            TypeTag::Subnet => "subnet",
            TypeTag::Any => "any",
            TypeTag::Table => "table",
            TypeTag::Record => "record",
            TypeTag::List => "list",
            TypeTag::Func => "func",
            TypeTag::File => "file",
            TypeTag::Vector => "vector",
            TypeTag::Opaque => "opaque",
            TypeTag::Type => "type",
            TypeTag::Error => "error",
        }
    }
}

impl fmt::Display for TypeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One value of a log record, as Zeek's threading layer carries it.
///
/// Times and intervals stay doubles (seconds), as Zeek holds them, so that
/// decoding and encoding lose nothing; [`LogValue::to_data`] turns them into
/// [`Timestamp`](crate::data::Timestamp) and [`Timespan`](crate::data::Timespan).
/// Equality compares doubles as [`Data`](crate::data::Data) does (every NaN
/// equal).
#[derive(Clone, Debug)]
pub enum LogValue {
    /// A column without a value (an unset `&optional` field), of this type.
    Unset(TypeTag),
    /// `bool`.
    Bool(bool),
    /// `int`.
    Int(i64),
    /// `count`.
    Count(u64),
    /// `double`.
    Double(f64),
    /// `time`, in seconds since the epoch.
    Time(f64),
    /// `interval`, in seconds.
    Interval(f64),
    /// `string` (any bytes).
    String(ByteString),
    /// An enum value, by its full name (`Notice::ACTION_LOG`).
    Enum(String),
    /// `port`.
    Port(Port),
    /// `addr`.
    Addr(Address),
    /// `subnet`.
    Subnet(Subnet),
    /// A `set`, as its elements.
    Set(Vec<LogValue>),
    /// A `vector`; elements may be [`LogValue::Unset`] (holes).
    Vector(Vec<LogValue>),
    /// A `file`, as its name.
    File(ByteString),
    /// A `func`, as its description.
    Func(ByteString),
}

impl LogValue {
    /// The value's Zeek type tag.
    pub fn type_tag(&self) -> TypeTag {
        match self {
            LogValue::Unset(tag) => *tag,
            LogValue::Bool(_) => TypeTag::Bool,
            LogValue::Int(_) => TypeTag::Int,
            LogValue::Count(_) => TypeTag::Count,
            LogValue::Double(_) => TypeTag::Double,
            LogValue::Time(_) => TypeTag::Time,
            LogValue::Interval(_) => TypeTag::Interval,
            LogValue::String(_) => TypeTag::String,
            LogValue::Enum(_) => TypeTag::Enum,
            LogValue::Port(_) => TypeTag::Port,
            LogValue::Addr(_) => TypeTag::Addr,
            LogValue::Subnet(_) => TypeTag::Subnet,
            LogValue::Set(_) => TypeTag::Table,
            LogValue::Vector(_) => TypeTag::Vector,
            LogValue::File(_) => TypeTag::File,
            LogValue::Func(_) => TypeTag::Func,
        }
    }

    /// Whether the value is present (not [`LogValue::Unset`]).
    pub fn is_present(&self) -> bool {
        !matches!(self, LogValue::Unset(_))
    }
}

impl PartialEq for LogValue {
    fn eq(&self, other: &LogValue) -> bool {
        use LogValue as V;
        match (self, other) {
            (V::Unset(a), V::Unset(b)) => a == b,
            (V::Bool(a), V::Bool(b)) => a == b,
            (V::Int(a), V::Int(b)) => a == b,
            (V::Count(a), V::Count(b)) => a == b,
            (V::Double(a), V::Double(b))
            | (V::Time(a), V::Time(b))
            | (V::Interval(a), V::Interval(b)) => real_eq(*a, *b),
            (V::String(a), V::String(b)) | (V::File(a), V::File(b)) | (V::Func(a), V::Func(b)) => {
                a == b
            }
            (V::Enum(a), V::Enum(b)) => a == b,
            (V::Port(a), V::Port(b)) => a == b,
            (V::Addr(a), V::Addr(b)) => a == b,
            (V::Subnet(a), V::Subnet(b)) => a == b,
            (V::Set(a), V::Set(b)) | (V::Vector(a), V::Vector(b)) => a == b,
            _ => false,
        }
    }
}

/// Why a record could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A count or length does not fit Zeek's 32-bit signed field.
    #[error("{what} of {len} does not fit Zeek's 32-bit length")]
    TooLong {
        /// `record` (number of values) or `string`.
        what: &'static str,
        /// The length.
        len: usize,
    },
    /// A value type Zeek cannot carry in a log record.
    #[error("a {0} value cannot be logged")]
    Unsupported(TypeTag),
}

/// Why bytes are not a valid serialized record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct DecodeError {
    /// Where in the input the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

/// What is wrong with a serialized record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ends before the value does.
    #[error("input ends early: {wanted} more bytes needed")]
    Truncated {
        /// How many bytes the next item needs.
        wanted: usize,
    },
    /// A count or length is negative.
    #[error("negative {what} {value}")]
    Negative {
        /// `value count`, `string length` or `container size`.
        what: &'static str,
        /// The value read.
        value: i64,
    },
    /// A count claims more items than the remaining bytes could hold.
    #[error("{what} {value} exceeds what the remaining {remaining} bytes can hold")]
    TooMany {
        /// `value count` or `container size`.
        what: &'static str,
        /// The count read.
        value: i64,
        /// Bytes left after it.
        remaining: usize,
    },
    /// A type tag outside 0–22.
    #[error("unknown type tag {0}")]
    UnknownType(i32),
    /// A type Zeek never puts in a log record (pattern, record, …).
    #[error("type {0} cannot appear in a log record")]
    UnsupportedType(TypeTag),
    /// A presence flag other than 0 or 1.
    #[error("presence flag {0} is neither 0 nor 1")]
    InvalidFlag(u8),
    /// A boolean other than 0 or 1.
    #[error("boolean {0} is neither 0 nor 1")]
    InvalidBool(i64),
    /// An address family other than 4 or 6.
    #[error("address family {0} is neither 4 nor 6")]
    InvalidFamily(u8),
    /// A port protocol other than 0–3.
    #[error("port protocol {0} is not 0 to 3")]
    InvalidProtocol(i32),
    /// A port number above 65535.
    #[error("port number {0} above 65535")]
    PortOutOfRange(u64),
    /// A subnet length out of range for its family (IPv4 lengths are
    /// written plus 96).
    #[error("subnet length {length} invalid for IPv{family}")]
    InvalidSubnetLength {
        /// 4 or 6.
        family: u8,
        /// The length read.
        length: u8,
    },
    /// An enum name that is not UTF-8.
    #[error("enum name is not UTF-8")]
    NonUtf8Enum,
    /// Containers nested deeper than [`MAX_DEPTH`].
    #[error("containers nested deeper than {MAX_DEPTH}")]
    TooDeep,
    /// Bytes left over after the last value.
    #[error("{0} bytes after the last value")]
    TrailingBytes(usize),
}

/// Serializes a record (its values in column order) as Zeek does for a
/// `LogWrite`.
pub fn encode_record(values: &[LogValue]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(4 + values.len() * 16);
    let count = i32::try_from(values.len()).map_err(|_| EncodeError::TooLong {
        what: "record",
        len: values.len(),
    })?;
    out.extend_from_slice(&count.to_be_bytes());
    for value in values {
        encode_value(value, &mut out)?;
    }
    Ok(out)
}

/// Reads a record serialized by Zeek (or [`encode_record`]): exactly one
/// value count and that many values, nothing after them.
///
/// Bounded on any input: counts are checked against the bytes left before
/// anything is allocated, and containers nest at most [`MAX_DEPTH`] deep.
pub fn decode_record(bytes: &[u8]) -> Result<Vec<LogValue>, DecodeError> {
    let mut r = Reader::new(bytes);
    let count = r.i32()?;
    let count = r.count(i64::from(count), "value count")?;
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        values.push(r.value(0)?);
    }
    if r.pos < bytes.len() {
        return Err(r.error(DecodeErrorKind::TrailingBytes(bytes.len() - r.pos)));
    }
    Ok(values)
}

/// Appends one value (type, subtype 0, presence, body) as Zeek serializes
/// it; a record, or a ZeroMQ log batch, is a sequence of these.
pub(crate) fn encode_value(value: &LogValue, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let header = |out: &mut Vec<u8>, tag: TypeTag, present: bool| {
        out.extend_from_slice(&i32::from(tag as u8).to_be_bytes());
        out.extend_from_slice(&i32::from(TypeTag::Void as u8).to_be_bytes());
        out.push(u8::from(present));
    };
    let tag = value.type_tag();
    if !is_loggable(tag) {
        return Err(EncodeError::Unsupported(tag));
    }
    header(out, tag, value.is_present());
    match value {
        LogValue::Unset(_) => {}
        LogValue::Bool(b) => out.extend_from_slice(&i64::from(*b).to_be_bytes()),
        LogValue::Int(i) => out.extend_from_slice(&i.to_be_bytes()),
        LogValue::Count(c) => out.extend_from_slice(&c.to_be_bytes()),
        LogValue::Double(d) | LogValue::Time(d) | LogValue::Interval(d) => {
            out.extend_from_slice(&d.to_bits().to_be_bytes());
        }
        LogValue::String(s) | LogValue::File(s) | LogValue::Func(s) => encode_bytes(s, out)?,
        LogValue::Enum(name) => encode_bytes(name.as_bytes(), out)?,
        LogValue::Port(port) => {
            out.extend_from_slice(&u64::from(port.number).to_be_bytes());
            out.extend_from_slice(&i32::from(port.protocol as u8).to_be_bytes());
        }
        LogValue::Addr(addr) => encode_addr(addr.to_ip(), out),
        LogValue::Subnet(net) => {
            // The length as Zeek holds it internally: IPv4 prefixes plus 96.
            out.push(net.raw_len());
            encode_addr(net.network().to_ip(), out);
        }
        LogValue::Set(items) | LogValue::Vector(items) => {
            // usize always fits i64 on the platforms Rust supports.
            let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            for item in items {
                encode_value(item, out)?;
            }
        }
    }
    Ok(())
}

/// Appends a string: a 32-bit length, then the bytes.
pub(crate) fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let len = i32::try_from(bytes.len()).map_err(|_| EncodeError::TooLong {
        what: "string",
        len: bytes.len(),
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn encode_addr(ip: IpAddr, out: &mut Vec<u8>) {
    match ip {
        IpAddr::V4(v4) => {
            out.push(4);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.push(6);
            out.extend_from_slice(&v6.octets());
        }
    }
}

/// Whether values of this type can be in a log record.
pub(crate) fn is_loggable(tag: TypeTag) -> bool {
    matches!(
        tag,
        TypeTag::Bool
            | TypeTag::Int
            | TypeTag::Count
            | TypeTag::Double
            | TypeTag::Time
            | TypeTag::Interval
            | TypeTag::String
            | TypeTag::Enum
            | TypeTag::Port
            | TypeTag::Addr
            | TypeTag::Subnet
            | TypeTag::Table
            | TypeTag::Vector
            | TypeTag::File
            | TypeTag::Func
    )
}

/// A cursor over Zeek's binary serialization (records here, ZeroMQ log
/// batches in `zeromq::wire`).
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// One complete value.
    pub(crate) fn read_value(&mut self) -> Result<LogValue, DecodeError> {
        self.value(0)
    }

    /// A 32-bit length or count, checked: not negative, and at most
    /// `remaining / min_size` items of `min_size` bytes each could follow.
    pub(crate) fn read_count(
        &mut self,
        what: &'static str,
        min_size: usize,
    ) -> Result<usize, DecodeError> {
        let value = i64::from(self.i32()?);
        if value < 0 {
            return Err(self.error(DecodeErrorKind::Negative { what, value }));
        }
        let remaining = self.remaining();
        match usize::try_from(value) {
            Ok(n) if n <= remaining / min_size.max(1) => Ok(n),
            _ => Err(self.error(DecodeErrorKind::TooMany {
                what,
                value,
                remaining,
            })),
        }
    }

    /// A string: a 32-bit length, then the bytes.
    pub(crate) fn read_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        self.bytes()
    }

    /// A 32-bit signed integer.
    pub(crate) fn read_i32(&mut self) -> Result<i32, DecodeError> {
        self.i32()
    }

    /// One byte.
    pub(crate) fn read_u8(&mut self) -> Result<u8, DecodeError> {
        self.u8()
    }

    /// An error of `kind` at the current position.
    pub(crate) fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            offset: self.pos,
            kind,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let rest = &self.bytes[self.pos.min(self.bytes.len())..];
        match rest.get(..n) {
            Some(slice) => {
                self.pos += n;
                Ok(slice)
            }
            None => Err(self.error(DecodeErrorKind::Truncated {
                wanted: n - rest.len(),
            })),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let slice = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        self.array().map(i32::from_be_bytes)
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        self.array().map(i64::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_be_bytes)
    }

    fn f64(&mut self) -> Result<f64, DecodeError> {
        self.u64().map(f64::from_bits)
    }

    /// A count of values that follow, checked against the bytes left.
    fn count(&self, value: i64, what: &'static str) -> Result<usize, DecodeError> {
        if value < 0 {
            return Err(self.error(DecodeErrorKind::Negative { what, value }));
        }
        let remaining = self.bytes.len().saturating_sub(self.pos);
        match usize::try_from(value) {
            Ok(n) if n <= remaining / MIN_VALUE_LEN => Ok(n),
            _ => Err(self.error(DecodeErrorKind::TooMany {
                what,
                value,
                remaining,
            })),
        }
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.i32()?;
        let len = usize::try_from(len).map_err(|_| {
            self.error(DecodeErrorKind::Negative {
                what: "string length",
                value: i64::from(len),
            })
        })?;
        self.take(len)
    }

    fn addr(&mut self, family: u8) -> Result<IpAddr, DecodeError> {
        match family {
            4 => Ok(IpAddr::V4(Ipv4Addr::from(self.array::<4>()?))),
            6 => Ok(IpAddr::V6(Ipv6Addr::from(self.array::<16>()?))),
            other => Err(self.error(DecodeErrorKind::InvalidFamily(other))),
        }
    }

    fn value(&mut self, depth: usize) -> Result<LogValue, DecodeError> {
        let start = self.pos;
        let raw_tag = self.i32()?;
        let tag = u64::try_from(raw_tag)
            .ok()
            .and_then(TypeTag::from_u64)
            .ok_or(DecodeError {
                offset: start,
                kind: DecodeErrorKind::UnknownType(raw_tag),
            })?;
        // The subtype: Zeek's logging always writes 0 and nothing reads it.
        let _subtype = self.i32()?;
        let present = match self.u8()? {
            0 => false,
            1 => true,
            other => return Err(self.error(DecodeErrorKind::InvalidFlag(other))),
        };
        if !is_loggable(tag) {
            return Err(DecodeError {
                offset: start,
                kind: DecodeErrorKind::UnsupportedType(tag),
            });
        }
        if !present {
            return Ok(LogValue::Unset(tag));
        }
        let value = match tag {
            TypeTag::Bool => match self.i64()? {
                0 => LogValue::Bool(false),
                1 => LogValue::Bool(true),
                other => return Err(self.error(DecodeErrorKind::InvalidBool(other))),
            },
            TypeTag::Int => LogValue::Int(self.i64()?),
            TypeTag::Count => LogValue::Count(self.u64()?),
            TypeTag::Double => LogValue::Double(self.f64()?),
            TypeTag::Time => LogValue::Time(self.f64()?),
            TypeTag::Interval => LogValue::Interval(self.f64()?),
            TypeTag::String => LogValue::String(self.bytes()?.into()),
            TypeTag::File => LogValue::File(self.bytes()?.into()),
            TypeTag::Func => LogValue::Func(self.bytes()?.into()),
            TypeTag::Enum => {
                let at = self.pos;
                let name = std::str::from_utf8(self.bytes()?).map_err(|_| DecodeError {
                    offset: at,
                    kind: DecodeErrorKind::NonUtf8Enum,
                })?;
                LogValue::Enum(name.to_owned())
            }
            TypeTag::Port => {
                let number = self.u64()?;
                let number = u16::try_from(number)
                    .map_err(|_| self.error(DecodeErrorKind::PortOutOfRange(number)))?;
                let proto = self.i32()?;
                let protocol = u8::try_from(proto)
                    .ok()
                    .and_then(Protocol::from_u8)
                    .ok_or_else(|| self.error(DecodeErrorKind::InvalidProtocol(proto)))?;
                LogValue::Port(Port::new(number, protocol))
            }
            TypeTag::Addr => {
                let family = self.u8()?;
                LogValue::Addr(Address::from(self.addr(family)?))
            }
            TypeTag::Subnet => {
                let length = self.u8()?;
                let family = self.u8()?;
                let addr = self.addr(family)?;
                let valid = match family {
                    4 => (96..=128).contains(&length),
                    _ => length <= 128,
                };
                let subnet = valid
                    .then(|| Subnet::from_raw(Address::from(addr), length).ok())
                    .flatten()
                    .ok_or_else(|| {
                        self.error(DecodeErrorKind::InvalidSubnetLength { family, length })
                    })?;
                LogValue::Subnet(subnet)
            }
            TypeTag::Table | TypeTag::Vector => {
                if depth >= MAX_DEPTH {
                    return Err(self.error(DecodeErrorKind::TooDeep));
                }
                let size = self.i64()?;
                let size = self.count(size, "container size")?;
                let mut items = Vec::with_capacity(size);
                for _ in 0..size {
                    items.push(self.value(depth + 1)?);
                }
                if tag == TypeTag::Table {
                    LogValue::Set(items)
                } else {
                    LogValue::Vector(items)
                }
            }
            // Rejected by `is_loggable` above.
            other => {
                return Err(DecodeError {
                    offset: start,
                    kind: DecodeErrorKind::UnsupportedType(other),
                });
            }
        };
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(tag: u8, present: bool) -> Vec<u8> {
        let mut v = vec![0, 0, 0, tag, 0, 0, 0, 0];
        v.push(u8::from(present));
        v
    }

    fn record(values: &[&[u8]]) -> Vec<u8> {
        let mut out = (values.len() as i32).to_be_bytes().to_vec();
        for v in values {
            out.extend_from_slice(v);
        }
        out
    }

    fn kind(bytes: &[u8]) -> DecodeErrorKind {
        decode_record(bytes).unwrap_err().kind
    }

    #[test]
    fn type_tags_round_trip_through_numbers() {
        for tag in TypeTag::ALL {
            assert_eq!(TypeTag::from_u64(tag.as_u64()), Some(tag));
        }
        assert_eq!(TypeTag::from_u64(23), None);
        assert_eq!(TypeTag::Table.to_string(), "table");
    }

    #[test]
    fn decode_rejects_truncated_input() {
        assert_eq!(kind(&[0, 0]), DecodeErrorKind::Truncated { wanted: 2 });
        let mut bytes = record(&[&header(3, true)]);
        bytes.extend_from_slice(&[0, 0, 0]);
        assert_eq!(kind(&bytes), DecodeErrorKind::Truncated { wanted: 5 });
    }

    #[test]
    fn decode_rejects_negative_and_oversized_counts() {
        assert_eq!(
            kind(&(-1i32).to_be_bytes()),
            DecodeErrorKind::Negative {
                what: "value count",
                value: -1
            }
        );
        assert_eq!(
            kind(&i32::MAX.to_be_bytes()),
            DecodeErrorKind::TooMany {
                what: "value count",
                value: i64::from(i32::MAX),
                remaining: 0
            }
        );
        let mut set = header(14, true);
        set.extend_from_slice(&i64::MAX.to_be_bytes());
        assert!(matches!(
            kind(&record(&[&set])),
            DecodeErrorKind::TooMany { .. }
        ));
        let mut string = header(7, true);
        string.extend_from_slice(&(-5i32).to_be_bytes());
        assert!(matches!(
            kind(&record(&[&string])),
            DecodeErrorKind::Negative { value: -5, .. }
        ));
        let mut string = header(7, true);
        string.extend_from_slice(&1000i32.to_be_bytes());
        assert_eq!(
            kind(&record(&[&string])),
            DecodeErrorKind::Truncated { wanted: 1000 }
        );
    }

    #[test]
    fn decode_rejects_unknown_and_unloggable_types() {
        assert_eq!(
            kind(&record(&[&header(23, false)])),
            DecodeErrorKind::UnknownType(23)
        );
        assert_eq!(
            kind(&record(&[&header(8, false)])),
            DecodeErrorKind::UnsupportedType(TypeTag::Pattern)
        );
        assert_eq!(
            kind(&record(&[&header(15, true)])),
            DecodeErrorKind::UnsupportedType(TypeTag::Record)
        );
    }

    #[test]
    fn decode_rejects_bad_flags_booleans_families_and_protocols() {
        let mut flag = header(3, true);
        flag[8] = 2;
        assert_eq!(kind(&record(&[&flag])), DecodeErrorKind::InvalidFlag(2));
        let mut b = header(1, true);
        b.extend_from_slice(&2i64.to_be_bytes());
        assert_eq!(kind(&record(&[&b])), DecodeErrorKind::InvalidBool(2));
        let mut a = header(11, true);
        a.push(5);
        assert_eq!(kind(&record(&[&a])), DecodeErrorKind::InvalidFamily(5));
        let mut p = header(10, true);
        p.extend_from_slice(&80u64.to_be_bytes());
        p.extend_from_slice(&4i32.to_be_bytes());
        assert_eq!(kind(&record(&[&p])), DecodeErrorKind::InvalidProtocol(4));
        let mut p = header(10, true);
        p.extend_from_slice(&70000u64.to_be_bytes());
        p.extend_from_slice(&1i32.to_be_bytes());
        assert_eq!(kind(&record(&[&p])), DecodeErrorKind::PortOutOfRange(70000));
    }

    #[test]
    fn decode_rejects_subnet_lengths_out_of_range() {
        for (family, length, addr) in [(4u8, 24u8, &[10u8, 0, 0, 0][..]), (4, 129, &[10, 0, 0, 0])]
        {
            let mut s = header(12, true);
            s.extend_from_slice(&[length, family]);
            s.extend_from_slice(addr);
            assert_eq!(
                kind(&record(&[&s])),
                DecodeErrorKind::InvalidSubnetLength { family, length }
            );
        }
        let mut s = header(12, true);
        s.extend_from_slice(&[129, 6]);
        s.extend_from_slice(&[0; 16]);
        assert!(matches!(
            kind(&record(&[&s])),
            DecodeErrorKind::InvalidSubnetLength { family: 6, .. }
        ));
    }

    #[test]
    fn decode_rejects_non_utf8_enum_names() {
        let mut e = header(9, true);
        e.extend_from_slice(&2i32.to_be_bytes());
        e.extend_from_slice(&[0xff, 0xfe]);
        assert_eq!(kind(&record(&[&e])), DecodeErrorKind::NonUtf8Enum);
    }

    #[test]
    fn decode_rejects_deep_nesting() {
        let mut value = Vec::new();
        for _ in 0..=MAX_DEPTH {
            value.extend_from_slice(&header(19, true));
            value.extend_from_slice(&1i64.to_be_bytes());
        }
        value.extend_from_slice(&header(3, false));
        assert_eq!(kind(&record(&[&value])), DecodeErrorKind::TooDeep);
    }

    #[test]
    fn decode_rejects_trailing_bytes() {
        let mut bytes = record(&[&header(3, false)]);
        bytes.push(0);
        assert_eq!(kind(&bytes), DecodeErrorKind::TrailingBytes(1));
    }

    #[test]
    fn decode_error_reports_offset() {
        let err = decode_record(&record(&[&header(3, false), &header(23, false)])).unwrap_err();
        assert_eq!(err.offset, 13);
        assert_eq!(err.to_string(), "unknown type tag 23 at byte 13");
    }

    #[test]
    fn encode_rejects_unloggable_types() {
        assert_eq!(
            encode_record(&[LogValue::Unset(TypeTag::Pattern)]),
            Err(EncodeError::Unsupported(TypeTag::Pattern))
        );
    }
}
