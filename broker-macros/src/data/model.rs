//! The derive input in our own terms, with its `#[broker(...)]` attributes
//! parsed. Attribute grammar errors are recorded here; shape and naming
//! rules are checked in [`super::check`].

use proc_macro2::Span;
use syn::spanned::Spanned;

use crate::case::RenameRule;
use crate::ctxt::Ctxt;

/// A struct, enum or union with `#[derive(Data)]`.
pub(crate) struct Container<'a> {
    pub(crate) ident: &'a syn::Ident,
    pub(crate) vis: &'a syn::Visibility,
    pub(crate) generics: &'a syn::Generics,
    pub(crate) attrs: ContainerAttrs,
    pub(crate) body: Body<'a>,
}

/// An attribute value and where it was written.
pub(crate) struct Attr<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// `#[broker(...)]` on the container.
#[derive(Default)]
pub(crate) struct ContainerAttrs {
    /// `crate = "path"`: where `broker_core` is.
    pub(crate) krate: Option<Attr<syn::Path>>,
    /// `module = "Notice"`: the Zeek module of an enum.
    pub(crate) module: Option<Attr<String>>,
    /// `rename_all = "…"`: a case rule for variant names.
    pub(crate) rename_all: Option<Attr<RenameRule>>,
    /// `name = "Conn::Info"`: the Zeek type name in schemas.
    pub(crate) name: Option<Attr<String>>,
    /// `zeek = "scripts/site.zeek"`: the script that declares the type.
    pub(crate) zeek: Option<Attr<String>>,
}

/// The shape of the container.
pub(crate) enum Body<'a> {
    /// `struct S { … }`: a Zeek record.
    Record(Vec<Field<'a>>),
    /// `struct S(…)`: a newtype (one field) or a fixed-size vector.
    Tuple(Vec<Field<'a>>),
    /// `struct S;`.
    Unit(Span),
    /// `enum E { … }`.
    Enum(Span, Vec<Variant<'a>>),
    /// `union U { … }`.
    Union(Span),
}

/// A struct field.
pub(crate) struct Field<'a> {
    /// `self.name` or `self.0`.
    pub(crate) member: syn::Member,
    /// The field type.
    pub(crate) ty: &'a syn::Type,
    /// Whether the type is written `Option<…>`: such a field may be missing
    /// at the end of a record.
    pub(crate) optional: bool,
}

impl Field<'_> {
    /// The name of the field in Zeek: the Rust name without `r#`, or the
    /// index of a tuple field.
    pub(crate) fn zeek_name(&self) -> String {
        member_name(&self.member)
    }
}

/// A member's name without `r#` (`r#type` is Zeek's `type`).
pub(crate) fn member_name(member: &syn::Member) -> String {
    use syn::ext::IdentExt as _;
    match member {
        syn::Member::Named(ident) => ident.unraw().to_string(),
        syn::Member::Unnamed(index) => index.index.to_string(),
    }
}

/// An enum variant.
pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a syn::Ident,
    pub(crate) fields: &'a syn::Fields,
    /// `rename = "NAME"`.
    pub(crate) rename: Option<Attr<String>>,
}

impl<'a> Container<'a> {
    /// Parses `input`, recording attribute errors in `cx`.
    pub(crate) fn from_ast(cx: &mut Ctxt, input: &'a syn::DeriveInput) -> Container<'a> {
        let attrs = ContainerAttrs::from_ast(cx, &input.attrs);
        let body = match &input.data {
            syn::Data::Struct(data) => match &data.fields {
                syn::Fields::Named(named) => Body::Record(fields(cx, &named.named)),
                syn::Fields::Unnamed(unnamed) => Body::Tuple(fields(cx, &unnamed.unnamed)),
                syn::Fields::Unit => Body::Unit(input.ident.span()),
            },
            syn::Data::Enum(data) => Body::Enum(
                input.ident.span(),
                data.variants
                    .iter()
                    .map(|v| Variant::from_ast(cx, v))
                    .collect(),
            ),
            syn::Data::Union(data) => Body::Union(data.union_token.span),
        };
        Container {
            ident: &input.ident,
            vis: &input.vis,
            generics: &input.generics,
            attrs,
            body,
        }
    }

    /// The path to `broker_core`: `#[broker(crate = …)]` or `::broker_core`.
    pub(crate) fn krate(&self) -> syn::Path {
        match &self.attrs.krate {
            Some(attr) => attr.value.clone(),
            None => syn::parse_quote!(::broker_core),
        }
    }

    /// The Zeek name of `variant`: `module::NAME`, where `NAME` is the
    /// `rename`, else the variant name under `rename_all`.
    pub(crate) fn enum_name(&self, variant: &Variant<'_>) -> String {
        let bare = match (&variant.rename, &self.attrs.rename_all) {
            (Some(rename), _) => rename.value.clone(),
            (None, Some(rule)) => rule.value.apply(&variant.ident.to_string()),
            (None, None) => variant.ident.to_string(),
        };
        match &self.attrs.module {
            Some(module) => format!("{}::{bare}", module.value),
            None => bare,
        }
    }
}

impl Container<'_> {
    /// The Zeek type name: `name = …`, else `module::Ident` for an enum
    /// with a module, else the Rust name.
    pub(crate) fn zeek_type_name(&self) -> String {
        if let Some(name) = &self.attrs.name {
            return name.value.clone();
        }
        match (&self.body, &self.attrs.module) {
            (Body::Enum(..), Some(module)) => format!("{}::{}", module.value, self.ident),
            _ => self.ident.to_string(),
        }
    }
}

impl ContainerAttrs {
    fn from_ast(cx: &mut Ctxt, attrs: &[syn::Attribute]) -> ContainerAttrs {
        let mut out = ContainerAttrs::default();
        for attr in broker_attrs(attrs) {
            let result = attr.parse_nested_meta(|meta| {
                let span = meta.path.span();
                if meta.path.is_ident("crate") {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    let path = lit.parse::<syn::Path>()?;
                    set_once(cx, &mut out.krate, "crate", path, span);
                } else if meta.path.is_ident("module") {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    set_once(cx, &mut out.module, "module", lit.value(), lit.span());
                } else if meta.path.is_ident("name") {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    set_once(cx, &mut out.name, "name", lit.value(), lit.span());
                } else if meta.path.is_ident("zeek") {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    set_once(cx, &mut out.zeek, "zeek", lit.value(), lit.span());
                } else if meta.path.is_ident("rename_all") {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    let Some(rule) = RenameRule::from_name(&lit.value()) else {
                        return Err(syn::Error::new(
                            lit.span(),
                            format!(
                                "unknown rename_all rule `{}`, expected one of {}",
                                lit.value(),
                                RenameRule::NAMES
                            ),
                        ));
                    };
                    set_once(cx, &mut out.rename_all, "rename_all", rule, lit.span());
                } else {
                    return Err(meta.error(format!(
                        "unknown broker container attribute `{}`",
                        path_text(&meta.path)
                    )));
                }
                Ok(())
            });
            if let Err(e) = result {
                cx.syn_error(e);
            }
        }
        out
    }
}

impl<'a> Variant<'a> {
    fn from_ast(cx: &mut Ctxt, variant: &'a syn::Variant) -> Variant<'a> {
        let mut rename = None;
        for attr in broker_attrs(&variant.attrs) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    set_once(cx, &mut rename, "rename", lit.value(), lit.span());
                    Ok(())
                } else {
                    Err(meta.error(format!(
                        "unknown broker variant attribute `{}`",
                        path_text(&meta.path)
                    )))
                }
            });
            if let Err(e) = result {
                cx.syn_error(e);
            }
        }
        Variant {
            ident: &variant.ident,
            fields: &variant.fields,
            rename,
        }
    }
}

/// The fields of a struct. Fields take no attributes yet.
fn fields<'a>(
    cx: &mut Ctxt,
    fields: &'a syn::punctuated::Punctuated<syn::Field, syn::Token![,]>,
) -> Vec<Field<'a>> {
    fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            for attr in broker_attrs(&field.attrs) {
                let result = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("rename") {
                        Err(meta.error(
                            "`rename` is not supported on fields: a Broker record is \
                             positional, field names are never sent",
                        ))
                    } else {
                        Err(meta.error(format!(
                            "unknown broker field attribute `{}`",
                            path_text(&meta.path)
                        )))
                    }
                });
                if let Err(e) = result {
                    cx.syn_error(e);
                }
            }
            let member = match &field.ident {
                Some(ident) => syn::Member::Named(ident.clone()),
                None => syn::Member::Unnamed(syn::Index {
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                    span: field.ty.span(),
                }),
            };
            Field {
                member,
                ty: &field.ty,
                optional: is_option(&field.ty),
            }
        })
        .collect()
}

/// The `#[broker(...)]` attributes among `attrs`.
fn broker_attrs(attrs: &[syn::Attribute]) -> impl Iterator<Item = &syn::Attribute> {
    attrs.iter().filter(|attr| attr.path().is_ident("broker"))
}

/// Stores `value` in `slot`, or records a duplicate-key error.
fn set_once<T>(cx: &mut Ctxt, slot: &mut Option<Attr<T>>, key: &str, value: T, span: Span) {
    if slot.is_some() {
        cx.error_at(span, format!("duplicate broker attribute `{key}`"));
    } else {
        *slot = Some(Attr { value, span });
    }
}

/// A path as written, for messages.
fn path_text(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// Whether `ty` is spelled `Option<…>` (also `std::option::Option<…>`).
fn is_option(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Group(group) => is_option(&group.elem),
        syn::Type::Paren(paren) => is_option(&paren.elem),
        syn::Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().is_some_and(|last| {
                last.ident == "Option"
                    && matches!(last.arguments, syn::PathArguments::AngleBracketed(_))
            })
        }
        _ => false,
    }
}
