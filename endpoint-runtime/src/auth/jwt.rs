//! JWT bearer tokens, verified with `jsonwebtoken`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode};
use serde_json::{Map, Value};

use super::{Authenticator, BoxFuture, Identity, Outcome, bearer_token_in};
use crate::config::{JwtAlgorithm, JwtConfig, JwtKey};
use crate::error::ConfigError;

/// Verifies `Authorization: Bearer <jwt>`.
///
/// The algorithm is the configured one, never the token's own `alg` (so `alg: none` and an
/// HS256 token signed with an RS256 public key are rejected). `exp` is required, `nbf` is
/// checked when present, both with the configured leeway; `iss` and `aud` are required when
/// configured. The user comes from the user claim (`sub`), which must be a non-empty string;
/// the role claim must be a string and the admin and app claims booleans when present.
///
/// A verified token is remembered (up to 4,096 tokens, the least recently used evicted) until
/// its `exp` plus the leeway, so a client that sends the same token on every request pays for
/// the signature check and the claims parsing once. Only tokens that
/// passed every check are remembered, so a caller without a valid token cannot fill the cache,
/// and a remembered token is refused once expired exactly as a fresh check would refuse it.
pub struct JwtAuthenticator {
    key: DecodingKey,
    validation: Validation,
    config: JwtConfig,
    verified: VerifiedCache,
}

/// Keyed by the token. Hashed with `foldhash` (seeded per process) rather than SipHash: only
/// tokens that passed verification are ever inserted, so a caller cannot choose the keys.
type VerifiedCache = quick_cache::sync::Cache<
    Box<str>,
    Verified,
    quick_cache::UnitWeighter,
    foldhash::fast::RandomState,
>;

/// How many verified tokens a [`JwtAuthenticator`] remembers.
const VERIFIED_CACHE_CAPACITY: usize = 4096;

/// A token that passed verification: its identity, and until when (Unix seconds, `exp` plus
/// the leeway) it stays valid.
#[derive(Clone)]
struct Verified {
    identity: std::sync::Arc<Identity>,
    valid_until: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn algorithm(algorithm: JwtAlgorithm) -> Algorithm {
    match algorithm {
        JwtAlgorithm::Hs256 => Algorithm::HS256,
        JwtAlgorithm::Rs256 => Algorithm::RS256,
        JwtAlgorithm::Es256 => Algorithm::ES256,
    }
}

impl JwtAuthenticator {
    /// An authenticator for `config`.
    ///
    /// # Errors
    ///
    /// - [`ConfigError`] naming `ENDPOINT_JWT_PUBLIC_KEY_FILE` when the key does not parse.
    pub fn new(config: &JwtConfig) -> Result<Self, ConfigError> {
        let key = match (&config.key, config.algorithm) {
            (JwtKey::Secret(secret), _) => DecodingKey::from_secret(secret),
            (JwtKey::PublicKeyPem(pem), JwtAlgorithm::Es256) => {
                DecodingKey::from_ec_pem(pem).map_err(|_| key_error())?
            }
            (JwtKey::PublicKeyPem(pem), _) => {
                DecodingKey::from_rsa_pem(pem).map_err(|_| key_error())?
            }
        };
        let mut validation = Validation::new(algorithm(config.algorithm));
        validation.algorithms = vec![algorithm(config.algorithm)];
        validation.leeway = config.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // A configured `iss` / `aud` must be present, not merely right when present.
        let mut required = vec!["exp"];
        match &config.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &config.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        Ok(JwtAuthenticator {
            key,
            validation,
            config: config.clone(),
            verified: VerifiedCache::with(
                VERIFIED_CACHE_CAPACITY,
                VERIFIED_CACHE_CAPACITY as u64,
                quick_cache::UnitWeighter,
                foldhash::fast::RandomState::default(),
                quick_cache::sync::DefaultLifecycle::default(),
            ),
        })
    }

    /// The outcome for a request with these headers, without a future: the runtime calls
    /// this directly.
    pub(crate) fn outcome(&self, headers: &axum::http::HeaderMap) -> Outcome {
        let Some(Ok(token)) = bearer_token_in(headers) else {
            return Outcome::Skip;
        };
        // A remembered token is a JWT: the shape check is only for tokens not seen yet.
        if let Some(verified) = self.verified.get(token) {
            if unix_now() <= verified.valid_until {
                return Outcome::Authenticated(Identity::clone(&verified.identity));
            }
            self.verified.remove(token);
        }
        if looks_like_jwt(token) {
            self.check(token)
        } else {
            Outcome::Skip
        }
    }

    /// [`verify`](Self::verify), remembering a verified token until it expires.
    fn check(&self, token: &str) -> Outcome {
        let outcome = self.verify(token);
        if let Outcome::Authenticated(identity) = &outcome {
            let exp = identity.claims.get("exp").and_then(|exp| {
                exp.as_u64()
                    .or_else(|| exp.as_f64().filter(|e| *e >= 0.0).map(|e| e as u64))
            });
            if let Some(exp) = exp {
                self.verified.insert(
                    token.into(),
                    Verified {
                        identity: std::sync::Arc::new(identity.clone()),
                        valid_until: exp.saturating_add(self.validation.leeway),
                    },
                );
            }
        }
        outcome
    }

    fn verify(&self, token: &str) -> Outcome {
        let claims = match decode::<Map<String, Value>>(token, &self.key, &self.validation) {
            Ok(data) => data.claims,
            Err(error) => return Outcome::Invalid(format!("JWT rejected: {error}")),
        };
        let user = match claims.get(&self.config.user_claim) {
            Some(Value::String(user)) if !user.is_empty() => user.clone(),
            _ => {
                return Outcome::Invalid(format!(
                    "JWT has no string `{}` claim",
                    self.config.user_claim
                ));
            }
        };
        let role = match claims.get(&self.config.role_claim) {
            None | Some(Value::Null) => None,
            Some(Value::String(role)) => Some(role.clone()),
            Some(_) => {
                return Outcome::Invalid(format!(
                    "JWT claim `{}` is not a string",
                    self.config.role_claim
                ));
            }
        };
        let flag = |name: &str| match claims.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(_) => Err(format!("JWT claim `{name}` is not a boolean")),
        };
        let admin = match flag(&self.config.admin_claim) {
            Ok(admin) => admin,
            Err(reason) => return Outcome::Invalid(reason),
        };
        let app = match flag(&self.config.app_claim) {
            Ok(app) => app,
            Err(reason) => return Outcome::Invalid(reason),
        };
        Outcome::Authenticated(Identity {
            user,
            role,
            admin,
            app,
            claims: claims.into(),
        })
    }
}

/// A JWT has three base64url segments; anything else is not this authenticator's credential.
fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2
}

impl Authenticator for JwtAuthenticator {
    fn name(&self) -> &'static str {
        "jwt"
    }

    fn authenticate<'a>(&'a self, parts: &'a axum::http::request::Parts) -> BoxFuture<'a, Outcome> {
        Box::pin(std::future::ready(self.outcome(&parts.headers)))
    }
}

fn key_error() -> ConfigError {
    ConfigError {
        variable: "ENDPOINT_JWT_PUBLIC_KEY_FILE",
        value: String::new(),
        expected: "a PEM public key matching ENDPOINT_JWT_ALGORITHM",
    }
}

/// Mints an HS256 token for development: `sub` = `user`, optional `role`, `admin`, and an
/// `exp` `ttl` from now. This is what the application's `token` command prints.
///
/// # Errors
///
/// - A message when the configuration has no HS256 secret (RS256/ES256 tokens come from the
///   identity provider that holds the private key).
pub fn mint_token(
    config: &JwtConfig,
    user: &str,
    role: Option<&str>,
    admin: bool,
    ttl: Duration,
) -> Result<String, String> {
    let JwtKey::Secret(secret) = &config.key else {
        return Err("minting needs an HS256 secret (ENDPOINT_JWT_SECRET); RS256/ES256 tokens are issued by whoever holds the private key".into());
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let mut claims = Map::new();
    claims.insert(config.user_claim.clone(), Value::from(user));
    if let Some(role) = role {
        claims.insert(config.role_claim.clone(), Value::from(role));
    }
    if admin {
        claims.insert(config.admin_claim.clone(), Value::from(true));
    }
    claims.insert("iat".into(), Value::from(now));
    claims.insert("exp".into(), Value::from(now + ttl.as_secs()));
    if let Some(issuer) = &config.issuer {
        claims.insert("iss".into(), Value::from(issuer.as_str()));
    }
    if let Some(audience) = &config.audience {
        claims.insert("aud".into(), Value::from(audience.as_str()));
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(token: &str) -> axum::http::request::Parts {
        axum::http::Request::builder()
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    async fn outcome(authenticator: &JwtAuthenticator, token: &str) -> Outcome {
        authenticator.authenticate(&parts(token)).await
    }

    #[tokio::test]
    async fn a_remembered_token_still_expires() {
        let mut config = JwtConfig::hs256("0123456789abcdef0123456789abcdef");
        config.leeway = Duration::ZERO;
        let authenticator = JwtAuthenticator::new(&config).unwrap();
        let token = mint_token(
            &config,
            "ada",
            Some("editor"),
            false,
            Duration::from_secs(1),
        )
        .unwrap();
        for _ in 0..2 {
            match outcome(&authenticator, &token).await {
                Outcome::Authenticated(identity) => {
                    assert_eq!(identity.user, "ada");
                    assert_eq!(identity.role.as_deref(), Some("editor"));
                }
                _ => panic!("a fresh token is accepted"),
            }
        }
        assert_eq!(
            authenticator.verified.len(),
            1,
            "the verified token is remembered"
        );
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert!(
            matches!(outcome(&authenticator, &token).await, Outcome::Invalid(_)),
            "an expired token is refused even when remembered"
        );
        assert_eq!(authenticator.verified.len(), 0, "and forgotten");
    }

    #[tokio::test]
    async fn only_verified_tokens_are_remembered() {
        let config = JwtConfig::hs256("0123456789abcdef0123456789abcdef");
        let authenticator = JwtAuthenticator::new(&config).unwrap();
        let token = mint_token(&config, "ada", None, false, Duration::from_secs(60)).unwrap();
        let (head, _) = token.rsplit_once('.').unwrap();
        let forged = format!("{head}.AAAA");
        for _ in 0..2 {
            assert!(matches!(
                outcome(&authenticator, &forged).await,
                Outcome::Invalid(_)
            ));
        }
        assert_eq!(authenticator.verified.len(), 0);
    }
}
