//! JWT bearer tokens, verified with `jsonwebtoken`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode};
use serde_json::{Map, Value};

use super::{
    Authenticator, BoxFuture, Identity, JwtAlgorithm, JwtConfig, JwtKey, Outcome, bearer_token_in,
};
use crate::env::ConfigError;

/// Verifies `Authorization: Bearer <jwt>`.
///
/// The algorithm is the configured one, never the token's own `alg` (so `alg: none` and an
/// HS256 token signed with an RS256 public key are rejected). `exp` is required, `nbf` is
/// checked when present, both with the configured leeway (at most
/// [`MAX_LEEWAY`](JwtConfig::MAX_LEEWAY), 5 minutes); `iss` and `aud` are
/// required when configured. A token that carries an `aud` claim is rejected when no audience
/// is configured (`ENDPOINT_JWT_AUDIENCE`): a recipient that does not identify itself with the
/// audience must reject the token (RFC 7519 §4.1.3), so a token minted for another service
/// that shares the key does not get in. When a type is configured (`ENDPOINT_JWT_TYPE`, RFC
/// 8725 §3.11) the header's `typ` must be that type. The user comes from the user claim
/// (`sub`), which must be a non-empty string; the role claim must be a string and the admin
/// and app claims booleans when present.
///
/// A verified token is remembered until its `exp` plus the leeway, so a client that sends the
/// same token on every request pays for the signature check and the claims parsing once. The
/// cache holds at most 4,096 tokens and about 8 MiB (the token plus an estimate of the heap
/// its identity takes), the least recently used evicted first; a token whose entry alone would
/// exceed 64 KiB is verified on every request instead. Only tokens that
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
type VerifiedCache =
    quick_cache::sync::Cache<Box<str>, Verified, VerifiedWeight, foldhash::fast::RandomState>;

/// How many verified tokens a [`JwtAuthenticator`] remembers at most.
const VERIFIED_CACHE_CAPACITY: usize = 4096;

/// How many bytes the remembered tokens may take at most: the tokens themselves plus an
/// estimate of the heap their identities take ([`Verified::weight`]).
const VERIFIED_CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// The least weight of an entry: with it, [`VERIFIED_CACHE_BYTES`] also bounds the number of
/// entries to [`VERIFIED_CACHE_CAPACITY`].
const VERIFIED_MIN_WEIGHT: u64 = VERIFIED_CACHE_BYTES / VERIFIED_CACHE_CAPACITY as u64;

/// The largest entry remembered: a bigger token is verified on every request instead, so that
/// one token cannot take a large share of the cache.
const VERIFIED_MAX_WEIGHT: u64 = 64 * 1024;

/// A token that passed verification: its identity, until when (Unix seconds, `exp` plus the
/// leeway) it stays valid, and its weight in the cache.
#[derive(Clone)]
struct Verified {
    identity: std::sync::Arc<Identity>,
    valid_until: u64,
    /// The estimated bytes of the entry (token and identity), at least
    /// [`VERIFIED_MIN_WEIGHT`]: computed once, when the token is inserted.
    weight: u64,
}

/// Weighs a cache entry by its estimated bytes.
#[derive(Clone, Copy)]
struct VerifiedWeight;

impl quick_cache::Weighter<Box<str>, Verified> for VerifiedWeight {
    fn weight(&self, _: &Box<str>, verified: &Verified) -> u64 {
        verified.weight
    }
}

/// The estimated bytes a cache entry for `token` takes: the key, the entry, the identity and
/// the heap of its claims.
fn entry_bytes(token: &str, identity: &Identity) -> u64 {
    let strings = identity.user.len()
        + identity.role.as_ref().map_or(0, String::len)
        + identity.roles.iter().map(String::len).sum::<usize>();
    let claims: usize = identity
        .claims
        .iter()
        .map(|(name, value)| name.len() + value_bytes(value) + MAP_ENTRY_BYTES)
        .sum();
    let total = token.len()
        + std::mem::size_of::<Verified>()
        + std::mem::size_of::<Identity>()
        + strings
        + claims;
    u64::try_from(total).unwrap_or(u64::MAX)
}

/// The estimated overhead of one entry of a `serde_json::Map` (a B-tree node's share).
const MAP_ENTRY_BYTES: usize = std::mem::size_of::<String>() + std::mem::size_of::<Value>() + 16;

/// The estimated heap bytes of `value`, itself included.
fn value_bytes(value: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match value {
            Value::String(text) => text.len(),
            Value::Array(items) => items.iter().map(value_bytes).sum(),
            Value::Object(map) => map
                .iter()
                .map(|(name, value)| name.len() + value_bytes(value) + MAP_ENTRY_BYTES)
                .sum(),
            Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        }
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
    /// - [`ConfigError`] naming `ENDPOINT_JWT_LEEWAY` when the leeway is over
    ///   [`JwtConfig::MAX_LEEWAY`].
    pub fn new(config: &JwtConfig) -> Result<Self, ConfigError> {
        if config.leeway > JwtConfig::MAX_LEEWAY {
            return Err(leeway_error(config.leeway));
        }
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
            // `jsonwebtoken` rejects a string or array `aud` when no audience is set;
            // `verify` rejects any other `aud` as well.
            None => validation.validate_aud = true,
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
                VERIFIED_CACHE_BYTES,
                VerifiedWeight,
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
            let weight = entry_bytes(token, identity).max(VERIFIED_MIN_WEIGHT);
            if let Some(exp) = exp
                && weight <= VERIFIED_MAX_WEIGHT
            {
                self.verified.insert(
                    token.into(),
                    Verified {
                        identity: std::sync::Arc::new(identity.clone()),
                        valid_until: exp.saturating_add(self.validation.leeway),
                        weight,
                    },
                );
            }
        }
        outcome
    }

    /// How many verified tokens are remembered.
    pub fn cached_tokens(&self) -> usize {
        self.verified.len()
    }

    /// The estimated bytes the remembered tokens take (token and identity of each entry, each
    /// counted as at least 2 KiB); at most about 8 MiB.
    pub fn cached_bytes(&self) -> u64 {
        self.verified.weight()
    }

    fn verify(&self, token: &str) -> Outcome {
        let (header, claims) =
            match decode::<Map<String, Value>>(token, &self.key, &self.validation) {
                Ok(data) => (data.header, data.claims),
                Err(error) => return Outcome::Invalid(format!("JWT rejected: {error}")),
            };
        if let Some(expected) = &self.config.token_type {
            match &header.typ {
                Some(typ) if same_type(typ, expected) => {}
                Some(typ) => {
                    return Outcome::Invalid(format!(
                        "JWT `typ` is {typ:?}, ENDPOINT_JWT_TYPE requires {expected:?}"
                    ));
                }
                None => {
                    return Outcome::Invalid(format!(
                        "JWT has no `typ` header, ENDPOINT_JWT_TYPE requires {expected:?}"
                    ));
                }
            }
        }
        if self.config.audience.is_none() && claims.get("aud").is_some_and(|aud| !aud.is_null()) {
            return Outcome::Invalid(
                "JWT has an `aud` claim but no audience is configured (ENDPOINT_JWT_AUDIENCE)"
                    .into(),
            );
        }
        let user = match claims.get(&self.config.user_claim) {
            Some(Value::String(user)) if !user.is_empty() => user.clone(),
            _ => {
                return Outcome::Invalid(format!(
                    "JWT has no string `{}` claim",
                    self.config.user_claim
                ));
            }
        };
        // A string, or an array of strings (Directus 11's roles): the first is primary.
        let mut roles = match claims.get(&self.config.role_claim) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(role)) => vec![role.clone()],
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect(),
            Some(_) => {
                return Outcome::Invalid(format!(
                    "JWT claim `{}` is not a string or an array of strings",
                    self.config.role_claim
                ));
            }
        };
        let role = (!roles.is_empty()).then(|| roles.remove(0));
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
            roles,
            admin,
            app,
            claims: claims.into(),
        })
    }
}

/// Whether the `typ` header `typ` names the media type `expected`: compared without case and
/// without an `application/` prefix, which RFC 7515 §4.1.9 recommends omitting.
fn same_type(typ: &str, expected: &str) -> bool {
    fn bare(media_type: &str) -> &str {
        let prefix = "application/";
        match media_type.get(..prefix.len()) {
            Some(head) if head.eq_ignore_ascii_case(prefix) => &media_type[prefix.len()..],
            _ => media_type,
        }
    }
    bare(typ.trim()).eq_ignore_ascii_case(bare(expected.trim()))
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

/// Whether `pem` is a public key of `algorithm`'s kind (RS256: RSA; ES256: P-256 EC).
pub(crate) fn valid_pem(algorithm: JwtAlgorithm, pem: &[u8]) -> bool {
    match algorithm {
        JwtAlgorithm::Rs256 => DecodingKey::from_rsa_pem(pem).is_ok(),
        JwtAlgorithm::Es256 => DecodingKey::from_ec_pem(pem).is_ok(),
        JwtAlgorithm::Hs256 => false,
    }
}

/// The error for a leeway over [`JwtConfig::MAX_LEEWAY`].
pub(crate) fn leeway_error(leeway: Duration) -> ConfigError {
    ConfigError {
        variable: "ENDPOINT_JWT_LEEWAY",
        value: humantime::format_duration(leeway).to_string(),
        expected: "a duration of at most 5m (the clock skew allowed on `exp` and `nbf`)",
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
    let mut header = Header::new(Algorithm::HS256);
    if let Some(token_type) = &config.token_type {
        header.typ = Some(token_type.clone());
    }
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret))
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

    /// An HS256 token for `sub` with a `pad` claim of `pad` bytes.
    fn padded_token(config: &JwtConfig, sub: &str, pad: usize) -> String {
        let JwtKey::Secret(secret) = &config.key else {
            unreachable!("an HS256 configuration")
        };
        let claims =
            serde_json::json!({ "sub": sub, "exp": unix_now() + 600, "pad": "p".repeat(pad) });
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn the_verified_cache_is_bounded_in_bytes_and_entries() {
        let config = JwtConfig::hs256("0123456789abcdef0123456789abcdef");
        let authenticator = JwtAuthenticator::new(&config).unwrap();
        // 2,500 distinct valid tokens of about 5.5 KiB each: about 13.5 MiB of tokens alone.
        let tokens: Vec<String> = (0..2500)
            .map(|i| padded_token(&config, &format!("user-{i}"), 4096))
            .collect();
        for token in &tokens {
            assert!(matches!(
                outcome(&authenticator, token).await,
                Outcome::Authenticated(_)
            ));
        }
        let remembered: Vec<&String> = tokens
            .iter()
            .filter(|token| authenticator.verified.get(token.as_str()).is_some())
            .collect();
        let token_bytes: u64 = remembered.iter().map(|token| token.len() as u64).sum();
        assert!(
            !remembered.is_empty(),
            "large tokens are still remembered, within the bound"
        );
        assert!(
            token_bytes <= VERIFIED_CACHE_BYTES,
            "{} tokens remembered, {token_bytes} bytes of tokens alone",
            remembered.len()
        );
        assert_eq!(authenticator.cached_tokens(), remembered.len());
        assert!(
            authenticator.cached_bytes() <= VERIFIED_CACHE_BYTES,
            "{}",
            authenticator.cached_bytes()
        );
        // The accessor counts each entry's token and its decoded claims (4 KiB of `pad`).
        assert!(
            authenticator.cached_bytes() >= token_bytes + remembered.len() as u64 * 4096,
            "{} for {token_bytes} bytes of tokens",
            authenticator.cached_bytes()
        );

        // Small tokens: the entry bound holds.
        let authenticator = JwtAuthenticator::new(&config).unwrap();
        for i in 0..VERIFIED_CACHE_CAPACITY + 500 {
            let token = padded_token(&config, &format!("u{i}"), 0);
            assert!(matches!(
                outcome(&authenticator, &token).await,
                Outcome::Authenticated(_)
            ));
        }
        assert!(
            authenticator.cached_tokens() <= VERIFIED_CACHE_CAPACITY,
            "{}",
            authenticator.cached_tokens()
        );
        assert!(authenticator.cached_tokens() > VERIFIED_CACHE_CAPACITY / 2);

        // One token whose entry would exceed 64 KiB is checked, not remembered.
        let huge = padded_token(&config, "huge", 48 * 1024);
        assert!(matches!(
            outcome(&authenticator, &huge).await,
            Outcome::Authenticated(_)
        ));
        assert!(authenticator.verified.get(huge.as_str()).is_none());
    }
}
