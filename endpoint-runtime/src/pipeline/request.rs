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
    /// The id of a request: its well-formed `x-request-id` header, else a new UUID v4.
    pub(crate) fn request_id(headers: &axum::http::HeaderMap) -> RequestId {
        RequestId(match headers.get(&REQUEST_ID_NAME) {
            Some(value) if valid_request_id(value).is_some() => value.clone(),
            _ => {
                let mut buffer = [0u8; uuid::fmt::Hyphenated::LENGTH];
                let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
                HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
            }
        })
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
