//! Idempotency keys (`#[endpoint(idempotent)]`): a retry is answered with the first response,
//! from any instance; the same key with another body is 422, during the first request 409;
//! a 5xx is not kept; keys are per caller; a request without a key runs every time.

use std::sync::atomic::{AtomicU32, Ordering};

use endpoint_runtime::prelude::*;
use endpoint_runtime::{StaticToken, sqlx, with_pool};
use reqwest::header::HeaderMap;
use tokio::sync::Notify;

use crate::support::{TestServer, client, start_app, test_config};
use crate::{Instance, databases, rows_when};

/// Writes `things (n)` and answers 201 with the row count and the instance.
#[endpoint(id = "orders", route = "/", method = post, idempotent)]
async fn order(
    ctx: Context,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), EndpointError> {
    let n = body["n"].as_i64().unwrap_or(0);
    if n < 0 {
        return Err(EndpointError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "NEGATIVE",
            format!("{n} is negative"),
        ));
    }
    let count: i64 = with_pool!(ctx.database()?, |pool| {
        sqlx::query("INSERT INTO things (n) VALUES ($1)")
            .bind(n)
            .execute(pool)
            .await?;
        sqlx::query_scalar("SELECT COUNT(*) FROM things")
            .fetch_one(pool)
            .await
    })?;
    let instance = ctx.state::<Instance>()?.0;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "n": n, "things": count, "instance": instance })),
    ))
}

/// Released by the test: holds the first request while a retry arrives.
static RELEASE: Notify = Notify::const_new();
/// Signalled when the slow handler has started.
static STARTED: Notify = Notify::const_new();

#[endpoint(id = "orders", route = "/slow", method = post, idempotent)]
async fn slow() -> &'static str {
    STARTED.notify_one();
    RELEASE.notified().await;
    "done"
}

static FLAKY_CALLS: AtomicU32 = AtomicU32::new(0);
static PANICKY_CALLS: AtomicU32 = AtomicU32::new(0);

/// Panics on its first call, then answers 201.
#[endpoint(id = "orders", route = "/panicky", method = post, idempotent)]
async fn panicky() -> (StatusCode, &'static str) {
    if PANICKY_CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
        panic!("the first call panics");
    }
    (StatusCode::CREATED, "made")
}

/// 503 on its first call, then 200 with the call's number.
#[endpoint(id = "orders", route = "/flaky", method = patch, idempotent)]
async fn flaky() -> Result<String, EndpointError> {
    let call = FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    if call == 1 {
        return Err(EndpointError::service_unavailable("not yet"));
    }
    Ok(format!("call {call}"))
}

const ANN: &str = "idempotency-token-ann-0123456789";
const BOB: &str = "idempotency-token-bob-0123456789";

async fn server(name: &'static str, url: &str) -> TestServer {
    server_with(name, url, endpoint_runtime::ErrorFormat::JSend).await
}

async fn server_with(
    name: &'static str,
    url: &str,
    error_format: endpoint_runtime::ErrorFormat,
) -> TestServer {
    let mut config = test_config();
    config.error_format = error_format;
    config.database_url = Some(endpoint_runtime::DatabaseUrl(url.to_string()));
    config.static_tokens = [("ann", ANN), ("bob", BOB)]
        .iter()
        .map(|(user, token)| {
            serde_json::from_value::<StaticToken>(json!({ "token": token, "user": user })).unwrap()
        })
        .collect();
    start_app(
        endpoint_runtime::App::new()
            .config(config)
            .state(Instance(name)),
    )
    .await
}

/// Sends `body` to `path` as `token`'s user with `key`; returns status, headers, body.
async fn send(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: Value,
) -> (u16, HeaderMap, String) {
    let mut request = client()
        .request(method, server.url(path))
        .bearer_auth(token)
        .json(&body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// Sends the same keyed request three times: `(status, replayed, body)` of each.
async fn three_tries(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    key: &str,
) -> [(u16, bool, String); 3] {
    let mut tries = Vec::new();
    for _ in 0..3 {
        let (status, headers, body) =
            send(server, method.clone(), path, ANN, Some(key), Value::Null).await;
        tries.push((status, replayed(&headers), body));
    }
    tries.try_into().expect("three")
}

fn replayed(headers: &HeaderMap) -> bool {
    headers
        .get("idempotent-replayed")
        .is_some_and(|value| value == "true")
}

#[tokio::test]
async fn a_retry_gets_the_first_response_from_any_instance() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, url) in databases(&dir).await {
        let (a, b) = (server("a", &url).await, server("b", &url).await);
        let post = reqwest::Method::POST;
        let key = Some("\"order-1\"");
        let (status, headers, first) =
            send(&a, post.clone(), "/orders", ANN, key, json!({ "n": 1 })).await;
        assert_eq!(status, 201, "{kind}: {first}");
        assert!(!replayed(&headers), "{kind}");
        // The retry, on the other instance: the first answer, byte for byte; nothing written.
        let (status, headers, again) =
            send(&b, post.clone(), "/orders", ANN, key, json!({ "n": 1 })).await;
        assert_eq!((status, &again), (201, &first), "{kind}");
        assert!(replayed(&headers), "{kind}");
        assert_eq!(headers["content-type"], "application/json", "{kind}");
        assert!(
            headers.contains_key("x-request-id"),
            "{kind}: its own request id"
        );
        // The same key with another body.
        let (status, _, refused) =
            send(&b, post.clone(), "/orders", ANN, key, json!({ "n": 2 })).await;
        assert_eq!(status, 422, "{kind}: {refused}");
        assert!(
            refused.contains("IDEMPOTENCY_KEY_REUSED"),
            "{kind}: {refused}"
        );
        // Another caller's equal key is another key; a bare token is a key too.
        let (status, headers, bobs) =
            send(&a, post.clone(), "/orders", BOB, key, json!({ "n": 1 })).await;
        assert_eq!(status, 201, "{kind}: {bobs}");
        assert!(!replayed(&headers), "{kind}");
        let (status, _, _) = send(
            &a,
            post.clone(),
            "/orders",
            ANN,
            Some("order-2"),
            json!({ "n": 3 }),
        )
        .await;
        assert_eq!(status, 201, "{kind}");
        // Without a key, every request runs.
        for _ in 0..2 {
            let (status, headers, _) =
                send(&a, post.clone(), "/orders", ANN, None, json!({ "n": 4 })).await;
            assert_eq!(status, 201, "{kind}");
            assert!(!replayed(&headers), "{kind}");
        }
        let things = rows_when(
            &url,
            "SELECT CAST(n AS TEXT) FROM things ORDER BY n",
            |_| true,
        )
        .await;
        assert_eq!(things, ["1", "1", "3", "4", "4"], "{kind}");
        // A key that is not one.
        for bad in ["\"\"", &"k".repeat(256), "two words"] {
            let (status, _, body) = send(
                &a,
                post.clone(),
                "/orders",
                ANN,
                Some(bad),
                json!({ "n": 5 }),
            )
            .await;
            assert_eq!(status, 400, "{kind}: {bad:?}");
            assert!(body.contains("INVALID_IDEMPOTENCY_KEY"), "{kind}: {body}");
        }
    }
}

#[tokio::test]
async fn a_retry_during_the_first_request_is_409_and_a_5xx_is_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (_, url) = databases(&dir).await.remove(0);
    let server = server("a", &url).await;
    let first = {
        let server_url = server.url("/orders/slow");
        tokio::spawn(async move {
            client()
                .post(server_url)
                .bearer_auth(ANN)
                .header("idempotency-key", "slow-1")
                .json(&Value::Null)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    STARTED.notified().await;
    let (status, headers, body) = send(
        &server,
        reqwest::Method::POST,
        "/orders/slow",
        ANN,
        Some("slow-1"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(headers["retry-after"], "1");
    assert!(body.contains("IDEMPOTENCY_KEY_IN_USE"), "{body}");
    RELEASE.notify_one();
    assert_eq!(first.await.unwrap(), 200);

    // A client that gives up does not cancel the handler: its retry gets the response.
    let gone = client()
        .post(server.url("/orders/slow"))
        .bearer_auth(ANN)
        .header("idempotency-key", "slow-2")
        .json(&Value::Null)
        .timeout(std::time::Duration::from_millis(300))
        .send();
    let waited = tokio::join!(gone, async {
        STARTED.notified().await;
    });
    assert!(waited.0.is_err(), "the client timed out");
    RELEASE.notify_one();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (status, headers, body) = loop {
        let answer = send(
            &server,
            reqwest::Method::POST,
            "/orders/slow",
            ANN,
            Some("slow-2"),
            Value::Null,
        )
        .await;
        if answer.0 != 409 || std::time::Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(
        (status, body.as_str(), replayed(&headers)),
        (200, "done", true)
    );

    // A panic releases the key: the retry runs the handler again, and its answer is kept.
    let tries = three_tries(
        &server,
        reqwest::Method::POST,
        "/orders/panicky",
        "panicky-1",
    )
    .await;
    assert_eq!(
        tries.map(|(status, replayed, _)| (status, replayed)),
        [(500, false), (201, false), (201, true)]
    );
    assert_eq!(PANICKY_CALLS.load(Ordering::SeqCst), 2);

    // A 503 is not kept either.
    let tries = three_tries(&server, reqwest::Method::PATCH, "/orders/flaky", "flaky-1").await;
    assert_eq!(tries[0].0, 503);
    assert_eq!(
        [&tries[1], &tries[2]].map(|(status, replayed, body)| (*status, *replayed, body.as_str())),
        [(200, false, "call 2"), (200, true, "call 2")]
    );
    assert_eq!(FLAKY_CALLS.load(Ordering::SeqCst), 2);
}

/// The OpenAPI document lists the header on idempotent operations only.
#[tokio::test]
async fn the_key_is_a_documented_header() {
    let dir = tempfile::tempdir().unwrap();
    let (_, url) = databases(&dir).await.remove(0);
    let server = server("a", &url).await;
    let document: Value = client()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let parameters = &document["paths"]["/orders"]["post"]["parameters"];
    assert!(
        parameters
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
        "{parameters}"
    );
    assert!(document["paths"]["/orders"]["post"]["responses"]["409"].is_object());
    let outbox = &document["paths"]["/outbox/make/{n}"]["post"]["parameters"];
    assert!(!outbox.to_string().contains("Idempotency-Key"), "{outbox}");
}

/// A kept error is replayed as an error: in the configured format (RFC 9457 here), with the
/// replay's own request id.
#[tokio::test]
async fn a_kept_error_is_replayed_in_the_error_format() {
    let dir = tempfile::tempdir().unwrap();
    let (_, url) = databases(&dir).await.remove(0);
    let server = server_with("a", &url, endpoint_runtime::ErrorFormat::Problem).await;
    let post = reqwest::Method::POST;
    let key = Some("negative-1");
    let (status, first_headers, first) = send(
        &server,
        post.clone(),
        "/orders",
        ANN,
        key,
        json!({ "n": -1 }),
    )
    .await;
    assert_eq!(status, 422, "{first}");
    assert_eq!(first_headers["content-type"], "application/problem+json");
    let (status, headers, again) =
        send(&server, post, "/orders", ANN, key, json!({ "n": -1 })).await;
    assert_eq!(status, 422);
    assert!(replayed(&headers));
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_ne!(headers["x-request-id"], first_headers["x-request-id"]);
    let (first, again): (Value, Value) = (
        serde_json::from_str(&first).unwrap(),
        serde_json::from_str(&again).unwrap(),
    );
    assert_eq!(first["code"], "NEGATIVE");
    assert_eq!(again, first);
}
