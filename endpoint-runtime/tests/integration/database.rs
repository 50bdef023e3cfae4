//! Context, state, events and the database, on SQLite and (when
//! `ENDPOINT_TEST_POSTGRES_URL` is set, as `.ci/run` does) on PostgreSQL too.

use std::sync::atomic::{AtomicUsize, Ordering};

use endpoint_runtime::prelude::*;
use endpoint_runtime::{App, DatabaseKind, DatabaseUrl, EmitError};
use endpoint_runtime::{sqlx, with_pool};
use serde_json::json;

use crate::support::{TestServer, client, start_app, test_config};

#[derive(serde::Deserialize)]
struct NewNote {
    body: String,
}

/// Creates a note, emits `note.created` (the hook writes an audit row).
#[endpoint(id = "notes", route = "/", method = post)]
async fn create_note(
    ctx: Context,
    Json(note): Json<NewNote>,
) -> Result<Created<JSend<Value>>, EndpointError> {
    let db = ctx.database()?;
    let id: i64 = with_pool!(db, |pool| {
        sqlx::query_scalar("INSERT INTO notes (body, author) VALUES ($1, $2) RETURNING id")
            .bind(&note.body)
            .bind(ctx.accountability().user.clone())
            .fetch_one(pool)
            .await
    })?;
    ctx.emit("note.created", json!({ "id": id })).await?;
    Ok(JSend::created(json!({ "id": id, "body": note.body })))
}

#[endpoint(id = "notes", route = "/{id}")]
async fn get_note(id: i64, ctx: Context) -> Result<JSend<Value>, EndpointError> {
    let (id, body): (i64, String) = with_pool!(ctx.database()?, |pool| {
        sqlx::query_as("SELECT id, body FROM notes WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
    })?;
    Ok(JSend(json!({ "id": id, "body": body })))
}

/// A data exception that is the query's fault rather than a value's: still a 500.
#[endpoint(id = "notes", route = "/ratio/{n}")]
async fn ratio(n: i64, ctx: Context) -> Result<String, EndpointError> {
    let q: Option<i64> = with_pool!(ctx.database()?, |pool| {
        sqlx::query_scalar("SELECT 100 / $1 AS q")
            .bind(n)
            .fetch_one(pool)
            .await
    })?;
    Ok(q.map_or_else(|| "null".to_string(), |q| q.to_string()))
}

#[endpoint(id = "notes", route = "/audit")]
async fn audit_log(ctx: Context) -> Result<Json<Vec<String>>, EndpointError> {
    let rows: Vec<(String, String)> = with_pool!(ctx.database()?, |pool| {
        sqlx::query_as("SELECT event, detail FROM audit ORDER BY id")
            .fetch_all(pool)
            .await
    })?;
    Ok(Json(
        rows.into_iter()
            .map(|(event, detail)| format!("{event}:{detail}"))
            .collect(),
    ))
}

#[hook(event = "note.created")]
async fn audit_note(event: Event, ctx: Context) -> Result<(), EndpointError> {
    let detail = format!(
        "{}:{}",
        event.payload["id"],
        event.accountability.user.as_deref().unwrap_or("anonymous")
    );
    with_pool!(ctx.database()?, |pool| {
        sqlx::query("INSERT INTO audit (event, detail) VALUES ($1, $2)")
            .bind(&event.name)
            .bind(&detail)
            .execute(pool)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// Emits an event whose hook re-emits it.
#[endpoint(id = "events", route = "/loop/{event}", method = post)]
async fn start_loop(event: String, ctx: Context) -> Result<&'static str, EndpointError> {
    ctx.emit(&event, json!({})).await?;
    Ok("done")
}

/// What the re-emitting hooks saw.
pub(crate) static REFUSED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
static LOOP_RUNS: AtomicUsize = AtomicUsize::new(0);

#[hook(event = "loop.self")]
async fn reemit_self(event: Event, ctx: Context) -> Result<(), EndpointError> {
    LOOP_RUNS.fetch_add(1, Ordering::SeqCst);
    match ctx.emit(&event.name, json!({})).await {
        Err(error @ EmitError::Reentrant { .. }) => {
            REFUSED.lock().unwrap().push(error.to_string());
            Ok(())
        }
        other => Err(EndpointError::internal(format_args!(
            "expected a refusal, got {other:?}"
        ))),
    }
}

#[hook(event = "loop.a")]
async fn a_to_b(_event: Event, ctx: Context) -> Result<(), EndpointError> {
    ctx.emit("loop.b", json!({})).await?;
    Ok(())
}

#[hook(event = "loop.b")]
async fn b_to_a(_event: Event, ctx: Context) -> Result<(), EndpointError> {
    // Propagates the refusal: the request that started the chain answers 500.
    ctx.emit("loop.a", json!({})).await?;
    Ok(())
}

#[hook(event = "note.vetoed")]
async fn veto(_event: Event) -> Result<(), EndpointError> {
    Err(EndpointError::forbidden("vetoed by a hook"))
}

#[hook(event = "note.vetoed")]
async fn after_veto(_event: Event) {
    AFTER_VETO.fetch_add(1, Ordering::SeqCst);
}
static AFTER_VETO: AtomicUsize = AtomicUsize::new(0);

struct Greeting(String);

#[endpoint(id = "state", route = "/greeting")]
async fn greeting(State(greeting): State<Greeting>, ctx: Context) -> String {
    format!("{} ({})", greeting.0, ctx.server_url())
}

struct NeverRegistered;

#[endpoint(id = "state", route = "/missing")]
async fn missing_state(_state: State<NeverRegistered>) -> &'static str {
    "unreachable"
}

static SUBSCRIBED: AtomicUsize = AtomicUsize::new(0);

/// The databases to run against: a fresh SQLite file, and a fresh PostgreSQL database when
/// `ENDPOINT_TEST_POSTGRES_URL` names a server.
async fn databases() -> Vec<(DatabaseKind, String, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![(
        DatabaseKind::Sqlite,
        format!("sqlite://{}/test.db", dir.path().display()),
        Some(dir),
    )];
    if let Ok(admin) = std::env::var("ENDPOINT_TEST_POSTGRES_URL") {
        out.push((
            DatabaseKind::Postgres,
            fresh_postgres_database(&admin).await,
            None,
        ));
    }
    out
}

/// Creates an empty database on the server of `admin` and returns its URL.
pub(crate) async fn fresh_postgres_database(admin: &str) -> String {
    let name = format!("endpoint_test_{}", uuid_like());
    let pool = sqlx::PgPool::connect(admin)
        .await
        .expect("ENDPOINT_TEST_POSTGRES_URL is reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').expect("a URL with a database name");
    format!("{base}/{name}")
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

async fn app_server(url: &str) -> TestServer {
    let mut config = test_config();
    config.database_url = Some(DatabaseUrl(url.to_string()));
    config.server_url = Some("https://api.example.com".into());
    let app = App::new()
        .config(config)
        .migrations(endpoint_runtime::migrations!("tests/migrations"))
        .state(Greeting("hello".into()))
        .subscribe("note.created", |_event, _ctx| async {
            SUBSCRIBED.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
    start_app(app).await
}

#[tokio::test]
async fn context_database_hooks_and_subscribers() {
    for (kind, url, _dir) in databases().await {
        let server = app_server(&url).await;
        let before = SUBSCRIBED.load(Ordering::SeqCst);
        let response = client()
            .post(server.url("/notes"))
            .json(&json!({ "body": "first" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201, "{kind:?}");
        let created: Value = response.json().await.unwrap();
        let id = created["data"]["id"].as_i64().unwrap();
        let note: Value = client()
            .get(server.url(&format!("/notes/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            note,
            json!({ "status": "success", "data": { "id": id, "body": "first" } }),
            "{kind:?}"
        );
        // fetch_one on no row is a 404 through `?`.
        assert_eq!(
            client()
                .get(server.url("/notes/999999"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            404,
            "{kind:?}"
        );
        // The hook ran, awaited, inside the request, with the caller's accountability.
        let audit: Vec<String> = client()
            .get(server.url("/notes/audit"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            audit,
            vec![format!("note.created:{id}:anonymous")],
            "{kind:?}"
        );
        assert!(
            SUBSCRIBED.load(Ordering::SeqCst) > before,
            "{kind:?}: the subscriber ran"
        );
    }
}

/// A value the database refuses (PostgreSQL takes no NUL in text) is the caller's mistake:
/// 400 with the database's message, not a 500. SQLite stores it as sent.
#[tokio::test]
async fn a_value_the_database_refuses_is_a_400() {
    for (kind, url, _dir) in databases().await {
        let server = app_server(&url).await;
        let response = client()
            .post(server.url("/notes"))
            .json(&json!({ "body": "a\u{0}b" }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        match kind {
            DatabaseKind::Postgres => {
                assert_eq!(status, 400, "{body}");
                assert_eq!(body["status"], "fail", "{body}");
                assert_eq!(body["data"]["code"], "INVALID_PAYLOAD", "{body}");
                let message = body["data"]["message"].as_str().unwrap();
                assert!(
                    message.starts_with("the database refused a value: ")
                        && message.contains("0x00"),
                    "{message}"
                );
            }
            DatabaseKind::Sqlite => {
                assert_eq!(status, 201, "{kind:?}: {body}");
                assert_eq!(body["data"]["body"], "a\u{0}b", "{kind:?}");
            }
        }
        let ratio = |n: i64| {
            client()
                .get(server.url(&format!("/notes/ratio/{n}")))
                .send()
        };
        let response = ratio(4).await.unwrap();
        assert_eq!(response.text().await.unwrap(), "25", "{kind:?}");
        // PostgreSQL: 22012 division_by_zero, the query's fault: 500. SQLite has no such
        // error: the quotient is NULL.
        let response = ratio(0).await.unwrap();
        match kind {
            DatabaseKind::Postgres => assert_eq!(response.status().as_u16(), 500),
            DatabaseKind::Sqlite => assert_eq!(response.text().await.unwrap(), "null"),
        }
    }
}

#[tokio::test]
async fn migrations_are_idempotent_across_restarts() {
    for (kind, url, _dir) in databases().await {
        let server = app_server(&url).await;
        client()
            .post(server.url("/notes"))
            .json(&json!({ "body": "kept" }))
            .send()
            .await
            .unwrap();
        drop(server);
        // A second start applies nothing twice and keeps the data.
        let server = app_server(&url).await;
        let audit: Vec<String> = client()
            .get(server.url("/notes/audit"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(audit.len(), 1, "{kind:?}: {audit:?}");
    }
}

#[tokio::test]
async fn the_loop_guard_refuses_reentrant_emission() {
    let dir = tempfile::tempdir().unwrap();
    let server = app_server(&format!("sqlite://{}/loop.db", dir.path().display())).await;
    // A hook that re-emits its own event gets a Reentrant error instead of looping.
    let runs = LOOP_RUNS.load(Ordering::SeqCst);
    let response = client()
        .post(server.url("/events/loop/loop.self"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        LOOP_RUNS.load(Ordering::SeqCst),
        runs + 1,
        "the hook ran exactly once"
    );
    let refused = REFUSED.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        refused,
        "refused to emit `loop.self` re-entrantly (chain: loop.self)"
    );
    // a -> b -> a is refused too; propagated with `?`, the request is a 500 with the envelope.
    let response = client()
        .post(server.url("/events/loop/loop.a"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 500);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "INTERNAL");
}

#[tokio::test]
async fn a_failing_hook_answers_with_its_error_and_stops_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let server = app_server(&format!("sqlite://{}/veto.db", dir.path().display())).await;
    let after = AFTER_VETO.load(Ordering::SeqCst);
    let response = client()
        .post(server.url("/events/loop/note.vetoed"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["message"], "vetoed by a hook");
    assert_eq!(
        AFTER_VETO.load(Ordering::SeqCst),
        after,
        "hooks after the failing one do not run"
    );
}

#[tokio::test]
async fn state_and_server_url() {
    let dir = tempfile::tempdir().unwrap();
    let server = app_server(&format!("sqlite://{}/state.db", dir.path().display())).await;
    let text = client()
        .get(server.url("/state/greeting"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "hello (https://api.example.com)");
    let response = client()
        .get(server.url("/state/missing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 500);
}

#[tokio::test]
async fn without_a_database_context_database_is_a_500() {
    let server = crate::support::start().await;
    let response = client().get(server.url("/notes/1")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 500);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "internal server error");
}

#[tokio::test]
async fn a_bad_database_url_fails_start_up_without_its_password() {
    let mut config = test_config();
    config.database_url = Some(DatabaseUrl(
        "postgres://app:s3cret@127.0.0.1:1/nowhere".into(),
    ));
    config.database_timeout = std::time::Duration::from_millis(500);
    let error = App::new().config(config).bind().await.unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("postgres://app:***@127.0.0.1:1/nowhere"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}

#[tokio::test]
async fn the_start_up_error_does_not_show_the_database_password() {
    for url in [
        "postgres://u@127.0.0.1:1/db?password=hunter2",
        "postgres://u:hunter2@127.0.0.1:1/db",
        "postgres://u:hun%2Fter2@127.0.0.1:1/db",
        "postgres://u:hunter2/x@127.0.0.1:1/db",
    ] {
        let mut config = test_config();
        config.database_url = Some(DatabaseUrl(url.into()));
        config.database_timeout = std::time::Duration::from_millis(300);
        let Err(error) = App::new().config(config).bind().await else {
            panic!("nothing listens on port 1: {url}");
        };
        // `fn main() -> Result<(), Error>` prints `Debug`; a log prints `Display`.
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(shown.starts_with("database: "), "{shown}");
            assert!(
                !shown.contains("hunter2") && !shown.contains("hun%2Fter2"),
                "{shown}"
            );
        }
    }
}

/// Every type each backend has reads and writes through the typed pools: booleans,
/// timestamps, JSON, UUIDs and decimals (before, sqlx's `Any` driver answered an SQLite
/// `BOOLEAN` read with "Any driver does not support the SQLite type Bool").
#[tokio::test]
async fn column_types_read_and_write_on_each_backend() {
    use endpoint_runtime::Pool;
    use sqlx::types::time::{OffsetDateTime, UtcOffset};
    use sqlx::types::{Json, Uuid};

    // Whole microseconds: what both backends keep of a timestamp.
    let at = OffsetDateTime::from_unix_timestamp_nanos(1_764_633_600_123_456_000).unwrap();
    let document = json!({ "tags": ["rust", "sql"], "draft": false, "n": 3 });
    let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    type Read = (bool, OffsetDateTime, Json<Value>, Uuid, String);
    for (kind, url, _dir) in databases().await {
        let database =
            endpoint_runtime::Database::connect(&url, std::time::Duration::from_secs(10))
                .await
                .unwrap();
        let rows: Vec<Read> = match database.pool() {
            Pool::Sqlite(pool) => {
                // SQLite has no decimal type: text keeps the amount exact.
                sqlx::query(
                    "CREATE TABLE typed (flag BOOLEAN NOT NULL, at DATETIME NOT NULL, \
                     doc JSON NOT NULL, id BLOB NOT NULL, amount TEXT NOT NULL)",
                )
                .execute(pool)
                .await
                .unwrap();
                for flag in [true, false] {
                    sqlx::query("INSERT INTO typed VALUES ($1, $2, $3, $4, $5)")
                        .bind(flag)
                        .bind(at)
                        .bind(Json(&document))
                        .bind(id)
                        .bind("12345.67")
                        .execute(pool)
                        .await
                        .unwrap();
                }
                sqlx::query_as("SELECT flag, at, doc, id, amount FROM typed ORDER BY flag DESC")
                    .fetch_all(pool)
                    .await
                    .unwrap()
            }
            Pool::Postgres(pool) => {
                use sqlx::types::Decimal;
                sqlx::query(
                    "CREATE TABLE typed (flag boolean NOT NULL, at timestamptz NOT NULL, \
                     doc jsonb NOT NULL, id uuid NOT NULL, amount numeric(12, 2) NOT NULL)",
                )
                .execute(pool)
                .await
                .unwrap();
                let amount: Decimal = "12345.67".parse().unwrap();
                for flag in [true, false] {
                    sqlx::query("INSERT INTO typed VALUES ($1, $2, $3, $4, $5)")
                        .bind(flag)
                        // The same instant, written with another offset.
                        .bind(at.to_offset(UtcOffset::from_hms(2, 0, 0).unwrap()))
                        .bind(Json(&document))
                        .bind(id)
                        .bind(amount)
                        .execute(pool)
                        .await
                        .unwrap();
                }
                let rows: Vec<(bool, OffsetDateTime, Json<Value>, Uuid, Decimal)> = sqlx::query_as(
                    "SELECT flag, at, doc, id, amount FROM typed ORDER BY flag DESC",
                )
                .fetch_all(pool)
                .await
                .unwrap();
                rows.into_iter()
                    .map(|(flag, at, doc, id, amount)| {
                        assert_eq!(amount, Decimal::new(1_234_567, 2));
                        (flag, at, doc, id, amount.to_string())
                    })
                    .collect()
            }
        };
        assert_eq!(rows.len(), 2, "{kind:?}");
        for ((flag, read_at, Json(doc), read_id, amount), expected) in
            rows.into_iter().zip([true, false])
        {
            assert_eq!(flag, expected, "{kind:?}");
            assert_eq!(read_at, at, "{kind:?}");
            assert_eq!(doc, document, "{kind:?}");
            assert_eq!(read_id, id, "{kind:?}");
            assert_eq!(amount, "12345.67", "{kind:?}");
        }
        // A filter on the boolean binds a `bool`.
        let trues: i64 = with_pool!(&database, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM typed WHERE flag = $1")
                .bind(true)
                .fetch_one(pool)
                .await
        })
        .unwrap();
        assert_eq!(trues, 1, "{kind:?}");
        database.close().await;
    }
}
