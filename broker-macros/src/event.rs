//! `#[event(topic = "…", name = "…")]`: a struct becomes a Zeek event.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::attr;
use crate::ctxt::Ctxt;

/// The struct unchanged, plus `TypedEvent` and its registration.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::default();
    let attr::Named {
        krate,
        topic,
        name,
        zeek,
    } = attr::Named::parse(&mut cx, "event", args);

    let item: syn::Item = syn::parse2(item)?;
    let strukt = match &item {
        syn::Item::Struct(strukt) => Some(strukt),
        syn::Item::Enum(e) => {
            let with_data = e.variants.iter().any(|v| !v.fields.is_empty());
            let why = if with_data {
                "#[event] cannot go on an enum with data: an event is a struct whose fields are its arguments"
            } else {
                "#[event] cannot go on an enum: an event is a struct whose fields are its arguments \
                 (a Zeek enum type is `#[derive(Data)]`)"
            };
            cx.error_at(e.enum_token.span, why);
            None
        }
        syn::Item::Union(u) => {
            cx.error_at(
                u.union_token.span,
                "#[event] cannot go on a union: an event is a struct whose fields are its arguments",
            );
            None
        }
        other => {
            cx.error_spanned_by(
                first_token(other),
                "#[event] goes on a struct whose fields are the event's arguments",
            );
            None
        }
    };
    if let Some(strukt) = strukt
        && (!strukt.generics.params.is_empty() || strukt.generics.where_clause.is_some())
    {
        cx.error_spanned_by(
            &strukt.generics,
            "an event cannot be generic or borrow: its Zeek name and argument types are fixed",
        );
    }
    let default_name = strukt.map(|s| s.ident.to_string());
    if name.is_none()
        && let (Some(strukt), Some(default)) = (strukt, &default_name)
        && !crate::data::check::is_zeek_name(default)
    {
        cx.error_at(
            strukt.ident.span(),
            format!("`{default}` is not a Zeek identifier; give one with `name = \"…\"`"),
        );
    }
    cx.check()?;
    let (Some(strukt), Some(topic)) = (strukt, topic) else {
        return Ok(item.into_token_stream());
    };
    let name_span = name
        .as_ref()
        .map_or_else(|| strukt.ident.span(), |n| n.span);
    let name = name.map_or_else(|| strukt.ident.to_string(), |n| n.value);
    let topic = topic.value;
    let mut out = generate(&krate, strukt, &name, &topic);
    if let Some(zeek) = &zeek {
        out.extend(crate::zeek::event::check(
            &krate, strukt, &name, name_span, zeek,
        ));
    }
    Ok(out)
}

fn generate(krate: &syn::Path, strukt: &syn::ItemStruct, name: &str, topic: &str) -> TokenStream {
    let private = quote!(#krate::__private);
    let ident = &strukt.ident;
    let fields: Vec<(syn::Member, String, &syn::Type)> = strukt
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| match &f.ident {
            Some(id) => (
                syn::Member::Named(id.clone()),
                crate::data::model::member_name(&syn::Member::Named(id.clone())),
                &f.ty,
            ),
            None => (
                syn::Member::Unnamed(syn::Index {
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                    span: f.ty.span(),
                }),
                format!("arg{i}"),
                &f.ty,
            ),
        })
        .collect();
    let count = fields.len();
    let to = fields.iter().map(|(member, _, ty)| {
        quote_spanned!(ty.span()=> <#ty as #private::ToData>::to_data(&self.#member))
    });
    let into = fields.iter().map(|(member, _, ty)| {
        quote_spanned!(ty.span()=> <#ty as #private::ToData>::into_data(self.#member))
    });
    let reads = fields.iter().enumerate().map(|(i, (member, arg, ty))| {
        quote_spanned! {ty.span()=>
            #member: #private::arg::<#ty>(#name, args, #i, #arg)?
        }
    });
    let construct = match &strukt.fields {
        syn::Fields::Unit => quote!(Self),
        _ => quote!(Self { #(#reads,)* }),
    };
    let types = fields.iter().map(|(_, arg, ty)| {
        quote_spanned!(ty.span()=> (#arg, <#ty as #private::ZeekTyped>::zeek_type()))
    });
    let rust_type = ident.to_string();
    quote! {
        #strukt

        const _: () = {
            #[automatically_derived]
            impl #private::TypedEvent for #ident {
                const NAME: &'static str = #name;
                const TOPIC: &'static str = #topic;

                fn to_args(&self) -> #private::Vec<#private::Data> {
                    #private::list([#(#to),*])
                }

                fn into_args(self) -> #private::Vec<#private::Data> {
                    #private::list([#(#into),*])
                }

                fn from_args(
                    args: &[#private::Data],
                ) -> #private::Result<Self, #private::EventError> {
                    #private::check_arity(#name, args, #count)?;
                    #private::Result::Ok(#construct)
                }

                fn arg_types() -> #private::Vec<(&'static str, #private::ZeekType)> {
                    #private::list([#(#types),*])
                }
            }

            #private::inventory::submit! {
                #private::EventInfo {
                    name: #name,
                    topic: #topic,
                    rust_type: ::core::concat!(::core::module_path!(), "::", #rust_type),
                    args: <#ident as #private::TypedEvent>::arg_types,
                }
            }
        };
    }
}

/// The first token of an item, where "wrong kind of item" is reported.
pub(crate) fn first_token(item: &syn::Item) -> TokenStream {
    item.to_token_stream().into_iter().take(2).collect()
}
