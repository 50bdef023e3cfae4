//! The one request extension the pipeline inserts ([`RequestState`]) and the request id, and
//! the extractors that read them: [`RequestId`], [`Accountability`] and [`Context`]. Handlers
//! and extractors depend on this, not on the pipeline's future.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderValue, header};

use crate::auth::{Accountability, DefaultAccess};
use crate::context::Context;
use crate::error::EndpointError;
use crate::registry::Endpoint;

/// The header that carries the request id, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the current request: from a well-formed `x-request-id` header (1–128 of
/// `A-Z a-z 0-9 - _ . :`), or a new one made by the process: 16 hex digits drawn at random when
/// it starts, `-`, and a counter in hex (`9f3c61d2a07be415-2a`). The random part makes ids of
/// other instances and of restarts differ (64 bits: a repeat among a million processes has a
/// chance below 10⁻⁷); the counter makes this process's differ, without a random draw or a
/// UUID's formatting per request. An extractor; also echoed in the response and recorded on
/// every log line of the request.
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

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
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

impl RequestState {
    /// The runtime's configuration, for a request in the pipeline.
    #[cfg_attr(
        not(any(feature = "multipart", feature = "websocket")),
        allow(dead_code)
    )]
    pub(crate) fn config(extensions: &Extensions) -> Option<&crate::Config> {
        extensions
            .get::<RequestState>()
            .map(|state| &state.shared.config)
    }

    /// Cancelled when the server starts draining, for a request in the pipeline.
    #[cfg(feature = "websocket")]
    pub(crate) fn stopping(extensions: &Extensions) -> Option<tokio_util::sync::CancellationToken> {
        extensions
            .get::<RequestState>()
            .map(|state| state.shared.stopping.clone())
    }

    /// The id of a request: its well-formed `x-request-id` header, else a new one (see
    /// [`RequestId`]).
    pub(crate) fn request_id(headers: &axum::http::HeaderMap) -> RequestId {
        RequestId(match headers.get(&REQUEST_ID_NAME) {
            Some(value) if valid_request_id(value).is_some() => value.clone(),
            _ => new_request_id(),
        })
    }
}

/// The process's part of the ids it makes: 64 random bits in hex, drawn once.
static ID_PREFIX: std::sync::LazyLock<[u8; 16]> = std::sync::LazyLock::new(|| {
    let mut prefix = [0u8; 16];
    hex(uuid::Uuid::new_v4().as_u64_pair().0, &mut prefix);
    prefix
});

/// How many ids the process has made.
static ID_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A new request id: [`ID_PREFIX`], `-`, the counter's next value in hex.
fn new_request_id() -> HeaderValue {
    let count = ID_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut text = [0u8; 33];
    text[..16].copy_from_slice(&*ID_PREFIX);
    text[16] = b'-';
    let mut digits = [0u8; 16];
    hex(count, &mut digits);
    // The counter without leading zeros (one digit at least).
    let first = digits.iter().position(|&d| d != b'0').unwrap_or(15);
    let length = 17 + 16 - first;
    text[17..length].copy_from_slice(&digits[first..]);
    // In an owner whose clones share it (one allocation): `HeaderValue::from_bytes` copies
    // into a `Vec`, and the first clone (for the request's log fields, its state, the
    // response's header) allocates again to share it.
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(IdText { text, length }))
        .unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// The text of a request id made here, without a separate allocation.
struct IdText {
    text: [u8; 33],
    length: usize,
}

impl AsRef<[u8]> for IdText {
    fn as_ref(&self) -> &[u8] {
        &self.text[..self.length]
    }
}

/// `value` as 16 lowercase hex digits.
fn hex(value: u64, out: &mut [u8; 16]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, digit) in out.iter_mut().enumerate() {
        *digit = DIGITS[((value >> (60 - 4 * i)) & 0xf) as usize];
    }
}

impl RequestId {
    /// The id as a header value, to echo it.
    pub(crate) fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

fn valid_request_id(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    let ok = (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then_some(text)
}

/// The header's name, parsed once.
pub(crate) const REQUEST_ID_NAME: header::HeaderName =
    header::HeaderName::from_static(REQUEST_ID_HEADER);

impl Accountability {
    /// The accountability the runtime computed for a request, from its extensions: for
    /// extractors and code an endpoint's handler calls with its request. `None` elsewhere,
    /// including in layers added to the runtime's router (`layer`, `route_layer`): they run
    /// before the request pipeline, which runs inside each route.
    pub fn from_extensions(extensions: &Extensions) -> Option<&Accountability> {
        extensions
            .get::<RequestState>()
            .map(|state| &state.accountability)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Accountability {
    type Rejection = std::convert::Infallible;

    /// Never fails: outside the runtime's middleware (a bare `MethodRouter`), the caller is
    /// anonymous, which only ever denies access.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Accountability::from_extensions(&parts.extensions)
            .cloned()
            .unwrap_or_default())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Context {
    type Rejection = EndpointError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let state = parts.extensions.get::<RequestState>().ok_or_else(|| {
            EndpointError::internal("Context needs the runtime's middleware: build the router with endpoint_runtime::router() or App")
        })?;
        let shared = Arc::clone(&state.shared);
        let accountability = state.accountability.clone();
        let request_id = Some(state.request_id.as_str().to_string());
        Ok(Context::new(shared, accountability, request_id))
    }
}

/// The access check of a router built without the runtime (see
/// [`method_router`](crate::method_router)): the caller from the request's extensions, else
/// anonymous.
pub(crate) fn authorize(endpoint: &Endpoint, extensions: &Extensions) -> Result<(), EndpointError> {
    let state = extensions.get::<RequestState>();
    let default = state.map_or(DefaultAccess::Public, |s| s.default_access);
    let anonymous = Accountability::anonymous();
    let caller = state.map_or(&anonymous, |s| &s.accountability);
    crate::auth::check(endpoint, default, caller)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_request_ids_share_the_process_prefix_and_count_up() {
        let first = new_request_id();
        let second = new_request_id();
        let (first, second) = (first.to_str().unwrap(), second.to_str().unwrap());
        assert!(valid_request_id(&HeaderValue::from_str(first).unwrap()).is_some());
        let (prefix, count) = first.split_once('-').unwrap();
        let (prefix2, count2) = second.split_once('-').unwrap();
        assert_eq!(prefix, prefix2);
        assert_eq!(prefix.len(), 16);
        assert!(prefix.bytes().all(|b| b.is_ascii_hexdigit()));
        // Other tests make ids meanwhile: the second is later, not necessarily next.
        let (count, count2) = (
            u64::from_str_radix(count, 16).unwrap(),
            u64::from_str_radix(count2, 16).unwrap(),
        );
        assert!(count2 > count, "{first} then {second}");
        let mut digits = [0u8; 16];
        hex(0x0123_4567_89ab_cdef, &mut digits);
        assert_eq!(&digits, b"0123456789abcdef");
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
