//! Every line logged while a request is served carries the request's span: its id, method,
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
    String::from_utf8(lines.0.lock().unwrap().clone()).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn log_lines_carry_the_request_span() {
    let client = TestClient::new().await.unwrap();
    let text_format = |lines: Lines| {
        tracing_subscriber::fmt()
            .fmt_fields(endpoint_runtime::logging::Fields)
            .with_ansi(false)
            .without_time()
            .with_max_level(tracing::Level::INFO)
            .with_writer(lines)
            .finish()
    };
    let text = logged(
        &client,
        text_format,
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
        "internal error",
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
    let json_format = |lines: Lines| {
        tracing_subscriber::fmt()
            .json()
            .fmt_fields(endpoint_runtime::logging::JsonFields)
            .without_time()
            .with_max_level(tracing::Level::INFO)
            .with_writer(lines)
            .finish()
    };
    let text = logged(
        &client,
        json_format,
        &[("/errors/internal", "trace-log-10", None, 500)],
    )
    .await;
    let internal: serde_json::Value = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .find(|line: &serde_json::Value| line["fields"]["message"] == "internal error")
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

    // The span has a target of its own, so `RUST_LOG` can drop it and keep the lines.
    use tracing_subscriber::prelude::*;
    let without_span = |lines: Lines| {
        let filter = "info,endpoint_runtime::request=off";
        tracing_subscriber::registry()
            .with(
                filter
                    .parse::<tracing_subscriber::filter::Targets>()
                    .unwrap(),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(endpoint_runtime::logging::Fields)
                    .with_ansi(false)
                    .without_time()
                    .with_writer(lines),
            )
    };
    let text = logged(
        &client,
        without_span,
        &[("/errors/internal", "trace-log-11", None, 500)],
    )
    .await;
    assert!(
        text.contains("internal error") && !text.contains("request{"),
        "{text}"
    );
}
