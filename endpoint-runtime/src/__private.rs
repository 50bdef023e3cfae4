//! What generated code names. Not public API: it changes in any release.

use std::future::Future;

pub use axum::extract::{FromRequest, FromRequestParts, Request};
pub use axum::http::request::Parts;
pub use axum::response::{IntoResponse, Response};
pub use axum::routing::MethodRouter;
pub use inventory;

pub use crate::extract::RawParams;
pub use crate::registry::{Endpoint, EndpointSpec, Param};

use crate::registry::Methods;

/// The `MethodRouter` of one endpoint: its methods, or a fallback for `method = all`, with
/// the access check in front of the generated handler (before any extractor runs).
pub fn method_router<F, Fut>(endpoint: &'static Endpoint, handler: F) -> MethodRouter
where
    F: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let handler = move |request: Request| {
        let handler = handler.clone();
        let span =
            tracing::info_span!("endpoint", id = endpoint.id(), handler = endpoint.handler());
        tracing::Instrument::instrument(
            async move {
                if let Err(denied) = crate::access::authorize(endpoint, request.extensions()) {
                    return denied.into_response();
                }
                handler(request).await
            },
            span,
        )
    };
    match endpoint.methods() {
        Methods::All => axum::routing::any(handler),
        Methods::List(list) => {
            let filter = list
                .iter()
                .map(|m| m.filter())
                .reduce(axum::routing::MethodFilter::or)
                .unwrap_or(axum::routing::MethodFilter::GET);
            axum::routing::on(filter, handler)
        }
    }
}

/// Turns a handler's return value into a response; spanned at the written return type so a
/// type that is not a response is reported there.
pub fn respond<T: IntoResponse>(value: T) -> Response {
    value.into_response()
}

/// Runs `future` to completion on a new multi-threaded Tokio runtime (`#[main]`).
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("failed to start the Tokio runtime")
        .block_on(future)
}
