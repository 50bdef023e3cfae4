//! The rules of a confined endpoint, one run in a sandboxed worker process: a plain `fn` of a
//! fixed signature, safe Rust only, and the capabilities it is granted.

use proc_macro2::Span;
use syn::{FnArg, Ident, LitStr, Type};

use super::signature::{last_ident, type_text};
use crate::endpoint::parse::CapabilityArg;
use crate::errors::Errors;
use crate::origin;
use crate::route::Route;

/// The capabilities of a confined endpoint.
pub(crate) struct Confined {
    /// `log`.
    pub(crate) log: bool,
    /// `request = [...]`, each origin normalized: `scheme://host[:port]`, lower case.
    pub(crate) origins: Vec<String>,
}

/// A confined handler is a plain `fn`, and is never prerendered.
pub(super) fn plain_fn(sig: &syn::Signature, prerender: Option<&Ident>, errors: &Errors) {
    let syn::Signature {
        asyncness, ident, ..
    } = sig;
    if let Some(token) = asyncness {
        errors.spanned(token, format!(
            "confined handlers are plain functions: a worker process runs one call at a time and host calls block; write `fn {ident}`"
        ));
    }
    if let Some(prerender) = prerender {
        errors.spanned(
            prerender,
            "`prerender` cannot be combined with `confined`: a confined endpoint runs in a worker process, not at build time",
        );
    }
}

/// A confined endpoint's route has no `{name}.json` segment: its worker receives the
/// parameters as the router matched them, whole segments.
pub(super) fn no_suffix(route: Option<(&Route, &LitStr)>, errors: &Errors) {
    if let Some((route, literal)) = route
        && let Some(suffix) = route.suffix()
    {
        errors.spanned(
            literal,
            format!(
                "a parameter with a suffix (`{suffix}`) is not available on a confined endpoint: \
                 give the parameter its own segment, such as `/{{id}}`"
            ),
        );
    }
}

/// `capabilities(...)` on an endpoint that is not confined.
pub(super) fn no_capabilities(capabilities: Option<(Ident, Vec<CapabilityArg>)>, errors: &Errors) {
    if let Some((key, _)) = capabilities {
        errors.spanned(
            &key,
            "`capabilities` belong to a confined endpoint: add `confined`",
        );
    }
}

/// Checks `capabilities(...)` of a confined endpoint: each origin of `request = [...]` against
/// the origin grammar, normalized and listed once.
pub(super) fn capabilities(
    capabilities: Option<(Ident, Vec<CapabilityArg>)>,
    errors: &Errors,
) -> Confined {
    let mut out = Confined {
        log: false,
        origins: Vec::new(),
    };
    for capability in capabilities.map(|(_, list)| list).unwrap_or_default() {
        match capability {
            CapabilityArg::Log => out.log = true,
            CapabilityArg::Request(origins) => {
                if origins.is_empty() {
                    errors.at(
                        Span::call_site(),
                        "`request = []` allows no origin: list at least one, or drop `request`",
                    );
                }
                for lit in origins {
                    match origin::parse(&lit.value()) {
                        Ok(origin) if out.origins.contains(&origin) => {
                            errors.spanned(&lit, format!("duplicate origin `{origin}`"));
                        }
                        Ok(origin) => out.origins.push(origin),
                        Err(message) => errors.spanned(&lit, message),
                    }
                }
            }
        }
    }
    out
}

/// A confined handler's arguments are fixed: the request data and the host handle.
pub(super) fn inputs(inputs: &syn::punctuated::Punctuated<FnArg, syn::Token![,]>, errors: &Errors) {
    const SIGNATURE: &str = "`fn(request: ConfinedRequest, host: &mut Host)`";
    let mut typed = Vec::new();
    for input in inputs {
        match input {
            FnArg::Receiver(receiver) => errors.spanned(
                receiver,
                "endpoint handlers are free functions and cannot take `self`",
            ),
            FnArg::Typed(pat_type) => typed.push(pat_type),
        }
    }
    for (index, pat_type) in typed.iter().enumerate() {
        let ty = &*pat_type.ty;
        let ok = match index {
            0 => {
                last_ident(ty).is_some_and(|i| i == "ConfinedRequest")
                    && !matches!(ty, Type::Reference(_))
            }
            1 => matches!(ty, Type::Reference(r) if r.mutability.is_some()
                && last_ident(&r.elem).is_some_and(|i| i == "Host")),
            _ => false,
        };
        if !ok {
            let text = type_text(ty);
            errors.spanned(ty, format!(
                "a confined handler takes exactly {SIGNATURE}, so `{text}` cannot be an argument: no extractor, header, cookie or token reaches the sandbox"
            ));
        }
    }
    if typed.len() < 2 {
        errors.at(
            inputs.span_or_call_site(),
            format!("a confined handler takes exactly {SIGNATURE}"),
        );
    }
}

trait SpanOrCallSite {
    fn span_or_call_site(&self) -> Span;
}

impl SpanOrCallSite for syn::punctuated::Punctuated<FnArg, syn::Token![,]> {
    fn span_or_call_site(&self) -> Span {
        use syn::spanned::Spanned as _;
        if self.is_empty() {
            Span::call_site()
        } else {
            self.span()
        }
    }
}

/// Reports every `unsafe` block, function and impl in a confined handler's body: the
/// sandbox's promises assume safe Rust (the emitted function is `#[forbid(unsafe_code)]`
/// too, which also catches `unsafe` produced by macros).
pub(super) fn no_unsafe(block: &syn::Block, errors: &Errors) {
    struct Finder<'a>(&'a Errors);
    const MESSAGE: &str = "a confined handler cannot use `unsafe`: the sandbox assumes safe Rust";
    impl<'ast> syn::visit::Visit<'ast> for Finder<'_> {
        fn visit_expr_unsafe(&mut self, node: &'ast syn::ExprUnsafe) {
            self.0.spanned(node.unsafe_token, MESSAGE);
            syn::visit::visit_expr_unsafe(self, node);
        }
        fn visit_signature(&mut self, node: &'ast syn::Signature) {
            if let syn::Safety::Unsafe(token) = &node.safety {
                self.0.spanned(token, MESSAGE);
            }
            syn::visit::visit_signature(self, node);
        }
        fn visit_item_impl(&mut self, node: &'ast syn::ItemImpl) {
            if let Some(token) = node.unsafety {
                self.0.spanned(token, MESSAGE);
            }
            syn::visit::visit_item_impl(self, node);
        }
    }
    syn::visit::Visit::visit_block(&mut Finder(errors), block);
}
