//! `#[main]`: runs `async fn main` on a multi-threaded Tokio runtime owned by endpoint-runtime,
//! so an application needs no direct `tokio` dependency.

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let errors = Errors::default();
    // `crate = path`, the runtime's path when the dependency is renamed; nothing else.
    let mut krate: Option<syn::Path> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            if krate.is_some() {
                errors.spanned(&meta.path, "duplicate `crate` argument");
            }
            krate = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error(
                "`#[endpoint_runtime::main]` takes no arguments but `crate = path` (the runtime's \
                 path when the dependency is renamed)",
            ))
        }
    });
    if let Err(error) = syn::parse::Parser::parse2(parser, args) {
        errors.push(error);
    }
    let rt = krate.unwrap_or_else(|| syn::parse_quote!(::endpoint_runtime));
    let function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            errors.push(error);
            let error = errors.finish().unwrap_err().into_compile_error();
            return quote! { #error #item };
        }
    };
    let syn::ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = &function;
    if sig.asyncness.is_none() {
        errors.spanned(
            sig.fn_token,
            "`#[endpoint_runtime::main]` goes on `async fn main`: add `async`",
        );
    }
    if !sig.inputs.is_empty() {
        errors.spanned(&sig.inputs, "`main` takes no arguments");
    }
    if let Err(error) = errors.finish() {
        let error = error.into_compile_error();
        return quote! { #error #item };
    }
    let mut plain = sig.clone();
    plain.asyncness = None;
    quote! {
        #(#attrs)*
        #vis #plain {
            #rt::__private::block_on(async move #block)
        }
    }
}
