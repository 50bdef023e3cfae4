//! `#[middleware(id = ...)]`: group-scoped middleware, in order, after the access check, with
//! the caller's accountability, over real HTTP.

use std::sync::atomic::{AtomicUsize, Ordering};

use endpoint_runtime::axum::extract::Request;
use endpoint_runtime::axum::http::HeaderValue;
use endpoint_runtime::axum::middleware::Next;
use endpoint_runtime::axum::response::Response;
use endpoint_runtime::middleware;
use endpoint_runtime::prelude::*;
use endpoint_runtime::{App, StaticToken};
use serde_json::json;

use crate::support::{client, start_app, test_config};

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Appends `name` to the request's `x-trail` header.
fn trail(request: &mut Request, name: &str) {
    let trail = match request.headers().get("x-trail") {
        Some(value) => format!("{},{name}", value.to_str().unwrap_or_default()),
        None => name.to_string(),
    };
    request
        .headers_mut()
        .insert("x-trail", HeaderValue::from_str(&trail).unwrap());
}

/// Declared first, ordered second.
#[middleware(id = "mw", order = 2)]
async fn second(mut request: Request, next: Next) -> Response {
    trail(&mut request, "second");
    next.run(request).await
}

#[middleware(id = "mw", order = 1)]
async fn first(who: Accountability, mut request: Request, next: Next) -> Response {
    RUNS.fetch_add(1, Ordering::SeqCst);
    trail(&mut request, "first");
    let mut response = next.run(request).await;
    let user = who.user.unwrap_or_else(|| "anonymous".into());
    response
        .headers_mut()
        .insert("x-served-for", HeaderValue::from_str(&user).unwrap());
    response
}

/// Of another group: never runs for `mw`.
#[middleware(id = "mw-other")]
async fn other(mut request: Request, next: Next) -> Response {
    trail(&mut request, "other");
    next.run(request).await
}

#[endpoint(id = "mw", route = "/trail")]
async fn show_trail(headers: HeaderMap) -> String {
    headers
        .get("x-trail")
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

#[endpoint(id = "mw", route = "/private", access = authenticated)]
async fn private_trail(headers: HeaderMap) -> String {
    show_trail(headers).await
}

const TOKEN: &str = "middleware-token-0123456789";

fn app() -> App {
    let mut config = test_config();
    config.static_tokens = vec![
        serde_json::from_value::<StaticToken>(json!({ "token": TOKEN, "user": "ann" })).unwrap(),
    ];
    App::new().config(config)
}

#[tokio::test]
async fn group_middleware_runs_in_order_after_the_access_check() {
    let server = start_app(app()).await;
    let response = client().get(server.url("/mw/trail")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-served-for"], "anonymous");
    assert_eq!(response.text().await.unwrap(), "first,second");

    let response = client()
        .get(server.url("/mw/private"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-served-for"], "ann");
    assert_eq!(response.text().await.unwrap(), "first,second");

    // Refused by the access check: the middleware never runs.
    let before = RUNS.load(Ordering::SeqCst);
    let response = client()
        .get(server.url("/mw/private"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(!response.headers().contains_key("x-served-for"));
    assert_eq!(RUNS.load(Ordering::SeqCst), before);

    // Another group's endpoints are not touched.
    let response = client()
        .get(server.url("/greet/intro"))
        .send()
        .await
        .unwrap();
    assert!(!response.headers().contains_key("x-served-for"));

    let table = server_table().await;
    let line = table.lines().find(|l| l.contains("/mw/trail")).unwrap();
    assert!(line.contains("middleware first, second"), "{line}");
}

async fn server_table() -> String {
    app().bind().await.unwrap().route_table()
}
