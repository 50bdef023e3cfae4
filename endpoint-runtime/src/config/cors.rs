//! The CORS policy (`ENDPOINT_CORS_*`).

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method};

use crate::env::{ConfigError, Env, duration};

/// Which origins may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*`: any origin, without credentials.
    Any,
    /// These origins exactly (`https://app.example.com`), compared as the browser sends them.
    List(Vec<HeaderValue>),
}

/// The CORS policy from the environment; applied by the runtime with tower-http's
/// `CorsLayer` (feature `cors`).
///
/// | variable | default | accepted form |
/// |---|---|---|
/// | `ENDPOINT_CORS_ORIGINS` | none: no CORS headers, browsers refuse cross-origin calls | origins, comma-separated (`https://app.example.com,http://localhost:5173`), or `*` |
/// | `ENDPOINT_CORS_METHODS` | `GET,HEAD,POST,PUT,PATCH,DELETE` | methods, comma-separated |
/// | `ENDPOINT_CORS_HEADERS` | `authorization,content-type,x-request-id,api-version` | request headers a page may send, comma-separated |
/// | `ENDPOINT_CORS_CREDENTIALS` | `false` | `true`: pages may send cookies and read the answer (`Access-Control-Allow-Credentials`) |
/// | `ENDPOINT_CORS_MAX_AGE` | `10m` | how long a browser may cache a preflight's answer |
///
/// The layer is the outermost one: a preflight (`OPTIONS` with
/// `Access-Control-Request-Method`) is answered before authentication, for every route; an
/// origin not listed gets no CORS headers, so the browser refuses the page the answer.
/// `x-request-id`, `api-version`, `deprecation` and `sunset` are exposed to pages. `*` with `ENDPOINT_CORS_CREDENTIALS=true` stops
/// start-up: browsers refuse it (the Fetch standard), and it would hand every site the
/// caller's cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CorsConfig {
    /// `ENDPOINT_CORS_ORIGINS`.
    pub origins: CorsOrigins,
    /// `ENDPOINT_CORS_METHODS`.
    pub methods: Vec<Method>,
    /// `ENDPOINT_CORS_HEADERS`.
    pub headers: Vec<HeaderName>,
    /// `ENDPOINT_CORS_CREDENTIALS`.
    pub credentials: bool,
    /// `ENDPOINT_CORS_MAX_AGE`.
    pub max_age: Duration,
}

impl CorsConfig {
    /// A policy for `origins` with the defaults of the table above.
    pub fn new(origins: CorsOrigins) -> Self {
        CorsConfig {
            origins,
            methods: [
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ]
            .into(),
            headers: [
                axum::http::header::AUTHORIZATION,
                axum::http::header::CONTENT_TYPE,
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("api-version"),
            ]
            .into(),
            credentials: false,
            max_age: Duration::from_secs(600),
        }
    }

    /// The policy the environment sets; `None` when `ENDPOINT_CORS_ORIGINS` is unset (and any
    /// other `ENDPOINT_CORS_*` variable is then refused: it would do nothing).
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Option<Self>, ConfigError> {
        let others = [
            "ENDPOINT_CORS_METHODS",
            "ENDPOINT_CORS_HEADERS",
            "ENDPOINT_CORS_CREDENTIALS",
            "ENDPOINT_CORS_MAX_AGE",
        ];
        let Some((name, value)) = env.get("ENDPOINT_CORS_ORIGINS") else {
            if let Some((name, value)) = others.iter().find_map(|other| env.get(other)) {
                return Err(ConfigError {
                    variable: name,
                    value,
                    expected: "nothing without ENDPOINT_CORS_ORIGINS, the origins it applies to",
                });
            }
            return Ok(None);
        };
        if !cfg!(feature = "cors") {
            return Err(ConfigError {
                variable: name,
                value,
                expected: "unset: CORS needs the `cors` feature of endpoint-runtime",
            });
        }
        let origins = if value.trim() == "*" {
            CorsOrigins::Any
        } else {
            let mut list = Vec::new();
            for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                match valid_origin(origin).then(|| HeaderValue::from_str(origin)) {
                    Some(Ok(origin)) => list.push(origin),
                    _ => {
                        return Err(ConfigError {
                            variable: name,
                            value,
                            expected: "origins such as `https://app.example.com` (scheme, host, optional port; no path, no trailing slash), comma-separated, or `*`",
                        });
                    }
                }
            }
            if list.is_empty() {
                return Err(ConfigError {
                    variable: name,
                    value,
                    expected: "at least one origin, or `*`",
                });
            }
            CorsOrigins::List(list)
        };
        let mut config = CorsConfig::new(origins);
        if let Some((name, value)) = env.get("ENDPOINT_CORS_METHODS") {
            config.methods = list(&value, |m| {
                Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok()
            })
            .ok_or(ConfigError {
                variable: name,
                value,
                expected: "methods such as `GET,POST`, comma-separated",
            })?;
        }
        if let Some((name, value)) = env.get("ENDPOINT_CORS_HEADERS") {
            config.headers =
                list(&value, |h| HeaderName::from_bytes(h.as_bytes()).ok()).ok_or(ConfigError {
                    variable: name,
                    value,
                    expected: "header names such as `authorization,content-type`, comma-separated",
                })?;
        }
        if let Some((name, value)) = env.get("ENDPOINT_CORS_CREDENTIALS") {
            config.credentials = match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => {
                    return Err(ConfigError {
                        variable: name,
                        value,
                        expected: "`true` or `false`",
                    });
                }
            };
            if config.credentials && config.origins == CorsOrigins::Any {
                return Err(ConfigError {
                    variable: name,
                    value,
                    expected: "`false` while ENDPOINT_CORS_ORIGINS is `*`: browsers refuse credentials with any origin; list the origins instead",
                });
            }
        }
        if let Some((name, value)) = env.get("ENDPOINT_CORS_MAX_AGE") {
            config.max_age = duration(name, value)?;
        }
        Ok(Some(config))
    }
}

/// The items of a comma-separated list, each read by `parse`; `None` when one does not read or
/// there is none.
fn list<T>(value: &str, parse: impl Fn(&str) -> Option<T>) -> Option<Vec<T>> {
    let items: Option<Vec<T>> = value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(parse)
        .collect();
    items.filter(|items| !items.is_empty())
}

/// `scheme://host[:port]`, as a browser writes an `Origin` header.
fn valid_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && !rest.contains(|c: char| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '@'))
}

#[cfg(all(test, not(feature = "cors")))]
mod without_the_feature {
    #[test]
    fn origins_are_refused_naming_the_feature() {
        let lookup = |name: &str| (name == "ENDPOINT_CORS_ORIGINS").then(|| "*".to_string());
        let error = super::CorsConfig::from_env(&super::Env(&lookup)).unwrap_err();
        assert_eq!(error.variable, "ENDPOINT_CORS_ORIGINS");
        assert!(
            error.expected.contains("`cors` feature"),
            "{}",
            error.expected
        );
    }
}

#[cfg(all(test, feature = "cors"))]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<CorsConfig>, ConfigError> {
        crate::env::read_with(vars, CorsConfig::from_env)
    }

    #[test]
    fn origins_methods_headers_and_credentials() {
        assert_eq!(read(&[]).unwrap(), None);
        let config = read(&[
            (
                "ENDPOINT_CORS_ORIGINS",
                "https://app.example.com, http://localhost:5173",
            ),
            ("ENDPOINT_CORS_METHODS", "get,post"),
            ("ENDPOINT_CORS_CREDENTIALS", "true"),
            ("ENDPOINT_CORS_MAX_AGE", "1h"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            config.origins,
            CorsOrigins::List(vec![
                HeaderValue::from_static("https://app.example.com"),
                HeaderValue::from_static("http://localhost:5173"),
            ])
        );
        assert_eq!(config.methods, [Method::GET, Method::POST]);
        assert!(config.credentials);
        assert_eq!(config.max_age, Duration::from_secs(3600));
        assert_eq!(
            read(&[("ENDPOINT_CORS_ORIGINS", "*")])
                .unwrap()
                .unwrap()
                .origins,
            CorsOrigins::Any
        );
    }

    #[test]
    fn refused_settings_name_their_variable() {
        for (vars, variable) in [
            (
                &[
                    ("ENDPOINT_CORS_ORIGINS", "*"),
                    ("ENDPOINT_CORS_CREDENTIALS", "true"),
                ][..],
                "ENDPOINT_CORS_CREDENTIALS",
            ),
            (
                &[("ENDPOINT_CORS_ORIGINS", "https://a.example/")][..],
                "ENDPOINT_CORS_ORIGINS",
            ),
            (
                &[("ENDPOINT_CORS_ORIGINS", "app.example.com")][..],
                "ENDPOINT_CORS_ORIGINS",
            ),
            (
                &[("ENDPOINT_CORS_ORIGINS", ",")][..],
                "ENDPOINT_CORS_ORIGINS",
            ),
            (
                &[("ENDPOINT_CORS_CREDENTIALS", "true")][..],
                "ENDPOINT_CORS_CREDENTIALS",
            ),
            (
                &[
                    ("ENDPOINT_CORS_ORIGINS", "*"),
                    ("ENDPOINT_CORS_HEADERS", "bad header"),
                ][..],
                "ENDPOINT_CORS_HEADERS",
            ),
        ] {
            let error = read(vars).unwrap_err();
            assert_eq!(error.variable, variable, "{vars:?}");
        }
    }
}
