//! The runtime's one middleware, in front of every route and fallback: request id,
//! accountability, timeout, panic capture, and the uniform error envelope.
//!
//! It is a single `from_fn` layer rather than a stack of tower layers so that a request pays
//! for one boxed future, and so that every error it produces (401 from the authenticator
//! chain, 503 on timeout, 500 on a panic) and every [`EndpointError`] from below is finished
//! the same way: rendered in the configured format, with the request id in 5xx bodies.

use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt as _;
use tracing::Instrument as _;

use crate::accountability::Accountability;
use crate::auth::{Authenticator, Outcome};
use crate::config::{Config, DefaultAccess, ErrorFormat, IpNet};
use crate::error::{EndpointError, ErrorInfo, render};

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

/// Everything the middleware needs, shared by all requests.
pub(crate) struct Runtime {
    pub(crate) config: Config,
    pub(crate) authenticators: Vec<Box<dyn Authenticator>>,
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

pub(crate) async fn pipeline(
    State(runtime): State<Arc<Runtime>>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_id = match request.headers().get(REQUEST_ID_HEADER) {
        Some(value) if valid_request_id(value).is_some() => value.clone(),
        _ => {
            let mut buffer = [0u8; uuid::fmt::Hyphenated::LENGTH];
            let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
            HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
        }
    };
    let request_id = RequestId(request_id);
    let span = tracing::info_span!(
        "request",
        request_id = request_id.as_str(),
        method = request.method().as_str(),
        path = request.uri().path(),
        endpoint = tracing::field::Empty,
    );
    async move {
        let started = Instant::now();
        let mut response = match authenticate(&runtime, &mut request).await {
            Err(error) => error.into_response(),
            Ok(accountability) => {
                request.extensions_mut().insert(RequestState {
                    request_id: request_id.clone(),
                    shared: Arc::clone(&runtime.shared),
                    default_access: runtime.config.default_access,
                    accountability,
                });
                let run = AssertUnwindSafe(next.run(request)).catch_unwind();
                match tokio::time::timeout(runtime.config.request_timeout, run).await {
                    Ok(Ok(response)) => response,
                    Ok(Err(panic)) => {
                        let message = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "a non-string panic payload".into());
                        EndpointError::internal(format_args!("handler panicked: {message}")).into_response()
                    }
                    Err(_) => {
                        tracing::warn!(limit = ?runtime.config.request_timeout, "request timed out");
                        EndpointError::timeout(runtime.config.request_timeout).into_response()
                    }
                }
            }
        };
        finish(&runtime.config, &request_id, &mut response);
        tracing::debug!(status = response.status().as_u16(), latency_ms = started.elapsed().as_secs_f64() * 1000.0, "response");
        response
    }
    .instrument(span)
    .await
}

/// Re-renders error bodies in the configured format with the request id, and echoes the id.
fn finish(config: &Config, request_id: &RequestId, response: &mut Response) {
    if let Some(info) = response.extensions().get::<Arc<ErrorInfo>>().cloned()
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
        .insert(REQUEST_ID_HEADER, request_id.0.clone());
}

/// Runs the authenticator chain: the caller's [`Accountability`], or the 401 to answer.
async fn authenticate(
    runtime: &Runtime,
    request: &mut Request,
) -> Result<Accountability, EndpointError> {
    let (mut parts, body) = std::mem::take(request).into_parts();
    let result = identify(runtime, &mut parts).await;
    *request = Request::from_parts(parts, body);
    result
}

async fn identify(runtime: &Runtime, parts: &mut Parts) -> Result<Accountability, EndpointError> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut accountability = Accountability {
        ip: peer.map(|peer| client_ip(peer, parts, &runtime.config.trusted_proxies)),
        user_agent: header(header::USER_AGENT),
        origin: header(header::ORIGIN),
        ..Accountability::default()
    };
    if let Some(TestIdentity(identity)) = parts.extensions.remove::<TestIdentity>() {
        return Ok(Accountability {
            ip: accountability.ip,
            user_agent: accountability.user_agent,
            origin: accountability.origin,
            ..identity
        });
    }
    let credentials = parts.headers.get_all(header::AUTHORIZATION).iter().count();
    if credentials > 1 {
        tracing::warn!(
            reason = "more than one Authorization header",
            "credential rejected"
        );
        return Err(EndpointError::invalid_credentials());
    }
    for authenticator in &runtime.authenticators {
        match authenticator.authenticate(parts).await {
            Outcome::Skip => continue,
            Outcome::Invalid(reason) => {
                tracing::warn!(authenticator = authenticator.name(), %reason, "credential rejected");
                return Err(EndpointError::invalid_credentials());
            }
            Outcome::Authenticated(identity) => {
                if identity.user.is_empty() {
                    tracing::warn!(
                        authenticator = authenticator.name(),
                        "authenticator returned an identity without a user"
                    );
                    return Err(EndpointError::invalid_credentials());
                }
                accountability.user = Some(identity.user);
                accountability.role = identity.role;
                accountability.admin = identity.admin;
                accountability.app = identity.app;
                accountability.claims = identity.claims;
                accountability.authenticator = Some(authenticator.name());
                tracing::debug!(
                    authenticator = authenticator.name(),
                    user = accountability.user.as_deref(),
                    "authenticated"
                );
                return Ok(accountability);
            }
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
/// right-most address of `X-Forwarded-For` (else `Forwarded: for=`) that is not itself a
/// trusted proxy. An unparseable forwarding header is ignored (the peer is kept).
fn client_ip(peer: IpAddr, parts: &Parts, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    let forwarded_for: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded_for.is_empty() {
        for item in forwarded_for.iter().flat_map(|v| v.split(',')) {
            match parse_node(item) {
                Some(ip) => chain.push(ip),
                None => return peer,
            }
        }
    } else {
        for value in parts
            .headers
            .get_all(header::FORWARDED)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            for element in value.split(',') {
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

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut builder = axum::http::Request::builder();
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn forwarded_addresses_only_from_trusted_peers() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let xff = parts(&[("x-forwarded-for", "198.51.100.7, 10.0.0.5")]);
        assert_eq!(client_ip(stranger, &xff, &trusted), stranger);
        assert_eq!(
            client_ip(proxy, &xff, &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // A client cannot hide behind a spoofed left-most entry: the right-most untrusted wins.
        let spoofed = parts(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7")]);
        assert_eq!(
            client_ip(proxy, &spoofed, &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let forwarded = parts(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")]);
        assert_eq!(
            client_ip(proxy, &forwarded, &trusted),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        let garbage = parts(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(client_ip(proxy, &garbage, &trusted), proxy);
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
