//! The Broker data model: [`Data`] and its fifteen value types.
//!
//! Every value that crosses a Broker connection is a [`Data`]. The variants map
//! one to one onto Broker's type tags (the first byte of every binary encoded
//! value), and the order of the variants is Broker's cross-type order.
//!
//! | tag | variant | Rust payload |
//! |---:|---|---|
//! | 0 | [`Data::None`] | — |
//! | 1 | [`Data::Boolean`] | `bool` |
//! | 2 | [`Data::Count`] | `u64` |
//! | 3 | [`Data::Integer`] | `i64` |
//! | 4 | [`Data::Real`] | `f64` |
//! | 5 | [`Data::String`] | [`ByteString`] (bytes, not necessarily UTF-8) |
//! | 6 | [`Data::Address`] | [`Address`] (IPv4 kept as IPv4-mapped IPv6) |
//! | 7 | [`Data::Subnet`] | [`Subnet`] (host bits always masked) |
//! | 8 | [`Data::Port`] | [`Port`] |
//! | 9 | [`Data::Timestamp`] | [`Timestamp`] (i64 ns since the UNIX epoch) |
//! | 10 | [`Data::Timespan`] | [`Timespan`] (i64 ns) |
//! | 11 | [`Data::EnumValue`] | [`EnumValue`] (a Zeek enum name such as `Conn::LOG`) |
//! | 12 | [`Data::Set`] | [`Set`] (sorted, like a `BTreeSet<Data>`) |
//! | 13 | [`Data::Table`] | [`Table`] (sorted by key, like a `BTreeMap<Data, Data>`) |
//! | 14 | [`Data::Vector`] | [`Vector`] (`Vec<Data>`) |
//!
//! # Ordering
//!
//! `Data` has a total order, needed because sets and tables are ordered
//! containers. It is Broker's order: first by type tag (so any count sorts
//! before any integer), then by value. Strings and enum names compare bytewise,
//! addresses by their 16 bytes, subnets by address then length, ports by number
//! then protocol, containers lexicographically.
//!
//! Reals are the one place where we differ: Broker compares them with IEEE
//! `<`, which is not a total order (NaN). We use [`f64::total_cmp`] with all
//! NaNs made one value (see [`real_cmp`]), so NaN equals itself and sorts
//! above +inf, and `-0.0` sorts before (and is not equal to) `+0.0`.
//! Equality and hashing agree with that order.
//!
//! ```
//! use broker_core::data::Data;
//!
//! assert!(Data::Count(100) < Data::Integer(-100)); // tag 2 < tag 3
//! assert!(Data::from("Baz") < Data::from("bar")); // bytewise
//! assert_eq!(Data::Real(f64::NAN), Data::Real(f64::NAN));
//! ```

mod address;
pub mod bin;
mod container;
mod convert;
pub mod json;
mod port;
pub mod schema;
mod serde_impl;
mod string;
mod time;
pub mod view;

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

pub use address::{Address, Subnet, SubnetError};
pub use container::{
    Keys, Set, SetIntoIter, SetIter, Table, TableIntoIter, TableIter, TableIterMut, Values,
    ValuesMut,
};
pub(crate) use convert::expect_vector;
pub use convert::{ConversionError, ConversionErrorKind, FromData, PathSegment, ToData};
pub use port::{Port, PortParseError, Protocol};
pub use schema::{ZeekType, ZeekTypeExpr, ZeekTyped};
pub use string::{ByteString, EnumValue};
pub use time::{TimeError, Timespan, Timestamp};

/// A Broker vector: a sequence of values (Zeek records, vectors, lists).
pub type Vector = Vec<Data>;

/// A Broker value: one of Broker's fifteen types.
///
/// ```
/// use broker_core::data::{Data, Port, Protocol};
///
/// let event_args = Data::Vector(vec![
///     Data::from("hello"),
///     Data::Count(42),
///     Data::Port(Port::new(80, Protocol::Tcp)),
/// ]);
/// assert_eq!(event_args.to_string(), "(hello, 42, 80/tcp)");
/// ```
#[derive(Clone, Debug, Default)]
pub enum Data {
    /// The empty value (`nil`); also an unset optional record field.
    #[default]
    None,
    /// A boolean.
    Boolean(bool),
    /// An unsigned 64-bit integer (Zeek `count`).
    Count(u64),
    /// A signed 64-bit integer (Zeek `int`).
    Integer(i64),
    /// A double (Zeek `double`).
    Real(f64),
    /// A byte string (Zeek `string`); need not be UTF-8.
    String(ByteString),
    /// An IPv4 or IPv6 address.
    Address(Address),
    /// An IP subnet.
    Subnet(Subnet),
    /// A transport-layer port.
    Port(Port),
    /// A point in time.
    Timestamp(Timestamp),
    /// A time interval.
    Timespan(Timespan),
    /// A Zeek enum value, by name.
    EnumValue(EnumValue),
    /// An ordered set.
    Set(Set),
    /// An ordered map.
    Table(Table),
    /// A sequence.
    Vector(Vector),
}

/// The type of a [`Data`] value, numbered with Broker's type tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum DataType {
    /// Tag 0.
    None = 0,
    /// Tag 1.
    Boolean = 1,
    /// Tag 2.
    Count = 2,
    /// Tag 3.
    Integer = 3,
    /// Tag 4.
    Real = 4,
    /// Tag 5.
    String = 5,
    /// Tag 6.
    Address = 6,
    /// Tag 7.
    Subnet = 7,
    /// Tag 8.
    Port = 8,
    /// Tag 9.
    Timestamp = 9,
    /// Tag 10.
    Timespan = 10,
    /// Tag 11.
    EnumValue = 11,
    /// Tag 12.
    Set = 12,
    /// Tag 13.
    Table = 13,
    /// Tag 14.
    Vector = 14,
}

impl DataType {
    /// Every type, in tag order.
    pub const ALL: [DataType; 15] = [
        DataType::None,
        DataType::Boolean,
        DataType::Count,
        DataType::Integer,
        DataType::Real,
        DataType::String,
        DataType::Address,
        DataType::Subnet,
        DataType::Port,
        DataType::Timestamp,
        DataType::Timespan,
        DataType::EnumValue,
        DataType::Set,
        DataType::Table,
        DataType::Vector,
    ];

    /// Broker's type tag (the first byte of a bin v1 value).
    pub const fn tag(self) -> u8 {
        self as u8
    }

    /// The type with the given tag, if the tag is known (0 to 14).
    pub fn from_tag(tag: u8) -> Option<DataType> {
        Some(match tag {
            0 => DataType::None,
            1 => DataType::Boolean,
            2 => DataType::Count,
            3 => DataType::Integer,
            4 => DataType::Real,
            5 => DataType::String,
            6 => DataType::Address,
            7 => DataType::Subnet,
            8 => DataType::Port,
            9 => DataType::Timestamp,
            10 => DataType::Timespan,
            11 => DataType::EnumValue,
            12 => DataType::Set,
            13 => DataType::Table,
            14 => DataType::Vector,
            _ => return None,
        })
    }

    /// The name used in the JSON v1 format's `@data-type` key, e.g. `enum-value`.
    pub const fn name(self) -> &'static str {
        match self {
            DataType::None => "none",
            DataType::Boolean => "boolean",
            DataType::Count => "count",
            DataType::Integer => "integer",
            DataType::Real => "real",
            DataType::String => "string",
            DataType::Address => "address",
            DataType::Subnet => "subnet",
            DataType::Port => "port",
            DataType::Timestamp => "timestamp",
            DataType::Timespan => "timespan",
            DataType::EnumValue => "enum-value",
            DataType::Set => "set",
            DataType::Table => "table",
            DataType::Vector => "vector",
        }
    }

    /// The type whose JSON v1 name is `name`.
    pub fn from_name(name: &str) -> Option<DataType> {
        DataType::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Data {
    /// Whether dropping this value frees memory: false for numbers, short
    /// strings and the other fixed-size values (see the `Drop` of sets and
    /// tables).
    #[inline]
    pub(crate) fn owns_heap(&self) -> bool {
        match self {
            Data::String(s) => !s.is_inline(),
            Data::EnumValue(e) => !e.is_inline(),
            Data::Set(_) | Data::Table(_) | Data::Vector(_) => true,
            Data::None
            | Data::Boolean(_)
            | Data::Count(_)
            | Data::Integer(_)
            | Data::Real(_)
            | Data::Address(_)
            | Data::Subnet(_)
            | Data::Port(_)
            | Data::Timestamp(_)
            | Data::Timespan(_) => false,
        }
    }

    /// The type of this value.
    pub fn data_type(&self) -> DataType {
        match self {
            Data::None => DataType::None,
            Data::Boolean(_) => DataType::Boolean,
            Data::Count(_) => DataType::Count,
            Data::Integer(_) => DataType::Integer,
            Data::Real(_) => DataType::Real,
            Data::String(_) => DataType::String,
            Data::Address(_) => DataType::Address,
            Data::Subnet(_) => DataType::Subnet,
            Data::Port(_) => DataType::Port,
            Data::Timestamp(_) => DataType::Timestamp,
            Data::Timespan(_) => DataType::Timespan,
            Data::EnumValue(_) => DataType::EnumValue,
            Data::Set(_) => DataType::Set,
            Data::Table(_) => DataType::Table,
            Data::Vector(_) => DataType::Vector,
        }
    }

    /// Whether this is [`Data::None`].
    pub fn is_none(&self) -> bool {
        matches!(self, Data::None)
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Data::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The count, if this is one.
    pub fn as_count(&self) -> Option<u64> {
        match self {
            Data::Count(n) => Some(*n),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Data::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The real, if this is one.
    pub fn as_real(&self) -> Option<f64> {
        match self {
            Data::Real(x) => Some(*x),
            _ => None,
        }
    }

    /// The string as `&str`, if this is a string holding valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Data::String(s) => s.as_str(),
            _ => None,
        }
    }

    /// The string's bytes, if this is a string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Data::String(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// The elements, if this is a vector.
    pub fn as_vector(&self) -> Option<&Vector> {
        match self {
            Data::Vector(v) => Some(v),
            _ => None,
        }
    }

    /// The elements, if this is a set.
    pub fn as_set(&self) -> Option<&Set> {
        match self {
            Data::Set(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a table.
    pub fn as_table(&self) -> Option<&Table> {
        match self {
            Data::Table(t) => Some(t),
            _ => None,
        }
    }
}

impl PartialEq for Data {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Data {}

impl PartialOrd for Data {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Data {
    /// Strings, the common elements of sets and keys of tables, compare
    /// inline (this is inlined into the B-tree's and sort's loops); the rest
    /// out of line.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        if let (Data::String(a), Data::String(b)) = (self, other) {
            return a.cmp(b);
        }
        self.cmp_general(other)
    }
}

impl Data {
    fn cmp_general(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Data::None, Data::None) => Ordering::Equal,
            (Data::Boolean(a), Data::Boolean(b)) => a.cmp(b),
            (Data::Count(a), Data::Count(b)) => a.cmp(b),
            (Data::Integer(a), Data::Integer(b)) => a.cmp(b),
            (Data::Real(a), Data::Real(b)) => real_cmp(*a, *b),
            (Data::String(a), Data::String(b)) => a.cmp(b),
            (Data::Address(a), Data::Address(b)) => a.cmp(b),
            (Data::Subnet(a), Data::Subnet(b)) => a.cmp(b),
            (Data::Port(a), Data::Port(b)) => a.cmp(b),
            (Data::Timestamp(a), Data::Timestamp(b)) => a.cmp(b),
            (Data::Timespan(a), Data::Timespan(b)) => a.cmp(b),
            (Data::EnumValue(a), Data::EnumValue(b)) => a.cmp(b),
            (Data::Set(a), Data::Set(b)) => a.iter().cmp(b.iter()),
            (Data::Table(a), Data::Table(b)) => a.iter().cmp(b.iter()),
            (Data::Vector(a), Data::Vector(b)) => a.iter().cmp(b.iter()),
            (a, b) => a.data_type().cmp(&b.data_type()),
        }
    }
}

impl Hash for Data {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u8(self.data_type().tag());
        match self {
            Data::None => {}
            Data::Boolean(b) => b.hash(state),
            Data::Count(n) => n.hash(state),
            Data::Integer(n) => n.hash(state),
            // Consistent with `real_cmp`: equal reals have equal bits once
            // NaNs are made canonical.
            Data::Real(x) => canonical_real_bits(*x).hash(state),
            Data::String(s) => s.hash(state),
            Data::Address(a) => a.hash(state),
            Data::Subnet(s) => s.hash(state),
            Data::Port(p) => p.hash(state),
            Data::Timestamp(t) => t.hash(state),
            Data::Timespan(t) => t.hash(state),
            Data::EnumValue(e) => e.hash(state),
            Data::Set(s) => s.hash(state),
            Data::Table(t) => t.hash(state),
            Data::Vector(v) => v.hash(state),
        }
    }
}

/// Broker's text form: `nil`, `T`/`F`, `(a, b)` for vectors, `{a, b}` for sets,
/// `{k -> v}` for tables; strings are written raw (invalid UTF-8 replaced).
impl fmt::Display for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Data::None => f.write_str("nil"),
            Data::Boolean(true) => f.write_str("T"),
            Data::Boolean(false) => f.write_str("F"),
            Data::Count(n) => write!(f, "{n}"),
            Data::Integer(n) => write!(f, "{n}"),
            Data::Real(x) => write!(f, "{x:?}"),
            Data::String(s) => write!(f, "{s}"),
            Data::Address(a) => write!(f, "{a}"),
            Data::Subnet(s) => write!(f, "{s}"),
            Data::Port(p) => write!(f, "{p}"),
            Data::Timestamp(t) => write!(f, "{t}"),
            Data::Timespan(t) => write!(f, "{t}"),
            Data::EnumValue(e) => write!(f, "{e}"),
            Data::Set(s) => write_list(f, "{", s.iter(), "}"),
            Data::Table(t) => {
                f.write_str("{")?;
                for (i, (k, v)) in t.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} -> {v}")?;
                }
                f.write_str("}")
            }
            Data::Vector(v) => write_list(f, "(", v.iter(), ")"),
        }
    }
}

/// The order of reals in [`Data`]: `f64::total_cmp`, except that every NaN
/// is the same value (the wire has only one NaN) and sorts above +inf.
pub fn real_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.total_cmp(&b),
    }
}

/// Equality of reals as in [`real_cmp`].
pub fn real_eq(a: f64, b: f64) -> bool {
    real_cmp(a, b) == Ordering::Equal
}

fn canonical_real_bits(x: f64) -> u64 {
    if x.is_nan() {
        f64::NAN.to_bits()
    } else {
        x.to_bits()
    }
}

fn write_list<'a>(
    f: &mut fmt::Formatter<'_>,
    open: &str,
    items: impl Iterator<Item = &'a Data>,
    close: &str,
) -> fmt::Result {
    f.write_str(open)?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str(close)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_type_tags_and_names_round_trip() {
        for t in DataType::ALL {
            assert_eq!(DataType::from_tag(t.tag()), Some(t));
            assert_eq!(DataType::from_name(t.name()), Some(t));
        }
        assert_eq!(DataType::from_tag(15), None);
        assert_eq!(DataType::from_name("phone"), None);
    }

    #[test]
    fn order_is_by_tag_first() {
        assert!(Data::None < Data::Boolean(false));
        assert!(Data::Count(u64::MAX) < Data::Integer(i64::MIN));
        assert!(Data::Integer(i64::MAX) < Data::Real(f64::NEG_INFINITY));
        assert!(Data::Vector(vec![]) > Data::Table(Table::new()));
    }

    #[test]
    fn reals_use_total_order() {
        assert_eq!(Data::Real(f64::NAN), Data::Real(f64::NAN));
        assert_eq!(Data::Real(-f64::NAN), Data::Real(f64::NAN));
        assert_eq!(
            Data::Real(f64::from_bits(0x7ff0_0000_0000_0001)),
            Data::Real(f64::NAN)
        );
        assert!(Data::Real(-f64::NAN) > Data::Real(f64::INFINITY));
        assert!(Data::Real(-0.0) < Data::Real(0.0));
        assert_ne!(Data::Real(-0.0), Data::Real(0.0));
        assert!(Data::Real(f64::INFINITY) < Data::Real(f64::NAN));
    }

    #[test]
    fn containers_compare_lexicographically() {
        let short = Data::Vector(vec![Data::Count(1)]);
        let long = Data::Vector(vec![Data::Count(1), Data::Count(0)]);
        assert!(short < long);
        assert!(Data::Vector(vec![Data::Count(2)]) > long);
    }

    #[test]
    fn display_uses_broker_text_forms() {
        let mut table = Table::new();
        table.insert(Data::from("a"), Data::Count(2));
        let value = Data::Vector(vec![
            Data::None,
            Data::Boolean(true),
            Data::Set([Data::Count(1), Data::Count(2)].into_iter().collect()),
            Data::Table(table),
        ]);
        assert_eq!(value.to_string(), "(nil, T, {1, 2}, {a -> 2})");
    }
}
