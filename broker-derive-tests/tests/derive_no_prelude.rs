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

#[::broker_core::event(topic = "/no-prelude", name = "NoPrelude::ping")]
struct Ping {
    n: u64,
    record: Record,
}

#[::broker_core::event(topic = "/no-prelude")]
struct Empty;

#[::broker_core::handler]
fn on_ping(ping: Ping) {
    let _ = ping.n;
}

#[::broker_core::handler]
async fn on_empty(_: Empty, context: ::broker_core::typed::Context) {
    let _ = context.is_local();
}

#[::broker_core::published_id(topic = "/no-prelude")]
static LIMIT: ::broker_core::typed::Published<u64> = ::broker_core::typed::Published::new(3);

#[test]
fn typed_macros_compile_without_the_prelude() {
    let ping = Ping {
        n: 2,
        record: Record {
            a: 1,
            b: ::std::option::Option::None,
        },
    };
    let args = ::broker_core::typed::TypedEvent::to_args(&ping);
    let back = <Ping as ::broker_core::typed::TypedEvent>::from_args(&args).unwrap();
    ::std::assert_eq!(back.n, 2);
    ::std::assert_eq!(<Empty as ::broker_core::typed::TypedEvent>::NAME, "Empty");
    ::std::assert_eq!(LIMIT.get(), 3);
    ::std::assert_eq!(LIMIT.name(), ::std::option::Option::Some("LIMIT"));
}

// The checks against Zeek scripts and `zeek_types!` compile without the
// prelude too.
#[::broker_core::event(topic = "/no-prelude", name = "Site::tagged", zeek = "zeek/site.zeek")]
struct Tagged {
    n: u64,
    tags: ::std::collections::BTreeSet<(::std::string::String, u64)>,
}

#[derive(::broker_core::Data)]
#[broker(
    module = "Site",
    rename_all = "SCREAMING_SNAKE_CASE",
    zeek = "zeek/site.zeek"
)]
enum Level {
    Low,
    High,
}

#[::broker_core::published_id(
    topic = "/no-prelude",
    name = "Site::scan_threshold",
    zeek = "zeek/site.zeek"
)]
static THRESHOLD: ::broker_core::typed::Published<u64> = ::broker_core::typed::Published::new(25);

mod generated {
    ::broker_core::zeek_types!("zeek/management.zeek", topic = "/no-prelude/mgmt");
}

#[test]
fn zeek_checks_and_generated_types_compile_without_the_prelude() {
    let _ = Tagged {
        n: 1,
        tags: ::std::collections::BTreeSet::new(),
    };
    ::std::assert_eq!(Level::UNMAPPED_ZEEK_VALUES.len(), 2);
    let _ = (Level::Low, Level::High, THRESHOLD.get());
    let _ = generated::management::Role::Agent;
}
