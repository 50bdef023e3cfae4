//! The default log subscriber, and the field formatter it uses.
//!
//! [`run`](crate::run) installs a [`tracing_subscriber`] `fmt` subscriber on standard error
//! unless the application installed one first: the level filter comes from `RUST_LOG`
//! (default `info`), the format from `ENDPOINT_LOG_FORMAT` (`text` or `json`). Every request
//! runs inside one `request` span with `request_id`, `method`, `path` and, once routed,
//! `endpoint`, so each line logged while serving it carries those fields.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;

use crate::config::LogFormat;

/// The text format's field formatter: `name=value` pairs separated by spaces, the `message`
/// field bare, as `tracing_subscriber`'s default. Unlike the default, a string value made only of
/// printable ASCII without spaces, quotes, backslashes or `=` is written as is, and anything
/// else in Rust's escaped `Debug` form, so a value can never forge a field or a line.
///
/// It exists for speed: the request span is formatted on every request, and the default
/// formatter escapes every string character by character (about 4,000 instructions for the
/// span's three fields, against a few hundred here).
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
            writer: target,
            buffer: Buffer::default(),
            first: true,
            result: Ok(()),
        }
    }
}

/// Writes one event's or span's fields; made by [`Fields`]. The text is gathered on the
/// stack and written to the target once (the target is a fresh `String` for a span's
/// fields, which would otherwise grow once per piece).
#[derive(Debug)]
pub struct FieldVisitor<'writer> {
    writer: Writer<'writer>,
    buffer: Buffer,
    first: bool,
    result: fmt::Result,
}

/// The stack buffer of a [`FieldVisitor`]: 256 bytes, written through when full.
struct Buffer {
    bytes: [u8; 256],
    len: usize,
}

impl Default for Buffer {
    fn default() -> Self {
        Buffer {
            bytes: [0; 256],
            len: 0,
        }
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer").field("len", &self.len).finish()
    }
}

impl Buffer {
    /// The buffered text; only whole `&str`s are ever copied in, so it is UTF-8.
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// A value that can be written without quotes: it cannot be mistaken for another field.
fn plain(value: &str) -> bool {
    // One table load per byte: this runs for every field of every request span.
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

impl FieldVisitor<'_> {
    /// Writes the buffered text to the target.
    fn flush(&mut self) -> fmt::Result {
        if self.buffer.len > 0 {
            let result = self.writer.write_str(self.buffer.as_str());
            self.buffer.len = 0;
            result?;
        }
        Ok(())
    }

    fn separate(&mut self) {
        if !self.first {
            self.push(" ");
        }
        self.first = false;
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
}

impl fmt::Write for FieldVisitor<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.push(text);
        self.result
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        self.separate();
        let name = field.name();
        let name = name.strip_prefix("r#").unwrap_or(name);
        if name == "message" {
            self.push(value);
        } else if plain(value) {
            self.push(name);
            self.push("=");
            self.push(value);
        } else {
            let _ = write!(self, "{name}={value:?}");
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        self.separate();
        let name = field.name();
        let _ = if name == "message" {
            write!(self, "{value:?}")
        } else {
            let name = name.strip_prefix("r#").unwrap_or(name);
            write!(self, "{name}={value:?}")
        };
    }
}

impl VisitOutput<fmt::Result> for FieldVisitor<'_> {
    fn finish(mut self) -> fmt::Result {
        self.result?;
        self.flush()
    }
}

impl VisitFmt for FieldVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        // Whatever is written directly comes after what was recorded so far.
        if self.result.is_ok() {
            self.result = self.flush();
        }
        &mut self.writer
    }
}

/// Installs the default subscriber (see the module docs); keeps one the application installed.
pub(crate) fn init(format: LogFormat) {
    use tracing_subscriber::filter::{EnvFilter, Targets};
    use tracing_subscriber::fmt;
    use tracing_subscriber::prelude::*;
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // `Targets` understands `RUST_LOG`'s usual `level,target=level` form and is much cheaper per
    // span than `EnvFilter`, which is kept for the directives only it understands. Either is
    // the subscriber's global filter: a per-layer filter costs a check on every span callback.
    let filter = match spec.parse::<Targets>() {
        Ok(targets) => targets.boxed(),
        Err(_) => EnvFilter::new(spec).boxed(),
    };
    let layer = match format {
        LogFormat::Text => fmt::layer()
            .fmt_fields(Fields)
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => fmt::layer().json().with_writer(std::io::stderr).boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init();
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

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

    #[test]
    fn fields_are_plain_or_escaped() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(Fields)
            .with_ansi(false)
            .without_time()
            .with_writer(buffer.clone())
            .finish();
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
}
