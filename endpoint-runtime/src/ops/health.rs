//! Health endpoints for load balancers and orchestrators: `GET /livez` (the process answers)
//! and `GET /readyz` (it should be sent traffic), and the drain that turns readiness off
//! before the server stops accepting.
//!
//! | variable | default | what it does |
//! |---|---|---|
//! | `ENDPOINT_LIVEZ_PATH` | `/livez` | where liveness is served; `off` serves none |
//! | `ENDPOINT_READYZ_PATH` | `/readyz` | where readiness is served; `off` serves none |
//! | `ENDPOINT_DRAIN_DELAY` | `0s` | on shutdown (SIGTERM, SIGINT), how long `/readyz` answers `503` while the server still serves everything, before it stops accepting |
//!
//! Both answer in the IETF health-check format (`application/health+json`,
//! draft-inadarei-api-health-check): `{"status":"pass"}` with 200, or `"fail"` with 503, and
//! for readiness one entry per check under `checks`: `database` (a `SELECT 1` within 2 s, when
//! the application has a database), `confined` (the worker pool started, when it has confined
//! endpoints) and `drain` (not shutting down). A failing check says why in its `output`,
//! never with a secret. They run in the request pipeline (request id, logging) but outside
//! the access rules, and are not operations of the OpenAPI document.
//!
//! Set the drain delay to what the load balancer needs to notice: its check interval times
//! the failures it waits for (HAProxy's `inter 2s fall 3`: `6s`), plus one interval. On
//! Kubernetes it replaces a `preStop` sleep.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// What readiness looks at: the drain, and the database when the application has one.
#[derive(Clone)]
pub(crate) struct Readiness {
    pub(crate) health: Arc<Health>,
    /// Whether the application has confined endpoints (their pool is then checked).
    #[cfg_attr(not(feature = "confined"), allow(dead_code))]
    pub(crate) confined: bool,
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) database: Option<crate::database::Database>,
}

/// How long the database check may take before readiness fails.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const DATABASE_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The server's health: whether it is draining. Shared by the readiness route and the server.
#[derive(Debug, Default)]
pub(crate) struct Health {
    draining: AtomicBool,
    /// Cancelled when draining starts: what outlives the server's connection accounting (an
    /// upgraded WebSocket) ends then.
    stopping: tokio_util::sync::CancellationToken,
}

impl Health {
    /// From now on `/readyz` answers 503, and open WebSockets are closed.
    pub(crate) fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
        self.stopping.cancel();
    }

    /// Cancelled when draining starts.
    pub(crate) fn stopping(&self) -> tokio_util::sync::CancellationToken {
        self.stopping.clone()
    }

    fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

/// `GET /livez`: the process answers.
pub(crate) async fn livez() -> Response {
    answer(true, None)
}

/// `GET /readyz`: every check passes.
pub(crate) async fn readyz(readiness: Readiness) -> Response {
    let mut checks = Map::new();
    let mut ready = true;
    let mut check = |name: &str, result: Result<(), String>| {
        let entry = match result {
            Ok(()) => json!({ "status": "pass" }),
            Err(output) => {
                ready = false;
                json!({ "status": "fail", "output": output })
            }
        };
        checks.insert(name.to_string(), json!([entry]));
    };
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    if let Some(database) = &readiness.database {
        check("database", database_reachable(database).await);
    }
    #[cfg(feature = "confined")]
    if readiness.confined {
        check(
            "confined",
            match crate::confined::pool_status() {
                Some(_) => Ok(()),
                None => Err("the confined worker pool has not started".to_string()),
            },
        );
    }
    check(
        "drain",
        if readiness.health.draining() {
            Err("shutting down".to_string())
        } else {
            Ok(())
        },
    );
    answer(ready, Some(checks))
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
async fn database_reachable(database: &crate::database::Database) -> Result<(), String> {
    let ping = async {
        crate::with_pool!(database, |pool| {
            sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
        })
    };
    match tokio::time::timeout(DATABASE_CHECK_TIMEOUT, ping).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => {
            // The driver's text is logged, not answered: it can name hosts and users.
            tracing::warn!(%error, "readiness: the database check failed");
            Err("the database does not answer".to_string())
        }
        Err(_) => Err(format!(
            "the database did not answer within {}s",
            DATABASE_CHECK_TIMEOUT.as_secs()
        )),
    }
}

fn answer(pass: bool, checks: Option<Map<String, Value>>) -> Response {
    let mut body = json!({ "status": if pass { "pass" } else { "fail" } });
    if let Some(checks) = checks {
        body["checks"] = Value::Object(checks);
    }
    let status = if pass {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/health+json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body.to_string(),
    )
        .into_response()
}
