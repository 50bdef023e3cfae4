//! The authenticator chain over real HTTP: JWT (HS256, RS256, ES256), static tokens, a custom
//! authenticator, trusted proxies, and the attack set. Every rejected credential is 401 with
//! `WWW-Authenticate: Bearer error="invalid_token"` and the envelope, and never reaches a handler.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use endpoint_runtime::auth::{Authenticator, BoxFuture, Identity, Outcome};
use endpoint_runtime::{App, Config, JwtAlgorithm, JwtConfig, JwtKey, StaticToken};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::endpoints::PROBES;
use crate::support::{TestServer, client, json, start_app, start_with, test_config};

const SECRET: &str = "test-secret-0123456789abcdef0123456789";
const STATIC_TOKEN: &str = "static-token-for-the-bot-0001";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hs256_config() -> Config {
    let mut config = test_config();
    config.jwt = Some(JwtConfig::hs256(SECRET));
    config.static_tokens = vec![
        serde_json::from_value::<StaticToken>(json!({
            "token": STATIC_TOKEN, "user": "bot", "role": "editor", "roles": ["author", "editor"],
            "app": true
        }))
        .unwrap(),
    ];
    config
}

fn public_key_config(algorithm: JwtAlgorithm, file: &str) -> Config {
    let mut jwt = JwtConfig::hs256(Vec::new());
    jwt.algorithm = algorithm;
    jwt.key = JwtKey::PublicKeyPem(fixture(file));
    let mut config = test_config();
    config.jwt = Some(jwt);
    config
}

fn sign(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
}

fn hs256(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        claims,
    )
}

fn valid_claims() -> Value {
    json!({ "sub": "ann", "role": "editor", "exp": now() + 600, "team": "blue" })
}

async fn call(server: &TestServer, path: &str, authorization: &[&str]) -> reqwest::Response {
    let mut request = client().get(server.url(path));
    for value in authorization {
        request = request.header("authorization", *value);
    }
    request.send().await.unwrap()
}

async fn assert_rejected(server: &TestServer, authorization: &[&str], what: &str) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let probe = format!("probe-{}", NEXT.fetch_add(1, Ordering::SeqCst));
    let mut request = client()
        .get(server.url("/auth/whoami"))
        .header("x-probe", &probe);
    for value in authorization {
        request = request.header("authorization", *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401, "{what}");
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\"",
        "{what}"
    );
    let body = json(&response.text().await.unwrap());
    assert_eq!(body["status"], "fail", "{what}");
    assert_eq!(body["data"]["code"], "INVALID_CREDENTIALS", "{what}");
    assert_eq!(
        body["data"]["message"], "invalid credentials",
        "{what}: the reason is logged, not sent"
    );
    assert!(
        !PROBES.lock().unwrap().contains(&probe),
        "{what} reached the handler"
    );
}

#[tokio::test]
async fn a_valid_hs256_token_fills_the_accountability() {
    let server = start_with(hs256_config()).await;
    let token = hs256(&valid_claims());
    let response = call(&server, "/auth/whoami", &[&format!("Bearer {token}")]).await;
    assert_eq!(response.status().as_u16(), 200);
    let who = json(&response.text().await.unwrap());
    assert_eq!(who["user"], "ann");
    assert_eq!(who["role"], "editor");
    assert_eq!(who["admin"], false);
    assert_eq!(who["authenticator"], "jwt");
    assert_eq!(who["claims"]["team"], "blue", "raw claims are kept");
    assert_eq!(who["ip"], "127.0.0.1");
    // The scheme is case-insensitive (RFC 7235).
    assert_eq!(
        call(&server, "/auth/whoami", &[&format!("bearer {token}")])
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn anonymous_callers_are_never_admin() {
    let server = start_with(hs256_config()).await;
    let who = json(
        &call(&server, "/auth/whoami", &[])
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(who["user"], Value::Null);
    assert_eq!(who["admin"], false);
    assert_eq!(who["authenticator"], Value::Null);
    // An admin claim without a user is not an authentication at all.
    let token = hs256(&json!({ "admin": true, "exp": now() + 600 }));
    assert_rejected(&server, &[&format!("Bearer {token}")], "admin without sub").await;
}

#[tokio::test]
async fn the_attack_set_is_refused_before_any_handler() {
    let server = start_with(hs256_config()).await;
    let good = hs256(&valid_claims());
    // The probe mechanism itself works: an accepted request is recorded.
    let response = client()
        .get(server.url("/auth/whoami"))
        .header("x-probe", "accepted-probe")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(PROBES.lock().unwrap().iter().any(|p| p == "accepted-probe"));
    let header_none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(valid_claims().to_string());
    let cases: Vec<(String, &str)> = vec![
        (format!("Bearer {header_none}.{payload}."), "alg none"),
        (
            format!(
                "Bearer {}",
                hs256(&json!({ "sub": "ann", "exp": now() - 3600 }))
            ),
            "expired",
        ),
        (
            format!(
                "Bearer {}",
                hs256(&json!({ "sub": "ann", "exp": now() + 600, "nbf": now() + 3600 }))
            ),
            "nbf in the future",
        ),
        (
            format!("Bearer {}", hs256(&json!({ "sub": "ann" }))),
            "missing exp",
        ),
        (
            format!(
                "Bearer {}",
                sign(
                    Algorithm::HS256,
                    &EncodingKey::from_secret(b"another-secret-0123456789abcdef0123"),
                    &valid_claims()
                )
            ),
            "wrong signature",
        ),
        (format!("Bearer {}", &good[..good.len() - 10]), "truncated"),
        ("Bearer a!b@c.d#e$f.g%h^i".to_string(), "non-base64"),
        (
            "Bearer not-a-known-static-token".to_string(),
            "unknown opaque token",
        ),
        (
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l".to_string(),
            "unsupported scheme",
        ),
        ("Bearer".to_string(), "empty bearer"),
        (
            format!(
                "Bearer {}",
                hs256(&json!({ "sub": "ann", "exp": now() + 600, "admin": "yes" }))
            ),
            "admin claim not a boolean",
        ),
        (
            format!(
                "Bearer {}",
                hs256(&json!({ "sub": 42, "exp": now() + 600 }))
            ),
            "sub not a string",
        ),
    ];
    for (authorization, what) in &cases {
        assert_rejected(&server, &[authorization], what).await;
    }
    // Two Authorization headers, even if both are valid.
    let bearer = format!("Bearer {good}");
    assert_rejected(&server, &[&bearer, &bearer], "two Authorization headers").await;
    // A public route is no exception: an invalid credential is 401 everywhere.
    let response = call(&server, "/greet", &["Bearer garbage.garbage.garbage"]).await;
    assert_eq!(response.status().as_u16(), 401);
    let response = call(&server, "/nope", &["Bearer garbage.garbage.garbage"]).await;
    assert_eq!(
        response.status().as_u16(),
        401,
        "before routing, even for unknown paths"
    );
}

#[tokio::test]
async fn leeway_tolerates_small_clock_skew() {
    let server = start_with(hs256_config()).await;
    // Expired 3 s ago, within the default 10 s leeway.
    let token = hs256(&json!({ "sub": "ann", "exp": now() - 3 }));
    assert_eq!(
        call(&server, "/auth/whoami", &[&format!("Bearer {token}")])
            .await
            .status()
            .as_u16(),
        200
    );
    let mut config = hs256_config();
    config.jwt.as_mut().unwrap().leeway = Duration::ZERO;
    let strict = start_with(config).await;
    assert_eq!(
        call(&strict, "/auth/whoami", &[&format!("Bearer {token}")])
            .await
            .status()
            .as_u16(),
        401
    );
}

#[tokio::test]
async fn issuer_audience_and_claim_names_are_configurable() {
    let mut config = hs256_config();
    let jwt = config.jwt.as_mut().unwrap();
    jwt.issuer = Some("https://id.example.com".into());
    jwt.audience = Some("endpoint".into());
    jwt.user_claim = "uid".into();
    jwt.role_claim = "group".into();
    jwt.admin_claim = "is_admin".into();
    let server = start_with(config).await;
    let claims = json!({ "uid": "root", "group": "ops", "is_admin": true, "exp": now() + 600, "iss": "https://id.example.com", "aud": "endpoint" });
    let who = json(
        &call(
            &server,
            "/auth/whoami",
            &[&format!("Bearer {}", hs256(&claims))],
        )
        .await
        .text()
        .await
        .unwrap(),
    );
    assert_eq!(
        (
            who["user"].as_str(),
            who["role"].as_str(),
            who["admin"].as_bool()
        ),
        (Some("root"), Some("ops"), Some(true))
    );
    let mut wrong_issuer = claims.clone();
    wrong_issuer["iss"] = json!("https://evil.example.com");
    assert_rejected(
        &server,
        &[&format!("Bearer {}", hs256(&wrong_issuer))],
        "wrong iss",
    )
    .await;
    let mut no_audience = claims.clone();
    no_audience.as_object_mut().unwrap().remove("aud");
    assert_rejected(
        &server,
        &[&format!("Bearer {}", hs256(&no_audience))],
        "missing aud",
    )
    .await;
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused_when_none_is_configured() {
    // RFC 7519 §4.1.3: a recipient that does not identify itself with the `aud` rejects.
    let server = start_with(hs256_config()).await;
    for (aud, what) in [
        (json!("another-service"), "a string aud"),
        (json!(["another-service", "a-third"]), "an array aud"),
        (json!([]), "an empty array aud"),
        (json!(42), "a number aud"),
        (json!({ "service": "x" }), "an object aud"),
    ] {
        let mut claims = valid_claims();
        claims["aud"] = aud;
        assert_rejected(&server, &[&format!("Bearer {}", hs256(&claims))], what).await;
    }
    // Without `aud` the same token gets in.
    let response = call(
        &server,
        "/auth/whoami",
        &[&format!("Bearer {}", hs256(&valid_claims()))],
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn the_typ_header_is_checked_when_a_type_is_configured() {
    let typed = |typ: Option<&str>| {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = typ.map(str::to_string);
        let token = jsonwebtoken::encode(
            &header,
            &valid_claims(),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        format!("Bearer {token}")
    };
    let mut config = hs256_config();
    config.jwt.as_mut().unwrap().token_type = Some("at+jwt".into());
    let server = start_with(config).await;
    for typ in ["at+jwt", "AT+JWT", "application/at+jwt"] {
        let response = call(&server, "/auth/whoami", &[&typed(Some(typ))]).await;
        assert_eq!(response.status().as_u16(), 200, "typ {typ}");
    }
    assert_rejected(&server, &[&typed(Some("JWT"))], "typ JWT").await;
    assert_rejected(&server, &[&typed(Some("id+jwt"))], "typ id+jwt").await;
    assert_rejected(&server, &[&typed(None)], "no typ").await;
    // Unset, the header is not checked.
    let server = start_with(hs256_config()).await;
    let response = call(&server, "/auth/whoami", &[&typed(Some("whatever"))]).await;
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn rs256_and_es256_verify_with_public_keys() {
    let rs = start_with(public_key_config(JwtAlgorithm::Rs256, "rs256-public.pem")).await;
    let key = EncodingKey::from_rsa_pem(&fixture("rs256-private.pem")).unwrap();
    let token = sign(Algorithm::RS256, &key, &valid_claims());
    assert_eq!(
        call(&rs, "/auth/whoami", &[&format!("Bearer {token}")])
            .await
            .status()
            .as_u16(),
        200
    );
    // Key confusion: HS256 "signed" with the RS256 public key as the HMAC secret.
    let confused = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(&fixture("rs256-public.pem")),
        &valid_claims(),
    );
    assert_rejected(
        &rs,
        &[&format!("Bearer {confused}")],
        "HS256 signed with the RS public key",
    )
    .await;
    // The token's own alg never selects the algorithm: RS384 with the right key is refused too.
    let rs384 = sign(Algorithm::RS384, &key, &valid_claims());
    assert_rejected(
        &rs,
        &[&format!("Bearer {rs384}")],
        "RS384 on an RS256 server",
    )
    .await;

    let es = start_with(public_key_config(JwtAlgorithm::Es256, "es256-public.pem")).await;
    let key = EncodingKey::from_ec_pem(&fixture("es256-private.pem")).unwrap();
    let token = sign(Algorithm::ES256, &key, &valid_claims());
    assert_eq!(
        call(&es, "/auth/whoami", &[&format!("Bearer {token}")])
            .await
            .status()
            .as_u16(),
        200
    );
    assert_rejected(
        &es,
        &[&format!("Bearer {}", hs256(&valid_claims()))],
        "HS256 on an ES256 server",
    )
    .await;
}

#[tokio::test]
async fn static_tokens_authenticate_in_constant_time() {
    let server = start_with(hs256_config()).await;
    let who = json(
        &call(
            &server,
            "/auth/whoami",
            &[&format!("Bearer {STATIC_TOKEN}")],
        )
        .await
        .text()
        .await
        .unwrap(),
    );
    assert_eq!(who["user"], "bot");
    assert_eq!(who["role"], "editor");
    assert_eq!(
        who["roles"],
        json!(["editor", "author"]),
        "`role` first, then `roles` without repeating it"
    );
    assert_eq!(who["app"], true);
    assert_eq!(who["authenticator"], "static-token");
    // A prefix or an extension of the token is not the token.
    assert_rejected(
        &server,
        &[&format!(
            "Bearer {}",
            &STATIC_TOKEN[..STATIC_TOKEN.len() - 1]
        )],
        "token prefix",
    )
    .await;
    assert_rejected(
        &server,
        &[&format!("Bearer {STATIC_TOKEN}x")],
        "token extension",
    )
    .await;
}

struct ApiKey;

impl Authenticator for ApiKey {
    fn name(&self) -> &'static str {
        "api-key"
    }
    fn authenticate<'a>(
        &'a self,
        parts: &'a endpoint_runtime::axum::http::request::Parts,
    ) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            match parts.headers.get("x-api-key") {
                None => Outcome::Skip,
                Some(key) if key == "demo-key" => {
                    Outcome::Authenticated(Identity::new("demo").role("reporter"))
                }
                Some(key) if key == "panic" => panic!("an authenticator bug"),
                Some(_) => Outcome::Invalid("unknown API key".into()),
            }
        })
    }
}

#[tokio::test]
async fn a_custom_authenticator_joins_the_chain() {
    let server = start_app(App::new().config(hs256_config()).authenticator(ApiKey)).await;
    let response = client()
        .get(server.url("/auth/whoami"))
        .header("x-api-key", "demo-key")
        .send()
        .await
        .unwrap();
    let who = json(&response.text().await.unwrap());
    assert_eq!(
        (who["user"].as_str(), who["authenticator"].as_str()),
        (Some("demo"), Some("api-key"))
    );
    let response = client()
        .get(server.url("/auth/whoami"))
        .header("x-api-key", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // A panicking authenticator is a 500 with a request id, like a panicking handler.
    let response = client()
        .get(server.url("/auth/whoami"))
        .header("x-api-key", "panic")
        .send()
        .await
        .unwrap();
    crate::support::assert_internal_error(response, "authenticator bug").await;
    // The built-in authenticators still work behind it.
    let token = hs256(&valid_claims());
    assert_eq!(
        call(&server, "/auth/whoami", &[&format!("Bearer {token}")])
            .await
            .status()
            .as_u16(),
        200
    );
}

/// An application authenticator that never decides on `x-auth: hang` and takes 500 ms to
/// accept `x-auth: slow`.
struct Stalling;

impl Authenticator for Stalling {
    fn name(&self) -> &'static str {
        "stalling"
    }
    fn authenticate<'a>(
        &'a self,
        parts: &'a endpoint_runtime::axum::http::request::Parts,
    ) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            match parts.headers.get("x-auth").map(|v| v.as_bytes()) {
                Some(b"hang") => std::future::pending().await,
                Some(b"slow") => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Outcome::Authenticated(Identity::new("slowpoke"))
                }
                _ => Outcome::Skip,
            }
        })
    }
}

#[tokio::test]
async fn application_authenticators_run_under_the_request_timeout() {
    let mut config = test_config();
    config.request_timeout = Duration::from_secs(1);
    let server = start_app(App::new().config(config).authenticator(Stalling)).await;
    let get = |path: &str, auth: Option<&str>| {
        let mut request = client().get(server.url(path));
        if let Some(auth) = auth {
            request = request.header("x-auth", auth);
        }
        async move {
            // The client's own 10 s timeout bounds a request the server never answers.
            let response = request.send().await.expect("the server answers");
            let status = response.status().as_u16();
            let mut body = json(&response.text().await.unwrap());
            body["data"]["request_id"] = Value::Null;
            (status, body)
        }
    };
    // An authenticator that hangs is cut at the timeout, with a handler's 503.
    let started = std::time::Instant::now();
    let (status, hung) = get("/auth/whoami", Some("hang")).await;
    assert_eq!(status, 503, "{hung}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(hung["code"], "REQUEST_TIMEOUT");
    // The clock started in the authenticator goes on into the handler: 500 ms of
    // authentication and the 800 ms `/slow` handler are over the 1 s limit together, though
    // each is under it alone. That 503 is the handler's, and the hung authenticator's is the
    // same answer.
    let (status, handler) = get("/slow", Some("slow")).await;
    assert_eq!((status, &handler), (503, &hung));
    assert_eq!(
        client()
            .get(server.url("/slow"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "finished"
    );
}

#[tokio::test]
async fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
    let untrusted = start_with(test_config()).await;
    let response = client()
        .get(untrusted.url("/auth/whoami"))
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json(&response.text().await.unwrap())["ip"],
        "127.0.0.1",
        "a spoofed X-Forwarded-For is ignored"
    );

    let mut config = test_config();
    config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let behind_proxy = start_with(config).await;
    let response = client()
        .get(behind_proxy.url("/auth/whoami"))
        .header("x-forwarded-for", "203.0.113.7")
        .header("user-agent", "probe/1.0")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    let who = json(&response.text().await.unwrap());
    assert_eq!(who["ip"], "203.0.113.7");
    assert_eq!(who["user_agent"], "probe/1.0");
    assert_eq!(who["origin"], "https://app.example.com");
}
