//! The showcase over real HTTP: every endpoint of the seed documents, on SQLite and (when
//! `ENDPOINT_TEST_POSTGRES_URL` names a server, as `.ci/run` sets it) on PostgreSQL, plus a
//! restart that must lose nothing and seed nothing twice.

mod support;

use endpoint_runtime::sqlx;
use reqwest::Method;
use serde_json::{Value, json};
use support::{Running, TempDir, example, spawn_in, terminate};

const SECRET: &str = "showcase-secret-0123456789abcdef0123";

fn token(args: &[&str]) -> String {
    support::token("showcase", SECRET, args)
}

/// The databases to run against: `(label, ENDPOINT_DATABASE_URL)`.
async fn databases(dir: &TempDir) -> Vec<(&'static str, String)> {
    let mut out = vec![(
        "sqlite",
        format!("sqlite://{}/showcase.db", dir.0.display()),
    )];
    if let Ok(admin) = std::env::var("ENDPOINT_TEST_POSTGRES_URL") {
        let pool = sqlx::PgPool::connect(&admin)
            .await
            .expect("ENDPOINT_TEST_POSTGRES_URL is reachable");
        let name = format!(
            "showcase_{}_{}",
            std::process::id(),
            dir.0
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace('-', "_")
                // Unquoted, PostgreSQL folds the name to lower case.
                .to_ascii_lowercase()
        );
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .unwrap();
        let (base, _) = admin.rsplit_once('/').unwrap();
        out.push(("postgres", format!("{base}/{name}")));
    }
    out
}

struct Showcase {
    running: Running,
    client: reqwest::Client,
}

impl Showcase {
    fn start(url: &str, dir: &TempDir) -> Self {
        let running = spawn_in(
            "showcase",
            &[
                ("ENDPOINT_DATABASE_URL", url),
                ("ENDPOINT_JWT_SECRET", SECRET),
            ],
            Some(&dir.0),
        );
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Showcase { running, client }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.running.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let (status, _, body) = self.call(Method::GET, path, None, None).await;
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    /// The audit log once it has `rows` rows (the durable hook writes them after the commit,
    /// from the outbox), or what it has after 10 seconds.
    async fn audit_rows(&self, token: &str, rows: usize) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (status, audit) = self.json(Method::GET, "/audit-log", Some(token)).await;
            assert_eq!(status, 200, "{audit}");
            if audit.as_array().unwrap().len() >= rows || std::time::Instant::now() > deadline {
                return audit;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The live audit log as `token`, resuming after `last` (`Last-Event-ID`).
    async fn live(&self, token: &str, last: Option<&str>) -> reqwest::Response {
        let mut request = self
            .client
            .get(format!("{}/audit-log/live", self.running.base))
            .bearer_auth(token);
        if let Some(last) = last {
            request = request.header("last-event-id", last);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        response
    }

    async fn json(&self, method: Method, path: &str, token: Option<&str>) -> (u16, Value) {
        let (status, _, body) = self.call(method, path, token, None).await;
        (
            status,
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: not JSON: {body}")),
        )
    }
}

#[tokio::test]
async fn every_seed_endpoint_on_every_database() {
    let dir = TempDir::new("showcase");
    let ann = token(&["--user", "ann", "--role", "author"]);
    let bob = token(&["--user", "bob", "--role", "author"]);
    let eve = token(&["--user", "eve", "--role", "editor"]);
    let rob = token(&["--user", "rob", "--role", "reader"]);
    let root = token(&["--user", "root", "--admin"]);
    for (label, url) in databases(&dir).await {
        let app = Showcase::start(&url, &dir);

        // Directus / CairnCMS greet.
        assert_eq!(
            app.get("/greet").await,
            (200, json!("Hello, World!")),
            "{label}"
        );
        assert_eq!(
            app.get("/greet/intro").await,
            (200, json!("Nice to meet you.")),
            "{label}"
        );
        assert_eq!(
            app.get("/greet/goodbye").await,
            (200, json!("Goodbye!")),
            "{label}"
        );

        // Recipes: top 10 by views, highest first.
        let (status, recipes) = app.get("/recipes/popular").await;
        assert_eq!(status, 200, "{label}");
        let recipes = recipes.as_array().unwrap();
        assert_eq!(recipes.len(), 10, "{label}");
        assert_eq!(
            recipes[0],
            json!({ "id": 7, "title": "Tacos al pastor", "views": 4100 }),
            "{label}"
        );
        let views: Vec<i64> = recipes
            .iter()
            .map(|r| r["views"].as_i64().unwrap())
            .collect();
        assert!(views.windows(2).all(|w| w[0] >= w[1]), "{label}: {views:?}");

        // Article stats: authenticated; authors see their own row, editors and admins all.
        assert_eq!(
            app.json(Method::GET, "/article-stats/by-author", None)
                .await
                .0,
            401,
            "{label}"
        );
        assert_eq!(
            app.json(Method::GET, "/article-stats/by-author", Some(&rob))
                .await
                .0,
            403,
            "{label}"
        );
        let all = json!([
            { "author_id": 1, "author": "Ann Author", "published": 2 },
            { "author_id": 2, "author": "Bob Writer", "published": 1 },
            { "author_id": 3, "author": "Cat Guest", "published": 0 },
        ]);
        assert_eq!(
            app.json(Method::GET, "/article-stats/by-author", Some(&eve))
                .await,
            (200, all.clone()),
            "{label}"
        );
        assert_eq!(
            app.json(Method::GET, "/article-stats/by-author", Some(&root))
                .await,
            (200, all),
            "{label}"
        );
        let own = json!([{ "author_id": 1, "author": "Ann Author", "published": 2 }]);
        assert_eq!(
            app.json(Method::GET, "/article-stats/by-author", Some(&ann))
                .await,
            (200, own.clone()),
            "{label}"
        );
        // The query string cannot widen what an author sees.
        assert_eq!(
            app.json(
                Method::GET,
                "/article-stats/by-author?author_id=2&all=true",
                Some(&ann)
            )
            .await,
            (200, own),
            "{label}"
        );

        // Directus's `/items` REST face, under the same `permissions.toml`.
        let (status, body) = app
            .json(
                Method::GET,
                "/items/recipes?sort=-views&limit=1&fields=title",
                None,
            )
            .await;
        assert_eq!(
            (status, &body["data"]),
            (200, &json!([{ "title": "Tacos al pastor" }])),
            "{label}"
        );
        let (_, body) = app
            .json(Method::GET, "/items/articles?fields=id&sort=id", None)
            .await;
        assert_eq!(
            body["data"],
            json!([{ "id": 1 }, { "id": 2 }, { "id": 4 }]),
            "{label}"
        );
        assert_eq!(
            app.json(Method::GET, "/items/authors", None).await.0,
            403,
            "{label}"
        );
        let (_, body) = app
            .json(Method::GET, "/items/authors?fields=id,name", Some(&ann))
            .await;
        assert_eq!(
            body["data"],
            json!([{ "id": 1, "name": "Ann Author" }]),
            "{label}"
        );
        let (_, body) = app
            .json(
                Method::GET,
                "/items/articles?filter[status][_eq]=draft&fields=title",
                Some(&ann),
            )
            .await;
        assert_eq!(
            body["data"],
            json!([{ "title": "A draft by Ann" }]),
            "{label}"
        );

        // Factor.
        let (status, _, body) = app
            .call(
                Method::POST,
                "/my-endpoint-path/hello",
                None,
                Some(json!({ "a": [1, 2] })),
            )
            .await;
        assert_eq!(status, 200, "{label}");
        assert_eq!(
            body, r#"{"status":"success","data":{"foo":"bar","param":"hello","args":{"a":[1,2]}}}"#,
            "{label}"
        );

        // Astro at the root.
        assert_eq!(
            app.get("/builtwith.json").await,
            (
                200,
                json!({ "name": "Astro", "url": "https://astro.build/" })
            ),
            "{label}"
        );
        for (method, message) in [
            (Method::GET, "This was a GET!"),
            (Method::POST, "This was a POST!"),
            (Method::DELETE, "This was a DELETE!"),
            (Method::PATCH, "This was a PATCH!"),
            (Method::PUT, "This was a PUT!"),
        ] {
            assert_eq!(
                app.json(method, "/methods.json", None).await,
                (200, json!({ "message": message })),
                "{label}"
            );
        }
        let (status, _, body) = app
            .call(
                Method::POST,
                "/test-post.json",
                None,
                Some(json!({ "name": "Ada" })),
            )
            .await;
        assert_eq!(
            (status, body.as_str()),
            (200, r#"{"message":"Your name was: Ada"}"#),
            "{label}"
        );
        let (status, _, _) = app
            .client
            .post(format!("{}/test-post.json", app.running.base))
            .body("name=Ada")
            .send()
            .await
            .map(|r| (r.status().as_u16(), (), ()))
            .unwrap();
        assert_eq!(status, 400, "{label}: not JSON");
        let (status, headers, _) = app.call(Method::GET, "/links/astro", None, None).await;
        assert_eq!(
            (status, headers["location"].to_str().unwrap()),
            (307, "https://astro.build/"),
            "{label}"
        );
        assert_eq!(app.get("/links/nowhere").await.0, 404, "{label}");
        let product = json!({ "id": 2, "name": "Rust mug", "price": 12.5, "description": "Holds coffee, fearlessly." });
        assert_eq!(app.get("/products/2").await, (200, product), "{label}");
        assert_eq!(app.get("/products/99").await.0, 404, "{label}");
        assert_eq!(app.get("/products/abc").await.0, 400, "{label}");

        // The live audit log: admins only, refused before any event; opened before anything
        // is published, it sends each row as it is written.
        // (Bounded: were the check gone, these would be streams that do not end.)
        let within = |future| tokio::time::timeout(std::time::Duration::from_secs(10), future);
        let anonymous = within(app.call(Method::GET, "/audit-log/live", None, None));
        assert_eq!(anonymous.await.expect("an answer").0, 401, "{label}");
        let editor = within(app.call(Method::GET, "/audit-log/live", Some(&eve), None));
        assert_eq!(editor.await.expect("an answer").0, 403, "{label}");
        let mut live = app.live(&root, None).await;

        // Publishing: editors and admins; the durable hook writes the audit row after the
        // commit.
        assert_eq!(
            app.json(Method::POST, "/articles/3/publish", None).await.0,
            401,
            "{label}"
        );
        assert_eq!(
            app.json(Method::POST, "/articles/3/publish", Some(&ann))
                .await
                .0,
            403,
            "{label}"
        );
        let (status, body) = app
            .json(Method::POST, "/articles/3/publish", Some(&eve))
            .await;
        assert_eq!(
            (status, body),
            (
                200,
                json!({ "status": "success", "data": { "id": 3, "status": "published", "published_by": "eve" } })
            ),
            "{label}"
        );
        assert_eq!(
            app.json(Method::POST, "/articles/3/publish", Some(&eve))
                .await
                .0,
            409,
            "{label}: already published"
        );
        assert_eq!(
            app.json(Method::POST, "/articles/999/publish", Some(&root))
                .await
                .0,
            404,
            "{label}"
        );
        assert_eq!(
            app.json(Method::POST, "/articles/5/publish", Some(&root))
                .await
                .0,
            200,
            "{label}: admins pass roles"
        );
        assert_eq!(
            app.json(Method::GET, "/audit-log", Some(&eve)).await.0,
            403,
            "{label}"
        );
        let audit = app.audit_rows(&root, 2).await;
        let subjects: Vec<(&str, &str)> = audit
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["subject"].as_str().unwrap(), e["actor"].as_str().unwrap()))
            .collect();
        assert_eq!(
            subjects,
            vec![("article:5", "root"), ("article:3", "eve")],
            "{label}"
        );
        let events = next_events(&mut live, 2).await;
        let streamed: Vec<(&str, &str, String)> = events
            .iter()
            .map(|(id, data)| {
                (
                    id.as_str(),
                    data["subject"].as_str().unwrap(),
                    data["id"].to_string(),
                )
            })
            .collect();
        assert_eq!(
            streamed,
            vec![
                (
                    audit[1]["id"].to_string().as_str(),
                    "article:3",
                    audit[1]["id"].to_string()
                ),
                (
                    audit[0]["id"].to_string().as_str(),
                    "article:5",
                    audit[0]["id"].to_string()
                ),
            ],
            "{label}: the rows, oldest first, each with its id"
        );
        drop(live);
        // Reconnecting after the first event: the stream resumes with the second.
        let mut resumed = app.live(&root, Some(&events[0].0)).await;
        let again = next_events(&mut resumed, 1).await;
        assert_eq!(again[0].1["subject"], "article:5", "{label}");
        drop(resumed);
        // Ann's stats now count the newly published article.
        let (_, stats) = app
            .json(Method::GET, "/article-stats/by-author", Some(&ann))
            .await;
        assert_eq!(stats[0]["published"], 3, "{label}");
        let (_, stats) = app
            .json(Method::GET, "/article-stats/by-author", Some(&bob))
            .await;
        assert_eq!(
            stats,
            json!([{ "author_id": 2, "author": "Bob Writer", "published": 2 }]),
            "{label}"
        );

        // Restart: the data stays, the seed does not run twice.
        terminate(app.running);
        let app = Showcase::start(&url, &dir);
        let (_, audit) = app.json(Method::GET, "/audit-log", Some(&root)).await;
        assert_eq!(
            audit.as_array().unwrap().len(),
            2,
            "{label}: audit rows survive a restart"
        );
        let (_, recipes) = app.get("/recipes/popular").await;
        assert_eq!(recipes.as_array().unwrap().len(), 10, "{label}");
        let (_, stats) = app
            .json(Method::GET, "/article-stats/by-author", Some(&eve))
            .await;
        assert_eq!(
            stats.as_array().unwrap().len(),
            3,
            "{label}: authors not seeded twice"
        );
        assert_eq!(
            app.json(Method::POST, "/articles/3/publish", Some(&eve))
                .await
                .0,
            409,
            "{label}: still published"
        );
        terminate(app.running);
    }
}

/// Astro's `test-post.json` reads its body through an extractor of its own that answers every
/// failure with 400. A body over `ENDPOINT_BODY_LIMIT` (1 MiB by default) is still 413 in the
/// envelope: with a length (1.1 MB), chunked (2 MB), and announced with `Expect: 100-continue`,
/// refused before the client sends it.
#[tokio::test]
async fn test_post_answers_an_oversized_body_with_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = TempDir::new("showcase-body-limit");
    let running = spawn_in("showcase", &[], Some(&dir.0));
    let addr = running.base.trim_start_matches("http://").to_string();
    let limit = 1024 * 1024;
    let too_large = json!({
        "status": "fail",
        "data": {
            "code": "PAYLOAD_TOO_LARGE",
            "message": format!("the request body is larger than the limit of {limit} bytes (ENDPOINT_BODY_LIMIT)"),
            "details": { "limit": limit },
        },
    });
    let named = |size: usize| {
        let mut body = br#"{"name":""#.to_vec();
        body.resize(size - 2, b'a');
        body.extend_from_slice(br#""}"#);
        body
    };

    let response = reqwest::Client::new()
        .post(format!("{}/test-post.json", running.base))
        .header("content-type", "application/json")
        .body(named(1_100_000))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413, "fixed length");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, too_large, "fixed length");

    // One response off a raw socket: its head and its body (by `Content-Length`).
    async fn read_response(reader: &mut (impl AsyncReadExt + Unpin)) -> (String, Value) {
        let read = async {
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if buffer.len() >= end + 4 + length {
                        let body =
                            serde_json::from_slice(&buffer[end + 4..end + 4 + length]).unwrap();
                        return (head, body);
                    }
                }
                let read = reader.read(&mut chunk).await.unwrap();
                assert!(
                    read > 0,
                    "closed early: {}",
                    String::from_utf8_lossy(&buffer)
                );
                buffer.extend_from_slice(&chunk[..read]);
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), read)
            .await
            .expect("a response within 10 s")
    }

    // Chunked: read until the limit trips, then refused whatever the handler said.
    let (mut reader, mut writer) = tokio::net::TcpStream::connect(&addr)
        .await
        .unwrap()
        .into_split();
    let uploading = tokio::spawn(async move {
        writer
            .write_all(b"POST /test-post.json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await?;
        for chunk in named(2_000_000).chunks(16 * 1024) {
            writer
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            writer.write_all(chunk).await?;
            writer.write_all(b"\r\n").await?;
        }
        writer.write_all(b"0\r\n\r\n").await
    });
    let (head, body) = read_response(&mut reader).await;
    assert!(head.starts_with("HTTP/1.1 413 "), "chunked: {head}");
    assert_eq!(body, too_large, "chunked");
    // The server stops reading: the rest of the upload may fail, which is expected.
    let _ = uploading.await.unwrap();

    // `Expect: 100-continue`: the 413 comes first, and no `100 Continue`.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"POST /test-post.json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1100000\r\nExpect: 100-continue\r\n\r\n")
        .await
        .unwrap();
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 413 "), "expect: {head}");
    assert!(!head.contains("100 Continue"), "expect: {head}");
    assert_eq!(body, too_large, "expect");

    // A body within the limit is still read.
    let response = reqwest::Client::new()
        .post(format!("{}/test-post.json", running.base))
        .header("content-type", "application/json")
        .body(named(limit))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    terminate(running);
}

#[tokio::test]
async fn with_no_configuration_it_creates_its_sqlite_file() {
    let dir = TempDir::new("showcase-default");
    let running = spawn_in("showcase", &[], Some(&dir.0));
    assert!(
        dir.0.join("showcase.db").exists(),
        "the default database file is created in the working directory"
    );
    let response = reqwest::get(format!("{}/products/1", running.base))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // Without ENDPOINT_JWT_SECRET, protected endpoints answer 401 (no token can be valid).
    let response = reqwest::get(format!("{}/article-stats/by-author", running.base))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    terminate(running);
}

/// `showcase build --out dist`, as the README shows it: Astro's `builtwith.json`, the three
/// usernames and the binary pixel are written, each equal to what `serve` answers for the same
/// URL, and a second build gives identical bytes.
#[tokio::test]
async fn build_prerenders_what_serve_answers() {
    let dir = TempDir::new("showcase-build");
    let build = || {
        let output = std::process::Command::new(example("showcase"))
            .args(["build", "--out", "dist"])
            .current_dir(&dir.0)
            .env("RUST_LOG", "warn")
            .env_remove("ENDPOINT_DATABASE_URL")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    let printed = build();
    let files = [
        ("/builtwith.json", "builtwith.json"),
        ("/api/0.json", "api/0.json"),
        ("/api/1.json", "api/1.json"),
        ("/api/2.json", "api/2.json"),
        ("/pixel.png", "pixel.png"),
    ];
    for (url, file) in files {
        assert!(
            printed.contains(&format!("GET {url} -> {file} (")),
            "progress names {url}: {printed}"
        );
    }
    assert!(printed.contains("wrote 5 file(s)"), "{printed}");
    let dist = dir.0.join("dist");
    let first: Vec<Vec<u8>> = files
        .iter()
        .map(|(_, file)| std::fs::read(dist.join(file)).unwrap())
        .collect();
    assert_eq!(first[1], br#"{"name":"Sarah"}"#);
    assert_eq!(first[3], br#"{"name":"Dan"}"#);
    assert!(
        first[4].starts_with(b"\x89PNG\r\n\x1a\n"),
        "the PNG is written unchanged"
    );

    let server = spawn_in("showcase", &[], Some(&dir.0));
    let http = reqwest::Client::new();
    for ((url, file), written) in files.iter().zip(&first) {
        let live = http
            .get(format!("{}{url}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(live.status(), 200, "GET {url}");
        assert_eq!(
            live.bytes().await.unwrap().as_ref(),
            written.as_slice(),
            "{file} equals GET {url}"
        );
    }
    // The suffix is part of the route: without it, or past the list, 404.
    for (url, code) in [("/api/0", "ROUTE_NOT_FOUND"), ("/api/3.json", "NOT_FOUND")] {
        let live = http
            .get(format!("{}{url}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(live.status(), 404, "GET {url}");
        let body: serde_json::Value = live.json().await.unwrap();
        assert_eq!(body["data"]["code"], code, "GET {url}: {body}");
    }
    terminate(server);

    build();
    let second: Vec<Vec<u8>> = files
        .iter()
        .map(|(_, file)| std::fs::read(dist.join(file)).unwrap())
        .collect();
    assert_eq!(first, second, "a second build gives identical bytes");
}

/// API versions and deprecation over real HTTP: `GET /catalog` is two endpoints, one until
/// 2.0 (deprecated, with `Deprecation` and `Sunset`) and one since 2.0; the `api-version`
/// header picks one (default: the newest), every answer names the version served, a header
/// that is no version or a future one is 400, and `openapi --version` documents each version.
#[tokio::test]
async fn api_versions_select_endpoints_and_deprecated_ones_say_so() {
    let dir = TempDir::new("showcase-versions");
    let running = spawn_in("showcase", &[], Some(&dir.0));
    let client = reqwest::Client::new();
    let get = |path: &str, version: Option<&str>| {
        let mut request = client.get(format!("{}{path}", running.base));
        if let Some(version) = version {
            request = request.header("api-version", version);
        }
        request.send()
    };

    let newest = get("/catalog", None).await.unwrap();
    assert_eq!(newest.status().as_u16(), 200);
    assert_eq!(newest.headers()["api-version"], "2.0");
    // The answer depends on a request header: shared caches must key on it.
    assert_eq!(newest.headers()["vary"], "api-version");
    assert!(newest.headers().get("deprecation").is_none());
    let body: Value = newest.json().await.unwrap();
    assert_eq!(body["data"]["total"], 2, "{body}");

    for version in ["1", "1.0", "1.9.9"] {
        let old = get("/catalog", Some(version)).await.unwrap();
        assert_eq!(old.status().as_u16(), 200, "{version}");
        assert_eq!(old.headers()["deprecation"], "@1782777600");
        assert_eq!(old.headers()["sunset"], "Wed, 30 Jun 2027 00:00:00 GMT");
        let body: Value = old.json().await.unwrap();
        assert_eq!(body[0]["sku"], "TEA-0001", "{version}: {body}");
    }
    // Unversioned endpoints answer every version, and name the one served.
    let intro = get("/greet/intro", Some("1.2")).await.unwrap();
    assert_eq!(
        (intro.status().as_u16(), &intro.headers()["api-version"]),
        (200, &"1.2".parse().unwrap())
    );
    for (version, code) in [
        ("3", "UNSUPPORTED_API_VERSION"),
        ("v2", "INVALID_API_VERSION"),
    ] {
        let refused = get("/catalog", Some(version)).await.unwrap();
        assert_eq!(refused.status().as_u16(), 400, "{version}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["data"]["code"], code, "{version}: {body}");
    }
    // A method the selected endpoints do not answer is 405 as anywhere.
    let post = client
        .post(format!("{}/catalog", running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 405);
    terminate(running);

    // One document per version.
    let document = |version: Option<&str>| -> Value {
        let mut command = std::process::Command::new(example("showcase"));
        command.arg("openapi");
        if let Some(version) = version {
            command.args(["--version", version]);
        }
        let output = command.output().unwrap();
        assert!(output.status.success());
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let (v1, v2) = (document(Some("1.0")), document(None));
    assert_eq!(
        (&v1["info"]["version"], &v2["info"]["version"]),
        (&json!("1.0"), &json!("2.0"))
    );
    let catalog = |doc: &Value| doc["paths"]["/catalog"]["get"].clone();
    assert_eq!(catalog(&v1)["operationId"], "catalog_v1");
    assert_eq!(catalog(&v1)["deprecated"], true);
    assert_eq!(catalog(&v1)["x-sunset"], "2027-06-30");
    assert_eq!(catalog(&v2)["operationId"], "catalog_v2");
    assert!(catalog(&v2).get("deprecated").is_none());
    // A version the API does not have yet has no document.
    let future = std::process::Command::new(example("showcase"))
        .args(["openapi", "--version", "9"])
        .output()
        .unwrap();
    assert!(!future.status.success());
    assert!(String::from_utf8_lossy(&future.stderr).contains("this API's newest version is 2.0"));
    // Everything else is in both.
    assert!(v1["paths"]["/orders"].is_object() && v2["paths"]["/orders"].is_object());
}

/// The next `count` events of a server-sent-events `response` (keep-alive comments skipped),
/// as (id, data parsed as JSON); fails after 10 seconds.
async fn next_events(response: &mut reqwest::Response, count: usize) -> Vec<(String, Value)> {
    let read = async {
        let mut text = String::new();
        let mut events = Vec::new();
        while events.len() < count {
            let chunk = response.chunk().await.unwrap().expect("the stream goes on");
            text.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(end) = text.find("\n\n") {
                let event: String = text.drain(..end + 2).collect();
                let field = |name: &str| {
                    event
                        .lines()
                        .find_map(|line| line.strip_prefix(name))
                        .map(str::to_string)
                };
                if let (Some(id), Some(data)) = (field("id: "), field("data: ")) {
                    assert_eq!(field("event: ").as_deref(), Some("audit"), "{event}");
                    events.push((id, serde_json::from_str(&data).unwrap()));
                }
            }
        }
        events
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("the events within 10 s")
}
