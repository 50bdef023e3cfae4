//! Traffic policy in the attribute (`timeout`, `body_limit`, `concurrency`, `rate_limit`,
//! `per`) and `ENDPOINT_RATE_LIMIT`, over real HTTP.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use endpoint_runtime::axum::body::Bytes;
use endpoint_runtime::prelude::*;
use endpoint_runtime::{App, Rate, RateKey, StaticToken};
use serde_json::json;

use crate::support::{client, start_app, test_config};

#[endpoint(id = "policy", route = "/limited", rate_limit = "3/minute")]
async fn limited() -> &'static str {
    "ok"
}

#[endpoint(id = "policy", route = "/per-ip", rate_limit = "2/minute", per = ip)]
async fn per_ip() -> &'static str {
    "ok"
}

#[endpoint(id = "policy", route = "/global", rate_limit = "1/hour", per = global)]
async fn global() -> &'static str {
    "ok"
}

#[endpoint(id = "policy", route = "/quick", timeout = "100ms")]
async fn quick() -> &'static str {
    // Longer than the endpoint's timeout, far shorter than the global one (30 s).
    tokio::time::sleep(Duration::from_secs(20)).await;
    "too late"
}

#[endpoint(id = "policy", route = "/small", method = post, body_limit = "16")]
async fn small(body: Bytes) -> String {
    format!("{} bytes", body.len())
}

static ENTERED: tokio::sync::Notify = tokio::sync::Notify::const_new();
static RELEASE: tokio::sync::Notify = tokio::sync::Notify::const_new();
static INSIDE: AtomicBool = AtomicBool::new(false);

#[endpoint(id = "policy", route = "/one-at-a-time", concurrency = 1)]
async fn one_at_a_time() -> &'static str {
    INSIDE.store(true, Ordering::SeqCst);
    ENTERED.notify_one();
    RELEASE.notified().await;
    "done"
}

fn app() -> App {
    let mut config = test_config();
    config.static_tokens = ["ann", "bob"]
        .iter()
        .map(|user| {
            serde_json::from_value::<StaticToken>(
                json!({ "token": format!("policy-token-{user}-0123456789"), "user": user }),
            )
            .unwrap()
        })
        .collect();
    App::new().config(config)
}

fn bearer(user: &str) -> String {
    format!("Bearer policy-token-{user}-0123456789")
}

#[tokio::test]
async fn a_rate_limit_keys_by_user_then_ip_and_answers_429_with_the_ietf_headers() {
    let server = start_app(app()).await;
    let call = |path: &'static str, user: Option<&'static str>| {
        let mut request = client().get(server.url(path));
        if let Some(user) = user {
            request = request.header("authorization", bearer(user));
        }
        request.send()
    };
    for remaining in [2, 1, 0] {
        let response = call("/policy/limited", Some("ann")).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["ratelimit-policy"],
            "\"endpoint\";q=3;w=60"
        );
        let state = response.headers()["ratelimit"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            state.starts_with(&format!("\"endpoint\";r={remaining};t=")),
            "{state}"
        );
    }
    let response = call("/policy/limited", Some("ann")).await.unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert!(
        response.headers()["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("\"endpoint\";r=0;t="),
    );
    assert!(response.headers().contains_key("x-request-id"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"]["code"], "TOO_MANY_REQUESTS", "{body}");
    // Bob has a bucket of his own; so has the anonymous caller's address.
    assert_eq!(
        call("/policy/limited", Some("bob")).await.unwrap().status(),
        200
    );
    assert_eq!(call("/policy/limited", None).await.unwrap().status(), 200);

    // `per = ip`: every caller of this address shares one bucket.
    assert_eq!(
        call("/policy/per-ip", Some("ann")).await.unwrap().status(),
        200
    );
    assert_eq!(
        call("/policy/per-ip", Some("bob")).await.unwrap().status(),
        200
    );
    assert_eq!(call("/policy/per-ip", None).await.unwrap().status(), 429);
    // `per = global`: one bucket.
    assert_eq!(
        call("/policy/global", Some("ann")).await.unwrap().status(),
        200
    );
    assert_eq!(
        call("/policy/global", Some("bob")).await.unwrap().status(),
        429
    );
    // Endpoints without a rate limit are not limited.
    for _ in 0..10 {
        assert_eq!(call("/greet/intro", None).await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn endpoint_rate_limit_is_the_default_of_endpoints_that_state_none() {
    let mut app = app();
    let mut config = test_config();
    config.rate_limit = Some(Rate {
        requests: 2,
        period: Duration::from_secs(60),
        per: RateKey::User,
    });
    app = app.config(config);
    let server = start_app(app).await;
    let intro = || client().get(server.url("/greet/intro")).send();
    assert_eq!(intro().await.unwrap().status(), 200);
    assert_eq!(intro().await.unwrap().status(), 200);
    assert_eq!(intro().await.unwrap().status(), 429);
    // Each endpoint has its own buckets; an endpoint's own rate wins over the default.
    assert_eq!(
        client()
            .get(server.url("/greet"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for _ in 0..3 {
        let response = client()
            .get(server.url("/policy/limited"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn timeout_and_body_limit_override_the_global_ones_for_their_endpoint() {
    let server = start_app(app()).await;
    let started = std::time::Instant::now();
    let response = client()
        .get(server.url("/policy/quick"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "REQUEST_TIMEOUT", "{body}");

    let post = |bytes: usize| {
        client()
            .post(server.url("/policy/small"))
            .body(vec![b'x'; bytes])
            .send()
    };
    let response = post(16).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "16 bytes");
    assert_eq!(post(17).await.unwrap().status(), 413);
    // Another endpoint keeps the global limit (1 MiB).
    let response = client()
        .post(server.url("/limits/bytes"))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn past_its_concurrency_an_endpoint_answers_503_at_once() {
    let server = start_app(app()).await;
    let entered = ENTERED.notified();
    let first = tokio::spawn(client().get(server.url("/policy/one-at-a-time")).send());
    entered.await;
    assert!(INSIDE.load(Ordering::SeqCst));
    let response = client()
        .get(server.url("/policy/one-at-a-time"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    RELEASE.notify_one();
    let response = first.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
}

#[tokio::test]
async fn the_route_table_and_the_document_show_the_policy() {
    let server = app().bind().await.unwrap();
    let table = server.route_table();
    let line = table
        .lines()
        .find(|l| l.contains("/policy/limited"))
        .unwrap();
    assert!(line.contains("rate 3/minute per user"), "{line}");
    let line = table.lines().find(|l| l.contains("/policy/quick")).unwrap();
    assert!(line.contains("timeout 100ms"), "{line}");
    let line = table
        .lines()
        .find(|l| l.contains("/policy/one-at-a-time"))
        .unwrap();
    assert!(line.contains("concurrency 1"), "{line}");
    drop(server);

    let running = start_app(app()).await;
    let document: serde_json::Value = client()
        .get(running.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let responses = |path: &str| document["paths"][path]["get"]["responses"].clone();
    assert!(responses("/policy/limited").get("429").is_some());
    assert!(responses("/policy/one-at-a-time").get("503").is_some());
    assert!(responses("/greet/intro").get("429").is_none());
}
