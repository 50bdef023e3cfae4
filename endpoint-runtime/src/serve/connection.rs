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

/// The connection timeouts, in the clock's milliseconds.
#[derive(Clone, Copy)]
pub(super) struct Timeouts {
    /// `ENDPOINT_HEADER_READ_TIMEOUT`.
    pub(super) head: u64,
    /// `ENDPOINT_KEEP_ALIVE_TIMEOUT`.
    pub(super) idle: u64,
    /// `ENDPOINT_SEND_TIMEOUT`.
    pub(super) send: u64,
}

impl Timeouts {
    pub(super) fn new(head: Duration, idle: Duration, send: Duration) -> Self {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        Timeouts {
            head: ms(head),
            idle: ms(idle),
            send: ms(send),
        }
    }
}

/// What one connection is doing, shared by its task, its socket, its requests and the
/// accept loop (which may ask it to make room).
pub(super) struct ConnState {
    clock: Clock,
    /// The bounds of the event streams its responses may be.
    streams: Arc<super::stream::StreamBounds>,
    accepted: u64,
    /// Requests whose response has not been sent completely (HTTP/2: open streams), handlers
    /// whose client left included.
    in_flight: AtomicUsize,
    /// Handlers still running (their response is not ready yet), detached ones included.
    running: AtomicUsize,
    /// A request head has been completed on this connection.
    served: AtomicBool,
    /// The connection speaks HTTP/2 (known from its first request).
    http2: AtomicBool,
    /// When the first byte of the next HTTP/1 head arrived on an idle connection (0: none).
    head_started: AtomicU64,
    /// Bytes arrived while a request was in flight (the start of a pipelined next head).
    read_while_busy: AtomicBool,
    /// When the last response was finished.
    idle_since: AtomicU64,
    /// Successful writes so far: progress of the responses being sent.
    writes: AtomicU64,
    /// Bumped on every change that can move the deadline earlier.
    generation: AtomicU64,
    /// The accept loop asked this connection to close to make room.
    evicted: AtomicBool,
    /// The socket is closed; handlers whose client left may still run.
    ended: AtomicBool,
    /// The connection's task, woken by changes made from other tasks.
    task: AtomicWaker,
}

impl ConnState {
    pub(super) fn new(clock: Clock, streams: Arc<super::stream::StreamBounds>) -> Self {
        let now = clock.now();
        ConnState {
            clock,
            streams,
            accepted: now,
            in_flight: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            http2: AtomicBool::new(false),
            head_started: AtomicU64::new(0),
            read_while_busy: AtomicBool::new(false),
            idle_since: AtomicU64::new(now),
            writes: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            task: AtomicWaker::new(),
        }
    }

    /// Whether the connection could be closed without cutting a request: it has not
    /// completed a head yet, or it is idle between requests.
    pub(super) fn is_idle(&self) -> bool {
        !self.evicted.load(Ordering::Acquire) && self.in_flight.load(Ordering::Acquire) == 0
    }

    /// Whether the connection could be closed without cutting a running handler: idle, or
    /// only sending responses (to a client that may not be reading them).
    pub(super) fn runs_no_handler(&self) -> bool {
        !self.evicted.load(Ordering::Acquire)
            && !self.ended.load(Ordering::Acquire)
            && self.running.load(Ordering::Acquire) == 0
    }

    /// Handlers running on this connection, detached ones included.
    pub(super) fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// Whether the connection was asked to close.
    pub(super) fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    /// Asks the connection to close: at once when no handler runs on it, after the current
    /// responses otherwise.
    pub(super) fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        self.task.wake();
    }

    /// Bytes arrived. On an idle HTTP/1 connection they start the next head, and its
    /// header-read deadline.
    fn on_read(&self) {
        if self.http2.load(Ordering::Relaxed) {
            return;
        }
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            self.read_while_busy.store(true, Ordering::Relaxed);
        } else if self.head_started.load(Ordering::Relaxed) == 0 {
            self.head_started.store(self.clock.now(), Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
        }
    }

    /// A request head was completed and handed to the service: the guard keeps it counted
    /// until its response is sent, [`Running`] until its handler has finished.
    pub(super) fn request_started(self: &Arc<Self>, http2: bool) -> (RequestGuard, Running) {
        if http2 && !self.http2.load(Ordering::Relaxed) {
            self.http2.store(true, Ordering::Relaxed);
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.running.fetch_add(1, Ordering::AcqRel);
        self.served.store(true, Ordering::Relaxed);
        self.head_started.store(0, Ordering::Relaxed);
        self.read_while_busy.store(false, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
        (
            RequestGuard {
                connection: Arc::clone(self),
            },
            Running {
                connection: Arc::clone(self),
            },
        )
    }

    /// A response was sent completely, or its request was abandoned.
    fn request_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            let now = self.clock.now();
            self.idle_since.store(now, Ordering::Relaxed);
            // Bytes of the next head came with this request: its deadline runs from now.
            if self.read_while_busy.swap(false, Ordering::Relaxed) {
                self.head_started.store(now, Ordering::Relaxed);
            }
            self.generation.fetch_add(1, Ordering::Release);
            // An HTTP/2 stream ends in its own task, and a handler whose client left in a
            // task of its own; HTTP/1 responses end inside the connection's task, which
            // looks at the state after every poll anyway.
            if self.http2.load(Ordering::Relaxed) || self.ended.load(Ordering::Acquire) {
                self.task.wake();
            }
        }
    }

    /// The earliest deadline the connection's state calls for without reading the clock:
    /// the header-read or keep-alive deadline, or `None` while it serves.
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

    /// The deadline once the timer fired: [`due`](Self::due), or while responses are being
    /// sent and no handler runs, the send deadline counted from the last write seen
    /// (`progress`); `None` while a handler runs.
    fn due_now(&self, timeouts: Timeouts, progress: u64) -> Option<Due> {
        if let Some(due) = self.due(timeouts) {
            return Some(due);
        }
        (self.running.load(Ordering::Acquire) == 0).then(|| Due::Send(progress + timeouts.send))
    }
}

/// A deadline and what passing it means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Due {
    /// A request head (or the HTTP/2 preface) is late: close the socket.
    Head(u64),
    /// The connection is idle: close it gracefully (HTTP/2 `GOAWAY`).
    Idle(u64),
    /// A response has made no progress (the client does not read it): close the socket.
    Send(u64),
}

impl Due {
    fn at(self) -> u64 {
        match self {
            Due::Head(at) | Due::Idle(at) | Due::Send(at) => at,
        }
    }
}

/// Holds a connection's request open until the response is sent or abandoned.
pub(super) struct RequestGuard {
    connection: Arc<ConnState>,
}

impl RequestGuard {
    /// The bounds of an event stream this request answers with.
    pub(super) fn stream_bounds(&self) -> &super::stream::StreamBounds {
        &self.connection.streams
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.connection.request_finished();
    }
}

/// Counts a handler as running until its response is ready, or until it ends after its
/// client left.
pub(super) struct Running {
    connection: Arc<ConnState>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.connection.running.fetch_sub(1, Ordering::AcqRel);
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

    fn on_write(&self, polled: &Poll<std::io::Result<usize>>) {
        if matches!(polled, Poll::Ready(Ok(n)) if *n > 0) {
            self.state.writes.fetch_add(1, Ordering::Relaxed);
        }
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
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.on_write(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.on_write(&polled);
        polled
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
    // The timer always runs: moved earlier when the state calls for an earlier deadline, and
    // otherwise only when it fires (then the deadline is worked out from the state).
    let mut armed = state.accepted + timeouts.head;
    let mut timer = std::pin::pin!(tokio::time::sleep_until(clock.instant(armed)));
    let mut seen = 0;
    // The write count when it last changed, and when that was seen.
    let mut progress = (0u64, state.accepted);
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
        if !closing && state.evicted.load(Ordering::Acquire) {
            // Chosen because no handler ran on it; one may have started since: let it
            // answer, then close.
            if state.running() == 0 {
                return Poll::Ready(Ended::Evicted);
            }
            connection.as_mut().graceful_shutdown();
            closing = true;
        }
        loop {
            let generation = state.generation.load(Ordering::Acquire);
            if generation != seen {
                seen = generation;
                if let Some(due) = state.due(timeouts)
                    && due.at() < armed
                {
                    armed = due.at();
                    timer.as_mut().reset(clock.instant(armed));
                }
            }
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = clock.now();
            let writes = state.writes.load(Ordering::Relaxed);
            if writes != progress.0 {
                progress = (writes, now);
            }
            let due = state.due_now(timeouts, progress.1);
            armed = match due {
                // A handler runs: look again one keep-alive period from now.
                None => now + timeouts.idle,
                Some(due) if due.at() > now => due.at(),
                Some(Due::Head(_)) => return Poll::Ready(Ended::HeadTimeout),
                Some(Due::Send(_)) => return Poll::Ready(Ended::SendTimeout),
                Some(Due::Idle(_)) if closing => return Poll::Ready(Ended::IdleTimeout),
                Some(Due::Idle(_)) => {
                    // HTTP/2 says GOAWAY; an idle HTTP/1 connection closes at once.
                    // Whatever the client does then, the socket closes one head timeout
                    // later.
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                    if let Poll::Ready(output) = connection.as_mut().poll(cx) {
                        return Poll::Ready(Ended::Done(output));
                    }
                    now + timeouts.head
                }
            };
            timer.as_mut().reset(clock.instant(armed));
        }
    })
    .await
}

/// Waits, once the socket is closed, until the handlers whose client left have finished: the
/// connection keeps its place under the cap until then.
pub(super) async fn settle(state: &ConnState) {
    state.ended.store(true, Ordering::Release);
    std::future::poll_fn(|cx| {
        state.task.register(cx.waker());
        if state.in_flight.load(Ordering::Acquire) == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

/// How a connection's task ended.
pub(super) enum Ended<T> {
    /// The connection ended by itself (the client closed it, or a graceful shutdown).
    Done(T),
    /// No request head (or HTTP/2 preface) arrived in time.
    HeadTimeout,
    /// Idle past the keep-alive timeout.
    IdleTimeout,
    /// A response made no progress for the send timeout.
    SendTimeout,
    /// Closed to make room for a new connection.
    Evicted,
}
