//! One envelope for every error: extractor rejections, limits, timeouts, panics, and the
//! RFC 9457 alternative; request ids in and out.

use std::time::Duration;

use endpoint_runtime::{EndpointError, ErrorFormat};
use serde_json::json;

use crate::support::{assert_internal_error, client, get, json, start, start_with, test_config};

#[tokio::test]
async fn json_bodies_400_413_415_422() {
    let mut config = test_config();
    config.body_limit = 64;
    let server = start_with(config).await;
    let post = |body: &'static str, content_type: &'static str| {
        client()
            .post(server.url("/errors/created"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let response = post(r#"{"a":1}"#, "application/json").await.unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(
        json(&response.text().await.unwrap()),
        json!({ "status": "success", "data": { "a": 1 } })
    );

    let response = post(r#"{"a":1}"#, "text/plain").await.unwrap();
    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(
        json(&response.text().await.unwrap())["data"]["code"],
        "UNSUPPORTED_MEDIA_TYPE"
    );

    let response = post(r#"{"a":"#, "application/json").await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(
        json(&response.text().await.unwrap())["data"]["code"],
        "INVALID_PAYLOAD"
    );

    let response = post(
        r#"{"padding":"this body is longer than the sixty-four byte limit set above"}"#,
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(
        json(&response.text().await.unwrap())["data"]["code"],
        "PAYLOAD_TOO_LARGE"
    );
}

#[tokio::test]
async fn wrong_shape_is_422_with_the_path() {
    let server = start().await;
    let response = client()
        .post(server.url("/auth/upload"))
        .header("authorization", "Bearer unused")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        401,
        "no authenticator configured: the token is refused"
    );
    // Use the in-process client as a user to reach the body check.
    let client = endpoint_runtime::testing::TestClient::new().await.unwrap();
    let response = client
        .post("/auth/upload")
        .as_user("ann", None)
        .json(&json!({ "name": "a.txt", "size": "big" }))
        .send()
        .await;
    assert_eq!(response.status().as_u16(), 422);
    let body: serde_json::Value = response.json();
    assert_eq!(body["data"]["code"], "UNPROCESSABLE_ENTITY");
    assert_eq!(body["data"]["details"]["path"], "size");
    let response = client
        .post("/auth/upload")
        .as_user("ann", None)
        .json(&json!({ "name": "a.txt", "size": 3 }))
        .send()
        .await;
    assert_eq!(
        response.json::<serde_json::Value>(),
        json!({ "status": "success", "data": { "name": "a.txt", "size": 3 } })
    );
}

#[tokio::test]
async fn query_rejections_are_400() {
    let server = start().await;
    assert_eq!(get(&server, "/errors/search?q=x&limit=5").await.2, "x:5");
    let (status, _, body) = get(&server, "/errors/search?limit=5").await;
    assert_eq!(status, 400);
    let body = json(&body);
    assert_eq!(body["data"]["code"], "INVALID_QUERY");
    assert!(
        body["data"]["message"].as_str().unwrap().contains("q"),
        "{body}"
    );
    assert_eq!(get(&server, "/errors/search?q=x&limit=999").await.0, 400);
}

#[tokio::test]
async fn endpoint_errors_keep_their_status_and_details() {
    let server = start().await;
    let (status, _, body) = get(&server, "/errors/forbidden").await;
    assert_eq!(status, 403);
    assert_eq!(
        json(&body),
        json!({ "status": "fail", "data": { "code": "FORBIDDEN", "message": "not yours", "details": { "owner": "someone else" } } })
    );
}

#[tokio::test]
async fn a_panic_is_a_500_with_a_request_id_and_the_server_keeps_serving() {
    let server = start().await;
    for _ in 0..3 {
        let response = client()
            .get(server.url("/errors/panic"))
            .send()
            .await
            .unwrap();
        assert_internal_error(response, "hunter2").await;
    }
    assert_eq!(get(&server, "/greet/intro").await.2, "Nice to meet you.");
}

#[tokio::test]
async fn internal_errors_hide_their_detail() {
    let server = start().await;
    let response = client()
        .get(server.url("/errors/internal"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 500);
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    let text = response.text().await.unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("5432"),
        "{text}"
    );
    assert_eq!(json(&text)["data"]["request_id"], "trace-me-42");
}

#[tokio::test]
async fn request_ids_are_taken_checked_or_generated() {
    let server = start().await;
    let response = client()
        .get(server.url("/greet"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let response = client()
        .get(server.url("/greet"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(generated, "bad id with spaces");
    // The process's random prefix (16 hex digits), `-`, a counter in hex.
    let (prefix, count) = generated.split_once('-').unwrap();
    assert!(
        prefix.len() == 16
            && prefix.bytes().all(|b| b.is_ascii_hexdigit())
            && !count.is_empty()
            && count.bytes().all(|b| b.is_ascii_hexdigit()),
        "{generated}"
    );
    // Errors produced by the framework carry one too: another id of the same process.
    let response = client().get(server.url("/nope")).send().await.unwrap();
    let other = response.headers()["x-request-id"].to_str().unwrap();
    assert!(
        other.starts_with(&format!("{prefix}-")) && other != generated,
        "{other}"
    );
}

#[tokio::test]
async fn slow_handlers_time_out_with_503() {
    let mut config = test_config();
    config.request_timeout = Duration::from_millis(100);
    let server = start_with(config).await;
    let (status, _, body) = get(&server, "/slow").await;
    assert_eq!(status, 503);
    let body = json(&body);
    assert_eq!(body["status"], "error");
    assert_eq!(body["code"], "REQUEST_TIMEOUT");
    assert!(body["data"]["request_id"].is_string());
}

#[tokio::test]
async fn a_5xx_body_carries_the_handlers_text_only_when_asked_explicitly() {
    for format in [ErrorFormat::JSend, ErrorFormat::Problem] {
        let mut config = test_config();
        config.error_format = format;
        let server = start_with(config).await;
        let response = client()
            .get(server.url("/errors/caused"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 500);
        let request_id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("db-7") && !body.contains("hunter2"),
            "{body}"
        );
        let expected = match format {
            ErrorFormat::JSend => {
                json!({ "status": "error", "code": "INTERNAL", "message": "internal server error", "data": { "request_id": request_id } })
            }
            ErrorFormat::Problem => {
                json!({ "type": "about:blank", "title": "Internal Server Error", "status": 500, "detail": "internal server error", "code": "INTERNAL", "request_id": request_id })
            }
        };
        assert_eq!(json(&body), expected);

        let response = client()
            .get(server.url("/errors/maintenance"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 503);
        let body = response.text().await.unwrap();
        assert!(!body.contains("db-7"), "{body}");
        let body = json(&body);
        let message = match format {
            ErrorFormat::JSend => &body["message"],
            ErrorFormat::Problem => &body["detail"],
        };
        assert_eq!(message, "down for maintenance until 14:00 UTC", "{body}");
    }
    // The cause stays reachable for the application's own code.
    let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    let error = EndpointError::internal("loading the ledger").with_source(refused);
    let source = std::error::Error::source(&error).expect("the source is kept");
    assert_eq!(source.to_string(), "refused");
    let from_io: EndpointError = std::io::Error::other("disk full").into();
    assert_eq!(
        std::error::Error::source(&from_io).map(ToString::to_string),
        Some("disk full".to_string())
    );
}

#[tokio::test]
async fn problem_json_is_the_alternative() {
    let mut config = test_config();
    config.error_format = ErrorFormat::Problem;
    let server = start_with(config).await;
    let response = client().get(server.url("/nope")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(
        json(&response.text().await.unwrap()),
        json!({ "type": "about:blank", "title": "Not Found", "status": 404, "detail": "route `/nope` not found", "code": "ROUTE_NOT_FOUND" })
    );
    let response = client()
        .delete(server.url("/greet/intro"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(
        response.headers()["allow"],
        "GET,HEAD",
        "Allow survives the re-rendering"
    );
    assert_eq!(
        json(&response.text().await.unwrap())["code"],
        "METHOD_NOT_ALLOWED"
    );
    let response = client()
        .get(server.url("/errors/panic"))
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let body = json(&response.text().await.unwrap());
    assert_eq!(body["status"], 500);
    assert_eq!(body["request_id"], request_id.as_str());
    let (status, _, body) = get(&server, "/users/abc").await;
    assert_eq!(status, 400);
    assert_eq!(json(&body)["code"], "INVALID_PATH_PARAMETER");
}

#[tokio::test]
async fn axum_extractor_rejections_are_enveloped_too() {
    let mut config = test_config();
    config.body_limit = 8;
    let server = start_with(config).await;
    // `/raw` takes axum's `Bytes`: over the limit it rejects with plain text, wrapped here.
    let response = client()
        .post(server.url("/errors/raw"))
        .body("far more than eight bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = json(&response.text().await.unwrap());
    assert_eq!(body["status"], "fail");
    assert_eq!(body["data"]["code"], "PAYLOAD_TOO_LARGE");
    let response = client()
        .post(server.url("/errors/raw"))
        .body("small")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "5 bytes");
}
