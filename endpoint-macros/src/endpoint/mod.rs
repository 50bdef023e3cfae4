//! `#[endpoint]`: parse the attribute as written, validate it into a checked [`validate::Endpoint`],
//! then emit the user's function unchanged plus its handler and registration.

mod codegen;
mod parse;
mod validate;

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;

/// Expands one `#[endpoint(args)] item`. Never panics on user input: every mistake becomes a
/// `compile_error!` next to the user's item, so no second "cannot find function" error follows.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let errors = Errors::default();
    let parsed_args = parse::parse_args(args, &errors);
    let function: Option<syn::ItemFn> = errors.ok(syn::parse2(item.clone()));
    let endpoint = function
        .as_ref()
        .and_then(|function| validate::validate(parsed_args, function, &errors));
    let output = match (errors.finish(), endpoint) {
        (Ok(()), Some(endpoint)) => {
            let generated = codegen::emit(&endpoint);
            // A confined handler is safe Rust, also inside the macros it calls.
            let forbid = matches!(endpoint.handler, validate::Handler::Confined(_))
                .then(|| quote!(#[forbid(unsafe_code)]));
            quote! { #forbid #item #generated }
        }
        (Err(error), _) => {
            let error = error.into_compile_error();
            quote! { #error #item }
        }
        (Ok(()), None) => unreachable!("a stage returned None without pushing an error"),
    };
    if std::env::var_os("ENDPOINT_MACROS_DEBUG").is_some_and(|v| v != "0") {
        eprintln!("{output}");
    }
    output
}

#[cfg(test)]
mod tests;
