//! Access levels, enforced in front of every handler, before any argument is extracted (so
//! before the body is read), for every method the endpoint answers, HEAD included.

use axum::http::Extensions;

use crate::accountability::Accountability;
use crate::config::DefaultAccess;
use crate::error::EndpointError;
use crate::pipeline::RequestState;
use crate::registry::{Access, Endpoint};

/// The access level in force for `endpoint` under `default`.
pub(crate) fn effective(endpoint: &Endpoint, default: DefaultAccess) -> Access {
    endpoint.declared_access().unwrap_or(match default {
        DefaultAccess::Public => Access::Public,
        DefaultAccess::Authenticated => Access::Authenticated,
    })
}

/// The access check of a router built without the runtime (see
/// [`Endpoint::method_router`](crate::registry::Endpoint::method_router)): the caller from the
/// request's extensions, else anonymous.
pub(crate) fn authorize(endpoint: &Endpoint, extensions: &Extensions) -> Result<(), EndpointError> {
    let state = extensions.get::<RequestState>();
    let default = state.map_or(DefaultAccess::Public, |s| s.default_access);
    let anonymous = Accountability::anonymous();
    let caller = state.map_or(&anonymous, |s| &s.accountability);
    check(endpoint, default, caller)
}

/// Checks the caller against the endpoint's access level: an anonymous caller on a protected
/// endpoint is 401, an authenticated one without the level or role is 403.
pub(crate) fn check(
    endpoint: &Endpoint,
    default: DefaultAccess,
    caller: &Accountability,
) -> Result<(), EndpointError> {
    let access = effective(endpoint, default);
    if access == Access::Public {
        return Ok(());
    }
    if caller.is_anonymous() {
        return Err(EndpointError::unauthorized("authentication required"));
    }
    match access {
        Access::Public | Access::Authenticated => Ok(()),
        _ if caller.admin => Ok(()),
        Access::Admin => Err(EndpointError::forbidden("admin access required")),
        Access::Roles(roles) if caller.role.as_deref().is_some_and(|r| roles.contains(&r)) => {
            Ok(())
        }
        Access::Roles(roles) => Err(EndpointError::forbidden(format!(
            "one of the roles {} is required",
            roles.join(", ")
        ))),
    }
}
