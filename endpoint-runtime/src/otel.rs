//! Traces to a collector (feature `otel`; a module of its own rather than under `ops`, which
//! reads the confined pool: confined endpoints' outbound calls use this one): every request's span exported over OTLP
//! (HTTP/protobuf) with `tracing-opentelemetry` and `opentelemetry-otlp`, when OpenTelemetry's
//! standard variables ask for it (see the configuration's table of them).
//!
//! - The request span is named `{method} {route}` (`GET /users/{id}`; the method alone for a
//!   request no route matched, as OpenTelemetry's HTTP conventions say), of kind `server`,
//!   with `http.request.method`, `http.route`, `url.path`, `http.response.status_code`, the
//!   runtime's `request_id`, `method`, `path` and `endpoint`; a 5xx sets the span's status to
//!   `error`. Spans and events the application logs inside it are its children and events.
//! - A W3C `traceparent` / `tracestate` (Trace Context) is adopted as the request span's parent
//!   only when the peer is a trusted proxy (`ENDPOINT_TRUSTED_PROXIES`): anyone else could
//!   graft requests onto another trace, or force sampling through its flags. The proxy is
//!   trusted with these headers as with `X-Forwarded-For`: one that passes a client's own
//!   through must be told to drop them, unless traces may start at the client.
//! - A confined endpoint's outbound call (its `request` capability) runs in a `client` span,
//!   and carries that span's `traceparent` (and the trace's `tracestate`): a header of those
//!   names the worker set is replaced.
//!
//! Export runs on the SDK's batch processor thread; spans still queued are sent when the
//! server stops (and when the `main` of `#[endpoint_runtime::main]` returns).

use std::sync::OnceLock;

use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The provider, once export is installed.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Why export could not start, when it could not (start-up then refuses to serve).
static FAILED: OnceLock<String> = OnceLock::new();

/// The export layer and its provider, when the environment asks for export and no subscriber
/// is installed yet (an application that installs its own keeps it, and adds
/// `tracing-opentelemetry` itself). Malformed variables install nothing: the configuration
/// refuses them, naming each. Export is on once [`installed`] is given the provider.
pub(crate) fn layer() -> Option<(crate::logging::ExportLayer, SdkTracerProvider)> {
    if tracing::dispatcher::has_been_set() || PROVIDER.get().is_some() {
        return None;
    }
    let lookup = |name: &str| std::env::var(name).ok();
    crate::config::trace_export(&crate::env::Env(&lookup)).ok()??;
    match provider() {
        Ok(provider) => {
            let tracer = provider.tracer("endpoint-runtime");
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                // Busy and idle time per span: two clock reads per poll, not worth it here.
                .with_tracked_inactivity(false)
                .with_threads(false);
            Some((Box::new(layer), provider))
        }
        Err(error) => {
            let _ = FAILED.set(error);
            None
        }
    }
}

/// Turns export on, now that the subscriber with [`layer`]'s layer is installed; or, when it
/// could not be (`installed` false: another logger won), stops the provider, so that no request
/// pays for spans nobody exports.
pub(crate) fn installed(provider: SdkTracerProvider, installed: bool) {
    if installed {
        let _ = PROVIDER.set(provider);
    } else {
        let _ = provider.shutdown();
    }
}

/// The provider: the OTLP HTTP exporter (its endpoint, headers and timeout from the `OTEL_*`
/// variables), batched, with the SDK's resource (`OTEL_SERVICE_NAME`,
/// `OTEL_RESOURCE_ATTRIBUTES`) and sampler (`OTEL_TRACES_SAMPLER`).
fn provider() -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|error| error.to_string())?;
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build())
}

/// An HTTP span's name: `{method} {route}`, the method alone without a route, `HTTP` for a
/// method outside the standard ones (`_OTHER`), as OpenTelemetry's HTTP conventions say.
pub(crate) fn span_name(method: &'static str, route: Option<&str>) -> String {
    let method = if method == "_OTHER" { "HTTP" } else { method };
    match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_string(),
    }
}

/// Whether spans are exported (the request span then carries OpenTelemetry's fields).
pub(crate) fn enabled() -> bool {
    PROVIDER.get().is_some()
}

/// Why export asked for by the environment could not start.
pub(crate) fn failure() -> Option<&'static str> {
    FAILED.get().map(String::as_str)
}

/// Makes the caller's `traceparent` (with its `tracestate`) the parent of `span`, when it is
/// a valid one; call only for a trusted peer.
pub(crate) fn adopt_parent(span: &tracing::Span, headers: &HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent =
        TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Writes `span`'s `traceparent` and `tracestate` into `headers`, replacing any there.
#[cfg(feature = "confined")]
pub(crate) fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    headers.remove("traceparent");
    headers.remove("tracestate");
    TraceContextPropagator::new().inject_context(
        &span.context(),
        &mut opentelemetry_http::HeaderInjector(headers),
    );
}

/// Which side of a call a span records: the status codes that make it an error differ.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "confined"), allow(dead_code))] // `Client`: outbound calls only
pub(crate) enum Side {
    /// The request span: a 5xx is an error (a 4xx is the client's).
    Server,
    /// A confined endpoint's outbound call: a 4xx or 5xx is an error.
    Client,
}

/// Records the answer on `span` for the exporter only (log lines are written before it):
/// `http.response.status_code`, and the status `error` for a 5xx on the server side, a 4xx or
/// 5xx on the client side, as OpenTelemetry's HTTP conventions say.
pub(crate) fn answered(span: &tracing::Span, status: u16, side: Side) {
    span.set_attribute("http.response.status_code", i64::from(status));
    let error_from = match side {
        Side::Server => 500,
        Side::Client => 400,
    };
    if status >= error_from {
        span.set_status(opentelemetry::trace::Status::error(""));
    }
}

/// Marks `span` as failed with no answer (a connection refused, a timeout): `error.type` and
/// the status `error` with `reason`.
#[cfg(feature = "confined")]
pub(crate) fn failed(span: &tracing::Span, reason: &str) {
    span.set_attribute("error.type", "request_failed");
    span.set_status(opentelemetry::trace::Status::error(reason.to_string()));
}

/// Sends the spans still queued, waiting for the exporter (off the async threads).
pub(crate) async fn flush() {
    if let Some(provider) = PROVIDER.get() {
        let provider = provider.clone();
        let flushed = tokio::task::spawn_blocking(move || provider.force_flush()).await;
        if let Ok(Err(error)) = flushed {
            tracing::warn!(%error, "spans could not all be exported");
        }
    }
}

/// Sends the spans still queued and stops the exporter: the end of the process.
pub(crate) fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(error) = provider.shutdown()
    {
        eprintln!("warning: spans could not all be exported: {error}");
    }
}
