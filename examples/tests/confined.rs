//! Confined endpoints over real HTTP, against the `sandbox-lab` example: every escape attempt
//! is contained while the server keeps answering other requests, and every outbound
//! allowlist bypass is refused while an "evil" server on 127.0.0.1 records no connection.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Running, TempDir, spawn, terminate};

/// A server on 127.0.0.1 that counts the connections it accepts and answers each with
/// `respond(path)` (status line and headers, without the final blank line).
struct Recorder {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Recorder {
    fn start(port: u16, respond: fn(&str) -> String) -> Recorder {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the recorder");
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let _ = write!(
                    stream,
                    "{}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    respond(&path)
                );
            }
        });
        Recorder { port, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn lab(env: &[(&str, &str)]) -> Running {
    let mut all = vec![
        ("ENDPOINT_CONFINED_TIMEOUT", "2s"),
        ("ENDPOINT_CONFINED_MEMORY", "128MiB"),
        ("ENDPOINT_CONFINED_WORKERS", "2"),
    ];
    all.extend_from_slice(env);
    spawn("sandbox-lab", &all)
}

async fn get(server: &Running, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", server.base))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The server still answers a normal endpoint and a confined one.
async fn still_serving(server: &Running, after: &str) {
    assert_eq!(
        get(server, "/lab/health").await,
        (200, Value::String("ok".into())),
        "after {after}"
    );
    let (status, body) = get(server, "/lab/echo/ann?x=1").await;
    assert_eq!(status, 200, "after {after}: {body}");
    assert_eq!(body["params"]["name"], "ann", "after {after}");
}

#[tokio::test]
async fn every_escape_attempt_is_contained_and_the_server_keeps_serving() {
    let evil = Recorder::start(0, |_| "HTTP/1.1 200 OK".into());
    let dir = TempDir::new("confined-secret");
    let secret = dir.0.join("secret.txt");
    std::fs::write(&secret, "the server can read this").unwrap();
    let server = lab(&[]);

    // The request data reaches the handler; its log line reaches the server.
    let (status, body) = get(&server, "/lab/echo/ann?x=1").await;
    assert_eq!(status, 200);
    assert_eq!(body["method"], "GET");
    assert_eq!(body["path"], "/lab/echo/ann");
    assert_eq!(body["query"]["x"], "1");
    assert_eq!(body["body"], Value::Null);

    let attempts = [
        (
            format!("/lab/read-file?path={}", secret.display()),
            "read a file",
        ),
        (
            "/lab/read-file?path=/etc/passwd".to_string(),
            "read /etc/passwd",
        ),
        (
            format!("/lab/connect?addr=127.0.0.1:{}", evil.port),
            "open a TCP connection",
        ),
        ("/lab/spawn".to_string(), "start a process"),
    ];
    for (path, what) in &attempts {
        let (status, body) = get(&server, path).await;
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(body["outcome"], "blocked", "{what} must be blocked: {body}");
        still_serving(&server, what).await;
    }
    assert_eq!(evil.connections(), 0, "the worker reached the evil server");

    // Memory past the limit: the worker dies, the caller gets 500, a new worker serves on.
    let (status, body) = get(&server, "/lab/allocate?mib=512").await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body["data"]["request_id"].is_string(),
        "5xx carries the request id: {body}"
    );
    still_serving(&server, "a worker out of memory").await;

    // A panic: 500 without the panic message, and the next call works.
    let (status, body) = get(&server, "/lab/panic").await;
    assert_eq!(status, 500);
    assert!(
        !body.to_string().contains("gave up"),
        "no internals in the body: {body}"
    );
    still_serving(&server, "a panic").await;

    // An endless loop: 503 at the limit, while other requests are answered meanwhile.
    let base = server.base.clone();
    let started = Instant::now();
    let looping = tokio::spawn(async move {
        reqwest::get(format!("{base}/lab/loop"))
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    still_serving(&server, "a loop that is still running").await;
    assert!(!looping.is_finished(), "served while the loop ran");
    assert_eq!(looping.await.unwrap(), 503);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(6),
        "503 at the 2 s limit, not {elapsed:?}"
    );
    still_serving(&server, "a worker killed at the time limit").await;

    terminate(server);
}

#[tokio::test]
async fn outbound_allowlist_bypasses_are_refused() {
    let evil = Recorder::start(0, |_| "HTTP/1.1 200 OK".into());
    // The declared name `localhost:39872` resolves to loopback: it must not be reached either.
    let evil_by_name = Recorder::start(39872, |_| "HTTP/1.1 200 OK".into());
    let upstream = Recorder::start(39871, |path| {
        if path == "/redirect" {
            format!(
                "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{}/stolen",
                EVIL_PORT.load(Ordering::SeqCst)
            )
        } else {
            "HTTP/1.1 200 OK".into()
        }
    });
    EVIL_PORT.store(evil.port as usize, Ordering::SeqCst);
    let server = lab(&[]);
    let e = evil.port;
    let u = upstream.port;

    let fetch = |url: String| {
        let server = &server;
        async move {
            let query = format!("/lab/fetch?url={}", urlencode(&url));
            let (status, body) = get(server, &query).await;
            assert_eq!(status, 200, "{url}: {body}");
            body
        }
    };

    // The positive control: the declared origin, written in other case, is reached.
    let body = fetch(format!("HTTP://127.0.0.1:{u}/ok")).await;
    assert_eq!(body["outcome"], "sent", "{body}");
    assert_eq!(body["status"], 200);
    assert_eq!(upstream.connections(), 1);
    // Another numeric form of the declared address is the same origin.
    let body = fetch(format!("http://2130706433:{u}/ok")).await;
    assert_eq!(body["outcome"], "sent", "{body}");

    let bypasses = [
        (
            format!("http://127.0.0.1:{u}@127.0.0.1:{e}/"),
            "user info naming the allowed origin",
        ),
        (
            format!("http://user:pw@127.0.0.1:{u}/"),
            "user info on the allowed origin",
        ),
        (format!("http://127.0.0.1:{e}/"), "port mismatch"),
        (format!("https://127.0.0.1:{u}/"), "scheme mismatch"),
        (
            format!("HTTP://127.0.0.1.:{e}/"),
            "case and trailing-dot variant",
        ),
        (
            format!("http://LOCALHOST.:{e}/"),
            "case and trailing-dot name",
        ),
        (
            format!("http://127.0.0.1:{u}.evil.test/"),
            "origin as a prefix of another host",
        ),
        (format!("http://2130706433:{e}/"), "decimal IPv4"),
        (format!("http://0177.0.0.1:{e}/"), "octal IPv4"),
        (format!("http://0x7f.1:{e}/"), "hexadecimal IPv4"),
        (
            format!("http://[::ffff:127.0.0.1]:{e}/"),
            "IPv4-mapped IPv6",
        ),
        (
            format!("http://[::ffff:7f00:1]:{e}/"),
            "IPv4-mapped IPv6, hex",
        ),
        (
            "http://localhost:39872/".to_string(),
            "a declared name resolving to loopback",
        ),
        ("file:///etc/passwd".to_string(), "another scheme"),
        ("not a url".to_string(), "not a URL"),
    ];
    for (url, what) in &bypasses {
        let body = fetch(url.clone()).await;
        assert_eq!(
            body["outcome"], "refused",
            "{what} ({url}) must be refused: {body}"
        );
    }

    // A redirect from the allowed origin is returned as is, never followed.
    let body = fetch(format!("http://127.0.0.1:{u}/redirect")).await;
    assert_eq!(body["outcome"], "sent", "{body}");
    assert_eq!(body["status"], 302);
    assert_eq!(body["location"], format!("http://127.0.0.1:{e}/stolen"));

    // Capabilities that were not declared are refused, not silently allowed.
    let before = upstream.connections();
    let (status, body) = get(&server, "/lab/undeclared").await;
    assert_eq!(status, 200);
    assert!(
        body["log"].as_str().unwrap().contains("not declared"),
        "{body}"
    );
    assert!(
        body["request"].as_str().unwrap().contains("not declared"),
        "{body}"
    );
    assert_eq!(upstream.connections(), before);

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(evil.connections(), 0, "the evil server was reached");
    assert_eq!(
        evil_by_name.connections(),
        0,
        "the loopback name was reached"
    );
    terminate(server);
}

static EVIL_PORT: AtomicUsize = AtomicUsize::new(0);

#[tokio::test]
async fn access_is_checked_by_the_server_with_the_callers_accountability() {
    const SECRET: &str = "sandbox-lab-secret-0123456789abcdef0123";
    let server = lab(&[("ENDPOINT_JWT_SECRET", SECRET)]);
    let (status, body) = get(&server, "/lab/private").await;
    assert_eq!(status, 401, "anonymous: {body}");
    let token = support::token("sandbox-lab", SECRET, &["--user", "ann"]);
    let response = reqwest::Client::new()
        .get(format!("{}/lab/private", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = reqwest::Client::new()
        .get(format!("{}/lab/private", server.base))
        .bearer_auth("not-a-valid-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "an invalid token is not anonymous");
    terminate(server);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn the_route_table_marks_confined_endpoints_and_bad_settings_are_named() {
    let output = std::process::Command::new(support::example("sandbox-lab"))
        .arg("routes")
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("public (confined: log)"), "{table}");
    assert!(
        table
            .contains("public (confined: request=[http://127.0.0.1:39871 http://localhost:39872])"),
        "{table}"
    );
    let output = std::process::Command::new(support::example("sandbox-lab"))
        .env("ENDPOINT_CONFINED_HARDENING", "maybe")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ENDPOINT_CONFINED_HARDENING"), "{stderr}");
}
