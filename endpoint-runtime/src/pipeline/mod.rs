//! The runtime's request pipeline, run by every route and fallback it builds: request id,
//! accountability, access check, body limit, timeout, panic capture, and the uniform error
//! envelope.
//!
//! It runs inside each route's handler rather than as a layer around the router, so that a
//! request pays for no middleware future or service clone beyond axum's own routing, and so
//! that every error it produces (401 from the authenticator chain, 401/403 from the access
//! check, 503 on timeout, 500 on a panic) and every [`EndpointError`] from below is finished
//! the same way: rendered in the configured format, with the request id in 5xx bodies.

use std::borrow::Cow;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt as _;

use crate::auth::{Chain, Identified};
use crate::config::Config;
use crate::error::{EndpointError, ErrorFormat, ErrorInfo, render};
use crate::logging::request::RequestFields;
use crate::registry::{Access, Endpoint, Methods};
use crate::registry::{Handler, HandlerFuture};

pub(crate) mod request;

pub use request::{REQUEST_ID_HEADER, RequestId};
pub(crate) use request::{RequestState, authorize};

/// Everything the pipeline needs, shared by all requests.
pub(crate) struct Runtime {
    pub(crate) config: Config,
    /// Who the caller is.
    pub(crate) auth: Arc<Chain>,
    pub(crate) shared: Arc<crate::context::Shared>,
    /// Whether the server is draining (`/readyz`).
    pub(crate) health: Arc<crate::ops::health::Health>,
    /// The application's tower layers ([`App::layer`](crate::App::layer)).
    pub(crate) layers: crate::middleware::Layers,
    /// Where the rate limits' buckets live (`ENDPOINT_REDIS_URL`).
    pub(crate) rate_store: crate::policy::Store,
    /// Where idempotent endpoints' responses are kept, when any endpoint is idempotent.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) idempotency: Option<Arc<crate::policy::idempotency::Store>>,
    /// The Prometheus recorder's handle, when metrics are on.
    #[cfg(feature = "metrics")]
    pub(crate) prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Folders served under a path: `(mount, directory)` ([`App::static_files`](crate::App::static_files)).
    #[cfg(feature = "static-files")]
    pub(crate) static_files: Vec<(String, std::path::PathBuf)>,
}

/// The request span's target (see [`logging`](crate::logging)).
const REQUEST_SPAN_TARGET: &str = crate::logging::request::REQUEST_TARGET;

/// Serves one request: request id, the request's log fields (see
/// [`logging`](crate::logging)), the authenticator chain, the
/// endpoint's access check and body limit (when `endpoint` is known, see
/// [`body_limit`](crate::body_limit)), then `inner` under the request timeout with panic
/// capture, then the error envelope and the `x-request-id` header.
///
/// Every route the runtime builds runs its handler through this (endpoints, the 404 and 405
/// fallbacks, the OpenAPI document and docs page), inside the route's own future: no
/// middleware future or service clone is paid on top of axum's routing, and the returned
/// future is a small hand-written state machine rather than nested `async` blocks, which
/// would be copied whole at each level.
pub(crate) fn run<F, Fut>(
    runtime: Arc<Runtime>,
    endpoint: Option<&'static Endpoint>,
    request: Request,
    inner: F,
) -> Pipeline<F, Fut>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let request_id = RequestState::request_id(request.headers());
    // The request's fields for its log lines (see `logging::request`): no span, unless traces
    // are exported or a subscriber the application installed writes the lines.
    let fields = crate::logging::request::wanted().then(|| {
        Arc::new(RequestFields {
            request_id: request_id.header_value().clone(),
            method: request.method().clone(),
            uri: request.uri().clone(),
            endpoint: endpoint.map(Endpoint::id),
        })
    });
    #[cfg(feature = "otel")]
    let exported =
        crate::otel::enabled().then(|| exported_span(&runtime, endpoint, &request, &request_id));
    #[cfg(not(feature = "otel"))]
    let exported = None;
    let span = match exported {
        Some(span) => span,
        None if fields.is_some() && !crate::logging::request::formatted_here() => {
            request_span(endpoint, &request, &request_id)
        }
        None => tracing::Span::none(),
    };
    let access = (runtime.config.access_log || runtime.metrics()).then(|| {
        Box::new(AccessLine::new(
            request.method().clone(),
            route_of(endpoint, &request),
            runtime
                .config
                .access_log
                .then(|| request.uri().path().to_string()),
            runtime.metrics(),
        ))
    });
    Pipeline {
        // The clock is read only when the `response` line of `finish` or the access log can
        // be written.
        started: (access.is_some() || tracing::enabled!(tracing::Level::DEBUG)).then(Instant::now),
        access,
        runtime,
        endpoint,
        span,
        fields,
        request_id,
        start: Some((request, inner)),
        guard: None,
        limits: None,
        admitted: None,
        admitting: None,
        authenticating: None,
        body_limit: None,
        running: None,
        deadline: None,
    }
}

/// The `request` span, for a subscriber that is not the runtime's own: every line logged while
/// serving the request carries it (see
/// [`logging`](crate::logging)).
fn request_span(
    endpoint: Option<&'static Endpoint>,
    request: &Request,
    request_id: &RequestId,
) -> tracing::Span {
    tracing::info_span!(
        target: REQUEST_SPAN_TARGET,
        "request",
        request_id = request_id.as_str(),
        method = request.method().as_str(),
        path = request.uri().path(),
        endpoint = endpoint.map(Endpoint::id),
    )
}

/// The `request` span when traces are exported (feature `otel`, see
/// [`otel`](mod@crate::otel)): the same fields, and OpenTelemetry's: the span's name
/// (`{method} {route}`) and kind, `http.request.method`, `http.route` (when a route matched),
/// `url.path`, and, once answered, `http.response.status_code` and the status (`error` on a
/// 5xx). A trusted proxy's `traceparent` becomes its parent.
#[cfg(feature = "otel")]
fn exported_span(
    runtime: &Runtime,
    endpoint: Option<&'static Endpoint>,
    request: &Request,
    request_id: &RequestId,
) -> tracing::Span {
    let method = crate::registry::method_label(request.method());
    let route = route_of(endpoint, request);
    let route = (route != UNMATCHED).then_some(route);
    let name = crate::otel::span_name(method, route.as_deref());
    let path = request.uri().path();
    let span = tracing::info_span!(
        target: REQUEST_SPAN_TARGET,
        "request",
        request_id = request_id.as_str(),
        method = request.method().as_str(),
        path,
        endpoint = endpoint.map(Endpoint::id),
        otel.name = name.as_str(),
        otel.kind = "server",
        http.request.method = method,
        http.route = route.as_deref(),
        url.path = path,
    );
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|connected| connected.0.ip());
    if let Some(peer) = peer
        && crate::auth::is_trusted_proxy(peer, &runtime.config.trusted_proxies)
    {
        crate::otel::adopt_parent(&span, request.headers());
    }
    span
}

/// An endpoint's handler as a `Service` whose future is the [`Pipeline`] itself: the route
/// boxes it once, with no handler future around it.
/// `H` is the generated handler, or it wrapped in the application's inner layers.
#[derive(Clone)]
pub(crate) struct EndpointService<H = Handler> {
    runtime: Arc<Runtime>,
    endpoint: &'static Endpoint,
    handler: H,
    limits: Option<Arc<crate::policy::Limits>>,
}

impl<H> EndpointService<H> {
    pub(crate) fn new(runtime: Arc<Runtime>, endpoint: &'static Endpoint, handler: H) -> Self {
        let limits =
            crate::policy::Limits::of(endpoint, runtime.config.rate_limit, &runtime.rate_store);
        EndpointService {
            runtime,
            endpoint,
            handler,
            limits,
        }
    }
}

impl<H> tower::Service<Request> for EndpointService<H>
where
    H: FnOnce(Request) -> HandlerFuture + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pipeline<H, HandlerFuture>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        run(
            Arc::clone(&self.runtime),
            Some(self.endpoint),
            request,
            self.handler.clone(),
        )
        .limited(self.limits.clone())
    }
}

pin_project_lite::pin_project! {
    /// The future of [`run`]: first `start`, then `authenticating` when application
    /// authenticators are configured, then `running` until the response.
    pub(crate) struct Pipeline<F, Fut> {
        runtime: Arc<Runtime>,
        endpoint: Option<&'static Endpoint>,
        // The request span, when one is made (see `run`).
        span: tracing::Span,
        // The request's fields, current while the request is polled.
        fields: Option<Arc<RequestFields>>,
        request_id: RequestId,
        started: Option<Instant>,
        // What the access line says of the request (`ENDPOINT_ACCESS_LOG=on`).
        access: Option<Box<AccessLine>>,
        start: Option<(Request, F)>,
        // The access level of a runtime route that is not an endpoint (see `guarded`).
        guard: Option<Access>,
        // The endpoint's `concurrency` and `rate_limit` (see `limited`), and what the request
        // holds once admitted.
        limits: Option<Arc<crate::policy::Limits>>,
        admitted: Option<crate::policy::Admitted>,
        // Waiting for the shared rate-limit store (feature `redis`), boxed: most requests
        // never are, and the pipeline stays small.
        admitting: Option<Box<Admitting<F>>>,
        authenticating: Option<(crate::auth::Pending, F)>,
        // Set when the request's body has no declared length: whether it went over the limit.
        body_limit: Option<crate::body_limit::Tripwire>,
        #[pin]
        running: Option<futures_util::future::CatchUnwind<AssertUnwindSafe<Fut>>>,
        // The request timeout, set when an application authenticator or the handler first
        // waits, and kept from one to the other: a handler that answers in its first poll
        // (most do) never touches the timer wheel. The synchronous work before that first wait
        // is not preempted by a timer anyway.
        #[pin]
        deadline: Option<tokio::time::Sleep>,
    }
}

/// A request waiting for the shared rate-limit store's answer.
pub(crate) struct Admitting<F> {
    admission: std::pin::Pin<
        Box<dyn Future<Output = Result<crate::policy::Admitted, Box<Response>>> + Send>,
    >,
    request: Request,
    inner: F,
    accountability: crate::auth::Accountability,
}

impl<F, Fut> Pipeline<F, Fut> {
    /// Admits the request under `limits` after the access check (429 over the rate, 503 past
    /// the concurrency bound), before the body is read.
    pub(crate) fn limited(mut self, limits: Option<Arc<crate::policy::Limits>>) -> Self {
        self.limits = limits;
        self
    }

    /// Checks the caller against `access` after the authenticator chain and before `inner`
    /// runs, as an endpoint's access level is checked: for the runtime's own routes that are
    /// not endpoints (the OpenAPI document and the docs page, `ENDPOINT_DOCS_ACCESS`).
    #[cfg(any(feature = "openapi", feature = "metrics"))]
    pub(crate) fn guarded(mut self, access: Access) -> Self {
        self.guard = Some(access);
        self
    }
}

impl<F, Fut> Future for Pipeline<F, Fut>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    // A `Result` so that the pipeline is a `Service`'s future as it is.
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        let _scope = crate::logging::request::Scope::enter(this.fields.as_ref());
        let runtime: &Runtime = this.runtime;
        let response = loop {
            if let Some(running) = this.running.as_mut().as_pin_mut() {
                let response = match running.poll(cx) {
                    Poll::Ready(Ok(response)) => response,
                    Poll::Ready(Err(panic)) => panicked(&*panic),
                    Poll::Pending => {
                        let limit =
                            crate::policy::timeout(*this.endpoint, runtime.config.request_timeout);
                        std::task::ready!(expired(this.deadline.as_mut(), limit, cx));
                        // Logged by `finish`, as every 5xx.
                        EndpointError::timeout(limit).into_response()
                    }
                };
                this.running.set(None);
                this.deadline.set(None);
                // A body over the limit is a 413, whatever the handler made of the error.
                break match this
                    .body_limit
                    .take()
                    .and_then(|t| t.refusal(response.status()))
                {
                    Some(refusal) => refusal,
                    None => response,
                };
            }
            let default_access = runtime.config.default_access;
            let (request, inner, accountability) = if let Some(admitting) = this.admitting {
                // The shared rate-limit store's answer, under the request timeout too (the
                // store has a shorter one of its own).
                // A panic in it is a 500, as one in an authenticator or the handler is.
                let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    admitting.admission.as_mut().poll(cx)
                }));
                let outcome = match polled {
                    Err(panic) => {
                        *this.admitting = None;
                        break panicked(&*panic);
                    }
                    Ok(Poll::Ready(outcome)) => outcome,
                    Ok(Poll::Pending) => {
                        let limit =
                            crate::policy::timeout(*this.endpoint, runtime.config.request_timeout);
                        std::task::ready!(expired(this.deadline.as_mut(), limit, cx));
                        *this.admitting = None;
                        this.deadline.set(None);
                        break EndpointError::timeout(limit).into_response();
                    }
                };
                let Some(admitting) = this.admitting.take() else {
                    unreachable!("checked above")
                };
                match outcome {
                    Ok(admitted) => *this.admitted = Some(admitted),
                    Err(refused) => break *refused,
                }
                (admitting.request, admitting.inner, admitting.accountability)
            } else {
                let (request, inner, caller) = if let Some((chain, _)) = this.authenticating {
                    // The application's authenticators run under the request timeout: one that
                    // hangs is answered 503 as a handler that hangs is.
                    let outcome = match chain.as_mut().poll(cx) {
                        Poll::Ready(outcome) => outcome,
                        Poll::Pending => {
                            let limit = crate::policy::timeout(
                                *this.endpoint,
                                runtime.config.request_timeout,
                            );
                            std::task::ready!(expired(this.deadline.as_mut(), limit, cx));
                            *this.authenticating = None;
                            this.deadline.set(None);
                            break EndpointError::timeout(limit).into_response();
                        }
                    };
                    let Some((_, inner)) = this.authenticating.take() else {
                        unreachable!("checked above")
                    };
                    match outcome {
                        Ok((request, caller)) => (request, inner, caller),
                        Err(panic) => break panicked(&*panic),
                    }
                } else {
                    let Some((mut request, inner)) = this.start.take() else {
                        panic!("the request pipeline was polled after it completed");
                    };
                    match runtime.auth.identify(&mut request) {
                        Identified::Done(caller) => (request, inner, caller),
                        Identified::Pending(chain) => {
                            *this.authenticating = Some((chain, inner));
                            continue;
                        }
                    }
                };
                let accountability = match caller {
                    Ok(accountability) => accountability,
                    Err(error) => break error.into_response(),
                };
                if let Some(access) = this.access.as_mut() {
                    access.user.clone_from(&accountability.user);
                }
                // As for a method the route does not serve at all: 405 before the access check.
                if let Some(endpoint) = *this.endpoint
                    && let Some(refused) = unsupported_method(endpoint, &request)
                {
                    break refused;
                }
                if let Some(endpoint) = *this.endpoint
                    && let Err(denied) =
                        crate::auth::check(endpoint, default_access, &accountability)
                {
                    break denied.into_response();
                }
                if let Some(access) = *this.guard
                    && let Err(denied) = crate::auth::require(access, &accountability)
                {
                    break denied.into_response();
                }
                if let Some(limits) = this.limits.as_ref() {
                    match limits.admit(&accountability) {
                        crate::policy::Admission::Decided(Ok(admitted)) => {
                            *this.admitted = Some(admitted);
                        }
                        crate::policy::Admission::Decided(Err(refused)) => break *refused,
                        #[cfg(feature = "redis")]
                        crate::policy::Admission::Pending(admission) => {
                            *this.admitting = Some(Box::new(Admitting {
                                admission,
                                request,
                                inner,
                                accountability,
                            }));
                            continue;
                        }
                    }
                }
                (request, inner, accountability)
            };
            let mut request = request;
            if this.endpoint.is_some() {
                let limit = crate::policy::body_limit(*this.endpoint, runtime.config.body_limit);
                match crate::body_limit::guard(&mut request, limit) {
                    crate::body_limit::Guard::Refuse(refused) => break refused,
                    crate::body_limit::Guard::Watch(tripwire) => *this.body_limit = Some(tripwire),
                    crate::body_limit::Guard::Fits => {}
                }
            }
            request.extensions_mut().insert(RequestState {
                request_id: this.request_id.clone(),
                shared: Arc::clone(&runtime.shared),
                default_access,
                accountability,
            });
            match std::panic::catch_unwind(AssertUnwindSafe(|| inner(request))) {
                Ok(future) => this
                    .running
                    .set(Some(AssertUnwindSafe(future).catch_unwind())),
                Err(panic) => break panicked(&*panic),
            }
        };
        let mut response = finish(runtime, this.request_id, *this.started, response);
        if let Some(admitted) = this.admitted.as_mut() {
            admitted.mark(&mut response);
        }
        if let (Some(access), Some(started)) = (this.access.take(), *this.started) {
            access.finished(runtime, this.request_id, started, &response);
        }
        #[cfg(feature = "otel")]
        if crate::otel::enabled() {
            crate::otel::answered(
                this.span,
                response.status().as_u16(),
                crate::otel::Side::Server,
            );
        }
        Poll::Ready(Ok(response))
    }
}

/// The target of the access log's lines (`RUST_LOG=endpoint_runtime::access=off` drops them).
const ACCESS_TARGET: &str = "endpoint_runtime::access";

/// The route a request is recorded under: the endpoint's template (`/users/{id}`), else the
/// route axum matched (the runtime's own), else `unmatched` (a 404 or 405 answer: never the
/// path a client sent, so the access log and the metrics' labels stay bounded).
fn route_of(endpoint: Option<&'static Endpoint>, request: &Request) -> Cow<'static, str> {
    match endpoint {
        Some(endpoint) => match endpoint.static_path() {
            Some(path) => Cow::Borrowed(path),
            None => Cow::Owned(endpoint.path()),
        },
        None => match request.extensions().get::<axum::extract::MatchedPath>() {
            Some(matched) => Cow::Owned(matched.as_str().to_string()),
            None => Cow::Borrowed(UNMATCHED),
        },
    }
}

/// The route of a request no route matched (see [`route_of`]).
const UNMATCHED: &str = "unmatched";

/// One request, as the access log and the metrics record it (`ENDPOINT_ACCESS_LOG`,
/// `ENDPOINT_METRICS_*`). While it lives the request counts as active.
struct AccessLine {
    method: axum::http::Method,
    route: Cow<'static, str>,
    /// The path requested (for the access log only: metrics never see it).
    path: Option<String>,
    /// The caller, once authenticated.
    user: Option<String>,
    /// Whether metrics are recorded (the active-requests gauge was raised).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    metrics: bool,
}

impl AccessLine {
    fn new(
        method: axum::http::Method,
        route: Cow<'static, str>,
        path: Option<String>,
        metrics: bool,
    ) -> Self {
        #[cfg(feature = "metrics")]
        if metrics {
            crate::ops::metrics::active_requests().increment(1.0);
        }
        AccessLine {
            method,
            route,
            path,
            user: None,
            metrics,
        }
    }

    /// Records the finished request: the access line when `ENDPOINT_ACCESS_LOG` is on, the
    /// duration histogram when metrics are.
    fn finished(
        self,
        runtime: &Runtime,
        request_id: &RequestId,
        started: Instant,
        response: &Response,
    ) {
        #[cfg(feature = "metrics")]
        if self.metrics {
            crate::ops::metrics::request(
                &self.method,
                // Borrowed (an endpoint's path made once): cloning it copies a pointer.
                self.route.clone(),
                response.status().as_u16(),
                started.elapsed().as_secs_f64(),
            );
        }
        if runtime.config.access_log {
            self.log(request_id, started, response);
        }
    }

    /// Writes the line: method, route, path, status, body bytes when known, milliseconds until the
    /// response was ready (not until its body was sent), request id, user.
    fn log(&self, request_id: &RequestId, started: Instant, response: &Response) {
        use axum::body::HttpBody as _;
        tracing::info!(
            target: ACCESS_TARGET,
            method = self.method.as_str(),
            route = &*self.route,
            path = self.path.as_deref(),
            status = response.status().as_u16(),
            bytes = response.body().size_hint().exact(),
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            request_id = request_id.as_str(),
            user = self.user.as_deref(),
            "access"
        );
    }
}

#[cfg(feature = "metrics")]
impl Drop for AccessLine {
    fn drop(&mut self) {
        if self.metrics {
            crate::ops::metrics::active_requests().decrement(1.0);
        }
    }
}

impl Runtime {
    /// Whether metrics are recorded (`ENDPOINT_METRICS_ADDR` or `ENDPOINT_METRICS_PATH`).
    pub(crate) fn metrics(&self) -> bool {
        #[cfg(feature = "metrics")]
        return self.prometheus.is_some();
        #[cfg(not(feature = "metrics"))]
        return false;
    }
}

/// Whether the request timeout has passed, arming it on first use: one clock for the
/// application's authenticators and the handler.
fn expired(
    mut deadline: Pin<&mut Option<tokio::time::Sleep>>,
    limit: std::time::Duration,
    cx: &mut Context<'_>,
) -> Poll<()> {
    if deadline.is_none() {
        deadline.set(Some(tokio::time::sleep(limit)));
    }
    match deadline.as_pin_mut() {
        Some(deadline) => deadline.poll(cx),
        None => Poll::Ready(()),
    }
}

/// The 500 for a handler (or an application authenticator) that panicked; the message is
/// logged (by `finish`), not sent.
fn panicked(panic: &(dyn std::any::Any + Send)) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string panic payload");
    EndpointError::internal(format_args!("handler panicked: {message}")).into_response()
}

/// Re-renders error bodies in the configured format with the request id, echoes the id, logs
/// a 5xx (once, with its source chain: the one place a 5xx is logged), and logs the
/// `response` line (at `debug`, when `started` was taken).
fn finish(
    runtime: &Runtime,
    request_id: &RequestId,
    started: Option<Instant>,
    mut response: Response,
) -> Response {
    let config = &runtime.config;
    let info = response.extensions().get::<Arc<ErrorInfo>>().cloned();
    if response.status().is_server_error() {
        crate::error::log_server_error(response.status(), info.as_deref());
    }
    if let Some(info) = info
        && (config.error_format == ErrorFormat::Problem || info.status.is_server_error())
    {
        let (content_type, body) = render(&info, config.error_format, Some(request_id.as_str()));
        *response.body_mut() = axum::body::Body::from(body);
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response.headers_mut().remove(header::CONTENT_LENGTH);
    }
    response
        .headers_mut()
        .insert(request::REQUEST_ID_NAME, request_id.header_value().clone());
    if let Some(started) = started {
        tracing::debug!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "response"
        );
    }
    response
}

/// The 405 for an extension method (`QUERY`, `PROPFIND`…) on a `method = all` endpoint: `all`
/// answers the standard methods only, the ones OpenAPI 3.1 can document.
pub(crate) fn unsupported_method(endpoint: &Endpoint, request: &Request) -> Option<Response> {
    if !matches!(endpoint.methods(), Methods::All) || is_standard(request.method()) {
        return None;
    }
    let response =
        EndpointError::method_not_allowed(request.method().as_str(), request.uri().path())
            .with_header(
                axum::http::header::ALLOW,
                axum::http::HeaderValue::from_static(
                    "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS,TRACE",
                ),
            )
            .into_response();
    Some(response)
}

fn is_standard(method: &axum::http::Method) -> bool {
    use axum::http::Method as M;
    [
        M::GET,
        M::HEAD,
        M::POST,
        M::PUT,
        M::PATCH,
        M::DELETE,
        M::OPTIONS,
        M::TRACE,
    ]
    .contains(method)
}
