//! Responses whose type states their status, so that the OpenAPI document gives the status the
//! endpoint answers: [`Created`] (201), [`Accepted`] (202), [`NoContent`] (204), as dropshot's
//! `HttpResponseCreated` and friends. A handler that picks its status at run time returns
//! `(StatusCode, T)` and states the success status in the attribute, `status = 201`;
//! [`AnswersStatus`] is the compile-time check between the two.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// 201 Created with the body `T` (RFC 9110 §15.3.2); `JSend::created` returns one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Created<T>(pub T);

/// 202 Accepted with the body `T`: the request is queued, not yet done (RFC 9110 §15.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Accepted<T>(pub T);

/// 204 No Content: success without a body (RFC 9110 §15.3.5), as a `DELETE` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoContent;

impl<T: IntoResponse> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        (StatusCode::CREATED, self.0).into_response()
    }
}

impl<T: IntoResponse> IntoResponse for Accepted<T> {
    fn into_response(self) -> Response {
        (StatusCode::ACCEPTED, self.0).into_response()
    }
}

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// A return type that can answer the status `N`: what `#[endpoint(status = N)]` checks at
/// compile time, at the number.
///
/// - Types that state their status answer only it: [`Created`] 201, [`Accepted`] 202,
///   [`NoContent`] 204; `Json<T>`, `JSend<T>`, `String`, `&'static str` and `()` 200.
/// - Types that pick it at run time answer any: `(StatusCode, T)`, `StatusCode`,
///   `Response`, `Redirect`.
/// - `Result<T, E>` answers what `T` answers (the error is documented apart).
///
/// Implement it for a response type of one's own to use `status` with it.
///
/// ```compile_fail
/// use endpoint_runtime::prelude::*;
///
/// // `Json<T>` answers 200: stating 201 is a compile error at the number.
/// #[endpoint(id = "notes", route = "/", method = post, status = 201)]
/// async fn add() -> Json<Value> {
///     Json(json!({}))
/// }
/// # fn main() {}
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not answer the status {N} that `status = {N}` states",
    label = "stated here",
    note = "a type that states its status answers only it (`Json<T>`, `JSend<T>`: 200; `Created<T>`: 201; `NoContent`: 204); return `(StatusCode, T)` to pick it at run time"
)]
pub trait AnswersStatus<const N: u16> {}

impl<T> AnswersStatus<201> for Created<T> {}
impl<T> AnswersStatus<202> for Accepted<T> {}
impl AnswersStatus<204> for NoContent {}
impl<T> AnswersStatus<200> for crate::extract::Json<T> {}
impl AnswersStatus<200> for String {}
impl AnswersStatus<200> for &'static str {}
impl AnswersStatus<200> for () {}
impl<T, const N: u16> AnswersStatus<N> for (StatusCode, T) {}
impl<const N: u16> AnswersStatus<N> for StatusCode {}
impl<const N: u16> AnswersStatus<N> for Response {}
impl<const N: u16> AnswersStatus<N> for axum::response::Redirect {}
impl<T: AnswersStatus<N>, E, const N: u16> AnswersStatus<N> for Result<T, E> {}

/// The check `#[endpoint(status = N)]` expands to. Not public API.
#[doc(hidden)]
pub const fn answers_status<T: AnswersStatus<N> + ?Sized, const N: u16>() {}
