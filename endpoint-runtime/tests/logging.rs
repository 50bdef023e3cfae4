//! Every line logged while a request is served carries the request's fields: its id, method,
//! path and, once routed, the endpoint id. That is what lets a 5xx body's request id be found
//! in the logs.
//!
//! A test binary of its own: `tracing`'s level and interest caches are global to the process,
//! so a subscriber set by one test must not race with the subscribers and callsites of others.

use std::sync::{Arc, Mutex};

use endpoint_runtime::prelude::*;
use endpoint_runtime::testing::TestClient;
use tracing_subscriber::fmt::MakeWriter;

#[endpoint(id = "errors", route = "/internal")]
async fn internal() -> Result<String, EndpointError> {
    Err(std::io::Error::other("connection to db:5432 refused"))?
}

#[endpoint(id = "errors", route = "/panic")]
async fn panics() -> &'static str {
    panic!("a handler bug")
}

/// An error with a source, to build chains.
#[derive(Debug)]
struct Layer(&'static str, Option<std::io::Error>);

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Layer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.1.as_ref().map(|e| e as _)
    }
}

/// An I/O error two causes deep: `pool exhausted`, caused by the refused connection.
#[endpoint(id = "errors", route = "/chained")]
async fn chained() -> Result<String, EndpointError> {
    let refused = std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "connection to db-7.internal:5432 refused",
    );
    Err(std::io::Error::other(Layer(
        "pool exhausted",
        Some(refused),
    )))?
}

#[endpoint(id = "errors", route = "/unavailable")]
async fn unavailable() -> Result<String, EndpointError> {
    Err(EndpointError::service_unavailable(
        "replica db-7.internal is down",
    ))
}

#[endpoint(id = "errors", route = "/custom")]
async fn custom() -> Result<String, EndpointError> {
    Err(EndpointError::new(
        endpoint_runtime::axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "LEDGER_BROKEN",
        "ledger row 7 of tenant acme is corrupt",
    ))
}

/// Logs inside a span of its own.
#[endpoint(id = "errors", route = "/nested")]
async fn nested() -> &'static str {
    let span = tracing::info_span!("work", step = 1);
    let _entered = span.enter();
    tracing::info!("working");
    "done"
}

#[endpoint(id = "errors", route = "/recovered")]
async fn recovered() -> &'static str {
    // An error made and dropped is not a failed request: nothing is logged.
    let _ = EndpointError::internal("a fallback was used");
    "recovered"
}

/// `tracing`'s callsite interest is global: the tests of this binary run one at a time, so
/// that each sees only its own subscriber.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The text format as `run` installs it, at `INFO`, without time or colours.
/// The JSON format (`ENDPOINT_LOG_FORMAT=json`), whose span fields are written by
/// `logging::JsonFields`, at `info`.
fn json_format(lines: Lines) -> impl tracing::Subscriber + Send + Sync + 'static {
    tracing_subscriber::fmt()
        .json()
        .fmt_fields(endpoint_runtime::logging::JsonFields)
        .without_time()
        .with_max_level(tracing::Level::INFO)
        .with_writer(lines)
        .finish()
}

/// An application's subscriber with the runtime's lines (`logging::layer`), at `INFO`.
fn runtime_text(lines: Lines) -> Box<dyn tracing::Subscriber + Send + Sync> {
    use tracing_subscriber::prelude::*;
    Box::new(
        tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::INFO)
            .with(endpoint_runtime::logging::layer(
                endpoint_runtime::logging::LogFormat::Text,
                lines,
            )),
    )
}

/// The same in the JSON format.
fn runtime_json(lines: Lines) -> Box<dyn tracing::Subscriber + Send + Sync> {
    use tracing_subscriber::prelude::*;
    Box::new(
        tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::INFO)
            .with(endpoint_runtime::logging::layer(
                endpoint_runtime::logging::LogFormat::Json,
                lines,
            )),
    )
}

/// An application's own subscriber with tracing-subscriber's formatters and the runtime's
/// field formatters: the pipeline makes a `request` span, which it writes as any span.
fn own_text(lines: Lines) -> Box<dyn tracing::Subscriber + Send + Sync> {
    Box::new(text_format(lines))
}

fn own_json(lines: Lines) -> Box<dyn tracing::Subscriber + Send + Sync> {
    Box::new(json_format(lines))
}

fn text_format(lines: Lines) -> impl tracing::Subscriber + Send + Sync + 'static {
    tracing_subscriber::fmt()
        .fmt_fields(endpoint_runtime::logging::Fields)
        .with_ansi(false)
        .without_time()
        .with_max_level(tracing::Level::INFO)
        .with_writer(lines)
        .finish()
}

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Lines;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// One request of a test: path, `x-request-id`, an optional `Authorization`, the status it
/// must get.
type Call<'a> = (&'a str, &'a str, Option<&'a str>, u16);

/// Serves `calls` with the subscriber `make` builds around a fresh [`Lines`] as this thread's
/// default (the test's current-thread runtime polls every request here), checks each status,
/// and returns what was logged.
async fn logged<S>(client: &TestClient, make: impl FnOnce(Lines) -> S, calls: &[Call<'_>]) -> String
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    let lines = Lines::default();
    let _guard = tracing::subscriber::set_default(make(lines.clone()));
    for &(path, request_id, authorization, status) in calls {
        let mut request = client.get(path).header("x-request-id", request_id);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        assert_eq!(request.send().await.status().as_u16(), status, "{path}");
    }
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    // The runtime's text lines start with a timestamp: the rest is compared.
    text.lines()
        .map(|line| match line.split_once(' ') {
            Some((time, rest)) if time.ends_with('Z') && time.starts_with("20") => rest,
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn log_lines_carry_the_request_span() {
    let _serial = SERIAL.lock().await;
    let client = TestClient::new().await.unwrap();
    // As `run` writes them (no span), and as an application's own subscriber writes the span.
    type Make = fn(Lines) -> Box<dyn tracing::Subscriber + Send + Sync>;
    for (text_subscriber, json_subscriber) in [
        (runtime_text as Make, runtime_json as Make),
        (own_text, own_json),
    ] {
        request_fields_on_every_line(&client, text_subscriber, json_subscriber).await;
    }

    // The request's fields have a target of their own, so `RUST_LOG` can drop them and keep
    // the lines.
    use tracing_subscriber::prelude::*;
    let without_span = |lines: Lines| {
        let filter = "info,endpoint_runtime::request=off";
        tracing_subscriber::registry()
            .with(
                filter
                    .parse::<tracing_subscriber::filter::Targets>()
                    .unwrap(),
            )
            .with(endpoint_runtime::logging::layer(
                endpoint_runtime::logging::LogFormat::Text,
                lines,
            ))
    };
    let text = logged(
        &client,
        without_span,
        &[("/errors/internal", "trace-log-12", None, 500)],
    )
    .await;
    assert!(
        text.contains("request failed") && !text.contains("request{"),
        "{text}"
    );
}

/// A span the handler opens nests inside the request, in both formats.
#[tokio::test(flavor = "current_thread")]
async fn a_handlers_span_nests_inside_the_request() {
    let _serial = SERIAL.lock().await;
    let client = TestClient::new().await.unwrap();
    type Make = fn(Lines) -> Box<dyn tracing::Subscriber + Send + Sync>;
    for make in [runtime_text as Make, own_text] {
        let text = logged(&client, make, &[("/errors/nested", "nest-1", None, 200)]).await;
        let line = text
            .lines()
            .find(|line| line.contains("working"))
            .unwrap_or_else(|| panic!("no line in:\n{text}"));
        assert!(
            line.starts_with(
                " INFO request{request_id=nest-1 method=GET path=/errors/nested endpoint=errors}:work{step=1}: logging: working"
            ),
            "{line}"
        );
    }
    for make in [runtime_json as Make, own_json] {
        let text = logged(&client, make, &[("/errors/nested", "nest-2", None, 200)]).await;
        let line: serde_json::Value = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .find(|line: &serde_json::Value| line["fields"]["message"] == "working")
            .unwrap_or_else(|| panic!("no line in:\n{text}"));
        let request = serde_json::json!({
            "name": "request",
            "request_id": "nest-2",
            "method": "GET",
            "path": "/errors/nested",
            "endpoint": "errors",
        });
        let work = serde_json::json!({ "name": "work", "step": 1 });
        assert_eq!(line["span"], work, "{line}");
        assert_eq!(line["spans"], serde_json::json!([request, work]), "{line}");
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["target"], "logging", "{line}");
    }
}

/// The request's fields on the lines of the requests below, in the text and JSON formats
/// `text_subscriber` and `json_subscriber` write.
async fn request_fields_on_every_line(
    client: &TestClient,
    text_subscriber: fn(Lines) -> Box<dyn tracing::Subscriber + Send + Sync>,
    json_subscriber: fn(Lines) -> Box<dyn tracing::Subscriber + Send + Sync>,
) {
    let text = logged(
        client,
        text_subscriber,
        &[
            ("/errors/internal", "trace-log-7", None, 500),
            ("/errors/panic", "trace-log-8", None, 500),
            // A credential nobody accepts is logged before any route is involved.
            (
                "/nowhere",
                "trace-log-9",
                Some("Bearer not-a-known-token"),
                401,
            ),
        ],
    )
    .await;
    // Every line logged belongs to one of the requests, and says so.
    assert_eq!(text.lines().count(), 3, "{text}");
    for line in text.lines() {
        assert!(line.contains("request{request_id=trace-log-"), "{line}");
    }
    // The line carrying `request_id` is inside the request span `span` and says `message`.
    let assert_line = |request_id: &str, span: &str, message: &str| {
        let line = text
            .lines()
            .find(|line| line.contains(request_id))
            .unwrap_or_else(|| panic!("no line with {request_id:?} in:\n{text}"));
        assert!(
            line.contains(&format!("request{{request_id={request_id} {span}}}"))
                && line.contains(message),
            "{line}"
        );
    };
    assert_line(
        "trace-log-7",
        "method=GET path=/errors/internal endpoint=errors",
        "request failed",
    );
    assert_line(
        "trace-log-8",
        "method=GET path=/errors/panic endpoint=errors",
        "handler panicked",
    );
    assert_line(
        "trace-log-9",
        "method=GET path=/nowhere",
        "credential rejected",
    );

    // The same line in the JSON format (`ENDPOINT_LOG_FORMAT=json`), whose span fields are
    // written by `logging::JsonFields`.
    let text = logged(
        client,
        json_subscriber,
        &[("/errors/internal", "trace-log-10", None, 500)],
    )
    .await;
    let internal: serde_json::Value = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .find(|line: &serde_json::Value| line["fields"]["message"] == "request failed")
        .unwrap_or_else(|| panic!("no internal error line in:\n{text}"));
    assert_eq!(
        internal["span"],
        serde_json::json!({
            "name": "request",
            "request_id": "trace-log-10",
            "method": "GET",
            "path": "/errors/internal",
            "endpoint": "errors",
        }),
        "{internal}"
    );
    assert_eq!(internal["spans"], serde_json::json!([internal["span"]]));
}

#[tokio::test(flavor = "current_thread")]
async fn each_5xx_is_logged_once_with_its_source_chain_and_its_body_says_nothing_internal() {
    let _serial = SERIAL.lock().await;
    let client = TestClient::new().await.unwrap();
    // (path, request id, status, what the one line of the request says, what the body must
    // not say)
    let cases: [(&str, &str, u16, &[&str], &str); 5] = [
        (
            "/errors/chained",
            "five-1",
            500,
            &[
                "status=500 code=INTERNAL",
                "error=I/O error: pool exhausted: connection to db-7.internal:5432 refused",
            ],
            "db-7",
        ),
        (
            "/errors/unavailable",
            "five-2",
            503,
            &[
                "status=503 code=SERVICE_UNAVAILABLE",
                "error=replica db-7.internal is down",
            ],
            "db-7",
        ),
        (
            "/errors/custom",
            "five-3",
            500,
            &[
                "status=500 code=LEDGER_BROKEN",
                "error=ledger row 7 of tenant acme is corrupt",
            ],
            "acme",
        ),
        (
            "/errors/panic",
            "five-4",
            500,
            &[
                "status=500 code=INTERNAL",
                "error=handler panicked: a handler bug",
            ],
            "a handler bug",
        ),
        (
            "/errors/internal",
            "five-5",
            500,
            &["error=I/O error: connection to db:5432 refused"],
            "db:5432",
        ),
    ];
    let calls: Vec<Call<'_>> = cases
        .iter()
        .map(|&(path, id, status, _, _)| (path, id, None, status))
        .chain([("/errors/recovered", "five-6", None, 200)])
        .collect();
    let text = logged(&client, runtime_text, &calls).await;
    for (path, request_id, status, says, secret) in cases {
        let lines: Vec<&str> = text
            .lines()
            .filter(|line| line.contains(&format!("request_id={request_id} ")))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "{path}: one line, not {lines:#?}\nin:\n{text}"
        );
        let line = lines[0];
        // A 503 (load shed, timeouts) is a warning: a flood of them must not flood the errors.
        let level = if status == 503 { "WARN " } else { "ERROR " };
        assert!(
            line.trim_start().starts_with(level) && line.contains("request failed"),
            "{line}"
        );
        for part in says {
            assert!(line.contains(part), "{path}: {part:?} not in {line}");
        }
        // The body: the generic message of the status and the request id, nothing else.
        let response = client
            .get(path)
            .header("x-request-id", request_id)
            .send()
            .await;
        assert_eq!(response.status().as_u16(), status);
        let body = response.text();
        assert!(!body.contains(secret), "{path} leaked: {body}");
        let (code, message) = match status {
            503 => ("SERVICE_UNAVAILABLE", "service unavailable"),
            _ if path == "/errors/custom" => ("LEDGER_BROKEN", "internal server error"),
            _ => ("INTERNAL", "internal server error"),
        };
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({ "status": "error", "code": code, "message": message, "data": { "request_id": request_id } }),
            "{path}"
        );
    }
    assert!(
        !text.contains("five-6") && !text.contains("a fallback was used"),
        "an error that is not the response is not logged: {text}"
    );

    // The JSON format carries the chain in the line's `error` field.
    let text = logged(
        &client,
        runtime_json,
        &[("/errors/chained", "five-7", None, 500)],
    )
    .await;
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|line: &serde_json::Value| line["span"]["request_id"] == "five-7")
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(
        lines[0]["fields"],
        serde_json::json!({
            "message": "request failed",
            "status": 500,
            "code": "INTERNAL",
            "error": "I/O error: pool exhausted: connection to db-7.internal:5432 refused",
        })
    );
}

#[cfg(feature = "jwt")]
#[tokio::test(flavor = "current_thread")]
async fn a_forged_jwt_header_does_not_forge_a_text_log_line() {
    let _serial = SERIAL.lock().await;
    let mut config = endpoint_runtime::Config::default();
    config.jwt = Some(endpoint_runtime::JwtConfig::hs256(
        "0123456789abcdef0123456789abcdef",
    ));
    let client = endpoint_runtime::App::new()
        .config(config)
        .test_client()
        .await
        .unwrap();
    use base64::Engine as _;
    let b64 = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    // A caller without any credential writes what would be a line of its own.
    let forged = " WARN endpoint_runtime: FORGED admin signed in";
    let header = b64(&format!(
        "{{\"alg\":\"x\\n{forged}\\r\\u001b[2K\",\"typ\":\"JWT\"}}"
    ));
    let token = format!("Bearer {header}.{}.c2ln", b64(r#"{"sub":"root"}"#));
    let text = logged(
        &client,
        runtime_text,
        &[("/errors/recovered", "forge-1", Some(&token), 401)],
    )
    .await;
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    let line = text.lines().next().unwrap();
    assert!(
        line.starts_with(" WARN request{request_id=forge-1 ")
            && line.contains("credential rejected"),
        "{line}"
    );
    // The value is there, escaped: readable, but not a line and not a terminal escape.
    assert!(
        line.contains(&format!("\\n{forged}\\r\\u{{1b}}[2K")),
        "{line}"
    );
    assert!(!text.contains('\r') && !text.contains('\u{1b}'), "{text:?}");
}

/// `ENDPOINT_ACCESS_LOG=on`: one line per finished request, with the route template, status,
/// bytes, duration, request id and user; none when it is off (the default).
#[tokio::test(flavor = "current_thread")]
async fn the_access_log_writes_one_line_per_request_when_on() {
    let _serial = SERIAL.lock().await;
    let token = "access-log-token-0123456789";
    let mut config = endpoint_runtime::Config::default();
    config.access_log = true;
    config.static_tokens =
        vec![serde_json::from_value(serde_json::json!({ "token": token, "user": "ann" })).unwrap()];
    let client = endpoint_runtime::App::new()
        .config(config.clone())
        .test_client()
        .await
        .unwrap();
    let bearer = format!("Bearer {token}");
    let text = logged(
        &client,
        json_format,
        &[
            ("/errors/recovered", "access-1", Some(&bearer), 200),
            ("/errors/internal", "access-2", None, 500),
            ("/no/such/route", "access-3", None, 404),
        ],
    )
    .await;
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line["target"] == "endpoint_runtime::access")
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    let fields = |i: usize| &lines[i]["fields"];
    assert_eq!(fields(0)["method"], "GET");
    assert_eq!(fields(0)["route"], "/errors/recovered");
    assert_eq!(fields(0)["path"], "/errors/recovered");
    assert_eq!(fields(0)["status"], 200);
    assert_eq!(fields(0)["bytes"], 9, "{}", lines[0]);
    assert_eq!(fields(0)["request_id"], "access-1");
    assert_eq!(fields(0)["user"], "ann");
    assert!(fields(0)["duration_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(fields(1)["status"], 500);
    assert!(fields(1).get("user").is_none(), "{}", lines[1]);
    // The route of an unknown path is `unmatched`; the path is there as requested.
    assert_eq!(fields(2)["route"], "unmatched");
    assert_eq!(fields(2)["path"], "/no/such/route");
    assert_eq!(fields(2)["status"], 404);

    config.access_log = false;
    let client = endpoint_runtime::App::new()
        .config(config)
        .test_client()
        .await
        .unwrap();
    let text = logged(
        &client,
        json_format,
        &[("/errors/recovered", "access-4", None, 200)],
    )
    .await;
    assert!(!text.contains("endpoint_runtime::access"), "{text}");
}

/// Counts the `request` spans made.
#[derive(Clone, Default)]
struct RequestSpans(Arc<std::sync::atomic::AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RequestSpans {
    fn on_new_span(
        &self,
        attributes: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attributes.metadata().target() == "endpoint_runtime::request" {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// A subscriber the application built gets a `request` span per request, whatever writes its
/// lines (the one `run` installs does not: see `examples/tests/showcase.rs`), and each line of
/// the request carries the fields once.
#[tokio::test(flavor = "current_thread")]
async fn an_applications_own_subscriber_gets_the_request_span() {
    use tracing_subscriber::prelude::*;
    let _serial = SERIAL.lock().await;
    let client = TestClient::new().await.unwrap();
    let calls: &[Call<'_>] = &[
        ("/errors/internal", "count-1", None, 500),
        ("/errors/recovered", "count-2", None, 200),
    ];
    for (runtime, format) in [
        (true, endpoint_runtime::logging::LogFormat::Text),
        (true, endpoint_runtime::logging::LogFormat::Json),
        (false, endpoint_runtime::logging::LogFormat::Text),
    ] {
        let spans = RequestSpans::default();
        let counted = spans.clone();
        let text = logged(
            &client,
            move |lines: Lines| -> Box<dyn tracing::Subscriber + Send + Sync> {
                let registry = tracing_subscriber::registry()
                    .with(tracing_subscriber::filter::LevelFilter::INFO)
                    .with(counted);
                if runtime {
                    Box::new(registry.with(endpoint_runtime::logging::layer(format, lines)))
                } else {
                    Box::new(
                        registry.with(
                            tracing_subscriber::fmt::layer()
                                .fmt_fields(endpoint_runtime::logging::Fields)
                                .with_ansi(false)
                                .with_writer(lines),
                        ),
                    )
                }
            },
            calls,
        )
        .await;
        let line = text
            .lines()
            .find(|line| line.contains("count-1"))
            .unwrap_or_else(|| panic!("{text}"));
        // Once: the span, and not the request's fields beside it.
        if line.starts_with('{') {
            let line: Value = serde_json::from_str(line).unwrap();
            assert_eq!(line["spans"].as_array().map(Vec::len), Some(1), "{line}");
        } else {
            assert_eq!(line.matches("count-1").count(), 1, "{line}");
        }
        let made = spans.0.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(made, calls.len(), "{runtime} {format:?}: {text}");
    }
}
