//! Serving connections: the accept loop, each connection's deadlines, the connection cap,
//! handlers that outlive their client, and graceful shutdown.
//!
//! What a client can hold, and for how long (the limits nginx, Go's `net/http` and hyper
//! give, with the same meaning):
//!
//! | limit | variable | default | what happens past it |
//! |---|---|---|---|
//! | request head (first request: from `accept`; later ones: from their first byte; the HTTP/2 preface and first `HEADERS` too) | `ENDPOINT_HEADER_READ_TIMEOUT` | `10s` | the socket is closed |
//! | idle connection (HTTP/1 between requests, HTTP/2 with no open stream) | `ENDPOINT_KEEP_ALIVE_TIMEOUT` | `60s` | closed (HTTP/2: `GOAWAY` first) |
//! | a response that makes no progress while no handler runs (the client reads nothing, or grants no HTTP/2 window) | `ENDPOINT_SEND_TIMEOUT` | `60s` | the socket is closed (within twice the timeout: progress is looked at when the timer fires) |
//! | connections at once (one whose client left counts until its handlers end) | `ENDPOINT_MAX_CONNECTIONS` | see below | the oldest idle or head-less connection is closed to make room, else the oldest that only sends responses; if a handler runs on every connection, the new one gets an HTTP/1.1 `503` with `Connection: close` and `Retry-After: 1` (32 at once; past that it is closed unanswered) |
//! | handlers running on one connection, those whose client left included | | 200 | `503` with `Retry-After: 1` at once |
//! | HTTP/2 concurrent streams per connection | | 200 | the stream is refused (`REFUSED_STREAM`) |
//! | HTTP/2 header list | | 16 KiB | `431` / stream reset |
//! | HTTP/2 streams reset by the client before the server accepts them | | 20 pending | `GOAWAY` (the "rapid reset" defence; streams reset later are bounded by the handler limit above) |
//! | HTTP/2 streams reset by the server on errors | | 1,024 per connection | `GOAWAY` |
//! | HTTP/1 request head | | hyper's: 100 headers, ~400 KiB, a URI of 65,534 bytes | `431` / `414` with an empty body (hyper answers before any service runs), then closed |
//!
//! **The default connection cap** is derived from the process's file-descriptor limit
//! (`RLIMIT_NOFILE`), which [`App::bind`](crate::App::bind) first raises from the soft to
//! the hard limit (as Go's runtime does since 1.19) and logs once: the cap is the limit minus
//! a reserve of 64 descriptors (listener, log, standard streams, files handlers open), the
//! database pool (10 connections on PostgreSQL, 4 on SQLite) and 4 per confined worker that
//! can be alive (`ENDPOINT_CONFINED_WORKERS` × (confined endpoints + 1)), and never below 16.
//! With the common 1,024 soft limit, no way to raise it, no database and no confined endpoint
//! that is 960; with a hard limit of 1,048,576 it is 1,048,512. So the server makes room by closing its own
//! idle connections before `accept` could fail for want of a descriptor.
//!
//! **A handler runs to completion** once its request head has been read, whatever the
//! client does: when the client disconnects (or resets its HTTP/2 stream), the handler's
//! future is moved to a task of its own (as dropshot does), so a handler that commits a
//! change also runs the hooks after it. The request timeout (`ENDPOINT_REQUEST_TIMEOUT`)
//! stays the one deadline that may stop it; its connection keeps its place under the cap
//! until it ends. Graceful shutdown waits for these handlers too, and stops them when
//! `ENDPOINT_SHUTDOWN_GRACE` has passed.

mod connection;
mod limits;
mod stream;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
#[cfg(feature = "http2")]
use hyper_util::rt::{TokioExecutor, TokioTimer};
#[cfg(feature = "http2")]
use hyper_util::server::conn::auto;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::config::Config;
use crate::error::{ErrorInfo, render};
use connection::{ConnState, Ended, RequestGuard, Running, Timeouts, Tracked, TrackedBody};

pub(crate) use limits::{default_max_connections, raise_nofile_limit};

/// Handlers that may run at once on one connection, those whose client left included: the
/// HTTP/2 concurrent-stream limit. Past it a new request is answered `503` at once, so a
/// client that resets its streams cannot pile up handlers.
const MAX_RUNNING_PER_CONNECTION: usize = 200;

/// Connections answered `503` at the cap at once (each is held up to [`REFUSAL_LINGER`] to
/// deliver the answer); past it a new connection is closed without an answer.
const MAX_REFUSING: usize = 32;

/// How long the accept loop, at the cap, waits for a connection it asked to close before it
/// answers the new one `503`.
const CLOSING_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a refused connection is kept open for the client to read the `503`.
const REFUSAL_LINGER: std::time::Duration = std::time::Duration::from_millis(250);

/// Serves `router` on `listener`, at most `cap` connections at once, until `signal`
/// completes; then stops accepting, lets in-flight requests (and handlers whose client left)
/// finish for up to [`Config::shutdown_grace`], and stops what remains.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    config: &Config,
    cap: usize,
    signal: impl Future<Output = ()> + Send,
) {
    let clock = connection::Clock::new();
    let timeouts = Timeouts::new(
        config.header_read_timeout,
        config.keep_alive_timeout,
        config.send_timeout,
    );
    let builder = builder();
    let full = at_capacity_response(config);
    let refusing = Arc::new(tokio::sync::Semaphore::new(MAX_REFUSING));
    let shutdown = CancellationToken::new();
    // Past the grace: handlers whose client left are stopped, and none is detached anymore.
    let stop = CancellationToken::new();
    let streams = Arc::new(stream::StreamBounds {
        shutdown: shutdown.clone(),
        lifetime: config.stream_lifetime,
    });
    let detached = TaskTracker::new();
    let open = Arc::new(Open::default());
    let mut tasks = JoinSet::new();
    let mut next_id: u64 = 0;
    // Connections answered 503 since the last warning, and when that was.
    let (mut refused, mut last_told) = (0u64, None::<tokio::time::Instant>);
    let mut last_failed = None::<tokio::time::Instant>;
    let mut signal = std::pin::pin!(signal);
    tracing::debug!(cap, "serving");
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    if !limits::out_of_descriptors(&error) {
                        // A connection that failed before it was accepted (reset, aborted).
                        tracing::debug!(%error, "accept failed");
                        continue;
                    }
                    // Out of descriptors despite the cap (another part of the process
                    // holds them): make room as at the cap, and try again once a
                    // connection has closed rather than in a loop.
                    if last_failed.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(10)) {
                        tracing::warn!(%error, cap, open = open.len(), "accept failed (logged at most every 10 s)");
                        last_failed = Some(tokio::time::Instant::now());
                    }
                    if open.evict_one().is_none() {
                        tokio::select! {
                            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                            () = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
                        }
                    }
                    continue;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            () = &mut signal => break,
        };
        // Connections asked to close have not closed yet when their tasks have not run (a
        // flood arrives faster than they get the CPU): wait for them to make room rather
        // than refuse a client while room is being made.
        let mut room = open.len() < cap || open.evict_one().is_some();
        while !room && open.closing() {
            match tokio::time::timeout(CLOSING_WAIT, tasks.join_next()).await {
                Ok(Some(_)) => room = open.len() < cap || open.evict_one().is_some(),
                Ok(None) | Err(_) => break,
            }
        }
        if !room {
            refused += 1;
            #[cfg(feature = "metrics")]
            metrics::counter!("endpoint_connections_shed_total").increment(1);
            // One line per 10 s at most, however hard the flood.
            if last_told.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(10)) {
                tracing::warn!(
                    cap,
                    refused,
                    "every connection is busy: new connections are answered 503 \
                     (ENDPOINT_MAX_CONNECTIONS)"
                );
                last_told = Some(tokio::time::Instant::now());
                refused = 0;
            }
            // A bounded number at once; past it, closed without an answer.
            if let Ok(permit) = Arc::clone(&refusing).try_acquire_owned() {
                tasks.spawn(refuse(stream, full.clone(), permit));
            }
            continue;
        }
        let _ = stream.set_nodelay(true);
        next_id += 1;
        let state = Arc::new(ConnState::new(clock, Arc::clone(&streams)));
        open.insert(next_id, Arc::clone(&state));
        let service = Service {
            router: router.clone(),
            peer,
            state: Arc::clone(&state),
            detached: detached.clone(),
            stop: stop.clone(),
        };
        let io = TokioIo::new(Tracked::new(stream, Arc::clone(&state)));
        let connection = serve_connection(&builder, io, service);
        // Uncounted when the task ends, however it ends (aborted at shutdown included).
        let entry = Entry {
            open: Arc::clone(&open),
            id: next_id,
        };
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let ended = connection::drive(connection, Arc::clone(&state), timeouts, shutdown).await;
            // The socket is closed; handlers whose client left keep the place under the cap.
            connection::settle(&state).await;
            drop(entry);
            match ended {
                Ended::Done(Ok(())) => {}
                Ended::Done(Err(error)) => {
                    tracing::debug!(%peer, %error, "connection closed with an error");
                }
                Ended::HeadTimeout => {
                    tracing::debug!(%peer, "no request head within the header-read timeout");
                }
                Ended::IdleTimeout => tracing::debug!(%peer, "idle past the keep-alive timeout"),
                Ended::SendTimeout => {
                    tracing::debug!(%peer, "the client read nothing within the send timeout");
                }
                Ended::Evicted => tracing::debug!(%peer, "closed to make room"),
            }
        });
    }
    drop(listener);
    let grace = config.shutdown_grace;
    tracing::info!(
        connections = open.len(),
        detached = detached.len(),
        grace = ?grace,
        "shutting down"
    );
    shutdown.cancel();
    detached.close();
    let drained = async {
        while tasks.join_next().await.is_some() {}
        detached.wait().await;
    };
    tokio::select! {
        () = drained => tracing::info!("all connections drained"),
        () = tokio::time::sleep(grace) => {
            tracing::warn!(grace = ?grace, "shutdown grace elapsed; closing remaining connections");
        }
    }
    // First, so that the handlers of the connections aborted next are not detached.
    stop.cancel();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    detached.wait().await;
}

/// One builder for every connection: HTTP/1.1 and HTTP/2 (by prior knowledge or upgrade),
/// with the HTTP/2 limits of the module's table. hyper's own HTTP/1 header-read timeout is
/// off: it runs from the moment a kept-alive connection goes idle, which would make it a
/// second, shorter keep-alive timeout; the connection's task applies both instead.
#[cfg(feature = "http2")]
fn builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().header_read_timeout(None);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(200)
        .max_header_list_size(16 * 1024)
        .max_pending_accept_reset_streams(20)
        .max_local_error_reset_streams(1024);
    builder
}

/// Without the `http2` feature: HTTP/1.1 only (a client's HTTP/2 preface is a malformed
/// request line, answered by hyper and closed), hyper's header-read timeout off as above.
#[cfg(not(feature = "http2"))]
fn builder() -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.header_read_timeout(None);
    builder
}

/// hyper's connection future for one socket, with upgrades (WebSocket, HTTP/2 by `Upgrade`).
#[cfg(feature = "http2")]
fn serve_connection(
    builder: &auto::Builder<TokioExecutor>,
    io: Io,
    service: Service,
) -> Upgradeable {
    builder
        .serve_connection_with_upgrades(io, service)
        .into_owned()
}

/// hyper's connection future for one socket, with upgrades (WebSocket).
#[cfg(not(feature = "http2"))]
fn serve_connection(
    builder: &hyper::server::conn::http1::Builder,
    io: Io,
    service: Service,
) -> Upgradeable {
    builder.serve_connection(io, service).with_upgrades()
}

/// The connections being served, oldest first, that the accept loop may close to make room.
#[derive(Default)]
struct Open {
    connections: Mutex<std::collections::BTreeMap<u64, Arc<ConnState>>>,
}

impl Open {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<u64, Arc<ConnState>>> {
        // Nothing panics while the lock is held; a poisoned map is still a valid map.
        self.connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn insert(&self, id: u64, state: Arc<ConnState>) {
        self.lock().insert(id, state);
        #[cfg(feature = "metrics")]
        metrics::gauge!("endpoint_connections_open").increment(1.0);
    }

    fn remove(&self, id: u64) {
        if self.lock().remove(&id).is_some() {
            #[cfg(feature = "metrics")]
            metrics::gauge!("endpoint_connections_open").decrement(1.0);
        }
    }

    /// Whether a connection asked to close is still open (its task has not run since).
    fn closing(&self) -> bool {
        self.lock().values().any(|state| state.is_evicted())
    }

    /// Asks the oldest connection that is idle or has not completed a head to close, else
    /// the oldest that runs no handler (it only sends responses, perhaps to a client that
    /// does not read them). `None` when a handler runs on every connection. It stays counted
    /// until its task ends. O(connections) under the lock, at the cap only.
    fn evict_one(&self) -> Option<()> {
        let connections = self.lock();
        let state = connections
            .values()
            .find(|state| state.is_idle())
            .or_else(|| connections.values().find(|state| state.runs_no_handler()))?;
        state.evict();
        #[cfg(feature = "metrics")]
        metrics::counter!("endpoint_connections_shed_total").increment(1);
        Some(())
    }
}

/// A connection's place in [`Open`], given up on drop.
struct Entry {
    open: Arc<Open>,
    id: u64,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.open.remove(self.id);
    }
}

/// The short answer to a connection that arrives when every connection is busy.
fn at_capacity_response(config: &Config) -> bytes::Bytes {
    let info = ErrorInfo {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        code: "SERVICE_UNAVAILABLE".into(),
        message: "the server is at its connection limit; retry shortly".into(),
        details: None,
        errors: None,
        detail: None,
        source: None,
    };
    let (content_type, body) = render(&info, config.error_format, None);
    let mut response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {content_type}\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    response.into()
}

/// Answers `response` and closes, without reading the request (bounded: one write, then a
/// short wait for the client to close first so that it reads the answer rather than a reset).
async fn refuse(
    mut stream: TcpStream,
    response: bytes::Bytes,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let bounded = async {
        stream.write_all(&response).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(REFUSAL_LINGER, bounded).await;
}

/// The answer to a request past [`MAX_RUNNING_PER_CONNECTION`].
fn too_many_handlers() -> axum::response::Response {
    use axum::response::IntoResponse as _;
    crate::error::EndpointError::service_unavailable("too many requests at once on one connection")
        .with_client_message("too many requests at once on this connection; retry shortly")
        .with_header(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        )
        .into_response()
}

/// A connection's socket, as hyper reads it.
type Io = TokioIo<Tracked>;

/// hyper's connection future for one socket.
#[cfg(feature = "http2")]
type Upgradeable = auto::UpgradeableConnection<'static, Io, Service, TokioExecutor>;
#[cfg(not(feature = "http2"))]
type Upgradeable = hyper::server::conn::http1::UpgradeableConnection<Io, Service>;

impl connection::Connection for Upgradeable {
    fn graceful_shutdown(self: Pin<&mut Self>) {
        Upgradeable::graceful_shutdown(self);
    }
}

/// The service hyper calls with each request head: the router, with the peer address, the
/// connection's bookkeeping, and handlers detached from the client.
#[derive(Clone)]
struct Service {
    router: Router,
    peer: SocketAddr,
    state: Arc<ConnState>,
    detached: TaskTracker,
    stop: CancellationToken,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Service {
    type Response = hyper::Response<TrackedBody>;
    type Error = Infallible;
    type Future = Detached;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let too_many = self.state.running() >= MAX_RUNNING_PER_CONNECTION;
        let (guard, running) = self
            .state
            .request_started(request.version() == hyper::Version::HTTP_2);
        let response: RouterFuture = if too_many {
            Box::pin(std::future::ready(Ok(too_many_handlers())))
        } else {
            Box::pin(self.router.clone().oneshot(request))
        };
        Detached {
            response: Some(response),
            guard: Some(guard),
            running: Some(running),
            detached: self.detached.clone(),
            stop: self.stop.clone(),
        }
    }
}

type RouterFuture =
    Pin<Box<dyn Future<Output = Result<axum::response::Response, Infallible>> + Send + 'static>>;

/// A request's response future that, when hyper drops it because the client went away, is
/// moved to a task of its own and runs to completion (see the module docs).
struct Detached {
    response: Option<RouterFuture>,
    guard: Option<RequestGuard>,
    running: Option<Running>,
    detached: TaskTracker,
    stop: CancellationToken,
}

impl Future for Detached {
    type Output = Result<hyper::Response<TrackedBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(response) = self.response.as_mut() else {
            return Poll::Pending;
        };
        let Ok(response) = std::task::ready!(response.as_mut().poll(cx));
        self.response = None;
        self.running = None;
        let guard = self.guard.take();
        // An event stream ends at shutdown and after its lifetime (see `crate::sse`).
        let response = match &guard {
            Some(guard)
                if response
                    .extensions()
                    .get::<crate::sse::EventStream>()
                    .is_some() =>
            {
                let bounds = guard.stream_bounds();
                response.map(|body| axum::body::Body::new(stream::Bounded::new(body, bounds)))
            }
            _ => response,
        };
        Poll::Ready(Ok(response.map(|body| TrackedBody::new(body, guard))))
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        let Some(response) = self.response.take() else {
            return;
        };
        let guard = self.guard.take();
        let running = self.running.take();
        if self.stop.is_cancelled() {
            return; // past the shutdown grace: the handler stops here
        }
        // Dropped outside a runtime only when the runtime itself is going away.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            tracing::debug!("the client went away; the handler runs to completion");
            let stop = self.stop.clone();
            self.detached.spawn_on(
                async move {
                    tokio::select! {
                        _ = response => {}
                        () = stop.cancelled() => {}
                    }
                    drop((running, guard));
                },
                &runtime,
            );
        }
    }
}

/// A future that resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM. The handlers are
/// installed when this is called, not when the future is first polled, so a signal that
/// arrives right after "listening on" is printed still shuts down gracefully.
#[cfg(unix)]
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> + Send {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt()).ok();
    let terminate = signal(SignalKind::terminate()).ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {}
            () = wait(terminate) => {}
        }
    }
}

#[cfg(not(unix))]
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> + Send {
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
