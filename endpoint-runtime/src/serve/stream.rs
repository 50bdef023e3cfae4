//! The bounds of an event stream's body (see [`crate::sse`]): it ends cleanly, between two
//! events, when graceful shutdown starts or when its lifetime (`ENDPOINT_STREAM_LIFETIME`)
//! is over, whichever comes first.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// What an event stream needs of the server: when shutdown starts, and how long a stream may
/// last.
pub(super) struct StreamBounds {
    /// Cancelled when graceful shutdown starts.
    pub(super) shutdown: CancellationToken,
    /// `ENDPOINT_STREAM_LIFETIME`.
    pub(super) lifetime: Duration,
}

pin_project_lite::pin_project! {
    /// An event stream's body, ended by its bounds.
    pub(super) struct Bounded {
        #[pin]
        inner: Body,
        #[pin]
        shutdown: WaitForCancellationFutureOwned,
        #[pin]
        lifetime: tokio::time::Sleep,
        ended: bool,
    }
}

impl Bounded {
    pub(super) fn new(inner: Body, bounds: &StreamBounds) -> Self {
        Bounded {
            inner,
            shutdown: bounds.shutdown.clone().cancelled_owned(),
            lifetime: tokio::time::sleep(bounds.lifetime),
            ended: false,
        }
    }
}

impl http_body::Body for Bounded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        // Looked at before each frame: a frame is never cut, and the end is a clean one (the
        // last chunk of a chunked body, `END_STREAM` on HTTP/2).
        let why = if this.shutdown.poll(cx).is_ready() {
            Some("the server is shutting down")
        } else if this.lifetime.poll(cx).is_ready() {
            Some("its lifetime is over (ENDPOINT_STREAM_LIFETIME)")
        } else {
            None
        };
        if let Some(why) = why {
            *this.ended = true;
            tracing::debug!(reason = why, "event stream ended");
            return Poll::Ready(None);
        }
        this.inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
