//! The framework's per-request cost without the network: the same requests sent in-process
//! (`tower::ServiceExt::oneshot`) through the framework's router with its middleware, and
//! through a plain axum router, on one thread. Prints nanoseconds per request; with
//! `valgrind --tool=callgrind` it gives repeatable instruction counts.
//!
//! `cargo run --release -p endpoint-bench --bin bench-inprocess [-- REQUESTS]`
//! (`BENCH_SIDE=framework|axum` measures one side; `BENCH_ONLY=/greet` measures only the routes starting with `/greet`; `BENCH_LOG=1` installs the default `info` text subscriber, writing to a sink)

use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt as _;

#[path = "framework.rs"]
#[allow(dead_code)]
mod framework;

fn requests(path: &str, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(Body::empty()).expect("request")
}

async fn measure(
    label: &str,
    router: &axum::Router,
    path: &str,
    token: Option<&str>,
    count: u32,
) -> f64 {
    for _ in 0..1000 {
        let response = router
            .clone()
            .oneshot(requests(path, token))
            .await
            .expect("infallible");
        assert!(
            response.status().is_success(),
            "{label} {path}: {}",
            response.status()
        );
    }
    let started = Instant::now();
    for _ in 0..count {
        let response = router
            .clone()
            .oneshot(requests(path, token))
            .await
            .expect("infallible");
        let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
    }
    started.elapsed().as_nanos() as f64 / f64::from(count)
}

fn main() {
    // The framework's routes include a confined endpoint, whose workers are this binary.
    endpoint_runtime::confined::enter_worker_if_requested();
    let count: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    // `BENCH_LOG=1`: the framework's default subscriber (text, `info`), writing to a sink, to
    // measure what the per-request span costs.
    let logging = std::env::var_os("BENCH_LOG").is_some();
    if logging {
        use tracing_subscriber::prelude::*;
        let targets: tracing_subscriber::filter::Targets = "info".parse().expect("filter");
        // As `endpoint_runtime::run` installs it: `Targets` as the global filter.
        tracing_subscriber::registry()
            .with(targets)
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(endpoint_runtime::logging::Fields)
                    .with_ansi(false)
                    .with_writer(std::io::sink),
            )
            .init();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let secret = "bench-secret-0123456789abcdef0123456789";
        let mut config = endpoint_runtime::Config::default();
        config.jwt = Some(endpoint_runtime::JwtConfig::hs256(secret));
        let token = endpoint_runtime::auth::mint_token(
            config.jwt.as_ref().expect("jwt"),
            "bench",
            None,
            false,
            std::time::Duration::from_secs(3600),
        )
        .expect("token");
        let framework = endpoint_runtime::App::new()
            .config(config)
            .into_router()
            .await
            .expect("router");
        let axum = axum::Router::new()
            .route(
                "/greet/intro",
                axum::routing::get(|| async { "Nice to meet you." }),
            )
            .route(
                "/secure/intro",
                axum::routing::get(|| async { "Nice to meet you." }),
            )
            .route(
                "/users/{id}",
                axum::routing::get(
                    |axum::extract::Path(id): axum::extract::Path<u64>| async move {
                        axum::Json(
                            serde_json::json!({ "id": id, "name": "Ada Lovelace", "active": true }),
                        )
                    },
                ),
            )
            // As `axum::serve` does: handlers become routes once, not per request.
            .with_state(());
        println!(
            "{:<28} {:>14} {:>14} {:>8}",
            "route", "framework ns", "axum ns", "ratio"
        );
        for (path, secure) in [
            ("/greet/intro", false),
            ("/users/42", false),
            ("/secure/intro", true),
        ] {
            // `BENCH_ONLY=/users`: only the routes starting with this (for callgrind runs).
            if let Ok(only) = std::env::var("BENCH_ONLY")
                && !path.starts_with(&only)
            {
                continue;
            }
            // `BENCH_SIDE=framework` or `axum`: measure one side only (for callgrind runs).
            let side = std::env::var("BENCH_SIDE").unwrap_or_default();
            let fw = if side == "axum" {
                f64::NAN
            } else {
                measure(
                    "framework",
                    &framework,
                    path,
                    secure.then_some(token.as_str()),
                    count,
                )
                .await
            };
            let ax = if side == "framework" {
                f64::NAN
            } else {
                measure("axum", &axum, path, None, count).await
            };
            println!("{path:<28} {fw:>14.0} {ax:>14.0} {:>8.2}", fw / ax);
        }
        let logging = if logging {
            "logging on (text, info, to a sink)"
        } else {
            "logging off (no subscriber)"
        };
        println!("\n{count} in-process requests each, one thread; {logging}");
    });
}
