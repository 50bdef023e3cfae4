//! Authenticators: the chain that turns a request's credentials into an [`Accountability`].
//!
//! The runtime runs the chain once per request, before the endpoint's access check and before
//! any body is read (unknown routes included): application authenticators
//! (added with [`App::authenticator`](crate::App::authenticator)) first, then static API
//! tokens, then JWT bearer tokens. The first that recognises the credential decides:
//!
//! - [`Outcome::Authenticated`]: the caller is that identity.
//! - [`Outcome::Invalid`]: the credential is present but wrong (expired, bad signature,
//!   malformed…). The request is answered 401 with `WWW-Authenticate: Bearer
//!   error="invalid_token"` on every route, public ones included, and the reason is logged,
//!   never sent. There is no silent downgrade to anonymous.
//! - [`Outcome::Skip`]: not this authenticator's kind of credential; the next one tries.
//!
//! If every authenticator skips while an `Authorization` header is present, the request is
//! 401 too: a credential nobody understands is not "no credential". Two `Authorization`
//! headers are 401 before the chain runs.
//!
//! The module also owns what the chain produces and what is checked against it: the
//! [`Accountability`] (`accountability.rs`), the client's address behind
//! trusted proxies (`client_ip.rs`) and the access levels (`access.rs`).

mod access;
mod accountability;
mod chain;
mod client_ip;
#[cfg(feature = "jwt")]
mod jwt;
mod jwt_config;
mod static_tokens;

use std::future::Future;
use std::pin::Pin;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

pub use access::DefaultAccess;
#[cfg(feature = "openapi")]
pub(crate) use access::docs;
pub(crate) use access::{
    check, docs_access_from_env, effective, public_by_default_and_changes_state, require,
};
pub use accountability::{Accountability, Claims};
pub(crate) use chain::{Chain, Identified, Pending, TestIdentity};
#[cfg(all(test, feature = "rate-limit"))]
pub(crate) use client_ip::client_ip;
#[cfg(feature = "otel")]
pub(crate) use client_ip::is_trusted_proxy;
pub(crate) use client_ip::trusted_proxies_from_env;
pub use client_ip::{ForwardedHeader, IpNet};
#[cfg(feature = "jwt")]
pub use jwt::{JwtAuthenticator, mint_token};
pub use jwt_config::{JwtAlgorithm, JwtConfig, JwtFeature, JwtKey};
pub(crate) use static_tokens::from_env as static_tokens_from_env;
pub use static_tokens::{StaticToken, StaticTokenAuthenticator};

/// The identity an authenticator found.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Identity {
    /// The user id. Required: an identity without a user is not an authentication.
    pub user: String,
    /// The primary role, if any.
    pub role: Option<String>,
    /// The caller's other roles (Directus 11's `roles`), after `role`; duplicates are dropped.
    pub roles: Vec<String>,
    /// Whether the user is an admin.
    pub admin: bool,
    /// Whether the caller is an app.
    pub app: bool,
    /// The raw claims, for custom use: `Claims::from(map)` from a `serde_json::Map`.
    pub claims: Claims,
}

impl Identity {
    /// An identity for `user`, not admin, with no role.
    pub fn new(user: impl Into<String>) -> Self {
        Identity {
            user: user.into(),
            ..Identity::default()
        }
    }

    /// Sets the role.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    /// Adds roles after the primary one (the first becomes primary when none is set).
    pub fn roles<R: Into<String>>(mut self, roles: impl IntoIterator<Item = R>) -> Self {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Every role, the primary first, without duplicates: what [`Accountability::roles`] holds.
    pub(crate) fn all_roles(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::with_capacity(self.roles.len() + 1);
        for role in self.role.iter().chain(&self.roles) {
            if !all.contains(role) {
                all.push(role.clone());
            }
        }
        all
    }

    /// Makes the identity an admin.
    pub fn admin(mut self) -> Self {
        self.admin = true;
        self
    }
}

/// What an authenticator concluded about a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not this authenticator's kind of credential.
    Skip,
    /// The credential is valid and identifies this caller.
    Authenticated(Identity),
    /// The credential is this authenticator's kind but invalid; the reason is logged, not sent.
    Invalid(String),
}

/// A boxed future, as returned by [`Authenticator::authenticate`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One link of the authentication chain. Implement it to accept another kind of credential
/// (a session cookie, an API-key header) and add it with
/// [`App::authenticator`](crate::App::authenticator).
///
/// ```
/// use endpoint_runtime::auth::{Authenticator, BoxFuture, Identity, Outcome};
/// use endpoint_runtime::axum::http::request::Parts;
///
/// /// Accepts `X-Api-Key: demo-key` as the user `demo`.
/// struct ApiKey;
///
/// impl Authenticator for ApiKey {
///     fn name(&self) -> &'static str {
///         "api-key"
///     }
///     fn authenticate<'a>(&'a self, parts: &'a Parts) -> BoxFuture<'a, Outcome> {
///         Box::pin(async move {
///             match parts.headers.get("x-api-key") {
///                 None => Outcome::Skip,
///                 Some(key) if key == "demo-key" => Outcome::Authenticated(Identity::new("demo")),
///                 Some(_) => Outcome::Invalid("unknown API key".into()),
///             }
///         })
///     }
/// }
/// ```
pub trait Authenticator: Send + Sync + 'static {
    /// A short name, recorded in [`Accountability::authenticator`](crate::Accountability::authenticator)
    /// and in logs.
    fn name(&self) -> &'static str;

    /// Examines the request head. Must not block; may await.
    fn authenticate<'a>(&'a self, parts: &'a Parts) -> BoxFuture<'a, Outcome>;
}

/// The token of `Authorization: Bearer <token>`: `None` without the header, `Some(Err)` for
/// a header that is not a well-formed bearer credential.
pub fn bearer_token(parts: &Parts) -> Option<Result<&str, &'static str>> {
    bearer_token_in(&parts.headers)
}

/// [`bearer_token`] from the headers alone.
pub(crate) fn bearer_token_in(headers: &HeaderMap) -> Option<Result<&str, &'static str>> {
    let value = headers.get(AUTHORIZATION)?;
    let Ok(value) = value.to_str() else {
        return Some(Err("Authorization header is not visible ASCII"));
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return Some(Err("Authorization header has no scheme"));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Some(Err("Authorization scheme is not Bearer"));
    }
    let token = token.trim();
    if token.is_empty() {
        return Some(Err("empty bearer token"));
    }
    Some(Ok(token))
}

/// The authenticators the runtime configures itself (`ENDPOINT_STATIC_TOKENS`,
/// `ENDPOINT_JWT_*`). They decide from the headers alone, so the runtime calls them without
/// the boxed future of [`Authenticator::authenticate`].
pub(crate) enum Builtin {
    StaticTokens(StaticTokenAuthenticator),
    #[cfg(feature = "jwt")]
    Jwt(Box<JwtAuthenticator>),
}

impl Builtin {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Builtin::StaticTokens(authenticator) => authenticator.name(),
            #[cfg(feature = "jwt")]
            Builtin::Jwt(authenticator) => authenticator.name(),
        }
    }

    pub(crate) fn outcome(&self, headers: &HeaderMap) -> Outcome {
        match self {
            Builtin::StaticTokens(authenticator) => authenticator.outcome(headers),
            #[cfg(feature = "jwt")]
            Builtin::Jwt(authenticator) => authenticator.outcome(headers),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn token(value: &'static [u8]) -> Option<Result<&'static str, &'static str>> {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
        // Leaked so the borrowed token can be returned: a few bytes per test case.
        let headers: &'static HeaderMap = Box::leak(Box::new(headers));
        bearer_token_in(headers)
    }

    #[test]
    fn bearer_tokens_are_parsed_or_refused() {
        assert_eq!(bearer_token_in(&HeaderMap::new()), None);
        assert_eq!(token(b"Bearer abc.def.ghi"), Some(Ok("abc.def.ghi")));
        assert_eq!(token(b"bearer \tabc "), Some(Ok("abc")));
        assert_eq!(
            token(b"Basic dXNlcjpwYXNz"),
            Some(Err("Authorization scheme is not Bearer"))
        );
        assert_eq!(
            token(b"Bearer"),
            Some(Err("Authorization header has no scheme"))
        );
        assert_eq!(token(b"Bearer  "), Some(Err("empty bearer token")));
        // obs-text is a valid header value but not a credential.
        assert_eq!(
            token(b"Bearer abc\xe9"),
            Some(Err("Authorization header is not visible ASCII"))
        );
        assert_eq!(
            token(b"Bearer \x80abc"),
            Some(Err("Authorization header is not visible ASCII"))
        );
    }
}
