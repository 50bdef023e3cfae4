//! Static API tokens from configuration (Directus static tokens), compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use axum::http::HeaderMap;

use super::{Authenticator, BoxFuture, Identity, Outcome, bearer_token_in};
use crate::config::StaticToken;

/// Accepts `Authorization: Bearer <token>` for the tokens of `ENDPOINT_STATIC_TOKENS`.
///
/// Tokens are compared as SHA-256 digests with a constant-time equality, against every
/// configured token without stopping early, so timing reveals neither a token's prefix nor
/// its length. A bearer token that matches none is left to the next authenticator (a JWT
/// is also a bearer token); if nothing accepts it, the request is 401.
pub struct StaticTokenAuthenticator {
    tokens: Vec<([u8; 32], Identity)>,
}

impl StaticTokenAuthenticator {
    /// An authenticator for `tokens`.
    pub fn new(tokens: &[StaticToken]) -> Self {
        let tokens = tokens
            .iter()
            .map(|t| {
                let identity = Identity {
                    user: t.user.clone(),
                    role: t.role.clone(),
                    admin: t.admin,
                    app: t.app,
                    ..Identity::default()
                };
                (Sha256::digest(t.token.as_bytes()).into(), identity)
            })
            .collect();
        StaticTokenAuthenticator { tokens }
    }

    /// The outcome for a request with these headers, without a future: the runtime calls
    /// this directly.
    pub(crate) fn outcome(&self, headers: &HeaderMap) -> Outcome {
        match bearer_token_in(headers) {
            Some(Ok(token)) => match self.find(token) {
                Some(identity) => Outcome::Authenticated(identity.clone()),
                None => Outcome::Skip,
            },
            _ => Outcome::Skip,
        }
    }

    fn find(&self, token: &str) -> Option<&Identity> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (candidate, identity) in &self.tokens {
            if bool::from(candidate.ct_eq(&digest)) {
                found = Some(identity);
            }
        }
        found
    }
}

impl Authenticator for StaticTokenAuthenticator {
    fn name(&self) -> &'static str {
        "static-token"
    }

    fn authenticate<'a>(&'a self, parts: &'a axum::http::request::Parts) -> BoxFuture<'a, Outcome> {
        Box::pin(std::future::ready(self.outcome(&parts.headers)))
    }
}
