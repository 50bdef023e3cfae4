//! The handler's signature: the qualifiers no handler may have and, for the `async fn` the
//! server runs, each argument bound to a route parameter or taken as an extractor (the body
//! reader last), and its return type. Also how a type reads in a message.

use quote::ToTokens;
use syn::{FnArg, Ident, LitStr, Pat, Type};

use crate::errors::Errors;
use crate::route;

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

/// What the user's function returns.
pub(crate) enum Response {
    /// `-> T`: checked to be a response, and documented as `T`.
    Typed(Box<Type>),
    /// Nothing written: `()`.
    Unit,
    /// A type with `impl Trait` in it (`impl IntoResponse`, `Vec<impl Trait>`): it cannot be
    /// named in a check, so it is documented as untyped (the text is the type as written).
    Opaque(String),
    /// Server-sent events, `Sse<S>` (or `Result<Sse<S>, E>`), nameable or not: documented as
    /// `text/event-stream`, with the item type when `S` is `impl Stream<Item = X>` and `X` can
    /// be named.
    Events(Option<Box<Type>>),
}

/// Extractors that consume the request body, matched by the last segment of their type path.
const BODY_EXTRACTORS: &[&str] = &[
    "Json",
    "Form",
    "Bytes",
    "BytesMut",
    "Body",
    "BodyStream",
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

/// The last identifier of a type's path, through references and parentheses: `Json` for
/// `axum::Json<T>`.
pub(super) fn last_ident(ty: &Type) -> Option<&Ident> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last().map(|s| &s.ident),
        Type::Reference(reference) => last_ident(&reference.elem),
        Type::Group(group) => last_ident(&group.elem),
        Type::Paren(paren) => last_ident(&paren.elem),
        _ => None,
    }
}

/// No handler is a `const fn`.
pub(super) fn not_const(sig: &syn::Signature, errors: &Errors) {
    if let Some(token) = &sig.constness {
        errors.spanned(token, "endpoint handlers cannot be `const fn`");
    }
}

/// A handler the server runs is an `async fn`.
pub(super) fn is_async(sig: &syn::Signature, errors: &Errors) {
    let syn::Signature {
        asyncness,
        fn_token,
        ident,
        ..
    } = sig;
    if asyncness.is_none() {
        errors.spanned(
            fn_token,
            format!("endpoint handlers must be async: write `async fn {ident}`"),
        );
    }
}

/// No handler is `unsafe`, declares an ABI, is generic or is variadic.
pub(super) fn qualifiers(sig: &syn::Signature, errors: &Errors) {
    let syn::Signature {
        safety,
        abi,
        generics,
        variadic,
        ..
    } = sig;
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
}

/// Binds each argument to the route parameter of its name, or takes it as an extractor, then
/// reports every route parameter that no argument binds.
pub(super) fn arguments(
    sig: &syn::Signature,
    route: Option<(&route::Route, &LitStr)>,
    errors: &Errors,
) -> Vec<Arg> {
    let syn::Signature { ident, inputs, .. } = sig;
    let route_params: Vec<(String, bool)> = route
        .map(|(r, _)| r.params().map(|(n, c)| (n.to_string(), c)).collect())
        .unwrap_or_default();
    let route_text = route.map(|(r, _)| r.template.as_str()).unwrap_or_default();
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
            if ty_ident.as_deref().is_some_and(|t| SCALARS.contains(&t)) && route.is_some() {
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
    if let Some((_, lit)) = route {
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
    out_args
}

/// The return type, as codegen checks and documents it.
pub(super) fn response(output: &syn::ReturnType) -> Response {
    match output {
        syn::ReturnType::Default => Response::Unit,
        syn::ReturnType::Type(_, ty) => match events(ty) {
            Some(item) => Response::Events(item),
            None if has_impl_trait(ty) => Response::Opaque(type_text(ty)),
            None => Response::Typed(ty.clone()),
        },
    }
}

/// For `Sse<S>` or `Result<Sse<S>, E>` (by the last segment of the path): `Some`, with the
/// item type `X` of `S = impl Stream<Item = X>` when `X` has no `impl Trait` in it.
fn events(ty: &Type) -> Option<Option<Box<Type>>> {
    let segment = last_segment(ty)?;
    let first = first_type_argument(segment);
    if segment.ident == "Result" {
        return events(first?);
    }
    if segment.ident != "Sse" {
        return None;
    }
    let Some(Type::ImplTrait(stream)) = first else {
        return Some(None);
    };
    let item = stream.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(bound) = bound else {
            return None;
        };
        let syn::PathArguments::AngleBracketed(arguments) = &bound.path.segments.last()?.arguments
        else {
            return None;
        };
        arguments.args.iter().find_map(|argument| match argument {
            syn::GenericArgument::AssocType(assoc) if assoc.ident == "Item" => Some(&assoc.ty),
            _ => None,
        })
    });
    Some(
        item.filter(|item| !has_impl_trait(item))
            .map(|item| Box::new(item.clone())),
    )
}

/// The last segment of `ty`'s path, if it is a path.
fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

/// The first generic type argument of `segment` (`T` of `Sse<T>`).
fn first_type_argument(segment: &syn::PathSegment) -> Option<&Type> {
    let syn::PathArguments::AngleBracketed(arguments) = &segment.arguments else {
        return None;
    };
    arguments.args.iter().find_map(|argument| match argument {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}

/// Whether `impl Trait` appears anywhere in `ty`: such a type cannot be named in generated
/// code ("`impl Trait` is not allowed in paths").
fn has_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    syn::visit::Visit::visit_type(&mut finder, ty);
    finder.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_streams_and_unnameable_types_are_recognised() {
        let returns =
            |ty: syn::Type| response(&syn::ReturnType::Type(Default::default(), Box::new(ty)));
        let item = |r: Response| match r {
            Response::Events(item) => item.map(|ty| type_text(&ty)),
            _ => Some("not events".into()),
        };
        assert_eq!(
            item(returns(syn::parse_quote!(Sse<impl Stream<Item = Event>>))),
            Some("Event".into())
        );
        assert_eq!(
            item(returns(syn::parse_quote!(
                Result<Sse<impl Stream<Item = Json<Tick>> + Send>, EndpointError>
            ))),
            Some("Json<Tick>".into())
        );
        assert_eq!(
            item(returns(syn::parse_quote!(
                sse::Sse<impl Stream<Item = Vec<impl Serialize>>>
            ))),
            None
        );
        assert_eq!(item(returns(syn::parse_quote!(Sse<Ticks>))), None);
        assert!(
            matches!(returns(syn::parse_quote!(Vec<impl Serialize>)), Response::Opaque(text) if text == "Vec<impl Serialize>")
        );
        assert!(matches!(
            returns(syn::parse_quote!(impl IntoResponse)),
            Response::Opaque(_)
        ));
        assert!(matches!(
            returns(syn::parse_quote!(Json<Vec<u8>>)),
            Response::Typed(_)
        ));
    }

    #[test]
    fn types_are_written_as_in_source() {
        let ty: syn::Type = syn::parse_quote!(Result<Json<Vec<Recipe>>, EndpointError>);
        assert_eq!(type_text(&ty), "Result<Json<Vec<Recipe>>, EndpointError>");
        let ty: syn::Type = syn::parse_quote!(&'static str);
        assert_eq!(type_text(&ty), "&'static str");
        let ty: syn::Type = syn::parse_quote!(std::string::String);
        assert_eq!(type_text(&ty), "std::string::String");
    }
}
