//! Server-sent events: an endpoint that returns [`Sse`] streams `text/event-stream` to the
//! client (the [WHATWG `EventSource`](https://html.spec.whatwg.org/multipage/server-sent-events.html)
//! protocol) until its stream ends, the client leaves, the server shuts down or the stream's
//! lifetime is over.
//!
//! ```
//! use std::time::Duration;
//! use endpoint_runtime::prelude::*;
//! use endpoint_runtime::sse::{Event, LastEventId, Sse, Stream, StreamExt, stream};
//!
//! /// A tick every second, numbered from the last one the client saw.
//! #[endpoint(id = "clock", route = "/ticks", access = authenticated)]
//! async fn ticks(LastEventId(last): LastEventId) -> Sse<impl Stream<Item = Event>> {
//!     let first = last.and_then(|id| id.parse::<u64>().ok()).map_or(0, |n| n + 1);
//!     let ticks = stream::iter(first..).then(|n| async move {
//!         endpoint_runtime::tokio::time::sleep(Duration::from_secs(1)).await;
//!         Event::default().id(n.to_string()).data("tick")
//!     });
//!     Sse::new(ticks)
//! }
//! ```
//!
//! What the runtime does around a stream:
//!
//! - **Before the first byte**, the request goes through the whole pipeline: the
//!   accountability is established and the access level checked, so a caller who may not
//!   read the stream gets the envelope's 401 or 403 and no stream.
//! - **Keep-alive comments** (`:` lines) every 15 seconds by default ([`Sse::keep_alive`]),
//!   so proxies and [`ENDPOINT_SEND_TIMEOUT`](crate::Config::send_timeout) (60 s: a body
//!   that sends nothing for that long is cut) see a live stream.
//! - **The request timeout does not apply to the stream**: it bounds the handler until it
//!   returns the `Sse`, as for any endpoint. The stream's own bounds are
//!   [`ENDPOINT_SEND_TIMEOUT`](crate::Config::send_timeout) (no progress) and
//!   [`ENDPOINT_STREAM_LIFETIME`](crate::Config::stream_lifetime) (default `1h`): past its
//!   lifetime the stream ends cleanly between two events, and an `EventSource` reconnects
//!   with `Last-Event-ID`, so a stream is never older than the credential checked when it
//!   began by more than the lifetime.
//! - **Graceful shutdown** ends every stream cleanly between two events when it starts (so
//!   the drain does not wait `ENDPOINT_SHUTDOWN_GRACE` for streams that never end); clients
//!   reconnect to another instance.
//! - **Not compressed** (`ENDPOINT_COMPRESSION` leaves `text/event-stream` alone), and sent
//!   with `Cache-Control: no-cache` and `X-Accel-Buffering: no` (nginx would buffer it).
//! - **Documented** in the OpenAPI document as a `text/event-stream` response whose schema
//!   describes each event (`id`, `event`, `retry`, `data`); for items written
//!   [`Json<T>`](crate::extract::Json) or [`JsonEvent<T>`] with `T: JsonSchema`, `data` is
//!   documented as JSON of `T`'s schema.
//!
//! These bounds are the server's ([`run`](crate::run), [`App`](crate::App)): they hold
//! for the runtime's [`Sse`] (axum's own `Sse` type streams without them), as long as no
//! layer of the application rebuilds the response (the marker is a response extension). A
//! router from [`router()`](crate::router) served some other way, the in-process
//! [`TestClient`](crate::testing::TestClient) (which reads a body whole: test a stream that
//! ends) and the `build` command (which refuses `prerender` on an `Sse` endpoint) do not
//! bound streams. A connection that only streams counts as busy but runs no handler, so at
//! [`ENDPOINT_MAX_CONNECTIONS`](crate::Config::max_connections) it is among the first closed
//! to make room; its client reconnects.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub use axum::response::sse::{Event, KeepAlive};
pub use futures_util::stream::{self, Stream, StreamExt};

/// The response of a server-sent-events endpoint: `stream`'s items as events.
///
/// The items may be [`Event`]s, `Result<Event, E>` (an `Err` ends the stream cleanly and is
/// logged), or
/// [`Json<T>`](crate::extract::Json) and [`JsonEvent<T>`] with `T: Serialize` (each one event
/// whose `data` is the value as JSON; documented with `T`'s schema when `T: JsonSchema`): see
/// [`IntoEvent`].
/// Keep-alive comments are sent every 15 seconds unless [`keep_alive`](Self::keep_alive)
/// says otherwise.
#[must_use]
pub struct Sse<S> {
    stream: S,
    keep_alive: Option<KeepAlive>,
}

impl<S> Sse<S> {
    /// `stream` as a response, with a keep-alive comment every 15 seconds.
    pub fn new(stream: S) -> Self {
        Sse {
            stream,
            keep_alive: Some(KeepAlive::default()),
        }
    }

    /// Sends keep-alive comments as `keep_alive` says (interval and text).
    pub fn keep_alive(mut self, keep_alive: KeepAlive) -> Self {
        self.keep_alive = Some(keep_alive);
        self
    }

    /// Sends no keep-alive comments: a stream quiet for
    /// [`ENDPOINT_SEND_TIMEOUT`](crate::Config::send_timeout) is then cut.
    pub fn without_keep_alive(mut self) -> Self {
        self.keep_alive = None;
        self
    }
}

impl<S> std::fmt::Debug for Sse<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sse")
            .field("keep_alive", &self.keep_alive.is_some())
            .finish_non_exhaustive()
    }
}

/// An item of an [`Sse`] stream: what it sends as one event.
pub trait IntoEvent {
    /// The event, or the error that ends the stream.
    fn into_event(self) -> Result<Event, axum::BoxError>;
}

impl IntoEvent for Event {
    fn into_event(self) -> Result<Event, axum::BoxError> {
        Ok(self)
    }
}

impl<E: Into<axum::BoxError>> IntoEvent for Result<Event, E> {
    fn into_event(self) -> Result<Event, axum::BoxError> {
        self.map_err(Into::into)
    }
}

impl<T: serde::Serialize> IntoEvent for crate::extract::Json<T> {
    fn into_event(self) -> Result<Event, axum::BoxError> {
        Event::default().json_data(&self.0).map_err(Into::into)
    }
}

/// An event whose `data` is `T` as JSON, with an `id` (sent back by a reconnecting client as
/// `Last-Event-ID`) and an `event` name when set. An [`Sse`] of these is documented with `T`'s
/// schema when `T: JsonSchema`, as one of [`Json<T>`](crate::extract::Json) is.
#[derive(Debug, Clone)]
pub struct JsonEvent<T> {
    /// The value sent as the event's `data`.
    pub data: T,
    /// The event's `id`, if any.
    pub id: Option<String>,
    /// The event's name (`event:`; `message` when `None`).
    pub event: Option<String>,
}

impl<T> JsonEvent<T> {
    /// `data`, without an id or a name.
    pub fn new(data: T) -> Self {
        JsonEvent {
            data,
            id: None,
            event: None,
        }
    }

    /// Sets the event's `id` (no line break in it: an id with one ends the stream).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the event's name.
    pub fn event(mut self, name: impl Into<String>) -> Self {
        self.event = Some(name.into());
        self
    }
}

impl<T: serde::Serialize> IntoEvent for JsonEvent<T> {
    fn into_event(self) -> Result<Event, axum::BoxError> {
        let mut event = Event::default();
        if let Some(id) = self.id {
            if id.contains(['\r', '\n', '\0']) {
                return Err("an event id has a line break or a NUL in it".into());
            }
            event = event.id(id);
        }
        if let Some(name) = self.event {
            if name.contains(['\r', '\n']) {
                return Err("an event name has a line break in it".into());
            }
            event = event.event(name);
        }
        event.json_data(&self.data).map_err(Into::into)
    }
}

impl<S> IntoResponse for Sse<S>
where
    S: Stream + Send + 'static,
    S::Item: IntoEvent,
{
    fn into_response(self) -> Response {
        // An item that cannot be an event ends the stream cleanly (the last chunk is sent, and
        // the client's `EventSource` reconnects), and says why: a body error would cut the
        // connection with nothing logged above `debug`.
        let events = self.stream.map(IntoEvent::into_event).take_while(|event| {
            if let Err(error) = event {
                tracing::warn!(%error, "event stream ended: an item is not an event");
            }
            std::future::ready(event.is_ok())
        });
        let sse = axum::response::Sse::new(events);
        let mut response = match self.keep_alive {
            Some(keep_alive) => sse.keep_alive(keep_alive).into_response(),
            None => sse.into_response(),
        };
        response
            .headers_mut()
            .insert("x-accel-buffering", HeaderValue::from_static("no"));
        // The server bounds the body by `ENDPOINT_STREAM_LIFETIME` and ends it at shutdown.
        response.extensions_mut().insert(EventStream);
        response
    }
}

/// Marks a response whose body is an event stream, for the server to bound (see the module
/// docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventStream;

/// The `Last-Event-ID` request header: the id of the last event an `EventSource` received,
/// sent when it reconnects, so that the stream can resume after it. `None` on a first
/// connection (or a value that is not visible ASCII).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LastEventId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for LastEventId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(LastEventId(
            parts
                .headers
                .get(LAST_EVENT_ID)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string),
        ))
    }
}

/// The header an `EventSource` resumes with.
const LAST_EVENT_ID: header::HeaderName = header::HeaderName::from_static("last-event-id");
