//! Stage 3: emits the handler wrapper and the registration of a checked [`Endpoint`].
//! Everything is named through `#krate::__private` or `::core`, inside a
//! `const _: () = { ... };` block so that the helpers of two endpoints never collide.
//!
//! The wrapper takes the whole request and runs the extractors itself, in argument order
//! with path parameters first, instead of handing a many-argument function to axum's
//! `Handler`. It is a plain `fn(Request) -> HandlerFuture` (a boxed future), so the axum
//! routing machinery is instantiated once, in the runtime, not once per endpoint: that keeps
//! an application's incremental rebuilds close to hand-written axum's. Each trait bound is then checked once, by an expression spanned at the user's
//! own type: a type that is not an extractor, a path parameter that is not `FromStr`, or a
//! return type that is not a response is one error on that type, not a second
//! "`Handler<_, ()>` is not satisfied" on the attribute.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::validate::{
    Access, Arg, Confined, Endpoint, Group, Handler, Methods, Response, type_text,
};
use crate::route::Route;

/// The parts of the expansion that depend on the kind of handler.
struct HandlerTokens {
    /// `fn __endpoint_handler` and the items it needs.
    items: TokenStream,
    /// The registration's `confined` field.
    confined: TokenStream,
    /// The body of `fn __endpoint_doc`.
    document: TokenStream,
    /// The registration's `params` records.
    params: Vec<TokenStream>,
}

pub(crate) fn emit(endpoint: &Endpoint) -> TokenStream {
    let Endpoint {
        krate,
        group,
        route,
        methods,
        access,
        ident,
        vis,
        docs,
        prerender,
        static_paths,
        handler,
        policy,
        status,
        lifecycle,
        client: with_client,
    } = endpoint;
    let private = quote!(#krate::__private);
    // The `api-version` a typed call sends: one that serves the endpoint (`0.0` is before
    // every named version).
    let call_version = lifecycle
        .since
        .clone()
        .or_else(|| lifecycle.until.as_ref().map(|_| "0.0".to_string()));
    let policy = policy_value(&private, policy);
    let lifecycle = {
        let text = |value: &Option<String>| match value {
            Some(text) => quote!(::core::option::Option::Some(#text)),
            None => quote!(::core::option::Option::None),
        };
        let (since, until) = (text(&lifecycle.since), text(&lifecycle.until));
        let (deprecated, sunset) = (text(&lifecycle.deprecated), text(&lifecycle.sunset));
        quote!(#private::Lifecycle {
            since: #since,
            until: #until,
            deprecated: #deprecated,
            sunset: #sunset,
        })
    };

    let id = match group {
        Group::CrateName => quote!(::core::env!("CARGO_PKG_NAME")),
        Group::Root => quote!(""),
        Group::Named(name) => quote!(#name),
    };
    let client_items = match handler {
        Handler::Async { .. } if !*with_client => quote!(),
        Handler::Async { args, response } => {
            let shape = CallShape {
                ident,
                vis,
                id: &id,
                route,
                methods,
                version: call_version.as_deref(),
            };
            client(&private, &shape, args, response)
        }
        Handler::Confined(_) => quote!(),
    };
    let methods = match methods {
        Methods::All => quote!(#private::Methods::All),
        Methods::List(list) => {
            let variants = list.iter().map(|v| format_ident!("{}", v));
            quote!(#private::Methods::List(&[#(#private::Method::#variants),*]))
        }
    };
    let access = match access {
        None => quote!(::core::option::Option::None),
        Some(level) => {
            let level = match level {
                Access::Public => quote!(#private::Access::Public),
                Access::Authenticated => quote!(#private::Access::Authenticated),
                Access::Admin => quote!(#private::Access::Admin),
                Access::Roles(roles) => quote!(#private::Access::Roles(&[#(#roles),*])),
            };
            quote!(::core::option::Option::Some(#level))
        }
    };

    // The route parameters bound to arguments; a confined handler binds none.
    let params: Vec<(&String, &syn::Type, bool)> = match handler {
        Handler::Async { args, .. } => args
            .iter()
            .filter_map(|arg| match arg {
                Arg::Param {
                    name,
                    ty,
                    catch_all,
                } => Some((name, ty, *catch_all)),
                Arg::Extractor { .. } => None,
            })
            .collect(),
        Handler::Confined(_) => Vec::new(),
    };
    let HandlerTokens {
        items: handler_items,
        confined: confined_value,
        document: doc_body,
        params: param_records,
    } = match handler {
        Handler::Async { args, response } => async_handler(
            &private,
            ident,
            args,
            response,
            &params,
            suffixed(route),
            *status,
        ),
        Handler::Confined(confined) => confined_handler(&private, ident, route, confined),
    };
    // `static_paths`: each item's fields named after the route parameters are read into the
    // handler's own parameter types, spanned at the function's path, so a missing or mistyped
    // field is reported there.
    let (static_paths_fn, static_paths_value) = match static_paths {
        None => (quote!(), quote!(::core::option::Option::None)),
        Some(path) => {
            let span = path.span();
            let fields = params.iter().map(|(name, ty, _)| {
                let field = proc_macro2::Ident::new(name, span);
                quote_spanned! {span=>
                    (#name, {
                        let __value: #ty = __item.#field;
                        #private::prerender::param_text(&__value)
                    })
                }
            });
            (
                quote! {
                    fn __endpoint_static_paths() -> #private::StaticPathsFuture {
                        ::std::boxed::Box::pin(async move {
                            #[allow(unused_imports)]
                            use #private::prerender::traits::*;
                            let __items = (&&#private::prerender::StaticPaths(#path))
                                .__endpoint_static_paths()
                                .await;
                            let mut __out = ::std::vec::Vec::new();
                            for __item in __items {
                                __out.push(::std::vec![#(#fields),*]);
                            }
                            __out
                        })
                    }
                },
                quote!(::core::option::Option::Some(__endpoint_static_paths)),
            )
        }
    };
    let line = quote_spanned!(ident.span()=> ::core::line!());
    let file = quote_spanned!(ident.span()=> ::core::file!());
    let route_value = &route.template;

    // `prerender` needs the runtime's feature of that name: the gate expands to its input, or
    // to an error naming the feature.
    let prerender_items = if *prerender {
        quote!(#private::prerender_endpoint! { #static_paths_fn })
    } else {
        quote!(#static_paths_fn)
    };

    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, non_snake_case, unused_mut, unused_qualifications, clippy::all, clippy::pedantic)]
        const _: () = {
            #handler_items
            // The OpenAPI description, with the runtime's `openapi` feature only: its own
            // record, found by the endpoint's site.
            #private::document! {
                fn __endpoint_doc(doc: &mut #private::doc::OperationDoc<'_>) {
                    #[allow(unused_imports)]
                    use #private::doc::traits::*;
                    #[allow(unused_imports)]
                    use #private::validate::traits::*;
                    #doc_body
                }
                #private::inventory::submit! {
                    #private::doc::Documented {
                        site: #private::Site {
                            file: #file,
                            line: #line,
                            handler: ::core::stringify!(#ident),
                        },
                        document: __endpoint_doc,
                    }
                }
            }
            #prerender_items
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
                    call: __endpoint_handler,
                    prerender: #prerender,
                    static_paths: #static_paths_value,
                    confined: #confined_value,
                    policy: #policy,
                    lifecycle: #lifecycle,
                })
            }
        };
        #client_items
    }
}

/// The registration's `policy` field.
fn policy_value(private: &TokenStream, policy: &super::validate::Policy) -> TokenStream {
    let option = |value: Option<TokenStream>| match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    };
    let timeout = option(
        policy
            .timeout_ms
            .map(|ms| quote!(::core::time::Duration::from_millis(#ms))),
    );
    let body_limit = option(policy.body_limit.map(|bytes| {
        // Past the address space (a 32-bit target): the most it can hold.
        quote!(if (#bytes as ::core::primitive::u128) > (::core::primitive::usize::MAX as ::core::primitive::u128) {
            ::core::primitive::usize::MAX
        } else {
            #bytes as ::core::primitive::usize
        })
    }));
    let concurrency = option(policy.concurrency.map(|n| quote!(#n)));
    let idempotent = policy.idempotent;
    let rate_limit = option(policy.rate_limit.map(|(count, seconds, key)| {
        let key = match key {
            super::validate::RateKey::User => quote!(#private::RateKey::User),
            super::validate::RateKey::Ip => quote!(#private::RateKey::Ip),
            super::validate::RateKey::Global => quote!(#private::RateKey::Global),
        };
        quote!(#private::Rate {
            requests: #count,
            period: ::core::time::Duration::from_secs(#seconds),
            per: #key,
        })
    }));
    quote!(#private::Policy {
        timeout: #timeout,
        body_limit: #body_limit,
        concurrency: #concurrency,
        rate_limit: #rate_limit,
        idempotent: #idempotent,
    })
}

/// The parameter of the route's `{name}.json` last segment and its suffix, if it has one.
fn suffixed(route: &Route) -> Option<(&str, &str)> {
    match route.segments.last() {
        Some(crate::route::Segment::Suffixed(name, suffix)) => Some((name, suffix)),
        _ => None,
    }
}

/// An `async fn` the server runs: a wrapper that extracts each argument, calls the function and
/// turns its return value into the response.
fn async_handler(
    private: &TokenStream,
    ident: &syn::Ident,
    args: &[Arg],
    response: &Response,
    params: &[(&String, &syn::Type, bool)],
    suffixed: Option<(&str, &str)>,
    status: Option<(u16, proc_macro2::Span)>,
) -> HandlerTokens {
    // Path parameters: one extractor that parses every `{name}` before anything else runs; the
    // one of a `{name}.json` segment without its suffix.
    let param_vars: Vec<_> = (0..params.len())
        .map(|i| format_ident!("__param{}", i))
        .collect();
    let params_extract = if params.is_empty() {
        quote!()
    } else {
        let parses = params.iter().zip(&param_vars).map(|((name, ty, _), var)| {
            let text = type_text(ty);
            let parse = match suffixed {
                Some((param, suffix)) if param == name.as_str() => {
                    quote_spanned! {ty.span()=> __raw.parse_suffixed::<#ty>(#name, #text, #suffix)}
                }
                _ => quote_spanned! {ty.span()=> __raw.parse::<#ty>(#name, #text)},
            };
            // A type that implements `garde::Validate` is checked (autoref specialization:
            // any other passes through at no cost).
            quote! {
                let #var = match #parse {
                    ::core::result::Result::Ok(value) => value,
                    ::core::result::Result::Err(error) => return #private::IntoResponse::into_response(error),
                };
                if let ::core::result::Result::Err(error) =
                    (&&&#private::validate::Probe::<#ty>::new()).__endpoint_validate_param(&#var, #name)
                {
                    return #private::IntoResponse::into_response(error);
                }
            }
        });
        quote! {
            let __raw = match #private::RawParams::from_parts(&mut __parts).await {
                ::core::result::Result::Ok(raw) => raw,
                ::core::result::Result::Err(error) => return #private::IntoResponse::into_response(error),
            };
            #(#parses)*
        }
    };

    // The other arguments, extracted in order; the last may consume the body.
    let last_extractor = args
        .iter()
        .rposition(|arg| matches!(arg, Arg::Extractor { .. }));
    let mut extractions = Vec::new();
    let mut call_args = Vec::new();
    let mut param_index = 0usize;
    for (index, arg) in args.iter().enumerate() {
        match arg {
            Arg::Param { .. } => {
                let var = &param_vars[param_index];
                param_index += 1;
                call_args.push(quote!(#var));
            }
            Arg::Extractor { ty } => {
                let var = format_ident!("__arg{}", index);
                let extract = if Some(index) == last_extractor {
                    quote_spanned! {ty.span()=>
                        <#ty as #private::FromRequest<(), _>>::from_request(
                            #private::Request::from_parts(__parts, __body), &()
                        ).await
                    }
                } else {
                    quote_spanned! {ty.span()=>
                        <#ty as #private::FromRequestParts<()>>::from_request_parts(&mut __parts, &()).await
                    }
                };
                extractions.push(quote! {
                    let #var = match #extract {
                        ::core::result::Result::Ok(value) => value,
                        ::core::result::Result::Err(rejection) => return #private::reject(#private::IntoResponse::into_response(rejection)).await,
                    };
                    if let ::core::result::Result::Err(error) =
                        (&&&#private::validate::Probe::<#ty>::new()).__endpoint_validate(&#var)
                    {
                        return #private::reject(#private::IntoResponse::into_response(error)).await;
                    }
                });
                call_args.push(quote!(#var));
            }
        }
    }
    let unused_body = if last_extractor.is_none() {
        quote!(let _ = (__parts, __body);)
    } else {
        quote!()
    };
    let call = quote_spanned!(ident.span()=> #ident(#(#call_args),*).await);
    let respond = match response {
        Response::Typed(ty) => quote_spanned! {ty.span()=> #private::respond::<#ty>(#call)},
        Response::Unit | Response::Opaque(_) | Response::Events(_) => {
            quote_spanned! {ident.span()=> #private::IntoResponse::into_response(#call)}
        }
    };

    // Documentation: each type is probed by autoref specialization, so a type without a JSON
    // Schema degrades to an untyped entry (with a note) instead of failing to compile.
    // An input the runtime validates makes the document list the 422 it may answer.
    let doc_params = params.iter().map(|(name, ty, _)| {
        let text = type_text(ty);
        quote! {
            (&&&#private::doc::Probe::<#ty>::new()).__endpoint_param_doc(doc, #name, #text);
            if (&&&#private::validate::Probe::<#ty>::new()).__endpoint_checks_param() {
                doc.validated();
            }
        }
    });
    let doc_extractors = args.iter().filter_map(|arg| match arg {
        Arg::Extractor { ty } => {
            let text = type_text(ty);
            Some(quote! {
                (&&&&#private::doc::Probe::<#ty>::new()).__endpoint_extractor_doc(doc, #text);
                if (&&&#private::validate::Probe::<#ty>::new()).__endpoint_checks() {
                    doc.validated();
                }
            })
        }
        Arg::Param { .. } => None,
    });
    let doc_response = match response {
        Response::Typed(ty) => {
            let text = type_text(ty);
            quote!((&&&#private::doc::Probe::<#ty>::new()).__endpoint_response_doc(doc, #text);)
        }
        Response::Unit => {
            quote!((&&&#private::doc::Probe::<()>::new()).__endpoint_response_doc(doc, "()");)
        }
        Response::Opaque(text) => quote!(doc.untyped_response(#text);),
        Response::Events(Some(item)) => {
            quote!((&&&#private::doc::Probe::<#item>::new()).__endpoint_events_doc(doc);)
        }
        Response::Events(None) => quote!(doc.event_stream_response(::core::option::Option::None);),
    };
    // `status = N`: documented, and the return type must be able to answer it (a type that
    // states its own status, such as `Created<T>`, must state this one), checked at the number.
    let (doc_status, status_check) = match status {
        None => (quote!(), quote!()),
        Some((code, span)) => {
            let check = match response {
                Response::Typed(ty) => quote_spanned! {span=>
                    const _: () = #private::answers_status::<#ty, #code>();
                },
                Response::Unit => quote_spanned! {span=>
                    const _: () = #private::answers_status::<(), #code>();
                },
                Response::Opaque(_) | Response::Events(_) => quote!(),
            };
            (quote!(doc.success_status(#code);), check)
        }
    };

    HandlerTokens {
        items: quote! {
            #status_check
            fn __endpoint_handler(__request: #private::Request) -> #private::HandlerFuture {
                ::std::boxed::Box::pin(async move {
                    #[allow(unused_imports)]
                    use #private::validate::traits::*;
                    let (mut __parts, __body) = __request.into_parts();
                    #params_extract
                    #(#extractions)*
                    #unused_body
                    #respond
                })
            }
        },
        confined: quote!(::core::option::Option::None),
        document: quote! {
            #(#doc_params)*
            #(#doc_extractors)*
            #doc_response
            #doc_status
        },
        params: params
            .iter()
            .map(|(name, ty, catch_all)| {
                let text = type_text(ty);
                quote!(#private::Param { name: #name, ty: #text, catch_all: #catch_all })
            })
            .collect(),
    }
}

/// A confined endpoint: the server forwards the request data to a worker process, which
/// runs the user's function (found by key in the same binary).
fn confined_handler(
    private: &TokenStream,
    ident: &syn::Ident,
    route: &Route,
    confined: &Confined,
) -> HandlerTokens {
    let Confined { log, origins } = confined;
    let run = quote_spanned!(ident.span()=> #ident);
    let confinement = quote! {
        #private::Confinement {
            key: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
            log: #log,
            origins: &[#(#origins),*],
        }
    };
    HandlerTokens {
        // With the runtime's `confined` feature only: the gate expands to its input, or to an
        // error naming the feature.
        items: quote! {
            #private::confined_endpoint! {
                static __CONFINED: #private::confined::ConfinedSpec = #private::confined::ConfinedSpec {
                    confinement: #confinement,
                    run: #run,
                };
                #private::inventory::submit! {
                    #private::confined::Registered(&__CONFINED)
                }
                fn __endpoint_handler(__request: #private::Request) -> #private::HandlerFuture {
                    ::std::boxed::Box::pin(#private::confined::handle(&__CONFINED, __request))
                }
            }
        },
        // Plain data in the registry record: the route table reads it without the feature.
        confined: quote!(::core::option::Option::Some(&#confinement)),
        document: quote!(doc.confined();),
        // A confined handler reads its parameters from the request data, as strings.
        params: route
            .params()
            .map(|(name, catch_all)| {
                quote!(#private::Param { name: #name, ty: "String", catch_all: #catch_all })
            })
            .collect(),
    }
}

/// The last path segment of `ty` when it is `Name<T>` with one type argument: `("Json", T)`.
fn wrapper(ty: &syn::Type) -> Option<(String, &syn::Type)> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|arg| match arg {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    let inner = types.next()?;
    types
        .next()
        .is_none()
        .then(|| (last.ident.to_string(), inner))
}

/// What a typed call needs of the endpoint besides its arguments and return type.
struct CallShape<'a> {
    ident: &'a syn::Ident,
    vis: &'a syn::Visibility,
    /// The group, as the registration's tokens.
    id: &'a TokenStream,
    route: &'a Route,
    methods: &'a Methods,
    /// The `api-version` to send, for a versioned endpoint.
    version: Option<&'a str>,
}

/// The body extractors a typed call cannot write (it writes `Json<T>`).
const UNWRITTEN_BODIES: &[&str] = &["Bytes", "String", "Form", "Multipart", "Request", "Body"];

/// The endpoint's typed-call type: a braced struct named after the function (the type
/// namespace, so it sits beside the function as Rocket's route structs do) whose `request`
/// takes the route's parameters, then the `Query<Q>` value and the `Json<T>` body if the
/// function reads them, and returns a `Call` typed by the return type.
fn client(
    private: &TokenStream,
    shape: &CallShape<'_>,
    args: &[Arg],
    response: &Response,
) -> TokenStream {
    let CallShape {
        ident,
        vis,
        id,
        route,
        methods,
        version,
    } = shape;
    let method = match methods {
        Methods::List(list) => {
            format_ident!("{}", list.first().map_or("GET", |m| *m).to_uppercase())
        }
        Methods::All => format_ident!("GET"),
    };
    let returns = match response {
        Response::Typed(ty) => quote!(#ty),
        Response::Unit => quote!(()),
        Response::Opaque(_) | Response::Events(_) => quote!(#private::client::Opaque),
    };
    let mut inputs = Vec::new();
    let mut writes = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    for arg in args {
        if let Arg::Param { name, ty, .. } = arg {
            // The function's own argument (the route grammar refuses keywords).
            let var = format_ident!("{}", name);
            taken.push(name.clone());
            inputs.push(quote!(#var: #ty));
            writes.push(quote!(.param(#name, (&&&#private::client::traits::Value(&#var)).__endpoint_segment())));
        }
    }
    // `query` and `body`, unless a route parameter has the name.
    let fresh = |wanted: &str| {
        let mut name = wanted.to_string();
        while taken.contains(&name) {
            name.push('_');
        }
        format_ident!("{}", name)
    };
    let extractor = |wanted: &str| {
        args.iter().find_map(|arg| match arg {
            Arg::Extractor { ty } => wrapper(ty)
                .filter(|(name, _)| name == wanted)
                .map(|(_, inner)| inner),
            Arg::Param { .. } => None,
        })
    };
    if let Some(query) = extractor("Query") {
        let var = fresh("query");
        inputs.push(quote!(#var: #query));
        writes.push(
            quote!(.query_string((&&&#private::client::traits::Value(&#var)).__endpoint_query())),
        );
    }
    if let Some(body) = extractor("Json") {
        let var = fresh("body");
        inputs.push(quote!(#var: #body));
        writes.push(
            quote!(.json_body((&&&#private::client::traits::Value(&#var)).__endpoint_body())),
        );
    } else if let Some(Arg::Extractor { ty }) = args
        .iter()
        .rev()
        .find(|a| matches!(a, Arg::Extractor { .. }))
    {
        // The last extractor reads the body: one a typed call cannot write fails the call.
        let name = match ty {
            syn::Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        if let Some(name) = name.filter(|n| UNWRITTEN_BODIES.contains(&n.as_str())) {
            writes.push(quote!(.unsupported_body(#name)));
        }
    }
    if let Some(version) = version {
        writes.push(quote!(.header("api-version", #version)));
    }
    let template = &route.template;
    let struct_doc = format!(
        "Typed calls of the endpoint [`{ident}`](fn@{ident}): `{ident}::request(...)` (see the `client` module of the runtime)."
    );
    let fn_doc = format!(
        "A request to [`{ident}`](fn@{ident}), typed by what it returns: its route parameters, then its query and its JSON body if it reads them."
    );
    quote! {
        #[doc = #struct_doc]
        #[allow(non_camel_case_types, dead_code)]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
        #vis struct #ident {}

        impl #ident {
            #[doc = #fn_doc]
            #[allow(dead_code, clippy::too_many_arguments, clippy::needless_pass_by_value)]
            #vis fn request(#(#inputs),*) -> #private::client::Call<#returns> {
                // Named `_`: the function's types keep their meaning (`Value` is the
                // application's).
                #[allow(unused_imports)]
                use #private::client::traits::{Segment as _, Serialized as _, Unwritable as _};
                #private::client::Call::<#returns>::new(#private::client::Method::#method, #id, #template)
                    #(#writes)*
            }
        }
    }
}
