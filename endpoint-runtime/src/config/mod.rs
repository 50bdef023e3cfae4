//! Typed configuration from the environment, with defaults that work on a laptop.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

mod compression;
mod confined;
mod cors;
mod otel;
mod outbox;
mod redis;

pub use compression::CompressionConfig;
pub use confined::{ConfinedConfig, Hardening};
pub use cors::{CorsConfig, CorsOrigins};
pub(crate) use otel::from_env as trace_export;
pub use outbox::OutboxConfig;
#[cfg(feature = "redis")]
pub(crate) use redis::redacted as redacted_redis_url;
pub use redis::{RedisConfig, StoreErrorPolicy};

use crate::auth::{DefaultAccess, ForwardedHeader, IpNet, JwtConfig, StaticToken};
use crate::database::DatabaseUrl;
use crate::env::{ConfigError, Env, duration, positive_duration, size};
use crate::error::ErrorFormat;
use crate::logging::LogFormat;
use crate::registry::{Access, Endpoint};

/// The default of [`Config::body_limit`] (`ENDPOINT_BODY_LIMIT`): 1 MiB.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The default of [`Config::ws_message_limit`] (`ENDPOINT_WS_MESSAGE_LIMIT`): 64 KiB.
#[cfg_attr(not(feature = "websocket"), allow(dead_code))]
pub(crate) const DEFAULT_WS_MESSAGE_LIMIT: usize = 64 * 1024;

/// The default of [`Config::ws_idle_timeout`] (`ENDPOINT_WS_IDLE_TIMEOUT`): 60 s.
#[cfg_attr(not(feature = "websocket"), allow(dead_code))]
pub(crate) const DEFAULT_WS_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The default of [`Config::multipart_field_limit`] (`ENDPOINT_MULTIPART_FIELD_LIMIT`): 1 MiB.
#[cfg_attr(not(feature = "multipart"), allow(dead_code))]
pub(crate) const DEFAULT_MULTIPART_FIELD_LIMIT: usize = 1024 * 1024;

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
/// | `ENDPOINT_SITE` | [`site`](Self::site) | the server URL | an origin: `https://example.com` (the `build` command's request URLs) |
/// | `ENDPOINT_SHUTDOWN_GRACE` | [`shutdown_grace`](Self::shutdown_grace) | `10s` | a duration: `30s`, `500ms`, `1m` |
/// | `ENDPOINT_DRAIN_DELAY` | [`drain_delay`](Self::drain_delay) | `0s` | a duration |
/// | `ENDPOINT_CORS_ORIGINS`, `_METHODS`, `_HEADERS`, `_CREDENTIALS`, `_MAX_AGE` | [`cors`](Self::cors) | no CORS | see [`CorsConfig`](crate::CorsConfig) |
/// | `ENDPOINT_COMPRESSION`, `_MIN_SIZE` | [`compression`](Self::compression) | `off`, `1KiB` | see [`CompressionConfig`](crate::CompressionConfig) |
/// | `ENDPOINT_LIVEZ_PATH` | [`livez_path`](Self::livez_path) | `/livez` | a path, or `off` |
/// | `ENDPOINT_READYZ_PATH` | [`readyz_path`](Self::readyz_path) | `/readyz` | a path, or `off` |
/// | `ENDPOINT_HEADER_READ_TIMEOUT` | [`header_read_timeout`](Self::header_read_timeout) | `10s` | a duration |
/// | `ENDPOINT_KEEP_ALIVE_TIMEOUT` | [`keep_alive_timeout`](Self::keep_alive_timeout) | `60s` | a duration |
/// | `ENDPOINT_MAX_CONNECTIONS` | [`max_connections`](Self::max_connections) | derived from the file-descriptor limit | a number of connections, or `auto` |
/// | `ENDPOINT_SEND_TIMEOUT` | [`send_timeout`](Self::send_timeout) | `60s` | a duration |
/// | `ENDPOINT_STREAM_LIFETIME` | [`stream_lifetime`](Self::stream_lifetime) | `1h` | a duration |
/// | `ENDPOINT_RATE_LIMIT` | [`rate_limit`](Self::rate_limit) | none | `10/minute` (`second`, `minute`, `hour`, `day`), per user else client IP, for each endpoint whose attribute states no `rate_limit` |
/// | `ENDPOINT_REDIS_URL`, `ENDPOINT_RATE_LIMIT_ON_STORE_ERROR` | [`redis`](Self::redis) | none, `allow` | the Redis server the instances' rate limits share (feature `redis`); see [`RedisConfig`](crate::RedisConfig) |
/// | `ENDPOINT_OUTBOX_DELIVER`, `_ATTEMPTS`, `_BACKOFF`, `_POLL` | [`outbox`](Self::outbox) | `on`, `10`, `1s`, `5s` | durable hooks' delivery; see [`OutboxConfig`](crate::OutboxConfig) |
/// | `ENDPOINT_SCHEDULES` | [`schedules`](Self::schedules) | `on` | `on` or `off`: whether this instance runs the `#[schedule]` jobs (feature `schedule`) |
/// | `ENDPOINT_IDEMPOTENCY_TTL` | [`idempotency_ttl`](Self::idempotency_ttl) | `24h` | a duration |
/// | `ENDPOINT_METRICS_ADDR` | [`metrics_addr`](Self::metrics_addr) | none | an address to serve `GET /metrics` on, such as `127.0.0.1:9464` (feature `metrics`) |
/// | `ENDPOINT_METRICS_PATH` | [`metrics_path`](Self::metrics_path) | `off` | a path on the server's port, readable by admins only, or `off` (feature `metrics`) |
/// | `ENDPOINT_ACCESS_LOG` | [`access_log`](Self::access_log) | `off` | `on` or `off` |
/// | `ENDPOINT_LOG_FORMAT` | [`log_format`](Self::log_format) | `text` | `text` or `json` |
/// | `RUST_LOG` | (the log subscriber's) | `info` | `level` and `target=level` directives, comma-separated; span filters are refused |
/// | `ENDPOINT_BODY_LIMIT` | [`body_limit`](Self::body_limit) | `1MiB` | bytes, or with a unit: `512KiB`, `2MiB`, `1MB` |
/// | `ENDPOINT_MULTIPART_FIELD_LIMIT` | [`multipart_field_limit`](Self::multipart_field_limit) | `1MiB` | a size, as above |
/// | `ENDPOINT_WS_MESSAGE_LIMIT` | [`ws_message_limit`](Self::ws_message_limit) | `64KiB` | a size, as above |
/// | `ENDPOINT_WS_IDLE_TIMEOUT` | [`ws_idle_timeout`](Self::ws_idle_timeout) | `60s` | a duration |
/// | `ENDPOINT_REQUEST_TIMEOUT` | [`request_timeout`](Self::request_timeout) | `30s` | a duration |
/// | `ENDPOINT_ERROR_FORMAT` | [`error_format`](Self::error_format) | `jsend` | `jsend` or `problem` (RFC 9457) |
/// | `ENDPOINT_DEFAULT_ACCESS` | [`default_access`](Self::default_access) | `public` | `public`, `authenticated` or `admin` |
/// | `ENDPOINT_DOCS_ACCESS` | [`docs_access`](Self::docs_access) | as `ENDPOINT_DEFAULT_ACCESS` | `public`, `authenticated` or `admin` |
/// | `ENDPOINT_FORWARDED_HEADER` | [`forwarded_header`](Self::forwarded_header) | `x-forwarded-for` | `x-forwarded-for` or `forwarded` (RFC 7239) |
/// | `ENDPOINT_CONFINED_HARDENING` | [`confined`](Self::confined) | `required` | `required` (refuse to start without Landlock and seccomp) or `auto` |
/// | `ENDPOINT_CONFINED_WORKERS` | | `2` | worker processes for confined endpoints (at most this many calls at once) |
/// | `ENDPOINT_CONFINED_MEMORY` | | `256MiB` | address-space limit of a worker (`RLIMIT_AS`) |
/// | `ENDPOINT_CONFINED_TIMEOUT` | | `5s` | how long one confined call may take, host calls included |
/// | `ENDPOINT_CONFINED_QUEUE` | | `32` | confined calls that may wait for a busy worker; past it `503` with `Retry-After: 1` |
/// | `ENDPOINT_TRUSTED_PROXIES` | [`trusted_proxies`](Self::trusted_proxies) | none | comma-separated IPs or CIDR ranges |
/// | `ENDPOINT_STATIC_TOKENS` | [`static_tokens`](Self::static_tokens) | none | JSON: `[{"token":"…","user":"…","role":"…","admin":false}]` |
/// | `ENDPOINT_DATABASE_URL`, else `DATABASE_URL` | [`database_url`](Self::database_url) | `sqlite://<binary>.db` when the app has migrations | `sqlite://file.db` or `postgres://user:pass@host/db` |
/// | `ENDPOINT_DATABASE_TIMEOUT` | [`database_timeout`](Self::database_timeout) | `10s` | how long to wait for a database connection |
/// | `ENDPOINT_OPENAPI_PATH` | [`openapi_path`](Self::openapi_path) | `/openapi.json` | a path, or `off` |
/// | `ENDPOINT_DOCS_PATH` | [`docs_path`](Self::docs_path) | `/docs` | a path, or `off` |
/// | `ENDPOINT_JWT_SECRET` | [`jwt`](Self::jwt) | none | HS256 secret, at least 32 bytes |
/// | `ENDPOINT_JWT_ALGORITHM` | | `HS256` | `HS256`, `RS256` or `ES256` |
/// | `ENDPOINT_JWT_PUBLIC_KEY_FILE` | | none | PEM public key file, for `RS256` / `ES256` |
/// | `ENDPOINT_JWT_LEEWAY` | | `10s` | clock skew allowed on `exp` and `nbf`, at most `5m` |
/// | `ENDPOINT_JWT_ISSUER` | | not checked | the required `iss` |
/// | `ENDPOINT_JWT_AUDIENCE` | | none: a token with an `aud` claim is refused | the required `aud` |
/// | `ENDPOINT_JWT_TYPE` | | not checked | the required `typ` header, such as `at+jwt` (RFC 8725 §3.11) |
/// | `ENDPOINT_JWT_USER_CLAIM`, `_ROLE_CLAIM`, `_ADMIN_CLAIM`, `_APP_CLAIM` | | `sub`, `role`, `admin`, `app` | claim names |
///
/// Log levels come from `RUST_LOG` (default `info`). Secrets (the JWT secret, static tokens)
/// are never printed: `Debug` redacts them and errors about them do not echo the value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The address to listen on.
    pub host: IpAddr,
    /// The TCP port to listen on; `0` picks a free one.
    pub port: u16,
    /// The public base URL of the server (Factor's `serverUrl()`), without a trailing slash.
    pub server_url: Option<String>,
    /// The site's origin, without a trailing slash (Astro's `site`): the base of the request
    /// URLs when the `build` command prerenders endpoints, and the server URL during the
    /// build. `None`: the server URL.
    pub site: Option<String>,
    /// How long graceful shutdown waits for in-flight requests before closing connections.
    pub shutdown_grace: Duration,
    /// On shutdown, how long `/readyz` answers 503 while the server still serves everything,
    /// before it stops accepting: the time a load balancer needs to stop sending (its check
    /// interval times the failures it waits for, plus one interval). Zero: stop at once.
    pub drain_delay: Duration,
    /// Cross-origin calls from browsers (feature `cors`); `None`: no CORS headers.
    pub cors: Option<CorsConfig>,
    /// Response compression (feature `compression`).
    pub compression: CompressionConfig,
    /// Where liveness is served (`GET`, 200 while the process answers); `None` serves none.
    pub livez_path: Option<String>,
    /// Where readiness is served (`GET`, 200 when the database answers, the confined workers
    /// started and the server is not draining; else 503); `None` serves none.
    pub readyz_path: Option<String>,
    /// How long a client may take to send a request head, counted from the moment the
    /// connection is accepted (first request) or from the first byte of the head (later
    /// requests on a kept-alive HTTP/1 connection). It also bounds the HTTP/2 preface and the
    /// first `HEADERS` frame. Past it the connection is closed (slowloris protection; nginx's
    /// `client_header_timeout`, Go's `ReadHeaderTimeout`).
    pub header_read_timeout: Duration,
    /// How long a connection may stay idle, with no request in flight, between requests
    /// (HTTP/1 keep-alive) or with no open stream (HTTP/2) before it is closed (nginx's
    /// `keepalive_timeout`, Go's `IdleTimeout`).
    pub keep_alive_timeout: Duration,
    /// How long a response being sent may make no progress (the client reads nothing, or an
    /// HTTP/2 client grants no flow-control window) before the connection is closed (nginx's
    /// `send_timeout`). Counted while no handler runs on the connection, so a slow handler
    /// is bounded by [`request_timeout`](Self::request_timeout) instead. A streamed body that
    /// produces nothing for this long is cut too.
    pub send_timeout: Duration,
    /// How long a server-sent-events stream ([`sse::Sse`](crate::sse::Sse)) may last: then it
    /// ends cleanly between two events, and the client's `EventSource` reconnects (with
    /// `Last-Event-ID`), its credential checked again. The request timeout does not apply to a
    /// stream, only to the handler that returns it.
    pub stream_lifetime: Duration,
    /// The most connections served at once; `None` derives it from the file-descriptor limit
    /// (the rule is in the docs of the `serve` module). At the cap the oldest idle or unfinished connection is
    /// closed to make room; when every connection is busy a new one is answered `503` with
    /// `Connection: close`.
    pub max_connections: Option<usize>,
    /// The log line format.
    pub log_format: LogFormat,
    /// Where Prometheus metrics are served on a listener of their own (`GET /metrics`;
    /// `ENDPOINT_METRICS_ADDR`, feature `metrics`). `None`: not there.
    pub metrics_addr: Option<SocketAddr>,
    /// Where Prometheus metrics are served on the server's port, to admins only
    /// (`ENDPOINT_METRICS_PATH`, feature `metrics`). `None`: not there.
    pub metrics_path: Option<String>,
    /// The rate limit of every endpoint whose attribute states none (`ENDPOINT_RATE_LIMIT`,
    /// feature `rate-limit`): each endpoint has its own buckets, one per user, else per client
    /// IP. `None`: no limit.
    pub rate_limit: Option<crate::registry::Rate>,
    /// The Redis server the rate limits' buckets live in, shared by every instance
    /// (`ENDPOINT_REDIS_URL`, feature `redis`). `None`: each process keeps its own.
    pub redis: Option<RedisConfig>,
    /// How the outbox delivers events to durable hooks (`ENDPOINT_OUTBOX_*`).
    pub outbox: OutboxConfig,
    /// Whether this instance runs the `#[schedule]` jobs (`ENDPOINT_SCHEDULES`, default
    /// `on`; feature `schedule`). `off`: it serves and leaves the jobs to the instances that
    /// have it `on`.
    pub schedules: bool,
    /// How long the response to a request with an `Idempotency-Key` answers the key's
    /// retries (`ENDPOINT_IDEMPOTENCY_TTL`, on `#[endpoint(idempotent)]` endpoints).
    pub idempotency_ttl: Duration,
    /// Whether one `info` line per finished request is logged (target
    /// `endpoint_runtime::access`): method, route template (`unmatched` for a 404 or 405),
    /// path, status, body bytes when known,
    /// milliseconds until the response was ready, request id, user. `ENDPOINT_ACCESS_LOG`.
    pub access_log: bool,
    /// The largest request body an endpoint reads, in bytes; larger is 413
    /// `PAYLOAD_TOO_LARGE` whatever reads it (an extractor, the application's own, the raw
    /// body). A body whose `Content-Length` says it is larger is refused before any of it is
    /// read (no `100 Continue`; `Connection: close` on HTTP/1); a body of unknown length
    /// (chunked, HTTP/2 without a length) is refused when it reaches the limit.
    pub body_limit: usize,
    /// The largest field of a `multipart/form-data` body read into memory
    /// (`multipart::Field::text`, `bytes`), in bytes; larger is 413. A
    /// field streamed (to a file, chunk by chunk) is bounded by the body's limit only
    /// (feature `multipart`).
    pub multipart_field_limit: usize,
    /// The largest WebSocket message (and frame), in bytes; a larger one closes the
    /// connection (feature `websocket`, `ws::WebSocketUpgrade`).
    pub ws_message_limit: usize,
    /// How long `ws::WebSocket::recv` waits for a message before it closes the socket as idle
    /// (close code 1001) (feature `websocket`).
    pub ws_idle_timeout: Duration,
    /// How long a handler may take to answer, counted from its first wait (reading the body,
    /// a query, any `.await` that is not ready); longer is 503. Synchronous work is never
    /// interrupted by a timer, so the clock starts when the handler first yields. The
    /// application's authenticators ([`App::authenticator`](crate::App::authenticator)) run
    /// under the same clock: it starts at their first wait and goes on into the handler, and
    /// one that has not decided by then is answered the same 503.
    pub request_timeout: Duration,
    /// The body of every error response.
    pub error_format: ErrorFormat,
    /// The access level of endpoints whose attribute states none.
    pub default_access: DefaultAccess,
    /// Limits of the worker processes that run confined endpoints.
    pub confined: ConfinedConfig,
    /// Peers whose forwarding header ([`forwarded_header`](Self::forwarded_header)) is
    /// believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Static API tokens (Directus static tokens), compared in constant time.
    pub static_tokens: Vec<StaticToken>,
    /// JWT bearer-token verification; `None` when no key is configured.
    pub jwt: Option<JwtConfig>,
    /// The database to connect to; `None` means the default SQLite file when the application
    /// has migrations, and no database otherwise.
    pub database_url: Option<DatabaseUrl>,
    /// How long to wait for a database connection, at start-up and per request.
    pub database_timeout: Duration,
    /// Where the OpenAPI 3.1 document is served; `None` serves none.
    pub openapi_path: Option<String>,
    /// Where the docs page is served; `None` serves none. It needs the document.
    pub docs_path: Option<String>,
    /// Who may read the OpenAPI document and the docs page (`ENDPOINT_DOCS_ACCESS`): an
    /// anonymous caller is answered 401 unless it is [`Access::Public`](crate::Access), a caller
    /// without the level or role 403, as for an endpoint. `None` (the default): the access of an
    /// endpoint that states none, [`default_access`](Self::default_access), so `public` unless
    /// `ENDPOINT_DEFAULT_ACCESS` says otherwise.
    ///
    /// The docs page loads the document with the browser's `fetch`, which sends cookies but no
    /// `Authorization` header: protected docs read in a browser need an application
    /// authenticator that accepts a cookie (see [`auth`](crate::auth)).
    pub docs_access: Option<Access>,
    /// Which forwarding header names the client when the peer is a trusted proxy
    /// (`ENDPOINT_FORWARDED_HEADER`); the other one is ignored, never merged or used as a
    /// fallback. Configure the proxy to overwrite (not append to) the one chosen here.
    pub forwarded_header: ForwardedHeader,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 3210,
            server_url: None,
            site: None,
            shutdown_grace: Duration::from_secs(10),
            drain_delay: Duration::ZERO,
            cors: None,
            compression: Default::default(),
            livez_path: Some("/livez".into()),
            readyz_path: Some("/readyz".into()),
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
            stream_lifetime: Duration::from_secs(3600),
            max_connections: None,
            log_format: LogFormat::Text,
            access_log: false,
            rate_limit: None,
            redis: None,
            outbox: OutboxConfig::default(),
            idempotency_ttl: Duration::from_secs(24 * 60 * 60),
            schedules: true,
            metrics_addr: None,
            metrics_path: None,
            body_limit: DEFAULT_BODY_LIMIT,
            multipart_field_limit: DEFAULT_MULTIPART_FIELD_LIMIT,
            ws_message_limit: DEFAULT_WS_MESSAGE_LIMIT,
            ws_idle_timeout: DEFAULT_WS_IDLE_TIMEOUT,
            request_timeout: Duration::from_secs(30),
            error_format: ErrorFormat::JSend,
            default_access: DefaultAccess::Public,
            confined: ConfinedConfig::default(),
            trusted_proxies: Vec::new(),
            static_tokens: Vec::new(),
            jwt: None,
            database_url: None,
            database_timeout: Duration::from_secs(10),
            // Served with the `openapi` feature only.
            openapi_path: cfg!(feature = "openapi").then(|| "/openapi.json".into()),
            docs_path: cfg!(feature = "openapi").then(|| "/docs".into()),
            docs_access: None,
            forwarded_header: ForwardedHeader::XForwardedFor,
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
        let env = Env(&lookup);
        let mut config = Config::default();
        for read in READERS {
            read(&mut config, &env)?;
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

/// Sets the fields a part of the runtime owns from its variables; each part parses its own
/// settings type.
type Reader = fn(&mut Config, &Env<'_>) -> Result<(), ConfigError>;

/// Every part that reads variables, one row each, in the order they are read (the first error
/// stops the reading).
const READERS: &[Reader] = &[
    // The server: address, URLs, connection and request limits.
    read_server,
    // Logging (`ENDPOINT_LOG_FORMAT`; `RUST_LOG` and the `OTEL_*` trace export variables checked
    // only: the subscriber reads them) and the error envelope (`ENDPOINT_ERROR_FORMAT`).
    |config, env| {
        set(&mut config.log_format, LogFormat::from_env(env)?);
        crate::logging::filter_from_env(env)?;
        trace_export(env)?;
        set(&mut config.error_format, ErrorFormat::from_env(env)?);
        Ok(())
    },
    // Accountability and access: `ENDPOINT_DEFAULT_ACCESS`, `_TRUSTED_PROXIES`,
    // `_FORWARDED_HEADER`, `_STATIC_TOKENS`, `_JWT_*`, `_DOCS_ACCESS`.
    |config, env| {
        set(&mut config.default_access, DefaultAccess::from_env(env)?);
        set(
            &mut config.trusted_proxies,
            crate::auth::trusted_proxies_from_env(env)?,
        );
        set(
            &mut config.forwarded_header,
            ForwardedHeader::from_env(env)?,
        );
        config.static_tokens = crate::auth::static_tokens_from_env(env)?;
        config.jwt = JwtConfig::from_env(env)?;
        config.docs_access = crate::auth::docs_access_from_env(env)?;
        Ok(())
    },
    // Confined endpoints' workers: `ENDPOINT_CONFINED_*`.
    |config, env| {
        config.confined = ConfinedConfig::from_env(env)?;
        Ok(())
    },
    // The database: `ENDPOINT_DATABASE_URL` (or `DATABASE_URL`), `_DATABASE_TIMEOUT`.
    |config, env| {
        config.database_url = DatabaseUrl::from_env(env)?;
        config.outbox = OutboxConfig::from_env(env)?;
        set(&mut config.idempotency_ttl, outbox::idempotency_ttl(env)?);
        if let Some((name, value)) = env.get("ENDPOINT_SCHEDULES") {
            config.schedules = crate::env::on_off(name, value)?;
        }
        if let Some((name, value)) = env.get("ENDPOINT_DATABASE_TIMEOUT") {
            config.database_timeout = duration(name, value)?;
        }
        Ok(())
    },
    // The OpenAPI document and the docs page: `ENDPOINT_OPENAPI_PATH`, `_DOCS_PATH`.
    read_docs,
    // The instances' shared store: `ENDPOINT_REDIS_URL`, `ENDPOINT_RATE_LIMIT_ON_STORE_ERROR`.
    |config, env| {
        config.redis = redis::from_env(env)?;
        Ok(())
    },
    // Browsers and bodies: `ENDPOINT_CORS_*`, `ENDPOINT_COMPRESSION*`.
    |config, env| {
        config.cors = CorsConfig::from_env(env)?;
        config.compression = CompressionConfig::from_env(env)?;
        Ok(())
    },
];

/// Replaces `slot` with `value` when the variable was set.
fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

/// The server's own variables: address, URLs, connection and request limits.
fn read_server(config: &mut Config, env: &Env<'_>) -> Result<(), ConfigError> {
    let get = |name| env.get(name);
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
    if let Some((name, value)) = get("ENDPOINT_SITE") {
        let trimmed = value.trim().trim_end_matches('/');
        // An origin: a path would be prefixed to every route and break routing.
        let valid = ["http://", "https://"].iter().any(|scheme| {
            trimmed.strip_prefix(scheme).is_some_and(|rest| {
                !rest.is_empty()
                    && !rest
                        .contains(|c: char| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '@'))
            })
        });
        if !valid {
            return Err(ConfigError {
                variable: name,
                value,
                expected: "an origin such as https://example.com (scheme, host, optional port; no path)",
            });
        }
        config.site = Some(trimmed.to_string());
    }
    if let Some((name, value)) = get("ENDPOINT_SHUTDOWN_GRACE") {
        config.shutdown_grace = duration(name, value)?;
    }
    if let Some((name, value)) = get("ENDPOINT_RATE_LIMIT") {
        config.rate_limit = Some(parse_rate(&value).ok_or(ConfigError {
            variable: name,
            value: value.clone(),
            expected: "a rate such as `10/minute` (per `second`, `minute`, `hour` or `day`, at least 1)",
        })?);
        if !cfg!(feature = "rate-limit") {
            return Err(ConfigError {
                variable: name,
                value,
                expected: "unset: rate limits need the `rate-limit` feature of endpoint-runtime",
            });
        }
    }
    if let Some((name, value)) = get("ENDPOINT_METRICS_ADDR") {
        config.metrics_addr = Some(value.trim().parse().map_err(|_| ConfigError {
            variable: name,
            value: value.clone(),
            expected: "an address and port such as `127.0.0.1:9464`",
        })?);
    }
    if let Some((name, value)) = get("ENDPOINT_METRICS_PATH") {
        config.metrics_path = runtime_path(name, value)?;
    }
    for (name, set) in [
        ("ENDPOINT_METRICS_ADDR", config.metrics_addr.is_some()),
        ("ENDPOINT_METRICS_PATH", config.metrics_path.is_some()),
    ] {
        if set && !cfg!(feature = "metrics") {
            return Err(ConfigError {
                variable: name,
                value: get(name).map(|(_, v)| v).unwrap_or_default(),
                expected: "unset: metrics need the `metrics` feature of endpoint-runtime",
            });
        }
    }
    if let Some((name, value)) = get("ENDPOINT_ACCESS_LOG") {
        config.access_log = crate::env::on_off(name, value)?;
    }
    if let Some((name, value)) = get("ENDPOINT_DRAIN_DELAY") {
        config.drain_delay = duration(name, value)?;
    }
    for (variable, slot) in [
        ("ENDPOINT_LIVEZ_PATH", &mut config.livez_path),
        ("ENDPOINT_READYZ_PATH", &mut config.readyz_path),
    ] {
        if let Some((name, value)) = get(variable) {
            *slot = runtime_path(name, value)?;
        }
    }
    for (variable, slot) in [
        (
            "ENDPOINT_HEADER_READ_TIMEOUT",
            &mut config.header_read_timeout,
        ),
        (
            "ENDPOINT_KEEP_ALIVE_TIMEOUT",
            &mut config.keep_alive_timeout,
        ),
        ("ENDPOINT_SEND_TIMEOUT", &mut config.send_timeout),
        ("ENDPOINT_STREAM_LIFETIME", &mut config.stream_lifetime),
    ] {
        if let Some((name, value)) = get(variable) {
            *slot = positive_duration(name, value)?;
        }
    }
    if let Some((name, value)) = get("ENDPOINT_MAX_CONNECTIONS") {
        config.max_connections = match value.trim() {
            auto if auto.eq_ignore_ascii_case("auto") => None,
            number => match number.parse::<usize>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    return Err(ConfigError {
                        variable: name,
                        value,
                        expected: "a number of connections of at least 1, or `auto`",
                    });
                }
            },
        };
    }
    // Sizes, each refused (naming its feature) when the feature that reads it is left out.
    let multipart = "no value: multipart bodies need the `multipart` feature of endpoint-runtime";
    let websocket = "no value: WebSockets need the `websocket` feature of endpoint-runtime";
    for (variable, slot, missing) in [
        ("ENDPOINT_BODY_LIMIT", &mut config.body_limit, None),
        (
            "ENDPOINT_MULTIPART_FIELD_LIMIT",
            &mut config.multipart_field_limit,
            (!cfg!(feature = "multipart")).then_some(multipart),
        ),
        (
            "ENDPOINT_WS_MESSAGE_LIMIT",
            &mut config.ws_message_limit,
            (!cfg!(feature = "websocket")).then_some(websocket),
        ),
    ] {
        if let Some((name, value)) = get(variable) {
            if let Some(expected) = missing {
                return Err(ConfigError {
                    variable: name,
                    value,
                    expected,
                });
            }
            *slot = size(&value).ok_or(ConfigError {
                variable: name,
                value,
                expected: "a size in bytes, or with a unit such as `512KiB`, `2MiB`, `1MB`",
            })?;
        }
    }
    if let Some((name, value)) = get("ENDPOINT_WS_IDLE_TIMEOUT") {
        if !cfg!(feature = "websocket") {
            return Err(ConfigError {
                variable: name,
                value,
                expected: websocket,
            });
        }
        config.ws_idle_timeout = positive_duration(name, value)?;
    }
    if let Some((name, value)) = get("ENDPOINT_REQUEST_TIMEOUT") {
        config.request_timeout = duration(name, value)?;
    }
    Ok(())
}

/// `ENDPOINT_OPENAPI_PATH` and `ENDPOINT_DOCS_PATH`: literal paths, or `off`.
fn read_docs(config: &mut Config, env: &Env<'_>) -> Result<(), ConfigError> {
    for (variable, slot) in [
        ("ENDPOINT_OPENAPI_PATH", &mut config.openapi_path),
        ("ENDPOINT_DOCS_PATH", &mut config.docs_path),
    ] {
        if let Some((name, value)) = env.get(variable) {
            let value = value.trim().to_string();
            *slot = if value.eq_ignore_ascii_case("off") {
                None
            } else if !cfg!(feature = "openapi") {
                return Err(ConfigError {
                    variable: name,
                    value,
                    expected: "`off`: the OpenAPI document and the docs page need the `openapi` feature of endpoint-runtime",
                });
            } else if crate::env::literal_path(&value) {
                Some(value)
            } else {
                return Err(ConfigError {
                    variable: name,
                    value,
                    expected: "a literal path such as `/docs`, or `off`",
                });
            };
        }
    }
    if config.docs_path.is_some() && config.openapi_path.is_none() {
        return Err(ConfigError {
            variable: "ENDPOINT_DOCS_PATH",
            value: config.docs_path.clone().unwrap_or_default(),
            expected: "`off` when ENDPOINT_OPENAPI_PATH is `off` (the page reads the document)",
        });
    }
    Ok(())
}

/// `10/minute` as a rate per user (else client IP).
fn parse_rate(value: &str) -> Option<crate::registry::Rate> {
    let (count, period) = value.trim().split_once('/')?;
    let requests: u32 = count.trim().parse().ok().filter(|n| *n > 0)?;
    let seconds = match period.trim() {
        "second" | "s" | "sec" => 1,
        "minute" | "m" | "min" => 60,
        "hour" | "h" => 3_600,
        "day" | "d" => 86_400,
        _ => return None,
    };
    Some(crate::registry::Rate {
        requests,
        period: Duration::from_secs(seconds),
        per: crate::registry::RateKey::User,
    })
}

/// A path the runtime serves: a literal path (`/livez`), or `off` (`None`).
fn runtime_path(name: &'static str, value: String) -> Result<Option<String>, ConfigError> {
    let trimmed = value.trim();
    if trimmed.eq_ignore_ascii_case("off") {
        Ok(None)
    } else if crate::env::literal_path(trimmed) {
        Ok(Some(trimmed.to_string()))
    } else {
        Err(ConfigError {
            variable: name,
            value,
            expected: "a literal path such as `/livez`, or `off`",
        })
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

impl Endpoint {
    /// The access level in force under `config`: the one written in the attribute, else the
    /// one `ENDPOINT_DEFAULT_ACCESS` gives (`public` by default), as the route table shows it.
    pub fn access(&self, config: &Config) -> Access {
        crate::auth::effective(self, config.default_access)
    }
}

impl Config {
    /// The access level of the OpenAPI document and the docs page: `ENDPOINT_DOCS_ACCESS`,
    /// else that of an endpoint that states none.
    #[cfg(feature = "openapi")]
    pub(crate) fn effective_docs_access(&self) -> Access {
        crate::auth::docs(self.docs_access, self.default_access)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "jwt")]
    use crate::auth::JwtAlgorithm;

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
    fn health_paths_and_the_drain_delay() {
        let config = with(&[]).unwrap();
        assert_eq!(config.livez_path.as_deref(), Some("/livez"));
        assert_eq!(config.readyz_path.as_deref(), Some("/readyz"));
        assert_eq!(config.drain_delay, Duration::ZERO);
        let config = with(&[
            ("ENDPOINT_LIVEZ_PATH", "OFF"),
            ("ENDPOINT_READYZ_PATH", "/health/ready"),
            ("ENDPOINT_DRAIN_DELAY", "15s"),
        ])
        .unwrap();
        assert_eq!(config.livez_path, None);
        assert_eq!(config.readyz_path.as_deref(), Some("/health/ready"));
        assert_eq!(config.drain_delay, Duration::from_secs(15));
        assert!(with(&[("ENDPOINT_ACCESS_LOG", "on")]).unwrap().access_log);
        assert!(!with(&[]).unwrap().access_log);
        let rate = with(&[("ENDPOINT_RATE_LIMIT", "100/hour")]);
        if cfg!(feature = "rate-limit") {
            assert_eq!(
                rate.unwrap().rate_limit.unwrap().to_string(),
                "100/hour per user"
            );
        } else {
            assert_eq!(rate.unwrap_err().variable, "ENDPOINT_RATE_LIMIT");
        }
        for (variable, value) in [
            ("ENDPOINT_LIVEZ_PATH", "livez"),
            ("ENDPOINT_READYZ_PATH", "/ready/{x}"),
            ("ENDPOINT_READYZ_PATH", "/ready/"),
            ("ENDPOINT_DRAIN_DELAY", "a while"),
            ("ENDPOINT_ACCESS_LOG", "verbose"),
            ("ENDPOINT_RATE_LIMIT", "10 per minute"),
            ("ENDPOINT_RATE_LIMIT", "0/minute"),
        ] {
            let error = with(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable, "{value}");
        }
    }

    #[test]
    fn connection_limits() {
        let config = with(&[]).unwrap();
        assert_eq!(config.keep_alive_timeout, Duration::from_secs(60));
        assert_eq!(config.send_timeout, Duration::from_secs(60));
        assert_eq!(config.stream_lifetime, Duration::from_secs(3600));
        assert_eq!(config.max_connections, None);
        let config = with(&[
            ("ENDPOINT_KEEP_ALIVE_TIMEOUT", "5s"),
            ("ENDPOINT_MAX_CONNECTIONS", "500"),
        ])
        .unwrap();
        assert_eq!(config.keep_alive_timeout, Duration::from_secs(5));
        assert_eq!(config.max_connections, Some(500));
        let auto = with(&[("ENDPOINT_MAX_CONNECTIONS", "AUTO")]).unwrap();
        assert_eq!(auto.max_connections, None);
        for (variable, value) in [
            ("ENDPOINT_KEEP_ALIVE_TIMEOUT", "0"),
            ("ENDPOINT_KEEP_ALIVE_TIMEOUT", "forever"),
            ("ENDPOINT_SEND_TIMEOUT", "0"),
            ("ENDPOINT_MAX_CONNECTIONS", "0"),
            ("ENDPOINT_MAX_CONNECTIONS", "many"),
        ] {
            let error = with(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable, "{value}");
        }
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
        // A span filter is refused, not read as a target named `my_app[request]`.
        assert_eq!(
            with(&[("RUST_LOG", "my_app[request]=debug")])
                .unwrap_err()
                .variable,
            "RUST_LOG"
        );
        assert_eq!(
            with(&[("RUST_LOG", "info,my_app=loud")])
                .unwrap_err()
                .variable,
            "RUST_LOG"
        );
        assert!(with(&[("RUST_LOG", " warn, my_app=debug ,")]).is_ok());
        assert_eq!(
            with(&[("ENDPOINT_HEADER_READ_TIMEOUT", "0")])
                .unwrap_err()
                .variable,
            "ENDPOINT_HEADER_READ_TIMEOUT"
        );
    }

    #[test]
    fn limits_formats_and_access() {
        let config = with(&[
            ("ENDPOINT_BODY_LIMIT", "512KiB"),
            ("ENDPOINT_REQUEST_TIMEOUT", "2s"),
            ("ENDPOINT_ERROR_FORMAT", "problem"),
            ("ENDPOINT_DEFAULT_ACCESS", "authenticated"),
            ("ENDPOINT_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
        ])
        .unwrap();
        assert_eq!(config.body_limit, 512 * 1024);
        assert_eq!(config.request_timeout, Duration::from_secs(2));
        assert_eq!(config.error_format, ErrorFormat::Problem);
        assert_eq!(config.default_access, DefaultAccess::Authenticated);
        assert_eq!(config.trusted_proxies.len(), 2);
        assert!(config.trusted_proxies[1].contains(&"127.0.0.1".parse::<IpAddr>().unwrap()));
        assert_eq!(with(&[]).unwrap().body_limit, 1024 * 1024);
        assert_eq!(with(&[]).unwrap().multipart_field_limit, 1024 * 1024);
        let field_limit = with(&[("ENDPOINT_MULTIPART_FIELD_LIMIT", "64KiB")]);
        if cfg!(feature = "multipart") {
            assert_eq!(field_limit.unwrap().multipart_field_limit, 64 * 1024);
            let refused = with(&[("ENDPOINT_MULTIPART_FIELD_LIMIT", "lots")]).unwrap_err();
            assert_eq!(refused.variable, "ENDPOINT_MULTIPART_FIELD_LIMIT");
        } else {
            assert!(
                field_limit
                    .unwrap_err()
                    .expected
                    .contains("`multipart` feature")
            );
        }
        assert_eq!(
            with(&[("ENDPOINT_STREAM_LIFETIME", "10m")])
                .unwrap()
                .stream_lifetime,
            Duration::from_secs(600)
        );
        assert_eq!(
            with(&[("ENDPOINT_BODY_LIMIT", "1MB")]).unwrap().body_limit,
            1_000_000
        );
        assert_eq!(
            with(&[("ENDPOINT_BODY_LIMIT", "lots")])
                .unwrap_err()
                .variable,
            "ENDPOINT_BODY_LIMIT"
        );
        assert_eq!(
            with(&[("ENDPOINT_TRUSTED_PROXIES", "10.0.0.0/33")])
                .unwrap_err()
                .variable,
            "ENDPOINT_TRUSTED_PROXIES"
        );
        assert_eq!(
            with(&[("ENDPOINT_DEFAULT_ACCESS", "superuser")])
                .unwrap_err()
                .variable,
            "ENDPOINT_DEFAULT_ACCESS"
        );
    }

    #[test]
    fn admin_default_docs_access_and_forwarded_header() {
        assert_eq!(
            with(&[("ENDPOINT_DEFAULT_ACCESS", "Admin")])
                .unwrap()
                .default_access,
            DefaultAccess::Admin
        );
        let defaults = with(&[]).unwrap();
        assert_eq!(defaults.docs_access, None);
        assert_eq!(defaults.forwarded_header, ForwardedHeader::XForwardedFor);
        for (value, access) in [
            ("public", Access::Public),
            ("authenticated", Access::Authenticated),
            (" ADMIN ", Access::Admin),
        ] {
            assert_eq!(
                with(&[("ENDPOINT_DOCS_ACCESS", value)])
                    .unwrap()
                    .docs_access,
                Some(access)
            );
        }
        let error = with(&[("ENDPOINT_DOCS_ACCESS", "private")]).unwrap_err();
        assert_eq!(error.variable, "ENDPOINT_DOCS_ACCESS");
        assert_eq!(
            with(&[("ENDPOINT_FORWARDED_HEADER", "Forwarded")])
                .unwrap()
                .forwarded_header,
            ForwardedHeader::Forwarded
        );
        assert_eq!(
            with(&[("ENDPOINT_FORWARDED_HEADER", "x-forwarded-for")])
                .unwrap()
                .forwarded_header,
            ForwardedHeader::XForwardedFor
        );
        // No guessing: `x-real-ip` or both at once are refused, naming the variable.
        for value in ["x-real-ip", "forwarded,x-forwarded-for", ""] {
            let error = with(&[("ENDPOINT_FORWARDED_HEADER", value)]).unwrap_err();
            assert_eq!(error.variable, "ENDPOINT_FORWARDED_HEADER", "{value}");
        }
    }

    #[cfg(feature = "jwt")]
    #[test]
    fn secrets_are_checked_and_never_echoed() {
        let short = with(&[("ENDPOINT_JWT_SECRET", "hunter2")]).unwrap_err();
        assert_eq!(short.variable, "ENDPOINT_JWT_SECRET");
        assert!(!short.to_string().contains("hunter2"), "{short}");
        let secret = "0123456789abcdef0123456789abcdef";
        let config = with(&[
            ("ENDPOINT_JWT_SECRET", secret),
            ("ENDPOINT_JWT_LEEWAY", "1s"),
            ("ENDPOINT_JWT_ROLE_CLAIM", "grp"),
        ])
        .unwrap();
        let jwt = config.jwt.as_ref().unwrap();
        assert_eq!(jwt.algorithm, JwtAlgorithm::Hs256);
        assert_eq!(jwt.leeway, Duration::from_secs(1));
        assert_eq!(jwt.role_claim, "grp");
        assert!(!format!("{config:?}").contains(secret));
        let rs = with(&[("ENDPOINT_JWT_ALGORITHM", "RS256")]).unwrap_err();
        assert_eq!(rs.variable, "ENDPOINT_JWT_PUBLIC_KEY_FILE");
        let missing = with(&[
            ("ENDPOINT_JWT_ALGORITHM", "RS256"),
            ("ENDPOINT_JWT_PUBLIC_KEY_FILE", "/nonexistent.pem"),
        ])
        .unwrap_err();
        assert_eq!(missing.variable, "ENDPOINT_JWT_PUBLIC_KEY_FILE");
        assert_eq!(
            with(&[("ENDPOINT_JWT_ALGORITHM", "none")])
                .unwrap_err()
                .variable,
            "ENDPOINT_JWT_ALGORITHM"
        );

        let tokens = r#"[{"token":"static-token-0123456789","user":"bot","role":"editor"}]"#;
        let config = with(&[("ENDPOINT_STATIC_TOKENS", tokens)]).unwrap();
        assert_eq!(config.static_tokens[0].user, "bot");
        assert!(!format!("{config:?}").contains("static-token-0123456789"));
        let weak = with(&[(
            "ENDPOINT_STATIC_TOKENS",
            r#"[{"token":"short","user":"bot"}]"#,
        )])
        .unwrap_err();
        assert_eq!(weak.variable, "ENDPOINT_STATIC_TOKENS");
        assert!(!weak.to_string().contains("short\""), "{weak}");
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

    #[cfg(feature = "jwt")]
    #[test]
    fn jwt_leeway_is_bounded_and_the_type_is_read() {
        let secret = "0123456789abcdef0123456789abcdef";
        let error = with(&[
            ("ENDPOINT_JWT_SECRET", secret),
            ("ENDPOINT_JWT_LEEWAY", "6m"),
        ])
        .unwrap_err();
        assert_eq!(error.variable, "ENDPOINT_JWT_LEEWAY");
        assert_eq!(
            error.to_string(),
            "invalid ENDPOINT_JWT_LEEWAY=\"6m\": expected a duration of at most 5m (the clock skew allowed on `exp` and `nbf`)"
        );
        let at_bound = with(&[
            ("ENDPOINT_JWT_SECRET", secret),
            ("ENDPOINT_JWT_LEEWAY", "5m"),
            ("ENDPOINT_JWT_TYPE", " at+jwt "),
        ])
        .unwrap();
        let jwt = at_bound.jwt.unwrap();
        assert_eq!(jwt.leeway, Duration::from_secs(300));
        assert_eq!(jwt.token_type.as_deref(), Some("at+jwt"));
        assert_eq!(
            with(&[("ENDPOINT_JWT_SECRET", secret), ("ENDPOINT_JWT_TYPE", " ")])
                .unwrap_err()
                .variable,
            "ENDPOINT_JWT_TYPE"
        );
        // Set in code, the bound holds too: the authenticator refuses to be built.
        let mut config = JwtConfig::hs256(secret);
        config.leeway = Duration::from_secs(301);
        let error = crate::auth::JwtAuthenticator::new(&config)
            .err()
            .expect("a leeway over 5m is refused");
        assert_eq!(error.variable, "ENDPOINT_JWT_LEEWAY");
    }

    #[cfg(not(feature = "jwt"))]
    #[test]
    fn jwt_settings_without_the_feature_are_refused_naming_it() {
        for variable in [
            "ENDPOINT_JWT_SECRET",
            "ENDPOINT_JWT_PUBLIC_KEY_FILE",
            "ENDPOINT_JWT_AUDIENCE",
        ] {
            let error = with(&[(variable, "0123456789abcdef0123456789abcdef")]).unwrap_err();
            assert_eq!(error.variable, variable);
            assert!(error.expected.contains("`jwt` feature"), "{error}");
            assert!(!error.to_string().contains("0123456789abcdef"), "{error}");
        }
    }
}
