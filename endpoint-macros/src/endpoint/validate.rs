//! Stage 2: the checked meaning of one endpoint. Codegen trusts it and never re-checks.

use proc_macro2::Span;
use quote::ToTokens;
use syn::{FnArg, Ident, LitStr, Pat, Type};

use super::parse::{EndpointArgs, MethodArg};
use crate::errors::Errors;
use crate::route;

/// The HTTP methods an endpoint answers.
pub(crate) enum Methods {
    /// Variant names of `endpoint_runtime::Method`, in the order written.
    List(Vec<&'static str>),
    /// `all`: every method not otherwise routed on the path (Astro's `ALL`).
    All,
}

/// The access level written in the attribute.
pub(crate) enum Access {
    Public,
    Authenticated,
    Admin,
    Roles(Vec<String>),
}

/// Where the endpoint group mounts.
pub(crate) enum Group {
    /// No `id`: the crate's package name, read by `env!` in the user's crate.
    CrateName,
    /// `id = "/"`: the site root.
    Root,
    /// `id = "greet"`: `/greet`.
    Named(String),
}

/// One argument of the user's function.
pub(crate) enum Arg {
    /// A route parameter, parsed from its segment.
    Param {
        name: String,
        ty: Type,
        catch_all: bool,
    },
    /// Anything else: an axum extractor. The last one may read the body.
    Extractor { ty: Type },
}

pub(crate) struct Endpoint {
    pub(crate) krate: syn::Path,
    pub(crate) group: Group,
    pub(crate) route: LitStr,
    pub(crate) methods: Methods,
    /// `None` when the attribute states no access (the runtime applies its default).
    pub(crate) access: Option<Access>,
    pub(crate) ident: Ident,
    pub(crate) args: Vec<Arg>,
    /// `None` when nothing is written (`()`) or for `impl Trait`, which cannot be named in a check.
    pub(crate) output: Option<Type>,
    /// The return type is `impl Trait`: it cannot be named, so it is documented as untyped.
    pub(crate) opaque_output: bool,
    pub(crate) docs: String,
}

const METHODS: &[(&str, &str)] = &[
    ("get", "Get"),
    ("post", "Post"),
    ("put", "Put"),
    ("patch", "Patch"),
    ("delete", "Delete"),
    ("head", "Head"),
    ("options", "Options"),
    ("trace", "Trace"),
];
const ALL_METHODS: &str =
    "`get`, `post`, `put`, `patch`, `delete`, `head`, `options`, `trace`, `all`";

/// Extractors that consume the request body, matched by the last segment of their type path.
const BODY_EXTRACTORS: &[&str] = &[
    "Json",
    "Form",
    "Bytes",
    "BytesMut",
    "Body",
    "Request",
    "Multipart",
    "RawForm",
];

/// Types that can only be path parameters: an argument of one of these types whose name is not
/// a route parameter is a mistake, not an extractor.
const SCALARS: &[&str] = &[
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32",
    "f64", "bool", "char", "String", "str", "Uuid",
];

/// A type as the user would write it: `Json<Value>`, not `Json < Value >`.
pub(crate) fn type_text(ty: &Type) -> String {
    let text = ty.to_token_stream().to_string();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' ' {
            let prev = out.chars().last();
            let next = chars.peek().copied();
            let tight = matches!(prev, Some('<' | '&' | ':' | '(' | '['))
                || matches!(next, Some('<' | '>' | ',' | ':' | ')' | ']'));
            if tight {
                continue;
            }
        }
        out.push(c);
    }
    out
}

fn last_ident(ty: &Type) -> Option<&Ident> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last().map(|s| &s.ident),
        Type::Reference(reference) => last_ident(&reference.elem),
        Type::Group(group) => last_ident(&group.elem),
        Type::Paren(paren) => last_ident(&paren.elem),
        _ => None,
    }
}

fn method(ident: &Ident, errors: &Errors) -> Option<&'static str> {
    let name = ident.to_string();
    if let Some((_, variant)) = METHODS.iter().find(|(m, _)| *m == name) {
        return Some(variant);
    }
    let lower = name.to_ascii_lowercase();
    if METHODS.iter().any(|(m, _)| *m == lower) || lower == "all" {
        errors.spanned(
            ident,
            format!("HTTP methods are written in lowercase: `{lower}`"),
        );
    } else {
        errors.spanned(
            ident,
            format!("unknown HTTP method `{name}`, expected one of {ALL_METHODS}"),
        );
    }
    None
}

fn methods(arg: Option<MethodArg>, errors: &Errors) -> Option<Methods> {
    match arg {
        None => Some(Methods::List(vec!["Get"])),
        Some(MethodArg::One(ident)) if ident == "all" => Some(Methods::All),
        Some(MethodArg::One(ident)) => method(&ident, errors).map(|m| Methods::List(vec![m])),
        Some(MethodArg::List { brackets, items }) => {
            if items.is_empty() {
                errors.at(
                    brackets,
                    "the method list is empty: write `method = [get, post]`",
                );
                return None;
            }
            let mut list = Vec::new();
            let mut ok = true;
            for ident in &items {
                if ident == "all" {
                    errors.spanned(
                        ident,
                        "`all` cannot be combined with other methods: write `method = all`",
                    );
                    ok = false;
                    continue;
                }
                match method(ident, errors) {
                    Some(m) if list.contains(&m) => {
                        errors.spanned(ident, format!("duplicate method `{ident}`"));
                        ok = false;
                    }
                    Some(m) => list.push(m),
                    None => ok = false,
                }
            }
            ok.then_some(Methods::List(list))
        }
    }
}

fn access(
    access: Option<Ident>,
    roles: Option<(Ident, Vec<LitStr>)>,
    errors: &Errors,
) -> Option<Option<Access>> {
    let level = match &access {
        None => None,
        Some(ident) if ident == "public" => Some(Access::Public),
        Some(ident) if ident == "authenticated" => Some(Access::Authenticated),
        Some(ident) if ident == "admin" => Some(Access::Admin),
        Some(ident) => {
            errors.spanned(ident, format!("unknown access level `{ident}`, expected one of `public`, `authenticated`, `admin`"));
            return None;
        }
    };
    let Some((key, roles)) = roles else {
        return Some(level);
    };
    match level {
        Some(Access::Public) | Some(Access::Admin) => {
            let access = access.expect("level implies access");
            errors.spanned(&key, format!("`roles` cannot be combined with `access = {access}`: roles imply `authenticated`, and admins always pass"));
            return None;
        }
        _ => {}
    }
    if roles.is_empty() {
        errors.spanned(
            &key,
            "`roles` is empty: name at least one role, such as `roles = [\"editor\"]`",
        );
        return None;
    }
    let mut names: Vec<String> = Vec::new();
    for role in &roles {
        let name = role.value();
        if name.trim().is_empty() {
            errors.spanned(role, "role names must not be empty");
            return None;
        }
        if names.contains(&name) {
            errors.spanned(role, format!("duplicate role `{name}`"));
            return None;
        }
        names.push(name);
    }
    Some(Some(Access::Roles(names)))
}

fn docs(attrs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            let value = s.value();
            lines.push(
                value
                    .strip_prefix(' ')
                    .unwrap_or(&value)
                    .trim_end()
                    .to_string(),
            );
        }
    }
    lines.join("\n").trim().to_string()
}

/// Checks the arguments and the function together. Returns `None` only after pushing an error.
pub(crate) fn validate(
    args: EndpointArgs,
    function: &syn::ItemFn,
    errors: &Errors,
) -> Option<Endpoint> {
    let EndpointArgs {
        route,
        method,
        id,
        access: access_arg,
        roles,
        krate,
        route_written,
    } = args;
    let syn::ItemFn { attrs, sig, .. } = function;

    // The attribute.
    let route_lit = route.or_else(|| {
        if route_written {
            // Its value was unusable and that error is already reported.
        } else if errors.is_empty() {
            errors.at(
                Span::call_site(),
                "missing argument `route`: `#[endpoint(route = \"/...\", method = get)]`",
            );
        } else {
            errors.at(Span::call_site(), "missing argument `route`");
        }
        None
    });
    let parsed_route = route_lit
        .as_ref()
        .and_then(|lit| match route::parse(&lit.value()) {
            Ok(route) => Some(route),
            Err(messages) => {
                for message in messages {
                    errors.spanned(lit, message);
                }
                None
            }
        });
    let group = match id {
        None => Some(Group::CrateName),
        Some(lit) => match route::check_id(&lit.value()) {
            Ok(()) if lit.value() == "/" => Some(Group::Root),
            Ok(()) => Some(Group::Named(lit.value())),
            Err(message) => {
                errors.spanned(&lit, message);
                None
            }
        },
    };
    let methods = methods(method, errors);
    let access = access(access_arg, roles, errors);

    // The function, checked even when the attribute failed.
    let syn::Signature {
        constness,
        asyncness,
        safety,
        abi,
        fn_token,
        ident,
        generics,
        inputs,
        variadic,
        output,
        ..
    } = sig;
    if let Some(token) = constness {
        errors.spanned(token, "endpoint handlers cannot be `const fn`");
    }
    if asyncness.is_none() {
        errors.spanned(
            fn_token,
            format!("endpoint handlers must be async: write `async fn {ident}`"),
        );
    }
    if let syn::Safety::Unsafe(token) = safety {
        errors.spanned(token, "endpoint handlers cannot be `unsafe fn`");
    }
    if let Some(abi) = abi {
        errors.spanned(abi, "endpoint handlers cannot declare an ABI");
    }
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        errors.spanned(
            generics,
            "endpoint handlers cannot be generic: each registers one concrete handler",
        );
    }
    if let Some(variadic) = variadic {
        errors.spanned(variadic, "endpoint handlers cannot be variadic");
    }

    let route_params: Vec<(String, bool)> = parsed_route
        .as_ref()
        .map(|r| r.params().map(|(n, c)| (n.to_string(), c)).collect())
        .unwrap_or_default();
    let route_text = route_lit.as_ref().map(LitStr::value).unwrap_or_default();
    let mut bound: Vec<String> = Vec::new();
    let mut out_args = Vec::new();
    let count = inputs.len();
    let mut body_seen: Option<&Type> = None;
    for (index, input) in inputs.iter().enumerate() {
        let pat_type = match input {
            FnArg::Receiver(receiver) => {
                errors.spanned(
                    receiver,
                    "endpoint handlers are free functions and cannot take `self`",
                );
                continue;
            }
            FnArg::Typed(pat_type) => pat_type,
        };
        let ty = &*pat_type.ty;
        let name = match &*pat_type.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                Some(p.ident.to_string().trim_start_matches("r#").to_string())
            }
            _ => None,
        };
        let ty_ident = last_ident(ty).map(ToString::to_string);
        if let Some(written) = &name {
            // `_id` binds `{id}` too, for a handler that ignores the value.
            let matched = route_params.iter().find(|(n, _)| n == written).or_else(|| {
                route_params
                    .iter()
                    .find(|(n, _)| Some(n.as_str()) == written.strip_prefix('_'))
            });
            if let Some((name, catch_all)) = matched {
                if let Type::Reference(reference) = ty {
                    errors.spanned(
                        reference,
                        "path parameters are owned values: use `String` instead of `&str`",
                    );
                } else if matches!(ty, Type::ImplTrait(_)) {
                    errors.spanned(
                        ty,
                        "path parameters need a concrete type such as `u64` or `String`",
                    );
                }
                if bound.contains(name) {
                    errors.spanned(
                        &pat_type.pat,
                        format!("route parameter `{name}` is already bound by another argument"),
                    );
                    continue;
                }
                bound.push(name.clone());
                out_args.push(Arg::Param {
                    name: name.clone(),
                    ty: ty.clone(),
                    catch_all: *catch_all,
                });
                continue;
            }
            if ty_ident.as_deref().is_some_and(|t| SCALARS.contains(&t)) && parsed_route.is_some() {
                let listed = if route_params.is_empty() {
                    String::from("it has no parameters")
                } else {
                    let names: Vec<String> = route_params
                        .iter()
                        .map(|(n, c)| {
                            if *c {
                                format!("`{{*{n}}}`")
                            } else {
                                format!("`{{{n}}}`")
                            }
                        })
                        .collect();
                    format!("its parameters are {}", names.join(", "))
                };
                errors.spanned(
                    &pat_type.pat,
                    format!(
                        "`{written}` is not a parameter of the route `{route_text}` ({listed}): \
                         add `{{{written}}}` to the route, or use an extractor type"
                    ),
                );
                continue;
            }
        }
        if matches!(ty, Type::ImplTrait(_)) {
            errors.spanned(
                ty,
                "endpoint arguments need concrete types, not `impl Trait`",
            );
            continue;
        }
        if ty_ident
            .as_deref()
            .is_some_and(|t| BODY_EXTRACTORS.contains(&t))
        {
            if let Some(first) = body_seen {
                errors.spanned(
                    ty,
                    format!(
                        "only one argument can read the request body, and `{}` already does",
                        type_text(first)
                    ),
                );
            } else if index + 1 != count {
                let pat = pat_type.pat.to_token_stream();
                let text = type_text(ty);
                errors.spanned(ty, format!(
                    "`{text}` reads the request body, so it must be the last argument: move `{pat}: {text}` to the end"
                ));
            }
            body_seen.get_or_insert(ty);
        }
        out_args.push(Arg::Extractor { ty: ty.clone() });
    }
    if let Some(lit) = &route_lit {
        for (name, catch_all) in &route_params {
            if !bound.contains(name) {
                let shown = if *catch_all {
                    format!("{{*{name}}}")
                } else {
                    format!("{{{name}}}")
                };
                let ty = if *catch_all { "String" } else { "T" };
                errors.spanned(lit, format!(
                    "route parameter `{shown}` has no matching argument: add `{name}: {ty}` to `fn {ident}`"
                ));
            }
        }
    }

    let opaque_output =
        matches!(output, syn::ReturnType::Type(_, ty) if matches!(**ty, Type::ImplTrait(_)));
    let output = match output {
        syn::ReturnType::Default => None,
        syn::ReturnType::Type(_, ty) => {
            if matches!(**ty, Type::ImplTrait(_)) {
                None
            } else {
                Some((**ty).clone())
            }
        }
    };
    Some(Endpoint {
        krate: krate.unwrap_or_else(|| syn::parse_quote!(::endpoint_runtime)),
        group: group?,
        route: route_lit?,
        methods: methods?,
        access: access?,
        ident: ident.clone(),
        args: out_args,
        output,
        opaque_output,
        docs: docs(attrs),
    })
}
