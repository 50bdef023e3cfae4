//! `#[hook(event = "...")]`: registers an async function as a handler of an event.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{LitStr, parse::Parser};

use crate::errors::Errors;

mod kw {
    pub(super) const EVENT: &str = "event";
    pub(super) const DURABLE: &str = "durable";
    pub(super) const CRATE: &str = "crate";
    pub(super) const ALL: &[&str] = &[EVENT, DURABLE, CRATE];
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let errors = Errors::default();
    let mut event: Option<LitStr> = None;
    let mut krate: Option<syn::Path> = None;
    let mut durable = false;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident(kw::EVENT) {
            let Some(lit) =
                crate::errors::string_value(&meta, "event = \"article.published\"", &errors)?
            else {
                return Ok(());
            };
            if event.is_some() {
                errors.spanned(&meta.path, "duplicate `event` argument");
            } else {
                event = Some(lit);
            }
        } else if meta.path.is_ident(kw::DURABLE) {
            if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                errors.spanned(
                    &meta.path,
                    "`durable` is a flag: write `durable`, not `durable = ...`",
                );
                crate::errors::skip_value(meta.input)?;
            } else if durable {
                errors.spanned(&meta.path, "duplicate `durable` argument");
            }
            durable = true;
        } else if meta.path.is_ident(kw::CRATE) {
            krate = Some(meta.value()?.parse()?);
        } else {
            errors.unknown_argument(&meta.path, kw::ALL, meta.input)?;
        }
        Ok(())
    });
    if let Err(error) = parser.parse2(args) {
        errors.push(error);
    }
    if let Some(lit) = &event {
        let name = lit.value();
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            errors.spanned(lit, "event names are non-empty and contain no whitespace, such as `\"article.published\"`");
        }
    } else if errors.is_empty() {
        errors.at(
            Span::call_site(),
            "missing argument `event`: `#[hook(event = \"article.published\")]`",
        );
    }
    let function: Option<syn::ItemFn> = errors.ok(syn::parse2(item.clone()));
    if let Some(function) = &function {
        let sig = &function.sig;
        crate::errors::async_function(sig, "hooks", &errors);
        if sig.inputs.is_empty() || sig.inputs.len() > 2 {
            errors.spanned(
                &sig.inputs,
                "a hook takes `(event: Event)` or `(event: Event, ctx: Context)`",
            );
        }
    }
    let (function, event) = match errors.finish_item(function.zip(event), &item) {
        Ok(checked) => checked,
        Err(errors) => return errors,
    };
    let rt = krate.unwrap_or_else(|| syn::parse_quote!(::endpoint_runtime));
    let ident = &function.sig.ident;
    let call = if function.sig.inputs.len() == 2 {
        quote_spanned!(ident.span()=> #ident(event, ctx))
    } else {
        quote_spanned!(ident.span()=> { let _ = ctx; #ident(event) })
    };
    let output = awaited_result(&rt, &function.sig.output, call);
    let (file, line) = site(ident);
    quote! {
        #item
        #[doc(hidden)]
        #[allow(non_snake_case, unused_qualifications, clippy::all)]
        const _: () = {
            fn __hook_run(event: #rt::__private::Event, ctx: #rt::__private::Context) -> #rt::__private::HookFuture {
                ::std::boxed::Box::pin(async move { #output })
            }
            #rt::__private::inventory::submit! {
                #rt::__private::Hook::__new(#rt::__private::HookSpec {
                    event: #event,
                    handler: ::core::stringify!(#ident),
                    module_path: ::core::module_path!(),
                    file: #file,
                    line: #line,
                    durable: #durable,
                    run: __hook_run,
                })
            }
        };
    }
}

/// `call.await` as a `Result<(), EndpointError>` through `HookOutput` (`#[hook]` and
/// `#[schedule]`), spanned at the return type so that a wrong one is reported there.
pub(crate) fn awaited_result(
    rt: &syn::Path,
    output: &syn::ReturnType,
    call: TokenStream,
) -> TokenStream {
    match output {
        syn::ReturnType::Type(_, ty) => {
            quote_spanned!(ty.span()=> #rt::__private::HookOutput::into_hook_result(#call.await))
        }
        syn::ReturnType::Default => {
            quote!(#rt::__private::HookOutput::into_hook_result(#call.await))
        }
    }
}

/// `file!()` and `line!()` spanned at the function's name: its site in the route table.
pub(crate) fn site(ident: &syn::Ident) -> (TokenStream, TokenStream) {
    (
        quote_spanned!(ident.span()=> ::core::file!()),
        quote_spanned!(ident.span()=> ::core::line!()),
    )
}
