//! `zeek_types!("scripts/site.zeek", topic = "…")`: Rust types for every
//! record, enum and event a Zeek script declares.
//!
//! Zeek modules become Rust modules (`Site::Info` is `site::Info`,
//! `Management::Controller::API::x` is `management::controller::api::X`),
//! names of the global module stay where the macro is called. Records and
//! enums get `#[derive(Data)]` with `#[broker(name = "…")]`, events
//! `#[event(topic = "…", name = "…")]`; fields and arguments keep their
//! Zeek names (`r#type` for Rust keywords).

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use zeek_script::{Declarations, Type};

use super::Script;
use crate::attr::Value;
use crate::ctxt::Ctxt;

/// The macro's input: the script path(s), `topic = "…"`, optional
/// `crate = "…"`.
struct Input {
    path: syn::LitStr,
    topic: Option<syn::LitStr>,
    krate: Option<syn::LitStr>,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Input> {
        let path: syn::LitStr = input.parse()?;
        let mut out = Input {
            path,
            topic: None,
            krate: None,
        };
        while !input.is_empty() {
            input.parse::<syn::Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: syn::Ident = if input.peek(syn::Token![crate]) {
                let token: syn::Token![crate] = input.parse()?;
                syn::Ident::new("crate", token.span)
            } else {
                input.parse()?
            };
            input.parse::<syn::Token![=]>()?;
            let value: syn::LitStr = input.parse()?;
            let slot = match key.to_string().as_str() {
                "topic" => &mut out.topic,
                "crate" => &mut out.krate,
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        "unknown zeek_types! key, expected `topic` or `crate`",
                    ));
                }
            };
            if slot.is_some() {
                return Err(syn::Error::new(
                    key.span(),
                    format!("`{key}` is given twice"),
                ));
            }
            *slot = Some(value);
        }
        Ok(out)
    }
}

/// The whole macro.
pub(crate) fn expand(tokens: TokenStream) -> syn::Result<TokenStream> {
    let input: Input = syn::parse2(tokens)?;
    let mut cx = Ctxt::default();
    let Some(topic) = &input.topic else {
        return Err(syn::Error::new(
            input.path.span(),
            "zeek_types! needs the topic of the events: zeek_types!(\"…\", topic = \"…\")",
        ));
    };
    if topic.value().is_empty() || topic.value().contains("<$>") {
        return Err(syn::Error::new(
            topic.span(),
            "the topic must not be empty nor contain `<$>`",
        ));
    }
    let krate: syn::Path = match &input.krate {
        Some(k) => k.parse()?,
        None => syn::parse_quote!(::broker_core),
    };
    let path = Value {
        value: input.path.value(),
        span: input.path.span(),
    };
    let Some(script) = Script::load(&mut cx, &path) else {
        return Ok(cx.into_compile_errors());
    };
    let generator = Generator::new(&script, krate, input.krate.clone(), topic.value());
    let out = generator.generate(&mut cx);
    let mut tokens = out;
    tokens.extend(cx.into_compile_errors());
    Ok(tokens)
}

/// Where a generated type lives: its Rust module path and name.
#[derive(Clone)]
struct Place {
    module: Vec<String>,
    ident: syn::Ident,
}

struct Generator<'a> {
    script: &'a Script,
    decls: &'a Declarations,
    private: TokenStream,
    krate_text: Option<syn::LitStr>,
    topic: String,
    /// Rust places of the generated records and enums, by Zeek name.
    places: BTreeMap<String, Place>,
}

/// Generated items of one Rust module, and its submodules.
#[derive(Default)]
struct Node {
    items: Vec<TokenStream>,
    children: BTreeMap<String, Node>,
}

impl<'a> Generator<'a> {
    fn new(
        script: &'a Script,
        krate: syn::Path,
        krate_text: Option<syn::LitStr>,
        topic: String,
    ) -> Generator<'a> {
        let private = quote!(#krate::__private);
        let decls = &script.decls;
        let mut places = BTreeMap::new();
        let named = decls
            .records()
            .filter(|r| r.location.is_some())
            .map(|r| r.name.as_str())
            .chain(
                decls
                    .enums()
                    .filter(|e| e.location.is_some())
                    .map(|e| e.name.as_str()),
            );
        for name in named {
            places.insert(name.to_owned(), place(name));
        }
        Generator {
            script,
            decls,
            private,
            krate_text,
            topic,
            places,
        }
    }

    fn generate(&self, cx: &mut Ctxt) -> TokenStream {
        let mut root = Node::default();
        let mut taken: BTreeMap<(Vec<String>, String), String> = BTreeMap::new();
        for record in self.decls.records().filter(|r| r.location.is_some()) {
            let place = &self.places[&record.name];
            if claim(cx, &mut taken, place, &record.name) {
                let item = self.record(record, place);
                root.at(&place.module).items.push(item);
            }
        }
        for en in self.decls.enums().filter(|e| e.location.is_some()) {
            let place = &self.places[&en.name];
            if claim(cx, &mut taken, place, &en.name) {
                let item = self.enumeration(cx, en, place);
                root.at(&place.module).items.push(item);
            }
        }
        for event in self.decls.events() {
            let mut place = place(&event.name);
            if taken.contains_key(&(place.module.clone(), place.ident.to_string())) {
                place.ident = format_ident!("{}Event", place.ident);
            }
            if claim(cx, &mut taken, &place, &event.name) {
                let item = self.event(event, &place);
                root.at(&place.module).items.push(item);
            }
        }
        let track = self.script.track();
        let body = root.into_tokens();
        quote! {
            #body
            const _: () = { #track };
        }
    }

    fn span(&self) -> Span {
        Span::call_site()
    }

    /// `#[derive(Data)]` for `type N: record { … }`.
    fn record(&self, record: &zeek_script::Record, place: &Place) -> TokenStream {
        let ident = &place.ident;
        let name = &record.name;
        let location = record
            .location
            .as_ref()
            .map(|l| format!(", declared at {l}"))
            .unwrap_or_default();
        let doc = format!(" The Zeek record `{name}`{location}.");
        let orderable = self.orderable(&Type::Named(name.clone()), &mut BTreeSet::new());
        let fields = record.fields.iter().map(|f| {
            let field = field_ident(&f.name);
            let (ty, note) = self.rust_type(&f.ty, &place.module);
            let ty = if f.is_optional() {
                quote!(::core::option::Option<#ty>)
            } else {
                ty
            };
            let attrs: Vec<String> = f
                .attributes
                .iter()
                .map(|a| format!("&{}", a.name))
                .collect();
            let mut doc = format!(" `{}: {}", f.name, f.ty);
            if !attrs.is_empty() {
                doc.push(' ');
                doc.push_str(&attrs.join(" "));
            }
            doc.push('`');
            doc.push_str(&note);
            quote! {
                #[doc = #doc]
                pub #field: #ty
            }
        });
        let derives = self.derives(orderable, false);
        let crate_attr = self.crate_attr();
        quote! {
            #[doc = #doc]
            #derives
            #[broker(name = #name #crate_attr)]
            #[allow(dead_code, unreachable_pub)]
            pub struct #ident {
                #(#fields,)*
            }
        }
    }

    /// `#[derive(Data)]` for `type N: enum { … }`.
    fn enumeration(&self, cx: &mut Ctxt, en: &zeek_script::Enum, place: &Place) -> TokenStream {
        let ident = &place.ident;
        let name = &en.name;
        let location = en
            .location
            .as_ref()
            .map(|l| format!(", declared at {l}"))
            .unwrap_or_default();
        let doc = format!(" The Zeek enum `{name}`{location}.");
        let mut seen = BTreeSet::new();
        let mut variants = Vec::new();
        for (value, _) in &en.values {
            let bare = value.rsplit("::").next().unwrap_or(value);
            let mut variant = upper_camel(bare);
            if !seen.insert(variant.clone()) {
                variant = upper_camel(&value.replace("::", "_"));
                if !seen.insert(variant.clone()) {
                    cx.error_at(
                        self.span(),
                        format!("two values of `{name}` would both be the variant `{variant}`"),
                    );
                    continue;
                }
            }
            let variant = format_ident!("{}", variant);
            let doc = format!(" `{value}`");
            variants.push(quote! {
                #[doc = #doc]
                #[broker(rename = #value)]
                #variant
            });
        }
        let derives = self.derives(true, true);
        let crate_attr = self.crate_attr();
        quote! {
            #[doc = #doc]
            #derives
            #[broker(name = #name #crate_attr)]
            #[allow(dead_code, unreachable_pub)]
            pub enum #ident {
                #(#variants,)*
            }
        }
    }

    /// `#[event]` for `global n: event(…);`.
    fn event(&self, event: &zeek_script::Event, place: &Place) -> TokenStream {
        let ident = &place.ident;
        let name = &event.name;
        let topic = &self.topic;
        let private = &self.private;
        let doc = format!(
            " The Zeek event `{name}`, declared at {}; published on `{topic}`.",
            event.location
        );
        let crate_arg = self
            .krate_text
            .as_ref()
            .map(|k| quote!(, crate = #k))
            .unwrap_or_default();
        let fields = event.params.iter().map(|p| {
            let field = field_ident(&p.name);
            let (ty, note) = self.rust_type(&p.ty, &place.module);
            let doc = format!(" `{}: {}`{note}", p.name, p.ty);
            quote! {
                #[doc = #doc]
                pub #field: #ty
            }
        });
        let body = if event.params.is_empty() {
            quote!(;)
        } else {
            quote!({ #(#fields,)* })
        };
        quote! {
            #[#private::event(topic = #topic, name = #name #crate_arg)]
            #[doc = #doc]
            #[derive(Clone, Debug, PartialEq)]
            #[allow(dead_code, unreachable_pub)]
            pub struct #ident #body
        }
    }

    /// `#[derive(…)]` of a generated type.
    fn derives(&self, orderable: bool, copy: bool) -> TokenStream {
        let private = &self.private;
        let mut list = vec![
            quote!(#private::DeriveData),
            quote!(::core::clone::Clone),
            quote!(::core::fmt::Debug),
            quote!(::core::cmp::PartialEq),
        ];
        if copy {
            list.push(quote!(::core::marker::Copy));
            list.push(quote!(::core::hash::Hash));
        }
        if orderable {
            list.push(quote!(::core::cmp::Eq));
            list.push(quote!(::core::cmp::PartialOrd));
            list.push(quote!(::core::cmp::Ord));
        }
        quote!(#[derive(#(#list),*)])
    }

    /// `, crate = "…"` inside `#[broker(…)]` when the path is not the
    /// default.
    fn crate_attr(&self) -> TokenStream {
        match &self.krate_text {
            Some(k) => quote!(, crate = #k),
            None => TokenStream::new(),
        }
    }

    /// The Rust type of `ty` used from module `from`, and a note for the
    /// doc comment when it is kept as `Data`.
    fn rust_type(&self, ty: &Type, from: &[String]) -> (TokenStream, String) {
        let p = &self.private;
        let simple = |t: TokenStream| (t, String::new());
        match ty {
            Type::Bool => simple(quote!(bool)),
            Type::Count => simple(quote!(u64)),
            Type::Int => simple(quote!(i64)),
            Type::Double => simple(quote!(f64)),
            Type::Time => simple(quote!(#p::Timestamp)),
            Type::Interval => simple(quote!(#p::Timespan)),
            Type::String => simple(quote!(::std::string::String)),
            Type::Addr => simple(quote!(::std::net::IpAddr)),
            Type::Subnet => simple(quote!(#p::Subnet)),
            Type::Port => simple(quote!(#p::Port)),
            Type::Any => simple(quote!(#p::Data)),
            Type::Vector(inner) => {
                let (inner, note) = self.rust_type(inner, from);
                (quote!(::std::vec::Vec<#inner>), note)
            }
            Type::Set(index) => {
                if !self.orderable_index(index) {
                    return (
                        quote!(#p::Set),
                        " (its elements have no order in Rust, so it is an untyped `Set`)"
                            .to_owned(),
                    );
                }
                let (key, note) = self.index_type(index, from);
                (quote!(::std::collections::BTreeSet<#key>), note)
            }
            Type::Table(index, value) => {
                if !self.orderable_index(index) {
                    return (
                        quote!(#p::Table),
                        " (its keys have no order in Rust, so it is an untyped `Table`)".to_owned(),
                    );
                }
                let (key, mut note) = self.index_type(index, from);
                let (value, value_note) = self.rust_type(value, from);
                note.push_str(&value_note);
                (quote!(::std::collections::BTreeMap<#key, #value>), note)
            }
            Type::Named(name) => match self.places.get(name) {
                Some(target) => simple(relative_path(from, target)),
                None => (
                    quote!(#p::Data),
                    format!(" (`{name}` is not declared in the scripts, so it is kept as `Data`)"),
                ),
            },
            other => (
                quote!(#p::Data),
                format!(" (`{other}` has no Rust type, so it is kept as `Data`)"),
            ),
        }
    }

    /// The key type of a set or table: the type, or a tuple of the index
    /// types.
    fn index_type(&self, index: &[Type], from: &[String]) -> (TokenStream, String) {
        let mut note = String::new();
        let types: Vec<TokenStream> = index
            .iter()
            .map(|t| {
                let (ty, n) = self.rust_type(t, from);
                note.push_str(&n);
                ty
            })
            .collect();
        match types.as_slice() {
            [one] => (one.clone(), note),
            many => (quote!((#(#many),*)), note),
        }
    }

    /// Whether a set or table index becomes a `BTreeSet`/`BTreeMap` key: its
    /// types are ordered, and at most 8 (the largest tuple with `ZeekTyped`).
    fn orderable_index(&self, index: &[Type]) -> bool {
        index.len() <= 8
            && index
                .iter()
                .all(|t| self.orderable(t, &mut BTreeSet::new()))
    }

    /// Whether the Rust type of `ty` implements `Ord` (`f64` does not).
    fn orderable(&self, ty: &Type, visiting: &mut BTreeSet<String>) -> bool {
        match ty {
            Type::Double => false,
            Type::Vector(inner) => self.orderable(inner, visiting),
            Type::Set(index) => index.iter().all(|t| self.orderable(t, visiting)),
            Type::Table(index, value) => {
                index.iter().all(|t| self.orderable(t, visiting)) && self.orderable(value, visiting)
            }
            Type::Named(name) => match self.decls.record(name) {
                Some(record) if self.places.contains_key(name) => {
                    if !visiting.insert(name.clone()) {
                        // A recursive record: its derive would not compile
                        // anyway; call it unordered.
                        return false;
                    }
                    let ok = record
                        .fields
                        .iter()
                        .all(|f| self.orderable(&f.ty, visiting));
                    visiting.remove(name);
                    ok
                }
                _ => true,
            },
            _ => true,
        }
    }
}

/// Records that `zeek` takes the Rust name at `place`; an error if another
/// Zeek name already did.
fn claim(
    cx: &mut Ctxt,
    taken: &mut BTreeMap<(Vec<String>, String), String>,
    place: &Place,
    zeek: &str,
) -> bool {
    let key = (place.module.clone(), place.ident.to_string());
    if let Some(first) = taken.insert(key, zeek.to_owned()) {
        cx.error_at(
            Span::call_site(),
            format!(
                "`{first}` and `{zeek}` would both be the Rust type `{}`",
                place.ident
            ),
        );
        return false;
    }
    true
}

impl Node {
    /// The node of module path `path`, created as needed.
    fn at(&mut self, path: &[String]) -> &mut Node {
        path.iter().fold(self, |node, segment| {
            node.children.entry(segment.clone()).or_default()
        })
    }

    fn into_tokens(self) -> TokenStream {
        let items = self.items;
        let children = self.children.into_iter().map(|(name, node)| {
            let ident = module_ident(&name);
            let body = node.into_tokens();
            let doc =
                format!(" Types of the Zeek module `{name}` (and below), from `zeek_types!`.");
            quote! {
                #[doc = #doc]
                #[allow(dead_code, unreachable_pub)]
                pub mod #ident {
                    #body
                }
            }
        });
        quote! {
            #(#items)*
            #(#children)*
        }
    }
}

/// The Rust place of Zeek name `name`: `A::B::x` is module `a::b`, type `X`.
fn place(name: &str) -> Place {
    let mut segments: Vec<&str> = name.split("::").collect();
    let last = segments.pop().unwrap_or(name);
    Place {
        module: segments.iter().map(|s| snake(s)).collect(),
        ident: format_ident!("{}", upper_camel(last)),
    }
}

/// The path to `target` from module `from`: up with `super`, then down.
fn relative_path(from: &[String], target: &Place) -> TokenStream {
    let ups = from.iter().map(|_| quote!(super::));
    let downs = target.module.iter().map(|m| {
        let m = module_ident(m);
        quote!(#m::)
    });
    let ident = &target.ident;
    quote!(#(#ups)* #(#downs)* #ident)
}

/// A module name as an identifier (raw if it is a keyword).
fn module_ident(name: &str) -> syn::Ident {
    field_ident(name)
}

/// A field name as an identifier: raw (`r#type`) if it is a Rust keyword.
fn field_ident(name: &str) -> syn::Ident {
    if syn::parse_str::<syn::Ident>(name).is_ok() {
        syn::Ident::new(name, Span::call_site())
    } else {
        syn::Ident::new_raw(name, Span::call_site())
    }
}

/// `ACTION_LOG` → `ActionLog`, `conn_id` → `ConnId`, `Info` → `Info`.
fn upper_camel(name: &str) -> String {
    let mut out = String::new();
    for part in name.split('_').filter(|p| !p.is_empty()) {
        let shout = part.chars().all(|c| !c.is_ascii_lowercase());
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            if shout {
                out.extend(chars.map(|c| c.to_ascii_lowercase()));
            } else {
                out.extend(chars);
            }
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Value");
    }
    out
}

/// `Management` → `management`, `MyModule` → `my_module`, `API` → `api`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{snake, upper_camel};

    #[test]
    fn zeek_names_become_rust_names() {
        assert_eq!(upper_camel("ACTION_LOG"), "ActionLog");
        assert_eq!(upper_camel("conn_id"), "ConnId");
        assert_eq!(upper_camel("Info"), "Info");
        assert_eq!(upper_camel("scan_detected"), "ScanDetected");
        assert_eq!(upper_camel("unknown_transport"), "UnknownTransport");
        assert_eq!(upper_camel("_"), "Value");
        assert_eq!(snake("Management"), "management");
        assert_eq!(snake("API"), "api");
        assert_eq!(snake("MyModule"), "my_module");
        assert_eq!(snake("GLOBAL"), "global");
    }
}
