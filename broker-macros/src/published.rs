//! `#[published_id(topic = "…", name = "…")]` on a `static X: Published<T>`.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::attr;
use crate::ctxt::Ctxt;

/// The static, registered under its Zeek name.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::default();
    let attr::Named {
        krate,
        topic,
        name,
        zeek,
    } = attr::Named::parse(&mut cx, "published_id", args);

    let item: syn::Item = syn::parse2(item)?;
    let syn::Item::Static(stat) = &item else {
        cx.error_spanned_by(
            crate::event::first_token(&item),
            "#[published_id] goes on a `static NAME: Published<T> = Published::new(…);`",
        );
        cx.check()?;
        return Ok(item.into_token_stream());
    };
    if let syn::StaticMutability::Mut(m) = &stat.mutability {
        cx.error_spanned_by(
            m,
            "a published id cannot be `static mut`: `Published<T>` is updated through `&self`",
        );
    }
    let value_ty = published_arg(&stat.ty);
    if value_ty.is_none() {
        cx.error_spanned_by(&stat.ty, "a published id has the type `Published<T>`");
    }
    if name.is_none() && !crate::data::check::is_zeek_name(&stat.ident.to_string()) {
        cx.error_at(
            stat.ident.span(),
            "this name is not a Zeek identifier; give one with `name = \"…\"`",
        );
    }
    cx.check()?;
    let (Some(value_ty), Some(topic)) = (value_ty, topic) else {
        return Ok(item.into_token_stream());
    };

    let private = quote!(#krate::__private);
    let ident = &stat.ident;
    let ident_text = ident.to_string();
    let name_span = name.as_ref().map_or_else(|| ident.span(), |n| n.span);
    let name = name.map_or_else(|| ident_text.clone(), |n| n.value);
    let checks = match &zeek {
        Some(zeek) => crate::zeek::published::check(&krate, value_ty, &name, name_span, zeek),
        None => TokenStream::new(),
    };
    let topic = topic.value;
    let (attrs, vis, ty, expr) = (&stat.attrs, &stat.vis, &stat.ty, &stat.expr);
    // Spanned at `T`, so a value type without conversions is reported there.
    let cell = quote_spanned!(value_ty.span()=> #private::published_cell::<#value_ty>(&#ident));
    Ok(quote! {
        #(#attrs)*
        #vis static #ident: #ty = #private::Published::with_id(#expr, #name, #topic);

        const _: () = {
            fn cell() -> &'static dyn #private::PublishedCell {
                #cell
            }

            #private::inventory::submit! {
                #private::PublishedInfo {
                    name: #name,
                    topic: #topic,
                    rust_path: ::core::concat!(::core::module_path!(), "::", #ident_text),
                    cell,
                    zeek_type: <#value_ty as #private::ZeekTyped>::zeek_type,
                }
            }
        };

        #checks
    })
}

/// `T` in a type written `Published<T>` (with any path before it).
fn published_arg(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Published" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [syn::GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}
