//! What `#[derive(Data)]` maps each shape to, and how it reads data back.

use broker_core::data::{
    ConversionErrorKind, Data, EnumValue, FromData, PathSegment, Port, Protocol, Timestamp, ToData,
    bin,
};

#[derive(broker_core::Data, Clone, Debug, PartialEq)]
struct ConnInfo {
    ts: Timestamp,
    uid: String,
    service: Option<String>,
    port: u16,
    history: Option<String>,
    note: Option<String>,
}

#[derive(broker_core::Data, Clone, Copy, Debug, PartialEq)]
struct Pair(u64, i64);

#[derive(broker_core::Data, Clone, Copy, Debug, PartialEq)]
struct Id(u64);

#[derive(broker_core::Data, Clone, Copy, Debug, PartialEq)]
#[broker(module = "Notice", rename_all = "SCREAMING_SNAKE_CASE")]
enum Response {
    ActionLog,
    ActionEmail,
    #[broker(rename = "ACTION_PAGE_ALARM")]
    Page,
}

#[derive(broker_core::Data, Clone, Copy, Debug, PartialEq)]
#[broker(rename_all = "snake_case")]
enum Level {
    LowPriority,
    High,
}

#[derive(broker_core::Data, Clone, Copy, Debug, PartialEq)]
enum Bare {
    Up,
    Down,
}

#[derive(broker_core::Data, Clone, Debug, PartialEq)]
struct Tagged<T> {
    tag: String,
    value: T,
}

fn conn() -> ConnInfo {
    ConnInfo {
        ts: Timestamp::from_nanos(1_700_000_000_000_000_000),
        uid: "CHhAvVGS1DHFjwGM9".to_owned(),
        service: None,
        port: 443,
        history: Some("ShADad".to_owned()),
        note: None,
    }
}

fn round_trip<T: ToData + FromData + PartialEq + std::fmt::Debug + Clone>(value: T) -> Data {
    let data = value.to_data();
    assert_eq!(T::from_data(&data).unwrap(), value);
    assert_eq!(value.clone().into_data(), data);
    let decoded = bin::decode(&bin::encode(&data)).unwrap();
    assert_eq!(T::from_data(&decoded).unwrap(), value);
    data
}

#[test]
fn record_is_a_vector_of_fields_in_order_byte_exact() {
    let expected = Data::Vector(vec![
        Data::Timestamp(Timestamp::from_nanos(1_700_000_000_000_000_000)),
        Data::from("CHhAvVGS1DHFjwGM9"),
        Data::None,
        Data::Count(443),
        Data::from("ShADad"),
        Data::None,
    ]);
    let data = round_trip(conn());
    assert_eq!(data, expected);
    assert_eq!(bin::encode(&data), bin::encode(&expected));
}

#[test]
fn record_accepts_extra_trailing_elements() {
    let Data::Vector(mut items) = conn().to_data() else {
        panic!("a record is a vector");
    };
    items.push(Data::Count(7));
    items.push(Data::from("added in a newer Zeek"));
    assert_eq!(ConnInfo::from_data(&Data::Vector(items)).unwrap(), conn());
}

#[test]
fn record_accepts_missing_trailing_option_fields() {
    let Data::Vector(mut items) = conn().to_data() else {
        panic!("a record is a vector");
    };
    items.truncate(4);
    let back = ConnInfo::from_data(&Data::Vector(items)).unwrap();
    assert_eq!(
        back,
        ConnInfo {
            history: None,
            ..conn()
        }
    );
}

#[test]
fn record_rejects_missing_required_field() {
    let Data::Vector(mut items) = conn().to_data() else {
        panic!("a record is a vector");
    };
    items.truncate(3);
    let err = ConnInfo::from_data(&Data::Vector(items)).unwrap_err();
    assert_eq!(
        err.kind(),
        &ConversionErrorKind::WrongLength {
            expected: 6,
            at_least: true,
            found: 3
        }
    );
    assert_eq!(err.to_string(), "expected at least 6 elements, found 3");
}

#[test]
fn record_error_names_the_field() {
    let Data::Vector(mut items) = conn().to_data() else {
        panic!("a record is a vector");
    };
    items[3] = Data::from("443");
    let err = ConnInfo::from_data(&Data::Vector(items)).unwrap_err();
    assert_eq!(err.to_string(), "expected count, found string at .port");
    assert_eq!(
        err.path().collect::<Vec<_>>(),
        [&PathSegment::Field("port")]
    );
}

#[test]
fn record_rejects_a_non_vector() {
    let err = ConnInfo::from_data(&Data::Count(1)).unwrap_err();
    assert_eq!(err.to_string(), "expected vector, found count");
}

#[test]
fn nested_errors_have_the_full_path() {
    let data = Tagged {
        tag: "t".to_owned(),
        value: Pair(1, 2),
    }
    .to_data();
    let Data::Vector(mut items) = data else {
        panic!("a record is a vector");
    };
    items[1] = Data::Vector(vec![Data::Count(1), Data::Count(2)]);
    let err = <Tagged<Pair>>::from_data(&Data::Vector(items)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected integer, found count at .value[1]"
    );
}

#[test]
fn tuple_struct_is_a_vector_of_exactly_its_fields() {
    let data = round_trip(Pair(7, -7));
    assert_eq!(data, Data::Vector(vec![Data::Count(7), Data::Integer(-7)]));
    let err = Pair::from_data(&Data::Vector(vec![Data::Count(7)])).unwrap_err();
    assert_eq!(
        err.kind(),
        &ConversionErrorKind::WrongLength {
            expected: 2,
            at_least: false,
            found: 1
        }
    );
    let three = Data::Vector(vec![Data::Count(7), Data::Integer(-7), Data::None]);
    assert!(Pair::from_data(&three).is_err());
    let err = Pair::from_data(&Data::Vector(vec![Data::Count(7), Data::Count(7)])).unwrap_err();
    assert_eq!(err.to_string(), "expected integer, found count at [1]");
}

#[test]
fn newtype_is_transparent() {
    assert_eq!(round_trip(Id(42)), Data::Count(42));
    let err = Id::from_data(&Data::from("42")).unwrap_err();
    assert_eq!(err.to_string(), "expected count, found string");
}

#[test]
fn enum_is_a_qualified_enum_value() {
    assert_eq!(
        round_trip(Response::ActionLog),
        Data::EnumValue(EnumValue::new("Notice::ACTION_LOG"))
    );
    assert_eq!(
        round_trip(Response::ActionEmail),
        Data::EnumValue(EnumValue::new("Notice::ACTION_EMAIL"))
    );
}

#[test]
fn variant_rename_overrides_rename_all() {
    assert_eq!(
        round_trip(Response::Page),
        Data::EnumValue(EnumValue::new("Notice::ACTION_PAGE_ALARM"))
    );
}

#[test]
fn snake_case_rule_and_bare_names() {
    assert_eq!(
        round_trip(Level::LowPriority),
        Data::EnumValue(EnumValue::new("low_priority"))
    );
    assert_eq!(
        round_trip(Bare::Down),
        Data::EnumValue(EnumValue::new("Down"))
    );
}

#[test]
fn enum_rejects_unknown_name() {
    let data = Data::EnumValue(EnumValue::new("Notice::ACTION_DROP"));
    let err = Response::from_data(&data).unwrap_err();
    assert_eq!(
        err.kind(),
        &ConversionErrorKind::UnknownVariant {
            name: "Notice::ACTION_DROP".to_owned()
        }
    );
    // The unqualified name is not accepted either.
    let bare = Data::EnumValue(EnumValue::new("ACTION_LOG"));
    assert!(Response::from_data(&bare).is_err());
}

#[test]
fn enum_rejects_a_string_with_the_name() {
    let err = Response::from_data(&Data::from("Notice::ACTION_LOG")).unwrap_err();
    assert_eq!(err.to_string(), "expected enum value, found string");
}

#[test]
fn generic_record_round_trips() {
    let data = round_trip(Tagged {
        tag: "port".to_owned(),
        value: Port::new(80, Protocol::Tcp),
    });
    assert_eq!(
        data,
        Data::Vector(vec![
            Data::from("port"),
            Data::Port(Port::new(80, Protocol::Tcp))
        ])
    );
}

#[derive(broker_core::Data, Clone, Debug, PartialEq)]
#[broker(name = "Site::Keyword")]
struct Keyword {
    r#type: String,
    n: u64,
}

#[test]
fn zeek_type_consts_name_records_and_enums_and_follow_newtypes() {
    use broker_core::data::{ZeekTypeExpr, ZeekTyped};
    assert_eq!(ConnInfo::ZEEK_TYPE, ZeekTypeExpr::Named("ConnInfo"));
    assert_eq!(Keyword::ZEEK_TYPE, ZeekTypeExpr::Named("Site::Keyword"));
    assert_eq!(Response::ZEEK_TYPE, ZeekTypeExpr::Named("Notice::Response"));
    assert_eq!(Id::ZEEK_TYPE, ZeekTypeExpr::Count);
    assert_eq!(Pair::ZEEK_TYPE.to_string(), "vector of any");
    for ty in [
        ConnInfo::ZEEK_TYPE,
        Response::ZEEK_TYPE,
        Id::ZEEK_TYPE,
        Pair::ZEEK_TYPE,
    ] {
        assert!(ty.matches(&ty));
    }
    assert_eq!(
        ConnInfo::ZEEK_TYPE.to_string(),
        ConnInfo::zeek_type().to_string()
    );
    assert_eq!(<Vec<Id>>::ZEEK_TYPE.to_string(), "vector of count");
}

#[test]
fn raw_field_names_are_zeek_names_without_r_hash() {
    use broker_core::data::ZeekTyped;
    let decl = broker_core::data::schema::declarations([&Keyword::zeek_type()]);
    assert_eq!(
        decl,
        "type Site::Keyword: record { type: string; n: count; };\n"
    );
}
