//! Static API tokens from configuration (Directus static tokens), compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use axum::http::HeaderMap;

use super::{Authenticator, BoxFuture, Identity, Outcome, bearer_token_in};
use crate::env::{ConfigError, Env, REDACTED};

/// A static API token and the identity it stands for.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticToken {
    /// The token, as sent in `Authorization: Bearer <token>`; at least 16 characters.
    pub token: String,
    /// The user it authenticates.
    pub user: String,
    /// The user's primary role, if any.
    #[serde(default)]
    pub role: Option<String>,
    /// The user's other roles (`"roles": ["author", "editor"]`), after `role`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Whether the user is an admin.
    #[serde(default)]
    pub admin: bool,
    /// Whether the caller is an app (Directus `accountability.app`).
    #[serde(default)]
    pub app: bool,
}

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticToken")
            .field("token", &"<redacted>")
            .field("user", &self.user)
            .field("role", &self.role)
            .field("roles", &self.roles)
            .field("admin", &self.admin)
            .field("app", &self.app)
            .finish()
    }
}

/// `ENDPOINT_STATIC_TOKENS`: a JSON array of tokens. An error never shows the value.
pub(crate) fn from_env(env: &Env<'_>) -> Result<Vec<StaticToken>, ConfigError> {
    let Some((name, value)) = env.get("ENDPOINT_STATIC_TOKENS") else {
        return Ok(Vec::new());
    };
    parse(&value).map_err(|expected| ConfigError {
        variable: name,
        value: REDACTED.into(),
        expected,
    })
}

fn parse(value: &str) -> Result<Vec<StaticToken>, &'static str> {
    const FORM: &str = "a JSON array such as [{\"token\":\"<at least 16 characters>\",\"user\":\"bot\",\"role\":\"editor\",\"admin\":false}]";
    let tokens: Vec<StaticToken> = serde_json::from_str(value).map_err(|_| FORM)?;
    for (i, token) in tokens.iter().enumerate() {
        if token.token.chars().count() < 16 || token.token.trim() != token.token {
            return Err("tokens of at least 16 characters without surrounding spaces");
        }
        if token.user.trim().is_empty() {
            return Err("a non-empty `user` for every token");
        }
        if tokens[..i].iter().any(|other| other.token == token.token) {
            return Err("distinct tokens");
        }
    }
    Ok(tokens)
}

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
                    roles: t.roles.clone(),
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
