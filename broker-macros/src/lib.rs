//! Procedural macros for `broker-core`.
//!
//! `#[derive(Data)]` implements `ToData`, `FromData` and `ZeekTyped` for
//! records (structs with named fields), tuple structs, newtypes and Zeek
//! enums (enums of unit variants); `#[event]` makes a struct a Zeek event,
//! `#[handler]` registers a function that receives one, `#[published_id]`
//! registers a `Published<T>` static. Use them through `broker_core`; see
//! `docs/macros.md`.
//!
//! The derive is a pipeline in the style of serde_derive: `data::model`
//! parses the input into our own model, `data::check` runs named checks
//! that collect spanned errors (all reported in one compile), and
//! `data::expand` generates the code.

mod attr;
mod case;
mod ctxt;
mod data;
mod event;
mod handler;
mod log;
mod published;
mod zeek;

use proc_macro::TokenStream;

/// Implements `ToData` and `FromData` (from `broker_core`) for a struct or an
/// enum of unit variants.
///
/// | Rust | Broker |
/// |---|---|
/// | `struct S { a: A, b: Option<B> }` | vector `[a, b]` (a Zeek record; `None` is `none`) |
/// | `struct P(A, B)` | vector `[a, b]` of exactly two elements |
/// | `struct Id(u64)` | the inner value itself |
/// | `enum E { A, B }` | enum value `A` / `B` (`Module::A` with `#[broker(module = "Module")]`) |
///
/// Attributes: `#[broker(crate = "path")]`, `#[broker(module = "Notice")]`,
/// `#[broker(rename_all = "SCREAMING_SNAKE_CASE")]` (also `snake_case`,
/// `lowercase`, `UPPERCASE`) on the container; `#[broker(rename = "NAME")]`
/// on a variant.
#[proc_macro_derive(Data, attributes(broker))]
pub fn derive_data(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    data::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Makes a struct a Zeek event: its fields are the arguments, in order.
///
/// `#[event(topic = "zeek/alerts", name = "Alerts::scan")]`: `topic` (required)
/// is where the event is published and where handlers subscribe; `name`
/// (default: the struct's name) is the Zeek event name; `crate = "path"`
/// overrides the path to `broker_core`. Implements `TypedEvent` and registers
/// the event (for schemas and the auto-publish topic).
#[proc_macro_attribute]
pub fn event(args: TokenStream, item: TokenStream) -> TokenStream {
    event::expand(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Registers a `fn` or `async fn` taking an event (and optionally a
/// `Context`) as a handler of that event.
///
/// `#[handler(topic = "zeek/")]` subscribes to a wider prefix than the
/// event's own topic; `crate = "path"` as for `#[event]`.
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Registers a `static NAME: Published<T>` as the Zeek identifier `name`
/// (default: the static's name), updated by `IdentifierUpdate`s on `topic`.
#[proc_macro_attribute]
pub fn published_id(args: TokenStream, item: TokenStream) -> TokenStream {
    published::expand(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Rust types for every record, enum and event that Zeek scripts declare:
/// `zeek_types!("scripts/site.zeek", topic = "zeek/site")`.
///
/// The path is relative to the crate's directory (`CARGO_MANIFEST_DIR`);
/// `"base.zeek, site.zeek"` reads several files in order. Zeek modules
/// become Rust modules (`Site::Info` is `site::Info`); records and enums
/// derive `Data` with their Zeek names, events get `#[event]` with `topic`
/// (required). `crate = "path"` overrides the path to `broker_core`. See
/// `docs/macros.md`.
#[proc_macro]
pub fn zeek_types(input: TokenStream) -> TokenStream {
    zeek::generate::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `Log` (from `broker_core::logs`) for a struct with named
/// fields that also derives `Data`: `#[log(stream = "Conn::LOG", path =
/// "conn")]` names the Zeek log stream and its default path (both
/// required); `#[broker(crate = "path")]` is honoured.
#[proc_macro_derive(Log, attributes(log))]
pub fn derive_log(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    log::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
