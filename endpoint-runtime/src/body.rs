//! Streamed request and response bodies: a large upload read as it arrives
//! ([`BodyStream`]), a large download sent as it is read ([`from_file`], axum's
//! [`Body::from_stream`]), with backpressure both ways: nothing is read from the client
//! faster than the handler consumes it, and nothing is produced faster than the client
//! reads.
//!
//! ```
//! use endpoint_runtime::prelude::*;
//! use endpoint_runtime::body::{Body, BodyStream, StreamExt};
//!
//! /// Counts an upload of up to 1 GiB without holding it.
//! #[endpoint(id = "files", route = "/count", method = post, access = authenticated, body_limit = "1GiB")]
//! async fn count(mut body: BodyStream) -> Result<String, EndpointError> {
//!     let mut bytes = 0;
//!     while let Some(chunk) = body.next().await {
//!         bytes += chunk?.len();
//!     }
//!     Ok(format!("{bytes} bytes"))
//! }
//!
//! /// A file sent as it is read.
//! #[endpoint(id = "files", route = "/report", access = authenticated)]
//! async fn report() -> Result<Response, EndpointError> {
//!     let file = endpoint_runtime::tokio::fs::File::open("report.csv").await?;
//!     Ok(endpoint_runtime::body::from_file(file).into_response())
//! }
//! ```
//!
//! The body limit ([`ENDPOINT_BODY_LIMIT`](crate::Config::body_limit), or the endpoint's
//! `body_limit`) applies to a streamed body as to any: past it the stream yields an error
//! and the answer is 413, whatever the handler makes of it.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{FromRequest, Request};

pub use axum::body::{Body, BodyDataStream, Bytes};
pub use futures_util::stream::{Stream, StreamExt};

use crate::EndpointError;

/// The request body as a stream of chunks, read as the handler polls it (must be the last
/// argument, as any extractor that reads the body). A chunk that cannot be read (the
/// client went away, or the body went over its limit) is an [`EndpointError`]: 400, or 413
/// over the limit.
#[derive(Debug)]
pub struct BodyStream(BodyDataStream);

impl<S: Send + Sync> FromRequest<S> for BodyStream {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        Ok(BodyStream(request.into_body().into_data_stream()))
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, EndpointError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0)
            .poll_next(cx)
            .map(|chunk| chunk.map(|chunk| chunk.map_err(unreadable)))
    }
}

/// What a body that cannot be read answers: 413 over the limit, else 400.
fn unreadable(error: axum::Error) -> EndpointError {
    if crate::body_limit::is_over_limit(&error) {
        EndpointError::payload_too_large("the request body is over the limit")
    } else {
        EndpointError::invalid_payload("the request body could not be read")
    }
}

/// `file` as a response body, read 64 KiB at a time as the client takes it (tokio-util's
/// `ReaderStream`): the file is never held whole. Set `Content-Type` (and `Content-Length`,
/// from the file's metadata) on the response as needed.
pub fn from_file(file: tokio::fs::File) -> Body {
    Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024))
}
