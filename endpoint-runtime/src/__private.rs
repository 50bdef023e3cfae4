//! What generated code names. Not public API: it changes in any release.

use std::future::Future;
use std::sync::Arc;

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
pub use crate::registry::{Access, Endpoint, EndpointSpec, Method, Methods, Param};
// For `#[hook]`, `migrations!` and `#[main]`: every macro names the runtime only here.
pub use crate::context::Context;
pub use crate::database::Migrations;
pub use crate::events::{Event, Hook, HookFuture, HookOutput, HookSpec};

/// What a generated handler returns.
pub type HandlerFuture = std::pin::Pin<Box<dyn Future<Output = Response> + Send + 'static>>;

/// A generated handler: the whole request in, the response out.
pub type Handler = fn(Request) -> HandlerFuture;

/// The `MethodRouter` of one endpoint: its methods, or a fallback for `method = all`. With
/// `runtime`, the handler runs inside the runtime's pipeline (request id, accountability,
/// access check, timeout, panic capture, envelope); without it, only the access check runs, in
/// front of the generated handler (before any extractor runs), and every caller is anonymous.
/// Not generic, so axum's routing types are compiled once for every endpoint.
pub(crate) fn method_router(
    endpoint: &'static Endpoint,
    handler: Handler,
    runtime: Option<Arc<crate::pipeline::Runtime>>,
) -> MethodRouter {
    match runtime {
        Some(runtime) => route(
            endpoint,
            runtime.config.body_limit,
            crate::pipeline::EndpointService::new(runtime, endpoint, handler),
        ),
        // Without the runtime, the default of `ENDPOINT_BODY_LIMIT`.
        None => route(
            endpoint,
            crate::config::DEFAULT_BODY_LIMIT,
            axum::handler::Handler::with_state(
                move |request: Request| {
                    let refused = unsupported_method(endpoint, &request).or_else(|| {
                        crate::access::authorize(endpoint, request.extensions())
                            .err()
                            .map(IntoResponse::into_response)
                    });
                    match refused {
                        Some(response) => Box::pin(std::future::ready(response)),
                        None => handler(request),
                    }
                },
                (),
            ),
        ),
    }
}

/// The 405 for an extension method (`QUERY`, `PROPFIND`…) on a `method = all` endpoint: `all`
/// answers the standard methods only, the ones OpenAPI 3.1 can document.
pub(crate) fn unsupported_method(endpoint: &Endpoint, request: &Request) -> Option<Response> {
    if !matches!(endpoint.methods(), Methods::All) || is_standard(request.method()) {
        return None;
    }
    let response =
        crate::EndpointError::method_not_allowed(request.method().as_str(), request.uri().path())
            .with_header(
                axum::http::header::ALLOW,
                axum::http::HeaderValue::from_static(
                    "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS,TRACE",
                ),
            )
            .into_response();
    Some(response)
}

/// `service` as the `MethodRouter` of `endpoint`'s methods, with the body limit on the
/// service itself (a layer on the router would wrap each route in a second boxed route).
fn route<S>(endpoint: &'static Endpoint, limit: usize, service: S) -> MethodRouter
where
    S: tower::Service<Request, Error = std::convert::Infallible> + Clone + Send + Sync + 'static,
    S::Response: IntoResponse + 'static,
    S::Future: Send + 'static,
{
    let service = tower::Layer::layer(&axum::extract::DefaultBodyLimit::max(limit), service);
    match endpoint.methods() {
        Methods::All => axum::routing::any_service(service),
        Methods::List(list) => {
            let filter = list
                .iter()
                .map(|m| m.filter())
                .reduce(axum::routing::MethodFilter::or)
                .unwrap_or(axum::routing::MethodFilter::GET);
            axum::routing::on_service(filter, service)
        }
    }
}

fn is_standard(method: &axum::http::Method) -> bool {
    use axum::http::Method as M;
    [
        M::GET,
        M::HEAD,
        M::POST,
        M::PUT,
        M::PATCH,
        M::DELETE,
        M::OPTIONS,
        M::TRACE,
    ]
    .contains(method)
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
