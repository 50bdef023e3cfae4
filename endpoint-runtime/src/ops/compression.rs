//! Response compression and request decompression with tower-http (feature `compression`),
//! as [`CompressionConfig`](crate::CompressionConfig) describes them.

use crate::config::CompressionConfig;

/// `service` (one route's) reading request bodies sent compressed; an encoding it cannot read
/// is the envelope's 415.
///
/// A request without `Content-Encoding` (nearly all, and every `GET`) goes straight to
/// `service`: tower-http's `RequestDecompression` would wrap its body, and the response would
/// be boxed again, for nothing to decode (about 1,000 userland instructions of a
/// 24,800-instruction text request, callgrind, 2026-12-02). Put around each route's service
/// rather than on the router with `Router::layer`, which would wrap every route in a second
/// boxed route that axum clones and drops on each request (about 2,400 more, callgrind, text
/// route, 2026-12-02).
#[cfg(feature = "compression")]
pub(crate) fn decompress<S>(service: S) -> Decompress<S> {
    Decompress(service)
}

/// The service of [`decompress`]: `S` itself for a request without `Content-Encoding`, else
/// tower-http's decompression in front of it, its own refusals in the envelope.
#[cfg(feature = "compression")]
#[derive(Clone)]
pub(crate) struct Decompress<S>(S);

/// A response from behind tower-http's decompression.
#[cfg(feature = "compression")]
type Decoded =
    axum::http::Response<tower_http::body::UnsyncBoxBody<axum::body::Bytes, axum::BoxError>>;

/// A request body as tower-http's decompression hands it on.
#[cfg(feature = "compression")]
type Decoding = axum::http::Request<tower_http::decompression::DecompressionBody<axum::body::Body>>;

#[cfg(feature = "compression")]
impl<S> tower::Service<axum::extract::Request> for Decompress<S>
where
    S: tower::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = futures_util::future::Either<
        S::Future,
        futures_util::future::BoxFuture<'static, Result<Self::Response, Self::Error>>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: axum::extract::Request) -> Self::Future {
        use futures_util::FutureExt as _;
        if request
            .headers()
            .contains_key(axum::http::header::CONTENT_ENCODING)
        {
            let inner = tower::util::MapRequest::new(self.0.clone(), |request: Decoding| {
                request.map(axum::body::Body::new)
            });
            let decoding = tower::util::MapResponse::new(
                tower_http::decompression::RequestDecompression::new(inner),
                in_envelope as fn(Decoded) -> axum::response::Response,
            );
            futures_util::future::Either::Right(
                tower::ServiceExt::oneshot(decoding, request).boxed(),
            )
        } else {
            futures_util::future::Either::Left(self.0.call(request))
        }
    }
}

#[cfg(feature = "compression")]
fn in_envelope<B>(response: axum::http::Response<B>) -> axum::response::Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    crate::middleware::in_envelope(response.map(axum::body::Body::new))
}

/// `router` compressing responses when `config` enables it.
#[cfg(feature = "compression")]
pub(crate) fn compress(router: axum::Router, config: CompressionConfig) -> axum::Router {
    use tower_http::compression::CompressionLayer;
    use tower_http::compression::predicate::{NotForContentType, Predicate as _, SizeAbove};
    if !config.enabled {
        return router;
    }
    let predicate = SizeAbove::new(config.min_size)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE)
        .and(NotForContentType::const_new("application/zip"))
        .and(NotForContentType::const_new("application/gzip"))
        .and(NotForContentType::const_new("video/"))
        .and(NotForContentType::const_new("audio/"))
        .and(NotForContentType::const_new("font/woff2"));
    router.layer(CompressionLayer::new().compress_when(predicate))
}
