//! `multipart/form-data` bodies: fields in memory under their limit, a field over it (413), a
//! body that is not multipart (415), a malformed one (400), and the document.

use endpoint_runtime::multipart::Multipart;
use endpoint_runtime::prelude::*;

use crate::support::{client, get, json, start_with, test_config};

/// Each field as `name=value` (text fields only).
#[endpoint(id = "forms", route = "/fields", method = post)]
async fn fields(mut form: Multipart) -> Result<String, EndpointError> {
    let mut seen = Vec::new();
    while let Some(field) = form.next_field().await? {
        let name = field.name().unwrap_or_default().to_string();
        seen.push(format!("{name}={}", field.text().await?));
    }
    Ok(seen.join("&"))
}

/// A form of `fields` (name, value), as a client sends it.
fn form(fields: &[(&str, &str)]) -> String {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--b\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str("--b--\r\n");
    body
}

async fn post(
    server: &crate::support::TestServer,
    content_type: &str,
    body: String,
) -> (u16, String) {
    let response = client()
        .post(server.url("/forms/fields"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn fields_are_read_within_their_limit_and_refused_past_it() {
    let mut config = test_config();
    config.multipart_field_limit = 1024;
    let server = start_with(config).await;
    let multipart = "multipart/form-data; boundary=b";
    assert_eq!(
        post(&server, multipart, form(&[("a", "1"), ("b", "two")])).await,
        (200, "a=1&b=two".to_string())
    );
    let exactly = "x".repeat(1024);
    assert_eq!(
        post(&server, multipart, form(&[("a", &exactly)])).await.0,
        200
    );
    let (status, body) = post(&server, multipart, form(&[("a", &"x".repeat(1025))])).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(json(&body)["data"]["code"], "PAYLOAD_TOO_LARGE", "{body}");
    assert!(body.contains("ENDPOINT_MULTIPART_FIELD_LIMIT"), "{body}");
    let (status, body) = post(&server, "text/plain", "a=1".into()).await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(
        json(&body)["data"]["code"],
        "UNSUPPORTED_MEDIA_TYPE",
        "{body}"
    );
    let (status, body) = post(&server, multipart, "--b\r\nno headers and no end".into()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(json(&body)["data"]["code"], "INVALID_PAYLOAD", "{body}");
}

#[tokio::test]
async fn the_document_has_a_multipart_body() {
    let server = start_with(test_config()).await;
    let (_, _, body) = get(&server, "/openapi.json").await;
    let document = json(&body);
    let request = &document["paths"]["/forms/fields"]["post"]["requestBody"];
    assert!(
        request["content"]["multipart/form-data"]["schema"].is_object(),
        "{request}"
    );
}
