//! Trace export over OTLP/HTTP (the runtime's `otel` feature), against the `sandbox-lab`
//! example configured only by OpenTelemetry's standard variables. A receiver on 127.0.0.1
//! decodes what the server posts to `/v1/traces` with OpenTelemetry's protobuf messages
//! (`opentelemetry-proto`); an upstream on the lab's declared origin records the headers of a
//! confined endpoint's outbound call.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message as _;
use support::{Running, spawn, terminate};

/// One exported span, as the receiver decoded it.
#[derive(Debug, Clone)]
struct Exported {
    service: String,
    name: String,
    kind: i32,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    status: i32,
    attributes: HashMap<String, String>,
}

impl Exported {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// One HTTP request as a minimal HTTP/1.1 server reads it: request line, headers (names in
/// lower case), body by `content-length`; `None` at the end of the connection.
fn read_request(
    reader: &mut BufReader<TcpStream>,
) -> Option<(String, HashMap<String, String>, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let request_line = line.trim_end().to_string();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length: usize = headers
        .get("content-length")
        .map_or(0, |length| length.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((request_line, headers, body))
}

/// An OTLP/HTTP receiver: decodes each `POST /v1/traces` (`application/x-protobuf`) and sends
/// its spans on; anything else is answered 404 and fails the test.
struct Receiver {
    port: u16,
    spans: mpsc::Receiver<Result<Exported, String>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sender, spans) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let sender = sender.clone();
                std::thread::spawn(move || serve_otlp(stream, &sender));
            }
        });
        Receiver { port, spans }
    }

    /// The spans received until `done` holds of them, or 20 s have passed.
    fn collect(&self, done: impl Fn(&[Exported]) -> bool) -> Vec<Exported> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut spans = Vec::new();
        while !done(&spans) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.spans.recv_timeout(left) {
                Ok(Ok(span)) => spans.push(span),
                Ok(Err(refused)) => panic!("the exporter sent {refused}"),
                Err(_) => panic!("spans received before the deadline: {spans:#?}"),
            }
        }
        spans
    }
}

fn serve_otlp(stream: TcpStream, sender: &mpsc::Sender<Result<Exported, String>>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Some((request_line, headers, body)) = read_request(&mut reader) {
        let content_type = headers.get("content-type").cloned().unwrap_or_default();
        if request_line != "POST /v1/traces HTTP/1.1" || content_type != "application/x-protobuf" {
            let _ = sender.send(Err(format!("{request_line} ({content_type})")));
            let _ = writer.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
            continue;
        }
        let export = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        for resource_spans in export.resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .map(|attribute| text(attribute.value.as_ref()))
                .unwrap_or_default();
            for span in resource_spans
                .scope_spans
                .into_iter()
                .flat_map(|scope| scope.spans)
            {
                let _ = sender.send(Ok(Exported {
                    service: service.clone(),
                    name: span.name,
                    kind: span.kind,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    status: span.status.map_or(0, |status| status.code),
                    attributes: span
                        .attributes
                        .iter()
                        .map(|attribute| (attribute.key.clone(), text(attribute.value.as_ref())))
                        .collect(),
                }));
            }
        }
        // An empty `ExportTraceServiceResponse`: everything accepted.
        let _ = writer.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
        );
    }
}

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        Some(AnyValue::StringValue(text)) => text.clone(),
        Some(AnyValue::IntValue(number)) => number.to_string(),
        Some(AnyValue::BoolValue(flag)) => flag.to_string(),
        other => format!("{other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The lab's declared upstream (`http://127.0.0.1:31871`): answers `ok` and sends on the
/// headers of each request it gets.
fn upstream() -> mpsc::Receiver<HashMap<String, String>> {
    let listener = TcpListener::bind(("127.0.0.1", 31871)).expect("bind the lab's upstream port");
    let (sender, requests) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut writer = stream.try_clone().unwrap();
            let mut reader = BufReader::new(stream);
            if let Some((_, headers, _)) = read_request(&mut reader) {
                let _ = sender.send(headers);
                let _ = writer.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
            }
        }
    });
    requests
}

fn lab(receiver: &Receiver, env: &[(&str, &str)]) -> Running {
    let endpoint = format!("http://127.0.0.1:{}", receiver.port);
    let mut all = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "sandbox-lab"),
        ("ENDPOINT_CONFINED_TIMEOUT", "2s"),
        ("ENDPOINT_CONFINED_WORKERS", "1"),
        // The log at `warn` (the harness's default, said again): export does not depend on it.
        ("RUST_LOG", "warn"),
    ];
    all.extend_from_slice(env);
    spawn("sandbox-lab", &all)
}

async fn get(server: &Running, path: &str, headers: &[(&str, &str)]) -> u16 {
    send(server, reqwest::Method::GET, path, headers).await
}

async fn send(
    server: &Running,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
) -> u16 {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", server.base))
        .timeout(Duration::from_secs(10));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        .status()
        .as_u16()
}

/// A caller's trace: `traceparent` version 00, this trace id and parent span id, sampled.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn server_span<'a>(spans: &'a [Exported], request_id: &str) -> Option<&'a Exported> {
    spans.iter().find(|span| {
        span.kind == SpanKind::Server as i32 && span.attribute("request_id") == Some(request_id)
    })
}

#[tokio::test]
async fn request_spans_reach_the_collector_and_outbound_calls_carry_the_trace() {
    let receiver = Receiver::start();
    let upstream = upstream();
    let server = lab(&receiver, &[("ENDPOINT_TRUSTED_PROXIES", "127.0.0.1")]);
    let traceparent = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    assert_eq!(
        get(&server, "/lab/health", &[("x-request-id", "otel-health")]).await,
        200
    );
    // The handler sets a `traceparent` of its own: the server replaces it with the call's.
    let forged = "00-11111111111111111111111111111111-2222222222222222-01";
    let fetch = format!(
        "/lab/fetch?url=http%3A%2F%2F127.0.0.1%3A31871%2Fup%3Ftoken%3Dsecret&traceparent={forged}"
    );
    let caller = [
        ("traceparent", traceparent.as_str()),
        ("tracestate", "vendor=opaque"),
        ("x-request-id", "otel-fetch"),
    ];
    assert_eq!(get(&server, &fetch, &caller).await, 200);
    assert_eq!(
        get(&server, "/lab/panic", &[("x-request-id", "otel-panic")]).await,
        500
    );
    assert_eq!(
        get(&server, "/nowhere", &[("x-request-id", "otel-unmatched")]).await,
        404
    );
    let purge = reqwest::Method::from_bytes(b"PURGE").unwrap();
    assert_eq!(
        send(
            &server,
            purge,
            "/nowhere",
            &[("x-request-id", "otel-purge")]
        )
        .await,
        404
    );
    let outbound = upstream
        .recv_timeout(Duration::from_secs(10))
        .expect("the upstream was called");
    // SIGTERM: the server sends the spans still queued before it exits.
    terminate(server);
    let spans = receiver.collect(|spans| {
        [
            "otel-health",
            "otel-fetch",
            "otel-panic",
            "otel-unmatched",
            "otel-purge",
        ]
        .iter()
        .all(|id| server_span(spans, id).is_some())
            && spans
                .iter()
                .any(|span| span.kind == SpanKind::Client as i32)
    });

    // The request span: named after the route, of kind server, with HTTP's attributes and the
    // request id; without a caller's `traceparent`, a trace of its own.
    let health = server_span(&spans, "otel-health").unwrap();
    assert_eq!(health.service, "sandbox-lab");
    assert_eq!(health.name, "GET /lab/health");
    assert_eq!(health.parent_span_id, "");
    assert_eq!(health.attribute("http.request.method"), Some("GET"));
    assert_eq!(health.attribute("http.route"), Some("/lab/health"));
    assert_eq!(health.attribute("url.path"), Some("/lab/health"));
    assert_eq!(health.attribute("http.response.status_code"), Some("200"));
    assert_eq!(health.attribute("endpoint"), Some("lab"));
    assert_eq!(health.status, StatusCode::Unset as i32);

    // A trusted caller's `traceparent`: the request span is its child, in its trace.
    let fetch = server_span(&spans, "otel-fetch").unwrap();
    assert_eq!(fetch.name, "GET /lab/fetch");
    assert_eq!(fetch.trace_id, CALLER_TRACE);
    assert_eq!(fetch.parent_span_id, CALLER_SPAN);

    // The confined endpoint's outbound call: a client span under the request span, whose
    // context the upstream received in `traceparent` (not the handler's forged one), with the
    // caller's `tracestate`.
    let client = spans
        .iter()
        .find(|span| span.kind == SpanKind::Client as i32)
        .unwrap();
    assert_eq!(client.name, "GET");
    assert_eq!(client.trace_id, CALLER_TRACE);
    assert_eq!(client.parent_span_id, fetch.span_id);
    assert_eq!(client.attribute("server.address"), Some("127.0.0.1"));
    assert_eq!(client.attribute("server.port"), Some("31871"));
    assert_eq!(
        client.attribute("url.full"),
        Some("http://127.0.0.1:31871/up"),
        "no query: it may carry a secret"
    );
    assert_eq!(client.attribute("http.response.status_code"), Some("200"));
    assert_eq!(
        outbound.get("traceparent").map(String::as_str),
        Some(format!("00-{CALLER_TRACE}-{}-01", client.span_id).as_str()),
        "{outbound:?}"
    );
    assert_eq!(
        outbound.get("tracestate").map(String::as_str),
        Some("vendor=opaque")
    );

    // A 5xx marks the span as an error; a request no route matched is named by its method,
    // and a method outside HTTP's standard ones is `HTTP`, `_OTHER`.
    let panic = server_span(&spans, "otel-panic").unwrap();
    assert_eq!(panic.status, StatusCode::Error as i32);
    assert_eq!(panic.attribute("http.response.status_code"), Some("500"));
    let unmatched = server_span(&spans, "otel-unmatched").unwrap();
    assert_eq!(unmatched.name, "GET");
    assert_eq!(unmatched.attribute("http.route"), None);
    assert_eq!(
        unmatched.attribute("http.response.status_code"),
        Some("404")
    );
    assert_eq!(unmatched.status, StatusCode::Unset as i32);
    let purge = server_span(&spans, "otel-purge").unwrap();
    assert_eq!(purge.name, "HTTP");
    assert_eq!(purge.attribute("http.request.method"), Some("_OTHER"));
}

#[tokio::test]
async fn a_traceparent_from_an_untrusted_peer_starts_a_new_trace() {
    let receiver = Receiver::start();
    // No trusted proxies: the caller is not one.
    let server = lab(&receiver, &[]);
    let traceparent = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    let headers = [
        ("traceparent", traceparent.as_str()),
        ("x-request-id", "otel-untrusted"),
    ];
    assert_eq!(get(&server, "/lab/health", &headers).await, 200);
    terminate(server);
    let spans = receiver.collect(|spans| server_span(spans, "otel-untrusted").is_some());
    let span = server_span(&spans, "otel-untrusted").unwrap();
    assert_ne!(span.trace_id, CALLER_TRACE);
    assert_eq!(span.parent_span_id, "");
}
