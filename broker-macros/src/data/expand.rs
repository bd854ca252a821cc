//! Code generation for a checked [`Container`].
//!
//! Everything sits inside `const _: () = { … };` and names the support items
//! by absolute path (`<crate>::__private::…`), so the output compiles under
//! `#![no_implicit_prelude]` and adds no names to the user's module.
//! Conversions of a field are spanned at the field type, so a type without
//! `ToData`/`FromData` is reported at that field.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::{Body, Container, Field};

/// The `ToData` and `FromData` impls for `container`.
pub(crate) fn expand(container: &Container<'_>) -> TokenStream {
    let krate = container.krate();
    let private = quote!(#krate::__private);
    let ident = container.ident;

    let zeek_type = zeek_type(container, &private);
    let zeek_type_const = zeek_type_const(container, &private);
    let (to_data, into_data, from_data) = match &container.body {
        Body::Record(fields) => record(&private, fields),
        Body::Tuple(fields) if fields.len() == 1 => newtype(&private, &fields[0]),
        Body::Tuple(fields) => tuple(&private, fields),
        Body::Enum(_, variants) => {
            let idents: Vec<_> = variants.iter().map(|v| v.ident).collect();
            let names: Vec<_> = variants.iter().map(|v| container.enum_name(v)).collect();
            (
                quote! {
                    match self {
                        #( Self::#idents => #private::enum_value(#names), )*
                    }
                },
                quote!(#private::ToData::to_data(&self)),
                quote! {
                    match #private::enum_name(data)? {
                        #( #names => #private::Result::Ok(Self::#idents), )*
                        name => #private::Result::Err(#private::unknown_variant(name)),
                    }
                },
            )
        }
        // Rejected by the checks.
        Body::Unit(_) | Body::Union(_) => return TokenStream::new(),
    };

    let to_generics = bounded(container.generics, &syn::parse_quote!(#private::ToData));
    let (to_impl, to_ty, to_where) = to_generics.split_for_impl();
    let from_generics = bounded(container.generics, &syn::parse_quote!(#private::FromData));
    let (from_impl, from_ty, from_where) = from_generics.split_for_impl();

    let typed_generics = bounded(container.generics, &syn::parse_quote!(#private::ZeekTyped));
    let (typed_impl, typed_ty, typed_where) = typed_generics.split_for_impl();

    quote! {
        const _: () = {
            #[automatically_derived]
            impl #typed_impl #private::ZeekTyped for #ident #typed_ty #typed_where {
                const ZEEK_TYPE: #private::ZeekTypeExpr = #zeek_type_const;

                fn zeek_type() -> #private::ZeekType {
                    #zeek_type
                }
            }

            #[automatically_derived]
            impl #to_impl #private::ToData for #ident #to_ty #to_where {
                fn to_data(&self) -> #private::Data {
                    #to_data
                }

                fn into_data(self) -> #private::Data {
                    #into_data
                }
            }

            #[automatically_derived]
            impl #from_impl #private::FromData for #ident #from_ty #from_where {
                fn from_data(
                    data: &#private::Data,
                ) -> #private::Result<Self, #private::ConversionError> {
                    #from_data
                }
            }
        };
    }
}

/// The body of `ZeekTyped::zeek_type`: a named record or enum, the inner
/// type of a newtype, `vector of any` for a fixed-size tuple.
fn zeek_type(container: &Container<'_>, private: &TokenStream) -> TokenStream {
    let name = container.zeek_type_name();
    match &container.body {
        Body::Record(fields) => {
            let fields = fields.iter().map(|f| {
                let ty = f.ty;
                let optional = f.optional;
                let field_name = f.zeek_name();
                quote_spanned! {ty.span()=>
                    #private::record_field(
                        #field_name,
                        <#ty as #private::ZeekTyped>::zeek_type(),
                        #optional,
                    )
                }
            });
            quote!(#private::record_type(#name, ::std::vec![#(#fields),*]))
        }
        Body::Tuple(fields) if fields.len() == 1 => {
            let ty = fields[0].ty;
            quote_spanned!(ty.span()=> <#ty as #private::ZeekTyped>::zeek_type())
        }
        Body::Tuple(_) => quote!(#private::vector_of_any()),
        Body::Enum(_, variants) => {
            let names = variants.iter().map(|v| container.enum_name(v));
            quote!(#private::enum_type(#name, &[#(#names),*]))
        }
        Body::Unit(_) | Body::Union(_) => TokenStream::new(),
    }
}

/// `ZeekTyped::ZEEK_TYPE`: the constant form of [`zeek_type`].
fn zeek_type_const(container: &Container<'_>, private: &TokenStream) -> TokenStream {
    let name = container.zeek_type_name();
    match &container.body {
        Body::Record(_) | Body::Enum(..) => quote!(#private::ZeekTypeExpr::Named(#name)),
        Body::Tuple(fields) if fields.len() == 1 => {
            let ty = fields[0].ty;
            quote_spanned!(ty.span()=> <#ty as #private::ZeekTyped>::ZEEK_TYPE)
        }
        Body::Tuple(_) => {
            quote!(#private::ZeekTypeExpr::Vector(&#private::ZeekTypeExpr::Any))
        }
        Body::Unit(_) | Body::Union(_) => TokenStream::new(),
    }
}

/// A Zeek record: a vector of the fields in order; trailing `Option` fields
/// may be missing and extra trailing elements are ignored.
fn record(private: &TokenStream, fields: &[Field<'_>]) -> (TokenStream, TokenStream, TokenStream) {
    let (to, into) = element_conversions(private, fields);
    let count = fields.len();
    let required = fields
        .iter()
        .rposition(|f| !f.optional)
        .map_or(0, |last| last + 1);
    let reads = fields.iter().enumerate().map(|(i, f)| {
        let (member, ty) = (&f.member, f.ty);
        let name = f.zeek_name();
        quote_spanned! {ty.span()=>
            #member: #private::field::<#ty>(items, #i, #name)?
        }
    });
    (
        quote!(#private::vector([#(#to),*])),
        quote!(#private::vector([#(#into),*])),
        quote! {
            let items = #private::record(data, #count, #required)?;
            #private::Result::Ok(Self { #(#reads,)* })
        },
    )
}

/// A tuple struct of two or more fields: a vector of exactly its fields.
fn tuple(private: &TokenStream, fields: &[Field<'_>]) -> (TokenStream, TokenStream, TokenStream) {
    let (to, into) = element_conversions(private, fields);
    let count = fields.len();
    let reads = fields.iter().enumerate().map(|(i, f)| {
        let ty = f.ty;
        quote_spanned!(ty.span()=> #private::element::<#ty>(items, #i)?)
    });
    (
        quote!(#private::vector([#(#to),*])),
        quote!(#private::vector([#(#into),*])),
        quote! {
            let items = #private::tuple(data, #count)?;
            #private::Result::Ok(Self(#(#reads),*))
        },
    )
}

/// A newtype: the inner value itself.
fn newtype(private: &TokenStream, field: &Field<'_>) -> (TokenStream, TokenStream, TokenStream) {
    let (member, ty) = (&field.member, field.ty);
    (
        quote_spanned!(ty.span()=> #private::ToData::to_data(&self.#member)),
        quote_spanned!(ty.span()=> #private::ToData::into_data(self.#member)),
        quote_spanned! {ty.span()=>
            #private::Result::Ok(Self(<#ty as #private::FromData>::from_data(data)?))
        },
    )
}

/// `to_data(&self.f)` and `into_data(self.f)` for each field.
fn element_conversions(
    private: &TokenStream,
    fields: &[Field<'_>],
) -> (Vec<TokenStream>, Vec<TokenStream>) {
    fields
        .iter()
        .map(|f| {
            let (member, ty) = (&f.member, f.ty);
            (
                quote_spanned!(ty.span()=> <#ty as #private::ToData>::to_data(&self.#member)),
                quote_spanned!(ty.span()=> <#ty as #private::ToData>::into_data(self.#member)),
            )
        })
        .unzip()
}

/// `generics` with `bound` added to every type parameter.
fn bounded(generics: &syn::Generics, bound: &syn::TypeParamBound) -> syn::Generics {
    let mut generics = generics.clone();
    let params: Vec<syn::Ident> = generics.type_params().map(|p| p.ident.clone()).collect();
    let where_clause = generics.make_where_clause();
    for param in params {
        where_clause
            .predicates
            .push(syn::parse_quote!(#param: #bound));
    }
    generics
}
