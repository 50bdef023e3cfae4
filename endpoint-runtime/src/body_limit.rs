//! The request body limit (`ENDPOINT_BODY_LIMIT`) as the pipeline enforces it, whatever reads
//! the body.
//!
//! axum's `DefaultBodyLimit` only tells axum's own extractors (`Bytes`, `String`, `Form`…) how
//! much to buffer, and what an over-long body becomes is up to whoever maps their rejection: an
//! application's `FromRequest` type that answers every rejection with 400, or a handler that
//! reads the raw `Body` with `to_bytes(body, usize::MAX)`, gets no 413 at all. So the pipeline
//! enforces the limit itself, around the handler:
//!
//! - A body that *declares* more than the limit (its `Content-Length`, which hyper parsed into
//!   the body's size hint) is answered 413 before the handler runs and before any of it is
//!   read. hyper sends `100 Continue` only when a body is first polled, so a client that sent
//!   `Expect: 100-continue` gets the 413 instead and never uploads the body (RFC 9110 §10.1.1).
//!   On HTTP/1 the answer carries `Connection: close`: the body has not been read, so the
//!   connection cannot carry another request (hyper would close it anyway).
//! - A body of unknown length (HTTP/1 `chunked`, HTTP/2 without `content-length`) is wrapped in
//!   [`http_body_util::Limited`], so every reader gets axum's `LengthLimitError` (a 413 for
//!   axum's extractors) after the limit, and the pipeline notes that the limit tripped. Once it
//!   has, the handler's answer, whatever it is (a 400 of its own, a 500, even a 200), is
//!   replaced by the 413: the request was over the limit, and the client is told so.
//!
//! A body whose declared length is within the limit is left as it is: hyper already refuses to
//! read past a `Content-Length`.
//!
//! The check comes after the authenticator chain and the access check (a 401, 403 or 405 is
//! answered first, also without reading the body) and applies to endpoints only: the 404 and
//! 405 fallbacks and the runtime's own pages never read a body.

use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::http::{StatusCode, Version};
use axum::response::{IntoResponse, Response};
use http_body_util::{LengthLimitError, Limited};
use hyper::body::{Frame, SizeHint};

use crate::EndpointError;

/// What [`guard`] decided for one request.
pub(crate) enum Guard {
    /// The body declares more than the limit: answer this 413 without reading it.
    Refuse(Response),
    /// The body's length is unknown: it now stops at the limit, and this tells whether it did.
    Watch(Tripwire),
    /// The body is empty or declares no more than the limit: nothing to do.
    Fits,
}

/// Whether a watched body went over the limit.
pub(crate) struct Tripwire {
    tripped: Arc<AtomicBool>,
    limit: usize,
    version: Version,
}

impl Tripwire {
    /// The 413 that replaces the handler's answer (`replaced`'s status is logged), when the
    /// body went over the limit.
    pub(crate) fn refusal(&self, replaced: StatusCode) -> Option<Response> {
        if !self.tripped.load(Ordering::Relaxed) {
            return None;
        }
        tracing::debug!(
            limit = self.limit,
            replaced = replaced.as_u16(),
            "request body went over the limit: the answer is 413"
        );
        Some(too_large(self.limit, self.version))
    }
}

/// Checks `request`'s body against `limit` bytes before the handler runs: see the module docs.
pub(crate) fn guard(request: &mut Request, limit: usize) -> Guard {
    let body = request.body();
    if body.is_end_stream() {
        return Guard::Fits;
    }
    let hint = body.size_hint();
    let limit_bytes = u64::try_from(limit).unwrap_or(u64::MAX);
    if hint.lower() > limit_bytes {
        tracing::debug!(
            declared = hint.lower(),
            limit,
            "request body declares more than the limit"
        );
        return Guard::Refuse(too_large(limit, request.version()));
    }
    if hint.upper().is_some_and(|upper| upper <= limit_bytes) {
        return Guard::Fits;
    }
    let tripped = Arc::new(AtomicBool::new(false));
    let body = std::mem::take(request.body_mut());
    *request.body_mut() = Body::new(Watched {
        inner: Limited::new(body, limit),
        tripped: Arc::clone(&tripped),
    });
    Guard::Watch(Tripwire {
        tripped,
        limit,
        version: request.version(),
    })
}

/// Whether reading a body failed because it went over its limit (axum's and
/// [`Limited`]'s `LengthLimitError`, anywhere in the source chain), rather than because the
/// client went away or sent a broken body.
pub(crate) fn is_over_limit(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    // Bounded: a cycle in a hand-written `source` cannot loop forever.
    for _ in 0..16 {
        let Some(error) = next else {
            return false;
        };
        if error.is::<LengthLimitError>() {
            return true;
        }
        next = error.source();
    }
    false
}

/// 413 `PAYLOAD_TOO_LARGE` for a body over `limit` bytes, with `Connection: close` on HTTP/1.
pub(crate) fn too_large(limit: usize, version: Version) -> Response {
    let mut response = EndpointError::payload_too_large(format!(
        "the request body is larger than the limit of {limit} bytes (ENDPOINT_BODY_LIMIT)"
    ))
    .with_details(serde_json::json!({ "limit": limit }))
    .into_response();
    // `Connection` is an HTTP/1 header; HTTP/2 forbids it (RFC 9113 §8.2.2).
    if version <= Version::HTTP_11 {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A body that stops at the limit (through [`Limited`], so readers see its `LengthLimitError`)
/// and records that it did.
struct Watched {
    inner: Limited<Body>,
    tripped: Arc<AtomicBool>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = Box<dyn StdError + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(error))) = &polled
            && error.is::<LengthLimitError>()
        {
            self.tripped.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::FromRequest;
    use futures_util::stream;

    /// A request whose body comes in `chunks` of `size` bytes, with no declared length.
    fn streamed(chunks: usize, size: usize) -> Request {
        let frames =
            (0..chunks).map(move |_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; size])));
        Request::new(Body::from_stream(stream::iter(frames)))
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_unread() {
        let mut request = Request::new(Body::from(vec![0u8; 11]));
        let Guard::Refuse(response) = guard(&mut request, 10) else {
            panic!("not refused")
        };
        assert_eq!(response.status().as_u16(), 413);
        assert_eq!(response.headers()["connection"], "close");
        let mut request = Request::new(Body::from(vec![0u8; 10]));
        assert!(matches!(guard(&mut request, 10), Guard::Fits));
        let mut request = Request::new(Body::empty());
        assert!(matches!(guard(&mut request, 0), Guard::Fits));
    }

    #[tokio::test]
    async fn a_streamed_body_trips_at_the_limit_and_axum_sees_413() {
        let mut request = streamed(4, 8);
        let Guard::Watch(tripwire) = guard(&mut request, 31) else {
            panic!("not watched")
        };
        assert!(tripwire.refusal(StatusCode::OK).is_none());
        // axum's `Bytes` finds the `LengthLimitError` in the error's sources: its own 413.
        let rejection = Bytes::from_request(request, &()).await.unwrap_err();
        assert_eq!(rejection.status().as_u16(), 413);
        assert_eq!(
            tripwire
                .refusal(StatusCode::OK)
                .map(|r| r.status().as_u16()),
            Some(413)
        );

        let mut request = streamed(4, 8);
        let Guard::Watch(tripwire) = guard(&mut request, 32) else {
            panic!("not watched")
        };
        let body = axum::body::to_bytes(request.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(body.len(), 32);
        assert!(
            tripwire.refusal(StatusCode::OK).is_none(),
            "exactly the limit is allowed"
        );
    }
}
