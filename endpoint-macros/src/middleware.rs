//! `#[middleware(id = "greet", order = 10)]`: registers an async function of axum's `from_fn`
//! shape as middleware of one endpoint group (no `id`: of every group), run inside the request
//! pipeline after the access check.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{LitInt, LitStr, parse::Parser};

use crate::errors::Errors;

mod kw {
    pub(super) const ID: &str = "id";
    pub(super) const ORDER: &str = "order";
    pub(super) const CRATE: &str = "crate";
    pub(super) const ALL: &[&str] = &[ID, ORDER, CRATE];
}

/// Whether `ty` is written as a path ending in `name` (`Request`, `axum::extract::Request`).
fn ends_with(ty: &syn::Type, name: &str) -> bool {
    matches!(ty, syn::Type::Path(path)
        if path.qself.is_none() && path.path.segments.last().is_some_and(|s| s.ident == name))
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let errors = Errors::default();
    let mut id: Option<LitStr> = None;
    let mut order: Option<LitInt> = None;
    let mut krate: Option<syn::Path> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident(kw::ID) {
            let value = meta.value()?;
            if value.peek(LitStr) {
                let lit: LitStr = value.parse()?;
                if id.replace(lit).is_some() {
                    errors.spanned(&meta.path, "duplicate `id` argument");
                }
            } else {
                let span = value.span();
                crate::errors::skip_value(value)?;
                errors.at(span, "expected a string literal: `id = \"greet\"`");
            }
        } else if meta.path.is_ident(kw::ORDER) {
            let value = meta.value()?;
            let negative = value.peek(syn::Token![-]);
            if negative {
                value.parse::<syn::Token![-]>()?;
            }
            if value.peek(LitInt) {
                let lit: LitInt = value.parse()?;
                let lit = if negative {
                    LitInt::new(&format!("-{}", lit.base10_digits()), lit.span())
                } else {
                    lit
                };
                if lit.base10_parse::<i32>().is_err() {
                    errors.spanned(&lit, "expected a number that fits an `i32`: `order = 10`");
                } else if order.replace(lit).is_some() {
                    errors.spanned(&meta.path, "duplicate `order` argument");
                }
            } else {
                let span = value.span();
                crate::errors::skip_value(value)?;
                errors.at(span, "expected a number: `order = 10` (lower runs first)");
            }
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
    if let Some(lit) = &id {
        let value = lit.value();
        let valid = value == "/"
            || (!value.is_empty()
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')));
        if !valid {
            errors.spanned(
                lit,
                "an endpoint group's id, such as `\"greet\"` (or `\"/\"` for the root group)",
            );
        }
    }
    let function: Option<syn::ItemFn> = errors.ok(syn::parse2(item.clone()));
    if let Some(function) = &function {
        let sig = &function.sig;
        crate::errors::async_function(sig, "middleware", &errors);
        let typed: Vec<&syn::PatType> = sig
            .inputs
            .iter()
            .filter_map(|input| match input {
                syn::FnArg::Typed(typed) => Some(typed),
                syn::FnArg::Receiver(receiver) => {
                    errors.spanned(receiver, "middleware is a free function, not a method");
                    None
                }
            })
            .collect();
        let shape = "middleware takes its extractors, then `request: Request, next: Next`, and returns a `Response` (axum's `from_fn` shape)";
        match typed.as_slice() {
            [.., request, next] => {
                if !ends_with(&request.ty, "Request") {
                    errors.spanned(&request.ty, format!("expected `Request` here: {shape}"));
                }
                if !ends_with(&next.ty, "Next") {
                    errors.spanned(&next.ty, format!("expected `Next` here, last: {shape}"));
                }
            }
            _ => errors.spanned(&sig.inputs, shape),
        }
        if matches!(sig.output, syn::ReturnType::Default) {
            errors.spanned(&sig.ident, format!("missing return type: {shape}"));
        }
    }
    let function = match (errors.finish(), function) {
        (Ok(()), Some(function)) => function,
        (Err(error), _) => {
            let error = error.into_compile_error();
            return quote! { #error #item };
        }
        (Ok(()), None) => unreachable!("a function that does not parse pushes an error"),
    };
    let rt = krate.unwrap_or_else(|| syn::parse_quote!(::endpoint_runtime));
    let private = quote!(#rt::__private);
    let ident = &function.sig.ident;
    let extractors: Vec<&syn::Type> = function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(typed) => Some(&*typed.ty),
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    let extractors = &extractors[..extractors.len() - 2];
    let names: Vec<_> = (0..extractors.len())
        .map(|i| format_ident!("__extracted_{}", i))
        .collect();
    let extract = extractors.iter().zip(&names).map(|(ty, name)| {
        quote_spanned! {ty.span()=>
            let #name = match <#ty as #private::FromRequestParts<()>>::from_request_parts(&mut __parts, &()).await {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(rejection) => {
                    return #private::IntoResponse::into_response(rejection);
                }
            };
        }
    });
    let id = match &id {
        Some(lit) if lit.value() == "/" => quote!(::core::option::Option::Some("")),
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let order = match &order {
        Some(lit) => quote!(#lit),
        None => quote!(0),
    };
    let line = quote_spanned!(ident.span()=> ::core::line!());
    let file = quote_spanned!(ident.span()=> ::core::file!());
    let call = quote_spanned!(ident.span()=> #ident(#(#names,)* __request, __next));
    let _ = Span::call_site();
    quote! {
        #item
        #[doc(hidden)]
        #[allow(non_snake_case, unused_qualifications, unused_mut, clippy::all)]
        const _: () = {
            fn __middleware_run(
                __request: #private::Request,
                __next: #private::Next,
            ) -> #private::HandlerFuture {
                ::std::boxed::Box::pin(async move {
                    let (mut __parts, __body) = __request.into_parts();
                    #(#extract)*
                    let __request = #private::Request::from_parts(__parts, __body);
                    #private::IntoResponse::into_response(#call.await)
                })
            }
            #private::inventory::submit! {
                #private::Middleware::__new(#private::MiddlewareSpec {
                    id: #id,
                    order: #order,
                    handler: ::core::stringify!(#ident),
                    module_path: ::core::module_path!(),
                    file: #file,
                    line: #line,
                    run: __middleware_run,
                })
            }
        };
    }
}
