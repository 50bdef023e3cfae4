//! Validation from the type: `garde::Validate` bodies, queries and path parameters are checked
//! before the handler runs (422 `FAILED_VALIDATION` with every failing field, in both error
//! formats), the same rules are in the OpenAPI document, and the success statuses the document
//! gives are the ones the endpoints answer.

use std::sync::atomic::{AtomicUsize, Ordering};

use endpoint_runtime::prelude::*;
use endpoint_runtime::validation::Range;
use endpoint_runtime::{ErrorFormat, NoContent};
use serde_json::json;

use crate::support::{client, get, json, start, start_with, test_config};

/// Handler runs, one counter per handler (tests run in parallel): a request that fails
/// validation must not reach the handler.
static SIGNUPS: AtomicUsize = AtomicUsize::new(0);
static LISTINGS: AtomicUsize = AtomicUsize::new(0);

#[derive(
    serde::Serialize, serde::Deserialize, endpoint_runtime::schemars::JsonSchema, garde::Validate,
)]
#[schemars(crate = "endpoint_runtime::schemars")]
pub(crate) struct Signup {
    #[garde(length(chars, min = 2, max = 40))]
    pub(crate) name: String,
    #[garde(email)]
    pub(crate) email: String,
    #[garde(range(min = 13, max = 130))]
    pub(crate) age: u8,
    #[garde(dive)]
    pub(crate) address: Address,
    #[garde(length(max = 3), dive)]
    pub(crate) contacts: Vec<Contact>,
}

#[derive(
    serde::Serialize, serde::Deserialize, endpoint_runtime::schemars::JsonSchema, garde::Validate,
)]
#[schemars(crate = "endpoint_runtime::schemars")]
pub(crate) struct Address {
    #[garde(pattern("^[0-9]{5}$"))]
    pub(crate) zip: String,
}

#[derive(
    serde::Serialize, serde::Deserialize, endpoint_runtime::schemars::JsonSchema, garde::Validate,
)]
#[schemars(crate = "endpoint_runtime::schemars")]
pub(crate) struct Contact {
    #[garde(email)]
    pub(crate) email: String,
}

#[derive(
    serde::Serialize, serde::Deserialize, endpoint_runtime::schemars::JsonSchema, garde::Validate,
)]
#[schemars(crate = "endpoint_runtime::schemars")]
pub(crate) struct Paging {
    #[garde(range(min = 1, max = 100))]
    pub(crate) limit: Option<u32>,
}

#[endpoint(id = "validated", route = "/signup", method = post)]
pub(crate) async fn signup(Json(form): Json<Signup>) -> Created<JSend<String>> {
    SIGNUPS.fetch_add(1, Ordering::SeqCst);
    JSend::created(form.name)
}

#[endpoint(id = "validated", route = "/items/{page}", method = get)]
pub(crate) async fn items(page: Range<1, 50>, Query(paging): Query<Paging>) -> String {
    LISTINGS.fetch_add(1, Ordering::SeqCst);
    format!("page {} of {}", page.get(), paging.limit.unwrap_or(10))
}

#[endpoint(id = "validated", route = "/items/{page}", method = delete)]
pub(crate) async fn remove(page: Range<1, 50>) -> NoContent {
    let _ = page;
    NoContent
}

#[endpoint(id = "validated", route = "/queued", method = post, status = 202)]
pub(crate) async fn queued() -> (StatusCode, JSend<bool>) {
    (StatusCode::ACCEPTED, JSend(true))
}

fn valid_signup() -> serde_json::Value {
    json!({
        "name": "Ada",
        "email": "ada@example.com",
        "age": 36,
        "address": { "zip": "12345" },
        "contacts": [{ "email": "grace@example.com" }],
    })
}

#[tokio::test]
async fn every_failing_field_of_a_nested_body_at_once() {
    let server = start().await;
    let post = |body: serde_json::Value| {
        client()
            .post(server.url("/validated/signup"))
            .json(&body)
            .send()
    };
    let response = post(valid_signup()).await.unwrap();
    assert_eq!(response.status().as_u16(), 201);

    let before = SIGNUPS.load(Ordering::SeqCst);
    let response = post(json!({
        "name": "A",
        "email": "not an address",
        "age": 7,
        "address": { "zip": "1234x" },
        "contacts": [{ "email": "grace@example.com" }, { "email": "nope" }],
    }))
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let body = json(&response.text().await.unwrap());
    assert_eq!(body["status"], "fail");
    assert_eq!(body["data"]["code"], "FAILED_VALIDATION");
    let errors: Vec<(String, String, String)> = body["data"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(!e["message"].as_str().unwrap().is_empty(), "{e}");
            (
                e["in"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("body", "name", "length"),
        ("body", "email", "email"),
        ("body", "age", "range"),
        ("body", "address.zip", "pattern"),
        ("body", "contacts[1].email", "email"),
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:?}");
    for (location, path, code) in expected {
        assert!(
            errors.contains(&(location.into(), path.into(), code.into())),
            "{path}: {errors:?}"
        );
    }
    assert_eq!(
        SIGNUPS.load(Ordering::SeqCst),
        before,
        "the handler did not run"
    );

    // Too many contacts is the list's own rule, at the list's path.
    let mut long = valid_signup();
    long["contacts"] = json!([{ "email": "a@b.co" }, { "email": "c@d.co" }, { "email": "e@f.co" }, { "email": "g@h.co" }]);
    let body = json(&post(long).await.unwrap().text().await.unwrap());
    assert_eq!(
        body["data"]["errors"],
        json!([{ "in": "body", "path": "contacts", "code": "length", "message": "length is greater than 3" }])
    );
}

#[tokio::test]
async fn the_problem_format_carries_the_errors_member() {
    let mut config = test_config();
    config.error_format = ErrorFormat::Problem;
    let server = start_with(config).await;
    let mut form = valid_signup();
    form["age"] = json!(200);
    let response = client()
        .post(server.url("/validated/signup"))
        .json(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body = json(&response.text().await.unwrap());
    assert_eq!(body["status"], 422);
    assert_eq!(body["code"], "FAILED_VALIDATION");
    assert_eq!(
        body["errors"],
        json!([{ "in": "body", "path": "age", "code": "range", "message": "greater than 130" }])
    );
}

#[tokio::test]
async fn queries_and_path_parameters_are_checked_before_the_handler() {
    let server = start().await;
    assert_eq!(
        get(&server, "/validated/items/3?limit=20").await.2,
        "page 3 of 20"
    );
    let before = LISTINGS.load(Ordering::SeqCst);

    let (status, _, body) = get(&server, "/validated/items/3?limit=500").await;
    assert_eq!(status, 422);
    assert_eq!(
        json(&body)["data"]["errors"],
        json!([{ "in": "query", "path": "limit", "code": "range", "message": "greater than 100" }])
    );

    let (status, _, body) = get(&server, "/validated/items/51").await;
    assert_eq!(status, 422);
    assert_eq!(
        json(&body)["data"]["errors"],
        json!([{ "in": "path", "path": "page", "code": "range", "message": "greater than 50" }])
    );
    // Not an integer at all: the path parameter does not parse (400), as before.
    let (status, _, body) = get(&server, "/validated/items/x").await;
    assert_eq!(status, 400);
    assert_eq!(json(&body)["data"]["code"], "INVALID_PATH_PARAMETER");
    assert_eq!(LISTINGS.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn the_document_has_the_constraints_and_the_statuses_answered() {
    let server = start().await;
    let spec = json(&get(&server, "/openapi.json").await.2);
    let schemas = &spec["components"]["schemas"];
    let signup = &schemas["Signup"]["properties"];
    assert_eq!(
        (&signup["name"]["minLength"], &signup["name"]["maxLength"]),
        (&json!(2), &json!(40))
    );
    assert_eq!(signup["email"]["format"], "email");
    assert_eq!(
        (&signup["age"]["minimum"], &signup["age"]["maximum"]),
        (&json!(13), &json!(130))
    );
    assert_eq!(signup["contacts"]["maxItems"], 3);
    assert_eq!(
        schemas["Address"]["properties"]["zip"]["pattern"],
        "^[0-9]{5}$"
    );
    assert_eq!(
        schemas["FieldError"]["required"],
        json!(["in", "path", "code", "message"])
    );

    let items = &spec["paths"]["/validated/items/{page}"];
    let page = &items["get"]["parameters"][0];
    assert_eq!(
        (
            &page["name"],
            &page["schema"]["minimum"],
            &page["schema"]["maximum"]
        ),
        (&json!("page"), &json!(1), &json!(50))
    );
    let limit = &items["get"]["parameters"][1];
    assert_eq!(
        (&limit["in"], &limit["schema"]["maximum"]),
        (&json!("query"), &json!(100))
    );
    assert!(items["get"]["responses"]["422"].is_object());
    // An operation whose inputs are not validated (and read no body) lists no 422.
    let search = &spec["paths"]["/errors/search"]["get"]["responses"];
    assert!(
        search["400"].is_object() && search.get("422").is_none(),
        "{search}"
    );

    // The success status of each: from the type (`Created`, `NoContent`), or from the attribute.
    let statuses = |operation: &serde_json::Value| -> Vec<String> {
        let mut codes: Vec<String> = operation["responses"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|code| code.starts_with('2'))
            .cloned()
            .collect();
        codes.sort();
        codes
    };
    assert_eq!(
        statuses(&spec["paths"]["/validated/signup"]["post"]),
        ["201"]
    );
    assert_eq!(statuses(&items["get"]), ["200"]);
    assert_eq!(statuses(&items["delete"]), ["204"]);
    assert_eq!(
        statuses(&spec["paths"]["/validated/queued"]["post"]),
        ["202"]
    );

    // ... and they are what the server answers.
    let response = client()
        .delete(server.url("/validated/items/2"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    let response = client()
        .post(server.url("/validated/queued"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
}
