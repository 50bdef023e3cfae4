//! Typed path parameters: how a `{name}` segment becomes the argument `name: T`.

use std::fmt::Display;
use std::str::FromStr;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;

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
        let Some((_, value)) = self.0.iter().find(|(key, _)| *key == name) else {
            return Err(EndpointError::internal(format_args!(
                "route parameter `{name}` missing from the matched route"
            )));
        };
        T::parse_segment(value)
            .map_err(|reason| EndpointError::invalid_path_parameter(name, ty, value, &reason))
    }
}
