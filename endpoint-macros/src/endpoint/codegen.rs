//! Stage 3: emits the handler wrapper, the type checks and the registration of a checked
//! [`Endpoint`]. Everything is named through `#krate::__private` or `::core`, inside a
//! `const _: () = { ... };` block so that the helpers of two endpoints never collide.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::validate::{Access, Arg, Endpoint, Group, Methods};

pub(crate) fn emit(endpoint: &Endpoint) -> TokenStream {
    let Endpoint { krate, group, route, methods, access, ident, args, output, docs } = endpoint;
    let private = quote!(#krate::__private);

    let id = match group {
        Group::CrateName => quote!(::core::env!("CARGO_PKG_NAME")),
        Group::Root => quote!(""),
        Group::Named(name) => quote!(#name),
    };
    let methods = match methods {
        Methods::All => quote!(#krate::Methods::All),
        Methods::List(list) => {
            let variants = list.iter().map(|v| format_ident!("{}", v));
            quote!(#krate::Methods::List(&[#(#krate::Method::#variants),*]))
        }
    };
    let access = match access {
        None => quote!(::core::option::Option::None),
        Some(level) => {
            let level = match level {
                Access::Public => quote!(#krate::Access::Public),
                Access::Authenticated => quote!(#krate::Access::Authenticated),
                Access::Admin => quote!(#krate::Access::Admin),
                Access::Roles(roles) => quote!(#krate::Access::Roles(&[#(#roles),*])),
            };
            quote!(::core::option::Option::Some(#level))
        }
    };

    // Type checks, spanned so that a failure underlines the user's own tokens.
    let mut checks = Vec::new();
    let last = args.len().saturating_sub(1);
    for (index, arg) in args.iter().enumerate() {
        checks.push(match arg {
            Arg::Param { ty, .. } => quote_spanned! {ty.span()=>
                #private::assert_path_param::<#ty>();
            },
            Arg::Extractor { ty } if index == last => quote_spanned! {ty.span()=>
                #private::assert_from_request::<#ty, _>();
            },
            Arg::Extractor { ty } => quote_spanned! {ty.span()=>
                #private::assert_from_request_parts::<#ty>();
            },
        });
    }
    if let Some(ty) = output {
        checks.push(quote_spanned! {ty.span()=>
            #private::assert_response::<#ty>();
        });
    }

    // The wrapper: path parameters through one extractor, then the user's extractors as-is.
    let params: Vec<(&String, &syn::Type, bool)> = args
        .iter()
        .filter_map(|arg| match arg {
            Arg::Param { name, ty, catch_all } => Some((name, ty, *catch_all)),
            Arg::Extractor { .. } => None,
        })
        .collect();
    let mut wrapper_inputs = Vec::new();
    let mut call_args = Vec::new();
    let mut param_index = 0usize;
    for (index, arg) in args.iter().enumerate() {
        match arg {
            Arg::Param { .. } => {
                let var = format_ident!("__param{}", param_index);
                param_index += 1;
                call_args.push(quote!(#var));
            }
            Arg::Extractor { ty } => {
                let var = format_ident!("__arg{}", index);
                wrapper_inputs.push(quote!(#var: #ty));
                call_args.push(quote!(#var));
            }
        }
    }
    let (params_struct, params_input) = if params.is_empty() {
        (quote!(), quote!())
    } else {
        let tys: Vec<_> = params.iter().map(|(_, ty, _)| ty).collect();
        let names: Vec<_> = params.iter().map(|(name, _, _)| name.as_str()).collect();
        let vars: Vec<_> = (0..params.len()).map(|i| format_ident!("__param{}", i)).collect();
        (
            quote! {
                struct __EndpointParams(#(#tys),*);
                impl #private::FromRequestParts<()> for __EndpointParams {
                    type Rejection = #krate::EndpointError;
                    async fn from_request_parts(
                        parts: &mut #private::Parts,
                        _: &(),
                    ) -> ::core::result::Result<Self, Self::Rejection> {
                        let raw = #private::RawParams::from_parts(parts).await?;
                        ::core::result::Result::Ok(Self(
                            #(raw.parse::<#tys>(#names, ::core::stringify!(#tys))?),*
                        ))
                    }
                }
            },
            quote!(__EndpointParams(#(#vars),*): __EndpointParams,),
        )
    };
    let param_records = params.iter().map(|(name, ty, catch_all)| {
        quote!(#private::Param { name: #name, ty: ::core::stringify!(#ty), catch_all: #catch_all })
    });

    let line = quote_spanned!(ident.span()=> ::core::line!());
    let file = quote_spanned!(ident.span()=> ::core::file!());
    let route_value = route.value();
    let call = quote_spanned!(ident.span()=> #ident(#(#call_args),*));

    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, non_snake_case, unused_qualifications, clippy::all, clippy::pedantic)]
        const _: () = {
            const _: fn() = || {
                #(#checks)*
            };
            #params_struct
            async fn __endpoint_handler(
                #params_input
                #(#wrapper_inputs),*
            ) -> #private::Response {
                #private::IntoResponse::into_response(#call.await)
            }
            fn __endpoint_route() -> #private::MethodRouter {
                #private::method_router(#methods, __endpoint_handler)
            }
            #private::inventory::submit! {
                #private::Endpoint::__new(#private::EndpointSpec {
                    id: #id,
                    route: #route_value,
                    methods: #methods,
                    access: #access,
                    handler: ::core::stringify!(#ident),
                    module_path: ::core::module_path!(),
                    file: #file,
                    line: #line,
                    docs: #docs,
                    params: &[#(#param_records),*],
                    make_route: __endpoint_route,
                })
            }
        };
    }
}
