//! [`JSend`]: Factor's success envelope.

use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::extract::Json;
use crate::status::{AnswersStatus, Created};

/// A JSend success body: `{"status":"success","data":<T>}` with status 200.
///
/// Errors use the matching JSend `fail` / `error` bodies through
/// [`EndpointError`](crate::EndpointError).
///
/// ```standalone_crate
/// use endpoint_runtime::prelude::*;
///
/// #[derive(serde::Serialize)]
/// struct User { id: u64 }
///
/// #[endpoint(id = "users", route = "/{id}")]
/// async fn user(id: u64) -> Result<JSend<User>, EndpointError> {
///     Ok(JSend(User { id }))
/// }
/// # fn main() {}
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct JSend<T>(pub T);

impl<T> JSend<T> {
    /// 201 Created with the same body; documented as 201 in the OpenAPI document.
    pub fn created(data: T) -> Created<JSend<T>> {
        Created(JSend(data))
    }
}

/// `JSend<T>` answers 200 (`JSend::created` is a [`Created`]).
impl<T> AnswersStatus<200> for JSend<T> {}

#[derive(Serialize)]
struct Success<'a, T> {
    status: &'static str,
    data: &'a T,
}

impl<T: Serialize> IntoResponse for JSend<T> {
    fn into_response(self) -> Response {
        Json(Success {
            status: "success",
            data: &self.0,
        })
        .into_response()
    }
}
