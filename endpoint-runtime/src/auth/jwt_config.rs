//! The JWT settings (`ENDPOINT_JWT_*`): the key, the algorithm and the claims to read. Always
//! compiled, so that [`Config`](crate::Config) has the same shape with or without the `jwt`
//! feature; without it, any `ENDPOINT_JWT_*` variable is refused at start-up, naming the
//! feature, rather than leaving tokens unverified.

use std::time::Duration;

use crate::env::{ConfigError, Env, REDACTED, duration};

/// The accepted JWT signature algorithm: fixed by configuration, never taken from a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 and a shared secret (`ENDPOINT_JWT_SECRET`).
    Hs256,
    /// RSA PKCS#1 v1.5 with SHA-256 and a public key file.
    Rs256,
    /// ECDSA P-256 with SHA-256 and a public key file.
    Es256,
}

/// The key that verifies JWT signatures.
#[derive(Clone, PartialEq, Eq)]
pub enum JwtKey {
    /// The HS256 shared secret.
    Secret(Vec<u8>),
    /// A PEM public key (RS256 / ES256), as read from the file.
    PublicKeyPem(Vec<u8>),
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtKey::Secret(_) => f.write_str("Secret(<redacted>)"),
            JwtKey::PublicKeyPem(pem) => write!(f, "PublicKeyPem({} bytes)", pem.len()),
        }
    }
}

/// How JWT bearer tokens are verified and read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// The only algorithm accepted.
    pub algorithm: JwtAlgorithm,
    /// The verification key.
    pub key: JwtKey,
    /// Clock skew allowed when checking `exp` and `nbf`.
    pub leeway: Duration,
    /// The required `iss`, if any.
    pub issuer: Option<String>,
    /// The required `aud`, if any. Without one, a token that carries an `aud` claim is
    /// refused (RFC 7519 §4.1.3).
    pub audience: Option<String>,
    /// The required `typ` header (`ENDPOINT_JWT_TYPE`), such as `at+jwt` (RFC 8725 §3.11;
    /// compared without case and without an `application/` prefix); `None` does not check it.
    pub token_type: Option<String>,
    /// The claim holding the user id (default `sub`).
    pub user_claim: String,
    /// The claim holding the role: a string, or an array of strings whose first is the primary
    /// role (Directus 11's roles; [`Accountability::roles`](crate::Accountability::roles)).
    /// Default `role`.
    pub role_claim: String,
    /// The claim holding the admin flag, a boolean (default `admin`).
    pub admin_claim: String,
    /// The claim holding the app flag, a boolean (default `app`).
    pub app_claim: String,
}

impl JwtConfig {
    /// The largest [`leeway`](Self::leeway) accepted (`ENDPOINT_JWT_LEEWAY`): 5 minutes, the
    /// customary bound on clock skew.
    pub const MAX_LEEWAY: Duration = Duration::from_secs(5 * 60);

    /// HS256 with `secret`, default leeway and claim names.
    #[cfg(feature = "jwt")]
    pub fn hs256(secret: impl Into<Vec<u8>>) -> Self {
        Self::with_secret(secret.into())
    }

    /// Without the `jwt` feature nothing verifies tokens: configuring JWT in code is a compile
    /// error naming the feature (and `ENDPOINT_JWT_*` is refused at start-up).
    #[cfg(not(feature = "jwt"))]
    pub fn hs256(secret: impl Into<Vec<u8>>) -> Self
    where
        for<'a> Self: JwtFeature<'a>,
    {
        Self::with_secret(secret.into())
    }

    fn with_secret(secret: Vec<u8>) -> Self {
        JwtConfig {
            algorithm: JwtAlgorithm::Hs256,
            key: JwtKey::Secret(secret),
            leeway: Duration::from_secs(10),
            issuer: None,
            audience: None,
            token_type: None,
            user_claim: "sub".into(),
            role_claim: "role".into(),
            admin_claim: "admin".into(),
            app_claim: "app".into(),
        }
    }
}

impl JwtConfig {
    /// `ENDPOINT_JWT_*`: `None` when neither a secret nor a public key file is configured.
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Option<JwtConfig>, ConfigError> {
        let get = |name| env.get(name);
        #[cfg(not(feature = "jwt"))]
        if let Some((name, _)) = VARIABLES.iter().find_map(|name| get(name)) {
            return Err(ConfigError {
                variable: name,
                value: REDACTED.into(),
                expected: "no JWT settings: verifying JWTs needs the `jwt` feature of endpoint-runtime (features = [\"jwt\"])",
            });
        }
        let algorithm = match get("ENDPOINT_JWT_ALGORITHM") {
            None => None,
            Some((name, value)) => Some(match value.trim().to_ascii_uppercase().as_str() {
                "HS256" => JwtAlgorithm::Hs256,
                "RS256" => JwtAlgorithm::Rs256,
                "ES256" => JwtAlgorithm::Es256,
                _ => {
                    return Err(ConfigError {
                        variable: name,
                        value,
                        expected: "`HS256`, `RS256` or `ES256`",
                    });
                }
            }),
        };
        let secret = get("ENDPOINT_JWT_SECRET");
        let key_file = get("ENDPOINT_JWT_PUBLIC_KEY_FILE");
        let mut jwt = match (algorithm, secret, key_file) {
            (None, None, None) => return Ok(None),
            (None | Some(JwtAlgorithm::Hs256), Some((name, secret)), None) => {
                if secret.len() < 32 {
                    return Err(ConfigError {
                        variable: name,
                        value: REDACTED.into(),
                        expected: "a secret of at least 32 bytes (for example `openssl rand -hex 32`)",
                    });
                }
                JwtConfig::with_secret(secret.into_bytes())
            }
            (Some(JwtAlgorithm::Hs256) | None, None, _) => {
                return Err(ConfigError {
                    variable: "ENDPOINT_JWT_SECRET",
                    value: String::new(),
                    expected: "a secret of at least 32 bytes: HS256 verifies tokens with a shared secret",
                });
            }
            (Some(JwtAlgorithm::Hs256) | None, Some(_), Some((name, value))) => {
                return Err(ConfigError {
                    variable: name,
                    value,
                    expected: "no public key file with HS256: set ENDPOINT_JWT_ALGORITHM=RS256 or ES256, or remove it",
                });
            }
            (Some(algorithm), secret, key_file) => {
                if let Some((name, _)) = secret {
                    return Err(ConfigError {
                        variable: name,
                        value: REDACTED.into(),
                        expected: "no secret with RS256/ES256, which verify with ENDPOINT_JWT_PUBLIC_KEY_FILE",
                    });
                }
                let Some((name, path)) = key_file else {
                    return Err(ConfigError {
                        variable: "ENDPOINT_JWT_PUBLIC_KEY_FILE",
                        value: String::new(),
                        expected: "the path of a PEM public key file for RS256/ES256",
                    });
                };
                let pem = std::fs::read(&path).map_err(|_| ConfigError {
                    variable: name,
                    value: path.clone(),
                    expected: "a readable PEM public key file",
                })?;
                // Without the feature no variable gets here (refused above).
                #[cfg(feature = "jwt")]
                let valid = super::jwt::valid_pem(algorithm, &pem);
                #[cfg(not(feature = "jwt"))]
                let valid = false;
                if !valid {
                    let expected = match algorithm {
                        JwtAlgorithm::Rs256 => {
                            "a PEM RSA public key (`-----BEGIN PUBLIC KEY-----`) for RS256"
                        }
                        _ => "a PEM P-256 EC public key (`-----BEGIN PUBLIC KEY-----`) for ES256",
                    };
                    return Err(ConfigError {
                        variable: name,
                        value: path,
                        expected,
                    });
                }
                let mut jwt = JwtConfig::with_secret(Vec::new());
                jwt.algorithm = algorithm;
                jwt.key = JwtKey::PublicKeyPem(pem);
                jwt
            }
        };
        if let Some((name, value)) = get("ENDPOINT_JWT_LEEWAY") {
            jwt.leeway = duration(name, value.clone())?;
            if jwt.leeway > JwtConfig::MAX_LEEWAY {
                return Err(ConfigError {
                    variable: name,
                    value,
                    expected: "a duration of at most 5m (the clock skew allowed on `exp` and `nbf`)",
                });
            }
        }
        if let Some((name, value)) = get("ENDPOINT_JWT_TYPE") {
            if value.trim().is_empty() || !value.trim().bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ConfigError {
                    variable: name,
                    value,
                    expected: "a media type such as `at+jwt` or `JWT`",
                });
            }
            jwt.token_type = Some(value.trim().to_string());
        }
        jwt.issuer = get("ENDPOINT_JWT_ISSUER").map(|(_, v)| v);
        jwt.audience = get("ENDPOINT_JWT_AUDIENCE").map(|(_, v)| v);
        for (variable, slot) in [
            ("ENDPOINT_JWT_USER_CLAIM", &mut jwt.user_claim),
            ("ENDPOINT_JWT_ROLE_CLAIM", &mut jwt.role_claim),
            ("ENDPOINT_JWT_ADMIN_CLAIM", &mut jwt.admin_claim),
            ("ENDPOINT_JWT_APP_CLAIM", &mut jwt.app_claim),
        ] {
            if let Some((name, value)) = get(variable) {
                if value.trim().is_empty() {
                    return Err(ConfigError {
                        variable: name,
                        value,
                        expected: "a claim name",
                    });
                }
                *slot = value.trim().to_string();
            }
        }
        Ok(Some(jwt))
    }
}

/// Every variable of the JWT settings.
#[cfg(not(feature = "jwt"))]
const VARIABLES: [&str; 11] = [
    "ENDPOINT_JWT_SECRET",
    "ENDPOINT_JWT_PUBLIC_KEY_FILE",
    "ENDPOINT_JWT_ALGORITHM",
    "ENDPOINT_JWT_LEEWAY",
    "ENDPOINT_JWT_ISSUER",
    "ENDPOINT_JWT_AUDIENCE",
    "ENDPOINT_JWT_TYPE",
    "ENDPOINT_JWT_USER_CLAIM",
    "ENDPOINT_JWT_ROLE_CLAIM",
    "ENDPOINT_JWT_ADMIN_CLAIM",
    "ENDPOINT_JWT_APP_CLAIM",
];

/// What configuring JWT in code needs without the `jwt` feature: no type implements it, so
/// [`JwtConfig::hs256`] is then a compile error with this message. Not public API.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "verifying JWTs needs the `jwt` feature of endpoint-runtime",
    label = "needs `features = [\"jwt\"]` on endpoint-runtime",
    note = "in Cargo.toml: endpoint-runtime with `features = [\"jwt\"]`"
)]
pub trait JwtFeature<'a> {}
