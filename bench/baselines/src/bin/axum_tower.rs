//! The benchmark routes on axum with tower-http doing the runtime's defaults by hand, as a
//! careful axum user would: a UUID request id set and propagated (`SetRequestId`,
//! `PropagateRequestId`), a `request` span carrying it on every log line (`TraceLayer`, with
//! `tracing_subscriber`'s `fmt` at `info` on standard error), panics caught as 500
//! (`CatchPanic`), a 30 s request timeout answered 408 (`Timeout`), and a 1 MiB body limit
//! (`DefaultBodyLimit`, as axum's `Json` reads it).

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path};
use axum::http::{HeaderName, Request, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::ServiceBuilderExt as _;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::MakeRequestUuid;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use endpoint_bench_baselines::{Echo, GREETING, User, port};

async fn intro() -> &'static str {
    GREETING
}

async fn user(Path(id): Path<u64>) -> Json<User> {
    Json(User::new(id))
}

async fn echo(Json(body): Json<Echo>) -> Json<Echo> {
    Json(body)
}

async fn echo_value(Json(body): Json<serde_json::Value>) -> Json<serde_json::Value> {
    Json(body)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .init();
    let x_request_id = HeaderName::from_static("x-request-id");
    let layers = tower::ServiceBuilder::new()
        .set_request_id(x_request_id.clone(), MakeRequestUuid)
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!(
                    "request",
                    request_id = id,
                    method = %request.method(),
                    path = request.uri().path(),
                )
            }),
        )
        .propagate_request_id(x_request_id)
        .layer(CatchPanicLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ));
    let app = Router::new()
        .route("/greet/intro", get(intro))
        .route("/secure/intro", get(intro))
        .route("/users/{id}", get(user))
        .route("/echo", post(echo))
        .route("/echo-value", post(echo_value))
        .layer(DefaultBodyLimit::max(1 << 20))
        .layer(layers);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port(3216)))
        .await
        .expect("bind");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("addr")
    );
    axum::serve(listener, app).await.expect("serve");
}
