//! `App::layer` (inside the pipeline) and `App::outer_layer` (outside it), over real HTTP:
//! what each sees, the order they run in, and errors in the envelope.

use std::sync::{Arc, Mutex};

use endpoint_runtime::axum::extract::Request;
use endpoint_runtime::axum::http::{HeaderValue, StatusCode};
use endpoint_runtime::axum::middleware::{self, Next};
use endpoint_runtime::axum::response::{IntoResponse, Response};
use endpoint_runtime::{Accountability, App, StaticToken};
use serde_json::{Value, json};

use crate::support::{client, start_app, test_config};

const TOKEN: &str = "layers-token-0123456789";

fn app() -> App {
    let mut config = test_config();
    config.static_tokens = vec![
        serde_json::from_value::<StaticToken>(json!({ "token": TOKEN, "user": "ann" })).unwrap(),
    ];
    App::new().config(config)
}

/// Adds `x-<name>: <the caller's user, or "none">` to the response and records `name`; the
/// caller is extracted as a handler extracts it.
fn tagging(
    name: &'static str,
    seen: Arc<Mutex<Vec<&'static str>>>,
) -> impl Fn(Accountability, Request, Next) -> std::pin::Pin<Box<dyn Future<Output = Response> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    move |who: Accountability, request: Request, next: Next| {
        let seen = Arc::clone(&seen);
        Box::pin(async move {
            seen.lock().unwrap().push(name);
            let user = who.user.unwrap_or_else(|| "none".into());
            let mut response = next.run(request).await;
            response.headers_mut().insert(
                format!("x-{name}")
                    .parse::<endpoint_runtime::axum::http::HeaderName>()
                    .unwrap(),
                HeaderValue::from_str(&user).unwrap(),
            );
            response
        })
    }
}

#[tokio::test]
async fn inner_layers_see_the_caller_and_outer_layers_do_not() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = start_app(
        app()
            .layer(middleware::from_fn(tagging("first", Arc::clone(&seen))))
            .layer(middleware::from_fn(tagging("second", Arc::clone(&seen))))
            .outer_layer(middleware::from_fn(tagging("outer", Arc::clone(&seen)))),
    )
    .await;
    let response = client()
        .get(server.url("/auth/whoami"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(header("x-first").as_deref(), Some("ann"));
    assert_eq!(header("x-second").as_deref(), Some("ann"));
    // Outside the pipeline: before the authenticators ran.
    assert_eq!(header("x-outer").as_deref(), Some("none"));
    assert!(header("x-request-id").is_some());
    // Outermost first; the inner layer added last runs first, as `Router::layer` orders.
    assert_eq!(*seen.lock().unwrap(), ["outer", "second", "first"]);

    // The runtime's own routes and the fallbacks: outer layers only.
    seen.lock().unwrap().clear();
    for path in ["/livez", "/no-such-route"] {
        let response = client().get(server.url(path)).send().await.unwrap();
        assert!(response.headers().contains_key("x-outer"), "{path}");
        assert!(!response.headers().contains_key("x-first"), "{path}");
    }
    assert_eq!(*seen.lock().unwrap(), ["outer", "outer"]);
}

async fn refuse(request: Request, next: Next) -> Response {
    if request.headers().contains_key("x-refuse") {
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "7")]).into_response();
    }
    next.run(request).await
}

#[tokio::test]
async fn an_error_status_from_an_inner_layer_is_in_the_envelope() {
    let server = start_app(app().layer(middleware::from_fn(refuse))).await;
    let response = client()
        .get(server.url("/auth/whoami"))
        .header("x-refuse", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "status": "fail", "data": {
            "code": "TOO_MANY_REQUESTS", "message": "too many requests"
        } })
    );
    // A layer that lets the request through changes nothing.
    let response = client()
        .get(server.url("/auth/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
