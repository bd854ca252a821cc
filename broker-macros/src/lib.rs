//! Procedural macros for `broker-core`.
//!
//! Built so far: `#[derive(Data)]`, which implements `ToData` and `FromData`
//! for records (structs with named fields), tuple structs, newtypes and Zeek
//! enums (enums of unit variants). Use it through `broker_core::Data`; see
//! `docs/macros.md` for the mapping and the attributes. `#[event]`,
//! `#[handler]` and `#[published_id]` are not built yet.
//!
//! The derive is a pipeline in the style of serde_derive: `data::model`
//! parses the input into our own model, `data::check` runs named checks
//! that collect spanned errors (all reported in one compile), and
//! `data::expand` generates the code.

mod case;
mod ctxt;
mod data;

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
