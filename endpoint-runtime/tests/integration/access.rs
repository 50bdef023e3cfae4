//! Access levels over real HTTP: 401 for anonymous callers, 403 for the wrong level or role,
//! decided before the body is read, for HEAD too; and the `authenticated` default switch.

use std::time::{SystemTime, UNIX_EPOCH};

use endpoint_runtime::{Config, DefaultAccess, JwtConfig};
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
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let claims = json!({ "sub": user, "role": role, "admin": admin, "exp": exp });
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
