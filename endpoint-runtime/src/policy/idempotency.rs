//! `#[endpoint(…, idempotent)]`: a POST or PATCH that carries an `Idempotency-Key` header
//! (draft-ietf-httpapi-idempotency-key-header) is run once per caller and key; its response
//! (status, headers, body) is kept in the application's database (table
//! `endpoint_idempotency`) for `ENDPOINT_IDEMPOTENCY_TTL` (24 h) and replayed, from any
//! instance, to the key's retries with `Idempotent-Replayed: true`.
//!
//! - The key is the header's value: a structured-field string (`"…"`, as the draft writes it)
//!   or a bare token (as Stripe's clients send it), 1 to 255 visible ASCII characters; another
//!   value is 400 `INVALID_IDEMPOTENCY_KEY`. A request without the header runs as usual.
//! - Keys are per caller (the user, else the client IP) and per endpoint: two callers' equal
//!   keys never meet.
//! - A retry whose method, path, query or body differs from the first request's is 422
//!   `IDEMPOTENCY_KEY_REUSED`; one that arrives while the first still runs is 409
//!   `IDEMPOTENCY_KEY_IN_USE` with `Retry-After: 1`.
//! - Responses with a status of 500 or above are not kept (the claim is released, so a retry
//!   runs the handler again), and neither are bodies over 1 MiB. The response of an idempotent
//!   endpoint is buffered whole before it is sent.
//! - A claim whose instance died is taken over once the endpoint's timeout plus 5 s has passed.
//!   Expired keys are deleted lazily and at most once a minute per instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::FromRequestParts as _;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use sha2::{Digest, Sha256};

use crate::auth::Accountability;
use crate::database::{Database, RuntimeTables};
use crate::error::EndpointError;
use crate::registry::{Endpoint, HandlerFuture};

/// The idempotency table: one row per caller, endpoint and key. `status` is `NULL` while the
/// first request runs (until `locked_until`, Unix milliseconds).
pub(crate) const TABLES: RuntimeTables = RuntimeTables {
    purpose: "idempotency keys (`endpoint_idempotency`)",
    last: "endpoint_idempotency",
    sqlite: &["CREATE TABLE IF NOT EXISTS endpoint_idempotency (
            key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            status INTEGER,
            headers TEXT,
            body BLOB,
            locked_until INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        )"],
    postgres: &["CREATE TABLE IF NOT EXISTS endpoint_idempotency (
            key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            status BIGINT,
            headers TEXT,
            body BYTEA,
            locked_until BIGINT NOT NULL,
            expires_at BIGINT NOT NULL
        )"],
};

/// The header a client sends.
pub(crate) const HEADER: &str = "idempotency-key";

/// The header of a replayed response.
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The largest response body kept for replay: 1 MiB.
const MAX_BODY: usize = 1 << 20;

/// How long past the endpoint's timeout a claim protects a running request.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Response headers not kept: the replay gets its own.
const NOT_KEPT: &[&str] = &[
    "x-request-id",
    "date",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "ratelimit",
    "ratelimit-policy",
];

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

/// What the stored row says.
type Stored = (
    String,
    Option<i64>,
    Option<String>,
    Option<Vec<u8>>,
    i64,
    i64,
);

/// Serves `request` with `inner`, replaying the stored response of its `Idempotency-Key`.
pub(crate) async fn serve<F>(
    store: Arc<Store>,
    endpoint: &'static Endpoint,
    request: Request<Body>,
    inner: F,
) -> Response
where
    F: FnOnce(Request<Body>) -> HandlerFuture,
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
    let claimed = match store.claim(&row, &fingerprint, timeout).await {
        Ok(claimed) => claimed,
        Err(error) => return error.into_response(),
    };
    if let Some(answer) = claimed {
        return answer;
    }
    let response = inner(Request::from_parts(parts, Body::from(body))).await;
    store.keep(&row, response).await
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

/// Who the key belongs to: the user, else the client IP.
fn caller(who: &Accountability) -> String {
    match (&who.user, who.ip) {
        (Some(user), _) => format!("user:{user}"),
        (None, Some(ip)) => format!("ip:{ip}"),
        (None, None) => "anonymous".to_string(),
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
    /// Claims `row` for this request: `Ok(None)` when it is ours to run, `Ok(Some(answer))`
    /// when a stored response, a 409 or a 422 answers instead.
    async fn claim(
        &self,
        row: &str,
        fingerprint: &str,
        timeout: Duration,
    ) -> Result<Option<Response>, EndpointError> {
        let now = now_ms();
        let locked_until = now.saturating_add(millis(timeout + LEASE_MARGIN));
        let expires_at = now.saturating_add(millis(self.ttl));
        // Twice at most: once more after deleting an expired row or taking over an abandoned
        // claim.
        for _ in 0..2 {
            let inserted = crate::with_pool!(&self.database, |pool| {
                sqlx::query(
                    "INSERT INTO endpoint_idempotency (key, fingerprint, locked_until, expires_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING",
                )
                .bind(row)
                .bind(fingerprint)
                .bind(locked_until)
                .bind(expires_at)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
            })?;
            if inserted == 1 {
                return Ok(None);
            }
            let stored: Option<Stored> = crate::with_pool!(&self.database, |pool| {
                sqlx::query_as(
                    "SELECT fingerprint, status, headers, body, locked_until, expires_at
                     FROM endpoint_idempotency WHERE key = $1",
                )
                .bind(row)
                .fetch_optional(pool)
                .await
            })?;
            let Some((stored_fingerprint, status, headers, body, stored_lock, stored_expiry)) =
                stored
            else {
                // Deleted between the two statements: claim again.
                continue;
            };
            if stored_expiry <= now {
                crate::with_pool!(&self.database, |pool| {
                    sqlx::query(
                        "DELETE FROM endpoint_idempotency WHERE key = $1 AND expires_at <= $2",
                    )
                    .bind(row)
                    .bind(now)
                    .execute(pool)
                    .await
                    .map(|_| ())
                })?;
                continue;
            }
            if stored_fingerprint != fingerprint {
                return Ok(Some(
                    EndpointError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "IDEMPOTENCY_KEY_REUSED",
                        "this Idempotency-Key was used with a different request (method, path, query or body)",
                    )
                    .into_response(),
                ));
            }
            let Some(status) = status else {
                if stored_lock > now {
                    return Ok(Some(in_use()));
                }
                // The instance that claimed it stopped before answering: take it over, if no
                // other instance did first.
                let taken = crate::with_pool!(&self.database, |pool| {
                    sqlx::query(
                        "UPDATE endpoint_idempotency SET locked_until = $3, expires_at = $4
                         WHERE key = $1 AND status IS NULL AND locked_until = $2",
                    )
                    .bind(row)
                    .bind(stored_lock)
                    .bind(locked_until)
                    .bind(expires_at)
                    .execute(pool)
                    .await
                    .map(|done| done.rows_affected())
                })?;
                return Ok((taken != 1).then(in_use));
            };
            return Ok(Some(replay(status, headers.as_deref(), body)));
        }
        Ok(Some(in_use()))
    }

    /// Keeps `response` for the key's retries (a 5xx or a body over 1 MiB releases the claim
    /// instead) and returns it.
    async fn keep(&self, row: &str, response: Response) -> Response {
        let (parts, body) = response.into_parts();
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                self.release(row).await;
                return EndpointError::internal("the response body failed")
                    .with_source(error)
                    .into_response();
            }
        };
        if parts.status.is_server_error() || bytes.len() > MAX_BODY {
            self.release(row).await;
        } else {
            let headers = headers_to_json(&parts.headers);
            let kept = crate::with_pool!(&self.database, |pool| {
                sqlx::query(
                    "UPDATE endpoint_idempotency SET status = $2, headers = $3, body = $4
                     WHERE key = $1",
                )
                .bind(row)
                .bind(i64::from(parts.status.as_u16()))
                .bind(&headers)
                .bind(bytes.as_ref())
                .execute(pool)
                .await
                .map(|_| ())
            });
            if let Err(error) = kept {
                // The response is still sent; a retry may then run the handler again.
                tracing::warn!(%error, "an idempotent response could not be kept");
            }
            self.sweep().await;
        }
        Response::from_parts(parts, Body::from(bytes))
    }

    /// Deletes a claim whose response is not kept, so that a retry runs again.
    async fn release(&self, row: &str) {
        let released = crate::with_pool!(&self.database, |pool| {
            sqlx::query("DELETE FROM endpoint_idempotency WHERE key = $1 AND status IS NULL")
                .bind(row)
                .execute(pool)
                .await
                .map(|_| ())
        });
        if let Err(error) = released {
            tracing::warn!(%error, "an idempotency claim could not be released");
        }
    }

    /// Deletes expired keys, at most once a minute per instance.
    async fn sweep(&self) {
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
        let swept = crate::with_pool!(&self.database, |pool| {
            sqlx::query("DELETE FROM endpoint_idempotency WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        });
        if let Err(error) = swept {
            tracing::debug!(%error, "expired idempotency keys were not deleted");
        }
    }
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

/// The stored response, marked `Idempotent-Replayed: true`.
fn replay(status: i64, headers: Option<&str>, body: Option<Vec<u8>>) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|status| StatusCode::from_u16(status).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = Response::new(Body::from(body.unwrap_or_default()));
    *response.status_mut() = status;
    let pairs: Vec<(String, String)> = headers
        .and_then(|headers| serde_json::from_str(headers).ok())
        .unwrap_or_default();
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(name, value);
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
        assert_eq!(caller(&who), "anonymous");
        who.ip = Some("10.0.0.1".parse().unwrap());
        assert_eq!(caller(&who), "ip:10.0.0.1");
        who.user = Some("ann".into());
        assert_eq!(caller(&who), "user:ann");
    }

    #[test]
    fn stored_headers_leave_out_the_per_response_ones() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-request-id", HeaderValue::from_static("abc"));
        headers.insert("location", HeaderValue::from_static("/things/1"));
        let json = headers_to_json(&headers);
        let replayed = replay(201, Some(&json), Some(b"{}".to_vec()));
        assert_eq!(replayed.status(), 201);
        assert_eq!(replayed.headers()["location"], "/things/1");
        assert_eq!(replayed.headers()["idempotent-replayed"], "true");
        assert!(replayed.headers().get("x-request-id").is_none());
    }
}
