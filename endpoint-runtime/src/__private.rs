//! What generated code names: re-exports only, no logic. Not public API: it changes in any
//! release.

pub use axum::extract::{FromRequest, FromRequestParts, Request};
pub use axum::http::request::Parts;
pub use axum::response::{IntoResponse, Response};
pub use axum::routing::MethodRouter;
pub use inventory;

pub use crate::app::block_on;
pub use crate::error::reject;
pub use crate::extract::{RawParams, respond};
pub use crate::registry::{
    Access, Confinement, Endpoint, EndpointSpec, Handler, HandlerFuture, Lifecycle, Method,
    Methods, Param, Policy, Rate, RateKey, Site, StaticPathsFuture,
};
pub use crate::status::answers_status;
pub use crate::testing::run_test;
// For `#[hook]`, `migrations!` and `#[main]`: every macro names the runtime only here.
pub use crate::context::Context;
pub use crate::database::Migrations;
pub use crate::events::{Event, Hook, HookFuture, HookOutput, HookSpec};
pub use crate::middleware::{Middleware, MiddlewareSpec};
#[cfg(feature = "schedule")]
pub use crate::schedule::{Schedule, ScheduleSpec};
pub use axum::middleware::Next;

// Feature gates: each expands to its input when the feature is on, else to an error naming it
// (to nothing for the OpenAPI description, which is optional).
#[cfg(not(feature = "confined"))]
pub use crate::__endpoint_confined as confined_endpoint;
#[cfg(not(feature = "openapi"))]
pub use crate::__endpoint_document as document;
#[cfg(feature = "confined")]
pub use crate::__endpoint_items as confined_endpoint;
#[cfg(feature = "openapi")]
pub use crate::__endpoint_items as document;
#[cfg(feature = "prerender")]
pub use crate::__endpoint_items as prerender_endpoint;
#[cfg(not(feature = "prerender"))]
pub use crate::__endpoint_prerender as prerender_endpoint;

#[cfg(feature = "confined")]
pub use crate::confined;
#[cfg(feature = "prerender")]
pub use crate::prerender;

/// What `__endpoint_doc` functions name.
#[cfg(feature = "openapi")]
pub mod doc {
    pub use crate::extract::Probe;
    pub use crate::openapi::{Documented, OperationDoc, traits};
}

/// What generated `request` functions name (typed calls, see `client`).
pub mod client {
    pub use crate::client::{Call, Opaque, traits};
    pub use axum::http::Method;
}

/// What handlers name to check their inputs: garde's `Validate` with the `validate` feature,
/// nothing without it.
pub mod validate {
    pub use crate::extract::Probe;
    #[cfg(not(feature = "validate"))]
    pub use crate::extract::unchecked as traits;
    #[cfg(feature = "validate")]
    pub use crate::validation::traits;
}
pub use crate::auth::JwtFeature;
pub use crate::database::{DatabaseFeature, ServicesFeature};
