//! Response compression settings (`ENDPOINT_COMPRESSION*`).

use crate::env::{ConfigError, Env, size};

/// Response compression and request decompression, with tower-http (feature `compression`).
///
/// | variable | default | accepted form |
/// |---|---|---|
/// | `ENDPOINT_COMPRESSION` | `off` | `on`: responses are compressed with zstd, brotli or gzip, as the client's `Accept-Encoding` prefers |
/// | `ENDPOINT_COMPRESSION_MIN_SIZE` | `1KiB` | smaller responses are sent as they are (at most `64KiB`) |
///
/// Off by default, as in Spring Boot and ASP.NET: compressing a response that mixes a secret
/// with what a client sent can leak the secret to an attacker who watches sizes over TLS
/// (BREACH). Turn it on for APIs that do not, or behind a proxy that compresses already. Not
/// compressed, whatever their size: images, `text/event-stream`, gRPC, archives and media
/// (`application/zip`, `application/gzip`, `video/*`, `audio/*`, `font/woff2`), and bodies that
/// already carry a `Content-Encoding`.
///
/// Request bodies sent with `Content-Encoding: gzip`, `br` or `zstd` are decompressed whenever
/// the feature is compiled in (another encoding is 415), and
/// [`ENDPOINT_BODY_LIMIT`](crate::Config::body_limit) counts the decompressed bytes: a small
/// gzip bomb that inflates past the limit is 413 like any large body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompressionConfig {
    /// Whether responses are compressed.
    pub enabled: bool,
    /// Responses smaller than this many bytes are not.
    pub min_size: u16,
}

impl Default for CompressionConfig {
    fn default() -> Self {
        CompressionConfig {
            enabled: false,
            min_size: 1024,
        }
    }
}

impl CompressionConfig {
    pub(crate) fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut config = CompressionConfig::default();
        if let Some((name, value)) = env.get("ENDPOINT_COMPRESSION") {
            config.enabled = match value.trim().to_ascii_lowercase().as_str() {
                "on" | "true" => true,
                "off" | "false" => false,
                _ => {
                    return Err(ConfigError {
                        variable: name,
                        value,
                        expected: "`on` or `off`",
                    });
                }
            };
            if config.enabled && !cfg!(feature = "compression") {
                return Err(ConfigError {
                    variable: name,
                    value,
                    expected: "`off`: compression needs the `compression` feature of endpoint-runtime",
                });
            }
        }
        if let Some((name, value)) = env.get("ENDPOINT_COMPRESSION_MIN_SIZE") {
            config.min_size =
                size(&value)
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or(ConfigError {
                        variable: name,
                        value,
                        expected: "a size of at most 64KiB, such as `1KiB` or `512`",
                    })?;
        }
        Ok(config)
    }
}
