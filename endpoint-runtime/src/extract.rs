//! The runtime's extractors: typed path parameters, [`Json`] and [`Query`], whose rejections
//! are [`EndpointError`]s in the uniform envelope instead of axum's plain-text bodies.

use std::fmt::Display;
use std::str::FromStr;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::EndpointError;

/// A type a route parameter can be parsed into. Implemented for every `T: FromStr` whose
/// error implements `Display`: integers, `bool`, `String`, `IpAddr`, `Uuid`, your own types.
///
/// A segment that does not parse is answered 400 `INVALID_PATH_PARAMETER` naming the parameter
/// and the expected type; the handler is not called.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a path parameter",
    label = "not parseable from a path segment",
    note = "path parameters are parsed with `FromStr`: implement `std::str::FromStr` for `{Self}`"
)]
pub trait PathParam: Sized + Send + 'static {
    /// Parses one percent-decoded segment, or gives the reason it does not parse.
    fn parse_segment(segment: &str) -> Result<Self, String>;
}

impl<T> PathParam for T
where
    T: FromStr + Send + 'static,
    T::Err: Display,
{
    fn parse_segment(segment: &str) -> Result<Self, String> {
        segment.parse().map_err(|e: T::Err| e.to_string())
    }
}

/// The raw, percent-decoded parameters of the matched route. Used by generated code.
#[doc(hidden)]
#[derive(Debug)]
pub struct RawParams(RawPathParams);

impl RawParams {
    pub async fn from_parts(parts: &mut Parts) -> Result<Self, EndpointError> {
        match RawPathParams::from_request_parts(parts, &()).await {
            Ok(raw) => Ok(RawParams(raw)),
            Err(rejection) => Err(EndpointError::new(
                rejection.status(),
                "INVALID_PATH_PARAMETER",
                rejection.body_text(),
            )),
        }
    }

    /// Parses the parameter `name` into `T`; `ty` is the type as written, for the message.
    pub fn parse<T: PathParam>(&self, name: &str, ty: &str) -> Result<T, EndpointError> {
        let value = self.value(name)?;
        T::parse_segment(value)
            .map_err(|reason| EndpointError::invalid_path_parameter(name, ty, value, &reason))
    }

    /// [`parse`](Self::parse) for the parameter of a `{name}.json` segment: the segment
    /// without `suffix`. A segment without it, or with nothing before it, is 404
    /// `ROUTE_NOT_FOUND` (the router matched the whole segment: the runtime picks the suffix,
    /// this holds when the endpoint is mounted alone with `method_router`).
    pub fn parse_suffixed<T: PathParam>(
        &self,
        name: &str,
        ty: &str,
        suffix: &str,
    ) -> Result<T, EndpointError> {
        let value = self.value(name)?;
        let stem = value
            .strip_suffix(suffix)
            .filter(|stem| !stem.is_empty())
            .ok_or_else(|| {
                EndpointError::new(
                    axum::http::StatusCode::NOT_FOUND,
                    "ROUTE_NOT_FOUND",
                    format!("no route matches the segment `{value}` (this one ends in `{suffix}`)"),
                )
            })?;
        T::parse_segment(stem)
            .map_err(|reason| EndpointError::invalid_path_parameter(name, ty, stem, &reason))
    }

    fn value(&self, name: &str) -> Result<&str, EndpointError> {
        match self.0.iter().find(|(key, _)| *key == name) {
            Some((_, value)) => Ok(value),
            None => Err(EndpointError::internal(format_args!(
                "route parameter `{name}` missing from the matched route"
            ))),
        }
    }
}

/// A JSON request body (an extractor) or response body.
///
/// As an extractor it answers, before the handler runs:
/// - 415 `UNSUPPORTED_MEDIA_TYPE` unless `Content-Type` is `application/json` or `*/*+json`;
/// - 413 `PAYLOAD_TOO_LARGE` for a body over `ENDPOINT_BODY_LIMIT` (default 1 MiB);
/// - 400 `INVALID_PAYLOAD` for malformed JSON (syntax error, truncated body);
/// - 422 `UNPROCESSABLE_ENTITY` for well-formed JSON of the wrong shape, naming the path of
///   the offending field in `data.details.path`.
///
/// It parses with `serde_json::from_slice` and only pays for a path-bearing error (through
/// `serde_path_to_error`) when parsing fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for Json<T> {
    fn from(value: T) -> Self {
        Json(value)
    }
}

/// `true` when `Content-Type` is `application/json` or `application/*+json` (parameters such as
/// `charset` ignored): the check [`Json`] applies, for extractors of one's own.
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    // Compared without case and without making a lowercase copy (every JSON request runs this).
    let (Some(kind), Some(suffix)) = (
        essence.get(..12),
        essence
            .len()
            .checked_sub(5)
            .and_then(|at| essence.get(at..)),
    ) else {
        return false;
    };
    essence.eq_ignore_ascii_case("application/json")
        || (kind.eq_ignore_ascii_case("application/") && suffix.eq_ignore_ascii_case("+json"))
}

impl<T: serde::de::DeserializeOwned> Json<T> {
    /// Parses `bytes`, with the same errors as the extractor.
    ///
    /// # Errors
    ///
    /// - 400 `INVALID_PAYLOAD` for malformed JSON, 422 `UNPROCESSABLE_ENTITY` for the wrong shape.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EndpointError> {
        match serde_json::from_slice(bytes) {
            Ok(value) => Ok(Json(value)),
            Err(error) if error.classify() == serde_json::error::Category::Data => {
                let mut deserializer = serde_json::Deserializer::from_slice(bytes);
                let path = match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
                    Err(located) => located.path().to_string(),
                    Ok(_) => String::from("."),
                };
                Err(
                    EndpointError::unprocessable(format!("invalid JSON at `{path}`: {error}"))
                        .with_details(serde_json::json!({ "path": path })),
                )
            }
            Err(error) => Err(EndpointError::invalid_payload(format!(
                "malformed JSON: {error}"
            ))),
        }
    }
}

impl<T, S> axum::extract::FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = EndpointError;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(EndpointError::unsupported_media_type(
                "expected `Content-Type: application/json`",
            ));
        }
        let bytes = match axum::body::Bytes::from_request(request, state).await {
            Ok(bytes) => bytes,
            Err(rejection) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(EndpointError::payload_too_large(
                    "request body is larger than the limit (ENDPOINT_BODY_LIMIT)",
                ));
            }
            Err(rejection) => {
                return Err(EndpointError::invalid_payload(format!(
                    "cannot read the request body: {}",
                    rejection.body_text()
                )));
            }
        };
        Self::from_bytes(&bytes)
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => (
                [(
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(error) => {
                EndpointError::internal(format_args!("response serialization failed: {error}"))
                    .into_response()
            }
        }
    }
}

/// The query string, deserialized into `T` (an extractor). A query that does not fit `T` is
/// 400 `INVALID_QUERY` naming the problem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = EndpointError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(Query)
            .map_err(|error| {
                EndpointError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "INVALID_QUERY",
                    format!("invalid query string: {error}"),
                )
            })
    }
}

/// A zero-sized stand-in for a type, probed by autoref specialization in generated code (the
/// OpenAPI description, validation).
#[doc(hidden)]
pub struct Probe<T: ?Sized>(std::marker::PhantomData<fn() -> Box<T>>);

impl<T: ?Sized> Probe<T> {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Probe(std::marker::PhantomData)
    }
}

/// The fallbacks of the validation probes generated code calls after each extractor and path
/// parameter: nothing to check (with the `validate` feature, `validation::traits` adds the
/// checks above them). Not public API.
#[doc(hidden)]
pub mod unchecked {
    use super::{EndpointError, Probe};

    pub trait ExtractorUnchecked {
        type Value;
        fn __endpoint_validate(&self, value: &Self::Value) -> Result<(), EndpointError>;
        fn __endpoint_checks(&self) -> bool {
            false
        }
    }
    impl<T> ExtractorUnchecked for Probe<T> {
        type Value = T;
        #[inline(always)]
        fn __endpoint_validate(&self, _: &T) -> Result<(), EndpointError> {
            Ok(())
        }
    }

    pub trait ParamUnchecked {
        type Value;
        fn __endpoint_validate_param(
            &self,
            value: &Self::Value,
            name: &str,
        ) -> Result<(), EndpointError>;
        fn __endpoint_checks_param(&self) -> bool {
            false
        }
    }
    impl<T> ParamUnchecked for Probe<T> {
        type Value = T;
        #[inline(always)]
        fn __endpoint_validate_param(&self, _: &T, _: &str) -> Result<(), EndpointError> {
            Ok(())
        }
    }
}

/// Turns a handler's return value into a response; spanned at the written return type so a
/// type that is not a response is reported there.
#[doc(hidden)] // for generated code, through `__private`
pub fn respond<T: IntoResponse>(value: T) -> Response {
    value.into_response()
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_content_types_are_recognised_in_any_case() {
        let of = |value: &'static str| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static(value),
            );
            is_json(&headers)
        };
        for yes in [
            "application/json",
            "Application/JSON; charset=utf-8",
            " application/json ;x=1",
            "application/problem+json",
            "APPLICATION/VND.API+JSON",
        ] {
            assert!(of(yes), "{yes}");
        }
        for no in [
            "text/json",
            "application/jsonx",
            "application/xml",
            "json",
            "",
            "x/+json",
        ] {
            assert!(!of(no), "{no}");
        }
        assert!(!is_json(&axum::http::HeaderMap::new()));
    }
}
