//! The registration record every `#[endpoint]` submits, and [`endpoints()`], which collects them.

use std::fmt;
use std::time::Duration;

use axum::routing::MethodFilter;

/// `method` as telemetry names it (metric labels, span names): a standard method (or
/// `CONNECT`) by its name, any other `_OTHER`, as OpenTelemetry's HTTP conventions say, so that a
/// client cannot grow a label set or the span names with methods of its own.
#[cfg(any(feature = "metrics", feature = "otel"))]
pub(crate) fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method as M;
    match *method {
        M::GET => "GET",
        M::HEAD => "HEAD",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::OPTIONS => "OPTIONS",
        M::TRACE => "TRACE",
        M::CONNECT => "CONNECT",
        _ => "_OTHER",
    }
}

/// An HTTP method an endpoint can answer, as written in `method = ...`.
///
/// `Get` also answers `HEAD` (with the body dropped) unless another endpoint on the same path
/// declares `head` itself, as axum does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `HEAD`
    Head,
    /// `OPTIONS`
    Options,
    /// `TRACE`
    Trace,
}

impl Method {
    /// The method's name in upper case, as on the wire: `"GET"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
        }
    }

    pub(crate) const fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Patch => MethodFilter::PATCH,
            Method::Delete => MethodFilter::DELETE,
            Method::Head => MethodFilter::HEAD,
            Method::Options => MethodFilter::OPTIONS,
            Method::Trace => MethodFilter::TRACE,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The methods an endpoint answers: `method = get`, `method = [get, post]` or `method = all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Methods {
    /// The listed methods, in the order written.
    List(&'static [Method]),
    /// `method = all`: every method that no other endpoint routes on the same path
    /// (Astro's `ALL` export). At most one `all` endpoint per path.
    All,
}

impl fmt::Display for Methods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Methods::All => f.write_str("ALL"),
            Methods::List(list) => {
                for (i, m) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(m.as_str())?;
                }
                Ok(())
            }
        }
    }
}

/// Who may call an endpoint: `access = public | authenticated | admin`, or `roles = [...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, anonymous callers included. The default (see `ENDPOINT_DEFAULT_ACCESS`). Write
    /// it on an endpoint that changes state and is meant for anyone: the route table and
    /// `check` flag such an endpoint when its attribute states no access.
    Public,
    /// Any authenticated caller; an anonymous one is answered 401.
    Authenticated,
    /// Admins only; other authenticated callers are answered 403.
    Admin,
    /// Authenticated callers whose role is listed; admins always pass.
    Roles(&'static [&'static str]),
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Public => f.write_str("public"),
            Access::Authenticated => f.write_str("authenticated"),
            Access::Admin => f.write_str("admin"),
            Access::Roles(roles) => write!(f, "roles={}", roles.join("|")),
        }
    }
}

/// A route parameter and the Rust type of the argument it binds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// The name between the braces: `id` for `{id}`.
    pub name: &'static str,
    /// The argument's type as written in the source, such as `"u64"`.
    pub ty: &'static str,
    /// `true` for a catch-all `{*name}`.
    pub catch_all: bool,
}

/// What the macro writes; wrapped by [`Endpoint`]. Not public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct EndpointSpec {
    pub id: &'static str,
    pub route: &'static str,
    pub methods: Methods,
    pub access: Option<Access>,
    pub handler: &'static str,
    pub module_path: &'static str,
    pub file: &'static str,
    pub line: u32,
    pub docs: &'static str,
    pub params: &'static [Param],
    pub call: Handler,
    pub prerender: bool,
    pub static_paths: Option<fn() -> StaticPathsFuture>,
    pub confined: Option<&'static Confinement>,
    pub policy: Policy,
    pub lifecycle: Lifecycle,
}

/// An endpoint's place in the API's history, from `#[endpoint(since = "1.4", until = "2.0",
/// deprecated = "2026-06-30", sunset = "2027-01-01")]`; the values were checked at compile
/// time (versions `MAJOR[.MINOR[.PATCH]]`, dates `YYYY-MM-DD`, `since` before `until`, a
/// sunset only after a deprecation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lifecycle {
    /// The first API version that serves the endpoint (`None`: every version up to `until`).
    pub since: Option<&'static str>,
    /// The first API version that no longer serves it (`None`: still served).
    pub until: Option<&'static str>,
    /// The date (UTC) it is deprecated from: answers carry RFC 9745's `Deprecation` header,
    /// and the document marks the operation `deprecated`.
    pub deprecated: Option<&'static str>,
    /// The date (UTC) it is announced to stop answering: answers carry RFC 8594's `Sunset`
    /// header (the runtime does not remove it then: remove the endpoint, or bound it with
    /// `until`).
    pub sunset: Option<&'static str>,
}

/// An endpoint's traffic policy, from `#[endpoint(timeout = "2s", body_limit = "10MiB",
/// concurrency = 16, rate_limit = "10/minute", per = ip)]`; each part overrides the global
/// default for this endpoint only, `None` keeps it. The values were checked at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// `timeout`: how long the handler may take (else `ENDPOINT_REQUEST_TIMEOUT`); past it
    /// 503 `REQUEST_TIMEOUT`.
    pub timeout: Option<Duration>,
    /// `body_limit`, in bytes (else `ENDPOINT_BODY_LIMIT`); past it 413.
    pub body_limit: Option<usize>,
    /// `concurrency`: requests of this endpoint handled at once; past it 503 with
    /// `Retry-After: 1`.
    pub concurrency: Option<u32>,
    /// `rate_limit` (else `ENDPOINT_RATE_LIMIT`); past it 429 with `Retry-After`.
    pub rate_limit: Option<Rate>,
    /// `idempotent` (POST and PATCH only): a request with an `Idempotency-Key` header is
    /// answered once and its response replayed to the key's retries (see the `idempotent`
    /// argument of [`endpoint`](crate::endpoint)).
    pub idempotent: bool,
}

/// A rate limit: `requests` per `period`, for each bucket `per` chooses (GCRA: the requests
/// may come in one burst, then one every `period / requests`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed per period (at least 1).
    pub requests: u32,
    /// The period.
    pub period: Duration,
    /// Who shares a bucket.
    pub per: RateKey,
}

impl fmt::Display for Rate {
    /// `10/minute per user`, as the attribute writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let period = match self.period.as_secs() {
            1 => "second".to_string(),
            60 => "minute".to_string(),
            3_600 => "hour".to_string(),
            86_400 => "day".to_string(),
            seconds => format!("{seconds}s"),
        };
        let per = match self.per {
            RateKey::User => "user",
            RateKey::Ip => "ip",
            RateKey::Global => "global",
        };
        write!(f, "{}/{period} per {per}", self.requests)
    }
}

/// Who shares a rate-limit bucket (`per = ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateKey {
    /// `per = user` (the default): the user when the caller is authenticated, else the
    /// client IP (as `Accountability::ip` has it: a forwarding
    /// header counts only from a trusted proxy).
    User,
    /// `per = ip`: the client IP, authenticated or not.
    Ip,
    /// `per = global`: one bucket for every caller.
    Global,
}

/// What `#[endpoint(confined, capabilities(...))]` declares: plain data for the route table,
/// the OpenAPI document and the connection budget. The handler itself and the worker that
/// runs it are in the `confined` module (feature `confined`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confinement {
    /// `module::function`, how a worker finds the handler.
    pub key: &'static str,
    /// The `log` capability.
    pub log: bool,
    /// The `request` capability's origins, normalized (`https://api.example.com`).
    pub origins: &'static [&'static str],
}

impl Confinement {
    /// The capabilities as written in the route table: `log, request=[https://a]`.
    pub fn capabilities(&self) -> String {
        let mut parts = Vec::new();
        if self.log {
            parts.push("log".to_string());
        }
        if !self.origins.is_empty() {
            parts.push(format!("request=[{}]", self.origins.join(" ")));
        }
        parts.join(", ")
    }
}

/// One registered endpoint: what `#[endpoint]` recorded about a handler.
///
/// Every field is known at compile time; the record is submitted through `inventory` and read
/// back by [`endpoints()`], [`validate()`](crate::validate) and [`router()`](crate::router).
#[derive(Debug)]
pub struct Endpoint {
    spec: EndpointSpec,
}

impl Endpoint {
    #[doc(hidden)]
    pub const fn __new(spec: EndpointSpec) -> Self {
        Endpoint { spec }
    }

    /// [`path`](Self::path), without a new `String` per call: what each request records. The
    /// paths of every registered endpoint are made once per process, on first use, and live as
    /// long as the endpoints do (for the process); `None` for an endpoint not registered.
    pub(crate) fn static_path(&'static self) -> Option<&'static str> {
        static PATHS: std::sync::OnceLock<std::collections::HashMap<usize, &'static str>> =
            std::sync::OnceLock::new();
        let paths = PATHS.get_or_init(|| {
            endpoints()
                .into_iter()
                .map(|e| {
                    let path: &'static str = Box::leak(e.path().into_boxed_str());
                    (std::ptr::from_ref(e) as usize, path)
                })
                .collect()
        });
        paths.get(&(std::ptr::from_ref(self) as usize)).copied()
    }

    /// The group id: `"greet"` for `id = "greet"`, the package name when `id` is not given,
    /// `""` for `id = "/"` (mounted at the site root).
    pub fn id(&self) -> &'static str {
        self.spec.id
    }

    /// The route as written in the attribute, relative to the group: `"/intro"`.
    pub fn route(&self) -> &'static str {
        self.spec.route
    }

    /// The full path the router serves: the mount point `/<id>` followed by the route, with a
    /// route of `"/"` meaning the mount point itself (`/greet`, not `/greet/`).
    pub fn path(&self) -> String {
        mount_path(self.spec.id, self.spec.route)
    }

    /// The literal suffix of the route's last segment, `.json` of `/api/{id}.json` (Astro's
    /// `[id].json.ts`); `None` for every other route.
    pub fn suffix(&self) -> Option<&'static str> {
        split_suffix(self.spec.route).1
    }

    /// The path as axum routes it: [`path`](Self::path) with a suffixed last segment
    /// (`{id}.json`) routed as the whole segment `{id}`, since axum 0.8's matchit has no
    /// suffixes; the runtime picks among the suffixes of one such path itself.
    pub fn routed_path(&self) -> String {
        let path = self.path();
        match split_suffix(&path) {
            (routed, Some(_)) => routed.to_string(),
            (_, None) => path,
        }
    }

    /// The methods the endpoint answers.
    pub fn methods(&self) -> Methods {
        self.spec.methods
    }

    /// The access level exactly as written, `None` when the attribute states none (then
    /// `ENDPOINT_DEFAULT_ACCESS` decides: see [`access`](Self::access)).
    pub fn declared_access(&self) -> Option<Access> {
        self.spec.access
    }

    /// The handler function's name.
    pub fn handler(&self) -> &'static str {
        self.spec.handler
    }

    /// The module the handler is defined in, from `module_path!()`.
    pub fn module_path(&self) -> &'static str {
        self.spec.module_path
    }

    /// The source file of the handler, from `file!()`.
    pub fn file(&self) -> &'static str {
        self.spec.file
    }

    /// The line of the handler's name in [`file`](Self::file).
    pub fn line(&self) -> u32 {
        self.spec.line
    }

    /// `file:line`, as shown in the route table and in conflict messages.
    pub fn location(&self) -> String {
        format!("{}:{}", self.spec.file, self.spec.line)
    }

    /// The handler's doc comment, leading space of each line removed; `""` when undocumented.
    pub fn docs(&self) -> &'static str {
        self.spec.docs
    }

    /// The first paragraph of [`docs`](Self::docs), joined into one line.
    pub fn summary(&self) -> String {
        let paragraph = self.spec.docs.split("\n\n").next().unwrap_or("");
        paragraph.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The route parameters in order, with the argument type each binds to.
    pub fn params(&self) -> &'static [Param] {
        self.spec.params
    }

    /// `true` for `prerender`: the `build` command writes this endpoint's answers to files
    /// (Astro's static mode). It still answers requests when served.
    pub fn prerender(&self) -> bool {
        self.spec.prerender
    }

    /// The traffic policy the attribute declares (`timeout`, `body_limit`, `concurrency`,
    /// `rate_limit`).
    pub fn policy(&self) -> &Policy {
        &self.spec.policy
    }

    /// `since`, `until`, `deprecated` and `sunset` (see [`Lifecycle`]).
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.spec.lifecycle
    }

    /// For `confined`: the handler's key and declared capabilities (the `confined` module
    /// runs it).
    pub fn confined(&self) -> Option<&'static Confinement> {
        self.spec.confined
    }

    /// The values of the route parameters to prerender, from `static_paths`: one list of
    /// `(parameter, value)` pairs per URL, in the route's parameter order. `None` when the
    /// endpoint has no `static_paths` function.
    pub async fn static_paths(&self) -> Option<Vec<Vec<(&'static str, String)>>> {
        match self.spec.static_paths {
            Some(list) => Some(list().await),
            None => None,
        }
    }

    /// The generated handler: the whole request in, the response out, without the access
    /// check or the pipeline (routing adds them).
    pub(crate) fn call(&self) -> Handler {
        self.spec.call
    }

    /// The sort key: path, then methods, then source location.
    fn key(&self) -> (String, String, &'static str, u32) {
        (
            self.path(),
            self.spec.methods.to_string(),
            self.spec.file,
            self.spec.line,
        )
    }
}

inventory::collect!(Endpoint);

/// Every endpoint linked into this binary, sorted by path, then methods, then `file:line`.
///
/// `inventory` promises no order (it differs between debug and release builds), so the order
/// here is the runtime's own and stable. An endpoint in a library crate the binary never
/// mentions is not linked and not listed; see [`link!`](crate::link).
pub fn endpoints() -> Vec<&'static Endpoint> {
    let mut all: Vec<&'static Endpoint> = inventory::iter::<Endpoint>.into_iter().collect();
    all.sort_by_cached_key(|e| e.key());
    all
}

/// What a generated handler returns.
pub type HandlerFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = axum::response::Response> + Send + 'static>>;

/// A generated handler: the whole request in, the response out.
pub type Handler = fn(axum::extract::Request) -> HandlerFuture;

/// What a generated prerender wrapper returns: one list of `(parameter, value)` pairs per URL
/// to prerender.
pub type StaticPathsFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Vec<Vec<(&'static str, String)>>> + Send>>;

/// Where an endpoint's function is, as a feature's own record (the OpenAPI documentation of
/// an endpoint) names it: its [`file`](Endpoint::file), [`line`](Endpoint::line) and
/// [`handler`](Endpoint::handler) name. Not public API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Site {
    pub file: &'static str,
    pub line: u32,
    pub handler: &'static str,
}

/// `path` without the literal suffix of its last segment when that segment is a parameter with
/// one (`/api/{id}.json` is `("/api/{id}", Some(".json"))`), else `(path, None)`. The macro
/// accepts a suffix on the last segment only.
pub(crate) fn split_suffix(path: &str) -> (&str, Option<&str>) {
    let last = path.rsplit('/').next().unwrap_or_default();
    match last.strip_prefix('{').and_then(|rest| rest.split_once('}')) {
        Some((name, suffix)) if !suffix.is_empty() && !name.starts_with('*') => {
            let cut = path.len() - suffix.len();
            (&path[..cut], Some(&path[cut..]))
        }
        _ => (path, None),
    }
}

/// The full path of `route` mounted in the group `id`: `/<id><route>`, `/<id>` for the route
/// `/`, the route alone at the root (`id` empty).
pub(crate) fn mount_path(id: &str, route: &str) -> String {
    match (id, route) {
        ("", route) => route.to_string(),
        (id, "/") => format!("/{id}"),
        (id, route) => format!("/{id}{route}"),
    }
}

#[cfg(test)]
mod tests {
    use super::split_suffix;

    #[test]
    fn the_suffix_of_the_last_segment_is_split_off() {
        assert_eq!(split_suffix("/api/{id}.json"), ("/api/{id}", Some(".json")));
        assert_eq!(split_suffix("/{id}.tar.gz"), ("/{id}", Some(".tar.gz")));
        assert_eq!(split_suffix("/api/{id}"), ("/api/{id}", None));
        assert_eq!(split_suffix("/builtwith.json"), ("/builtwith.json", None));
        assert_eq!(split_suffix("/files/{*rest}"), ("/files/{*rest}", None));
        assert_eq!(split_suffix("/"), ("/", None));
    }
}
