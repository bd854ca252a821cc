//! `#[event(zeek = "…")]`: the struct against `global <name>: event(…);`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;

use super::{Script, assert_type, declared_list, signature};
use crate::attr::Value;
use crate::ctxt::Ctxt;

/// The checks of event `name` (declared by `strukt`) against the script at
/// `zeek`: tracking, type assertions and the errors found, as tokens to
/// emit beside the generated code. `name_span` is where the name comes from
/// (the `name = "…"` value or the struct's name).
pub(crate) fn check(
    krate: &syn::Path,
    strukt: &syn::ItemStruct,
    name: &str,
    name_span: Span,
    zeek: &Value,
) -> TokenStream {
    let mut cx = Ctxt::default();
    let Some(script) = Script::load(&mut cx, zeek) else {
        return cx.into_compile_errors();
    };
    let mut out = script.track();
    let private = quote!(#krate::__private);
    let Some(event) = script.decls.event(name) else {
        let declared = declared_list(
            "events",
            name,
            script.decls.events().map(|e| e.name.as_str()),
        );
        cx.error_at(
            name_span,
            format!(
                "`{}` declares no event `{name}`; {declared}",
                script.written
            ),
        );
        out.extend(cx.into_compile_errors());
        return out;
    };
    let params = &event.params;
    let fields: Vec<&syn::Field> = strukt.fields.iter().collect();
    let named = matches!(strukt.fields, syn::Fields::Named(_));
    let declared = format!(
        "`{}` declares `{name}: event({})`",
        script.written,
        signature(params)
    );
    if fields.len() != params.len() {
        let counts = format!(
            "{declared}: {} argument{}, but the struct has {} field{}",
            params.len(),
            plural(params.len()),
            fields.len(),
            plural(fields.len())
        );
        if named {
            let missing: Vec<String> = params
                .iter()
                .filter(|p| !fields.iter().any(|f| field_name(f) == p.name))
                .map(|p| format!("`{}: {}`", p.name, p.ty))
                .collect();
            for field in fields.iter().filter(|f| {
                let name = field_name(f);
                !params.iter().any(|p| p.name == name)
            }) {
                cx.error_at(
                    field_ident(field),
                    format!(
                        "event `{name}` has no argument `{}`: {declared}",
                        field_name(field)
                    ),
                );
            }
            if missing.is_empty() {
                cx.error_at(strukt.ident.span(), counts);
            } else {
                cx.error_at(
                    strukt.ident.span(),
                    format!("{counts}; it lacks {}", missing.join(", ")),
                );
            }
        } else {
            cx.error_at(strukt.ident.span(), counts);
        }
    } else {
        for (index, (field, param)) in fields.iter().zip(params).enumerate() {
            let rust_name = field_name(field);
            if named && rust_name != param.name {
                let message = match params.iter().position(|p| p.name == rust_name) {
                    Some(at) => format!(
                        "argument `{rust_name}` of event `{name}` comes at position {at} in the \
                         script, not {index}: {declared}"
                    ),
                    None => format!(
                        "argument {index} of event `{name}` is `{}: {}`, not `{rust_name}`: \
                         {declared}",
                        param.name, param.ty
                    ),
                };
                cx.error_at(field_ident(field), message);
                continue;
            }
            let what = format!("event `{name}`, argument {index} (`{}`)", param.name);
            out.extend(assert_type(&private, &script, &field.ty, &param.ty, &what));
        }
    }
    out.extend(cx.into_compile_errors());
    out
}

/// A field's Zeek name (`r#type` is `type`).
fn field_name(field: &syn::Field) -> String {
    use syn::ext::IdentExt as _;
    field
        .ident
        .as_ref()
        .map_or_else(String::new, |ident| ident.unraw().to_string())
}

/// Where a field's name is (its type for a tuple field).
fn field_ident(field: &syn::Field) -> Span {
    field
        .ident
        .as_ref()
        .map_or_else(|| field.ty.span(), syn::Ident::span)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
