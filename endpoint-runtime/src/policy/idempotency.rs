//! `#[endpoint(…, idempotent)]`: a POST or PATCH that carries an `Idempotency-Key` header
//! (draft-ietf-httpapi-idempotency-key-header) is run once per caller and key; its response
//! (status, headers, body) is kept in the application's database (table
//! `endpoint_idempotency`) for `ENDPOINT_IDEMPOTENCY_TTL` (24 h) and replayed, from any
//! instance, to the key's retries with `Idempotent-Replayed: true`.
//!
//! - The key is the header's value: a structured-field string (`"…"`, as the draft writes it)
//!   or a bare token (as Stripe's clients send it), 1 to 255 visible ASCII characters; another
//!   value is 400 `INVALID_IDEMPOTENCY_KEY`. A request without the header runs as usual.
//! - Keys are per endpoint and per caller: the user, else the client IP (callers behind one
//!   NAT share it: anonymous clients should send random keys, as the draft asks). An
//!   anonymous request without a client IP (a router served without connection info) is
//!   refused, 400.
//! - A retry whose method, path, query or body differs from the first request's is 422
//!   `IDEMPOTENCY_KEY_REUSED`; one that arrives while the first still runs is 409
//!   `IDEMPOTENCY_KEY_IN_USE` with `Retry-After: 1`.
//! - Once the key is claimed the handler runs in a task of its own: a client that goes away
//!   does not cancel it, and its response is kept for the retry. It is bounded by the
//!   endpoint's timeout. One that panics releases the key, as a response of 500 or above does
//!   (nothing is kept: a retry runs the handler again); one that runs out of time may have
//!   committed before it was stopped, so its key answers 409 `IDEMPOTENCY_RESPONSE_NOT_KEPT`
//!   rather than run it twice. Transient refusals are not kept: 401, 403, 408, 409, 425, 429.
//! - The replay sits inside the application's layers and `#[middleware]`: a retry passes
//!   through them as the first request did, and what they answer themselves is never kept.
//! - A body over 1 MiB is sent but not kept: its key then answers 409
//!   `IDEMPOTENCY_RESPONSE_NOT_KEPT` (the request is not run twice). A kept error is replayed
//!   as an error, in `ENDPOINT_ERROR_FORMAT`, with the replay's own request id.
//! - A claim whose instance stopped is taken over once the endpoint's timeout plus 5 s has
//!   passed (the instances' clocks are assumed synchronized, as NTP keeps them). Each claim
//!   has an owner, so a late first request never overwrites or releases a takeover's row.
//!   Expired keys are deleted when met, and in the background at most once a minute per
//!   instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::FromRequestParts as _;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt as _;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::Instrument as _;

use crate::auth::Accountability;
use crate::database::{Database, RuntimeTables};
use crate::error::{EndpointError, ErrorInfo, FieldError};
use crate::registry::{Endpoint, HandlerFuture};

/// The idempotency table: one row per caller, endpoint and key. `status` is `NULL` while the
/// first request runs (until `locked_until`, Unix milliseconds, for `owner`), `0` when its
/// response was not kept (over 1 MiB); `error` holds a kept error's code, message, details and field errors.
pub(crate) const TABLES: RuntimeTables = RuntimeTables {
    purpose: "idempotency keys (`endpoint_idempotency`)",
    last: "endpoint_idempotency_expiry",
    sqlite: &[
        "CREATE TABLE IF NOT EXISTS endpoint_idempotency (
            key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            owner TEXT NOT NULL,
            status INTEGER,
            headers TEXT,
            body BLOB,
            error TEXT,
            locked_until INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS endpoint_idempotency_expiry
            ON endpoint_idempotency (expires_at)",
    ],
    postgres: &[
        "CREATE TABLE IF NOT EXISTS endpoint_idempotency (
            key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            owner TEXT NOT NULL,
            status BIGINT,
            headers TEXT,
            body BYTEA,
            error TEXT,
            locked_until BIGINT NOT NULL,
            expires_at BIGINT NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS endpoint_idempotency_expiry
            ON endpoint_idempotency (expires_at)",
    ],
};

/// The header a client sends.
pub(crate) const HEADER: &str = "idempotency-key";

/// The header of a replayed response.
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The largest response body kept for replay: 1 MiB.
const MAX_BODY: usize = 1 << 20;

/// How long past the endpoint's timeout a claim protects a running request.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// The `status` of a completed request whose response was not kept.
const NOT_KEPT_STATUS: i64 = 0;

/// Response headers not kept: the replay gets its own, or they belong to one response only.
const NOT_KEPT: &[&str] = &[
    "x-request-id",
    "date",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "set-cookie",
    "ratelimit",
    "ratelimit-policy",
];

/// Statuses never kept, besides 5xx: refusals a retry may well get past.
const TRANSIENT: &[u16] = &[401, 403, 408, 409, 425, 429];

/// Where idempotency keys live, and how long.
#[derive(Debug)]
pub(crate) struct Store {
    database: Database,
    ttl: Duration,
    request_timeout: Duration,
    /// When expired keys were last deleted (Unix milliseconds).
    last_sweep: AtomicI64,
}

impl Store {
    pub(crate) fn new(database: Database, ttl: Duration, request_timeout: Duration) -> Arc<Self> {
        Arc::new(Store {
            database,
            ttl,
            request_timeout,
            last_sweep: AtomicI64::new(0),
        })
    }
}

/// What the stored row says: fingerprint, status, headers, body, error, locked until, expiry.
type Stored = (
    String,
    Option<i64>,
    Option<String>,
    Option<Vec<u8>>,
    Option<String>,
    i64,
    i64,
);

/// The claim of one key by one request.
struct Claim {
    row: String,
    owner: String,
}

/// Serves `request` with `inner`, replaying the stored response of its `Idempotency-Key`.
pub(crate) async fn serve<F>(
    store: Arc<Store>,
    endpoint: &'static Endpoint,
    request: Request<Body>,
    inner: F,
) -> Response
where
    F: FnOnce(Request<Body>) -> HandlerFuture + Send + 'static,
{
    let Some(value) = request.headers().get(HEADER) else {
        return inner(request).await;
    };
    let Some(key) = parse_key(value) else {
        return EndpointError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key must be 1 to 255 visible ASCII characters, such as \"8e03978e-40d5-43e8-bc93-6894a57f9324\"",
        )
        .into_response();
    };
    let (mut parts, body) = request.into_parts();
    let caller = match Accountability::from_request_parts(&mut parts, &()).await {
        Ok(who) => caller(&who),
        Err(rejection) => return rejection.into_response(),
    };
    let Some(caller) = caller else {
        return EndpointError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_IDEMPOTENCY_KEY",
            "an Idempotency-Key needs an identified caller: a user, or a client address",
        )
        .into_response();
    };
    // The body is read here to fingerprint it; the body limit has already wrapped it.
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            return EndpointError::invalid_payload("the request body could not be read")
                .with_source(error)
                .into_response();
        }
    };
    let row = row_key(endpoint, &caller, &key);
    let fingerprint = fingerprint(&parts, &body);
    let timeout = endpoint.policy().timeout.unwrap_or(store.request_timeout);
    let claim = match store.claim(row, &fingerprint, timeout).await {
        Ok(Ok(claim)) => claim,
        Ok(Err(answer)) => return answer,
        Err(error) => return error.into_response(),
    };
    // Its own task: a client that goes away does not cancel the handler, nor the keeping of
    // its response.
    let request = Request::from_parts(parts, Body::from(body));
    // The handler's lines carry the request's fields (and span, when one is made) in its task.
    let task = tokio::spawn(crate::logging::request::in_current_request(
        async move {
            let run =
                std::panic::AssertUnwindSafe(async move { inner(request).await }).catch_unwind();
            match tokio::time::timeout(timeout, run).await {
                Ok(Ok(response)) => store.keep(&claim, response).await,
                Ok(Err(panic)) => {
                    store.release(&claim).await;
                    std::panic::resume_unwind(panic)
                }
                Err(_) => {
                    // Stopped at some `.await`, perhaps after its changes were committed: the
                    // key is not run again (its retries are told so).
                    store
                        .complete(&claim, NOT_KEPT_STATUS, None, None, None)
                        .await;
                    EndpointError::timeout(timeout).into_response()
                }
            }
        }
        .in_current_span(),
    ));
    match task.await {
        Ok(response) => response,
        // The pipeline catches it and answers 500, as for any handler's panic.
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => EndpointError::internal("the idempotent request's task was cancelled")
            .with_source(error)
            .into_response(),
    }
}

/// The key of the header's value: a structured-field string (quoted, without escapes) or a
/// bare token; 1 to 255 visible ASCII characters.
fn parse_key(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?.trim();
    let key = match text.strip_prefix('"') {
        Some(quoted) => quoted.strip_suffix('"')?,
        None => text,
    };
    let visible = |c: char| c.is_ascii_graphic() && c != '"' && c != '\\';
    (1..=255)
        .contains(&key.len())
        .then_some(key)
        .filter(|key| key.chars().all(visible))
        .map(str::to_string)
}

/// Who the key belongs to: the user, else the client IP; `None` for neither.
fn caller(who: &Accountability) -> Option<String> {
    match (&who.user, who.ip) {
        (Some(user), _) => Some(format!("user:{user}")),
        (None, Some(ip)) => Some(format!("ip:{ip}")),
        (None, None) => None,
    }
}

/// The row's key: a hash of the endpoint, the caller and the key (fixed length; the caller's
/// identity is not stored in clear).
fn row_key(endpoint: &Endpoint, caller: &str, key: &str) -> String {
    let mut hash = Sha256::new();
    for part in [endpoint.module_path(), endpoint.handler(), caller, key] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex(&hash.finalize())
}

/// What makes two requests the same: method, path and query, body.
fn fingerprint(parts: &axum::http::request::Parts, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(parts.method.as_str().as_bytes());
    hash.update([0]);
    hash.update(
        parts
            .uri
            .path_and_query()
            .map_or("", |p| p.as_str())
            .as_bytes(),
    );
    hash.update([0]);
    hash.update(body);
    hex(&hash.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// Claims `row` for this request: `Ok(Ok(claim))` when it is ours to run, `Ok(Err(answer))`
    /// when a stored response, a 409 or a 422 answers instead.
    async fn claim(
        &self,
        row: String,
        fingerprint: &str,
        timeout: Duration,
    ) -> Result<Result<Claim, Response>, EndpointError> {
        let now = now_ms();
        let owner = uuid::Uuid::new_v4().to_string();
        let locked_until = now.saturating_add(millis(timeout.saturating_add(LEASE_MARGIN)));
        // Never expired while it may still run.
        let expires_at = now.saturating_add(millis(self.ttl)).max(locked_until);
        let claim = Claim { row, owner };
        // Twice at most: once more after deleting an expired row.
        for _ in 0..2 {
            let inserted = crate::with_pool!(&self.database, |pool| {
                sqlx::query(
                    "INSERT INTO endpoint_idempotency (key, fingerprint, owner, locked_until, expires_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
                )
                .bind(&claim.row)
                .bind(fingerprint)
                .bind(&claim.owner)
                .bind(locked_until)
                .bind(expires_at)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
            })?;
            if inserted == 1 {
                return Ok(Ok(claim));
            }
            let stored: Option<Stored> = crate::with_pool!(&self.database, |pool| {
                sqlx::query_as(
                    "SELECT fingerprint, status, headers, body, error, locked_until, expires_at
                     FROM endpoint_idempotency WHERE key = $1",
                )
                .bind(&claim.row)
                .fetch_optional(pool)
                .await
            })?;
            let Some((stored_fingerprint, status, headers, body, error, stored_lock, expiry)) =
                stored
            else {
                // Deleted between the two statements: claim again.
                continue;
            };
            if expiry <= now {
                crate::with_pool!(&self.database, |pool| {
                    sqlx::query(
                        "DELETE FROM endpoint_idempotency WHERE key = $1 AND expires_at <= $2",
                    )
                    .bind(&claim.row)
                    .bind(now)
                    .execute(pool)
                    .await
                    .map(|_| ())
                })?;
                continue;
            }
            if stored_fingerprint != fingerprint {
                return Ok(Err(EndpointError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "IDEMPOTENCY_KEY_REUSED",
                    "this Idempotency-Key was used with a different request (method, path, query or body)",
                )
                .into_response()));
            }
            return match status {
                Some(NOT_KEPT_STATUS) => Ok(Err(EndpointError::new(
                    StatusCode::CONFLICT,
                    "IDEMPOTENCY_RESPONSE_NOT_KEPT",
                    "the first request with this Idempotency-Key ran out of time, or answered with a body over 1 MiB, and its response is not kept; it is not run again: check the outcome, or send a new key",
                )
                .into_response())),
                Some(status) => Ok(Err(replay(status, headers.as_deref(), body, error.as_deref()))),
                None if stored_lock > now => Ok(Err(in_use())),
                None => {
                    // The instance that claimed it stopped before answering: take it over, if
                    // no other instance did first.
                    let taken = crate::with_pool!(&self.database, |pool| {
                        sqlx::query(
                            "UPDATE endpoint_idempotency SET owner = $3, locked_until = $4, expires_at = $5
                             WHERE key = $1 AND status IS NULL AND locked_until = $2",
                        )
                        .bind(&claim.row)
                        .bind(stored_lock)
                        .bind(&claim.owner)
                        .bind(locked_until)
                        .bind(expires_at)
                        .execute(pool)
                        .await
                        .map(|done| done.rows_affected())
                    })?;
                    Ok(if taken == 1 { Ok(claim) } else { Err(in_use()) })
                }
            };
        }
        Ok(Err(in_use()))
    }

    /// Keeps `response` for the key's retries (a 5xx or a transient refusal releases the claim
    /// instead; a body over 1 MiB is sent and marked not kept) and returns it.
    async fn keep(self: &Arc<Self>, claim: &Claim, response: Response) -> Response {
        let status = response.status();
        // An event stream does not end: it cannot be kept (the macro refuses `idempotent` on
        // an `Sse` return type it can see; this covers one behind an alias).
        let streaming = response
            .extensions()
            .get::<crate::sse::EventStream>()
            .is_some();
        if streaming || status.is_server_error() || TRANSIENT.contains(&status.as_u16()) {
            self.release(claim).await;
            return response;
        }
        let (parts, body) = response.into_parts();
        let (bytes, rest) = match collect_at_most(body, MAX_BODY).await {
            Ok(collected) => collected,
            Err(error) => {
                self.release(claim).await;
                return EndpointError::internal("the response body failed")
                    .with_source(error)
                    .into_response();
            }
        };
        let error = parts.extensions.get::<Arc<ErrorInfo>>().map(|info| {
            json!({ "code": info.code, "message": info.message, "details": info.details, "errors": info.errors })
                .to_string()
        });
        let (status_kept, headers, body_kept) = match &rest {
            None => (
                i64::from(status.as_u16()),
                Some(headers_to_json(&parts.headers)),
                Some(bytes.to_vec()),
            ),
            Some(_) => (NOT_KEPT_STATUS, None, None),
        };
        self.complete(claim, status_kept, headers, body_kept, error)
            .await;
        self.sweep();
        let body = match rest {
            None => Body::from(bytes),
            Some(rest) => {
                let first =
                    futures_util::stream::once(std::future::ready(Ok::<_, axum::Error>(bytes)));
                Body::from_stream(futures_util::StreamExt::chain(
                    first,
                    rest.into_data_stream(),
                ))
            }
        };
        Response::from_parts(parts, body)
    }

    /// Ends a claim with what its retries get: the kept response (`status`, `headers`,
    /// `body`, a kept error's `error`), or [`NOT_KEPT_STATUS`] alone (a timeout, a body over
    /// 1 MiB): retries then get 409 `IDEMPOTENCY_RESPONSE_NOT_KEPT` and the handler is not run
    /// again. Nothing is written once another instance has taken the claim over.
    async fn complete(
        &self,
        claim: &Claim,
        status: i64,
        headers: Option<String>,
        body: Option<Vec<u8>>,
        error: Option<String>,
    ) {
        let kept = crate::with_pool!(&self.database, |pool| {
            sqlx::query(
                "UPDATE endpoint_idempotency SET status = $3, headers = $4, body = $5, error = $6
                 WHERE key = $1 AND owner = $2 AND status IS NULL",
            )
            .bind(&claim.row)
            .bind(&claim.owner)
            .bind(status)
            .bind(&headers)
            .bind(&body)
            .bind(&error)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        });
        match kept {
            Ok(1) => {}
            Ok(_) => tracing::warn!(
                "an idempotent response was not kept: its claim had been taken over (the \
                 request ran longer than its timeout plus 5 s)"
            ),
            // The response is still sent; a retry may then run the handler again.
            Err(error) => tracing::warn!(%error, "an idempotent response could not be kept"),
        }
    }

    /// Deletes a claim whose response is not kept, so that a retry runs again.
    async fn release(&self, claim: &Claim) {
        let released = crate::with_pool!(&self.database, |pool| {
            sqlx::query(
                "DELETE FROM endpoint_idempotency WHERE key = $1 AND owner = $2 AND status IS NULL",
            )
            .bind(&claim.row)
            .bind(&claim.owner)
            .execute(pool)
            .await
            .map(|_| ())
        });
        if let Err(error) = released {
            tracing::warn!(%error, "an idempotency claim could not be released");
        }
    }

    /// Deletes expired keys in the background, at most once a minute per instance.
    fn sweep(self: &Arc<Self>) {
        let now = now_ms();
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now - last < 60_000
            || self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let store = Arc::clone(self);
        tokio::spawn(async move {
            let swept = crate::with_pool!(&store.database, |pool| {
                sqlx::query("DELETE FROM endpoint_idempotency WHERE expires_at <= $1")
                    .bind(now)
                    .execute(pool)
                    .await
                    .map(|_| ())
            });
            if let Err(error) = swept {
                tracing::debug!(%error, "expired idempotency keys were not deleted");
            }
        });
    }
}

/// Reads `body` up to `limit` bytes: `(all of it, None)`, or, past the limit, `(what was
/// read, Some(the rest))`.
async fn collect_at_most(
    mut body: Body,
    limit: usize,
) -> Result<(bytes::Bytes, Option<Body>), axum::Error> {
    let mut read = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            read.extend_from_slice(&data);
            if read.len() > limit {
                return Ok((read.freeze(), Some(body)));
            }
        }
    }
    Ok((read.freeze(), None))
}

/// 409 while the key's first request runs.
fn in_use() -> Response {
    let mut response = EndpointError::new(
        StatusCode::CONFLICT,
        "IDEMPOTENCY_KEY_IN_USE",
        "a request with this Idempotency-Key is still being processed; retry shortly",
    )
    .into_response();
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        HeaderValue::from_static("1"),
    );
    response
}

/// The stored response, marked `Idempotent-Replayed: true`. A kept error is an error again,
/// so that the pipeline renders it in the configured format with this request's id.
fn replay(
    status: i64,
    headers: Option<&str>,
    body: Option<Vec<u8>>,
    error: Option<&str>,
) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|status| StatusCode::from_u16(status).ok())
        .unwrap_or(StatusCode::OK);
    let error: Option<Value> = error.and_then(|error| serde_json::from_str(error).ok());
    let mut response = match error {
        Some(error) => {
            let mut refused = EndpointError::new(
                status,
                error["code"].as_str().unwrap_or("ERROR").to_string(),
                error["message"].as_str().unwrap_or_default().to_string(),
            );
            if !error["details"].is_null() {
                refused = refused.with_details(error["details"].clone());
            }
            if let Ok(errors) = serde_json::from_value::<Vec<FieldError>>(error["errors"].clone()) {
                refused = refused.with_errors(errors);
            }
            refused.into_response()
        }
        None => {
            let mut response = Response::new(Body::from(body.unwrap_or_default()));
            *response.status_mut() = status;
            response
        }
    };
    let pairs: Vec<(String, String)> = headers
        .and_then(|headers| serde_json::from_str(headers).ok())
        .unwrap_or_default();
    let mut seen = Vec::new();
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            // The first value replaces what the rebuilt response has (its content type);
            // the next ones of the same name are added (`link`, `vary`).
            if seen.contains(&name) {
                response.headers_mut().append(name, value);
            } else {
                seen.push(name.clone());
                response.headers_mut().insert(name, value);
            }
        }
    }
    response
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

/// The headers kept with a response, as a JSON array of `[name, value]` pairs.
fn headers_to_json(headers: &HeaderMap) -> String {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(name, _)| !NOT_KEPT.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_quoted_strings_or_bare_tokens() {
        let key = |text: &str| parse_key(&HeaderValue::from_str(text).unwrap());
        assert_eq!(key("\"8e03978e-40d5\"").as_deref(), Some("8e03978e-40d5"));
        assert_eq!(key("abc_123").as_deref(), Some("abc_123"));
        assert_eq!(key(&"k".repeat(255)).map(|k| k.len()), Some(255));
        for bad in [
            "",
            "\"\"",
            "\"open",
            "two words",
            "a\\\"b",
            &"k".repeat(256),
        ] {
            assert_eq!(key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn callers_and_rows() {
        let mut who = Accountability::default();
        assert_eq!(caller(&who), None);
        who.ip = Some("10.0.0.1".parse().unwrap());
        assert_eq!(caller(&who).as_deref(), Some("ip:10.0.0.1"));
        who.user = Some("ann".into());
        assert_eq!(caller(&who).as_deref(), Some("user:ann"));
    }

    #[test]
    fn stored_headers_leave_out_the_per_response_ones() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-request-id", HeaderValue::from_static("abc"));
        headers.insert("location", HeaderValue::from_static("/things/1"));
        headers.insert("set-cookie", HeaderValue::from_static("session=secret"));
        headers.append("link", HeaderValue::from_static("</a>; rel=a"));
        headers.append("link", HeaderValue::from_static("</b>; rel=b"));
        let json = headers_to_json(&headers);
        assert!(!json.contains("secret"), "{json}");
        let replayed = replay(201, Some(&json), Some(b"{}".to_vec()), None);
        assert_eq!(replayed.status(), 201);
        assert_eq!(replayed.headers()["location"], "/things/1");
        assert_eq!(replayed.headers()["idempotent-replayed"], "true");
        assert!(replayed.headers().get("x-request-id").is_none());
        assert_eq!(replayed.headers().get_all("link").iter().count(), 2);
        let refused = replay(
            422,
            Some("[]"),
            None,
            Some(r#"{"code":"UNKNOWN_AUTHOR","message":"no author 9","details":null}"#),
        );
        assert_eq!(refused.status(), 422);
        assert!(refused.extensions().get::<Arc<ErrorInfo>>().is_some());
    }
}
