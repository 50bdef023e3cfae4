//! Response compression and request decompression with tower-http (feature `compression`),
//! as [`CompressionConfig`](crate::CompressionConfig) describes them.

use crate::config::CompressionConfig;

/// `router` reading request bodies sent compressed; an encoding it cannot read is the
/// envelope's 415.
#[cfg(feature = "compression")]
pub(crate) fn decompress(router: axum::Router) -> axum::Router {
    use tower_http::decompression::RequestDecompressionLayer;
    router.layer(
        tower::ServiceBuilder::new()
            .map_response(in_envelope)
            .layer(RequestDecompressionLayer::new()),
    )
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
