//! Conversions between Rust types and [`Data`]: [`ToData`] and [`FromData`].
//!
//! | Rust | Broker |
//! |---|---|
//! | `bool` | boolean |
//! | `u8`…`u64`, `usize` | count (range-checked on the way back) |
//! | `i8`…`i64`, `isize` | integer (range-checked on the way back) |
//! | `f32`, `f64` | real |
//! | `String`, `&str`, [`ByteString`] | string (`String` needs valid UTF-8) |
//! | `Vec<u8>`, `&[u8]` | string (bytes) |
//! | `IpAddr`, `Ipv4Addr`, `Ipv6Addr`, [`Address`] | address |
//! | [`Subnet`], [`Port`], [`EnumValue`] | subnet, port, enum value |
//! | `SystemTime`, [`Timestamp`] | timestamp |
//! | `Duration`, [`Timespan`] | timespan (negative fails for `Duration`) |
//! | `Option<T>` | `none` for `None`, else `T` |
//! | `Vec<T>`, `[T; N]`, `&[T]`, tuples | vector |
//! | `BTreeSet<T>`, `HashSet<T>` | set |
//! | `BTreeMap<K, V>`, `HashMap<K, V>` | table |
//! | [`Data`] | itself |
//!
//! A failed conversion is a [`ConversionError`] that says what was expected,
//! what was found, and where inside a nested value.
//!
//! ```
//! use broker_core::data::{Data, FromData, ToData};
//!
//! let data = (42u64, "hi").to_data();
//! assert_eq!(data.to_string(), "(42, hi)");
//! let back: (u64, String) = FromData::from_data(&data).unwrap();
//! assert_eq!(back, (42, "hi".to_owned()));
//!
//! let err = <Vec<u8>>::from_data(&Data::Count(1)).unwrap_err();
//! assert_eq!(err.to_string(), "expected string, found count");
//! let err = <Vec<u16>>::from_data(&vec![1u64, 70_000].to_data()).unwrap_err();
//! assert_eq!(err.to_string(), "count 70000 out of range for u16 at [1]");
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime};

use super::{
    Address, ByteString, Data, DataType, EnumValue, Port, Set, Subnet, Table, Timespan, Timestamp,
};

/// Converts a Rust value into a Broker [`Data`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be converted to Broker data",
    label = "no Broker conversion for this type",
    note = "Broker values are numbers, strings, addresses, subnets, ports, Timestamp, \
            Timespan, enums, Option, Vec, sets and maps of these; \
            derive the rest with `#[derive(broker_core::Data)]`"
)]
pub trait ToData {
    /// The value as Broker data.
    fn to_data(&self) -> Data;

    /// The value as Broker data, consuming it (avoids copies where possible).
    fn into_data(self) -> Data
    where
        Self: Sized,
    {
        self.to_data()
    }

    /// Appends the value's bin v1 encoding to `out`: the conversion, then
    /// the encoding, by default; `Data` encodes directly, without a copy.
    #[doc(hidden)]
    fn encode_bin(&self, out: &mut Vec<u8>) {
        super::bin::encode_into(&self.to_data(), out);
    }

    /// Like [`ToData::encode_bin`], consuming the value: what publishing
    /// uses, so that an owned value converts without copies and a borrowed
    /// `Data` encodes without one.
    #[doc(hidden)]
    fn into_bin(self, out: &mut Vec<u8>)
    where
        Self: Sized,
    {
        super::bin::encode_into(&self.into_data(), out);
    }

    /// How a slice of this type converts: a vector by default. `u8`
    /// overrides it so that `Vec<u8>` and `&[u8]` become byte strings.
    #[doc(hidden)]
    fn slice_to_data(items: &[Self]) -> Data
    where
        Self: Sized,
    {
        Data::Vector(items.iter().map(ToData::to_data).collect())
    }
}

/// Converts a Broker [`Data`] into a Rust value, checking its type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read from Broker data",
    label = "no Broker conversion for this type",
    note = "derive it with `#[derive(broker_core::Data)]` or implement `FromData`"
)]
pub trait FromData: Sized {
    /// The value, or an error naming the expected and the found type.
    fn from_data(data: &Data) -> Result<Self, ConversionError>;

    /// How a `Vec` of this type converts back: from a vector by default.
    /// `u8` overrides it so that `Vec<u8>` comes from a byte string.
    #[doc(hidden)]
    fn vec_from_data(data: &Data) -> Result<Vec<Self>, ConversionError> {
        let items = expect_vector(data, "vector")?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| Self::from_data(item).map_err(|e| e.at(PathSegment::Index(i))))
            .collect()
    }
}

/// A step into a nested value, for error paths.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathSegment {
    /// An element of a vector (or a tuple, or an event argument) by position.
    Index(usize),
    /// A named record field.
    Field(&'static str),
    /// A key of a table.
    Key,
    /// The value of a table entry.
    Value,
    /// An element of a set.
    Element,
}

/// What went wrong in a conversion.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConversionErrorKind {
    /// The value has another type than the one expected.
    TypeMismatch {
        /// What was expected, e.g. `count` or `vector of 3 elements`.
        expected: &'static str,
        /// The type found.
        found: DataType,
    },
    /// A number does not fit the target type.
    OutOfRange {
        /// The value, as text.
        value: String,
        /// The Rust type it was converted to.
        target: &'static str,
    },
    /// A vector has the wrong number of elements.
    WrongLength {
        /// The number of elements expected (at least this many where
        /// `at_least` is set).
        expected: usize,
        /// Whether more elements are allowed.
        at_least: bool,
        /// The number found.
        found: usize,
    },
    /// A string is not valid UTF-8.
    InvalidUtf8,
    /// An enum name is not one of the known names.
    UnknownVariant {
        /// The name found.
        name: String,
    },
    /// Something else, described by the converting type.
    Other(String),
}

/// A failed conversion from [`Data`]: what was expected, what was found, and
/// the path to the offending value inside nested containers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConversionError {
    kind: ConversionErrorKind,
    /// Innermost segment first.
    path: Vec<PathSegment>,
}

impl ConversionError {
    /// An error of this kind at the top level.
    pub fn new(kind: ConversionErrorKind) -> ConversionError {
        ConversionError {
            kind,
            path: Vec::new(),
        }
    }

    /// A type mismatch: `expected` was wanted, `found` was there.
    pub fn type_mismatch(expected: &'static str, found: &Data) -> ConversionError {
        ConversionError::new(ConversionErrorKind::TypeMismatch {
            expected,
            found: found.data_type(),
        })
    }

    /// The same error, one level deeper: `segment` leads to where it was.
    pub fn at(mut self, segment: PathSegment) -> ConversionError {
        self.path.push(segment);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ConversionErrorKind {
        &self.kind
    }

    /// The path from the outermost value to the offending one.
    pub fn path(&self) -> impl Iterator<Item = &PathSegment> {
        self.path.iter().rev()
    }
}

impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ConversionErrorKind::TypeMismatch { expected, found } => {
                write!(f, "expected {expected}, found {found}")?;
            }
            ConversionErrorKind::OutOfRange { value, target } => {
                write!(f, "{value} out of range for {target}")?;
            }
            ConversionErrorKind::WrongLength {
                expected,
                at_least,
                found,
            } => {
                let least = if *at_least { "at least " } else { "" };
                write!(f, "expected {least}{expected} elements, found {found}")?;
            }
            ConversionErrorKind::InvalidUtf8 => f.write_str("string is not valid UTF-8")?,
            ConversionErrorKind::UnknownVariant { name } => {
                write!(f, "unknown enum name {name:?}")?;
            }
            ConversionErrorKind::Other(text) => f.write_str(text)?,
        }
        if !self.path.is_empty() {
            f.write_str(" at ")?;
            for segment in self.path() {
                match segment {
                    PathSegment::Index(i) => write!(f, "[{i}]")?,
                    PathSegment::Field(name) => write!(f, ".{name}")?,
                    PathSegment::Key => f.write_str("{key}")?,
                    PathSegment::Value => f.write_str("{value}")?,
                    PathSegment::Element => f.write_str("{element}")?,
                }
            }
        }
        Ok(())
    }
}

/// The elements of a vector, or a type mismatch naming `expected`.
#[doc(hidden)]
pub(crate) fn expect_vector<'a>(
    data: &'a Data,
    expected: &'static str,
) -> Result<&'a [Data], ConversionError> {
    match data {
        Data::Vector(items) => Ok(items),
        other => Err(ConversionError::type_mismatch(expected, other)),
    }
}

impl ToData for Data {
    fn to_data(&self) -> Data {
        self.clone()
    }

    fn into_data(self) -> Data {
        self
    }

    fn encode_bin(&self, out: &mut Vec<u8>) {
        super::bin::encode_into(self, out);
    }
}

impl FromData for Data {
    fn from_data(data: &Data) -> Result<Data, ConversionError> {
        Ok(data.clone())
    }
}

impl<T: ToData + ?Sized> ToData for &T {
    fn to_data(&self) -> Data {
        (**self).to_data()
    }

    fn encode_bin(&self, out: &mut Vec<u8>) {
        (**self).encode_bin(out);
    }

    fn into_bin(self, out: &mut Vec<u8>) {
        (*self).encode_bin(out);
    }
}

/// Implements both traits for a type that maps onto one `Data` variant.
macro_rules! simple {
    ($ty:ty, $variant:ident, $name:literal) => {
        impl ToData for $ty {
            fn to_data(&self) -> Data {
                Data::$variant(self.clone())
            }

            fn into_data(self) -> Data {
                Data::$variant(self)
            }
        }

        impl FromData for $ty {
            fn from_data(data: &Data) -> Result<$ty, ConversionError> {
                match data {
                    Data::$variant(v) => Ok(v.clone()),
                    other => Err(ConversionError::type_mismatch($name, other)),
                }
            }
        }

        impl From<$ty> for Data {
            fn from(v: $ty) -> Data {
                Data::$variant(v)
            }
        }
    };
}

simple!(bool, Boolean, "boolean");
simple!(u64, Count, "count");
simple!(i64, Integer, "integer");
simple!(f64, Real, "real");
simple!(ByteString, String, "string");
simple!(Address, Address, "address");
simple!(Subnet, Subnet, "subnet");
simple!(Port, Port, "port");
simple!(Timestamp, Timestamp, "timestamp");
simple!(Timespan, Timespan, "timespan");
simple!(EnumValue, EnumValue, "enum value");
simple!(Set, Set, "set");
simple!(Table, Table, "table");

/// Narrower integers: widen on the way out, range-check on the way back.
macro_rules! narrow_int {
    ($wide:ty, $variant:ident, $name:literal: $($ty:ty),*) => {$(
        impl ToData for $ty {
            fn to_data(&self) -> Data {
                // Lossless: every one of these types fits in the wide type.
                Data::$variant(*self as $wide)
            }
        }

        impl FromData for $ty {
            fn from_data(data: &Data) -> Result<$ty, ConversionError> {
                match data {
                    Data::$variant(n) => <$ty>::try_from(*n).map_err(|_| {
                        ConversionError::new(ConversionErrorKind::OutOfRange {
                            value: format!("{} {n}", $name),
                            target: stringify!($ty),
                        })
                    }),
                    other => Err(ConversionError::type_mismatch($name, other)),
                }
            }
        }

        impl From<$ty> for Data {
            fn from(v: $ty) -> Data {
                v.to_data()
            }
        }
    )*};
}

narrow_int!(u64, Count, "count": u16, u32, usize);
narrow_int!(i64, Integer, "integer": i8, i16, i32, isize);

impl ToData for u8 {
    fn to_data(&self) -> Data {
        Data::Count(u64::from(*self))
    }

    fn slice_to_data(items: &[u8]) -> Data {
        Data::String(ByteString::from(items))
    }
}

impl FromData for u8 {
    fn from_data(data: &Data) -> Result<u8, ConversionError> {
        match data {
            Data::Count(n) => u8::try_from(*n).map_err(|_| {
                ConversionError::new(ConversionErrorKind::OutOfRange {
                    value: format!("count {n}"),
                    target: "u8",
                })
            }),
            other => Err(ConversionError::type_mismatch("count", other)),
        }
    }

    fn vec_from_data(data: &Data) -> Result<Vec<u8>, ConversionError> {
        match data {
            Data::String(s) => Ok(s.as_bytes().to_vec()),
            other => Err(ConversionError::type_mismatch("string", other)),
        }
    }
}

impl From<u8> for Data {
    fn from(v: u8) -> Data {
        Data::Count(u64::from(v))
    }
}

impl ToData for f32 {
    fn to_data(&self) -> Data {
        Data::Real(f64::from(*self))
    }
}

impl FromData for f32 {
    /// Narrows with `as` (rounding to the nearest `f32`), as Zeek has no
    /// single-precision type to check against.
    fn from_data(data: &Data) -> Result<f32, ConversionError> {
        match data {
            Data::Real(x) => Ok(*x as f32),
            other => Err(ConversionError::type_mismatch("real", other)),
        }
    }
}

impl ToData for str {
    fn to_data(&self) -> Data {
        Data::String(ByteString::from(self))
    }
}

impl ToData for String {
    fn to_data(&self) -> Data {
        Data::String(ByteString::from(self.as_str()))
    }

    fn into_data(self) -> Data {
        Data::String(ByteString::from(self))
    }
}

impl FromData for String {
    fn from_data(data: &Data) -> Result<String, ConversionError> {
        match data {
            Data::String(s) => s
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| ConversionError::new(ConversionErrorKind::InvalidUtf8)),
            other => Err(ConversionError::type_mismatch("string", other)),
        }
    }
}

impl From<&str> for Data {
    fn from(s: &str) -> Data {
        s.to_data()
    }
}

impl From<String> for Data {
    fn from(s: String) -> Data {
        s.into_data()
    }
}

impl ToData for IpAddr {
    fn to_data(&self) -> Data {
        Data::Address((*self).into())
    }
}

impl FromData for IpAddr {
    fn from_data(data: &Data) -> Result<IpAddr, ConversionError> {
        Address::from_data(data).map(|a| a.to_ip())
    }
}

impl ToData for Ipv4Addr {
    fn to_data(&self) -> Data {
        Data::Address((*self).into())
    }
}

impl FromData for Ipv4Addr {
    fn from_data(data: &Data) -> Result<Ipv4Addr, ConversionError> {
        match Address::from_data(data)?.to_ip() {
            IpAddr::V4(v4) => Ok(v4),
            IpAddr::V6(v6) => Err(ConversionError::new(ConversionErrorKind::OutOfRange {
                value: format!("address {v6}"),
                target: "Ipv4Addr",
            })),
        }
    }
}

impl ToData for Ipv6Addr {
    fn to_data(&self) -> Data {
        Data::Address((*self).into())
    }
}

impl FromData for Ipv6Addr {
    /// IPv4 addresses come back in their mapped form, `::ffff:a.b.c.d`.
    fn from_data(data: &Data) -> Result<Ipv6Addr, ConversionError> {
        Address::from_data(data).map(|a| Ipv6Addr::from(a.octets()))
    }
}

impl From<IpAddr> for Data {
    fn from(ip: IpAddr) -> Data {
        ip.to_data()
    }
}

impl ToData for SystemTime {
    /// Times outside Broker's range (1677–2262) saturate at its ends.
    fn to_data(&self) -> Data {
        let ts = Timestamp::try_from(*self).unwrap_or_else(|_| {
            if *self > SystemTime::UNIX_EPOCH {
                Timestamp::from_nanos(i64::MAX)
            } else {
                Timestamp::from_nanos(i64::MIN)
            }
        });
        Data::Timestamp(ts)
    }
}

impl FromData for SystemTime {
    fn from_data(data: &Data) -> Result<SystemTime, ConversionError> {
        Timestamp::from_data(data).map(SystemTime::from)
    }
}

impl ToData for Duration {
    /// Durations longer than about 292 years saturate at `i64::MAX` ns.
    fn to_data(&self) -> Data {
        Data::Timespan(Timespan::try_from(*self).unwrap_or(Timespan::from_nanos(i64::MAX)))
    }
}

impl FromData for Duration {
    fn from_data(data: &Data) -> Result<Duration, ConversionError> {
        let span = Timespan::from_data(data)?;
        Duration::try_from(span).map_err(|_| {
            ConversionError::new(ConversionErrorKind::OutOfRange {
                value: format!("timespan {span}"),
                target: "Duration",
            })
        })
    }
}

impl<T: ToData> ToData for Option<T> {
    fn to_data(&self) -> Data {
        match self {
            Some(v) => v.to_data(),
            None => Data::None,
        }
    }

    fn into_data(self) -> Data {
        match self {
            Some(v) => v.into_data(),
            None => Data::None,
        }
    }
}

impl<T: FromData> FromData for Option<T> {
    fn from_data(data: &Data) -> Result<Option<T>, ConversionError> {
        match data {
            Data::None => Ok(None),
            other => T::from_data(other).map(Some),
        }
    }
}

impl<T: ToData> ToData for [T] {
    fn to_data(&self) -> Data {
        T::slice_to_data(self)
    }
}

impl<T: ToData> ToData for Vec<T> {
    fn to_data(&self) -> Data {
        T::slice_to_data(self)
    }
}

impl<T: FromData> FromData for Vec<T> {
    fn from_data(data: &Data) -> Result<Vec<T>, ConversionError> {
        T::vec_from_data(data)
    }
}

impl<T: ToData, const N: usize> ToData for [T; N] {
    fn to_data(&self) -> Data {
        T::slice_to_data(self)
    }
}

impl From<Vec<Data>> for Data {
    fn from(v: Vec<Data>) -> Data {
        Data::Vector(v)
    }
}

fn set_elements<T: FromData>(data: &Data) -> impl Iterator<Item = Result<T, ConversionError>> {
    let set = match data {
        Data::Set(s) => Ok(s),
        other => Err(ConversionError::type_mismatch("set", other)),
    };
    let (items, err) = match set {
        Ok(s) => (Some(s.iter()), None),
        Err(e) => (None, Some(Err(e))),
    };
    err.into_iter().chain(
        items
            .into_iter()
            .flatten()
            .map(|item| T::from_data(item).map_err(|e| e.at(PathSegment::Element))),
    )
}

fn table_entries<K: FromData, V: FromData>(
    data: &Data,
) -> impl Iterator<Item = Result<(K, V), ConversionError>> {
    let table = match data {
        Data::Table(t) => Ok(t),
        other => Err(ConversionError::type_mismatch("table", other)),
    };
    let (entries, err) = match table {
        Ok(t) => (Some(t.iter()), None),
        Err(e) => (None, Some(Err(e))),
    };
    err.into_iter()
        .chain(entries.into_iter().flatten().map(|(k, v)| {
            let key = K::from_data(k).map_err(|e| e.at(PathSegment::Key))?;
            let value = V::from_data(v).map_err(|e| e.at(PathSegment::Value))?;
            Ok((key, value))
        }))
}

impl<T: ToData> ToData for BTreeSet<T> {
    fn to_data(&self) -> Data {
        Data::Set(self.iter().map(ToData::to_data).collect())
    }
}

impl<T: FromData + Ord> FromData for BTreeSet<T> {
    fn from_data(data: &Data) -> Result<BTreeSet<T>, ConversionError> {
        set_elements(data).collect()
    }
}

impl<T: ToData, S> ToData for HashSet<T, S> {
    fn to_data(&self) -> Data {
        Data::Set(self.iter().map(ToData::to_data).collect())
    }
}

impl<T: FromData + Eq + Hash, S: BuildHasher + Default> FromData for HashSet<T, S> {
    fn from_data(data: &Data) -> Result<HashSet<T, S>, ConversionError> {
        set_elements(data).collect()
    }
}

impl<K: ToData, V: ToData> ToData for BTreeMap<K, V> {
    fn to_data(&self) -> Data {
        Data::Table(
            self.iter()
                .map(|(k, v)| (k.to_data(), v.to_data()))
                .collect(),
        )
    }
}

impl<K: FromData + Ord, V: FromData> FromData for BTreeMap<K, V> {
    fn from_data(data: &Data) -> Result<BTreeMap<K, V>, ConversionError> {
        table_entries(data).collect()
    }
}

impl<K: ToData, V: ToData, S> ToData for HashMap<K, V, S> {
    fn to_data(&self) -> Data {
        Data::Table(
            self.iter()
                .map(|(k, v)| (k.to_data(), v.to_data()))
                .collect(),
        )
    }
}

impl<K: FromData + Eq + Hash, V: FromData, S: BuildHasher + Default> FromData for HashMap<K, V, S> {
    fn from_data(data: &Data) -> Result<HashMap<K, V, S>, ConversionError> {
        table_entries(data).collect()
    }
}

impl ToData for () {
    fn to_data(&self) -> Data {
        Data::Vector(Vec::new())
    }
}

impl FromData for () {
    fn from_data(data: &Data) -> Result<(), ConversionError> {
        match expect_vector(data, "vector")? {
            [] => Ok(()),
            items => Err(ConversionError::new(ConversionErrorKind::WrongLength {
                expected: 0,
                at_least: false,
                found: items.len(),
            })),
        }
    }
}

/// Tuples are vectors of exactly their arity.
macro_rules! tuple {
    ($len:literal: $($name:ident $idx:tt),+) => {
        impl<$($name: ToData),+> ToData for ($($name,)+) {
            fn to_data(&self) -> Data {
                Data::Vector(vec![$(self.$idx.to_data()),+])
            }
        }

        impl<$($name: FromData),+> FromData for ($($name,)+) {
            fn from_data(data: &Data) -> Result<Self, ConversionError> {
                let items = expect_vector(data, "vector")?;
                if items.len() != $len {
                    return Err(ConversionError::new(ConversionErrorKind::WrongLength {
                        expected: $len,
                        at_least: false,
                        found: items.len(),
                    }));
                }
                Ok(($(
                    $name::from_data(&items[$idx])
                        .map_err(|e| e.at(PathSegment::Index($idx)))?,
                )+))
            }
        }
    };
}

tuple!(1: A 0);
tuple!(2: A 0, B 1);
tuple!(3: A 0, B 1, C 2);
tuple!(4: A 0, B 1, C 2, D 3);
tuple!(5: A 0, B 1, C 2, D 3, E 4);
tuple!(6: A 0, B 1, C 2, D 3, E 4, F 5);
tuple!(7: A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple!(8: A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple!(9: A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple!(10: A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple!(11: A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple!(12: A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: ToData + FromData + PartialEq + fmt::Debug>(value: T) {
        let data = value.to_data();
        assert_eq!(T::from_data(&data).unwrap(), value);
    }

    #[test]
    fn encoding_for_publishing_matches_the_encoder_however_passed() {
        let data = Data::Vector(vec![Data::Count(42), Data::from("test")]);
        let expected = crate::data::bin::encode(&data);
        let bin = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut out = Vec::new();
            f(&mut out);
            out
        };
        assert_eq!(bin(&|out| data.clone().into_bin(out)), expected);
        assert_eq!(bin(&|out| (&data).into_bin(out)), expected);
        assert_eq!(bin(&|out| data.encode_bin(out)), expected);
        let typed = (42u64, "test".to_owned());
        assert_eq!(bin(&|out| typed.clone().into_bin(out)), expected);
        assert_eq!(bin(&|out| (&typed).into_bin(out)), expected);
    }

    #[test]
    fn scalars_round_trip() {
        round_trip(true);
        round_trip(u8::MAX);
        round_trip(u16::MAX);
        round_trip(u32::MAX);
        round_trip(u64::MAX);
        round_trip(usize::MAX);
        round_trip(i8::MIN);
        round_trip(i16::MIN);
        round_trip(i32::MIN);
        round_trip(i64::MIN);
        round_trip(isize::MIN);
        round_trip(1.5f32);
        round_trip(-2.25f64);
        round_trip("text".to_owned());
        round_trip(ByteString::from(vec![0xff]));
        round_trip(vec![0u8, 1, 255]);
        round_trip(IpAddr::from([10, 0, 0, 1]));
        round_trip(Ipv4Addr::new(10, 0, 0, 1));
        round_trip(Ipv6Addr::LOCALHOST);
        round_trip("10.0.0.0/8".parse::<Subnet>().unwrap());
        round_trip(Port::new(80, super::super::Protocol::Tcp));
        round_trip(SystemTime::UNIX_EPOCH + Duration::from_nanos(123));
        round_trip(Duration::from_millis(1500));
        round_trip(EnumValue::new("Conn::LOG"));
    }

    #[test]
    fn containers_round_trip() {
        round_trip(Some(5u64));
        round_trip(None::<u64>);
        round_trip(vec!["a".to_owned(), "b".to_owned()]);
        round_trip(BTreeSet::from([1i32, 2, 3]));
        round_trip(HashSet::<u16>::from([7, 8]));
        round_trip(BTreeMap::from([("k".to_owned(), vec![1u64])]));
        round_trip(HashMap::<u32, bool>::from([(1, true), (2, false)]));
        round_trip((1u8, "two".to_owned(), 3.0f64));
        round_trip(());
    }

    #[test]
    fn bytes_become_strings_and_other_vecs_become_vectors() {
        assert_eq!(vec![104u8, 105].to_data(), Data::from("hi"));
        assert_eq!(b"hi"[..].to_data(), Data::from("hi"));
        assert_eq!(
            vec![1u16, 2].to_data(),
            Data::Vector(vec![Data::Count(1), Data::Count(2)])
        );
        assert_eq!([1i8].to_data(), Data::Vector(vec![Data::Integer(1)]));
    }

    #[test]
    fn range_checks_reject_large_values() {
        let err = u8::from_data(&Data::Count(256)).unwrap_err();
        assert_eq!(
            err.kind(),
            &ConversionErrorKind::OutOfRange {
                value: "count 256".to_owned(),
                target: "u8"
            }
        );
        assert!(i32::from_data(&Data::Integer(i64::MAX)).is_err());
        assert!(Duration::from_data(&Data::Timespan(Timespan::from_nanos(-1))).is_err());
        assert!(Ipv4Addr::from_data(&"::1".parse::<IpAddr>().unwrap().to_data()).is_err());
    }

    #[test]
    fn type_mismatches_name_both_types() {
        let err = u64::from_data(&Data::Integer(1)).unwrap_err();
        assert_eq!(
            err.kind(),
            &ConversionErrorKind::TypeMismatch {
                expected: "count",
                found: DataType::Integer
            }
        );
        assert_eq!(err.to_string(), "expected count, found integer");
    }

    #[test]
    fn invalid_utf8_is_an_error_for_string() {
        let err = String::from_data(&Data::String(vec![0xff].into())).unwrap_err();
        assert_eq!(err.kind(), &ConversionErrorKind::InvalidUtf8);
    }

    #[test]
    fn errors_carry_the_path_into_nested_values() {
        let data = vec![
            BTreeMap::from([("a".to_owned(), 1u64)]).to_data(),
            Data::Table(Table::from([(Data::from("b"), Data::from("x"))])),
        ]
        .to_data();
        let err = <Vec<BTreeMap<String, u64>>>::from_data(&data).unwrap_err();
        assert_eq!(
            err.path().cloned().collect::<Vec<_>>(),
            vec![PathSegment::Index(1), PathSegment::Value]
        );
        assert_eq!(
            err.to_string(),
            "expected count, found string at [1]{value}"
        );
    }

    #[test]
    fn tuples_need_their_exact_arity() {
        let err = <(u64, u64)>::from_data(&vec![1u64].to_data()).unwrap_err();
        assert_eq!(
            err.kind(),
            &ConversionErrorKind::WrongLength {
                expected: 2,
                at_least: false,
                found: 1
            }
        );
        let err = <(u64, String)>::from_data(&(1u64, 2u64).to_data()).unwrap_err();
        assert_eq!(err.path().next(), Some(&PathSegment::Index(1)));
    }
}
