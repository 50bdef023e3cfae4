//! Typed configuration from the environment, with defaults that work on a laptop.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::error::ConfigError;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The runtime's configuration.
///
/// Read with [`Config::from_env`]; every field can also be set in code and handed to
/// [`App::config`](crate::App::config).
///
/// | variable | field | default | accepted form |
/// |---|---|---|---|
/// | `ENDPOINT_HOST` | [`host`](Self::host) | `127.0.0.1` | an IP address, or `localhost` |
/// | `ENDPOINT_PORT`, else `PORT` | [`port`](Self::port) | `3210` | `0`–`65535` (`0`: any free port) |
/// | `ENDPOINT_SERVER_URL` | [`server_url`](Self::server_url) | `http://<host>:<port>` | an absolute `http(s)://` URL |
/// | `ENDPOINT_SHUTDOWN_GRACE` | [`shutdown_grace`](Self::shutdown_grace) | `10s` | a duration: `30s`, `500ms`, `1m` |
/// | `ENDPOINT_HEADER_READ_TIMEOUT` | [`header_read_timeout`](Self::header_read_timeout) | `10s` | a duration |
/// | `ENDPOINT_LOG_FORMAT` | [`log_format`](Self::log_format) | `text` | `text` or `json` |
///
/// Log levels come from `RUST_LOG` (default `info`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The address to listen on.
    pub host: IpAddr,
    /// The TCP port to listen on; `0` picks a free one.
    pub port: u16,
    /// The public base URL of the server (Factor's `serverUrl()`), without a trailing slash.
    pub server_url: Option<String>,
    /// How long graceful shutdown waits for in-flight requests before closing connections.
    pub shutdown_grace: Duration,
    /// How long a client may take to send a request's headers (slowloris protection; HTTP/1).
    pub header_read_timeout: Duration,
    /// The log line format.
    pub log_format: LogFormat,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 3210,
            server_url: None,
            shutdown_grace: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            log_format: LogFormat::Text,
        }
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    ///
    /// # Errors
    ///
    /// - [`ConfigError`] naming the first variable whose value is not of the accepted form.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// Reads the configuration through `lookup`, which maps a variable name to its value.
    /// Used by tests instead of mutating the process environment.
    ///
    /// # Errors
    ///
    /// - [`ConfigError`] naming the first variable whose value is not of the accepted form.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        let get = |name: &'static str| lookup(name).map(|v| (name, v));
        if let Some((name, value)) = get("ENDPOINT_HOST") {
            config.host = parse_host(&value).ok_or(ConfigError {
                variable: name,
                value,
                expected: "an IP address such as 127.0.0.1 or 0.0.0.0, or `localhost`",
            })?;
        }
        if let Some((name, value)) = get("ENDPOINT_PORT").or_else(|| get("PORT")) {
            config.port = value.trim().parse().map_err(|_| ConfigError {
                variable: name,
                value,
                expected: "a port number from 0 to 65535",
            })?;
        }
        if let Some((name, value)) = get("ENDPOINT_SERVER_URL") {
            let trimmed = value.trim().trim_end_matches('/');
            let valid = ["http://", "https://"].iter().any(|scheme| {
                trimmed
                    .strip_prefix(scheme)
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
            });
            if !valid {
                return Err(ConfigError {
                    variable: name,
                    value,
                    expected: "an absolute URL such as https://api.example.com",
                });
            }
            config.server_url = Some(trimmed.to_string());
        }
        if let Some((name, value)) = get("ENDPOINT_SHUTDOWN_GRACE") {
            config.shutdown_grace = parse_duration(name, value)?;
        }
        if let Some((name, value)) = get("ENDPOINT_HEADER_READ_TIMEOUT") {
            config.header_read_timeout = parse_duration(name, value)?;
            if config.header_read_timeout.is_zero() {
                return Err(ConfigError {
                    variable: name,
                    value: "0".into(),
                    expected: "a duration greater than zero",
                });
            }
        }
        if let Some((name, value)) = get("ENDPOINT_LOG_FORMAT") {
            config.log_format = match value.trim().to_ascii_lowercase().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => {
                    return Err(ConfigError {
                        variable: name,
                        value,
                        expected: "`text` or `json`",
                    });
                }
            };
        }
        Ok(config)
    }

    /// The socket address to listen on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// The public base URL: [`server_url`](Self::server_url) if set, else built from the
    /// host and port (`http://127.0.0.1:3210`).
    pub fn server_url(&self) -> String {
        match &self.server_url {
            Some(url) => url.clone(),
            None => format!("http://{}", self.addr()),
        }
    }
}

fn parse_host(value: &str) -> Option<IpAddr> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("localhost") {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    value
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

fn parse_duration(name: &'static str, value: String) -> Result<Duration, ConfigError> {
    let trimmed = value.trim();
    let parsed = match trimmed.parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(_) => humantime::parse_duration(trimmed),
    };
    parsed.map_err(|_| ConfigError {
        variable: name,
        value,
        expected: "a duration such as `30s`, `500ms` or `2m` (a bare number is seconds)",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_work_on_a_laptop() {
        let config = with(&[]).unwrap();
        assert_eq!(config.addr().to_string(), "127.0.0.1:3210");
        assert_eq!(config.server_url(), "http://127.0.0.1:3210");
        assert_eq!(config.shutdown_grace, Duration::from_secs(10));
    }

    #[test]
    fn port_prefers_endpoint_port_then_port() {
        assert_eq!(with(&[("PORT", "8080")]).unwrap().port, 8080);
        assert_eq!(
            with(&[("PORT", "8080"), ("ENDPOINT_PORT", "9000")])
                .unwrap()
                .port,
            9000
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let error = with(&[("ENDPOINT_PORT", "abc")]).unwrap_err();
        assert_eq!(error.variable, "ENDPOINT_PORT");
        assert_eq!(
            error.to_string(),
            "invalid ENDPOINT_PORT=\"abc\": expected a port number from 0 to 65535"
        );
        assert_eq!(with(&[("PORT", "70000")]).unwrap_err().variable, "PORT");
        assert_eq!(
            with(&[("ENDPOINT_HOST", "nowhere")]).unwrap_err().variable,
            "ENDPOINT_HOST"
        );
        assert_eq!(
            with(&[("ENDPOINT_SHUTDOWN_GRACE", "soon")])
                .unwrap_err()
                .variable,
            "ENDPOINT_SHUTDOWN_GRACE"
        );
        assert_eq!(
            with(&[("ENDPOINT_SERVER_URL", "example.com")])
                .unwrap_err()
                .variable,
            "ENDPOINT_SERVER_URL"
        );
        assert_eq!(
            with(&[("ENDPOINT_LOG_FORMAT", "xml")])
                .unwrap_err()
                .variable,
            "ENDPOINT_LOG_FORMAT"
        );
        assert_eq!(
            with(&[("ENDPOINT_HEADER_READ_TIMEOUT", "0")])
                .unwrap_err()
                .variable,
            "ENDPOINT_HEADER_READ_TIMEOUT"
        );
    }

    #[test]
    fn durations_and_hosts() {
        let config = with(&[
            ("ENDPOINT_SHUTDOWN_GRACE", "500ms"),
            ("ENDPOINT_HEADER_READ_TIMEOUT", "3"),
            ("ENDPOINT_HOST", "0.0.0.0"),
            ("ENDPOINT_SERVER_URL", "https://api.example.com/"),
        ])
        .unwrap();
        assert_eq!(config.shutdown_grace, Duration::from_millis(500));
        assert_eq!(config.header_read_timeout, Duration::from_secs(3));
        assert_eq!(config.host.to_string(), "0.0.0.0");
        assert_eq!(config.server_url(), "https://api.example.com");
        assert_eq!(
            with(&[("ENDPOINT_HOST", "[::1]")])
                .unwrap()
                .host
                .to_string(),
            "::1"
        );
    }
}
