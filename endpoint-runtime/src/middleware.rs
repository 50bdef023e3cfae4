//! Tower layers an application adds around its endpoints without giving up
//! [`App::run`](crate::App::run): [`App::layer`](crate::App::layer) inside the request pipeline,
//! [`App::outer_layer`](crate::App::outer_layer) outside it.
//!
//! The order in which they run on a request, outermost first:
//!
//! 1. outer layers ([`App::outer_layer`](crate::App::outer_layer)), the one added last first:
//!    before the request id, the authenticators and the access check, so they see no
//!    accountability, and what they answer themselves is sent as they wrote it;
//! 2. the pipeline: request id and `request` span, authenticators, the endpoint's access check
//!    and body limit, the request timeout and panic capture;
//! 3. inner layers ([`App::layer`](crate::App::layer)), the one added last first: they see the
//!    caller (extract [`Accountability`](crate::Accountability) as a handler does), run under
//!    the request timeout, and an error status they answer with an empty body (a 401 from an
//!    auth layer, a 429 from a rate limiter) is rendered in the error envelope, their headers
//!    kept;
//! 4. the handler, its extractors first.
//!
//! Each call wraps what is there, as axum's `Router::layer` does. Inner layers wrap endpoints,
//! not the runtime's own routes (`/livez`, `/readyz`, the OpenAPI document, the 404 and 405
//! answers); outer layers wrap every route and the fallbacks.
//!
//! Inside the inner layers, closest to the handler, run the
//! [`#[middleware]`](macro@crate::middleware) functions of the endpoint's group (and those
//! without an `id`, of every group): lower `order` first, then by `file:line`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceExt as _};

use crate::error::{EndpointError, ErrorInfo};
use crate::registry::HandlerFuture;

/// What `#[middleware]` registers. Not public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct MiddlewareSpec {
    pub id: Option<&'static str>,
    pub order: i32,
    pub handler: &'static str,
    pub module_path: &'static str,
    pub file: &'static str,
    pub line: u32,
    pub run: fn(Request, axum::middleware::Next) -> HandlerFuture,
}

/// One `#[middleware]` function, as registered.
#[derive(Debug)]
pub struct Middleware {
    spec: MiddlewareSpec,
}

impl Middleware {
    #[doc(hidden)]
    pub const fn __new(spec: MiddlewareSpec) -> Self {
        Middleware { spec }
    }

    /// The group it runs for (`Some("")` for the root group), `None` for every group.
    pub fn id(&self) -> Option<&'static str> {
        self.spec.id
    }

    /// Its `order`: lower runs first (outermost); default 0.
    pub fn order(&self) -> i32 {
        self.spec.order
    }

    /// The function's name.
    pub fn handler(&self) -> &'static str {
        self.spec.handler
    }

    /// `file:line` of the function.
    pub fn location(&self) -> String {
        format!("{}:{}", self.spec.file, self.spec.line)
    }
}

inventory::collect!(Middleware);

/// The `#[middleware]` functions that run for `endpoint`, outermost first: lower `order`, then
/// `file:line`.
pub fn for_endpoint(endpoint: &crate::Endpoint) -> Vec<&'static Middleware> {
    let mut all: Vec<&'static Middleware> = inventory::iter::<Middleware>
        .into_iter()
        .filter(|m| m.spec.id.is_none_or(|id| id == endpoint.id()))
        .collect();
    all.sort_by_key(|m| (m.spec.order, m.spec.file, m.spec.line));
    all
}

/// An endpoint's handler as a service: what the layers given to [`App::layer`](crate::App::layer) wrap.
pub type HandlerService = BoxCloneSyncService<Request, Response, Infallible>;

type Inner = Arc<dyn Fn(HandlerService) -> HandlerService + Send + Sync>;
type Outer = Arc<dyn Fn(Router) -> Router + Send + Sync>;

/// The layers an application added, in the order it added them.
#[derive(Clone, Default)]
pub(crate) struct Layers {
    inner: Vec<Inner>,
    outer: Vec<Outer>,
}

impl std::fmt::Debug for Layers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layers")
            .field("inner", &self.inner.len())
            .field("outer", &self.outer.len())
            .finish()
    }
}

impl Layers {
    /// Adds `layer` inside the pipeline.
    pub(crate) fn push_inner<L>(&mut self, layer: L)
    where
        L: Layer<HandlerService> + Clone + Send + Sync + 'static,
        L::Service: Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        self.inner.push(Arc::new(move |service| {
            BoxCloneSyncService::new(
                layer
                    .layer(service)
                    .map_response(IntoResponse::into_response)
                    .map_err(Into::into),
            )
        }));
    }

    /// Adds `layer` outside the pipeline.
    pub(crate) fn push_outer<L>(&mut self, layer: L)
    where
        L: Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        self.outer
            .push(Arc::new(move |router: Router| router.layer(layer.clone())));
    }

    /// `endpoint`'s handler wrapped in its `#[middleware]` functions, then in the inner
    /// layers; `None` when there are none (the handler is called directly, at no cost).
    pub(crate) fn wrap<H>(
        &self,
        endpoint: &crate::Endpoint,
        handler: H,
    ) -> Option<impl Fn(Request) -> HandlerFuture + Clone + Send + Sync + 'static>
    where
        H: Fn(Request) -> HandlerFuture + Clone + Send + Sync + 'static,
    {
        let functions = for_endpoint(endpoint);
        if self.inner.is_empty() && functions.is_empty() {
            return None;
        }
        let mut service: HandlerService =
            BoxCloneSyncService::new(tower::service_fn(move |request: Request| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler(request).await) }
            }));
        // The last in order wraps the handler first, so that the first in order runs first.
        for function in functions.iter().rev() {
            let run = function.spec.run;
            service = BoxCloneSyncService::new(
                axum::middleware::from_fn(move |request: Request, next: axum::middleware::Next| {
                    run(request, next)
                })
                .layer(service),
            );
        }
        for layer in &self.inner {
            service = layer(service);
        }
        Some(move |request: Request| -> HandlerFuture {
            let service = service.clone();
            Box::pin(async move {
                let response = match service.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                in_envelope(response)
            })
        })
    }

    /// `router` wrapped in the outer layers.
    pub(crate) fn wrap_router(&self, router: Router) -> Router {
        self.outer
            .iter()
            .fold(router, |router, layer| layer(router))
    }
}

/// An error status a layer answered with an empty body, as the envelope's error for that
/// status (`429` → `TOO_MANY_REQUESTS`), the layer's headers kept.
pub(crate) fn in_envelope(response: Response) -> Response {
    use axum::body::HttpBody as _;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<Arc<ErrorInfo>>().is_some()
        || response.body().size_hint().exact() != Some(0)
    {
        return response;
    }
    let reason = status.canonical_reason().unwrap_or("Error");
    let code: String = reason
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
        "a layer answered 500".to_string()
    } else {
        reason.to_lowercase()
    };
    let (parts, _) = response.into_parts();
    let mut rendered = EndpointError::new(status, code, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rendered.headers_mut().append(name, value.clone());
        }
    }
    rendered
}
