//! The default log subscriber, and the field formatters it uses.
//!
//! [`run`](crate::run) installs a [`tracing_subscriber`] `fmt` subscriber on standard error
//! unless the application installed one first: the level filter comes from `RUST_LOG`
//! (default `info`), the format from `ENDPOINT_LOG_FORMAT` (`text`, with [`Fields`], or
//! `json`, with [`JsonFields`]); [`layer`] gives the same lines to an application that builds
//! its own subscriber.
//!
//! Each line logged while a request is served carries the request's `request_id`, `method`,
//! `path` and, once routed, `endpoint`, where a `request` span's fields would be:
//! `request{request_id=… method=GET path=/… endpoint=…}:` in the text format, an object of
//! `spans` (and `span`, when no span was opened inside the request) in the JSON format, after
//! the spans opened outside the request and before those opened inside it. The runtime's event
//! formatter writes them from the request being polled, so nothing is made or formatted for a
//! request that logs nothing: a `tracing` span per request cost about 2,800 of the 23,400
//! userland instructions of a text request (callgrind, `bench/README.md`). A real `request`
//! span (target `endpoint_runtime::request`) is still made when traces are exported (feature
//! `otel`) and when the application installed a subscriber of its own, which then writes it as
//! any span.
//!
//! Lines logged on another task or thread carry the request when they are logged inside a
//! span opened during the request (`tokio::spawn(work.instrument(span))`, or a span entered in
//! a `spawn_blocking` closure), or in a future made by [`in_current_request`]. Under the
//! subscriber `run` installs there is no request span, so `in_current_span()` and
//! `Span::current()` alone no longer carry the request to another task.
//!
//! `RUST_LOG=info,endpoint_runtime::request=off` leaves the request's fields off every line
//! and keeps everything else; lines then lose the request id, which 5xx bodies still carry.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing_subscriber::field::{MakeVisitor, RecordFields, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::Writer;

use crate::env::{ConfigError, Env, chosen};

pub(crate) mod request;

pub use request::{InRequest, in_current_request};

use request::{EventFormat, REQUEST_TARGET, RequestLayer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// `ENDPOINT_LOG_FORMAT`: `text` (the default) or `json`.
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Option<Self>, ConfigError> {
        chosen(
            env,
            "ENDPOINT_LOG_FORMAT",
            &[("text", LogFormat::Text), ("json", LogFormat::Json)],
            "`text` or `json`",
        )
    }
}

/// The text format's field formatter: `name=value` pairs separated by spaces, the `message`
/// field bare, as `tracing_subscriber`'s default. Unlike the default, a string value made only of
/// printable ASCII without spaces, quotes, backslashes or `=` is written as is, and anything
/// else in Rust's escaped `Debug` form, so a value can never forge a field or a line.
///
/// No value writes a control character: in the message, in `Display` (`%value`) and `Debug`
/// (`?value`) values, the C0 and C1 controls (CR, LF, tab, ESC, …), DEL, the Unicode line and
/// paragraph separators and the bidirectional formatting characters are written as Rust
/// escapes (`\n`, `\r`, `\u{1b}`, `\u{2028}`), as the JSON format writes its own escapes. A
/// value taken from a request (a token's header, a header, a path) cannot start a forged line
/// or send a terminal escape sequence.
///
/// It exists for speed: the default formatter escapes every string character by character
/// (about 4,000 instructions for the request span's three fields, against a few hundred here,
/// when the span was formatted on every request).
///
/// ```
/// use endpoint_runtime::logging::Fields;
/// let subscriber = tracing_subscriber::fmt().fmt_fields(Fields).finish();
/// # drop(subscriber);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Fields;

impl<'writer> MakeVisitor<Writer<'writer>> for Fields {
    type Visitor = FieldVisitor<'writer>;

    fn make_visitor(&self, target: Writer<'writer>) -> Self::Visitor {
        FieldVisitor {
            out: Gather::new(target),
            first: true,
        }
    }
}

/// Writes one event's or span's fields; made by [`Fields`]. The text is gathered on the
/// stack and written to the target once (the target is a fresh `String` for a span's
/// fields, which would otherwise grow once per piece).
#[derive(Debug)]
pub struct FieldVisitor<'writer> {
    out: Gather<'writer>,
    first: bool,
}

/// Text gathered in a 256-byte stack buffer and written to a [`Writer`] in as few pieces as
/// possible; the first write error is kept and stops further writing.
#[derive(Debug)]
struct Gather<'writer> {
    writer: Writer<'writer>,
    buffer: Buffer,
    result: fmt::Result,
}

/// The stack buffer of a [`Gather`]: 256 bytes, written through when full.
struct Buffer {
    bytes: [u8; 256],
    len: usize,
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer").field("len", &self.len).finish()
    }
}

impl<'writer> Gather<'writer> {
    fn new(writer: Writer<'writer>) -> Self {
        Gather {
            writer,
            buffer: Buffer {
                bytes: [0; 256],
                len: 0,
            },
            result: Ok(()),
        }
    }

    fn push(&mut self, text: &str) {
        if self.result.is_err() {
            return;
        }
        let free = self.buffer.bytes.len() - self.buffer.len;
        if text.len() <= free {
            self.buffer.bytes[self.buffer.len..self.buffer.len + text.len()]
                .copy_from_slice(text.as_bytes());
            self.buffer.len += text.len();
        } else {
            self.result = self.flush().and_then(|()| self.writer.write_str(text));
        }
    }

    /// Writes the buffered text to the target.
    fn flush(&mut self) -> fmt::Result {
        if self.buffer.len > 0 {
            // Only whole `&str`s are ever copied in, so the buffer is UTF-8.
            let text =
                std::str::from_utf8(&self.buffer.bytes[..self.buffer.len]).map_err(|_| fmt::Error);
            self.buffer.len = 0;
            self.writer.write_str(text?)?;
        }
        Ok(())
    }

    fn finish(mut self) -> fmt::Result {
        self.result?;
        self.flush()
    }

    /// The target itself, for text written directly: what was gathered so far goes first.
    fn writer(&mut self) -> &mut Writer<'writer> {
        if self.result.is_ok() {
            self.result = self.flush();
        }
        &mut self.writer
    }
}

impl fmt::Write for Gather<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.push(text);
        self.result
    }
}

/// Whether a field is left out of log lines: `otel.name`, `otel.kind` and the other
/// `otel.`-prefixed fields, which are instructions to `tracing-opentelemetry` (the request
/// span carries them when traces are exported), not data.
fn hidden(field: &Field) -> bool {
    field.name().starts_with("otel.")
}

/// A value that can be written without quotes: it cannot be mistaken for another field.
fn plain(value: &str) -> bool {
    // One table load per byte: this runs for every field of every span and request.
    !value.is_empty() && value.bytes().all(|b| PLAIN[usize::from(b)])
}

/// The bytes [`plain`] accepts: printable ASCII except space, `"`, `\` and `=`.
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x21;
    while b < 0x7f {
        table[b] = !matches!(b as u8, b'"' | b'\\' | b'=');
        b += 1;
    }
    table
};

/// The bytes after which [`escape_controls`] looks closer: the ASCII controls and DEL, and the
/// first bytes of the UTF-8 encodings of the other characters it escapes (C1 controls
/// `0xC2`, U+061C `0xD8`, U+200E…U+2069 `0xE2`).
const SUSPECT: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[0x7f] = true;
    table[0xc2] = true;
    table[0xd8] = true;
    table[0xe2] = true;
    table
};

/// Whether [`escape_controls`] escapes `c`: a control character (C0, DEL, C1), a line or
/// paragraph separator, or a bidirectional formatting character (which can make a line read
/// differently from what it says).
fn is_escaped_in_text(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Writes `text` with each character [`is_escaped_in_text`] accepts written as its Rust escape
/// (`\n`, `\u{1b}`); everything else as is. Text without a [`SUSPECT`] byte is copied whole.
fn escape_controls(out: &mut Gather<'_>, text: &str) {
    if !text.bytes().any(|b| SUSPECT[usize::from(b)]) {
        out.push(text);
        return;
    }
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if is_escaped_in_text(c) {
            out.push(&text[start..at]);
            let _ = write!(out, "{}", c.escape_debug());
            start = at + c.len_utf8();
        }
    }
    out.push(&text[start..]);
}

/// A [`fmt::Write`] that escapes control characters in what goes through it
/// ([`escape_controls`]).
struct ControlEscape<'a, 'writer>(&'a mut Gather<'writer>);

impl fmt::Write for ControlEscape<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        escape_controls(self.0, text);
        self.0.result
    }
}

impl FieldVisitor<'_> {
    fn separate(&mut self) {
        if !self.first {
            self.out.push(" ");
        }
        self.first = false;
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.out.result.is_err() || hidden(field) {
            return;
        }
        self.separate();
        let name = field.name();
        let name = name.strip_prefix("r#").unwrap_or(name);
        if name == "message" {
            escape_controls(&mut self.out, value);
        } else if plain(value) {
            self.out.push(name);
            self.out.push("=");
            self.out.push(value);
        } else {
            let _ = write!(self.out, "{name}={value:?}");
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.out.result.is_err() || hidden(field) {
            return;
        }
        self.separate();
        let name = field.name();
        // `Debug` of a string escapes its controls already; `Display` (`%value`) and other
        // `Debug` implementations may write them raw.
        if name != "message" {
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.out.push(name);
            self.out.push("=");
        }
        let _ = write!(ControlEscape(&mut self.out), "{value:?}");
    }
}

impl VisitOutput<fmt::Result> for FieldVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.out.finish()
    }
}

impl VisitFmt for FieldVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        self.out.writer()
    }
}

/// The JSON format's span field formatter: a span's fields as one JSON object, which
/// `tracing_subscriber`'s JSON event formatter parses back for the `span` and `spans` keys of
/// every line. Values are encoded as `tracing_subscriber::fmt::format::JsonFields` encodes
/// them (strings, booleans, numbers, `null` for a non-finite float, byte arrays, `Debug` text
/// as a string) and the lines come out the same.
///
/// It exists for speed: `JsonFields` builds a `BTreeMap` of `serde_json::Value`s and
/// serializes it for every span, about 11,000 instructions for the request span's four fields,
/// where this writes the object directly from a stack buffer.
///
/// ```
/// use endpoint_runtime::logging::JsonFields;
/// let subscriber = tracing_subscriber::fmt().json().fmt_fields(JsonFields).finish();
/// # drop(subscriber);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonFields;

impl<'writer> FormatFields<'writer> for JsonFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = JsonVisitor {
            out: Gather::new(writer),
            first: true,
        };
        visitor.out.push("{");
        fields.record(&mut visitor);
        visitor.out.push("}");
        visitor.out.finish()
    }

    /// Fields recorded after a span was created join its object; a field recorded again
    /// appears twice, and the event formatter's parse keeps the later value, as `JsonFields`
    /// does by merging.
    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        if current.fields.is_empty() {
            return self.format_fields(current.as_writer(), fields);
        }
        // Reopen the object `format_fields` wrote; anything else is left as it is.
        if !current.fields.ends_with('}') {
            return Err(fmt::Error);
        }
        current.fields.pop();
        let first = current.fields.ends_with('{');
        let mut visitor = JsonVisitor {
            out: Gather::new(current.as_writer()),
            first,
        };
        fields.record(&mut visitor);
        visitor.out.push("}");
        visitor.out.finish()
    }
}

/// Writes one span's fields as JSON object members; made by [`JsonFields`].
struct JsonVisitor<'writer> {
    out: Gather<'writer>,
    first: bool,
}

impl JsonVisitor<'_> {
    /// Writes `"name":`, after a comma unless it is the first member; `false` (and nothing
    /// written) for a [`hidden`] field, whose value is then skipped.
    #[must_use]
    fn key(&mut self, field: &Field) -> bool {
        if hidden(field) {
            return false;
        }
        if !self.first {
            self.out.push(",");
        }
        self.first = false;
        self.out.push("\"");
        escape_json(&mut self.out, field.name());
        self.out.push("\":");
        true
    }
}

/// Writes `text` escaped for the inside of a JSON string (RFC 8259, section 7): `"`, `\`
/// and the control characters are escaped, everything else is copied as is.
fn escape_json(out: &mut Gather<'_>, text: &str) {
    let mut start = 0;
    for (at, &byte) in text.as_bytes().iter().enumerate() {
        if !ESCAPED[usize::from(byte)] {
            continue;
        }
        // Every escaped byte is ASCII, so `at` is a character boundary.
        out.push(&text[start..at]);
        start = at + 1;
        match byte {
            b'"' => out.push("\\\""),
            b'\\' => out.push("\\\\"),
            b'\n' => out.push("\\n"),
            b'\r' => out.push("\\r"),
            b'\t' => out.push("\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let code = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ];
                out.push(std::str::from_utf8(&code).unwrap_or_default());
            }
        }
    }
    out.push(&text[start..]);
}

/// The bytes [`escape_json`] escapes: `"`, `\` and the control characters below 0x20.
const ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// A [`fmt::Write`] that escapes what goes through it into a JSON string's inside.
struct JsonEscape<'a, 'writer>(&'a mut Gather<'writer>);

impl fmt::Write for JsonEscape<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        escape_json(self.0, text);
        self.0.result
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.key(field) {
            return;
        }
        self.out.push("\"");
        escape_json(&mut self.out, value);
        self.out.push("\"");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if !self.key(field) {
            return;
        }
        self.out.push(if value { "true" } else { "false" });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if !self.key(field) {
            return;
        }
        let _ = write!(self.out, "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if !self.key(field) {
            return;
        }
        let _ = write!(self.out, "{value}");
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if !self.key(field) {
            return;
        }
        // As `serde_json::Value::from(f64)`: `1.0` stays `1.0`; NaN and infinities are `null`.
        let _ = match serde_json::Number::from_f64(value) {
            Some(number) => write!(self.out, "{number}"),
            None => write!(self.out, "null"),
        };
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        if !self.key(field) {
            return;
        }
        self.out.push("[");
        for (index, byte) in value.iter().enumerate() {
            let _ = if index == 0 {
                write!(self.out, "{byte}")
            } else {
                write!(self.out, ",{byte}")
            };
        }
        self.out.push("]");
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.key(field) {
            return;
        }
        self.out.push("\"");
        let _ = write!(JsonEscape(&mut self.out), "{value:?}");
        self.out.push("\"");
    }
}

/// What [`filter_from_env`] accepts, in its error.
const FILTER_FORM: &str = "comma-separated `level` and `target=level` directives, such as \
    `info,my_app=debug,endpoint_runtime::request=off` (span and field filters are not supported)";

/// `RUST_LOG` (default `info` when unset or blank) as the subscriber's filter: tracing-subscriber's
/// [`Targets`](tracing_subscriber::filter::Targets), which reads `RUST_LOG`'s usual `level` and
/// `target=level` directives and costs less per span than `EnvFilter`.
///
/// `EnvFilter`'s span and field filters (`my_app[request{id}]=debug`) are refused rather than
/// read as a target name: that needs the `regex` crate, about 15 s of CPU in a cold build
/// (`cargo build --release --timings` of `examples/greet`, 2026-12-01), a fifth of the
/// minimal build.
///
/// # Errors
///
/// A [`ConfigError`] naming `RUST_LOG` for a value of another form (start-up refuses it).
pub(crate) fn filter_from_env(
    env: &Env<'_>,
) -> Result<tracing_subscriber::filter::Targets, ConfigError> {
    let Some((name, value)) = env
        .get("RUST_LOG")
        .filter(|(_, value)| !value.trim().is_empty())
    else {
        return Ok(tracing_subscriber::filter::Targets::new()
            .with_default(tracing::level_filters::LevelFilter::INFO));
    };
    let refused = || ConfigError {
        variable: name,
        value: value.clone(),
        expected: FILTER_FORM,
    };
    if value.contains(['[', ']', '{', '}']) {
        return Err(refused());
    }
    value
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .collect::<Vec<_>>()
        .join(",")
        .parse()
        .map_err(|_| refused())
}

/// [`filter_from_env`] of the process, or `info` when `RUST_LOG` is malformed: the logging
/// installed before the configuration is read (the configuration then refuses the value,
/// naming `RUST_LOG`), and the test subscriber (which says so on its first line).
fn filter_or_info() -> (tracing_subscriber::filter::Targets, Option<ConfigError>) {
    let lookup = |name: &str| std::env::var(name).ok();
    match filter_from_env(&Env(&lookup)) {
        Ok(filter) => (filter, None),
        Err(error) => (
            tracing_subscriber::filter::Targets::new()
                .with_default(tracing::level_filters::LevelFilter::INFO),
            Some(error),
        ),
    }
}

/// The subscriber of [`#[endpoint_runtime::test]`](crate::test): text lines written through
/// libtest's output capture, so they are shown for a failing test only (and with
/// `--nocapture`), filtered by `RUST_LOG` (default `info`).
pub(crate) fn test_subscriber() -> impl tracing::Subscriber + Send + Sync {
    use tracing_subscriber::fmt;
    use tracing_subscriber::prelude::*;
    let (filter, malformed) = filter_or_info();
    if let Some(error) = malformed {
        eprintln!("warning: {error}; logging at `info`");
    }
    let request_fields = filter.would_enable(REQUEST_TARGET, &tracing::Level::INFO);
    tracing_subscriber::registry()
        .with(filter)
        .with(RequestLayer)
        .with(
            fmt::layer()
                .fmt_fields(Fields)
                .event_format(EventFormat {
                    json: false,
                    request_fields,
                })
                .with_ansi(false)
                .with_test_writer(),
        )
}

/// A layer that sends spans elsewhere (the `otel` feature's export).
pub(crate) type ExportLayer =
    Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;

/// The targets of the spans trace export always receives, whatever `RUST_LOG` says of the log:
/// the request span and a confined endpoint's outbound call.
const EXPORTED_TARGETS: [&str; 2] = [
    "endpoint_runtime::request",
    "endpoint_runtime::confined::outbound",
];

/// The runtime's log lines as a [`tracing_subscriber`] layer, for an application that builds
/// its own subscriber (to add a layer, or to write elsewhere than standard error) and wants the
/// lines [`run`](crate::run) writes: `format` (`LogFormat::Text`, with [`Fields`] and without
/// colours, or `LogFormat::Json`, with [`JsonFields`]), each line logged while a request is
/// served carrying the request's fields (see the module docs), written to `writer`.
///
/// In such a subscriber the pipeline makes a `request` span per request, which other layers
/// (an exporter, an error reporter) may read and these lines write as a span; the subscriber
/// `run` installs writes the same lines without one.
///
/// ```
/// use endpoint_runtime::logging::{LogFormat, layer};
/// use tracing_subscriber::prelude::*;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_subscriber::filter::LevelFilter::INFO)
///     .with(layer(LogFormat::Json, std::io::stderr));
/// # drop(subscriber);
/// ```
pub fn layer<S, W>(
    format: LogFormat,
    writer: W,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    lines(format, writer, false, true)
}

/// The log lines' layer in `format`, to `writer`, with colours in the text format when `ansi`,
/// and the request's fields on the lines of a request when `request_fields` (the log's filter
/// enables `endpoint_runtime::request` at `info`).
fn lines<S, W>(
    format: LogFormat,
    writer: W,
    ansi: bool,
    request_fields: bool,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::fmt;
    match format {
        LogFormat::Text => fmt::layer()
            .fmt_fields(Fields)
            .event_format(EventFormat {
                json: false,
                request_fields,
            })
            .with_ansi(ansi)
            .with_writer(writer)
            .boxed(),
        LogFormat::Json => fmt::layer()
            .fmt_fields(JsonFields)
            .event_format(EventFormat {
                json: true,
                request_fields,
            })
            .with_ansi(false)
            .with_writer(writer)
            .boxed(),
    }
}

/// The log lines' layer of [`init`] in `format`, on standard error (in colour when it is a
/// terminal), under `filter`: the request's fields are written without a span per request
/// ([`RequestLayer`] marks the subscriber as doing so).
fn log_layer<S>(
    format: LogFormat,
    filter: &tracing_subscriber::filter::Targets,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::Layer as _;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let request_fields = filter.would_enable(REQUEST_TARGET, &tracing::Level::INFO);
    RequestLayer
        .and_then(lines(format, std::io::stderr, ansi, request_fields))
        .boxed()
}

/// Installs the default subscriber (see the module docs), with `export` when given; keeps one
/// the application installed. Returns whether it was installed.
///
/// Without export, `RUST_LOG`'s filter is global (the cheapest form: a span it disables is
/// never created). With export, each layer has its own: the log keeps `RUST_LOG`'s, and export
/// gets the same plus the request and outbound spans at `info`, so that `RUST_LOG=warn` quiets
/// the log without turning traces off (`OTEL_SDK_DISABLED=true` does that).
pub(crate) fn init(format: LogFormat, export: Option<ExportLayer>) -> bool {
    use tracing_subscriber::prelude::*;
    let (filter, _malformed) = filter_or_info();
    match export {
        None => {
            let lines = log_layer(format, &filter);
            tracing_subscriber::registry()
                .with(filter)
                .with(lines)
                .try_init()
                .is_ok()
        }
        Some(export) => {
            let exported = EXPORTED_TARGETS
                .iter()
                .fold(filter.clone(), |filter, target| {
                    filter.with_target(*target, tracing::level_filters::LevelFilter::INFO)
                });
            tracing_subscriber::registry()
                .with(export.with_filter(exported))
                .with(log_layer(format, &filter).with_filter(filter))
                .try_init()
                .is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// A writer into memory, for the tests of this module and its submodules.
    #[derive(Clone, Default)]
    pub(super) struct Buffer(pub(super) Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// A text-format subscriber with this module's [`Fields`], writing into the buffer.
    fn text_subscriber() -> (Buffer, impl tracing::Subscriber) {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(Fields)
            .with_ansi(false)
            .without_time()
            .with_writer(buffer.clone())
            .finish();
        (buffer, subscriber)
    }

    #[test]
    fn fields_are_plain_or_escaped() {
        let (buffer, subscriber) = text_subscriber();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                request_id = "abc-1",
                path = "/a b",
                endpoint = tracing::field::Empty
            );
            span.record("endpoint", "greet");
            let _guard = span.enter();
            tracing::info!(
                user = "x=1 \"forged\"",
                count = 3,
                empty = "",
                "hello {}",
                "world"
            );
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains(r#"request{request_id=abc-1 path="/a b" endpoint=greet}"#),
            "{text}"
        );
        assert!(
            text.contains(r#"hello world user="x=1 \"forged\"" count=3 empty="""#),
            "{text}"
        );
    }

    #[test]
    fn the_exporters_otel_fields_stay_out_of_log_lines() {
        let (buffer, subscriber) = text_subscriber();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                request_id = "abc-1",
                otel.name = "GET /a",
                otel.kind = "server",
                http.route = "/a",
            );
            let _guard = span.enter();
            tracing::info!("hello");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains("request{request_id=abc-1 http.route=/a}: "),
            "{text}"
        );
        let json = json_line_of(JsonFields, || {
            let span = tracing::info_span!("request", otel.name = "GET /a", request_id = "abc-1");
            let _guard = span.enter();
            tracing::info!("hello");
        });
        assert_eq!(
            json["span"],
            serde_json::json!({ "name": "request", "request_id": "abc-1" })
        );
    }

    #[test]
    fn text_values_never_write_control_characters() {
        let (buffer, subscriber) = text_subscriber();
        let hostile = "a\nFORGED line\r\u{1b}[31mred\u{7f}\u{85}\u{2028}\u{202e}\t end é ✓";
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", path = hostile);
            let _guard = span.enter();
            tracing::warn!(
                reason = %hostile,
                debug = ?hostile,
                error = &std::io::Error::other(hostile) as &(dyn std::error::Error + 'static),
                "rejected: {hostile}"
            );
            tracing::warn!(message = hostile);
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(
            !text.chars().any(|c| c != '\n' && is_escaped_in_text(c)),
            "{text:?}"
        );
        let escaped = r"a\nFORGED line\r\u{1b}[31mred\u{7f}\u{85}\u{2028}\u{202e}\t end é ✓";
        let first = text.lines().next().unwrap();
        assert!(first.contains(&format!("rejected: {escaped}")), "{first}");
        assert!(first.contains(&format!("reason={escaped}")), "{first}");
        assert!(first.contains(&format!("error={escaped}")), "{first}");
        assert!(first.contains(&format!("path={hostile:?}")), "{first}");
        assert!(first.contains(&format!("debug={hostile:?}")), "{first}");
        // Text without controls is written as it was.
        let mut out = String::new();
        let mut gather = Gather::new(Writer::new(&mut out));
        escape_controls(&mut gather, "plain é ✓ \\ \"quoted\"");
        gather.finish().unwrap();
        assert_eq!(out, "plain é ✓ \\ \"quoted\"");
    }

    /// The line `emit` logs under the JSON format with `fields` as the span field formatter,
    /// parsed.
    fn json_line_of<N>(fields: N, emit: impl FnOnce()) -> serde_json::Value
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .fmt_fields(fields)
            .without_time()
            .with_writer(buffer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        serde_json::from_str(text.trim()).unwrap()
    }

    /// Emits the same spans and event under the JSON format with `fields` as the span field
    /// formatter, and returns the line's `span`, `spans` and `fields`.
    fn json_line<N>(fields: N) -> serde_json::Value
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let line = json_line_of(fields, || {
            let outer = tracing::info_span!(
                "outer",
                text = "quote \" backslash \\ newline \n tab \t bell \u{7} nul \u{0} é ✓",
                flag = true,
                small = -3i64,
                big = u64::MAX,
                ratio = 1.0f64,
                nan = f64::NAN,
                huge = 1u128 << 100,
                bytes = &b"ab"[..],
                debug = ?vec!["a\"b"],
                display = %"x\ny",
                later = tracing::field::Empty,
            );
            outer.record("later", "set after");
            // Recorded again: the later value wins.
            outer.record("small", 7i64);
            let _outer = outer.enter();
            let empty = tracing::info_span!("empty", late = tracing::field::Empty);
            empty.record("late", 1u64);
            let _empty = empty.enter();
            tracing::info!(answer = 42, "done");
        });
        serde_json::json!({ "span": line["span"], "spans": line["spans"], "fields": line["fields"] })
    }

    #[test]
    fn json_span_fields_come_out_as_tracing_subscribers_json_fields_writes_them() {
        let ours = json_line(JsonFields);
        let theirs = json_line(tracing_subscriber::fmt::format::JsonFields::new());
        assert_eq!(ours, theirs);
        let outer = &ours["spans"][0];
        assert_eq!(
            outer["text"],
            "quote \" backslash \\ newline \n tab \t bell \u{7} nul \u{0} é ✓"
        );
        assert_eq!(outer["small"], 7);
        assert_eq!(outer["big"], u64::MAX);
        assert_eq!(outer["ratio"], 1.0);
        assert_eq!(outer["nan"], serde_json::Value::Null);
        assert_eq!(outer["bytes"], serde_json::json!([97, 98]));
        assert_eq!(outer["debug"], "[\"a\\\"b\"]");
        assert_eq!(outer["display"], "x\ny");
        assert_eq!(outer["later"], "set after");
        assert_eq!(
            ours["span"],
            serde_json::json!({ "name": "empty", "late": 1 })
        );
        assert_eq!(
            ours["fields"],
            serde_json::json!({ "message": "done", "answer": 42 })
        );
    }
}
