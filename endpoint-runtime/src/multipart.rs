//! `multipart/form-data` uploads (feature `multipart`, axum's `Multipart` over `multer`),
//! with the runtime's limits and errors.
//!
//! ```
//! use endpoint_runtime::prelude::*;
//! use endpoint_runtime::multipart::Multipart;
//!
//! /// Stores each uploaded file in a temporary file, never whole in memory.
//! #[endpoint(id = "files", route = "/", method = post, access = authenticated, body_limit = "100MiB")]
//! async fn upload(mut form: Multipart) -> Result<Json<Vec<u64>>, EndpointError> {
//!     let mut sizes = Vec::new();
//!     while let Some(field) = form.next_field().await? {
//!         if field.file_name().is_some() {
//!             let stored = field.save_temp().await?;
//!             sizes.push(stored.size);
//!             // stored.path: a `tempfile::TempPath`, deleted when dropped; `persist` keeps it.
//!         }
//!     }
//!     Ok(Json(sizes))
//! }
//! ```
//!
//! Limits, each answered in the error envelope:
//!
//! - **The whole body**: the endpoint's `body_limit`, else
//!   [`ENDPOINT_BODY_LIMIT`](crate::Config::body_limit) (`1MiB`), counted as the body is read,
//!   however it is read: past it, 413 `PAYLOAD_TOO_LARGE`. Raise it on the upload endpoint
//!   (`body_limit = "100MiB"`).
//! - **A field read into memory** ([`Field::text`], [`Field::bytes`]):
//!   [`ENDPOINT_MULTIPART_FIELD_LIMIT`](crate::Config::multipart_field_limit) (`1MiB`): past
//!   it, 413. A field read by [`Field::chunk`], [`Field::save`] or [`Field::save_temp`] is
//!   streamed and bounded by the whole body's limit only.
//! - A body that is not `multipart/form-data` (or has no boundary) is 415
//!   `UNSUPPORTED_MEDIA_TYPE`; a malformed one, 400 `INVALID_PAYLOAD`.
//!
//! A known limit of the parser (`multer`): the text before the first boundary and each
//! part's headers are held in memory until their end is found, bounded only by the body's
//! limit. A field's data is streamed; a body that never reaches a boundary is not. Keep an
//! upload endpoint's `body_limit` to what one request may hold in memory, or put a proxy that
//! bounds part headers in front of it.
//!
//! The OpenAPI document gives an endpoint with a `Multipart` argument a `multipart/form-data`
//! request body.

use std::path::Path;

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use tokio::io::AsyncWriteExt as _;

use crate::EndpointError;
use crate::body::Bytes;

/// A `multipart/form-data` body, read field by field (must be the last argument).
pub struct Multipart {
    inner: axum::extract::Multipart,
    field_limit: usize,
}

impl std::fmt::Debug for Multipart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multipart")
            .field("field_limit", &self.field_limit)
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = EndpointError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let field_limit = crate::pipeline::request::RequestState::config(request.extensions())
            .map_or(crate::config::DEFAULT_MULTIPART_FIELD_LIMIT, |config| {
                config.multipart_field_limit
            });
        let inner = axum::extract::Multipart::from_request(request, state)
            .await
            .map_err(|rejection| {
                EndpointError::unsupported_media_type(format!(
                    "expected a multipart/form-data body: {}",
                    rejection.body_text()
                ))
            })?;
        Ok(Multipart { inner, field_limit })
    }
}

impl Multipart {
    /// The next field, or `None` after the last one.
    ///
    /// # Errors
    ///
    /// 400 for a malformed body, 413 past the body's limit.
    pub async fn next_field(&mut self) -> Result<Option<Field<'_>>, EndpointError> {
        let field = self.inner.next_field().await.map_err(failed)?;
        Ok(field.map(|inner| Field {
            inner,
            limit: self.field_limit,
        }))
    }
}

/// One field of a [`Multipart`] body.
#[derive(Debug)]
pub struct Field<'a> {
    inner: axum::extract::multipart::Field<'a>,
    limit: usize,
}

/// A field stored in a temporary file by [`Field::save_temp`].
#[derive(Debug)]
pub struct SavedFile {
    /// The file; deleted when this is dropped, unless kept with
    /// [`TempPath::persist`](tempfile::TempPath::persist).
    pub path: tempfile::TempPath,
    /// Its size in bytes.
    pub size: u64,
}

impl Field<'_> {
    /// The field's name (`name` of its `Content-Disposition`).
    pub fn name(&self) -> Option<&str> {
        self.inner.name()
    }

    /// The file name the client gave (`filename`): a hint, never a path to write to.
    pub fn file_name(&self) -> Option<&str> {
        self.inner.file_name()
    }

    /// The field's `Content-Type`.
    pub fn content_type(&self) -> Option<&str> {
        self.inner.content_type()
    }

    /// The next chunk of the field as it arrives, or `None` at its end.
    ///
    /// # Errors
    ///
    /// 400 for a malformed body, 413 past the body's limit.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, EndpointError> {
        self.inner.chunk().await.map_err(failed)
    }

    /// The whole field in memory, at most
    /// [`ENDPOINT_MULTIPART_FIELD_LIMIT`](crate::Config::multipart_field_limit) bytes.
    ///
    /// # Errors
    ///
    /// 413 past that limit or the body's, 400 for a malformed body.
    pub async fn bytes(mut self) -> Result<Bytes, EndpointError> {
        let mut whole = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            if whole.len() + chunk.len() > self.limit {
                return Err(over_field_limit(self.name(), self.limit));
            }
            whole.extend_from_slice(&chunk);
        }
        Ok(whole.into())
    }

    /// The whole field as UTF-8 text, bounded as [`bytes`](Self::bytes) is.
    ///
    /// # Errors
    ///
    /// As [`bytes`](Self::bytes), and 400 when it is not UTF-8.
    pub async fn text(self) -> Result<String, EndpointError> {
        let name = self.name().map(str::to_string);
        let bytes = self.bytes().await?;
        String::from_utf8(bytes.to_vec()).map_err(|_| {
            EndpointError::invalid_payload(format!(
                "the field `{}` is not UTF-8 text",
                name.unwrap_or_default()
            ))
        })
    }

    /// Streams the field into `path` (created, or truncated), chunk by chunk; returns its
    /// size in bytes.
    ///
    /// # Errors
    ///
    /// 400 or 413 as [`chunk`](Self::chunk); 500 when the file cannot be written.
    pub async fn save(mut self, path: impl AsRef<Path>) -> Result<u64, EndpointError> {
        let mut file = tokio::fs::File::create(path).await?;
        let mut size = 0u64;
        while let Some(chunk) = self.chunk().await? {
            file.write_all(&chunk).await?;
            size += chunk.len() as u64;
        }
        file.flush().await?;
        Ok(size)
    }

    /// Streams the field into a new temporary file (in the system's temporary directory),
    /// deleted when the returned [`SavedFile`] is dropped unless persisted.
    ///
    /// # Errors
    ///
    /// As [`save`](Self::save).
    pub async fn save_temp(self) -> Result<SavedFile, EndpointError> {
        let path = tokio::task::spawn_blocking(|| {
            tempfile::NamedTempFile::new().map(|f| f.into_temp_path())
        })
        .await
        .map_err(EndpointError::internal)??;
        let size = self.save(&path).await?;
        Ok(SavedFile { path, size })
    }
}

/// A field's read error in the envelope: 413 past the body's limit (axum looks one level
/// into the error for it; the pipeline's limit sits deeper), else 400.
fn failed(error: axum::extract::multipart::MultipartError) -> EndpointError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE || crate::body_limit::is_over_limit(&error) {
        EndpointError::payload_too_large("the request body is over the limit")
    } else {
        EndpointError::invalid_payload(format!("malformed multipart body: {}", error.body_text()))
    }
}

fn over_field_limit(name: Option<&str>, limit: usize) -> EndpointError {
    EndpointError::payload_too_large(format!(
        "the field `{}` is over the {limit}-byte limit of a field read into memory \
         (ENDPOINT_MULTIPART_FIELD_LIMIT)",
        name.unwrap_or_default()
    ))
}
