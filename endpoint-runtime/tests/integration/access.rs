//! Access levels over real HTTP: 401 for anonymous callers, 403 for the wrong level or role,
//! decided before the body is read, for HEAD too; the `authenticated` and `admin` default
//! switches; the access of the OpenAPI document and docs page; and endpoints left public by
//! accident, flagged by the route table.

use std::time::{SystemTime, UNIX_EPOCH};

use endpoint_runtime::prelude::*;
use endpoint_runtime::{Access, Config, DefaultAccess, JwtConfig};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::support::{TestServer, client, json, start_with, test_config};

const SECRET: &str = "access-secret-0123456789abcdef012345";

fn config() -> Config {
    let mut config = test_config();
    config.jwt = Some(JwtConfig::hs256(SECRET));
    config
}

fn token(user: &str, role: Option<&str>, admin: bool) -> String {
    token_with(json!({ "sub": user, "role": role, "admin": admin }))
}

/// A bearer HS256 token with `claims` and an `exp` ten minutes away.
fn token_with(mut claims: serde_json::Value) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    claims["exp"] = exp.into();
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    format!("Bearer {token}")
}

async fn status(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    authorization: Option<&str>,
) -> (u16, String) {
    let mut request = client().request(method, server.url(path));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn levels_and_roles() {
    use reqwest::Method;
    let server = start_with(config()).await;
    let user = token("ann", None, false);
    let editor = token("eve", Some("editor"), false);
    let author = token("al", Some("author"), false);
    let reader = token("rob", Some("reader"), false);
    let admin = token("root", None, true);

    let (code, body) = status(&server, Method::GET, "/auth/private", None).await;
    assert_eq!(code, 401);
    assert_eq!(json(&body)["data"]["code"], "UNAUTHORIZED");
    assert_eq!(
        status(&server, Method::GET, "/auth/private", Some(&user)).await,
        (200, "hello ann".into())
    );

    assert_eq!(
        status(&server, Method::GET, "/admin/stats", None).await.0,
        401
    );
    let (code, body) = status(&server, Method::GET, "/admin/stats", Some(&user)).await;
    assert_eq!(code, 403);
    assert_eq!(json(&body)["data"]["code"], "FORBIDDEN");
    assert_eq!(
        status(&server, Method::GET, "/admin/stats", Some(&admin)).await,
        (200, "stats".into())
    );

    assert_eq!(status(&server, Method::POST, "/editors", None).await.0, 401);
    assert_eq!(
        status(&server, Method::POST, "/editors", Some(&reader))
            .await
            .0,
        403
    );
    assert_eq!(
        status(&server, Method::POST, "/editors", Some(&user))
            .await
            .0,
        403,
        "no role at all"
    );
    assert_eq!(
        status(&server, Method::POST, "/editors", Some(&editor))
            .await
            .0,
        200
    );
    assert_eq!(
        status(&server, Method::POST, "/editors", Some(&author))
            .await
            .0,
        200
    );
    assert_eq!(
        status(&server, Method::POST, "/editors", Some(&admin))
            .await
            .0,
        200,
        "admins always pass"
    );
}

#[tokio::test]
async fn head_does_not_bypass_access() {
    let server = start_with(config()).await;
    let response = client()
        .head(server.url("/auth/private"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let response = client()
        .head(server.url("/admin/stats"))
        .header("authorization", token("ann", None, false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
}

#[tokio::test]
async fn access_is_decided_before_the_body_is_read() {
    let mut config = config();
    config.body_limit = 16;
    let server = start_with(config).await;
    // Anonymous, with a body that is both too large and malformed: 401, not 413 or 400.
    let response = client()
        .post(server.url("/auth/upload"))
        .header("content-type", "text/plain")
        .body("{ this is not json and it is longer than sixteen bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn authenticated_can_be_the_default() {
    let mut config = config();
    config.default_access = DefaultAccess::Authenticated;
    let server = start_with(config).await;
    // `whoami` states no access: now it needs a caller.
    assert_eq!(
        status(&server, reqwest::Method::GET, "/auth/whoami", None)
            .await
            .0,
        401
    );
    assert_eq!(
        status(
            &server,
            reqwest::Method::GET,
            "/auth/whoami",
            Some(&token("ann", None, false))
        )
        .await
        .0,
        200
    );
    // An explicit `access = public` stays public... none here states it, so check the table.
    let bound = endpoint_runtime::App::new().config({
        let mut c = test_config();
        c.default_access = DefaultAccess::Authenticated;
        c
    });
    let table = bound.bind().await.unwrap().route_table();
    let line = table.lines().find(|l| l.contains("/auth/whoami")).unwrap();
    assert!(line.contains("authenticated"), "{line}");
    let line = table.lines().find(|l| l.contains("/admin/stats")).unwrap();
    assert!(line.contains("admin"), "{line}");
}

/// A state-changing endpoint written without `access`: public by accident under the default.
#[endpoint(id = "accident", route = "/{id}", method = delete)]
async fn forgot_access(id: u64) -> String {
    format!("deleted {id}")
}

/// A state-changing endpoint that says it is public: never flagged.
#[endpoint(id = "guestbook", route = "/", method = post, access = public)]
async fn sign_guestbook() -> &'static str {
    "signed"
}

#[tokio::test]
async fn admin_can_be_the_default() {
    use reqwest::Method;
    let mut config = config();
    config.default_access = DefaultAccess::Admin;
    let server = start_with(config).await;
    let user = token("ann", None, false);
    let admin = token("root", None, true);
    // Unstated: admin only.
    for (who, expected) in [(None, 401), (Some(&user), 403), (Some(&admin), 200)] {
        let who = who.map(String::as_str);
        assert_eq!(
            status(&server, Method::DELETE, "/accident/7", who).await.0,
            expected,
            "DELETE /accident/7 as {who:?}"
        );
        assert_eq!(
            status(&server, Method::GET, "/auth/whoami", who).await.0,
            expected,
            "GET /auth/whoami as {who:?}"
        );
    }
    // Stated levels keep theirs: `access = public` and `access = authenticated`.
    assert_eq!(
        status(&server, Method::POST, "/guestbook", None).await,
        (200, "signed".into())
    );
    assert_eq!(
        status(&server, Method::GET, "/auth/private", Some(&user))
            .await
            .0,
        200
    );
    let table = endpoint_runtime::App::new()
        .config({
            let mut c = test_config();
            c.default_access = DefaultAccess::Admin;
            c
        })
        .bind()
        .await
        .unwrap()
        .route_table();
    let line = table.lines().find(|l| l.contains("/auth/whoami")).unwrap();
    assert!(line.contains("admin"), "{line}");
}

/// The route table of this binary's endpoints under `default`.
async fn route_table(default: DefaultAccess) -> String {
    let mut config = test_config();
    config.default_access = default;
    endpoint_runtime::App::new()
        .config(config)
        .bind()
        .await
        .unwrap()
        .route_table()
}

#[tokio::test]
async fn the_route_table_flags_public_writes_that_do_not_say_so() {
    let table = route_table(DefaultAccess::Public).await;
    let row = |path: &str, method: &str| {
        table
            .lines()
            .find(|l| l.starts_with(method) && l.split_whitespace().nth(1) == Some(path))
            .unwrap_or_else(|| panic!("no row for {method} {path}:\n{table}"))
            .to_string()
    };
    let (rows, warning) = table
        .split_once("warning: ")
        .unwrap_or_else(|| panic!("no warning:\n{table}"));
    // The DELETE, POST, PUT/PATCH and `all` endpoints that state no access are marked and listed.
    for (method, path) in [
        ("DELETE", "/accident/{id}"),
        ("POST", "/errors/created"),
        ("PUT,PATCH", "/multi"),
        ("ALL", "/methods.json"),
    ] {
        assert!(
            row(path, method).contains("public (not stated)"),
            "{}",
            row(path, method)
        );
        assert!(
            warning.contains(&format!("  - {method} {path} (")),
            "{method} {path} not listed:\n{warning}"
        );
    }
    assert!(
        warning.contains("forgot_access at ") && warning.contains("access.rs:"),
        "the handler and its file:line are named:\n{warning}"
    );
    // Not flagged: reads, writes that say `access = public`, and protected writes.
    for (method, path) in [
        ("GET", "/greet/intro"),
        ("POST", "/guestbook"),
        ("POST", "/editors"),
        ("GET,POST", "/auth/private"),
    ] {
        assert!(
            !row(path, method).contains("not stated"),
            "{}",
            row(path, method)
        );
        assert!(
            !warning.contains(&format!(" {path} (")),
            "{path} listed:\n{warning}"
        );
    }
    assert!(rows.lines().count() > endpoint_runtime::endpoints().len());
    // A default that protects unstated endpoints leaves nothing public by accident.
    for default in [DefaultAccess::Authenticated, DefaultAccess::Admin] {
        let table = route_table(default).await;
        assert!(
            !table.contains("warning:") && !table.contains("not stated"),
            "{default:?}:\n{table}"
        );
    }
}

#[tokio::test]
async fn docs_access_protects_the_document_and_the_page() {
    let user = token("ann", None, false);
    let admin = token("root", None, true);
    let cases = [
        (None, DefaultAccess::Public, [200, 200, 200]),
        (
            Some(Access::Authenticated),
            DefaultAccess::Public,
            [401, 200, 200],
        ),
        (Some(Access::Admin), DefaultAccess::Public, [401, 403, 200]),
        // The docs follow ENDPOINT_DEFAULT_ACCESS unless ENDPOINT_DOCS_ACCESS says otherwise.
        (None, DefaultAccess::Authenticated, [401, 200, 200]),
        (None, DefaultAccess::Admin, [401, 403, 200]),
        (
            Some(Access::Public),
            DefaultAccess::Authenticated,
            [200, 200, 200],
        ),
    ];
    for (docs, default, expected) in cases {
        let mut config = config();
        config.docs_access = docs;
        config.default_access = default;
        let server = start_with(config).await;
        for path in ["/openapi.json", "/docs"] {
            for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
                let mut got = Vec::new();
                for who in [None, Some(user.as_str()), Some(admin.as_str())] {
                    got.push(status(&server, method.clone(), path, who).await);
                }
                let codes: Vec<u16> = got.iter().map(|(code, _)| *code).collect();
                assert_eq!(
                    codes, expected,
                    "{method} {path}, docs {docs:?}, default {default:?}"
                );
                if method == reqwest::Method::GET {
                    for ((code, body), expected) in got.iter().zip(expected) {
                        match (code, expected) {
                            (401, 401) => assert_eq!(json(body)["data"]["code"], "UNAUTHORIZED"),
                            (403, 403) => assert_eq!(json(body)["data"]["code"], "FORBIDDEN"),
                            (200, 200) if path == "/openapi.json" => {
                                assert_eq!(json(body)["openapi"], "3.1.0")
                            }
                            (200, 200) => assert!(body.contains("/openapi.json"), "{body}"),
                            _ => unreachable!("compared above"),
                        }
                    }
                }
            }
        }
    }
}

/// The configuration `TestClient::new()` sees is the environment's, as `serve`'s is: run in a
/// child process of this test binary with the variables set, since a test must not change
/// the environment of the other tests running in this one.
#[tokio::test]
async fn the_test_client_is_configured_like_serve() {
    const CHILD: &str = "ENDPOINT_TEST_CLIENT_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let name = "access::the_test_client_is_configured_like_serve";
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .env("ENDPOINT_DEFAULT_ACCESS", "authenticated")
            .env("ENDPOINT_TRUSTED_PROXIES", "127.0.0.1")
            .env("ENDPOINT_FORWARDED_HEADER", "forwarded")
            .env_remove("ENDPOINT_DATABASE_URL")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "the child run failed:\n{stdout}\n{stderr}"
        );
        return;
    }
    let client = endpoint_runtime::testing::TestClient::new().await.unwrap();
    // ENDPOINT_DEFAULT_ACCESS=authenticated applies: the unstated DELETE is not public here.
    let anonymous = client.delete("/accident/3").send().await;
    assert_eq!(anonymous.status().as_u16(), 401, "{}", anonymous.text());
    let signed_in = client
        .delete("/accident/3")
        .as_user("ann", None)
        .send()
        .await;
    assert_eq!(signed_in.text(), "deleted 3");
    assert_eq!(
        client.post("/guestbook").send().await.status().as_u16(),
        200
    );
    // The request comes from 127.0.0.1, a trusted proxy here, and the configured forwarding
    // header names the client; the other one is ignored.
    let who = client
        .get("/auth/whoami")
        .as_user("ann", None)
        .header("forwarded", "for=203.0.113.7")
        .header("x-forwarded-for", "198.51.100.1")
        .send()
        .await;
    assert_eq!(who.json::<serde_json::Value>()["ip"], "203.0.113.7");
    // From a peer that is not a trusted proxy, the header is not believed.
    let who = client
        .get("/auth/whoami")
        .as_user("ann", None)
        .peer("198.51.100.99:4000".parse().unwrap())
        .header("forwarded", "for=203.0.113.7")
        .send()
        .await;
    assert_eq!(who.json::<serde_json::Value>()["ip"], "198.51.100.99");
}

/// Directus 11's roles: a role claim that is an array gives every role, the first primary, and
/// `roles = [...]` matches any of them; a claim of another shape is not a credential.
#[tokio::test]
async fn every_role_of_the_caller_counts() {
    use reqwest::Method;
    let server = start_with(config()).await;
    let both = token_with(json!({ "sub": "eve", "role": ["reader", "author"] }));
    assert_eq!(
        status(&server, Method::POST, "/editors", Some(&both))
            .await
            .0,
        200,
        "author is her second role"
    );
    let (code, body) = status(&server, Method::GET, "/auth/whoami", Some(&both)).await;
    assert_eq!(code, 200, "{body}");
    let who = json(&body);
    assert_eq!(who["role"], "reader");
    assert_eq!(who["roles"], json!(["reader", "author"]));

    let neither = token_with(json!({ "sub": "rob", "role": ["reader", "guest"] }));
    assert_eq!(
        status(&server, Method::POST, "/editors", Some(&neither))
            .await
            .0,
        403
    );
    let malformed = token_with(json!({ "sub": "mal", "role": ["author", 7] }));
    assert_eq!(
        status(&server, Method::POST, "/editors", Some(&malformed))
            .await
            .0,
        401
    );
    let anonymous = json(&status(&server, Method::GET, "/auth/whoami", None).await.1);
    assert_eq!(anonymous["roles"], json!([]));
}
