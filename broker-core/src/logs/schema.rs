//! Log columns of a Rust record type, and conversions between [`Data`] and
//! [`LogValue`]s.
//!
//! Zeek logs a record flattened: a field `id` of record type `conn_id`
//! becomes the columns `id.orig_h`, `id.orig_p`, … Each column has a type
//! tag, a subtype tag (the element type of a set or vector) and an
//! `&optional` flag; [`columns`] computes them from a
//! [`ZeekType`](crate::data::schema::ZeekType), and [`log_fields`] turns them
//! into the field list of a [`LogCreate`](crate::zeek::LogCreate).

use std::fmt;

use crate::data::schema::{RecordType, ZeekType};
use crate::data::{Data, DataType, EnumValue, Set, Timespan, Timestamp};
use crate::zeek::LogField;

use super::format::{LogValue, TypeTag};

/// One column of a flattened record type.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The dotted name, e.g. `id.orig_h`.
    pub name: String,
    /// The column's Zeek type (never a record).
    pub ty: ZeekType,
    /// The type tag.
    pub tag: TypeTag,
    /// The element type of a set or vector, otherwise [`TypeTag::Void`].
    pub subtag: TypeTag,
    /// Whether the column may be unset: the field or a record around it is
    /// `&optional` (an `Option` in Rust).
    pub optional: bool,
}

impl Column {
    /// The column as a `LogCreate` field.
    pub fn to_log_field(&self) -> LogField {
        LogField {
            name: self.name.clone(),
            secondary_name: None,
            type_tag: self.tag.as_u64(),
            subtype_tag: self.subtag.as_u64(),
            optional: self.optional,
        }
    }
}

/// Why a Rust type cannot be a log record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// Log records are records (structs with named fields).
    #[error("a log record must be a record type, found {0}")]
    NotARecord(String),
    /// A field's type cannot be logged by Zeek.
    #[error(
        "field {field} of type {ty} cannot be logged (Zeek logs atomic values, and sets and vectors of them)"
    )]
    Unloggable {
        /// The dotted field name.
        field: String,
        /// Its Zeek type.
        ty: String,
    },
}

/// Why a value does not fit its column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The value has another type than the column.
    #[error("expected {expected}, found {found}")]
    Mismatch {
        /// The column's type.
        expected: String,
        /// The value's type.
        found: DataType,
    },
    /// A time or interval does not fit 64-bit nanoseconds.
    #[error("{0} seconds is out of range for a time value")]
    TimeOutOfRange(String),
}

/// The columns of a record type, in order.
pub fn columns(ty: &ZeekType) -> Result<Vec<Column>, SchemaError> {
    let ZeekType::Record(record) = ty else {
        return Err(SchemaError::NotARecord(ty.to_string()));
    };
    let mut out = Vec::new();
    flatten_type(record, "", false, &mut out)?;
    Ok(out)
}

/// The `LogCreate` fields of a record type.
pub fn log_fields(ty: &ZeekType) -> Result<Vec<LogField>, SchemaError> {
    Ok(columns(ty)?.iter().map(Column::to_log_field).collect())
}

fn flatten_type(
    record: &RecordType,
    prefix: &str,
    optional: bool,
    out: &mut Vec<Column>,
) -> Result<(), SchemaError> {
    for field in &record.fields {
        let name = format!("{prefix}{}", field.name);
        let optional = optional || field.optional;
        if let ZeekType::Record(inner) = &field.ty {
            flatten_type(inner, &format!("{name}."), optional, out)?;
            continue;
        }
        let unloggable = || SchemaError::Unloggable {
            field: name.clone(),
            ty: field.ty.to_string(),
        };
        let (tag, subtag) = match &field.ty {
            ZeekType::Set(index) => match index.as_slice() {
                [elem] => (TypeTag::Table, atomic_tag(elem).ok_or_else(unloggable)?),
                _ => return Err(unloggable()),
            },
            ZeekType::Vector(elem) => (TypeTag::Vector, atomic_tag(elem).ok_or_else(unloggable)?),
            other => (atomic_tag(other).ok_or_else(unloggable)?, TypeTag::Void),
        };
        out.push(Column {
            name,
            ty: field.ty.clone(),
            tag,
            subtag,
            optional,
        });
    }
    Ok(())
}

/// The tag of a type that can be logged on its own or as an element.
fn atomic_tag(ty: &ZeekType) -> Option<TypeTag> {
    Some(match ty {
        ZeekType::Bool => TypeTag::Bool,
        ZeekType::Count => TypeTag::Count,
        ZeekType::Int => TypeTag::Int,
        ZeekType::Double => TypeTag::Double,
        ZeekType::String => TypeTag::String,
        ZeekType::Addr => TypeTag::Addr,
        ZeekType::Subnet => TypeTag::Subnet,
        ZeekType::Port => TypeTag::Port,
        ZeekType::Time => TypeTag::Time,
        ZeekType::Interval => TypeTag::Interval,
        ZeekType::Enum(_) => TypeTag::Enum,
        _ => return None,
    })
}

fn tag_of(ty: &ZeekType) -> TypeTag {
    match ty {
        ZeekType::Set(_) => TypeTag::Table,
        ZeekType::Vector(_) => TypeTag::Vector,
        other => atomic_tag(other).unwrap_or(TypeTag::Void),
    }
}

/// The values of a record (as its `ToData` gives it) in column order.
///
/// `ty` is the record's type; a missing trailing field and `none` are unset
/// values, and an unset nested record unsets all its columns.
pub(crate) fn flatten_values(
    ty: &RecordType,
    data: &Data,
    out: &mut Vec<LogValue>,
) -> Result<(), (String, ValueError)> {
    flatten_record(ty, Some(data), "", out)
}

fn flatten_record(
    ty: &RecordType,
    data: Option<&Data>,
    prefix: &str,
    out: &mut Vec<LogValue>,
) -> Result<(), (String, ValueError)> {
    let items = match data {
        None | Some(Data::None) => None,
        Some(Data::Vector(items)) => Some(items),
        Some(other) => {
            let name = prefix.trim_end_matches('.').to_owned();
            return Err((
                name,
                ValueError::Mismatch {
                    expected: ty.name.clone(),
                    found: other.data_type(),
                },
            ));
        }
    };
    for (i, field) in ty.fields.iter().enumerate() {
        let value = items.and_then(|items| items.get(i));
        let name = format!("{prefix}{}", field.name);
        if let ZeekType::Record(inner) = &field.ty {
            flatten_record(inner, value, &format!("{name}."), out)?;
            continue;
        }
        let value = match value {
            None => LogValue::Unset(tag_of(&field.ty)),
            Some(data) => to_log_value(&field.ty, data).map_err(|e| (name, e))?,
        };
        out.push(value);
    }
    Ok(())
}

/// The log value of `data` in a column of type `ty`.
pub fn to_log_value(ty: &ZeekType, data: &Data) -> Result<LogValue, ValueError> {
    let mismatch = || ValueError::Mismatch {
        expected: ty.to_string(),
        found: data.data_type(),
    };
    Ok(match (ty, data) {
        (_, Data::None) => LogValue::Unset(tag_of(ty)),
        (ZeekType::Bool, Data::Boolean(b)) => LogValue::Bool(*b),
        (ZeekType::Int, Data::Integer(i)) => LogValue::Int(*i),
        (ZeekType::Count, Data::Count(c)) => LogValue::Count(*c),
        (ZeekType::Double, Data::Real(d)) => LogValue::Double(*d),
        (ZeekType::Time, Data::Timestamp(t)) => LogValue::Time(t.as_secs_f64()),
        (ZeekType::Interval, Data::Timespan(t)) => LogValue::Interval(t.as_secs_f64()),
        (ZeekType::String, Data::String(s)) => LogValue::String(s.clone()),
        (ZeekType::Enum(_), Data::EnumValue(e)) => LogValue::Enum(e.name().to_owned()),
        (ZeekType::Port, Data::Port(p)) => LogValue::Port(*p),
        (ZeekType::Addr, Data::Address(a)) => LogValue::Addr(*a),
        (ZeekType::Subnet, Data::Subnet(s)) => LogValue::Subnet(*s),
        (ZeekType::Set(index), Data::Set(items)) => match index.as_slice() {
            [elem] => LogValue::Set(
                items
                    .iter()
                    .map(|item| to_log_value(elem, item))
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err(mismatch()),
        },
        (ZeekType::Vector(elem), Data::Vector(items)) => LogValue::Vector(
            items
                .iter()
                .map(|item| to_log_value(elem, item))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(mismatch()),
    })
}

impl LogValue {
    /// The value as Broker [`Data`]: unset is `none`, a time a
    /// [`Timestamp`], an interval a [`Timespan`], an enum an
    /// [`EnumValue`], a set a set, files and functions strings.
    pub fn to_data(&self) -> Result<Data, ValueError> {
        let out_of_range = |secs: f64| ValueError::TimeOutOfRange(secs.to_string());
        Ok(match self {
            LogValue::Unset(_) => Data::None,
            LogValue::Bool(b) => Data::Boolean(*b),
            LogValue::Int(i) => Data::Integer(*i),
            LogValue::Count(c) => Data::Count(*c),
            LogValue::Double(d) => Data::Real(*d),
            LogValue::Time(t) => Data::Timestamp(Timestamp::from_nanos(
                secs_to_nanos(*t, 1_000).ok_or_else(|| out_of_range(*t))?,
            )),
            LogValue::Interval(t) => Data::Timespan(Timespan::from_nanos(
                secs_to_nanos(*t, 1).ok_or_else(|| out_of_range(*t))?,
            )),
            LogValue::String(s) | LogValue::File(s) | LogValue::Func(s) => Data::String(s.clone()),
            LogValue::Enum(name) => Data::EnumValue(EnumValue::new(name)),
            LogValue::Port(p) => Data::Port(*p),
            LogValue::Addr(a) => Data::Address(*a),
            LogValue::Subnet(s) => Data::Subnet(*s),
            LogValue::Set(items) => Data::Set(
                items
                    .iter()
                    .map(LogValue::to_data)
                    .collect::<Result<Set, _>>()?,
            ),
            LogValue::Vector(items) => Data::Vector(
                items
                    .iter()
                    .map(LogValue::to_data)
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

/// Seconds as nanoseconds, rounded to the nearest multiple of `unit` ns.
///
/// Times round to the microsecond: that is Zeek's precision (packet and
/// clock timestamps are microseconds, its writers print six decimals), and
/// a double near the present resolves only about a quarter of one, so
/// rounding to nanoseconds would turn `…001000000` ns into `…000999928`.
/// Intervals are small and keep nanoseconds.
fn secs_to_nanos(secs: f64, unit: i64) -> Option<i64> {
    const NANOS: f64 = 1e9;
    if !secs.is_finite() || secs.abs() >= i64::MAX as f64 / NANOS {
        return None;
    }
    let whole = secs.trunc();
    // Exact: both have the same exponent range, and `whole` is in range.
    let frac = secs - whole;
    let units = (frac * (NANOS / unit as f64)).round() as i64;
    (whole as i64)
        .checked_mul(1_000_000_000)?
        .checked_add(units.checked_mul(unit)?)
}

/// Rebuilds the nested record value of `ty` from one [`Data`] per column
/// (in [`columns`] order): the inverse of flattening. A nested optional
/// record whose columns are all `none` becomes `none`.
pub(crate) fn nest_values(ty: &RecordType, values: &mut impl Iterator<Item = Data>) -> Data {
    let mut items = Vec::with_capacity(ty.fields.len());
    for field in &ty.fields {
        let value = match &field.ty {
            ZeekType::Record(inner) => {
                let nested = nest_values(inner, values);
                let empty =
                    matches!(&nested, Data::Vector(v) if v.iter().all(|d| *d == Data::None));
                if field.optional && empty {
                    Data::None
                } else {
                    nested
                }
            }
            _ => values.next().unwrap_or(Data::None),
        };
        items.push(value);
    }
    Data::Vector(items)
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::schema::{EnumType, RecordField};

    fn field(name: &str, ty: ZeekType, optional: bool) -> RecordField {
        RecordField {
            name: name.into(),
            ty,
            optional,
        }
    }

    fn conn_id() -> RecordType {
        RecordType {
            name: "conn_id".into(),
            fields: vec![
                field("orig_h", ZeekType::Addr, false),
                field("orig_p", ZeekType::Port, false),
            ],
        }
    }

    fn info() -> ZeekType {
        ZeekType::Record(RecordType {
            name: "Info".into(),
            fields: vec![
                field("ts", ZeekType::Time, false),
                field("id", ZeekType::Record(conn_id()), false),
                field("extra", ZeekType::Record(conn_id()), true),
                field("tags", ZeekType::Set(vec![ZeekType::String]), false),
                field(
                    "action",
                    ZeekType::Enum(EnumType {
                        name: "A".into(),
                        values: vec![],
                    }),
                    true,
                ),
            ],
        })
    }

    #[test]
    fn columns_flatten_nested_records_with_dotted_names() {
        let cols = columns(&info()).unwrap();
        let names: Vec<_> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ts",
                "id.orig_h",
                "id.orig_p",
                "extra.orig_h",
                "extra.orig_p",
                "tags",
                "action"
            ]
        );
        let fields = log_fields(&info()).unwrap();
        assert_eq!((fields[0].type_tag, fields[0].subtype_tag), (5, 0));
        assert_eq!((fields[5].type_tag, fields[5].subtype_tag), (14, 7));
        assert!(!fields[1].optional);
        assert!(fields[3].optional, "inside an optional record");
        assert!(fields[6].optional);
    }

    #[test]
    fn columns_reject_unloggable_types() {
        assert_eq!(
            columns(&ZeekType::Count),
            Err(SchemaError::NotARecord("count".into()))
        );
        for ty in [
            ZeekType::Any,
            ZeekType::Table(vec![ZeekType::String], Box::new(ZeekType::Count)),
            ZeekType::Set(vec![ZeekType::String, ZeekType::Count]),
            ZeekType::Vector(Box::new(ZeekType::Vector(Box::new(ZeekType::Count)))),
        ] {
            let record = ZeekType::Record(RecordType {
                name: "R".into(),
                fields: vec![field("x", ty.clone(), false)],
            });
            assert_eq!(
                columns(&record),
                Err(SchemaError::Unloggable {
                    field: "x".into(),
                    ty: ty.to_string()
                })
            );
        }
    }

    #[test]
    fn flatten_and_nest_are_inverse() {
        let ZeekType::Record(ty) = info() else {
            unreachable!()
        };
        let data = Data::Vector(vec![
            Data::Timestamp(Timestamp::from_nanos(1_500_000_000)),
            Data::Vector(vec![
                Data::Address("10.0.0.1".parse().unwrap()),
                Data::Port("80/tcp".parse().unwrap()),
            ]),
            Data::None,
            Data::Set([Data::from("a")].into()),
            Data::EnumValue(EnumValue::new("A::X")),
        ]);
        let mut values = Vec::new();
        flatten_values(&ty, &data, &mut values).unwrap();
        assert_eq!(values.len(), 7);
        assert_eq!(values[3], LogValue::Unset(TypeTag::Addr));
        assert_eq!(values[0], LogValue::Time(1.5));
        let datas: Vec<Data> = values.iter().map(|v| v.to_data().unwrap()).collect();
        assert_eq!(nest_values(&ty, &mut datas.into_iter()), data);
    }

    #[test]
    fn flatten_reports_the_column_of_a_mismatch() {
        let ZeekType::Record(ty) = info() else {
            unreachable!()
        };
        let data = Data::Vector(vec![Data::Count(1)]);
        let err = flatten_values(&ty, &data, &mut Vec::new()).unwrap_err();
        assert_eq!(
            err,
            (
                "ts".to_owned(),
                ValueError::Mismatch {
                    expected: "time".into(),
                    found: DataType::Count
                }
            )
        );
    }

    #[test]
    fn out_of_range_times_do_not_convert() {
        assert!(matches!(
            LogValue::Time(1e300).to_data(),
            Err(ValueError::TimeOutOfRange(_))
        ));
        assert!(LogValue::Interval(f64::NAN).to_data().is_err());
        assert!(LogValue::Time(f64::INFINITY).to_data().is_err());
    }

    #[test]
    fn times_round_to_microseconds_and_intervals_to_nanoseconds() {
        let ts = Timestamp::from_nanos(1_700_000_000_001_000_000);
        assert_eq!(
            LogValue::Time(ts.as_secs_f64()).to_data(),
            Ok(Data::Timestamp(ts))
        );
        let before_epoch = Timestamp::from_nanos(-1_500_000);
        assert_eq!(
            LogValue::Time(before_epoch.as_secs_f64()).to_data(),
            Ok(Data::Timestamp(before_epoch))
        );
        let span = Timespan::from_nanos(123_456_789);
        assert_eq!(
            LogValue::Interval(span.as_secs_f64()).to_data(),
            Ok(Data::Timespan(span))
        );
    }
}
