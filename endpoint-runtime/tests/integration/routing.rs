//! Routing: mounts, methods, path parameters, 404 and 405, the registry and the route table.

use reqwest::Method;

use crate::support::{client, get, json, send, start};

#[tokio::test]
async fn group_routes_mount_under_the_id() {
    let server = start().await;
    assert_eq!(
        get(&server, "/greet").await,
        (
            200,
            "text/plain; charset=utf-8".into(),
            "Hello, World!".into()
        )
    );
    assert_eq!(get(&server, "/greet/intro").await.2, "Nice to meet you.");
    // Trailing slashes are distinct paths, as in axum.
    assert_eq!(get(&server, "/greet/").await.0, 404);
}

#[tokio::test]
async fn typed_path_parameters_parse() {
    let server = start().await;
    let (status, content_type, body) = get(&server, "/users/42").await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert_eq!(json(&body), serde_json::json!({ "id": 42 }));
    assert_eq!(
        get(&server, "/users/7/posts/hello%20world?v=2").await.2,
        "7/hello world?2"
    );
    assert_eq!(get(&server, "/files/a/b/c.txt").await.2, "file:a/b/c.txt");
    assert_eq!(get(&server, "/users/me").await.2, "me");
    assert_eq!(get(&server, "/macro/echo/hi").await.2, "hi");
}

#[tokio::test]
async fn unparseable_path_parameter_is_a_400_naming_it() {
    let server = start().await;
    let (status, content_type, body) = get(&server, "/users/abc").await;
    assert_eq!(status, 400);
    assert_eq!(content_type, "application/json");
    let body = json(&body);
    assert_eq!(body["status"], "fail");
    assert_eq!(body["data"]["code"], "INVALID_PATH_PARAMETER");
    assert_eq!(body["data"]["details"]["parameter"], "id");
    assert_eq!(body["data"]["details"]["expected"], "u64");
    let message = body["data"]["message"].as_str().unwrap();
    assert!(
        message.contains("`id`") && message.contains("u64") && message.contains("abc"),
        "{message}"
    );

    // Out of range is the same 400, for the second parameter of a route.
    let body = json(&get(&server, "/users/99999999999/posts/x").await.2);
    assert_eq!(body["data"]["details"]["parameter"], "id");
    assert_eq!(body["data"]["details"]["expected"], "i32");
}

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    let server = start().await;
    let (status, content_type, body) = get(&server, "/nope").await;
    assert_eq!((status, content_type.as_str()), (404, "application/json"));
    assert_eq!(
        json(&body),
        serde_json::json!({ "status": "fail", "data": { "code": "ROUTE_NOT_FOUND", "message": "route `/nope` not found" } })
    );
}

#[tokio::test]
async fn wrong_method_is_a_json_405_with_allow() {
    let server = start().await;
    let response = crate::support::client()
        .delete(server.url("/greet/intro"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "GET,HEAD");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = json(&response.text().await.unwrap());
    assert_eq!(body["status"], "fail");
    assert_eq!(body["data"]["code"], "METHOD_NOT_ALLOWED");

    let response = crate::support::client()
        .get(server.url("/multi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "PUT,PATCH");
}

#[tokio::test]
async fn head_follows_get() {
    let server = start().await;
    let response = crate::support::client()
        .head(server.url("/greet/intro"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.unwrap(), "");
}

#[tokio::test]
async fn method_lists_and_all() {
    let server = start().await;
    assert_eq!(send(&server, Method::PUT, "/multi").await.2, "PUT");
    assert_eq!(send(&server, Method::PATCH, "/multi").await.2, "PATCH");
    // GET has its own handler; everything else falls to `all`.
    assert_eq!(
        json(&get(&server, "/methods.json").await.2)["message"],
        "This was a GET!"
    );
    assert_eq!(
        json(&send(&server, Method::PATCH, "/methods.json").await.2)["message"],
        "This was a PATCH!"
    );
    assert_eq!(
        json(&send(&server, Method::DELETE, "/methods.json").await.2)["message"],
        "This was a DELETE!"
    );
    // `all` is the standard methods: an extension method is a 405 in the envelope, with the
    // request id like every answer.
    let propfind = Method::from_bytes(b"PROPFIND").unwrap();
    let response = crate::support::client()
        .request(propfind, server.url("/methods.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(
        response.headers()["allow"],
        "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS,TRACE"
    );
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(
        json(&response.text().await.unwrap())["data"]["code"],
        "METHOD_NOT_ALLOWED"
    );
}

#[tokio::test]
async fn factor_echo_with_json_body() {
    let server = start().await;
    let response = crate::support::client()
        .post(server.url("/my-endpoint-path/abc"))
        .json(&serde_json::json!({ "name": "x", "n": [1, 2] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({ "status": "success", "data": { "foo": "bar", "param": "abc", "args": { "name": "x", "n": [1, 2] } } })
    );
}

#[tokio::test]
async fn endpoint_errors_become_their_envelope() {
    let server = start().await;
    assert_eq!(get(&server, "/fallible/5").await.2, "5");
    let (status, _, body) = get(&server, "/fallible/-1").await;
    assert_eq!(status, 400);
    assert_eq!(json(&body)["data"]["code"], "INVALID_PAYLOAD");
}

#[tokio::test]
async fn library_crate_endpoints_are_linked() {
    let server = start().await;
    assert_eq!(
        get(&server, "/extra/ping").await.2,
        "pong from a library crate"
    );
    // No `id` in the library: mounted under its package name.
    let body = json(&get(&server, "/extra-endpoints/items/3").await.2);
    assert_eq!(
        body,
        serde_json::json!({ "id": 3, "from": "extra-endpoints" })
    );
    // No `id` here: mounted under this package's name.
    assert_eq!(
        get(&server, "/endpoint-runtime/default-id").await.2,
        "mounted under the package name"
    );
}

/// Every macro takes `crate = path`: the library renames the runtime `rt`, and its
/// `#[endpoint]`, `#[hook]`, `migrations!` and `#[main]` compile and work through it.
#[tokio::test]
async fn every_macro_works_with_a_renamed_runtime() {
    use std::sync::atomic::Ordering;
    let server = start().await;
    let before = extra_endpoints::PINGED.load(Ordering::SeqCst);
    let response = client()
        .post(server.url("/extra/ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "pinged");
    assert_eq!(extra_endpoints::PINGED.load(Ordering::SeqCst), before + 1);
    let migrations = extra_endpoints::migrations();
    assert_eq!(
        migrations.list(endpoint_runtime::DatabaseKind::Sqlite),
        vec![(1, "extra probe")]
    );
    // `#[main]` builds its own runtime: run it off this one's threads.
    let answer = tokio::task::spawn_blocking(extra_endpoints::answer)
        .await
        .unwrap();
    assert_eq!(answer, 42);
}

#[test]
fn registry_records_every_field() {
    let all = endpoint_runtime::endpoints();
    let user = all
        .iter()
        .find(|e| e.path() == "/users/{id}")
        .expect("registered");
    assert_eq!(user.id(), "users");
    assert_eq!(user.route(), "/{id}");
    assert_eq!(user.handler(), "user");
    assert_eq!(user.module_path(), "integration::endpoints");
    assert!(
        user.file().ends_with("tests/integration/endpoints.rs"),
        "{}",
        user.file()
    );
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/integration/endpoints.rs"
    ))
    .unwrap();
    let line = source.lines().nth(user.line() as usize - 1).unwrap();
    assert!(
        line.contains("async fn user("),
        "line {} is {line:?}",
        user.line()
    );
    assert_eq!(user.summary(), "A typed path parameter.");
    assert_eq!(
        user.methods(),
        endpoint_runtime::Methods::List(&[endpoint_runtime::Method::Get])
    );
    assert_eq!(user.declared_access(), None);
    let mut config = endpoint_runtime::Config::default();
    assert_eq!(user.access(&config), endpoint_runtime::Access::Public);
    config.default_access = endpoint_runtime::DefaultAccess::Authenticated;
    assert_eq!(
        user.access(&config),
        endpoint_runtime::Access::Authenticated
    );
    assert_eq!(
        user.params(),
        &[endpoint_runtime::Param {
            name: "id",
            ty: "u64",
            catch_all: false
        }]
    );

    let post = all.iter().find(|e| e.handler() == "user_post").unwrap();
    let names: Vec<_> = post.params().iter().map(|p| (p.name, p.ty)).collect();
    assert_eq!(names, vec![("slug", "String"), ("id", "i32")]);
    let file = all.iter().find(|e| e.handler() == "file").unwrap();
    assert!(file.params()[0].catch_all);

    let admin = all.iter().find(|e| e.handler() == "admin_stats").unwrap();
    assert_eq!(admin.access(&config), endpoint_runtime::Access::Admin);
    let editors = all.iter().find(|e| e.handler() == "editors").unwrap();
    assert_eq!(
        editors.access(&config),
        endpoint_runtime::Access::Roles(&["editor", "author"])
    );
    let methods_all = all.iter().find(|e| e.handler() == "methods_all").unwrap();
    assert_eq!(methods_all.id(), "");
    assert_eq!(methods_all.path(), "/methods.json");
    assert_eq!(methods_all.methods(), endpoint_runtime::Methods::All);
}

#[test]
fn endpoints_are_sorted_and_valid() {
    let all = endpoint_runtime::endpoints();
    let keys: Vec<String> = all.iter().map(|e| e.path()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    endpoint_runtime::validate().expect("this binary's routes do not conflict");
}

#[tokio::test]
async fn route_table_lists_each_endpoint() {
    let server = endpoint_runtime::App::new()
        .config(crate::support::test_config())
        .bind()
        .await
        .unwrap();
    let table = server.route_table();
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("METHOD")
            && header.contains("PATH")
            && header.contains("ACCESS")
            && header.contains("SOURCE")
    );
    let intro = table
        .lines()
        .find(|l| l.contains("/greet/intro"))
        .expect("listed");
    assert!(intro.starts_with("GET"), "{intro}");
    assert!(
        intro.contains("public")
            && intro.contains("endpoints::intro")
            && intro.contains("endpoints.rs:"),
        "{intro}"
    );
    let admin = table.lines().find(|l| l.contains("/admin/stats")).unwrap();
    assert!(admin.contains("admin"), "{admin}");
    // The runtime's own routes: liveness and readiness.
    let readyz = table.lines().find(|l| l.contains("/readyz")).unwrap();
    assert!(
        readyz.starts_with("GET") && readyz.contains("readiness (ENDPOINT_READYZ_PATH)"),
        "{readyz}"
    );
    // The header, one row per endpoint and the two health routes, then the warning about
    // unstated public writes (see `access::the_route_table_flags_public_writes_that_do_not_say_so`).
    assert_eq!(
        table
            .lines()
            .take_while(|l| !l.starts_with("warning:"))
            .count(),
        endpoint_runtime::endpoints().len() + 3
    );
}

#[tokio::test]
async fn a_suffixed_parameter_is_picked_by_its_suffix() {
    let server = start().await;
    // The longest suffix the segment ends with wins, then the route without one.
    assert_eq!(get(&server, "/exports/7.json").await.2, "json 7");
    assert_eq!(get(&server, "/exports/7.tar.gz").await.2, "tar.gz 7");
    assert_eq!(get(&server, "/exports/7.gz").await.2, "gz 7");
    assert_eq!(get(&server, "/exports/7").await.2, "plain 7");
    // At least one character before the suffix: `.json` alone is the plain route's value.
    assert_eq!(get(&server, "/exports/.json").await.2, "plain .json");
    // The argument is the segment without its suffix, parsed as any parameter is.
    let (status, _, body) = get(&server, "/exports/seven.json").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(json(&body)["data"]["code"], "INVALID_PATH_PARAMETER");
    // Methods are per route: 405 with that route's `Allow`.
    let response = client()
        .delete(server.url("/exports/7.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET,HEAD");
    let (status, _, body) = send(&server, Method::POST, "/exports/7.tar.gz").await;
    assert_eq!((status, body.as_str()), (200, "tar.gz 7"));
    // A routed path with no route without a suffix: anything else is 404 in the envelope.
    assert_eq!(get(&server, "/reports/3.csv").await.2, "csv 3");
    let (status, _, body) = get(&server, "/reports/3").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(json(&body)["data"]["code"], "ROUTE_NOT_FOUND");
    assert_eq!(get(&server, "/reports/3.csv/x").await.0, 404);
}
