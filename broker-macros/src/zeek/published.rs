//! `#[published_id(zeek = "…")]`: the static's value type against the
//! script's `global`, `const` or `option` of that name.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use super::{Script, assert_type, declared_list};
use crate::attr::Value;
use crate::ctxt::Ctxt;

/// Tracking, the type assertion and the errors found for published id
/// `name` whose value type is `value_ty`.
pub(crate) fn check(
    krate: &syn::Path,
    value_ty: &syn::Type,
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
    match script.decls.global(name) {
        None if script.decls.event(name).is_some() => cx.error_at(
            name_span,
            format!(
                "`{}` declares `{name}` as an event, not as a global, const or option",
                script.written
            ),
        ),
        None => {
            let declared = declared_list(
                "globals, consts or options",
                name,
                script.decls.globals().map(|g| g.name.as_str()),
            );
            cx.error_at(
                name_span,
                format!(
                    "`{}` declares no global, const or option `{name}`; {declared}",
                    script.written
                ),
            );
        }
        Some(global) => match &global.ty {
            None => cx.error_at(
                name_span,
                format!(
                    "`{}` declares `{name}` without a type (only an initial value at {}), so its \
                     type cannot be checked; write `{} {name}: <type> = …;`",
                    script.written, global.location, global.kind
                ),
            ),
            Some(ty) => {
                let what = format!("published id `{name}`");
                out.extend(assert_type(&private, &script, value_ty, ty, &what));
            }
        },
    }
    out.extend(cx.into_compile_errors());
    out
}
