//! `#[schedule(cron = "...")]`: registers an async function as a job run on a cron pattern.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{LitStr, parse::Parser};

use crate::errors::Errors;

mod kw {
    pub(super) const CRON: &str = "cron";
    pub(super) const NAME: &str = "name";
    pub(super) const CRATE: &str = "crate";
    pub(super) const ALL: &[&str] = &[CRON, NAME, CRATE];
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let errors = Errors::default();
    let mut cron: Option<LitStr> = None;
    let mut name: Option<LitStr> = None;
    let mut krate: Option<syn::Path> = None;
    let parser = syn::meta::parser(|meta| {
        let slot = if meta.path.is_ident(kw::CRON) {
            Some((&mut cron, kw::CRON, "cron = \"*/15 * * * *\""))
        } else if meta.path.is_ident(kw::NAME) {
            Some((&mut name, kw::NAME, "name = \"purge-sessions\""))
        } else {
            None
        };
        if let Some((slot, key, example)) = slot {
            if let Some(lit) = crate::errors::string_value(&meta, example, &errors)? {
                if slot.is_some() {
                    errors.spanned(&meta.path, format!("duplicate `{key}` argument"));
                } else {
                    *slot = Some(lit);
                }
            }
        } else if meta.path.is_ident(kw::CRATE) {
            let path = meta.value()?.parse()?;
            if krate.is_some() {
                errors.spanned(&meta.path, "duplicate `crate` argument");
            } else {
                krate = Some(path);
            }
        } else {
            errors.unknown_argument(&meta.path, kw::ALL, meta.input)?;
        }
        Ok(())
    });
    if let Err(error) = parser.parse2(args) {
        errors.push(error);
    }
    match &cron {
        Some(lit) => check_pattern(lit, &errors),
        None if errors.is_empty() => errors.at(
            Span::call_site(),
            "missing argument `cron`: `#[schedule(cron = \"*/15 * * * *\")]`",
        ),
        None => {}
    }
    if let Some(lit) = &name {
        let text = lit.value();
        if text.is_empty()
            || !text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            errors.spanned(
                lit,
                "a job's name is non-empty ASCII letters, digits, `_`, `-` and `.`, such as \
                 `\"purge-sessions\"` (it is an argument of the `run-job` command)",
            );
        }
    }
    let function: Option<syn::ItemFn> = errors.ok(syn::parse2(item.clone()));
    if let Some(function) = &function {
        let sig = &function.sig;
        crate::errors::async_function(sig, "scheduled jobs", &errors);
        if sig.inputs.len() > 1 {
            errors.spanned(
                &sig.inputs,
                "a scheduled job takes `()` or `(ctx: Context)`",
            );
        }
    }
    if !cfg!(feature = "schedule") {
        errors.at(
            Span::call_site(),
            "`#[schedule]` needs the `schedule` feature of endpoint-runtime (on by default)",
        );
    }
    let (function, cron) = match errors.finish_item(function.zip(cron), &item) {
        Ok(checked) => checked,
        Err(errors) => return errors,
    };
    let rt = krate.unwrap_or_else(|| syn::parse_quote!(::endpoint_runtime));
    let ident = &function.sig.ident;
    let name = name.unwrap_or_else(|| LitStr::new(&ident.to_string(), ident.span()));
    let call = if function.sig.inputs.is_empty() {
        quote_spanned!(ident.span()=> { let _ = ctx; #ident() })
    } else {
        quote_spanned!(ident.span()=> #ident(ctx))
    };
    let output = crate::hook::awaited_result(&rt, &function.sig.output, call);
    let (file, line) = crate::hook::site(ident);
    quote! {
        #item
        #[doc(hidden)]
        #[allow(non_snake_case, unused_qualifications, clippy::all)]
        const _: () = {
            fn __schedule_run(ctx: #rt::__private::Context) -> #rt::__private::HookFuture {
                ::std::boxed::Box::pin(async move { #output })
            }
            #rt::__private::inventory::submit! {
                #rt::__private::Schedule::__new(#rt::__private::ScheduleSpec {
                    name: #name,
                    cron: #cron,
                    handler: ::core::stringify!(#ident),
                    module_path: ::core::module_path!(),
                    file: #file,
                    line: #line,
                    run: __schedule_run,
                })
            }
        };
    }
}

/// Pushes an error at `lit` unless it is a cron pattern the runtime can run: five fields
/// (`minute hour day-of-month month day-of-week`), six with seconds first, seven with a
/// year last, or an alias such as `@hourly`, as `croner` reads them; and one that has a next
/// time (`0 0 30 2 *`, February 30th, never does).
#[cfg(feature = "schedule")]
fn check_pattern(lit: &LitStr, errors: &Errors) {
    let pattern = lit.value();
    // croner also reads a seventh field, a year: a job whose year has passed would compile
    // and never run.
    if pattern.split_whitespace().count() > 6 {
        errors.spanned(
            lit,
            "a cron pattern has five fields, or six with seconds first; a year field is not taken",
        );
        return;
    }
    match croner::parser::CronParser::new().parse(&pattern) {
        Err(error) => errors.spanned(
            lit,
            format!(
                "invalid cron pattern: {}; expected `minute hour day-of-month month \
                 day-of-week` such as `\"*/15 * * * *\"`, a seconds field first such as \
                 `\"*/10 * * * * *\"`, or an alias such as `\"@hourly\"`",
                error.to_string().trim_end_matches('.')
            ),
        ),
        Ok(cron) => {
            if cron
                .find_next_occurrence(&chrono::DateTime::<chrono::Utc>::UNIX_EPOCH, false)
                .is_err()
            {
                errors.spanned(
                    lit,
                    format!("the cron pattern `{pattern}` never matches a date"),
                );
            }
        }
    }
}

/// Without the feature the attribute is refused as a whole (see `expand`).
#[cfg(not(feature = "schedule"))]
fn check_pattern(_: &LitStr, _: &Errors) {}
