//! `#[derive(Data)]`: parse into a [`model`], run the [`check`]s, [`expand`].

pub(crate) mod check;
pub(crate) mod expand;
pub(crate) mod model;

use proc_macro2::TokenStream;

use crate::ctxt::Ctxt;

/// The whole derive: the generated impls, or every error found.
pub(crate) fn derive(input: &syn::DeriveInput) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::default();
    let container = model::Container::from_ast(&mut cx, input);
    check::all(&mut cx, &container);
    cx.check()?;
    let mut out = expand::expand(&container);
    if container.attrs.zeek.is_some() {
        out.extend(crate::zeek::record::check(&container));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::derive;

    fn errors(input: syn::DeriveInput) -> Vec<String> {
        match derive(&input) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn all_mistakes_are_reported_in_one_go() {
        let errs = errors(syn::parse_quote! {
            #[broker(colour = "red")]
            enum E {
                #[broker(rename = "A")]
                X,
                A,
                B(u8),
            }
        });
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].contains("unknown broker container attribute `colour`"));
        assert!(errs.iter().any(|e| e.contains("only unit variants")));
        assert!(errs.iter().any(|e| e.contains("duplicate enum name `A`")));
    }

    #[test]
    fn record_expands_to_both_traits_in_an_anonymous_const() {
        let input: syn::DeriveInput = syn::parse_quote! {
            #[broker(crate = "my::broker")]
            struct R<T> { a: u64, b: Option<T> }
        };
        let out = derive(&input).map(|t| t.to_string()).unwrap_or_default();
        assert!(out.starts_with("const _ : () ="), "{out}");
        assert!(out.contains("my :: broker :: __private :: ToData for R < T >"));
        assert!(out.contains("T : my :: broker :: __private :: FromData"));
    }
}
