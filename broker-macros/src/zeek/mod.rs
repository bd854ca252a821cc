//! Checks against Zeek scripts (`zeek = "scripts/site.zeek"`): loading a
//! script at compile time, and the `const` assertions that compare a Rust
//! type's `ZeekTyped::ZEEK_TYPE` with the type the script declares.
//!
//! The macro sees syntax, not trait impls, so it cannot know that `u64` is
//! a `count`. What it can see (names, counts, order, `Option`, enum
//! variants) it checks itself and reports with spans; for each type it emits
//!
//! ```text
//! const _: () = {
//!     let rust = <u64 as ZeekTyped>::ZEEK_TYPE;
//!     if !rust.matches(&ZeekTypeExpr::Count) { panic!("…") }
//! };
//! ```
//!
//! spanned at the Rust type, which the compiler evaluates: a mismatch is a
//! compile error at that type, whose message names the item, the Zeek type
//! the script declares and the Rust type with its Zeek type.

pub(crate) mod event;
pub(crate) mod generate;
pub(crate) mod published;
pub(crate) mod record;

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use zeek_script::{Declarations, Type};

use crate::attr::Value;
use crate::ctxt::Ctxt;

/// The scripts of one `zeek = "…"`, read and resolved at compile time.
pub(crate) struct Script {
    /// Their declarations.
    pub(crate) decls: Declarations,
    /// The value as the user wrote it, for messages.
    pub(crate) written: String,
    /// The absolute paths, for tracking.
    absolute: Vec<PathBuf>,
}

impl Script {
    /// Reads `zeek = "a.zeek"` (or `"base.zeek, site.zeek"`: several
    /// files, read in order as Zeek loads them), relative to the crate's
    /// `CARGO_MANIFEST_DIR`; a missing file or a syntax error is reported at
    /// the path.
    pub(crate) fn load(cx: &mut Ctxt, path: &Value) -> Option<Script> {
        let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") else {
            cx.error_at(
                path.span,
                "CARGO_MANIFEST_DIR is not set: `zeek = \"…\"` needs cargo to find the script",
            );
            return None;
        };
        let dir = PathBuf::from(dir);
        let mut scripts = Vec::new();
        let mut absolute = Vec::new();
        for file in path.value.split(',').map(str::trim) {
            if file.is_empty() {
                cx.error_at(path.span, "an empty file name in `zeek = \"…\"`");
                return None;
            }
            let full = dir.join(file);
            let source = match std::fs::read_to_string(&full) {
                Ok(source) => source,
                Err(e) => {
                    let why = match e.kind() {
                        std::io::ErrorKind::NotFound => "no such file".to_owned(),
                        _ => e.to_string(),
                    };
                    cx.error_at(
                        path.span,
                        format!(
                            "cannot read the Zeek script `{file}` ({why}); the path is relative \
                             to the crate's directory (CARGO_MANIFEST_DIR)"
                        ),
                    );
                    return None;
                }
            };
            match zeek_script::parse(file, &source) {
                Ok(script) => scripts.push(script),
                Err(e) => {
                    cx.error_at(path.span, format!("in the Zeek script: {e}"));
                    return None;
                }
            }
            absolute.push(full);
        }
        match Declarations::resolve(scripts) {
            Ok(decls) => Some(Script {
                decls,
                written: path.value.clone(),
                absolute,
            }),
            Err(e) => {
                cx.error_at(path.span, format!("in the Zeek script: {e}"));
                None
            }
        }
    }

    /// Items that make cargo rebuild the crate when a script changes.
    pub(crate) fn track(&self) -> TokenStream {
        let paths = self
            .absolute
            .iter()
            .map(|p| p.to_string_lossy().into_owned());
        quote! {
            #( const _: &[u8] = ::core::include_bytes!(#paths); )*
        }
    }
}

/// A `ZeekTypeExpr` constant for `ty`. Types with no Rust counterpart
/// (`pattern`, `function(…)`, `opaque of …`, …) become `any`: only a `Data`
/// matches them.
pub(crate) fn type_expr(private: &TokenStream, ty: &Type) -> TokenStream {
    let z = quote!(#private::ZeekTypeExpr);
    match ty {
        Type::Bool => quote!(#z::Bool),
        Type::Count => quote!(#z::Count),
        Type::Int => quote!(#z::Int),
        Type::Double => quote!(#z::Double),
        Type::Time => quote!(#z::Time),
        Type::Interval => quote!(#z::Interval),
        Type::String => quote!(#z::String),
        Type::Addr => quote!(#z::Addr),
        Type::Subnet => quote!(#z::Subnet),
        Type::Port => quote!(#z::Port),
        Type::Named(name) => quote!(#z::Named(#name)),
        Type::Vector(inner) => {
            let inner = type_expr(private, inner);
            quote!(#z::Vector(&#inner))
        }
        Type::Set(index) => {
            let index = index.iter().map(|t| type_expr(private, t));
            quote!(#z::Set(&[#(#index),*]))
        }
        Type::Table(index, value) => {
            let index = index.iter().map(|t| type_expr(private, t));
            let value = type_expr(private, value);
            quote!(#z::Table(&[#(#index),*], &#value))
        }
        _ => quote!(#z::Any),
    }
}

/// A `const` assertion that `rust`'s Zeek type matches `declared`, spanned
/// at `rust`; `what` names the place (``event `E`, argument 0 `n` ``).
pub(crate) fn assert_type(
    private: &TokenStream,
    script: &Script,
    rust: &syn::Type,
    declared: &Type,
    what: &str,
) -> TokenStream {
    let expr = type_expr(private, declared);
    let mut only_data = false;
    declared.walk(&mut |t| only_data |= matches!(t, Type::Pattern | Type::Other(_)));
    let hint = if only_data {
        " (only a `Data` holds what broker-rs has no type for)"
    } else {
        ""
    };
    let message = format!(
        "{what}: `{}` declares `{declared}`{hint}, but the Rust type `{}` is `",
        script.written,
        type_text(rust)
    );
    quote_spanned! {rust.span()=>
        const _: () = {
            let rust = <#rust as #private::ZeekTyped>::ZEEK_TYPE;
            if !rust.matches(&#expr) {
                let message = #private::ConstText::new()
                    .push(#message)
                    .push_type(&rust)
                    .push("`");
                ::core::panic!("{}", message.as_str());
            }
        };
    }
}

/// A Rust type as a person writes it (`Vec<u64>`, not `Vec < u64 >`).
pub(crate) fn type_text(ty: &syn::Type) -> String {
    let text = ty.to_token_stream().to_string();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' ' {
            let prev = out.chars().last();
            let next = chars.peek().copied();
            if matches!(prev, Some('<' | ':' | '&' | '(' | '['))
                || matches!(next, Some('<' | '>' | ':' | ',' | ';' | ')' | ']'))
            {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// `names` nearest to `name` first, at most ten, as `` `a`, `b` ``.
pub(crate) fn nearest_list<'a>(name: &str, names: impl IntoIterator<Item = &'a str>) -> String {
    let names = zeek_script::nearest(name, names);
    let shown: Vec<String> = names.iter().take(10).map(|n| format!("`{n}`")).collect();
    let more = names.len().saturating_sub(10);
    let mut text = shown.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// `it declares `a`, `b`` (nearest to `name` first), or `it declares no
/// {what}` when `names` is empty.
pub(crate) fn declared_list<'a>(
    what: &str,
    name: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    if names.is_empty() {
        format!("it declares no {what}")
    } else {
        format!("it declares {}", nearest_list(name, names))
    }
}

/// `a: count, b: string`.
pub(crate) fn signature(fields: &[zeek_script::Field]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.name, f.ty))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::type_text;

    /// Expanding `#[event(zeek = …)]` reads the script relative to
    /// `CARGO_MANIFEST_DIR` and tracks it with `include_bytes!` on its
    /// absolute path, so that editing the script recompiles.
    #[test]
    fn checked_items_track_their_scripts() {
        let out = crate::event::expand(
            quote::quote!(
                topic = "/t",
                name = "Site::heartbeat",
                zeek = "../broker-derive-tests/zeek/site.zeek"
            ),
            quote::quote!(
                struct Heartbeat;
            ),
        )
        .map(|t| t.to_string())
        .unwrap_or_default();
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        let expected = format!("include_bytes ! (\"{dir}/../broker-derive-tests/zeek/site.zeek\")");
        assert!(out.contains(&expected), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn rust_types_print_without_token_spaces() {
        let cases: [(syn::Type, &str); 5] = [
            (syn::parse_quote!(Vec<u64>), "Vec<u64>"),
            (
                syn::parse_quote!(std::collections::BTreeMap<(u64, String), Vec<u8>>),
                "std::collections::BTreeMap<(u64, String), Vec<u8>>",
            ),
            (
                syn::parse_quote!(Option<&'static str>),
                "Option<&'static str>",
            ),
            (syn::parse_quote!([u8; 4]), "[u8; 4]"),
            (
                syn::parse_quote!(::core::option::Option<i64>),
                "::core::option::Option<i64>",
            ),
        ];
        for (ty, text) in cases {
            assert_eq!(type_text(&ty), text);
        }
    }
}
