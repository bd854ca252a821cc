//! `#[handler]`: a function that receives a typed event.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::attr::{self, Args};
use crate::ctxt::Ctxt;

/// The function unchanged, plus its registration.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::default();
    let mut args = Args::parse(&mut cx, "handler", &["topic", "crate"], args);
    let krate = args.krate(&mut cx);
    let topic = args.take("topic");
    if let Some(topic) = &topic {
        attr::check_topic(&mut cx, topic);
    }

    let item: syn::Item = syn::parse2(item)?;
    let syn::Item::Fn(func) = &item else {
        cx.error_spanned_by(
            crate::event::first_token(&item),
            "#[handler] goes on a fn taking an event (and optionally a Context)",
        );
        cx.check()?;
        return Ok(item.into_token_stream());
    };
    let sig = &func.sig;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &sig.generics,
            "a handler cannot be generic: the event type decides which messages it gets",
        );
    }
    let mut inputs = sig.inputs.iter();
    let event_ty = match inputs.next() {
        None => {
            cx.error_at(
                sig.ident.span(),
                "a handler takes the event as its first argument",
            );
            None
        }
        Some(syn::FnArg::Receiver(receiver)) => {
            cx.error_spanned_by(receiver, "a handler is a free fn, not a method");
            None
        }
        Some(syn::FnArg::Typed(arg)) => match &*arg.ty {
            syn::Type::Reference(r) => {
                cx.error_spanned_by(r, "a handler takes the event by value");
                None
            }
            ty => Some(ty),
        },
    };
    let context_ty = match inputs.next() {
        Some(syn::FnArg::Typed(arg)) => Some(&*arg.ty),
        Some(syn::FnArg::Receiver(receiver)) => {
            cx.error_spanned_by(receiver, "a handler is a free fn, not a method");
            None
        }
        None => None,
    };
    for extra in inputs {
        cx.error_spanned_by(
            extra,
            "too many arguments: a handler takes an event and optionally a Context",
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, "a handler cannot be variadic");
    }
    cx.check()?;
    let Some(event_ty) = event_ty else {
        return Ok(item.into_token_stream());
    };

    let private = quote!(#krate::__private);
    let ident = &sig.ident;
    let name = ident.to_string();
    let invoke = format_ident!("__broker_invoke_{}", ident);
    let call_args = match context_ty {
        Some(ty) => quote_spanned!(ty.span()=> event, context),
        None => quote!(event),
    };
    let call = if sig.asyncness.is_some() {
        quote!(#ident(#call_args).await)
    } else {
        quote!(#ident(#call_args))
    };
    let unused_context = if context_ty.is_none() {
        quote!(let _ = context;)
    } else {
        TokenStream::new()
    };
    let topic = match topic {
        Some(t) => {
            let value = t.value;
            quote!(#value)
        }
        None => quote!(<#event_ty as #private::TypedEvent>::TOPIC),
    };
    let event_check = quote_spanned! {event_ty.span()=>
        <#event_ty as #private::TypedEvent>::from_args(args)?
    };
    Ok(quote! {
        #func

        const _: () = {
            fn #invoke(
                context: #private::Context,
                args: &[#private::Data],
            ) -> #private::Result<#private::HandlerFuture, #private::EventError> {
                let event = #event_check;
                #unused_context
                #private::Result::Ok(#private::Box::pin(async move {
                    #private::HandlerOutput::report(
                        #call,
                        ::core::concat!(::core::module_path!(), "::", #name),
                    )
                }))
            }

            #private::inventory::submit! {
                #private::HandlerInfo {
                    event: <#event_ty as #private::TypedEvent>::NAME,
                    topic: #topic,
                    name: ::core::concat!(::core::module_path!(), "::", #name),
                    invoke: #invoke,
                }
            }
        };
    })
}
