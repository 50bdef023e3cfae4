//! The attribute's rules: `route`, `id`, `method`, `access` and `roles`, `prerender` and
//! `static_paths`, `crate`. Each turns what was written into its checked value.

use proc_macro2::Span;
use syn::{Ident, LitStr};

use crate::endpoint::parse::MethodArg;
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

/// `crate = path`, or the runtime's own name.
pub(super) fn krate(krate: Option<syn::Path>) -> syn::Path {
    krate.unwrap_or_else(|| syn::parse_quote!(::endpoint_runtime))
}

/// Checks `route` against the route grammar. Returns it with its literal, which later errors
/// point at; `None` only after pushing an error.
pub(super) fn route(
    route: Option<LitStr>,
    route_written: bool,
    errors: &Errors,
) -> Option<(route::Route, LitStr)> {
    let Some(lit) = route else {
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
        return None;
    };
    match route::parse(&lit.value()) {
        Ok(route) => Some((route, lit)),
        Err(messages) => {
            for message in messages {
                errors.spanned(&lit, message);
            }
            None
        }
    }
}

/// Checks `id`, the group the endpoint mounts in.
pub(super) fn group(id: Option<LitStr>, errors: &Errors) -> Option<Group> {
    match id {
        None => Some(Group::CrateName),
        Some(lit) => match route::check_id(&lit.value()) {
            Ok(()) if lit.value() == "/" => Some(Group::Root),
            Ok(()) => Some(Group::Named(lit.value())),
            Err(message) => {
                errors.spanned(&lit, message);
                None
            }
        },
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

/// Checks `method`; `GET` when it is not written.
pub(super) fn methods(arg: Option<MethodArg>, errors: &Errors) -> Option<Methods> {
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

/// Checks `access` and `roles` together. The inner `None` means neither was written.
pub(super) fn access(
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

/// Checks `prerender` and `static_paths` against the method, access and route. A prerendered
/// endpoint with no access written is public: the file it becomes is served to anyone.
pub(super) fn prerender(
    prerender: Option<&Ident>,
    static_paths: Option<&(Ident, syn::Path)>,
    static_paths_written: bool,
    methods: Option<&Methods>,
    access: &mut Option<Option<Access>>,
    route: Option<&route::Route>,
    errors: &Errors,
) {
    let has_params = route.is_some_and(|r| r.params().next().is_some());
    let text = route.map(|r| r.template.as_str()).unwrap_or_default();
    if let Some((key, _)) = static_paths {
        if prerender.is_none() {
            errors.spanned(
                key,
                "`static_paths` lists the parameter values to prerender: add `prerender` too",
            );
        } else if route.is_some() && !has_params {
            errors.spanned(
                key,
                format!("the route `{text}` has no parameters, so there are no values to list: remove `static_paths`"),
            );
        }
    }
    let Some(flag) = prerender else { return };
    match methods {
        Some(Methods::List(list)) if list.as_slice() == ["Get"] => {}
        Some(_) => errors.spanned(
            flag,
            "`prerender` needs `method = get` alone: the build calls the endpoint with GET and writes the body to a file",
        ),
        None => {}
    }
    match access {
        Some(Some(Access::Public)) | None => {}
        Some(None) => *access = Some(Some(Access::Public)),
        Some(Some(level)) => {
            let level = match level {
                Access::Authenticated => "access = authenticated",
                Access::Admin => "access = admin",
                _ => "roles",
            };
            errors.spanned(
                flag,
                format!("`prerender` cannot be combined with `{level}`: the build calls the endpoint anonymously and the file it writes is public; use `access = public`"),
            );
        }
    }
    if has_params && !static_paths_written {
        errors.spanned(
            flag,
            format!("the route `{text}` has parameters: add `static_paths = function` naming a function that lists their values to prerender"),
        );
    }
}

/// `status = 201`: a success or redirect status (200-399), the one the OpenAPI document gives
/// the endpoint's response when its return type does not say. Errors sit at the number.
pub(super) fn status(
    status: Option<syn::LitInt>,
    errors: &Errors,
) -> Option<(u16, proc_macro2::Span)> {
    let lit = status?;
    match lit.base10_parse::<u16>() {
        Ok(code) if (200..=399).contains(&code) => Some((code, lit.span())),
        Ok(code) if (100..=599).contains(&code) => {
            errors.spanned(
                &lit,
                format!(
                    "`status` states the success response (200-399); {code} is {}: \
                     return it as an `EndpointError`, which the document lists already",
                    if code < 200 {
                        "informational"
                    } else {
                        "an error"
                    }
                ),
            );
            None
        }
        _ => {
            errors.spanned(
                &lit,
                "expected an HTTP status code between 200 and 399: `status = 201`",
            );
            None
        }
    }
}
