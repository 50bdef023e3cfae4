//! Cross-origin requests from browsers (CORS): the policy of
//! [`CorsConfig`](crate::CorsConfig) (`ENDPOINT_CORS_*`) as tower-http's `CorsLayer`
//! (feature `cors`), the outermost layer, so a preflight is answered before authentication.

use axum::http::HeaderName;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::{CorsConfig, CorsOrigins};

/// The tower-http layer of `config`.
pub(crate) fn layer(config: &CorsConfig) -> CorsLayer {
    let origin = match &config.origins {
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(list) => AllowOrigin::list(list.iter().cloned()),
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods(config.methods.clone())
        .allow_headers(config.headers.clone())
        .allow_credentials(config.credentials)
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("api-version"),
            HeaderName::from_static("deprecation"),
            HeaderName::from_static("sunset"),
        ])
        .max_age(config.max_age)
}
