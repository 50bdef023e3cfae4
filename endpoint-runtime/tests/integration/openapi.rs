//! The OpenAPI document and the docs page, served from the same registry as the router.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::{client, get, json, start, start_with, test_config};

async fn spec() -> Value {
    let server = start().await;
    let (status, content_type, body) = get(&server, "/openapi.json").await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    json(&body)
}

#[tokio::test]
async fn every_endpoint_is_an_operation_with_a_unique_id() {
    let spec = spec().await;
    assert_eq!(spec["openapi"], "3.1.0");
    let paths = spec["paths"].as_object().unwrap();
    for endpoint in endpoint_runtime::endpoints() {
        let path = endpoint.path().replace("{*", "{");
        assert!(
            paths.contains_key(&path),
            "{path} missing from the document"
        );
    }
    let mut ids = HashSet::new();
    for item in paths.values() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap().to_string();
            assert!(ids.insert(id.clone()), "duplicate operationId {id}");
        }
    }
    // Several methods on one endpoint get one operation each.
    assert_eq!(
        spec["paths"]["/multi"]["put"]["operationId"],
        "put_or_patch_put"
    );
    assert_eq!(
        spec["paths"]["/multi"]["patch"]["operationId"],
        "put_or_patch_patch"
    );
    // `all` covers the methods the other endpoints on the path leave free.
    let methods = spec["paths"]["/methods.json"].as_object().unwrap();
    assert_eq!(methods["get"]["operationId"], "methods_get");
    assert_eq!(methods["patch"]["operationId"], "methods_all_patch");
}

#[tokio::test]
async fn types_become_schemas() {
    let spec = spec().await;
    let user = &spec["paths"]["/users/{id}"]["get"];
    assert_eq!(user["summary"], "A typed path parameter.");
    assert_eq!(user["tags"], json!(["users"]));
    assert_eq!(user["parameters"][0]["name"], "id");
    assert_eq!(user["parameters"][0]["in"], "path");
    assert_eq!(user["parameters"][0]["schema"]["type"], "integer");
    // A typed query: one parameter per field, `q` required.
    let search = spec["paths"]["/errors/search"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let q = search.iter().find(|p| p["name"] == "q").unwrap();
    assert_eq!(
        (q["in"].as_str(), q["required"].as_bool()),
        (Some("query"), Some(true))
    );
    let limit = search.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(limit["required"], false);
    // JSend<T> is described as its envelope; `JSend::created` (a `Created<JSend<T>>`) as 201.
    let created = &spec["paths"]["/errors/created"]["post"];
    assert_eq!(
        created["responses"]["201"]["content"]["application/json"]["schema"]["properties"]["status"]
            ["const"],
        "success"
    );
    assert!(created["requestBody"]["content"]["application/json"].is_object());
    // A type without a schema degrades to untyped, with a note.
    let upload = &spec["paths"]["/auth/upload"]["post"];
    assert_eq!(
        upload["requestBody"]["content"]["application/json"]["schema"],
        json!({})
    );
    let notes: Vec<&str> = upload["x-notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(notes.contains(&"untyped body `Json<Upload>`"), "{notes:?}");
}

#[tokio::test]
async fn security_and_errors_follow_the_access_level() {
    let spec = spec().await;
    let public = &spec["paths"]["/greet"]["get"];
    assert!(public.get("security").is_none());
    assert!(public["responses"].get("401").is_none());
    assert_eq!(public["x-access"], "public");
    let admin = &spec["paths"]["/admin/stats"]["get"];
    assert_eq!(
        admin["security"],
        json!([{ "bearerAuth": [] }, { "staticToken": [] }])
    );
    assert!(admin["responses"]["401"].is_object() && admin["responses"]["403"].is_object());
    let private = &spec["paths"]["/auth/private"]["get"];
    assert!(private["responses"]["401"].is_object() && private["responses"].get("403").is_none());
    let body = &spec["paths"]["/my-endpoint-path/{param}"]["post"]["responses"];
    for status in ["400", "413", "415", "422", "500", "default"] {
        assert!(body[status].is_object(), "{status}");
    }
    assert_eq!(
        spec["components"]["securitySchemes"]["bearerAuth"]["bearerFormat"],
        "JWT"
    );
}

#[tokio::test]
async fn the_docs_page_is_self_contained() {
    let server = start().await;
    let response = client().get(server.url("/docs")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("const SPEC_URL = \"/openapi.json\""));
    assert!(
        !html.contains("://"),
        "no external URL: the page works offline"
    );
    assert!(
        !html.contains(" src=") && !html.contains("<link"),
        "no external script or stylesheet"
    );
}

#[tokio::test]
async fn paths_are_configurable_and_can_be_turned_off() {
    let mut config = test_config();
    config.openapi_path = Some("/api/spec.json".into());
    config.docs_path = None;
    let server = start_with(config).await;
    assert_eq!(get(&server, "/api/spec.json").await.0, 200);
    assert_eq!(get(&server, "/docs").await.0, 404);
    assert_eq!(get(&server, "/openapi.json").await.0, 404);

    let mut config = test_config();
    config.docs_path = Some("/greet".into());
    let error = endpoint_runtime::App::new()
        .config(config)
        .bind()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("ENDPOINT_DOCS_PATH"), "{error}");
}
