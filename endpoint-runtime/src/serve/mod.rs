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
//! | connections at once | `ENDPOINT_MAX_CONNECTIONS` | see below | the oldest idle or head-less connection is closed to make room; if every connection is busy, the new one gets `503` with `Connection: close` and `Retry-After: 1` |
//! | HTTP/2 concurrent streams per connection | | 200 | the stream is refused (`REFUSED_STREAM`) |
//! | HTTP/2 header list | | 16 KiB | `431` / stream reset |
//! | HTTP/2 streams reset by the client before they are answered | | 20 pending | `GOAWAY` (the "rapid reset" defence) |
//! | HTTP/2 streams reset by the server on errors | | 1,024 per connection | `GOAWAY` |
//! | HTTP/1 request head | | hyper's: 100 headers, ~400 KiB buffer | `431` |
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
//! **A handler runs to completion** once its request has been read, whatever the client
//! does: when the client disconnects, the handler's future is moved to a task of its own
//! (as dropshot does), so a handler that commits a change also runs the hooks after it. The
//! request timeout (`ENDPOINT_REQUEST_TIMEOUT`) stays the one deadline that may stop it.
//! Graceful shutdown waits for these handlers too, within `ENDPOINT_SHUTDOWN_GRACE`.

mod connection;
mod limits;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::config::Config;
use crate::error::{ErrorInfo, render};
use connection::{ConnState, Ended, RequestGuard, Timeouts, Tracked, TrackedBody};

pub use limits::default_max_connections;
pub(crate) use limits::raise_nofile_limit;

/// Serves `router` on `listener` until `signal` completes, then stops accepting, lets
/// in-flight requests (and handlers whose client left) finish for up to
/// [`Config::shutdown_grace`], and closes what remains.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    config: &Config,
    signal: impl Future<Output = ()> + Send,
) {
    let clock = connection::Clock::new();
    let timeouts = Timeouts::new(config.header_read_timeout, config.keep_alive_timeout);
    let cap = config
        .max_connections
        .unwrap_or_else(|| default_max_connections(config));
    let builder = builder();
    let full = at_capacity_response(config);
    let shutdown = CancellationToken::new();
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
                    // Out of descriptors despite the cap (another part of the process
                    // holds them): make room as at the cap, and try again once a
                    // connection has closed rather than in a loop.
                    if last_failed.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(10)) {
                        tracing::warn!(%error, cap, open = open.len(), "accept failed (logged at most every 10 s)");
                        last_failed = Some(tokio::time::Instant::now());
                    }
                    if open.evict_oldest_idle().is_none() {
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
        if open.len() >= cap && open.evict_oldest_idle().is_none() {
            refused += 1;
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
            tasks.spawn(refuse(stream, full.clone()));
            continue;
        }
        let _ = stream.set_nodelay(true);
        next_id += 1;
        let state = Arc::new(ConnState::new(clock));
        open.insert(next_id, Arc::clone(&state));
        let service = Service {
            router: router.clone(),
            peer,
            state: Arc::clone(&state),
            detached: detached.clone(),
        };
        let io = TokioIo::new(Tracked::new(stream, Arc::clone(&state)));
        let connection: Upgradeable = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let open = Arc::clone(&open);
        let id = next_id;
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let ended = connection::drive(connection, state, timeouts, shutdown).await;
            open.remove(id);
            match ended {
                Ended::Done(Ok(())) => {}
                Ended::Done(Err(error)) => {
                    tracing::debug!(%peer, %error, "connection closed with an error");
                }
                Ended::HeadTimeout => {
                    tracing::debug!(%peer, "no request head within the header-read timeout");
                }
                Ended::IdleTimeout => tracing::debug!(%peer, "idle past the keep-alive timeout"),
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
    tasks.abort_all();
}

/// One builder for every connection: HTTP/1.1 and HTTP/2 (by prior knowledge or upgrade),
/// with the HTTP/2 limits of the module's table. hyper's own HTTP/1 header-read timeout is
/// off: it runs from the moment a kept-alive connection goes idle, which would make it a
/// second, shorter keep-alive timeout; the connection's task applies both instead.
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
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Asks the oldest connection that is idle or has not completed a head to close, and
    /// stops counting it. `None` when every connection is busy.
    fn evict_oldest_idle(&self) -> Option<()> {
        let mut connections = self.lock();
        let id = connections
            .iter()
            .find(|(_, state)| state.is_idle())
            .map(|(id, _)| *id)?;
        let state = connections.remove(&id)?;
        drop(connections);
        state.evict();
        Some(())
    }
}

/// The short answer to a connection that arrives when every connection is busy.
fn at_capacity_response(config: &Config) -> bytes::Bytes {
    let info = ErrorInfo {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        code: "SERVICE_UNAVAILABLE".into(),
        message: "the server is at its connection limit; retry shortly".into(),
        details: None,
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
async fn refuse(mut stream: TcpStream, response: bytes::Bytes) {
    let bounded = async {
        stream.write_all(&response).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), bounded).await;
}

/// hyper's connection future for one socket.
type Upgradeable = auto::UpgradeableConnection<'static, TokioIo<Tracked>, Service, TokioExecutor>;

impl connection::Connection for Upgradeable {
    fn graceful_shutdown(self: Pin<&mut Self>) {
        auto::UpgradeableConnection::graceful_shutdown(self);
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
}

impl hyper::service::Service<hyper::Request<Incoming>> for Service {
    type Response = hyper::Response<TrackedBody>;
    type Error = Infallible;
    type Future = Detached;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let guard = self
            .state
            .request_started(request.version() == hyper::Version::HTTP_2);
        let response = self.router.clone().oneshot(request);
        Detached {
            response: Some(Box::pin(response)),
            guard: Some(guard),
            detached: self.detached.clone(),
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
    detached: TaskTracker,
}

impl Future for Detached {
    type Output = Result<hyper::Response<TrackedBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(response) = self.response.as_mut() else {
            return Poll::Pending;
        };
        let Ok(response) = std::task::ready!(response.as_mut().poll(cx));
        self.response = None;
        let guard = self.guard.take();
        Poll::Ready(Ok(response.map(|body| TrackedBody::new(body, guard))))
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        let Some(response) = self.response.take() else {
            return;
        };
        let guard = self.guard.take();
        // Dropped outside a runtime only when the runtime itself is going away.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            tracing::debug!("the client went away; the handler runs to completion");
            self.detached.spawn_on(
                async move {
                    let _ = response.await;
                    drop(guard);
                },
                &runtime,
            );
        }
    }
}
