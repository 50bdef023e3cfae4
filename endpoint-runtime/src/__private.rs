//! What generated code names: re-exports only, no logic. Not public API: it changes in any
//! release.

pub use axum::extract::{FromRequest, FromRequestParts, Request};
pub use axum::http::request::Parts;
pub use axum::response::{IntoResponse, Response};
pub use axum::routing::MethodRouter;
pub use inventory;

pub use crate::app::block_on;
pub use crate::confined;
pub use crate::error::reject;
pub use crate::extract::{RawParams, respond};
pub use crate::prerender;

/// What `__endpoint_doc` functions name.
pub mod doc {
    pub use crate::openapi::{OperationDoc, Probe, traits};
}
pub use crate::registry::{
    Access, Endpoint, EndpointSpec, Handler, HandlerFuture, Method, Methods, Param,
};
// For `#[hook]`, `migrations!` and `#[main]`: every macro names the runtime only here.
pub use crate::context::Context;
pub use crate::database::Migrations;
pub use crate::events::{Event, Hook, HookFuture, HookOutput, HookSpec};
