//! Collects every diagnostic of one macro call, so one bad attribute reports all its mistakes.

use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

/// An accumulator of `syn::Error`s.
///
/// Motivation: `syn` stops at the first `Err`, but a user who wrote three mistakes in one
/// attribute should see three errors in one build, not one per build. A stage that finds a
/// problem pushes it here and carries on; a stage returns `None` only after pushing an error.
#[derive(Default)]
pub(crate) struct Errors {
    first: RefCell<Option<syn::Error>>,
}

impl Errors {
    pub(crate) fn push(&self, error: syn::Error) {
        let mut first = self.first.borrow_mut();
        match first.as_mut() {
            Some(first) => first.combine(error),
            None => *first = Some(error),
        }
    }

    /// Pushes `message` spanned at `tokens`.
    pub(crate) fn spanned(&self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Pushes `message` at `span`.
    pub(crate) fn at(&self, span: proc_macro2::Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Reports `path` as an argument the attribute does not take (naming the `expected` ones)
    /// and skips its value, so the arguments after it are still read.
    pub(crate) fn unknown_argument(
        &self,
        path: &syn::Path,
        expected: &[&str],
        input: syn::parse::ParseStream<'_>,
    ) -> syn::Result<()> {
        self.spanned(
            path,
            format!(
                "unknown argument, expected one of `{}`",
                expected.join("`, `")
            ),
        );
        skip_value(input)
    }

    pub(crate) fn ok<T>(&self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.borrow().is_none()
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.first.into_inner().map_or(Ok(()), Err)
    }

    /// The end of an attribute macro whose checks gave `checked` (`None` only after an error
    /// was pushed): its pieces, or the errors as `compile_error!`s followed by `item`
    /// unchanged, so that no second "cannot find function" error follows.
    pub(crate) fn finish_item<T>(
        self,
        checked: Option<T>,
        item: &proc_macro2::TokenStream,
    ) -> Result<T, proc_macro2::TokenStream> {
        let error = match (self.finish(), checked) {
            (Ok(()), Some(checked)) => return Ok(checked),
            (Err(error), _) => error,
            (Ok(()), None) => syn::Error::new(
                proc_macro2::Span::call_site(),
                "this attribute is incomplete (a missing piece was not reported: please file a bug)",
            ),
        };
        let error = error.into_compile_error();
        Err(quote::quote! { #error #item })
    }
}

/// Skips the tokens of one argument's value, up to the next top-level `,`.
pub(crate) fn skip_value(input: syn::parse::ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(syn::Token![,]) {
        input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

/// Reads a `name = "text"` argument's value: the literal, or `None` after pushing an error
/// showing `example` when the value is not a string literal (its tokens are skipped, so the
/// arguments after it are still read).
pub(crate) fn string_value(
    meta: &syn::meta::ParseNestedMeta<'_>,
    example: &str,
    errors: &Errors,
) -> syn::Result<Option<syn::LitStr>> {
    let value = meta.value()?;
    if !value.peek(syn::LitStr) {
        let span = value.span();
        skip_value(value)?;
        errors.at(span, format!("expected a string literal: `{example}`"));
        return Ok(None);
    }
    value.parse().map(Some)
}

/// The rule `#[hook]`, `#[schedule]` and `#[middleware]` share: `what` (`"hooks"`) is an
/// `async`, non-generic free function. Each violation is pushed at its token.
pub(crate) fn async_function(sig: &syn::Signature, what: &str, errors: &Errors) {
    if sig.asyncness.is_none() {
        errors.spanned(
            sig.fn_token,
            format!("{what} must be async: write `async fn {}`", sig.ident),
        );
    }
    if !sig.generics.params.is_empty() {
        errors.spanned(&sig.generics, format!("{what} cannot be generic"));
    }
}
