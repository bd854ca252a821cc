//! `key = "value"` lists of the attribute macros (`#[event(topic = "…")]`),
//! with unknown and repeated keys reported at the key.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser as _;

use crate::ctxt::Ctxt;
use crate::data::check::is_zeek_name;

/// A string value and where it was written.
pub(crate) struct Value {
    pub(crate) value: String,
    pub(crate) span: Span,
}

/// The keys an attribute accepted, in the order of `allowed`.
pub(crate) struct Args {
    values: Vec<(&'static str, Option<Value>)>,
}

impl Args {
    /// Parses `tokens` as `key = "string", …` with keys from `allowed`,
    /// recording errors in `cx`.
    pub(crate) fn parse(
        cx: &mut Ctxt,
        attribute: &str,
        allowed: &[&'static str],
        tokens: TokenStream,
    ) -> Args {
        let mut args = Args {
            values: allowed.iter().map(|key| (*key, None)).collect(),
        };
        let parser = syn::meta::parser(|meta| {
            let Some(slot) = args
                .values
                .iter_mut()
                .find(|(key, _)| meta.path.is_ident(key))
            else {
                let keys = allowed
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(meta.error(format!(
                    "unknown #[{attribute}] key, expected one of {keys}"
                )));
            };
            let lit: syn::LitStr = meta.value()?.parse()?;
            if slot.1.is_some() {
                return Err(syn::Error::new_spanned(
                    &meta.path,
                    format!("`{}` is given twice", slot.0),
                ));
            }
            slot.1 = Some(Value {
                value: lit.value(),
                span: lit.span(),
            });
            Ok(())
        });
        if let Err(e) = parser.parse2(tokens) {
            cx.syn_error(e);
        }
        args
    }

    /// The value of `key`, if given.
    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        self.values
            .iter_mut()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.take())
    }

    /// `crate = "path"` or `::broker_core`.
    pub(crate) fn krate(&mut self, cx: &mut Ctxt) -> syn::Path {
        match self.take("crate") {
            Some(v) => match syn::parse_str::<syn::Path>(&v.value) {
                Ok(path) => path,
                Err(_) => {
                    cx.error_at(v.span, format!("`{}` is not a path", v.value));
                    syn::parse_quote!(::broker_core)
                }
            },
            None => syn::parse_quote!(::broker_core),
        }
    }
}

/// Checks a topic: not empty, and without `<$>` (Broker's reserved
/// separator).
pub(crate) fn check_topic(cx: &mut Ctxt, topic: &Value) {
    if topic.value.is_empty() {
        cx.error_at(topic.span, "the topic must not be empty");
    } else if topic.value.contains("<$>") {
        cx.error_at(
            topic.span,
            "a topic must not contain `<$>`, Broker's reserved separator",
        );
    }
}

/// Checks a Zeek identifier (`name` or `Module::name`).
pub(crate) fn check_zeek_name(cx: &mut Ctxt, name: &Value) {
    if !is_zeek_name(&name.value) {
        cx.error_at(
            name.span,
            format!(
                "`{}` is not a Zeek identifier (`name` or `Module::name`, letters, digits and `_`)",
                name.value
            ),
        );
    }
}

/// The keys of `#[event]` and `#[published_id]`: a required `topic`, an
/// optional Zeek `name`, a Zeek script to check against, and `crate`; each
/// checked.
pub(crate) struct Named {
    /// The path to `broker_core`.
    pub(crate) krate: syn::Path,
    /// The topic (`None` after reporting that it is missing).
    pub(crate) topic: Option<Value>,
    /// The Zeek name, if given.
    pub(crate) name: Option<Value>,
    /// `zeek = "scripts/site.zeek"`: the script that declares it.
    pub(crate) zeek: Option<Value>,
}

impl Named {
    /// Parses and checks the keys of `#[attribute(…)]`.
    pub(crate) fn parse(cx: &mut Ctxt, attribute: &str, tokens: TokenStream) -> Named {
        let mut args = Args::parse(cx, attribute, &["topic", "name", "zeek", "crate"], tokens);
        let krate = args.krate(cx);
        let topic = args.take("topic");
        let name = args.take("name");
        let zeek = args.take("zeek");
        match &topic {
            Some(topic) => check_topic(cx, topic),
            None => cx.error_at(
                Span::call_site(),
                format!("#[{attribute}] needs a topic: #[{attribute}(topic = \"…\")]"),
            ),
        }
        if let Some(name) = &name {
            check_zeek_name(cx, name);
        }
        Named {
            krate,
            topic,
            name,
            zeek,
        }
    }
}
