//! The runtime's request pipeline, run by every route and fallback it builds: request id,
//! accountability, access check, body limit, timeout, panic capture, and the uniform error
//! envelope.
//!
//! It runs inside each route's handler rather than as a layer around the router, so that a
//! request pays for no middleware future or service clone beyond axum's own routing, and so
//! that every error it produces (401 from the authenticator chain, 401/403 from the access
//! check, 503 on timeout, 500 on a panic) and every [`EndpointError`] from below is finished
//! the same way: rendered in the configured format, with the request id in 5xx bodies.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt as _;

use crate::accountability::Accountability;
use crate::auth::{Authenticator, Builtin, Outcome};
use crate::config::{Config, DefaultAccess, ErrorFormat, ForwardedHeader, IpNet};
use crate::error::{EndpointError, ErrorInfo, render};
use crate::registry::{Access, Endpoint};
use crate::registry::{Handler, HandlerFuture};

/// The header that carries the request id, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the current request: from a well-formed `x-request-id` header (1–128 of
/// `A-Z a-z 0-9 - _ . :`), or a new UUID v4. An extractor; also echoed in the response and
/// recorded on every log line of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestState>()
            .map(|state| state.request_id.clone())
            .unwrap_or_else(|| RequestId(HeaderValue::from_static(""))))
    }
}

/// Everything the pipeline learned about a request, stored as one request extension (one
/// allocation) and read by the extractors and the access check.
#[derive(Clone)]
pub(crate) struct RequestState {
    pub(crate) request_id: RequestId,
    pub(crate) shared: Arc<crate::context::Shared>,
    pub(crate) default_access: DefaultAccess,
    pub(crate) accountability: Accountability,
}

/// An identity set by the in-process test client. Extensions cannot come from the network,
/// so a remote caller can never set this.
#[derive(Debug, Clone)]
pub(crate) struct TestIdentity(pub(crate) Accountability);

/// Everything the pipeline needs, shared by all requests.
pub(crate) struct Runtime {
    pub(crate) config: Config,
    /// The application's authenticators, run first.
    pub(crate) authenticators: Vec<Box<dyn Authenticator>>,
    /// Static tokens, then JWT, when configured.
    pub(crate) builtin: Vec<Builtin>,
    pub(crate) shared: Arc<crate::context::Shared>,
}

fn valid_request_id(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    let ok = (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then_some(text)
}

/// The target of the `request` span, so that `RUST_LOG` can name it alone (see
/// [`logging`](crate::logging)).
const REQUEST_SPAN_TARGET: &str = "endpoint_runtime::request";

/// The header's name, parsed once.
const REQUEST_ID_NAME: header::HeaderName = header::HeaderName::from_static(REQUEST_ID_HEADER);

/// Serves one request: request id, the `request` span, the authenticator chain, the
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
    let request_id = match request.headers().get(&REQUEST_ID_NAME) {
        Some(value) if valid_request_id(value).is_some() => value.clone(),
        _ => {
            let mut buffer = [0u8; uuid::fmt::Hyphenated::LENGTH];
            let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
            HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
        }
    };
    let request_id = RequestId(request_id);
    let span = tracing::info_span!(
        target: REQUEST_SPAN_TARGET,
        "request",
        request_id = request_id.as_str(),
        method = request.method().as_str(),
        path = request.uri().path(),
        endpoint = endpoint.map(Endpoint::id),
    );
    Pipeline {
        // The clock is read only when the `response` line of `finish` can be written.
        started: tracing::enabled!(tracing::Level::DEBUG).then(Instant::now),
        runtime,
        endpoint,
        span,
        request_id,
        start: Some((request, inner)),
        guard: None,
        authenticating: None,
        body_limit: None,
        running: None,
        deadline: None,
    }
}

/// An endpoint's handler as a `Service` whose future is the [`Pipeline`] itself: the route
/// boxes it once, with no handler future around it.
#[derive(Clone)]
pub(crate) struct EndpointService {
    runtime: Arc<Runtime>,
    endpoint: &'static Endpoint,
    handler: Handler,
}

impl EndpointService {
    pub(crate) fn new(
        runtime: Arc<Runtime>,
        endpoint: &'static Endpoint,
        handler: Handler,
    ) -> Self {
        EndpointService {
            runtime,
            endpoint,
            handler,
        }
    }
}

impl tower::Service<Request> for EndpointService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pipeline<Handler, HandlerFuture>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        run(
            Arc::clone(&self.runtime),
            Some(self.endpoint),
            request,
            self.handler,
        )
    }
}

/// What an application authenticator chain resolves to: the request back and the caller, or
/// the panic of an authenticator (answered 500, as a handler's).
type Chain = futures_util::future::BoxFuture<
    'static,
    std::thread::Result<(Request, Result<Accountability, EndpointError>)>,
>;

pin_project_lite::pin_project! {
    /// The future of [`run`]: first `start`, then `authenticating` when application
    /// authenticators are configured, then `running` until the response.
    pub(crate) struct Pipeline<F, Fut> {
        runtime: Arc<Runtime>,
        endpoint: Option<&'static Endpoint>,
        span: tracing::Span,
        request_id: RequestId,
        started: Option<Instant>,
        start: Option<(Request, F)>,
        // The access level of a runtime route that is not an endpoint (see `guarded`).
        guard: Option<Access>,
        authenticating: Option<(Chain, F)>,
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

impl<F, Fut> Pipeline<F, Fut> {
    /// Checks the caller against `access` after the authenticator chain and before `inner`
    /// runs, as an endpoint's access level is checked: for the runtime's own routes that are
    /// not endpoints (the OpenAPI document and the docs page, `ENDPOINT_DOCS_ACCESS`).
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
        let runtime: &Runtime = this.runtime;
        let response = loop {
            if let Some(running) = this.running.as_mut().as_pin_mut() {
                let response = match running.poll(cx) {
                    Poll::Ready(Ok(response)) => response,
                    Poll::Ready(Err(panic)) => panicked(&*panic),
                    Poll::Pending => {
                        let limit = runtime.config.request_timeout;
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
            let (request, inner, caller) = if let Some((chain, _)) = this.authenticating {
                // The application's authenticators run under the request timeout: one that
                // hangs is answered 503 as a handler that hangs is.
                let outcome = match chain.as_mut().poll(cx) {
                    Poll::Ready(outcome) => outcome,
                    Poll::Pending => {
                        let limit = runtime.config.request_timeout;
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
                match identify(this.runtime, &mut request) {
                    Identified::Done(caller) => (request, inner, caller),
                    Identified::Chain(chain) => {
                        *this.authenticating = Some((chain, inner));
                        continue;
                    }
                }
            };
            let accountability = match caller {
                Ok(accountability) => accountability,
                Err(error) => break error.into_response(),
            };
            // As for a method the route does not serve at all: 405 before the access check.
            if let Some(endpoint) = *this.endpoint
                && let Some(refused) = crate::router::unsupported_method(endpoint, &request)
            {
                break refused;
            }
            let default_access = runtime.config.default_access;
            if let Some(endpoint) = *this.endpoint
                && let Err(denied) = crate::access::check(endpoint, default_access, &accountability)
            {
                break denied.into_response();
            }
            if let Some(access) = *this.guard
                && let Err(denied) = crate::access::require(access, &accountability)
            {
                break denied.into_response();
            }
            let mut request = request;
            if this.endpoint.is_some() {
                match crate::body_limit::guard(&mut request, runtime.config.body_limit) {
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
        Poll::Ready(Ok(finish(
            runtime,
            this.request_id,
            *this.started,
            response,
        )))
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
        .insert(REQUEST_ID_NAME, request_id.0.clone());
    if let Some(started) = started {
        tracing::debug!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "response"
        );
    }
    response
}

/// What one authenticator's [`Outcome`] means for the chain: `None` to ask the next one.
fn decide(
    name: &'static str,
    outcome: Outcome,
    accountability: &mut Accountability,
) -> Option<Result<(), EndpointError>> {
    match outcome {
        Outcome::Skip => None,
        Outcome::Invalid(reason) => {
            tracing::warn!(authenticator = name, %reason, "credential rejected");
            Some(Err(EndpointError::invalid_credentials()))
        }
        Outcome::Authenticated(identity) => {
            if identity.user.is_empty() {
                tracing::warn!(
                    authenticator = name,
                    "authenticator returned an identity without a user"
                );
                return Some(Err(EndpointError::invalid_credentials()));
            }
            accountability.user = Some(identity.user);
            accountability.role = identity.role;
            accountability.admin = identity.admin;
            accountability.app = identity.app;
            accountability.claims = identity.claims;
            accountability.authenticator = Some(name);
            tracing::debug!(
                authenticator = name,
                user = accountability.user.as_deref(),
                "authenticated"
            );
            Some(Ok(()))
        }
    }
}

/// Where the authenticator chain stands after the built-in part of [`identify`].
enum Identified {
    /// The caller, or the 401 to answer.
    Done(Result<Accountability, EndpointError>),
    /// The application's authenticators must run: an `async` chain.
    Chain(Chain),
}

/// Runs the authenticator chain: the caller's [`Accountability`], or the 401 to answer.
/// Application authenticators see the request head as [`Parts`], in a boxed future (only
/// when there are any); the built-in ones read the headers in place.
fn identify(runtime: &Arc<Runtime>, request: &mut Request) -> Identified {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let headers = request.headers();
    let header = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let accountability = Accountability {
        ip: peer.map(|peer| {
            client_ip(
                peer,
                headers,
                &runtime.config.trusted_proxies,
                runtime.config.forwarded_header,
            )
        }),
        user_agent: header(header::USER_AGENT),
        origin: header(header::ORIGIN),
        ..Accountability::default()
    };
    let credentials = headers.get_all(header::AUTHORIZATION).iter().count();
    if let Some(TestIdentity(identity)) = request.extensions_mut().remove::<TestIdentity>() {
        return Identified::Done(Ok(Accountability {
            ip: accountability.ip,
            user_agent: accountability.user_agent,
            origin: accountability.origin,
            ..identity
        }));
    }
    if credentials > 1 {
        tracing::warn!(
            reason = "more than one Authorization header",
            "credential rejected"
        );
        return Identified::Done(Err(EndpointError::invalid_credentials()));
    }
    if runtime.authenticators.is_empty() {
        return Identified::Done(builtin(
            runtime,
            request.headers(),
            accountability,
            credentials,
        ));
    }
    let runtime = Arc::clone(runtime);
    let request = std::mem::take(request);
    Identified::Chain(Box::pin(
        AssertUnwindSafe(async move {
            let mut accountability = accountability;
            let (parts, body) = request.into_parts();
            let mut decided = None;
            for authenticator in &runtime.authenticators {
                let outcome = authenticator.authenticate(&parts).await;
                decided = decide(authenticator.name(), outcome, &mut accountability);
                if decided.is_some() {
                    break;
                }
            }
            let request = Request::from_parts(parts, body);
            let caller = match decided {
                Some(decided) => decided.map(|()| accountability),
                None => builtin(&runtime, request.headers(), accountability, credentials),
            };
            (request, caller)
        })
        .catch_unwind(),
    ))
}

/// The rest of the chain: static tokens, then JWT; a credential nobody accepted is 401.
fn builtin(
    runtime: &Runtime,
    headers: &HeaderMap,
    mut accountability: Accountability,
    credentials: usize,
) -> Result<Accountability, EndpointError> {
    for authenticator in &runtime.builtin {
        let outcome = authenticator.outcome(headers);
        if let Some(decided) = decide(authenticator.name(), outcome, &mut accountability) {
            return decided.map(|()| accountability);
        }
    }
    if credentials == 1 {
        tracing::warn!(
            reason = "no authenticator accepted the Authorization header",
            "credential rejected"
        );
        return Err(EndpointError::invalid_credentials());
    }
    Ok(accountability)
}

/// The client address: the socket peer, unless the peer is a trusted proxy, in which case the
/// right-most address of the configured forwarding header (`X-Forwarded-For`, or the `for=`
/// parameters of RFC 7239 `Forwarded`; see [`ForwardedHeader`]) that is not itself a trusted
/// proxy. The other header is never read: not merged, not a fallback. A chosen header that is
/// absent or unparseable is ignored (the peer is kept).
fn client_ip(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    which: ForwardedHeader,
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    match which {
        ForwardedHeader::XForwardedFor => {
            for item in headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
            {
                match parse_node(item) {
                    Some(ip) => chain.push(ip),
                    None => return peer,
                }
            }
        }
        ForwardedHeader::Forwarded => {
            for element in headers
                .get_all(header::FORWARDED)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
            {
                let node = element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(key, _)| key.trim().eq_ignore_ascii_case("for"));
                if let Some((_, node)) = node {
                    match parse_node(node) {
                        Some(ip) => chain.push(ip),
                        None => return peer,
                    }
                }
            }
        }
    }
    chain
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(chain.first())
        .copied()
        .unwrap_or(peer)
}

/// Parses `1.2.3.4`, `1.2.3.4:80`, `[2001:db8::1]:80`, `"[2001:db8::1]"` or `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    node.strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn forwarded_addresses_only_from_trusted_peers() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let xff = parts(&[("x-forwarded-for", "198.51.100.7, 10.0.0.5")]);
        assert_eq!(client_ip(stranger, &xff, &trusted, XFF), stranger);
        assert_eq!(
            client_ip(proxy, &xff, &trusted, XFF),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // A client cannot hide behind a spoofed left-most entry: the right-most untrusted wins.
        let spoofed = parts(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7")]);
        assert_eq!(
            client_ip(proxy, &spoofed, &trusted, XFF),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let forwarded = parts(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")]);
        assert_eq!(
            client_ip(proxy, &forwarded, &trusted, FORWARDED),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        let garbage = parts(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(client_ip(proxy, &garbage, &trusted, XFF), proxy);
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
    const FORWARDED: ForwardedHeader = ForwardedHeader::Forwarded;

    #[test]
    fn only_the_configured_forwarding_header_is_read() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        // A proxy that sets one header while the client forged the other: whichever is
        // configured wins, the other is neither merged nor consulted.
        let both = parts(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("forwarded", "for=203.0.113.9;proto=https"),
        ]);
        assert_eq!(client_ip(proxy, &both, &trusted, XFF), ip("198.51.100.7"));
        assert_eq!(
            client_ip(proxy, &both, &trusted, FORWARDED),
            ip("203.0.113.9")
        );
        // Only the other header present: the peer, not a fallback to it.
        let only_forwarded = parts(&[("forwarded", "for=203.0.113.9")]);
        assert_eq!(client_ip(proxy, &only_forwarded, &trusted, XFF), proxy);
        let only_xff = parts(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(client_ip(proxy, &only_xff, &trusted, FORWARDED), proxy);
        // RFC 7239 chains, in several header lines and elements: the right-most untrusted.
        let chain = parts(&[
            ("forwarded", "for=192.0.2.60;proto=http, for=198.51.100.17"),
            ("forwarded", "for=\"10.0.0.5:8080\""),
        ]);
        assert_eq!(
            client_ip(proxy, &chain, &trusted, FORWARDED),
            ip("198.51.100.17")
        );
        // An unparseable chosen header keeps the peer, even when the other one would parse.
        let bad_forwarded = parts(&[
            ("forwarded", "for=unknown"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(client_ip(proxy, &bad_forwarded, &trusted, FORWARDED), proxy);
        // An untrusted peer is itself the client, whatever it sends.
        let stranger = ip("203.0.113.50");
        assert_eq!(client_ip(stranger, &both, &trusted, FORWARDED), stranger);
    }

    #[test]
    fn request_ids_are_checked() {
        assert_eq!(
            valid_request_id(&HeaderValue::from_static("abc-123_x.y:z")),
            Some("abc-123_x.y:z")
        );
        assert_eq!(
            valid_request_id(&HeaderValue::from_static("has space")),
            None
        );
        assert_eq!(
            valid_request_id(&HeaderValue::from_str(&"a".repeat(129)).unwrap()),
            None
        );
    }
}
