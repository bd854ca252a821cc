//! `#[derive(Log)]`: a record struct as a Zeek log record.
//!
//! Parses `#[log(stream = "Conn::LOG", path = "conn")]` (both required,
//! each once) and `crate` from `#[broker(...)]`, checks that the input is
//! a struct with named fields, and implements `Log` with the two names.
//! Every mistake is reported at once, each spanned where it was written.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::ctxt::Ctxt;

/// The derive's entry point.
pub(crate) fn derive(input: &syn::DeriveInput) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::default();
    let attrs = LogAttrs::from_ast(&mut cx, input);
    check_shape(&mut cx, input);
    let (stream, path) = match (&attrs.stream, &attrs.path) {
        (Some(stream), Some(path)) => (stream.clone(), path.clone()),
        _ => {
            cx.check()?;
            // `from_ast` reports a missing name; this is not reached.
            return Err(syn::Error::new(input.ident.span(), "missing log names"));
        }
    };
    cx.check()?;
    let krate = attrs
        .krate
        .unwrap_or_else(|| syn::parse_quote!(::broker_core));
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        const _: () = {
            impl #impl_generics #krate::__private::Log for #ident #ty_generics #where_clause {
                const STREAM: &'static str = #stream;
                const PATH: &'static str = #path;
            }
        };
    })
}

/// What the attributes say.
#[derive(Default)]
struct LogAttrs {
    stream: Option<String>,
    path: Option<String>,
    krate: Option<syn::Path>,
}

impl LogAttrs {
    fn from_ast(cx: &mut Ctxt, input: &syn::DeriveInput) -> LogAttrs {
        let mut out = LogAttrs::default();
        let mut seen_log = false;
        // After a grammar error the rest of the attribute was not read, so
        // a missing name would be a false alarm.
        let mut unreadable = false;
        for attr in &input.attrs {
            if attr.path().is_ident("log") {
                seen_log = true;
                let result = attr.parse_nested_meta(|meta| {
                    let key = if meta.path.is_ident("stream") {
                        "stream"
                    } else if meta.path.is_ident("path") {
                        "path"
                    } else {
                        return Err(meta.error(
                            "unknown log attribute, expected `stream = \"…\"` or `path = \"…\"`",
                        ));
                    };
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    let value = lit.value();
                    if value.is_empty() {
                        cx.error_at(lit.span(), format!("the log {key} must not be empty"));
                    }
                    let slot = if key == "stream" {
                        &mut out.stream
                    } else {
                        &mut out.path
                    };
                    if slot.is_some() {
                        cx.error_at(lit.span(), format!("duplicate log attribute `{key}`"));
                    } else {
                        *slot = Some(value);
                    }
                    Ok(())
                });
                if let Err(e) = result {
                    unreadable = true;
                    cx.syn_error(e);
                }
            } else if attr.path().is_ident("broker") {
                // Only `crate` matters here; `#[derive(Data)]` checks the rest.
                let _ = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("crate") {
                        let lit: syn::LitStr = meta.value()?.parse()?;
                        out.krate = Some(lit.parse()?);
                    } else if meta.input.peek(syn::Token![=]) {
                        let _: syn::Lit = meta.value()?.parse()?;
                    }
                    Ok(())
                });
            }
        }
        let missing = |what: &str| {
            format!("#[derive(Log)] needs {what}: #[log(stream = \"Conn::LOG\", path = \"conn\")]")
        };
        if !seen_log {
            cx.error_at(input.ident.span(), missing("a log attribute"));
        } else if !unreadable {
            if out.stream.is_none() {
                cx.error_at(input.ident.span(), missing("the stream id"));
            }
            if out.path.is_none() {
                cx.error_at(input.ident.span(), missing("the path"));
            }
        }
        out
    }
}

/// Log records are records: structs with named fields.
fn check_shape(cx: &mut Ctxt, input: &syn::DeriveInput) {
    let span: Span = match &input.data {
        syn::Data::Struct(s) if matches!(s.fields, syn::Fields::Named(_)) => return,
        syn::Data::Struct(_) => input.ident.span(),
        syn::Data::Enum(e) => e.enum_token.span,
        syn::Data::Union(u) => u.union_token.span,
    };
    cx.error_at(
        span,
        "#[derive(Log)] needs a struct with named fields: Zeek logs records",
    );
}
