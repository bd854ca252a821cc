//! `#[derive(Data)]` with `#[broker(zeek = "…")]`: a record against the
//! script's `type N: record { … }` (with its `redef record` extensions), an
//! enum against `type N: enum { … }` (with its `redef enum` extensions).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;

use super::{Script, assert_type, declared_list, nearest_list};
use crate::attr::Value;
use crate::ctxt::Ctxt;
use crate::data::model::{Body, Container, Field, Variant};

/// Tracking, type assertions, the list of enum values without a variant,
/// and the errors found.
pub(crate) fn check(container: &Container<'_>) -> TokenStream {
    let Some(zeek) = &container.attrs.zeek else {
        return TokenStream::new();
    };
    let mut cx = Ctxt::default();
    let path = Value {
        value: zeek.value.clone(),
        span: zeek.span,
    };
    let Some(script) = Script::load(&mut cx, &path) else {
        return cx.into_compile_errors();
    };
    let mut out = script.track();
    let name = container.zeek_type_name();
    let name_span = container
        .attrs
        .name
        .as_ref()
        .map_or_else(|| container.ident.span(), |n| n.span);
    match &container.body {
        Body::Record(fields) => {
            out.extend(record(
                &mut cx, container, &script, &name, name_span, fields,
            ));
        }
        Body::Enum(_, variants) => {
            out.extend(enumeration(
                &mut cx, container, &script, &name, name_span, variants,
            ));
        }
        // Rejected by the checks.
        Body::Tuple(_) | Body::Unit(_) | Body::Union(_) => {}
    }
    out.extend(cx.into_compile_errors());
    out
}

fn record(
    cx: &mut Ctxt,
    container: &Container<'_>,
    script: &Script,
    name: &str,
    name_span: Span,
    fields: &[Field<'_>],
) -> TokenStream {
    let mut out = TokenStream::new();
    let Some(declared) = script.decls.record(name) else {
        unknown_type(cx, script, name, name_span, "record");
        return out;
    };
    if declared.location.is_none() {
        cx.error_at(
            name_span,
            format!(
                "`{}` only extends the record `{name}` (`redef record`); name the file that \
                 declares it first: `zeek = \"base.zeek, {}\"`",
                script.written, script.written
            ),
        );
        return out;
    }
    let krate = container.krate();
    let private = quote!(#krate::__private);
    let script_fields = &declared.fields;
    let shape = format!(
        "`{}` declares `{name}: record {{ {} }}`",
        script.written,
        script_fields
            .iter()
            .map(|f| {
                let optional = if f.is_optional() { " &optional" } else { "" };
                format!("{}: {}{optional};", f.name, f.ty)
            })
            .collect::<Vec<_>>()
            .join(" ")
    );
    if fields.len() != script_fields.len() {
        for field in fields {
            let rust_name = field.zeek_name();
            if !script_fields.iter().any(|f| f.name == rust_name) {
                cx.error_at(
                    field.member.span(),
                    format!("record `{name}` has no field `{rust_name}`: {shape}"),
                );
            }
        }
        let missing: Vec<String> = script_fields
            .iter()
            .filter(|f| !fields.iter().any(|r| r.zeek_name() == f.name))
            .map(|f| format!("`{}: {}`", f.name, f.ty))
            .collect();
        let mut message = format!(
            "{shape}: {} field{}, but the struct has {}",
            script_fields.len(),
            plural(script_fields.len()),
            fields.len()
        );
        if !missing.is_empty() {
            message.push_str(&format!("; it lacks {}", missing.join(", ")));
        }
        cx.error_at(container.ident.span(), message);
        return out;
    }
    for (index, (field, declared)) in fields.iter().zip(script_fields).enumerate() {
        let rust_name = field.zeek_name();
        let span = field.member.span();
        if rust_name != declared.name {
            let message = match script_fields.iter().position(|f| f.name == rust_name) {
                Some(at) => format!(
                    "field `{rust_name}` of record `{name}` comes at position {at} in the script, \
                     not {index}: {shape}"
                ),
                None => format!(
                    "field {index} of record `{name}` is `{}: {}`, not `{rust_name}`: {shape}",
                    declared.name, declared.ty
                ),
            };
            cx.error_at(span, message);
            continue;
        }
        match (declared.is_optional(), field.optional) {
            (true, false) => cx.error_at(
                span,
                format!(
                    "field `{rust_name}` of record `{name}` is `&optional` in `{}`, so it may be \
                     unset: make it `Option<…>`",
                    script.written
                ),
            ),
            (false, true) => cx.error_at(
                span,
                format!(
                    "field `{rust_name}` of record `{name}` is not `&optional` in `{}`, but it is \
                     an `Option` here: Zeek rejects a record whose field `{rust_name}` is unset",
                    script.written
                ),
            ),
            _ => {
                let what = format!("record `{name}`, field `{rust_name}`");
                out.extend(assert_type(&private, script, field.ty, &declared.ty, &what));
            }
        }
    }
    out
}

fn enumeration(
    cx: &mut Ctxt,
    container: &Container<'_>,
    script: &Script,
    name: &str,
    name_span: Span,
    variants: &[Variant<'_>],
) -> TokenStream {
    let Some(declared) = script.decls.enum_type(name) else {
        unknown_type(cx, script, name, name_span, "enum");
        return TokenStream::new();
    };
    let values = || declared.values.iter().map(|(v, _)| v.as_str());
    for variant in variants {
        let value = container.enum_name(variant);
        if !declared.has_value(&value) {
            let span = variant
                .rename
                .as_ref()
                .map_or_else(|| variant.ident.span(), |r| r.span);
            let extends = if declared.location.is_none() {
                " (the script only extends it with `redef enum`)"
            } else {
                ""
            };
            cx.error_at(
                span,
                format!(
                    "variant `{}` is the Zeek value `{value}`, which the enum `{name}` in `{}` \
                     does not have{extends}; it has {}",
                    variant.ident,
                    script.written,
                    nearest_list(&value, values())
                ),
            );
        }
    }
    let mapped: Vec<String> = variants.iter().map(|v| container.enum_name(v)).collect();
    let unmapped: Vec<&str> = values()
        .filter(|v| !mapped.iter().any(|m| m == v))
        .collect();
    let listed = if unmapped.is_empty() {
        "none".to_owned()
    } else {
        unmapped
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let doc = format!(
        "The values of the Zeek enum `{name}` in `{}` that no variant maps to: {listed}. \
         Receiving one of them is an `UnknownVariant` conversion error.",
        script.written
    );
    let (ident, vis) = (container.ident, container.vis);
    let (impl_generics, ty_generics, where_clause) = container.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #ident #ty_generics #where_clause {
            #[doc = #doc]
            #[allow(dead_code)]
            #vis const UNMAPPED_ZEEK_VALUES: &'static [&'static str] = &[#(#unmapped),*];
        }
    }
}

/// The script declares no `kind` called `name`.
fn unknown_type(cx: &mut Ctxt, script: &Script, name: &str, span: Span, kind: &str) {
    let other = match kind {
        "record" if script.decls.enum_type(name).is_some() => Some("an enum"),
        "enum" if script.decls.record(name).is_some() => Some("a record"),
        _ => None,
    };
    let message = match other {
        Some(other) => format!(
            "`{}` declares `{name}` as {other}, not as {} {kind}",
            script.written,
            if kind == "enum" { "an" } else { "a" }
        ),
        None => {
            let names: Vec<&str> = if kind == "record" {
                script.decls.records().map(|r| r.name.as_str()).collect()
            } else {
                script.decls.enums().map(|e| e.name.as_str()).collect()
            };
            let declared = declared_list(&format!("{kind}s"), name, names);
            format!(
                "`{}` declares no {kind} `{name}` (the Zeek name comes from `#[broker(name = \
                 \"…\")]`, else the Rust name); {declared}",
                script.written
            )
        }
    };
    cx.error_at(span, message);
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
