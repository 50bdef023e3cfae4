//! What generated code names. Not public API: it changes in any release.

use std::future::Future;

pub use axum::extract::{FromRequest, FromRequestParts, Request};
pub use axum::http::request::Parts;
pub use axum::response::{IntoResponse, Response};
pub use axum::routing::MethodRouter;
pub use inventory;

pub use crate::confined;
pub use crate::extract::RawParams;
pub use crate::prerender;

/// What `__endpoint_doc` functions name.
pub mod doc {
    pub use crate::openapi::{OperationDoc, Probe, traits};
}
pub use crate::registry::{Endpoint, EndpointSpec, Param};

use crate::registry::Methods;

/// What a generated handler returns.
pub type HandlerFuture = std::pin::Pin<Box<dyn Future<Output = Response> + Send + 'static>>;

/// A generated handler: the whole request in, the response out.
pub type Handler = fn(Request) -> HandlerFuture;

/// The `MethodRouter` of one endpoint: its methods, or a fallback for `method = all`, with
/// the access check in front of the generated handler (before any extractor runs). Not
/// generic, so axum's routing types are compiled once for every endpoint.
pub(crate) fn method_router(endpoint: &'static Endpoint, handler: Handler) -> MethodRouter {
    let handler = move |request: Request| {
        async move {
            // One span per request (the pipeline's); the endpoint is recorded on it.
            tracing::Span::current().record("endpoint", endpoint.id());
            if let Err(denied) = crate::access::authorize(endpoint, request.extensions()) {
                return denied.into_response();
            }
            handler(request).await
        }
    };
    match endpoint.methods() {
        // `all` answers the standard methods; an extension method (`QUERY`, `PROPFIND`…) cannot
        // be documented in OpenAPI 3.1 and is answered 405.
        Methods::All => axum::routing::any(move |request: Request| async move {
            use axum::http::Method as M;
            let standard = [
                M::GET,
                M::HEAD,
                M::POST,
                M::PUT,
                M::PATCH,
                M::DELETE,
                M::OPTIONS,
                M::TRACE,
            ];
            if !standard.contains(request.method()) {
                let path = request.uri().path().to_string();
                return crate::EndpointError::method_not_allowed(request.method().as_str(), &path)
                    .with_header(
                        axum::http::header::ALLOW,
                        axum::http::HeaderValue::from_static(
                            "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS,TRACE",
                        ),
                    )
                    .into_response();
            }
            handler(request).await
        }),
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

/// Answers an extractor's rejection in the runtime's envelope. The runtime's own extractors
/// already reject with an [`EndpointError`](crate::EndpointError); an axum extractor
/// (`Bytes`, `String`, `Form`, `axum::Json`…) rejects with plain text, which is wrapped here:
/// its status is kept and its text becomes the message (of a 4xx; a 5xx text is logged).
pub async fn reject(response: Response) -> Response {
    let status = response.status();
    if response
        .extensions()
        .get::<std::sync::Arc<crate::error::ErrorInfo>>()
        .is_some()
        || !(status.is_client_error() || status.is_server_error())
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let error = if status.is_server_error() {
        crate::EndpointError::internal(format_args!("extractor rejected the request: {text}"))
    } else {
        let code = crate::error::client_error_code(status);
        crate::EndpointError::new(
            status,
            code,
            if text.is_empty() {
                "invalid request".to_string()
            } else {
                text
            },
        )
    };
    let mut enveloped = error.into_response();
    for (name, value) in parts.headers.iter() {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            enveloped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    enveloped
}

/// Turns a handler's return value into a response; spanned at the written return type so a
/// type that is not a response is reported there.
pub fn respond<T: IntoResponse>(value: T) -> Response {
    value.into_response()
}

/// Runs `future` to completion on a new multi-threaded Tokio runtime (`#[main]`).
pub fn block_on<F: Future>(future: F) -> F::Output {
    // A confined worker is this binary started again: it never reaches the runtime.
    crate::confined::enter_worker_if_requested();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("failed to start the Tokio runtime")
        .block_on(future)
}
