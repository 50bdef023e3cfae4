//! Stage 1: the attribute's arguments as written, with their tokens kept for spans.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Ident, LitStr, Token};

use crate::errors::Errors;

/// Every argument key, in one place.
pub(crate) mod kw {
    pub(crate) const ROUTE: &str = "route";
    pub(crate) const METHOD: &str = "method";
    pub(crate) const ID: &str = "id";
    pub(crate) const ACCESS: &str = "access";
    pub(crate) const ROLES: &str = "roles";
    pub(crate) const CRATE: &str = "crate";
    pub(crate) const PRERENDER: &str = "prerender";
    pub(crate) const STATIC_PATHS: &str = "static_paths";
    pub(crate) const CONFINED: &str = "confined";
    pub(crate) const CAPABILITIES: &str = "capabilities";
    pub(crate) const TIMEOUT: &str = "timeout";
    pub(crate) const BODY_LIMIT: &str = "body_limit";
    pub(crate) const CONCURRENCY: &str = "concurrency";
    pub(crate) const RATE_LIMIT: &str = "rate_limit";
    pub(crate) const PER: &str = "per";
    pub(crate) const IDEMPOTENT: &str = "idempotent";
    pub(crate) const STATUS: &str = "status";
    pub(crate) const DEPRECATED: &str = "deprecated";
    pub(crate) const SUNSET: &str = "sunset";
    pub(crate) const SINCE: &str = "since";
    pub(crate) const UNTIL: &str = "until";
    pub(crate) const CLIENT: &str = "client";
    pub(crate) const ALL: &[&str] = &[
        ROUTE,
        METHOD,
        ID,
        ACCESS,
        ROLES,
        PRERENDER,
        STATIC_PATHS,
        CONFINED,
        CAPABILITIES,
        TIMEOUT,
        BODY_LIMIT,
        CONCURRENCY,
        RATE_LIMIT,
        PER,
        IDEMPOTENT,
        STATUS,
        DEPRECATED,
        SUNSET,
        SINCE,
        UNTIL,
        CLIENT,
        CRATE,
    ];
}

/// `method = get` or `method = [get, post]`.
pub(crate) enum MethodArg {
    One(Ident),
    List { brackets: Span, items: Vec<Ident> },
}

/// One entry of `capabilities(...)`.
pub(crate) enum CapabilityArg {
    /// `log`.
    Log,
    /// `request = ["https://api.example.com"]`.
    Request(Vec<LitStr>),
}

/// The attribute's arguments, each `None` when absent or unparseable (the error is pushed).
pub(crate) struct EndpointArgs {
    pub(crate) route: Option<LitStr>,
    pub(crate) method: Option<MethodArg>,
    pub(crate) id: Option<LitStr>,
    pub(crate) access: Option<Ident>,
    pub(crate) roles: Option<(Ident, Vec<LitStr>)>,
    pub(crate) krate: Option<syn::Path>,
    /// `prerender`, the flag's own token.
    pub(crate) prerender: Option<Ident>,
    /// `static_paths = path::to::function`: the key's token and the function's path.
    pub(crate) static_paths: Option<(Ident, syn::Path)>,
    /// `confined`, the flag's own token.
    pub(crate) confined: Option<Ident>,
    /// `capabilities(...)`: the key's token and the capabilities that parsed.
    pub(crate) capabilities: Option<(Ident, Vec<CapabilityArg>)>,
    /// `static_paths` was written, even if its value was not usable.
    pub(crate) static_paths_written: bool,
    /// `route` was written, even if its value was not usable (that error is already pushed).
    pub(crate) route_written: bool,
    /// `timeout`, `body_limit`, `concurrency`, `rate_limit`, `per`, as written.
    pub(crate) policy: super::validate::PolicyArgs,
    /// `status = 201`: the success status the endpoint answers.
    pub(crate) status: Option<syn::LitInt>,
    /// `deprecated = "2026-06-30"`, `sunset`, `since`, `until`, as written.
    pub(crate) lifecycle: super::validate::LifecycleArgs,
    /// `client = false`: no typed-call type.
    pub(crate) client: Option<syn::LitBool>,
}

/// A literal of the type `L` (`syn::LitInt`, `syn::LitBool`), or, after pushing `expected` at
/// the value and skipping it, `None`.
fn literal<L: syn::parse::Parse>(
    input: ParseStream<'_>,
    expected: &str,
    errors: &Errors,
) -> syn::Result<Option<L>> {
    if input.fork().parse::<L>().is_ok() {
        return input.parse::<L>().map(Some);
    }
    let span = input.span();
    crate::errors::skip_value(input)?;
    errors.at(span, expected);
    Ok(None)
}

fn set_once<T>(slot: &mut Option<T>, value: Option<T>, key: &syn::Path, errors: &Errors) {
    let Some(value) = value else { return };
    if slot.is_some() {
        let name = key.get_ident().map(ToString::to_string).unwrap_or_default();
        errors.spanned(key, format!("duplicate `{name}` argument"));
    } else {
        *slot = Some(value);
    }
}

fn lit_str(
    input: ParseStream<'_>,
    key: &str,
    example: &str,
    errors: &Errors,
) -> syn::Result<Option<LitStr>> {
    if input.peek(LitStr) {
        return Ok(Some(input.parse()?));
    }
    let span = input.span();
    crate::errors::skip_value(input)?;
    errors.at(
        span,
        format!("expected a string literal: `{key} = {example}`"),
    );
    Ok(None)
}

fn ident_value(
    input: ParseStream<'_>,
    key: &str,
    choices: &str,
    errors: &Errors,
) -> syn::Result<Option<Ident>> {
    if input.peek(Ident) {
        return Ok(Some(input.parse()?));
    }
    let span = input.span();
    let quoted = input.peek(LitStr);
    crate::errors::skip_value(input)?;
    let hint = if quoted { " (without quotes)" } else { "" };
    errors.at(
        span,
        format!("expected one of {choices}{hint}: `{key} = ...`"),
    );
    Ok(None)
}

fn method_value(input: ParseStream<'_>, errors: &Errors) -> syn::Result<Option<MethodArg>> {
    if input.peek(syn::token::Bracket) {
        let content;
        let brackets = syn::bracketed!(content in input);
        let mut items = Vec::new();
        while !content.is_empty() {
            if content.peek(Ident) {
                items.push(content.parse::<Ident>()?);
            } else {
                let span = content.span();
                content.parse::<TokenTree>()?;
                errors.at(
                    span,
                    "expected an HTTP method such as `get`, without quotes",
                );
            }
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        return Ok(Some(MethodArg::List {
            brackets: brackets.span.join(),
            items,
        }));
    }
    Ok(ident_value(
        input,
        kw::METHOD,
        "`get`, `post`, ... or `[get, post]`",
        errors,
    )?
    .map(MethodArg::One))
}

fn roles_value(input: ParseStream<'_>, errors: &Errors) -> syn::Result<Option<Vec<LitStr>>> {
    if !input.peek(syn::token::Bracket) {
        let span = input.span();
        crate::errors::skip_value(input)?;
        errors.at(
            span,
            "expected a list of role names: `roles = [\"editor\"]`",
        );
        return Ok(None);
    }
    let content;
    syn::bracketed!(content in input);
    let mut roles = Vec::new();
    while !content.is_empty() {
        if content.peek(LitStr) {
            roles.push(content.parse::<LitStr>()?);
        } else {
            let span = content.span();
            content.parse::<TokenTree>()?;
            errors.at(
                span,
                "expected a role name as a string literal: `roles = [\"editor\"]`",
            );
        }
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(Some(roles))
}

/// Parses the inside of `capabilities(...)`: `log` and `request = ["origin", ...]`.
fn capabilities_value(input: ParseStream<'_>, errors: &Errors) -> syn::Result<Vec<CapabilityArg>> {
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    while !input.is_empty() {
        let Ok(name) = input.parse::<Ident>() else {
            let span = input.span();
            crate::errors::skip_value(input)?;
            errors.at(span, "expected a capability: `log` or `request = [...]`");
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
            }
            continue;
        };
        let text = name.to_string();
        if seen.contains(&text) {
            errors.spanned(&name, format!("duplicate capability `{text}`"));
        }
        seen.push(text.clone());
        match text.as_str() {
            "log" if input.peek(Token![=]) => {
                errors.spanned(&name, "`log` takes no value: write `log`");
                input.parse::<Token![=]>()?;
                crate::errors::skip_value(input)?;
            }
            "log" => out.push(CapabilityArg::Log),
            "request" if !input.peek(Token![=]) => errors.spanned(
                &name,
                "`request` names the origins it may reach: `request = [\"https://api.example.com\"]`",
            ),
            "request" => {
                input.parse::<Token![=]>()?;
                if input.peek(syn::token::Bracket) {
                    let content;
                    syn::bracketed!(content in input);
                    let mut origins = Vec::new();
                    while !content.is_empty() {
                        if content.peek(LitStr) {
                            origins.push(content.parse::<LitStr>()?);
                        } else {
                            let span = content.span();
                            content.parse::<TokenTree>()?;
                            errors.at(
                                span,
                                "expected an origin as a string literal, such as `\"https://api.example.com\"`",
                            );
                        }
                        if content.is_empty() {
                            break;
                        }
                        content.parse::<Token![,]>()?;
                    }
                    out.push(CapabilityArg::Request(origins));
                } else {
                    let span = input.span();
                    crate::errors::skip_value(input)?;
                    errors.at(
                        span,
                        "expected a list of origins: `request = [\"https://api.example.com\"]`",
                    );
                }
            }
            _ => {
                errors.spanned(
                    &name,
                    format!("unknown capability `{text}`: the host API offers `log` and `request = [...]`"),
                );
                if input.peek(Token![=]) {
                    input.parse::<Token![=]>()?;
                    crate::errors::skip_value(input)?;
                }
            }
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(out)
}

/// Parses `route = "...", method = ..., ...`, pushing every problem and keeping what parsed.
pub(crate) fn parse_args(args: TokenStream, errors: &Errors) -> EndpointArgs {
    let mut out = EndpointArgs {
        route: None,
        method: None,
        id: None,
        access: None,
        roles: None,
        krate: None,
        prerender: None,
        static_paths: None,
        static_paths_written: false,
        confined: None,
        capabilities: None,
        route_written: false,
        status: None,
        lifecycle: super::validate::LifecycleArgs::default(),
        client: None,
        policy: super::validate::PolicyArgs {
            timeout: None,
            body_limit: None,
            concurrency: None,
            rate_limit: None,
            per: None,
            idempotent: None,
        },
    };
    let parser = syn::meta::parser(|meta| {
        let path = meta.path.clone();
        if path.is_ident(kw::ROUTE) {
            out.route_written = true;
            let value = lit_str(meta.value()?, kw::ROUTE, "\"/...\"", errors)?;
            set_once(&mut out.route, value, &path, errors);
        } else if path.is_ident(kw::METHOD) {
            let value = method_value(meta.value()?, errors)?;
            set_once(&mut out.method, value, &path, errors);
        } else if path.is_ident(kw::ID) {
            let value = lit_str(meta.value()?, kw::ID, "\"greet\"", errors)?;
            set_once(&mut out.id, value, &path, errors);
        } else if path.is_ident(kw::ACCESS) {
            let value = ident_value(
                meta.value()?,
                kw::ACCESS,
                "`public`, `authenticated`, `admin`",
                errors,
            )?;
            set_once(&mut out.access, value, &path, errors);
        } else if path.is_ident(kw::ROLES) {
            let key = path.get_ident().cloned();
            let value = roles_value(meta.value()?, errors)?;
            set_once(&mut out.roles, key.zip(value), &path, errors);
        } else if path.is_ident(kw::PRERENDER) {
            if meta.input.peek(Token![=]) {
                errors.spanned(
                    &path,
                    "`prerender` is a flag: write `prerender` alone, without a value",
                );
                meta.input.parse::<Token![=]>()?;
                crate::errors::skip_value(meta.input)?;
            } else {
                set_once(&mut out.prerender, path.get_ident().cloned(), &path, errors);
            }
        } else if path.is_ident(kw::STATIC_PATHS) {
            out.static_paths_written = true;
            let key = path.get_ident().cloned();
            let input = meta.value()?;
            let value = if input.peek(Ident)
                || input.peek(Token![::])
                || input.peek(Token![crate])
                || input.peek(Token![self])
                || input.peek(Token![super])
            {
                Some(input.parse::<syn::Path>()?)
            } else {
                let span = input.span();
                crate::errors::skip_value(input)?;
                errors.at(
                    span,
                    "expected the path of a function: `static_paths = user_ids`",
                );
                None
            };
            set_once(&mut out.static_paths, key.zip(value), &path, errors);
        } else if path.is_ident(kw::CONFINED) {
            if meta.input.peek(Token![=]) {
                errors.spanned(
                    &path,
                    "`confined` is a flag: write `confined` alone, and its capabilities in `capabilities(...)`",
                );
                meta.input.parse::<Token![=]>()?;
                crate::errors::skip_value(meta.input)?;
            } else {
                set_once(&mut out.confined, path.get_ident().cloned(), &path, errors);
            }
        } else if path.is_ident(kw::CAPABILITIES) {
            let key = path.get_ident().cloned();
            let value = if meta.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in meta.input);
                Some(capabilities_value(&content, errors)?)
            } else {
                let span = meta.input.span();
                crate::errors::skip_value(meta.input)?;
                errors.at(
                    span,
                    "expected a list: `capabilities(log, request = [\"https://api.example.com\"])`",
                );
                None
            };
            set_once(&mut out.capabilities, key.zip(value), &path, errors);
        } else if path.is_ident(kw::TIMEOUT) {
            let value = lit_str(meta.value()?, kw::TIMEOUT, "\"2s\"", errors)?;
            set_once(&mut out.policy.timeout, value, &path, errors);
        } else if path.is_ident(kw::BODY_LIMIT) {
            let value = lit_str(meta.value()?, kw::BODY_LIMIT, "\"10MiB\"", errors)?;
            set_once(&mut out.policy.body_limit, value, &path, errors);
        } else if path.is_ident(kw::RATE_LIMIT) {
            let value = lit_str(meta.value()?, kw::RATE_LIMIT, "\"10/minute\"", errors)?;
            set_once(&mut out.policy.rate_limit, value, &path, errors);
        } else if path.is_ident(kw::CONCURRENCY) {
            let value = literal(
                meta.value()?,
                "expected a number: `concurrency = 16`",
                errors,
            )?;
            set_once(&mut out.policy.concurrency, value, &path, errors);
        } else if path.is_ident(kw::IDEMPOTENT) {
            if meta.input.peek(Token![=]) {
                errors.spanned(
                    &path,
                    "`idempotent` is a flag: write `idempotent` alone, without a value",
                );
                meta.input.parse::<Token![=]>()?;
                crate::errors::skip_value(meta.input)?;
            } else {
                set_once(
                    &mut out.policy.idempotent,
                    path.get_ident().cloned(),
                    &path,
                    errors,
                );
            }
        } else if path.is_ident(kw::STATUS) {
            let value = literal(
                meta.value()?,
                "expected a status code: `status = 201`",
                errors,
            )?;
            set_once(&mut out.status, value, &path, errors);
        } else if path.is_ident(kw::DEPRECATED) {
            let key = path.get_ident().cloned();
            let date = if meta.input.peek(Token![=]) {
                lit_str(meta.value()?, kw::DEPRECATED, "\"2026-06-30\"", errors)?
            } else {
                None
            };
            set_once(
                &mut out.lifecycle.deprecated,
                key.map(|key| (key, date)),
                &path,
                errors,
            );
        } else if path.is_ident(kw::CLIENT) {
            let value = literal(
                meta.value()?,
                "expected `client = false` (or `true`, the default)",
                errors,
            )?;
            set_once(&mut out.client, value, &path, errors);
        } else if path.is_ident(kw::SUNSET) {
            let value = lit_str(meta.value()?, kw::SUNSET, "\"2027-01-01\"", errors)?;
            set_once(&mut out.lifecycle.sunset, value, &path, errors);
        } else if path.is_ident(kw::SINCE) {
            let value = lit_str(meta.value()?, kw::SINCE, "\"1.4\"", errors)?;
            set_once(&mut out.lifecycle.since, value, &path, errors);
        } else if path.is_ident(kw::UNTIL) {
            let value = lit_str(meta.value()?, kw::UNTIL, "\"2.0\"", errors)?;
            set_once(&mut out.lifecycle.until, value, &path, errors);
        } else if path.is_ident(kw::PER) {
            let value = ident_value(meta.value()?, kw::PER, "`user`, `ip`, `global`", errors)?;
            set_once(&mut out.policy.per, value, &path, errors);
        } else if path.is_ident(kw::CRATE) {
            let value = meta.value()?;
            let krate = if value.peek(LitStr) {
                let lit: LitStr = value.parse()?;
                errors.ok(lit.parse::<syn::Path>())
            } else {
                Some(value.parse::<syn::Path>()?)
            };
            set_once(&mut out.krate, krate, &path, errors);
        } else {
            errors.unknown_argument(&path, kw::ALL, meta.input)?;
        }
        Ok(())
    });
    if let Err(error) = parser.parse2(args) {
        errors.push(error);
    }
    out
}
