use endpoint_runtime::axum::extract::Request;
use endpoint_runtime::axum::http::HeaderMap;
use endpoint_runtime::axum::middleware::Next;
use endpoint_runtime::axum::response::{IntoResponse, Response};
use endpoint_runtime::middleware;
use endpoint_runtime::prelude::*;

#[middleware(id = "greet", order = -5)]
async fn with_extractors(who: Accountability, headers: HeaderMap, request: Request, next: Next) -> Response {
    let _ = (who, headers);
    next.run(request).await
}

#[middleware]
async fn everywhere(request: Request, next: Next) -> impl IntoResponse {
    next.run(request).await
}

fn main() {}
