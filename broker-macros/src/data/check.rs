//! Named checks over the [`model`](super::model); each records spanned
//! errors and none stops the others.

use std::collections::HashMap;

use crate::ctxt::Ctxt;

use super::model::{Body, Container};

/// Runs every check.
pub(crate) fn all(cx: &mut Ctxt, container: &Container<'_>) {
    check_shape(cx, container);
    check_enum_attrs_on_struct(cx, container);
    check_zeek_names(cx, container);
    check_unique_enum_names(cx, container);
    check_zeek_script_target(cx, container);
}

/// `zeek = "…"` compares a record or an enum with the script; a tuple
/// struct has no Zeek declaration, and a generic record's field types are
/// not known until it is used.
fn check_zeek_script_target(cx: &mut Ctxt, container: &Container<'_>) {
    let Some(zeek) = &container.attrs.zeek else {
        return;
    };
    match &container.body {
        Body::Tuple(_) => cx.error_at(
            zeek.span,
            "`zeek` checks a record (a struct with named fields) or an enum; a tuple struct \
             has no Zeek type declaration",
        ),
        Body::Record(_) if !container.generics.params.is_empty() => cx.error_at(
            zeek.span,
            "`zeek` cannot check a generic record: its field types are only known where it is used",
        ),
        _ => {}
    }
}

/// Unions, unit structs, empty enums and enum variants with fields have no
/// Broker representation.
fn check_shape(cx: &mut Ctxt, container: &Container<'_>) {
    match &container.body {
        Body::Union(span) => cx.error_at(
            *span,
            "#[derive(Data)] does not support unions; use a struct or an enum",
        ),
        Body::Unit(span) => cx.error_at(
            *span,
            "#[derive(Data)] does not support unit structs; a Broker record needs fields",
        ),
        Body::Enum(span, variants) if variants.is_empty() => cx.error_at(
            *span,
            "#[derive(Data)] needs at least one variant: a Zeek enum cannot be empty",
        ),
        Body::Enum(_, variants) => {
            for variant in variants {
                if !matches!(variant.fields, syn::Fields::Unit) {
                    cx.error_spanned_by(
                        variant.fields,
                        format!(
                            "variant `{}` has fields, but a Zeek enum has only unit variants",
                            variant.ident
                        ),
                    );
                }
            }
        }
        Body::Record(_) | Body::Tuple(_) => {}
    }
}

/// `module` and `rename_all` name enum values, so they only apply to enums.
fn check_enum_attrs_on_struct(cx: &mut Ctxt, container: &Container<'_>) {
    if matches!(container.body, Body::Enum(..)) {
        return;
    }
    if let Some(module) = &container.attrs.module {
        cx.error_at(module.span, "`module` only applies to enums");
    }
    if let Some(rule) = &container.attrs.rename_all {
        cx.error_at(rule.span, "`rename_all` only applies to enums");
    }
}

/// `module` and `rename` must be Zeek identifiers (`Ident` or `A::B`).
fn check_zeek_names(cx: &mut Ctxt, container: &Container<'_>) {
    if let Some(module) = &container.attrs.module
        && !is_zeek_name(&module.value)
    {
        cx.error_at(
            module.span,
            format!("`{}` is not a Zeek module name", module.value),
        );
    }
    if let Some(name) = &container.attrs.name
        && !is_zeek_name(&name.value)
    {
        cx.error_at(
            name.span,
            format!("`{}` is not a Zeek type name", name.value),
        );
    }
    if let Body::Enum(_, variants) = &container.body {
        for rename in variants.iter().filter_map(|v| v.rename.as_ref()) {
            if !is_zeek_name(&rename.value) {
                cx.error_at(
                    rename.span,
                    format!("`{}` is not a Zeek enum name", rename.value),
                );
            }
        }
    }
}

/// After renaming, no two variants may share a Zeek name (the way back
/// would be ambiguous).
fn check_unique_enum_names(cx: &mut Ctxt, container: &Container<'_>) {
    let Body::Enum(_, variants) = &container.body else {
        return;
    };
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    for variant in variants {
        let name = container.enum_name(variant);
        if let Some(first) = seen.get(&name) {
            let span = variant
                .rename
                .as_ref()
                .map_or_else(|| variant.ident.span(), |r| r.span);
            cx.error_at(
                span,
                format!(
                    "duplicate enum name `{name}`: variants `{first}` and `{}` map to it",
                    variant.ident
                ),
            );
        } else {
            seen.insert(name, variant.ident);
        }
    }
}

/// `Ident(::Ident)*` with ASCII identifier characters.
pub(crate) fn is_zeek_name(name: &str) -> bool {
    name.split("::").all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::is_zeek_name;

    #[test]
    fn zeek_names_are_identifier_paths() {
        assert!(is_zeek_name("Notice"));
        assert!(is_zeek_name("Notice::ACTION_LOG"));
        assert!(!is_zeek_name(""));
        assert!(!is_zeek_name("Notice::"));
        assert!(!is_zeek_name("1x"));
        assert!(!is_zeek_name("a b"));
    }
}
