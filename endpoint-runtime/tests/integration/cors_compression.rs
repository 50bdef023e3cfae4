//! CORS (`ENDPOINT_CORS_*`) and compression (`ENDPOINT_COMPRESSION`), over real HTTP.

use std::io::{Read as _, Write as _};

use endpoint_runtime::prelude::*;
use endpoint_runtime::{CorsConfig, CorsOrigins};

use crate::support::{client, start_with, test_config};

/// Four KiB of text: over the compression threshold.
#[endpoint(id = "big", route = "/text")]
async fn big_text() -> String {
    "endpoint ".repeat(512)
}

/// Under the threshold.
#[endpoint(id = "big", route = "/tiny")]
async fn tiny_text() -> &'static str {
    "tiny"
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn preflights_are_answered_before_authentication_for_listed_origins_only() {
    let mut config = test_config();
    config.cors = Some(CorsConfig::new(CorsOrigins::List(vec![
        "http://app.test".parse().unwrap(),
    ])));
    let server = start_with(config).await;
    let preflight = |origin: &'static str| {
        client()
            .request(reqwest::Method::OPTIONS, server.url("/auth/private"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    // `/auth/private` needs a caller and has no OPTIONS: the layer answers first.
    let response = preflight("http://app.test").await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "http://app.test");
    assert!(
        headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    assert_eq!(headers["access-control-max-age"], "600");
    let response = preflight("http://evil.test").await.unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );

    // The call itself: the allowed origin is echoed, the request id exposed.
    let response = client()
        .get(server.url("/auth/whoami"))
        .header("origin", "http://app.test")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://app.test"
    );
    assert_eq!(
        response.headers()["access-control-expose-headers"],
        "x-request-id,api-version,deprecation,sunset"
    );
    let response = client()
        .get(server.url("/auth/whoami"))
        .header("origin", "http://evil.test")
        .send()
        .await
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test]
async fn responses_are_compressed_over_the_threshold_when_turned_on() {
    let mut config = test_config();
    config.compression.enabled = true;
    let server = start_with(config).await;
    let response = client()
        .get(server.url("/big/text"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.unwrap();
    assert!(compressed.len() < 4608 / 4, "{} bytes", compressed.len());
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "endpoint ".repeat(512));
    for (path, accept, expected) in [
        ("/big/text", "br", Some("br")),
        ("/big/text", "zstd", Some("zstd")),
        ("/big/text", "identity", None),
        ("/big/tiny", "gzip", None),
    ] {
        let response = client()
            .get(server.url(path))
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            expected,
            "{path} {accept}"
        );
    }

    // Off (the default): never compressed.
    let server = start_with(test_config()).await;
    let response = client()
        .get(server.url("/big/text"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert!(!response.headers().contains_key("content-encoding"));
}

#[tokio::test]
async fn compressed_request_bodies_are_read_and_the_limit_counts_decompressed_bytes() {
    let server = start_with(test_config()).await;
    let send = |body: Vec<u8>, encoding: &'static str| {
        client()
            .post(server.url("/limits/bytes"))
            .header("content-encoding", encoding)
            .body(body)
            .send()
    };
    let response = send(gzip(b"hello, compressed"), "gzip").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "17 bytes");
    // 10 MiB of zeros in about 10 KiB: over the 1 MiB limit once inflated.
    let bomb = gzip(&vec![0u8; 10 * 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let response = send(bomb, "gzip").await.unwrap();
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"]["code"], "PAYLOAD_TOO_LARGE", "{body}");
    // An encoding the server cannot read.
    let response = send(b"whatever".to_vec(), "compress").await.unwrap();
    assert_eq!(response.status(), 415);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"]["code"], "UNSUPPORTED_MEDIA_TYPE", "{body}");
}
