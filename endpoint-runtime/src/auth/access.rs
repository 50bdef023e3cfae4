//! Access levels, enforced in front of every handler, before any argument is extracted (so
//! before the body is read), for every method the endpoint answers, HEAD included.

use super::Accountability;
use crate::env::{ConfigError, Env, chosen};
use crate::error::EndpointError;
use crate::registry::{Access, Endpoint, Method, Methods};

/// The access level of an endpoint that states none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DefaultAccess {
    /// Anyone may call it (the default, as in the seeds).
    #[default]
    Public,
    /// Secure by default: an anonymous caller gets 401.
    Authenticated,
    /// Locked down by default: as `access = admin`, an anonymous caller gets 401 and a caller
    /// who is not an admin 403. Endpoints open to others must say so in their attribute.
    Admin,
}

impl DefaultAccess {
    /// `ENDPOINT_DEFAULT_ACCESS`: `public` (the default), `authenticated` or `admin`.
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Option<Self>, ConfigError> {
        Self::read(env, "ENDPOINT_DEFAULT_ACCESS")
    }

    fn read(env: &Env<'_>, name: &'static str) -> Result<Option<Self>, ConfigError> {
        chosen(
            env,
            name,
            &[
                ("public", DefaultAccess::Public),
                ("authenticated", DefaultAccess::Authenticated),
                ("admin", DefaultAccess::Admin),
            ],
            "`public`, `authenticated` or `admin`",
        )
    }
}

/// `ENDPOINT_DOCS_ACCESS`: who may read the OpenAPI document and the docs page, in the same
/// words as `ENDPOINT_DEFAULT_ACCESS`.
pub(crate) fn docs_access_from_env(env: &Env<'_>) -> Result<Option<Access>, ConfigError> {
    Ok(DefaultAccess::read(env, "ENDPOINT_DOCS_ACCESS")?.map(level))
}

/// The access level in force for `endpoint` under `default`.
pub(crate) fn effective(endpoint: &Endpoint, default: DefaultAccess) -> Access {
    endpoint.declared_access().unwrap_or(level(default))
}

/// The access level `ENDPOINT_DEFAULT_ACCESS` gives an endpoint that states none.
pub(crate) fn level(default: DefaultAccess) -> Access {
    match default {
        DefaultAccess::Public => Access::Public,
        DefaultAccess::Authenticated => Access::Authenticated,
        DefaultAccess::Admin => Access::Admin,
    }
}

/// The access level of the OpenAPI document and the docs page: `ENDPOINT_DOCS_ACCESS`, else
/// that of an endpoint that states none.
#[cfg(feature = "openapi")]
pub(crate) fn docs(docs_access: Option<Access>, default: DefaultAccess) -> Access {
    docs_access.unwrap_or(level(default))
}

/// `true` for an endpoint that is public only because its attribute states no access and
/// `ENDPOINT_DEFAULT_ACCESS` is `public`, while a method it answers changes state (`POST`,
/// `PUT`, `PATCH`, `DELETE`, or `method = all`): most likely an access level forgotten. The
/// route table and `check` list these; `check --strict` fails on them. `access = public`
/// written in the attribute says it is meant.
pub(crate) fn public_by_default_and_changes_state(
    endpoint: &Endpoint,
    default: DefaultAccess,
) -> bool {
    let changes_state = match endpoint.methods() {
        Methods::All => true,
        Methods::List(list) => list.iter().any(|method| {
            matches!(
                method,
                Method::Post | Method::Put | Method::Patch | Method::Delete
            )
        }),
    };
    changes_state && endpoint.declared_access().is_none() && level(default) == Access::Public
}

/// Checks the caller against the endpoint's access level: an anonymous caller on a protected
/// endpoint is 401, an authenticated one without the level or role is 403.
pub(crate) fn check(
    endpoint: &Endpoint,
    default: DefaultAccess,
    caller: &Accountability,
) -> Result<(), EndpointError> {
    require(effective(endpoint, default), caller)
}

/// Checks the caller against an access level: an anonymous caller on anything but
/// [`Access::Public`] is 401, an authenticated one without the level or role is 403.
pub(crate) fn require(access: Access, caller: &Accountability) -> Result<(), EndpointError> {
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
        Access::Roles(roles) if roles.iter().any(|role| caller.has_role(role)) => Ok(()),
        Access::Roles(roles) => Err(EndpointError::forbidden(format!(
            "one of the roles {} is required",
            roles.join(", ")
        ))),
    }
}
