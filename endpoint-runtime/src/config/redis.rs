//! The Redis server instances share (`ENDPOINT_REDIS_URL`, feature `redis`).

use crate::env::{ConfigError, Env, REDACTED, chosen};

/// What a rate limit does when its Redis store cannot answer
/// (`ENDPOINT_RATE_LIMIT_ON_STORE_ERROR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreErrorPolicy {
    /// Admit the request unlimited (the default): an outage of the limiter's store is not an
    /// outage of the service. Logged once per outage, counted in
    /// `endpoint_rate_limit_store_errors_total`.
    #[default]
    Allow,
    /// Refuse it, `503 SERVICE_UNAVAILABLE` with `Retry-After: 1`: for limits that protect
    /// something (a paid upstream, a login form) rather than share capacity.
    Deny,
}

/// The Redis server the instances of an application share: the rate limits' buckets live
/// there (one atomic GCRA step per request), so N instances together allow what one would.
///
/// | variable | default | accepted form |
/// |---|---|---|
/// | `ENDPOINT_REDIS_URL` | none: buckets in each process | `redis://[:password@]host[:port][/db]` |
/// | `ENDPOINT_RATE_LIMIT_ON_STORE_ERROR` | `allow` | `allow` or `deny` (see [`StoreErrorPolicy`]) |
///
/// `Debug` never shows the password. `rediss://` (TLS) is refused at start-up: no TLS client
/// is built in; reach Redis over a private network or a local TLS tunnel.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `ENDPOINT_REDIS_URL`.
    pub url: String,
    /// `ENDPOINT_RATE_LIMIT_ON_STORE_ERROR`.
    pub on_store_error: StoreErrorPolicy,
}

impl RedisConfig {
    /// The server at `url` (`redis://host:port/db`), with the default policy (`allow`).
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            on_store_error: StoreErrorPolicy::Allow,
        }
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redacted(&self.url))
            .field("on_store_error", &self.on_store_error)
            .finish()
    }
}

/// `url` with what stands between `://` and the last `@` (a user and password) replaced.
pub(crate) fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{REDACTED}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// `ENDPOINT_REDIS_URL` and `ENDPOINT_RATE_LIMIT_ON_STORE_ERROR`.
///
/// # Errors
///
/// A [`ConfigError`] naming the variable: a URL that is not `redis://host...`, a policy other
/// than `allow` or `deny`, or a URL given to a build without the `redis` feature.
pub(crate) fn from_env(env: &Env<'_>) -> Result<Option<RedisConfig>, ConfigError> {
    let on_store_error = chosen(
        env,
        "ENDPOINT_RATE_LIMIT_ON_STORE_ERROR",
        &[
            ("allow", StoreErrorPolicy::Allow),
            ("deny", StoreErrorPolicy::Deny),
        ],
        "`allow` or `deny`",
    )?
    .unwrap_or_default();
    let Some((variable, value)) = env
        .get("ENDPOINT_REDIS_URL")
        .filter(|(_, value)| !value.trim().is_empty())
    else {
        return Ok(None);
    };
    let url = value.trim();
    let host = url.strip_prefix("redis://").map(|rest| {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        rest.split(['/', ':']).next().unwrap_or_default()
    });
    if !host.is_some_and(|host| !host.is_empty() && !host.contains(char::is_whitespace)) {
        return Err(ConfigError {
            variable,
            value: redacted(url),
            expected: "a URL such as redis://127.0.0.1:6379/0 (`rediss://` is refused: no TLS \
                client is built in)",
        });
    }
    if !cfg!(feature = "redis") {
        return Err(ConfigError {
            variable,
            value: redacted(url),
            expected: "unset: shared rate limits need the `redis` feature of endpoint-runtime",
        });
    }
    Ok(Some(RedisConfig {
        url: url.to_string(),
        on_store_error,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<RedisConfig>, ConfigError> {
        crate::env::read_with(vars, from_env)
    }

    #[test]
    fn a_redis_url_and_the_store_error_policy() {
        assert_eq!(read(&[]), Ok(None));
        let vars = [
            ("ENDPOINT_REDIS_URL", "redis://:s3cret@10.0.0.5:6380/2"),
            ("ENDPOINT_RATE_LIMIT_ON_STORE_ERROR", "deny"),
        ];
        if cfg!(feature = "redis") {
            let config = read(&vars).unwrap().unwrap();
            assert_eq!(config.on_store_error, StoreErrorPolicy::Deny);
            assert_eq!(config.url, "redis://:s3cret@10.0.0.5:6380/2");
            let shown = format!("{config:?}");
            assert!(!shown.contains("s3cret"), "{shown}");
        } else {
            let error = read(&vars).unwrap_err();
            assert_eq!(error.variable, "ENDPOINT_REDIS_URL");
            assert!(!error.to_string().contains("s3cret"), "{error}");
        }
    }

    #[test]
    fn malformed_values_name_their_variable_and_hide_the_password() {
        for (vars, variable) in [
            (
                &[("ENDPOINT_REDIS_URL", "rediss://:s3cret@cache.example.com")][..],
                "ENDPOINT_REDIS_URL",
            ),
            (
                &[("ENDPOINT_REDIS_URL", "127.0.0.1:6379")][..],
                "ENDPOINT_REDIS_URL",
            ),
            (
                &[("ENDPOINT_REDIS_URL", "redis://")][..],
                "ENDPOINT_REDIS_URL",
            ),
            (
                &[("ENDPOINT_RATE_LIMIT_ON_STORE_ERROR", "maybe")][..],
                "ENDPOINT_RATE_LIMIT_ON_STORE_ERROR",
            ),
        ] {
            let error = read(vars).unwrap_err();
            assert_eq!(error.variable, variable, "{vars:?}");
            assert!(!error.to_string().contains("s3cret"), "{error}");
        }
    }
}
