//! Procedural macros of [`endpoint-runtime`](https://docs.rs/endpoint-runtime).
//!
//! Do not depend on this crate directly: the macros are documented, tested and re-exported by
//! `endpoint-runtime`, and the code they generate names only `::endpoint_runtime::__private`.
//! Set `ENDPOINT_MACROS_DEBUG=1` while compiling to print every expansion to stderr.

mod endpoint;
mod errors;
mod hook;
mod main_fn;
mod middleware;
mod migrations;
mod origin;
mod route;
mod schedule;

use proc_macro::TokenStream;

/// Turns an `async fn` into a self-registering endpoint. Documented on its re-export,
/// `endpoint_runtime::endpoint`.
#[proc_macro_attribute]
pub fn endpoint(args: TokenStream, item: TokenStream) -> TokenStream {
    endpoint::expand(args.into(), item.into()).into()
}

/// Runs an `async fn main` on the runtime's Tokio runtime. Documented on its re-export,
/// `endpoint_runtime::main`.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    main_fn::expand(args.into(), item.into(), main_fn::Kind::Main).into()
}

/// Runs an `async fn` test on a current-thread Tokio runtime with its log lines captured.
/// Documented on its re-export, `endpoint_runtime::test`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    main_fn::expand(args.into(), item.into(), main_fn::Kind::Test).into()
}

/// Registers an async function as a handler of an event. Documented on its re-export,
/// `endpoint_runtime::hook`.
#[proc_macro_attribute]
pub fn hook(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::expand(args.into(), item.into()).into()
}

/// Registers an async function as a job run on a cron pattern. Documented on its re-export,
/// `endpoint_runtime::schedule`.
#[proc_macro_attribute]
pub fn schedule(args: TokenStream, item: TokenStream) -> TokenStream {
    schedule::expand(args.into(), item.into()).into()
}

/// `#[middleware(id = "greet", order = 10)]`: see its documentation on the re-export,
/// `endpoint_runtime::middleware`.
#[proc_macro_attribute]
pub fn middleware(args: TokenStream, item: TokenStream) -> TokenStream {
    middleware::expand(args.into(), item.into()).into()
}

/// Embeds SQL migration files. Documented on its re-export, `endpoint_runtime::migrations`.
#[proc_macro]
pub fn migrations(input: TokenStream) -> TokenStream {
    migrations::expand(input.into()).into()
}
