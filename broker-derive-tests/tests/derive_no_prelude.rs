//! The derive's output compiles without the standard prelude.
#![no_implicit_prelude]

#[derive(::broker_core::Data)]
struct Record {
    a: u64,
    b: ::std::option::Option<::std::string::String>,
}

#[derive(::broker_core::Data)]
struct Pair(u64, i64);

#[derive(::broker_core::Data)]
struct Id(u64);

#[derive(::broker_core::Data)]
#[broker(module = "M")]
enum E {
    A,
    B,
}

#[derive(::broker_core::Data)]
struct Generic<T> {
    value: T,
}

#[test]
fn derives_compile_without_the_prelude() {
    let data = ::broker_core::data::ToData::to_data(&Record {
        a: 1,
        b: ::std::option::Option::None,
    });
    let back: Record = ::broker_core::data::FromData::from_data(&data).unwrap();
    ::std::assert_eq!(back.a, 1);
    ::std::assert!(back.b.is_none());
    let _ = ::broker_core::data::ToData::to_data(&Pair(1, 2));
    let _ = ::broker_core::data::ToData::to_data(&Id(1));
    let _ = ::broker_core::data::ToData::to_data(&E::A);
    let _ = ::broker_core::data::ToData::to_data(&E::B);
    let _ = ::broker_core::data::ToData::to_data(&Generic { value: 1u8 });
}
