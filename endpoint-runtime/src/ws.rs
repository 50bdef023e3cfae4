//! WebSocket endpoints (feature `websocket`, axum's over tungstenite): an endpoint takes a
//! [`WebSocketUpgrade`] and answers with [`WebSocketUpgrade::on_upgrade`].
//!
//! ```
//! use endpoint_runtime::prelude::*;
//! use endpoint_runtime::ws::{Message, WebSocketUpgrade};
//!
//! /// Echoes each text message, signed with the caller's name.
//! #[endpoint(id = "chat", route = "/ws", access = authenticated)]
//! async fn chat(upgrade: WebSocketUpgrade, who: Accountability) -> Response {
//!     let user = who.user.unwrap_or_default();
//!     upgrade.on_upgrade(move |mut socket| async move {
//!         while let Some(Ok(message)) = socket.recv().await {
//!             if let Message::Text(text) = message {
//!                 let reply = Message::Text(format!("{user}: {text}").into());
//!                 if socket.send(reply).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         }
//!     })
//! }
//! ```
//!
//! What the runtime does around a socket:
//!
//! - **The upgrade request goes through the whole pipeline** before anything is upgraded: the
//!   accountability is established and the access level checked (401 / 403 in the envelope),
//!   and the endpoint's rate limit applies to upgrades (its `concurrency` bounds handshakes,
//!   not open sockets). Browsers cannot set `Authorization` on a WebSocket: authenticate them
//!   with what the application's authenticators read (a cookie).
//! - **`Origin` is checked** (a browser always sends it, and the same-origin policy does not
//!   apply to WebSockets, so without the check any page could open a socket with its visitor's
//!   cookies): the request's own origin (its `Host`), the server's public URL's origin
//!   (`ENDPOINT_SERVER_URL`) and the origins `ENDPOINT_CORS_ORIGINS` lists are allowed, any
//!   other is 403 `FORBIDDEN`. `ENDPOINT_CORS_ORIGINS=*` does not open WebSockets to every
//!   site (CORS refuses credentials with `*`; a socket would carry the visitor's cookies). A
//!   request without `Origin` (not a browser) is not refused for it.
//! - **Messages are limited** to [`ENDPOINT_WS_MESSAGE_LIMIT`](crate::Config::ws_message_limit)
//!   (`64KiB`), frames too: a larger one closes the connection.
//! - **An idle socket is closed**: [`WebSocket::recv`] waits at most
//!   [`ENDPOINT_WS_IDLE_TIMEOUT`](crate::Config::ws_idle_timeout) (`60s`) for a message, then
//!   sends a close frame (1001, `idle`) and returns `None`; [`WebSocket::send`] waits as long
//!   at most for a client that does not read.
//! - **Draining closes sockets**: when the server starts draining (SIGTERM), `recv` sends a
//!   close frame (1001, `going away`) and returns `None`, so clients reconnect elsewhere.
//! - An upgraded socket leaves the server's connection accounting: it is not counted against
//!   `ENDPOINT_MAX_CONNECTIONS`, and only the two bounds above end it.
//! - A request that is not an upgrade (no `Upgrade: websocket`, a wrong version) is 400
//!   `UPGRADE_REQUIRED`; the OpenAPI document notes the operation as a WebSocket.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

pub use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};

use crate::EndpointError;

/// The bytes a socket's read buffer holds between reads: 8 KiB instead of tungstenite's
/// 128 KiB, which it allocates for every socket up front. A frame larger than it is still
/// read whole (the buffer grows to the frame, up to the message limit), in more reads. With
/// 1000 open sockets, each echoing five 1 KiB messages, the server's heap per socket went from
/// 140 KiB (axum's default: 140) to 16 KiB (`python3 bench/run.py streams`, 2026-12-02).
const READ_BUFFER: usize = 8 * 1024;

/// A WebSocket upgrade request, checked (`Origin`) and limited (message size, idleness) as
/// the module docs say.
#[derive(Debug)]
pub struct WebSocketUpgrade {
    inner: axum::extract::ws::WebSocketUpgrade,
    idle: Duration,
    stopping: Option<tokio_util::sync::CancellationToken>,
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = EndpointError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let config = crate::pipeline::request::RequestState::config(&parts.extensions);
        let stopping = crate::pipeline::request::RequestState::stopping(&parts.extensions);
        if let Some(origin) = parts.headers.get(header::ORIGIN)
            && !origin_allowed(origin.as_bytes(), &parts.headers, config)
        {
            tracing::debug!(origin = ?origin, "WebSocket upgrade refused: origin not allowed");
            return Err(EndpointError::forbidden(
                "this origin may not open a WebSocket here (ENDPOINT_CORS_ORIGINS)",
            ));
        }
        let limit = config.map_or(crate::config::DEFAULT_WS_MESSAGE_LIMIT, |c| {
            c.ws_message_limit
        });
        let idle = config.map_or(crate::config::DEFAULT_WS_IDLE_TIMEOUT, |c| {
            c.ws_idle_timeout
        });
        let inner = axum::extract::ws::WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                EndpointError::new(
                    StatusCode::BAD_REQUEST,
                    "UPGRADE_REQUIRED",
                    format!("expected a WebSocket upgrade: {}", rejection.body_text()),
                )
            })?;
        Ok(WebSocketUpgrade {
            inner: inner
                .max_message_size(limit)
                .max_frame_size(limit)
                .read_buffer_size(READ_BUFFER),
            idle,
            stopping,
        })
    }
}

impl WebSocketUpgrade {
    /// The `101 Switching Protocols` answer; `callback` then runs with the socket, on a task
    /// of its own.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (idle, stopping) = (self.idle, self.stopping);
        self.inner.on_upgrade(move |inner| {
            callback(WebSocket {
                inner,
                idle,
                stopping,
            })
        })
    }
}

/// An upgraded WebSocket connection.
#[derive(Debug)]
pub struct WebSocket {
    inner: axum::extract::ws::WebSocket,
    idle: Duration,
    stopping: Option<tokio_util::sync::CancellationToken>,
}

impl WebSocket {
    /// The next message (pings and pongs included: the library answers pings); `None` once
    /// the connection is closed, after
    /// [`ENDPOINT_WS_IDLE_TIMEOUT`](crate::Config::ws_idle_timeout) without one (a close
    /// frame, 1001 `idle`, is sent then), or when the server starts draining (1001 `going
    /// away`).
    pub async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        // Borrowed, not cloned: a token's clone takes its lock, and this runs per message.
        let stopping = self.stopping.as_ref();
        let draining = async {
            match stopping {
                Some(stopping) => stopping.cancelled().await,
                None => std::future::pending().await,
            }
        };
        let reason = tokio::select! {
            received = tokio::time::timeout(self.idle, self.inner.recv()) => match received {
                Ok(message) => return message,
                Err(_) => "idle",
            },
            () = draining => "going away",
        };
        let close = CloseFrame {
            code: 1001,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = self.send(Message::Close(Some(close))).await;
        None
    }

    /// Sends `message`, waiting at most
    /// [`ENDPOINT_WS_IDLE_TIMEOUT`](crate::Config::ws_idle_timeout) for a client that does not
    /// read.
    ///
    /// # Errors
    ///
    /// When the connection is closed or broken, or the client read nothing for that long.
    pub async fn send(&mut self, message: Message) -> Result<(), axum::Error> {
        match tokio::time::timeout(self.idle, self.inner.send(message)).await {
            Ok(sent) => sent,
            Err(_) => Err(axum::Error::new(
                "the client read nothing within ENDPOINT_WS_IDLE_TIMEOUT",
            )),
        }
    }

    /// The next text message as JSON of `T` (binary messages and pings are skipped); `None`
    /// as for [`recv`](Self::recv). A message that is not `T` is 422 `UNPROCESSABLE_ENTITY`'s
    /// error, for the handler to send back or close on.
    pub async fn recv_json<T: serde::de::DeserializeOwned>(
        &mut self,
    ) -> Option<Result<T, EndpointError>> {
        loop {
            return match self.recv().await? {
                Ok(Message::Text(text)) => Some(serde_json::from_str(text.as_str()).map_err(|e| {
                    EndpointError::unprocessable(format!("not the expected message: {e}"))
                })),
                Ok(Message::Close(_)) => None,
                Ok(_) => continue,
                Err(error) => Some(Err(EndpointError::invalid_payload(format!(
                    "the WebSocket failed: {error}"
                )))),
            };
        }
    }

    /// Sends `value` as a JSON text message.
    ///
    /// # Errors
    ///
    /// When the connection is closed or broken, or `value` cannot be written as JSON.
    pub async fn send_json<T: serde::Serialize>(&mut self, value: &T) -> Result<(), axum::Error> {
        let text = serde_json::to_string(value).map_err(axum::Error::new)?;
        self.send(Message::Text(text.into())).await
    }

    /// Closes the connection with `code` and `reason`.
    ///
    /// # Errors
    ///
    /// When the connection is already broken.
    pub async fn close(mut self, code: u16, reason: &str) -> Result<(), axum::Error> {
        self.send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await
    }
}

/// Whether a WebSocket from `origin` is allowed: the request's own origin (`Host`), the
/// server's public URL, or a CORS origin.
fn origin_allowed(origin: &[u8], headers: &HeaderMap, config: Option<&crate::Config>) -> bool {
    let Ok(origin) = std::str::from_utf8(origin) else {
        return false;
    };
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    if let (Some(authority), Some(host)) = (authority, headers.get(header::HOST))
        && host.as_bytes().eq_ignore_ascii_case(authority.as_bytes())
    {
        return true;
    }
    let Some(config) = config else {
        return false;
    };
    // The server URL's origin: its scheme and authority, without a path.
    let server = config.server_url.as_deref().map(|url| {
        let authority = url.find("://").map_or(0, |i| i + 3);
        url[authority..]
            .find('/')
            .map_or(url, |slash| &url[..authority + slash])
    });
    if server.is_some_and(|server| server.eq_ignore_ascii_case(origin)) {
        return true;
    }
    // Listed origins only: `*` does not cover a socket that carries cookies.
    match config.cors.as_ref().map(|cors| &cors.origins) {
        Some(crate::CorsOrigins::List(list)) => {
            list.iter().any(|o| o.as_bytes() == origin.as_bytes())
        }
        Some(crate::CorsOrigins::Any) | None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_allowed_by_host_server_url_or_cors() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "api.example.com".parse().unwrap());
        let mut config = crate::Config::default();
        assert!(origin_allowed(b"https://api.example.com", &headers, None));
        assert!(origin_allowed(b"http://API.example.com", &headers, None));
        assert!(!origin_allowed(
            b"https://evil.example",
            &headers,
            Some(&config)
        ));
        assert!(!origin_allowed(
            b"https://api.example.com.evil",
            &headers,
            Some(&config)
        ));
        assert!(!origin_allowed(b"null", &headers, Some(&config)));
        config.server_url = Some("https://www.example.com/api".into());
        assert!(!origin_allowed(
            b"https://www.example.com/api",
            &headers,
            Some(&config)
        ));
        assert!(origin_allowed(
            b"https://www.example.com",
            &headers,
            Some(&config)
        ));
        config.cors = Some(crate::CorsConfig::new(crate::CorsOrigins::List(vec![
            "https://app.example.com".parse().unwrap(),
        ])));
        assert!(origin_allowed(
            b"https://app.example.com",
            &headers,
            Some(&config)
        ));
        assert!(!origin_allowed(
            b"https://other.example.com",
            &headers,
            Some(&config)
        ));
        config.cors = Some(crate::CorsConfig::new(crate::CorsOrigins::Any));
        assert!(!origin_allowed(
            b"https://other.example.com",
            &headers,
            Some(&config)
        ));
    }
}
