//! The request's fields on every line logged while it is served, without a span per request.
//!
//! When lines of requests may carry the request's fields (`endpoint_runtime::request` is
//! enabled at `info`), the pipeline makes one [`RequestFields`] per request (an `Arc`: one
//! allocation) and sets it as the thread's current request while it polls the request
//! ([`Scope`]). The runtime's event
//! formatter ([`EventFormat`]) writes it on each line where the `request` span's fields were
//! written before: `request{request_id=… method=… path=… endpoint=…}:` in the text format, an
//! object of `spans` (and `span`, when no span was opened inside the request) in the JSON
//! format. Nothing is formatted until a line is logged. A request served while another is
//! current (the test client called from a handler) replaces it until it is done; a line then
//! carries the innermost request whose span it is in, or the current one.
//!
//! A span opened while a request is current carries the request ([`RequestLayer`] stores it
//! in the span's extensions), so a line logged inside that span on another task or thread
//! still says which request it belongs to, and spans opened outside the request (an outer
//! layer's) are written before it, as they were before.
//!
//! A `tracing` span per request cost about 2,800 of the 23,400 userland instructions of a
//! text request (creating it, formatting its fields into the registry, closing it; callgrind,
//! 2026-12-02), whether or not anything was logged. The span is still made where something
//! needs it: trace export (feature `otel`), and any subscriber but the ones `run` and
//! `#[endpoint_runtime::test]` install (`logging::layer` inside an application's own
//! subscriber, or another), which then writes it as any span.
//!
//! The JSON lines' `fields` are written by [`JsonFields`](super::JsonFields), as their spans'
//! are: a byte slice is an array of numbers and `otel.`-prefixed fields are left out, where
//! `tracing_subscriber`'s JSON format wrote a string and kept them.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::{Gather, escape_json, plain};

/// The target of the request span, and of the request's fields (`RUST_LOG=info,
/// endpoint_runtime::request=off` leaves them off every line).
pub(crate) const REQUEST_TARGET: &str = "endpoint_runtime::request";

/// What every line logged while a request is served says of it.
#[derive(Debug)]
pub(crate) struct RequestFields {
    /// The request id (the pipeline's `RequestId`).
    pub(crate) request_id: axum::http::HeaderValue,
    pub(crate) method: axum::http::Method,
    /// The request's URI, of which the path is written.
    pub(crate) uri: axum::http::Uri,
    /// The endpoint's id, once routed.
    pub(crate) endpoint: Option<&'static str>,
}

thread_local! {
    /// The request this thread is polling, if any.
    static CURRENT: RefCell<Option<Arc<RequestFields>>> = const { RefCell::new(None) };
}

/// The request `fields` as the thread's current one until the scope is dropped; the one
/// before is current again then (a request served inside another's poll, as by the test
/// client, nests).
pub(crate) struct Scope {
    previous: Option<Arc<RequestFields>>,
}

impl Scope {
    /// Makes `fields` current; `None` leaves the thread as it is.
    pub(crate) fn enter(fields: Option<&Arc<RequestFields>>) -> Option<Scope> {
        let fields = fields?;
        let previous = CURRENT
            .try_with(|current| current.replace(Some(Arc::clone(fields))))
            .ok()?;
        Some(Scope { previous })
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
    }
}

/// The current request's fields, if a request is being polled on this thread.
fn current() -> Option<Arc<RequestFields>> {
    CURRENT
        .try_with(|current| current.borrow().clone())
        .ok()
        .flatten()
}

/// Whether lines of requests may carry the request's fields (`endpoint_runtime::request`
/// enabled at `info`, as the span was).
pub(crate) fn wanted() -> bool {
    tracing::enabled!(target: REQUEST_TARGET, Level::INFO)
}

/// Whether the subscriber in effect is the one `run` (or `#[endpoint_runtime::test]`)
/// installs, which writes the request's fields without a span ([`RequestLayer`]).
pub(crate) fn formatted_here() -> bool {
    tracing::dispatcher::get_default(|dispatch| dispatch.is::<RequestLayer>())
}

pin_project_lite::pin_project! {
    /// A future polled as part of the request that was current when it was made (see
    /// [`in_current_request`]).
    #[derive(Debug)]
    pub struct InRequest<F> {
        #[pin]
        future: F,
        fields: Option<Arc<RequestFields>>,
    }
}

/// `future` polled as part of the current request, wherever it runs: its log lines carry the
/// request's fields, as `tracing::Instrument::in_current_span` carries a span. For a task a
/// handler spawns (`tokio::spawn(in_current_request(work))`); outside a request it changes
/// nothing. This is what the runtime's lines ([`layer`](super::layer) and the subscriber `run`
/// installs) read; under a formatter of the application's own, add `.in_current_span()` too,
/// which carries the request span that subscriber gets.
pub fn in_current_request<F: Future>(future: F) -> InRequest<F> {
    InRequest {
        future,
        fields: current(),
    }
}

impl<F: Future> Future for InRequest<F> {
    type Output = F::Output;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = self.project();
        let _scope = Scope::enter(this.fields.as_ref());
        this.future.poll(cx)
    }
}

/// The request a span was opened in, in the span's extensions.
struct OpenedIn(Arc<RequestFields>);

/// The layer of the subscriber `run` installs that marks it as writing the request's fields
/// itself, and stores the current request in each span opened while it is current.
pub(crate) struct RequestLayer;

impl<S> tracing_subscriber::Layer<S> for RequestLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        _: &Attributes<'_>,
        id: &Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(request) = current()
            && let Some(span) = ctx.span(id)
        {
            span.extensions_mut().insert(OpenedIn(request));
        }
    }
}

/// The runtime's event formatter: `tracing_subscriber`'s `Full` text lines or its JSON lines,
/// with the request's fields where the `request` span's were.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventFormat {
    pub(crate) json: bool,
    /// Whether the log's filter enables `endpoint_runtime::request` at `info`.
    pub(crate) request_fields: bool,
}

/// Whether `span` is the request span (made when traces are exported), whose fields the
/// request's are.
fn is_request_span<S>(span: &SpanRef<'_, S>) -> bool
where
    S: for<'a> LookupSpan<'a>,
{
    span.metadata().target() == REQUEST_TARGET && span.name() == "request"
}

/// What a line is inside, from the root: its spans, and the request among them.
enum Within<'a, S: for<'l> LookupSpan<'l>> {
    Request(Arc<RequestFields>),
    Span(SpanRef<'a, S>),
}

impl<S, N> FormatEvent<S, N> for EventFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let spans: Vec<_> = ctx
            .event_scope()
            .map(|scope| scope.from_root().collect())
            .unwrap_or_default();
        // The request of the innermost span opened in one goes before the first span opened
        // in it; else, for a line logged where the request is current, after every span (each
        // was opened outside it). Not at all when the request span itself is there (it
        // carries the fields) or the log's filter leaves them off.
        let opened_in = |span: &SpanRef<'_, S>| {
            span.extensions()
                .get::<OpenedIn>()
                .map(|opened| Arc::clone(&opened.0))
        };
        let request = if !self.request_fields || spans.iter().any(is_request_span) {
            None
        } else if let Some(opened) = spans.iter().rev().find_map(opened_in) {
            let at = spans
                .iter()
                .position(|span| opened_in(span).is_some_and(|r| Arc::ptr_eq(&r, &opened)))
                .unwrap_or(0);
            Some((opened, at))
        } else if event.is_contextual() {
            current().map(|request| (request, spans.len()))
        } else {
            None
        };
        let mut within: Vec<_> = spans.into_iter().map(Within::Span).collect();
        if let Some((request, at)) = request {
            within.insert(at, Within::Request(request));
        }
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        if self.json {
            json_line(ctx, writer, event, meta, &within)
        } else {
            text_line(ctx, writer, event, meta, &within)
        }
    }
}

const BOLD: &str = "\x1b[1m";
const DIMMED: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// `text` in `style` when `ansi`.
fn paint(out: &mut Gather<'_>, ansi: bool, style: &str, text: &str) {
    if ansi {
        out.push(style);
        out.push(text);
        out.push(RESET);
    } else {
        out.push(text);
    }
}

/// A line as `tracing_subscriber`'s `Full` format writes it: timestamp, level, the spans from
/// the root (`name{fields}:`, the request among them), target, fields.
fn text_line<S, N>(
    ctx: &FmtContext<'_, S, N>,
    mut writer: Writer<'_>,
    event: &Event<'_>,
    meta: &Metadata<'_>,
    within: &[Within<'_, S>],
) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let ansi = writer.has_ansi_escapes();
    if ansi {
        writer.write_str(DIMMED)?;
    }
    if SystemTime.format_time(&mut writer).is_err() {
        writer.write_str("<unknown time>")?;
    }
    if ansi {
        writer.write_str(RESET)?;
    }
    writer.write_char(' ')?;
    let (name, colour) = match *meta.level() {
        Level::TRACE => ("TRACE", "\x1b[35m"),
        Level::DEBUG => ("DEBUG", "\x1b[34m"),
        Level::INFO => (" INFO", "\x1b[32m"),
        Level::WARN => (" WARN", "\x1b[33m"),
        Level::ERROR => ("ERROR", "\x1b[31m"),
    };
    let mut out = Gather::new(writer.by_ref());
    paint(&mut out, ansi, colour, name);
    out.push(" ");
    let request = |out: &mut Gather<'_>, request: &RequestFields| {
        paint(out, ansi, BOLD, "request");
        paint(out, ansi, BOLD, "{");
        text_fields(out, request);
        paint(out, ansi, BOLD, "}");
        paint(out, ansi, DIMMED, ":");
    };
    for each in within {
        match each {
            Within::Request(fields) => request(&mut out, fields),
            Within::Span(span) => {
                paint(&mut out, ansi, BOLD, span.name());
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    paint(&mut out, ansi, BOLD, "{");
                    out.push(fields);
                    paint(&mut out, ansi, BOLD, "}");
                }
                paint(&mut out, ansi, DIMMED, ":");
            }
        }
    }
    if !within.is_empty() {
        out.push(" ");
    }
    paint(&mut out, ansi, DIMMED, meta.target());
    paint(&mut out, ansi, DIMMED, ":");
    out.push(" ");
    out.finish()?;
    ctx.format_fields(writer.by_ref(), event)?;
    writeln!(writer)
}

/// The request's fields as [`Fields`](super::Fields) writes a span's: `name=value`, a value
/// that is not [`plain`] in Rust's escaped `Debug` form.
fn text_fields(out: &mut Gather<'_>, request: &RequestFields) {
    let pair = |out: &mut Gather<'_>, name: &str, value: &str| {
        if plain(value) {
            out.push(name);
            out.push("=");
            out.push(value);
        } else {
            let _ = write!(out, "{name}={value:?}");
        }
    };
    pair(out, "request_id", request_id(request));
    out.push(" ");
    pair(out, "method", request.method.as_str());
    out.push(" ");
    pair(out, "path", request.uri.path());
    if let Some(endpoint) = request.endpoint {
        out.push(" ");
        pair(out, "endpoint", endpoint);
    }
}

fn request_id(request: &RequestFields) -> &str {
    request.request_id.to_str().unwrap_or_default()
}

/// A JSON line as `tracing_subscriber`'s JSON format writes it: `timestamp`, `level`,
/// `fields` (by the field formatter, [`JsonFields`](super::JsonFields)), `target`, then the
/// innermost span as `span` and the spans from the root as `spans`, each its fields (in key
/// order, as `serde_json` maps them) and `name`, the request among them.
fn json_line<S, N>(
    ctx: &FmtContext<'_, S, N>,
    mut writer: Writer<'_>,
    event: &Event<'_>,
    meta: &Metadata<'_>,
    within: &[Within<'_, S>],
) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let mut timestamp = String::new();
    if SystemTime
        .format_time(&mut Writer::new(&mut timestamp))
        .is_err()
    {
        timestamp.clear();
        timestamp.push_str("<unknown time>");
    }
    write!(
        writer,
        "{{\"timestamp\":\"{timestamp}\",\"level\":\"{}\",\"fields\":",
        meta.level()
    )?;
    ctx.format_fields(writer.by_ref(), event)?;
    {
        let mut out = Gather::new(writer.by_ref());
        out.push(",\"target\":\"");
        escape_json(&mut out, meta.target());
        out.push("\"");
        out.finish()?;
    }
    let object = |writer: &mut Writer<'_>, each: &Within<'_, S>| match each {
        Within::Request(request) => json_request(writer, request),
        Within::Span(span) => json_span::<S, N>(writer, span),
    };
    if let Some(last) = within.last() {
        writer.write_str(",\"span\":")?;
        object(&mut writer, last)?;
        writer.write_str(",\"spans\":[")?;
        for (index, each) in within.iter().enumerate() {
            if index > 0 {
                writer.write_char(',')?;
            }
            object(&mut writer, each)?;
        }
        writer.write_char(']')?;
    }
    writer.write_str("}\n")
}

/// A span as the JSON format writes it: its fields parsed back from
/// [`JsonFields`](super::JsonFields)' object (a field recorded twice keeps its later value;
/// the keys in order), then `name`.
fn json_span<S, N>(writer: &mut Writer<'_>, span: &SpanRef<'_, S>) -> fmt::Result
where
    S: for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let extensions = span.extensions();
    let object = extensions
        .get::<FormattedFields<N>>()
        .map(
            |fields| match serde_json::from_str::<serde_json::Value>(fields) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => serde_json::Map::from_iter([(
                    "fields".to_string(),
                    serde_json::Value::from(fields.fields.as_str()),
                )]),
            },
        )
        .unwrap_or_default();
    // The name after the fields, as `tracing_subscriber` writes it.
    let mut text = serde_json::to_string(&object).map_err(|_| fmt::Error)?;
    text.pop();
    if text.len() > 1 {
        text.push(',');
    }
    text.push_str("\"name\":");
    text.push_str(&serde_json::to_string(span.name()).map_err(|_| fmt::Error)?);
    text.push('}');
    writer.write_str(&text)
}

/// The request as a span object of the JSON format: its fields in key order, then `name`.
fn json_request(writer: &mut Writer<'_>, request: &RequestFields) -> fmt::Result {
    let mut out = Gather::new(writer.by_ref());
    out.push("{");
    let mut pair = |name: &str, value: &str| {
        out.push("\"");
        out.push(name);
        out.push("\":\"");
        escape_json(&mut out, value);
        out.push("\",");
    };
    if let Some(endpoint) = request.endpoint {
        pair("endpoint", endpoint);
    }
    pair("method", request.method.as_str());
    pair("path", request.uri.path());
    pair("request_id", request_id(request));
    out.push("\"name\":\"request\"}");
    out.finish()
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::prelude::*;

    use super::*;
    use crate::logging::tests::Buffer;
    use crate::logging::{Fields, JsonFields};

    /// What `emit` logs inside a request (after entering an `outer` span opened outside it,
    /// when asked): with `span`, as the request span under tracing-subscriber's own `Full` or
    /// JSON format (how lines were written before); else as the runtime writes them, from the
    /// current request without a span. Timestamps are cut out.
    fn render(span: bool, json: bool, ansi: bool, outer: bool, emit: fn()) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber: Box<dyn Subscriber + Send + Sync> = match (span, json) {
            (true, false) => Box::new(
                tracing_subscriber::registry().with(
                    tracing_subscriber::fmt::layer()
                        .fmt_fields(Fields)
                        .with_ansi(ansi)
                        .with_writer(writer),
                ),
            ),
            (true, true) => Box::new(
                tracing_subscriber::registry().with(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .fmt_fields(JsonFields)
                        .with_writer(writer),
                ),
            ),
            (false, json) => {
                let format = if json {
                    crate::logging::LogFormat::Json
                } else {
                    crate::logging::LogFormat::Text
                };
                Box::new(
                    tracing_subscriber::registry()
                        .with(RequestLayer)
                        .with(crate::logging::lines(format, writer, ansi, true)),
                )
            }
        };
        tracing::subscriber::with_default(subscriber, || {
            let outer_span = outer.then(|| tracing::info_span!("outer", layer = "trace"));
            let _outer = outer_span.as_ref().map(tracing::Span::enter);
            if span {
                let request = tracing::info_span!(
                    target: REQUEST_TARGET,
                    "request",
                    request_id = "req-1",
                    method = "GET",
                    path = "/a=b",
                    endpoint = "greet",
                );
                let _entered = request.enter();
                emit();
            } else {
                let fields = Arc::new(RequestFields {
                    request_id: axum::http::HeaderValue::from_static("req-1"),
                    method: axum::http::Method::GET,
                    uri: axum::http::Uri::from_static("/a=b"),
                    endpoint: Some("greet"),
                });
                let _scope = Scope::enter(Some(&fields));
                emit();
            }
            // Outside the request: no request fields.
            tracing::info!("after");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| {
                if let Some(start) = line.find("\"timestamp\":\"") {
                    let end = line[start + 13..].find('"').unwrap() + start + 14;
                    format!("{}{}\n", &line[..start], &line[end..])
                } else {
                    let (_, rest) = line.split_once(' ').unwrap();
                    format!("{rest}\n")
                }
            })
            .collect()
    }

    /// Each event logged by `emit`, in every format, as before and as now.
    fn same_as_with_the_span(emit: fn()) {
        for json in [false, true] {
            for ansi in [false, true] {
                for outer in [false, true] {
                    let before = render(true, json, ansi, outer, emit);
                    let now = render(false, json, ansi, outer, emit);
                    assert_eq!(
                        now, before,
                        "json {json}, ansi {ansi}, outer span {outer}:\nnow:\n{now}\nbefore:\n{before}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_line_of_a_request_is_written_as_the_request_span_wrote_it() {
        same_as_with_the_span(|| {
            tracing::warn!(status = 500, code = "INTERNAL", "request failed");
            tracing::error!(path = "/x y", "spaces");
        });
    }

    #[test]
    fn spans_opened_in_the_request_follow_it() {
        same_as_with_the_span(|| {
            let work = tracing::info_span!("work", step = 1, later = tracing::field::Empty);
            work.record("later", "set");
            // Recorded twice: the later value, once (the JSON format parses the fields).
            work.record("step", 2);
            let _work = work.enter();
            let empty = tracing::info_span!("empty");
            let _empty = empty.enter();
            tracing::info!(answer = 42, "working");
        });
    }

    #[test]
    fn a_span_opened_in_the_request_carries_it_to_another_thread() {
        let now = render(false, false, false, false, || {
            let work = tracing::info_span!("work");
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let _work = work.enter();
                    tracing::info!("elsewhere");
                });
            })
            .join()
            .unwrap();
        });
        assert!(
            now.starts_with(
                " INFO request{request_id=req-1 method=GET path=\"/a=b\" endpoint=greet}:work: endpoint_runtime::logging::request::tests: elsewhere\n"
            ),
            "{now}"
        );
    }

    /// The subscribers `init` builds (with and without trace export, where the log layer has a
    /// filter of its own) and the test subscriber are found to write the request's fields, so
    /// that the pipeline makes no span for them; an application's subscriber is not.
    #[test]
    fn the_runtimes_own_subscribers_are_recognised() {
        use crate::logging::{LogFormat, log_layer, test_subscriber};
        let filter = tracing_subscriber::filter::Targets::new()
            .with_default(tracing::level_filters::LevelFilter::INFO);
        for format in [LogFormat::Text, LogFormat::Json] {
            let plain = tracing_subscriber::registry()
                .with(filter.clone())
                .with(log_layer(format, &filter));
            assert!(tracing::Dispatch::new(plain).is::<RequestLayer>());
            let exported = tracing_subscriber::registry()
                .with(tracing_subscriber::fmt::layer().with_filter(filter.clone()))
                .with(log_layer(format, &filter).with_filter(filter.clone()));
            assert!(tracing::Dispatch::new(exported).is::<RequestLayer>());
            let theirs = tracing_subscriber::registry()
                .with(filter.clone())
                .with(crate::logging::layer(format, std::io::sink));
            assert!(!tracing::Dispatch::new(theirs).is::<RequestLayer>());
        }
        assert!(tracing::Dispatch::new(test_subscriber()).is::<RequestLayer>());
    }

    #[test]
    fn a_future_in_the_current_request_carries_it() {
        let now = render(false, false, false, false, || {
            let future = in_current_request(async { tracing::info!("in a task") });
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let waker = std::task::Waker::noop();
                    let mut cx = std::task::Context::from_waker(waker);
                    let mut future = std::pin::pin!(future);
                    assert!(future.as_mut().poll(&mut cx).is_ready());
                });
            })
            .join()
            .unwrap();
        });
        assert!(
            now.starts_with(" INFO request{request_id=req-1 method=GET path=\"/a=b\" endpoint=greet}: endpoint_runtime::logging::request::tests: in a task\n"),
            "{now}"
        );
    }
}
