//! One connection's life: what it is doing (waiting for a head, serving, idle), the deadline
//! that follows from it, and the task that serves it until it ends or its deadline passes.
//!
//! The state is a handful of atomics written by the events that change it: bytes read
//! ([`Tracked`], the socket wrapper), a request head completed (the service is called), a
//! response finished ([`TrackedBody`] dropped). The connection's task keeps one
//! [`tokio::time::Sleep`] and moves it only when the deadline moves earlier; a deadline that
//! moved later is found when the timer fires early, once. So a request costs no timer
//! operation unless a new head shortens the deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Milliseconds since the server started, as one `u64` (0 means "not yet").
#[derive(Clone, Copy)]
pub(super) struct Clock {
    epoch: Instant,
}

impl Clock {
    pub(super) fn new() -> Self {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// Now, never 0.
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX) + 1
    }

    fn instant(&self, at: u64) -> Instant {
        self.epoch + Duration::from_millis(at.saturating_sub(1))
    }
}

/// The two connection timeouts, in the clock's milliseconds.
#[derive(Clone, Copy)]
pub(super) struct Timeouts {
    /// `ENDPOINT_HEADER_READ_TIMEOUT`.
    pub(super) head: u64,
    /// `ENDPOINT_KEEP_ALIVE_TIMEOUT`.
    pub(super) idle: u64,
}

impl Timeouts {
    pub(super) fn new(head: Duration, idle: Duration) -> Self {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        Timeouts {
            head: ms(head),
            idle: ms(idle),
        }
    }
}

/// What one connection is doing, shared by its task, its socket, its requests and the
/// accept loop (which may ask it to make room).
pub(super) struct ConnState {
    clock: Clock,
    accepted: u64,
    /// Requests whose response has not been sent completely (HTTP/2: open streams).
    in_flight: AtomicUsize,
    /// A request head has been completed on this connection.
    served: AtomicBool,
    /// The connection speaks HTTP/2 (known from its first request).
    http2: AtomicBool,
    /// When the first byte of the next HTTP/1 head arrived on an idle connection (0: none).
    head_started: AtomicU64,
    /// When the last response was finished.
    idle_since: AtomicU64,
    /// Bumped on every change that can move the deadline.
    generation: AtomicU64,
    /// The accept loop asked this connection to close to make room.
    evicted: AtomicBool,
    /// The connection's task, woken by changes made from other tasks.
    task: AtomicWaker,
}

impl ConnState {
    pub(super) fn new(clock: Clock) -> Self {
        let now = clock.now();
        ConnState {
            clock,
            accepted: now,
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            http2: AtomicBool::new(false),
            head_started: AtomicU64::new(0),
            idle_since: AtomicU64::new(now),
            generation: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            task: AtomicWaker::new(),
        }
    }

    /// Whether the connection could be closed without cutting a request: it has not
    /// completed a head yet, or it is idle between requests.
    pub(super) fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// Asks the connection to close: at once when idle or still reading its first head,
    /// after the current responses otherwise.
    pub(super) fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        self.task.wake();
    }

    /// Bytes arrived. On an idle HTTP/1 connection they start the next head, and its
    /// header-read deadline.
    fn on_read(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0
            && self.head_started.load(Ordering::Relaxed) == 0
            && !self.http2.load(Ordering::Relaxed)
        {
            self.head_started.store(self.clock.now(), Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
        }
    }

    /// A request head was completed and handed to the service.
    pub(super) fn request_started(self: &Arc<Self>, http2: bool) -> RequestGuard {
        if http2 && !self.http2.load(Ordering::Relaxed) {
            self.http2.store(true, Ordering::Relaxed);
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.served.store(true, Ordering::Relaxed);
        self.head_started.store(0, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
        RequestGuard {
            connection: Arc::clone(self),
        }
    }

    /// A response was sent completely, or its request was abandoned.
    fn request_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle_since.store(self.clock.now(), Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            // An HTTP/2 stream ends in its own task; HTTP/1 responses end inside the
            // connection's task, which looks at the state after every poll anyway.
            if self.http2.load(Ordering::Relaxed) {
                self.task.wake();
            }
        }
    }

    /// When the connection must close if nothing changes, or `None` while it serves.
    fn due(&self, timeouts: Timeouts) -> Option<Due> {
        if !self.served.load(Ordering::Acquire) {
            return Some(Due::Head(self.accepted + timeouts.head));
        }
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        match self.head_started.load(Ordering::Relaxed) {
            0 => Some(Due::Idle(
                self.idle_since.load(Ordering::Relaxed) + timeouts.idle,
            )),
            started => Some(Due::Head(started + timeouts.head)),
        }
    }
}

/// A deadline and what passing it means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Due {
    /// A request head (or the HTTP/2 preface) is late: close the socket.
    Head(u64),
    /// The connection is idle: close it gracefully (HTTP/2 `GOAWAY`).
    Idle(u64),
}

impl Due {
    fn at(self) -> u64 {
        match self {
            Due::Head(at) | Due::Idle(at) => at,
        }
    }
}

/// Holds a connection's request open until the response is sent or abandoned.
pub(super) struct RequestGuard {
    connection: Arc<ConnState>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.connection.request_finished();
    }
}

/// The socket, telling its connection's state when bytes arrive.
pub(super) struct Tracked {
    io: TcpStream,
    state: Arc<ConnState>,
}

impl Tracked {
    pub(super) fn new(io: TcpStream, state: Arc<ConnState>) -> Self {
        Tracked { io, state }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.on_read();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request counted as in flight until it is sent whole
    /// (or dropped), so that a streamed response is never taken for an idle connection.
    pub(super) struct TrackedBody {
        #[pin]
        inner: axum::body::Body,
        guard: Option<RequestGuard>,
    }
}

impl TrackedBody {
    pub(super) fn new(inner: axum::body::Body, guard: Option<RequestGuard>) -> Self {
        TrackedBody { inner, guard }
    }
}

impl http_body::Body for TrackedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            // Sent whole (or failed): the connection is idle from now, not from whenever
            // hyper drops the body.
            this.guard.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The parts of hyper's connection future the task needs.
pub(super) trait Connection: Future {
    /// Stops taking new requests; ends once the current ones are answered.
    fn graceful_shutdown(self: Pin<&mut Self>);
}

/// Serves one connection until it ends, its deadline passes, it is evicted, or `shutdown`
/// asks every connection to finish. Returns how it ended, for the log.
pub(super) async fn drive<C: Connection>(
    connection: C,
    state: Arc<ConnState>,
    timeouts: Timeouts,
    shutdown: tokio_util::sync::CancellationToken,
) -> Ended<C::Output> {
    let clock = state.clock;
    let mut connection = std::pin::pin!(connection);
    let mut shutting_down = std::pin::pin!(shutdown.cancelled_owned());
    let first = Due::Head(state.accepted + timeouts.head);
    let mut timer = std::pin::pin!(tokio::time::sleep_until(clock.instant(first.at())));
    // The deadline the timer is set to; `None` while the connection serves.
    let mut armed = Some(first.at());
    let mut seen = 0;
    let mut closing = false;
    std::future::poll_fn(move |cx| {
        if !closing && shutting_down.as_mut().poll(cx).is_ready() {
            connection.as_mut().graceful_shutdown();
            closing = true;
        }
        if let Poll::Ready(output) = connection.as_mut().poll(cx) {
            return Poll::Ready(Ended::Done(output));
        }
        state.task.register(cx.waker());
        if state.evicted.swap(false, Ordering::AcqRel) && !closing {
            if state.is_idle() {
                return Poll::Ready(Ended::Evicted);
            }
            connection.as_mut().graceful_shutdown();
            closing = true;
        }
        loop {
            let generation = state.generation.load(Ordering::Acquire);
            if generation != seen {
                seen = generation;
                match state.due(timeouts) {
                    None => armed = None,
                    Some(due) => {
                        // Only an earlier deadline moves the timer now; a later one is
                        // found when the timer fires early.
                        if armed.is_none_or(|at| due.at() < at) {
                            timer.as_mut().reset(clock.instant(due.at()));
                            armed = Some(due.at());
                        }
                    }
                }
            }
            if armed.is_none() || timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            match state.due(timeouts) {
                None => armed = None,
                Some(due) if due.at() <= clock.now() => match due {
                    Due::Head(_) => return Poll::Ready(Ended::HeadTimeout),
                    Due::Idle(_) if closing => return Poll::Ready(Ended::IdleTimeout),
                    Due::Idle(_) => {
                        // HTTP/2 says GOAWAY; an idle HTTP/1 connection closes at once.
                        // Whatever the client does then, the socket closes one head
                        // timeout later.
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                        let at = clock.now() + timeouts.head;
                        timer.as_mut().reset(clock.instant(at));
                        armed = Some(at);
                        if let Poll::Ready(output) = connection.as_mut().poll(cx) {
                            return Poll::Ready(Ended::Done(output));
                        }
                    }
                },
                Some(due) => {
                    timer.as_mut().reset(clock.instant(due.at()));
                    armed = Some(due.at());
                }
            }
        }
    })
    .await
}

/// How a connection's task ended.
pub(super) enum Ended<T> {
    /// The connection ended by itself (the client closed it, or a graceful shutdown).
    Done(T),
    /// No request head (or HTTP/2 preface) arrived in time.
    HeadTimeout,
    /// Idle past the keep-alive timeout.
    IdleTimeout,
    /// Closed to make room for a new connection.
    Evicted,
}
