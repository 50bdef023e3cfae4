//! `#[main]` and `#[test]`: run an `async fn` on a Tokio runtime owned by endpoint-runtime, so
//! an application needs no direct `tokio` dependency. `main` gets a multi-threaded runtime;
//! a test a current-thread one with its log lines captured (shown when it fails).

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;

/// Which attribute is expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[endpoint_runtime::main]`
    Main,
    /// `#[endpoint_runtime::test]`
    Test,
}

impl Kind {
    fn attribute(self) -> &'static str {
        match self {
            Kind::Main => "#[endpoint_runtime::main]",
            Kind::Test => "#[endpoint_runtime::test]",
        }
    }
}

pub(crate) fn expand(args: TokenStream, item: TokenStream, kind: Kind) -> TokenStream {
    let errors = Errors::default();
    let attribute = kind.attribute();
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
            Err(meta.error(format_args!(
                "`{attribute}` takes no arguments but `crate = path` (the runtime's path when \
                 the dependency is renamed)"
            )))
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
        let message = match kind {
            Kind::Main => "`#[endpoint_runtime::main]` goes on `async fn main`: add `async`",
            Kind::Test => "`#[endpoint_runtime::test]` goes on an `async fn`: add `async`",
        };
        errors.spanned(sig.fn_token, message);
    }
    if !sig.inputs.is_empty() {
        let message = match kind {
            Kind::Main => "`main` takes no arguments",
            Kind::Test => "a test takes no arguments",
        };
        errors.spanned(&sig.inputs, message);
    }
    if let Err(error) = errors.finish() {
        let error = error.into_compile_error();
        return quote! { #error #item };
    }
    let mut plain = sig.clone();
    plain.asyncness = None;
    match kind {
        Kind::Main => quote! {
            #(#attrs)*
            #vis #plain {
                #rt::__private::block_on(async move #block)
            }
        },
        Kind::Test => quote! {
            #[::core::prelude::v1::test]
            #(#attrs)*
            #vis #plain {
                #rt::__private::run_test(async move #block)
            }
        },
    }
}
