//! Annotate plain async functions with [`#[endpoint]`](endpoint); get a checked,
//! self-registering axum server from one [`run()`] call.
//!
//! ```no_run,standalone_crate
//! use endpoint_runtime::prelude::*;
//!
//! /// Say hello to a visitor.
//! #[endpoint(id = "greet", route = "/intro", method = get)]
//! async fn intro() -> &'static str {
//!     "Nice to meet you."
//! }
//!
//! /// One user, by id: `GET /users/42`. `/users/abc` is a 400 naming `id`.
//! #[endpoint(id = "users", route = "/{id}")]
//! async fn get_user(id: u64) -> Json<Value> {
//!     Json(json!({ "id": id }))
//! }
//!
//! #[endpoint_runtime::main]
//! async fn main() -> Result<(), endpoint_runtime::Error> {
//!     endpoint_runtime::run().await
//! }
//! ```
//!
//! The macro checks the route at compile time and registers the handler through `inventory`;
//! [`run()`] collects every endpoint linked into the binary ([`endpoints()`]), rejects
//! conflicting routes ([`validate()`]), mounts each group under `/<id>` ([`router()`]) and
//! serves with graceful shutdown. Configuration comes from `ENDPOINT_*` variables
//! ([`Config`]). An application depends on this crate alone: the generated code needs no
//! direct `axum`, `tokio` or `inventory` dependency.

#![cfg_attr(docsrs, feature(doc_cfg))]

#[allow(unused_extern_crates)] // lets doctests and unit tests use `#[endpoint]` inside this crate
extern crate self as endpoint_runtime;

mod app;
pub mod auth;
pub mod body;
mod body_limit;
pub mod client;
#[cfg(any(feature = "redis", feature = "postgres"))]
mod cluster;
mod config;
#[cfg(feature = "confined")]
pub mod confined;
mod context;
mod database;
mod env;
mod error;
pub mod events;
pub mod extract;
mod gates;
mod jsend;
pub mod logging;
pub mod middleware;
#[cfg(feature = "multipart")]
pub mod multipart;
#[cfg(feature = "openapi")]
pub mod openapi;
mod ops;
#[cfg(feature = "otel")]
mod otel;
mod pipeline;
mod policy;
#[cfg(feature = "prerender")]
pub mod prerender;
mod registry;
mod routing;
#[cfg(feature = "schedule")]
pub mod schedule;
pub mod serve;
#[cfg(all(feature = "services", any(feature = "sqlite", feature = "postgres")))]
pub mod services;
pub mod sse;
pub mod status;
pub mod testing;
#[cfg(feature = "validate")]
pub mod validation;
mod version;
#[cfg(feature = "websocket")]
pub mod ws;

#[doc(hidden)]
pub mod __private;

pub use app::{App, Server, run};
pub use auth::{Accountability, Claims};
pub use auth::{
    DefaultAccess, ForwardedHeader, IpNet, JwtAlgorithm, JwtConfig, JwtKey, StaticToken,
};
pub use axum;
pub use config::{CompressionConfig, CorsConfig, CorsOrigins};
pub use config::{Config, ConfinedConfig, Hardening, OutboxConfig, RedisConfig, StoreErrorPolicy};
pub use context::{Context, State};
/// What [`with_pool!`] matches on (it names it from where it is used). Not public API.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[doc(hidden)]
pub use database::Either;
#[cfg(all(feature = "services", any(feature = "sqlite", feature = "postgres")))]
pub use database::schema;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use database::{Database, Pool};
pub use database::{DatabaseKind, DatabaseUrl, Migrations};
pub use env::ConfigError;
pub use error::{Conflict, EndpointError, Error, ErrorFormat, FieldError, FieldLocation};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use events::Transaction;
pub use events::{EmitError, Event};
pub use jsend::JSend;
pub use logging::LogFormat;
pub use pipeline::{REQUEST_ID_HEADER, RequestId};
pub use registry::{
    Access, Endpoint, Lifecycle, Method, Methods, Param, Policy, Rate, RateKey, endpoints,
};
pub use routing::{method_router, router, validate};
#[cfg(feature = "openapi")]
pub use schemars;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sqlx;
pub use status::{Accepted, Created, NoContent};
/// The Tokio runtime `#[endpoint_runtime::main]` starts, for applications that spawn tasks or
/// open sockets of their own without a `tokio` dependency.
pub use tokio;
pub use tracing;
pub use version::{API_VERSION_HEADER, ApiVersion};

/// Turns an `async fn` into an endpoint that registers itself with the runtime.
///
/// ```standalone_crate
/// use endpoint_runtime::prelude::*;
///
/// #[endpoint(id = "greet", route = "/intro", method = get)]
/// async fn intro() -> &'static str {
///     "Nice to meet you."
/// }
/// # fn main() {
/// # assert!(endpoint_runtime::endpoints().iter().any(|e| e.path() == "/greet/intro"));
/// # }
/// ```
///
/// ## Arguments
///
/// - `route = "/..."` (**required**): the path template relative to the group's mount point.
///   `"/"` is the mount point itself. Segments are literal text, a whole-segment parameter
///   `{name}`, or, last only, a catch-all `{*name}` or a parameter with a literal suffix
///   `{name}.json` (Astro's `[id].json.ts`: `/api/0.json` binds `id = "0"`; the runtime picks
///   the longest suffix that matches, then a route without one, and axum's router never sees
///   the suffix). Checked at compile time: no empty, `.` or `..` segments, no text before a
///   parameter in one segment (`item-{id}`), a suffix on the last segment only and not on a
///   confined endpoint, unique names that are Rust identifiers. The old syntax `:id` / `*rest`
///   is an error that shows `{id}` / `{*rest}`.
/// - `method = get` (optional, default `get`): one of `get post put patch delete head options
///   trace`, a list `[get, post]`, or `all`: every method not routed by another endpoint on the
///   same path (Astro's `ALL`). `get` also answers `HEAD`.
/// - `id = "greet"` (optional, default: the package name from `CARGO_PKG_NAME`, as Directus
///   mounts an extension under its package name): the group, mounted at `/<id>`. `id = "/"`
///   mounts at the site root, for routes such as Astro's `/builtwith.json`.
/// - `access = public` (optional, default `ENDPOINT_DEFAULT_ACCESS`, itself `public` by
///   default): `public`, `authenticated` or `admin`. An endpoint that answers `post`, `put`,
///   `patch`, `delete` or `all` and is public without saying `access = public` is flagged by the
///   route table and `check`, and fails `check --strict`.
/// - `roles = ["editor", ...]` (optional): callers with one of these roles; admins always pass.
///   Implies `authenticated`.
/// - `prerender` (optional flag, Cargo feature `prerender`): Astro's static mode. The application's
///   `build` command calls the endpoint at build time and writes its body to a file (see
///   [`prerender`] for the request it gets and the file each URL becomes); `serve` still answers it
///   live. Needs `method = get` alone and public access (a prerendered endpoint without `access` is
///   public: its file is served to anyone).
/// - `static_paths = path::to::function` (with `prerender`, required when the route has
///   parameters): Astro's `getStaticPaths()`. A function, sync or `async`, returning an
///   iterable of items whose fields are named after the route's parameters and have the
///   handler's parameter types; one URL is prerendered per item, each value written with
///   `Display`. Other fields are ignored.
/// - `confined` (optional flag, Cargo feature `confined`): CairnCMS's sandboxed endpoints. The
///   handler runs in a worker process the kernel confines (no files, no sockets, no processes; see
///   [`confined`]). Its signature is fixed: a plain `fn(request: ConfinedRequest, host: &mut Host)
///   -> Result<Reply, ConfinedError>`, without `async`, other arguments or `unsafe`.
/// - `capabilities(log, request = ["https://api.example.com"])` (with `confined`): what the
///   [`Host`](confined::Host) may do for the handler: `log` lines to the server's log, and
///   `request` the listed origins (absolute `http`/`https` origins: scheme, host, optional
///   port, nothing else). Anything undeclared is refused at run time.
/// - Traffic policy (optional; each overrides the global default for this endpoint only, see
///   [`Policy`]): `timeout = "2s"` (`ms`, `s`, `m`, `h`; else `ENDPOINT_REQUEST_TIMEOUT`; past it
///   503), `body_limit = "10MiB"` (bytes, `KB`, `KiB`, `MB`, `MiB`, `GB`, `GiB`; else
///   `ENDPOINT_BODY_LIMIT`; past it 413), `concurrency = 16` (requests at once; past it 503 with
///   `Retry-After: 1`), `rate_limit = "10/minute"` (per `second`, `minute`, `hour`, `day`; GCRA,
///   feature `rate-limit`; else `ENDPOINT_RATE_LIMIT`; past it 429 with `Retry-After` and the
///   IETF `RateLimit-Policy` / `RateLimit` headers) and `per = user | ip | global` (who shares a
///   bucket: the user, else the client IP, by default). A value that does not read, or a zero,
///   is a compile error at its token.
/// - `idempotent` (optional flag, POST and PATCH only): a request with an `Idempotency-Key`
///   header (draft-ietf-httpapi-idempotency-key-header; a quoted string or a bare token of 1
///   to 255 visible ASCII characters, else 400 `INVALID_IDEMPOTENCY_KEY`) runs once per caller
///   (the user, else the client IP) and key; its response (status, headers, body) is kept in
///   the application's database for `ENDPOINT_IDEMPOTENCY_TTL` (24 h) and replayed to the
///   key's retries, on any instance, with `Idempotent-Replayed: true`. The same key with a
///   different method, path, query or body is 422 `IDEMPOTENCY_KEY_REUSED`; a retry while the
///   first still runs is 409 `IDEMPOTENCY_KEY_IN_USE` with `Retry-After: 1`. A 5xx answer, a
///   panic, or a refusal a retry may get past (401, 403, 408, 409, 425, 429) is not kept: the
///   retry runs again. A handler that ran out of time, or a body over 1 MiB, is not kept
///   either, and not run again: its key answers 409 `IDEMPOTENCY_RESPONSE_NOT_KEPT`. Once the
///   key is claimed the handler runs in a task of its own, which a client that leaves does not
///   cancel. A request without the header runs as usual. Needs a database (the table
///   `endpoint_idempotency` is created at start-up); applies under [`run`] and
///   [`App::into_router`], not to a bare [`method_router`]. In the
///   OpenAPI document as an optional header parameter.
/// - `status = 201` (optional): the success status the endpoint answers, for a return type
///   that picks it at run time (`(StatusCode, T)`, `Response`); the OpenAPI document gives it
///   instead of `2XX`. A type that states its status already ([`Created`] 201, [`Accepted`]
///   202, [`NoContent`] 204, `Json<T>` and `JSend<T>` 200) needs none, and stating another is a
///   compile error ([`status::AnswersStatus`]). 200-399 only: errors are documented apart.
/// - `since = "1.4"`, `until = "2.0"` (optional): the API versions that serve the endpoint,
///   from `since` up to, not including, `until` (dropshot's `versions = "1.4".."2.0"`;
///   `MAJOR[.MINOR[.PATCH]]`). A request selects a version with the `api-version` header
///   (default: the newest version any endpoint names); an endpoint outside it is 404, two
///   endpoints may share a method and route when no version serves both, an endpoint's answer
///   names the version in its own `api-version` header (and `Vary: api-version`), and a header that is no version or names
///   one after the newest is 400 (`INVALID_API_VERSION`, `UNSUPPORTED_API_VERSION`). The
///   OpenAPI document is the newest version's; `app openapi --version 1.4` gives another.
///   An application whose endpoints name no version ignores the header.
/// - `deprecated = "2026-06-30"`, `sunset = "2027-06-30"` (optional; dates, UTC): answers
///   carry `Deprecation: @<seconds>` (RFC 9745) and `Sunset: <HTTP-date>` (RFC 8594), and the
///   operation is `deprecated: true` in the document (with `x-sunset`). `sunset` needs
///   `deprecated`, on or after it; it announces the date, the runtime does not remove the
///   endpoint then.
/// - `client = false` (optional, default `true`): leaves out the typed-call type the macro
///   gives each `async fn` endpoint (a braced struct of the function's name, whose
///   `request(...)` builds a [`client::Call`]), for a function whose name a module or crate
///   in scope already takes in the type namespace.
/// - `crate = path` (optional, default `::endpoint_runtime`): where the runtime is, for an
///   application that renamed the dependency.
///
/// ```standalone_crate
/// use endpoint_runtime::prelude::*;
///
/// struct UserPath { id: u32 }
///
/// fn user_ids() -> Vec<UserPath> {
///     (0..3).map(|id| UserPath { id }).collect()
/// }
///
/// /// `build` writes dist/api/users/0, 1 and 2; `serve` answers any id.
/// #[endpoint(id = "api", route = "/users/{id}", prerender, static_paths = user_ids)]
/// async fn user(id: u32) -> Json<Value> {
///     Json(json!({ "id": id }))
/// }
/// # fn main() {
/// # assert!(endpoint_runtime::endpoints()[0].prerender());
/// # }
/// ```
///
/// ## Arguments of the function
///
/// - An argument named like a route parameter binds to it and is parsed from the segment with
///   `FromStr` ([`extract::PathParam`]): `route = "/{id}"` with `id: u64`. A segment that does not
///   parse is answered 400 `INVALID_PATH_PARAMETER` naming the parameter; the handler is not
///   called. Every parameter needs its argument. A bounded integer is `validation::Range`
///   (`id: Range<1, 1000>`; outside it 422).
/// - With the `validate` feature (on by default), a `Json<T>`, `Query<T>` or path parameter
///   whose type derives `garde::Validate` is checked before the handler runs: 422
///   `FAILED_VALIDATION` listing every failing field (see `validation`).
/// - An argument of a scalar type (integers, floats, `bool`, `char`, `String`) whose name is not
///   a route parameter is a compile error, since it can only have been meant as one.
/// - Every other argument is an extractor: the runtime's [`Json`](extract::Json) and
///   [`Query`](extract::Query) (their rejections are answered in the error envelope and they
///   are documented in the OpenAPI document; use them, not axum's types of the same name),
///   [`Accountability`], [`Context`], `HeaderMap`, or any axum extractor. One that reads the
///   body (`Json`, `Form`, `Bytes`, `String`, `Request`) must come last.
/// - The return type must implement [`IntoResponse`](axum::response::IntoResponse):
///   `&'static str`, `String`, `Json<T>`, `Result<T, EndpointError>`, ..., with `impl Trait`
///   anywhere in it (`impl IntoResponse`, `Json<impl Serialize>`): such a type is documented
///   as untyped. [`Sse<S>`](sse::Sse) (or `Result<Sse<S>, E>`) is a server-sent-events
///   stream, documented as `text/event-stream`: it is answered 200, so it takes no other
///   `status` and no `idempotent` (see [`sse`]).
///
/// ## Misuse is a compile error at the offending token
///
/// A route without a leading slash:
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(id = "greet", route = "intro")]
/// async fn intro() -> &'static str { "hi" }
/// # fn main() {}
/// ```
///
/// The old parameter syntax (the message shows `{id}`):
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/users/:id")]
/// async fn user(id: u64) -> String { id.to_string() }
/// # fn main() {}
/// ```
///
/// A suffixed parameter anywhere but the last segment:
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/products/{id}.json/reviews")]
/// async fn reviews(id: u64) -> String { id.to_string() }
/// # fn main() {}
/// ```
///
/// `idempotent` on a method that HTTP already makes idempotent (here the default, GET):
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/orders", idempotent)]
/// async fn orders() -> &'static str { "[]" }
/// # fn main() {}
/// ```
///
/// `status` that the return type cannot answer (`Json<T>` answers 200):
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/notes", method = post, status = 201)]
/// async fn add() -> Json<Value> { Json(json!({})) }
/// # fn main() {}
/// ```
///
/// A status other than 200 for an event stream (it also refuses `idempotent`):
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// # use endpoint_runtime::sse::{Event, Stream, stream};
/// #[endpoint(route = "/feed", status = 201)]
/// async fn feed() -> Sse<impl Stream<Item = Event>> { Sse::new(stream::empty()) }
/// # fn main() {}
/// ```
///
/// `until` that is not after `since` (no version would serve the endpoint):
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/catalog", since = "2.0", until = "1.9")]
/// async fn catalog() -> &'static str { "[]" }
/// # fn main() {}
/// ```
///
/// A parameter without an argument:
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/users/{id}")]
/// async fn user() -> &'static str { "?" }
/// # fn main() {}
/// ```
///
/// A function that is not `async`:
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/")]
/// fn index() -> &'static str { "hi" }
/// # fn main() {}
/// ```
///
/// A body extractor that is not the last argument:
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/", method = post)]
/// async fn create(body: Json<Value>, headers: axum::http::HeaderMap) -> &'static str { "ok" }
/// # fn main() {}
/// ```
///
/// `prerender` on another method than GET, or on a protected endpoint:
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/feed.json", method = post, prerender)]
/// async fn feed() -> &'static str { "{}" }
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/stats.json", access = admin, prerender)]
/// async fn stats() -> &'static str { "{}" }
/// # fn main() {}
/// ```
///
/// A policy value that does not read, or a zero (`"2 seconds"`, `concurrency = 0`,
/// `"10 per minute"`), and `per` without `rate_limit`:
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/report", timeout = "2 seconds")]
/// async fn report() -> &'static str { "report" }
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/report", concurrency = 0)]
/// async fn report() -> &'static str { "report" }
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/login", method = post, rate_limit = "10 per minute")]
/// async fn login() -> &'static str { "welcome" }
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/login", method = post, per = ip)]
/// async fn login() -> &'static str { "welcome" }
/// # fn main() {}
/// ```
///
/// A prerendered route with parameters but no `static_paths`:
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// #[endpoint(route = "/users/{id}", prerender)]
/// async fn user(id: u32) -> String { id.to_string() }
/// # fn main() {}
/// ```
///
/// A confined handler taking an extractor, using `unsafe`, declaring an origin with a path,
/// or an unknown capability:
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// # use endpoint_runtime::confined::*;
/// #[endpoint(route = "/greet", confined)]
/// fn greet(request: ConfinedRequest, host: &mut Host, headers: HeaderMap) -> Result<Reply, ConfinedError> {
///     Ok(Reply::ok(json!({})))
/// }
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// # use endpoint_runtime::confined::*;
/// #[endpoint(route = "/greet", confined)]
/// fn greet(_: ConfinedRequest, _: &mut Host) -> Result<Reply, ConfinedError> {
///     let n = unsafe { std::mem::zeroed::<u8>() };
///     Ok(Reply::ok(json!(n)))
/// }
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// # use endpoint_runtime::confined::*;
/// #[endpoint(route = "/fetch", confined, capabilities(request = ["https://api.example.com/v1"]))]
/// fn fetch(_: ConfinedRequest, _: &mut Host) -> Result<Reply, ConfinedError> {
///     Ok(Reply::ok(json!({})))
/// }
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// # use endpoint_runtime::confined::*;
/// #[endpoint(route = "/greet", confined, capabilities(filesystem))]
/// fn greet(_: ConfinedRequest, _: &mut Host) -> Result<Reply, ConfinedError> {
///     Ok(Reply::ok(json!({})))
/// }
/// # fn main() {}
/// ```
///
/// `static_paths` items without a field for each parameter (here `id`), or of another type:
///
/// ```compile_fail
/// # use endpoint_runtime::prelude::*;
/// struct UserPath { user_id: u32 }
/// fn user_ids() -> Vec<UserPath> { vec![UserPath { user_id: 0 }] }
/// #[endpoint(route = "/users/{id}", prerender, static_paths = user_ids)]
/// async fn user(id: u32) -> String { id.to_string() }
/// # fn main() {}
/// ```
pub use endpoint_macros::endpoint;

/// Runs `async fn main` on a multi-threaded Tokio runtime, so that an application needs no
/// direct `tokio` dependency. The function takes no arguments and may return anything `main`
/// may return.
///
/// ## Arguments
///
/// - `crate = path` (optional, default `::endpoint_runtime`): where the runtime is, for an
///   application that renames the dependency (`#[rt::main(crate = ::rt)]`).
///
/// ```no_run
/// #[endpoint_runtime::main]
/// async fn main() -> Result<(), endpoint_runtime::Error> {
///     endpoint_runtime::run().await
/// }
/// ```
///
/// # Panics
///
/// If the operating system refuses the runtime's threads or I/O driver at start-up.
///
/// ```compile_fail
/// #[endpoint_runtime::main]
/// fn main() {} // not async
/// ```
///
/// ```compile_fail
/// #[endpoint_runtime::main(threads = 4)] // only `crate = path` is accepted
/// async fn main() {}
/// ```
///
/// Before `main`'s body runs, the log subscriber is installed from `ENDPOINT_LOG_FORMAT` and
/// `RUST_LOG`, so that what the application logs before it builds its [`App`] is shown; a
/// [`Config::log_format`] set in code does not change it afterwards.
pub use endpoint_macros::main;

/// Runs an `async fn` test on a current-thread Tokio runtime owned by the runtime (no
/// `tokio` dependency, no `crate = ...` argument to find it), with the runtime's log lines
/// going through the test harness's output capture: they are printed for a failing test only
/// (or with `cargo test -- --nocapture`), filtered by `RUST_LOG` (default `info`), so the
/// reason of a 500 is in the failure's output.
///
/// With [`App::test_client`] (or [`testing::TestClient::new`]), each test gets the
/// application's routes, middleware and, when it has migrations, a fresh database of its own.
///
/// ```no_run
/// use endpoint_runtime::prelude::*;
/// use endpoint_runtime::testing::TestClient;
///
/// #[endpoint(id = "greet", route = "/intro")]
/// async fn intro() -> &'static str {
///     "Nice to meet you."
/// }
///
/// #[endpoint_runtime::test]
/// async fn intro_is_friendly() -> Result<(), endpoint_runtime::Error> {
///     let client = TestClient::new().await?;
///     assert_eq!(client.get("/greet/intro").send().await.text(), "Nice to meet you.");
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// The endpoints must be in the test binary: in an integration test (`tests/*.rs`), they
/// come from the package's library crate named with [`link!`]; a test client over no endpoint
/// is [`Error::NoEndpoints`], not a wall of 404s.
///
/// ## Arguments
///
/// - `crate = path` (optional, default `::endpoint_runtime`): where the runtime is.
///
/// ```compile_fail
/// #[endpoint_runtime::test]
/// fn not_async() {}
/// ```
///
/// ```compile_fail
/// #[endpoint_runtime::test(flavor = "multi_thread")] // only `crate = path` is accepted
/// async fn configured() {}
/// ```
pub use endpoint_macros::test;

/// Registers an async function as a handler of an event emitted with
/// [`Context::emit`](crate::Context::emit). Self-registered like endpoints.
///
/// ```
/// use endpoint_runtime::prelude::*;
///
/// /// Writes an audit line for every published article.
/// #[hook(event = "article.published")]
/// async fn audit(event: Event, ctx: Context) -> Result<(), EndpointError> {
///     tracing::info!(payload = %event.payload, user = ?ctx.accountability().user, "published");
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// ## Arguments
///
/// - `event = "name"` (**required**): the event, such as `"article.published"`.
/// - `durable` (optional flag): delivered after the emitting transaction commits, at least
///   once, by whichever instance claims it from the outbox table, retried with backoff and
///   dead-lettered after `ENDPOINT_OUTBOX_ATTEMPTS`; it cannot veto. Needs a database. Emit
///   with [`Transaction::emit`](crate::Transaction::emit) to commit the event with the change;
///   deduplicate by [`Event::id`].
/// - `crate = path` (optional, default `::endpoint_runtime`): where the runtime is.
///
/// The function is `async`, takes `(event: Event)` or `(event: Event, ctx: Context)`, and
/// returns `()` or `Result<(), E>` with `E: Into<EndpointError>`. Delivery of an in-request
/// hook is awaited and in order; see [`events`] for what a failing hook does, how loops are
/// refused, and the guarantees of each path.
///
/// ```
/// use endpoint_runtime::prelude::*;
///
/// /// Sends the welcome mail once the account is committed, even if this instance dies.
/// #[hook(event = "account.created", durable)]
/// async fn welcome(event: Event) -> Result<(), EndpointError> {
///     tracing::info!(event_id = %event.id, "welcome mail queued");
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// use endpoint_runtime::prelude::*;
///
/// #[hook(event = "account.created", durable = true)] // `durable` is a flag
/// async fn welcome(event: Event) {}
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// use endpoint_runtime::prelude::*;
///
/// #[hook(event = "article.published")]
/// fn not_async(event: Event) {}
/// # fn main() {}
/// ```
pub use endpoint_macros::hook;

/// Registers an async function as a job run on a cron pattern, once per tick across the
/// instances that share a database (feature `schedule`). Self-registered like endpoints and
/// hooks; see [`schedule`](mod@crate::schedule) for when jobs run, as whom, what a cluster
/// and an overlapping run do, and the `run-job` command.
///
/// ```
/// use endpoint_runtime::prelude::*;
///
/// /// Deletes the sessions that expired, every 15 minutes.
/// #[schedule(cron = "*/15 * * * *")]
/// async fn purge_sessions(ctx: Context) -> Result<(), EndpointError> {
///     tracing::info!(job = %ctx.accountability().claims["job"], "purging");
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// ## Arguments
///
/// - `cron = "pattern"` (**required**): when it runs, in UTC: five fields (`minute hour
///   day-of-month month day-of-week`, such as `"*/15 * * * *"` or `"0 3 * * MON-FRI"`), six
///   with seconds first (`"*/10 * * * * *"`), or an alias (`"@hourly"`, `"@daily"`). Checked at
///   compile time with the `croner` crate, which the runtime runs it with: an invalid
///   pattern, or one that never matches a date, is an error at the string.
/// - `name = "purge-sessions"` (optional, default the function's name): what `run-job`, the
///   logs, the metrics and the `endpoint_schedules` table call it; unique in the binary
///   (two jobs of one name refuse to start), ASCII letters, digits, `_`, `-` and `.`.
/// - `crate = path` (optional, default `::endpoint_runtime`): where the runtime is.
///
/// The function is `async`, takes `()` or `(ctx: Context)`, and returns `()` or
/// `Result<(), E>` with `E: Into<EndpointError>`. Its caller is
/// [`Accountability::system`]. Run one by hand with `app run-job NAME`.
///
/// ```compile_fail
/// use endpoint_runtime::prelude::*;
///
/// #[schedule(cron = "*/15 * * *")] // four fields
/// async fn purge(ctx: Context) {}
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// use endpoint_runtime::prelude::*;
///
/// #[schedule(cron = "0 0 30 2 *")] // February 30th never comes
/// async fn never(ctx: Context) {}
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// use endpoint_runtime::prelude::*;
///
/// #[schedule(cron = "@hourly")]
/// fn not_async(ctx: Context) {}
/// # fn main() {}
/// ```
///
/// Without the feature `schedule` the attribute is still here, and is a compile error naming
/// the feature.
pub use endpoint_macros::schedule;

/// Registers an async function of axum's `from_fn` shape as middleware of one endpoint group,
/// as CairnCMS's extensions scope `router.use(...)` to their own routes:
/// `#[middleware(id = "greet")]` runs for every endpoint of the group mounted at `/greet`
/// (`id = "/"`: the root group; no `id`: every group).
///
/// The function takes extractors (anything `FromRequestParts`: [`Accountability`],
/// `HeaderMap`, …), then `request: Request` and `next: Next`, and returns anything that is
/// `IntoResponse`. It runs inside the request pipeline, after the authenticators and the
/// access check and under the request timeout, closest to the handler (inside the
/// [`App::layer`] layers; see [`middleware`](mod@crate::middleware) for the whole order).
/// Several run by `order = N` (lower first, default 0), then by `file:line`. The route table
/// lists them per endpoint. An extractor's rejection is the response.
///
/// ```no_run
/// use endpoint_runtime::axum::{extract::Request, middleware::Next, response::Response};
/// use endpoint_runtime::prelude::*;
/// use endpoint_runtime::middleware;
///
/// /// Every answer of the `greet` group says whom it was for.
/// #[middleware(id = "greet", order = 10)]
/// async fn signed(who: Accountability, request: Request, next: Next) -> Response {
///     let mut response = next.run(request).await;
///     let caller = who.user.unwrap_or_else(|| "anonymous".into());
///     if let Ok(value) = caller.parse() {
///         response.headers_mut().insert("x-served-for", value);
///     }
///     response
/// }
/// # fn main() {}
/// ```
///
/// A wrong shape is a compile error at the token:
///
/// ```compile_fail
/// # use endpoint_runtime::axum::{extract::Request, middleware::Next, response::Response};
/// # use endpoint_runtime::middleware;
/// #[middleware(id = "greet")]
/// fn not_async(request: Request, next: Next) -> Response {
///     let _ = (request, next);
///     Response::default()
/// }
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # use endpoint_runtime::axum::{extract::Request, middleware::Next, response::Response};
/// # use endpoint_runtime::middleware;
/// #[middleware(id = "greet")]
/// async fn next_first(next: Next, request: Request) -> Response { next.run(request).await }
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # use endpoint_runtime::axum::{extract::Request, middleware::Next, response::Response};
/// # use endpoint_runtime::middleware;
/// #[middleware(id = "greet", order = "first")]
/// async fn ordered(request: Request, next: Next) -> Response { next.run(request).await }
/// # fn main() {}
/// ```
pub use endpoint_macros::middleware;

/// Embeds SQL migrations in the binary, for [`App::migrations`](crate::App::migrations).
///
/// `migrations!("migrations")` reads, relative to the crate's `Cargo.toml`,
/// `migrations/*.sql` (for every database) and `migrations/sqlite/*.sql` /
/// `migrations/postgres/*.sql` (for one), merged by version. Files are named `<version>_<description>.sql`
/// and applied in version order, each once: the applied versions are recorded in the
/// database (`_sqlx_migrations`), so seeding data in a migration seeds it exactly once.
/// A missing directory or a badly named file is a compile error.
///
/// ```ignore
/// App::new().migrations(endpoint_runtime::migrations!("migrations")).run().await
/// ```
///
/// An application that renames the dependency says where the runtime is after the directory:
/// `rt::migrations!("migrations", crate = ::rt)`.
///
/// ```compile_fail
/// let _ = endpoint_runtime::migrations!("no/such/dir");
/// ```
///
/// Adding a new file needs a rebuild of the crate that names the directory (`cargo` does not
/// watch directories; `touch` the source file if it does not rebuild).
pub use endpoint_macros::migrations;

/// Links the endpoints of library crates that the binary does not otherwise mention.
///
/// The linker drops a dependency whose items the binary never names, and the endpoints it
/// registered through `inventory` are dropped with it: they are missing from [`endpoints()`]
/// and answer 404. Naming the crate once keeps it. Write it at the top level of the binary:
///
/// ```ignore
/// endpoint_runtime::link!(my_endpoints, billing_endpoints);
/// ```
///
/// It expands to `use my_endpoints as _;` for each crate. [`run()`] warns at start-up when no
/// endpoint at all is registered, the usual symptom of a missing `link!`.
#[macro_export]
macro_rules! link {
    ($($krate:ident),+ $(,)?) => {
        $(
            #[allow(unused_imports)]
            use $krate as _;
        )+
    };
}

/// The names an endpoint module usually needs: `use endpoint_runtime::prelude::*;`.
pub mod prelude {
    pub use crate::extract::{Json, Query};
    pub use crate::schedule;
    pub use crate::sse::{LastEventId, Sse};
    pub use crate::{Accepted, Created, NoContent};
    pub use crate::{Accountability, Context, EndpointError, Event, JSend, RequestId, State};
    pub use crate::{endpoint, hook};
    pub use axum::http::{HeaderMap, StatusCode};
    pub use axum::response::{IntoResponse, Response};
    pub use serde_json::{Value, json};
}
