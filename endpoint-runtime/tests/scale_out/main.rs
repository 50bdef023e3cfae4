//! Past one machine, on SQLite and on PostgreSQL (when `ENDPOINT_TEST_POSTGRES_URL` is set, as
//! `.ci/run` does): durable hooks through the transactional outbox (`outbox.rs`), idempotency
//! keys (`idempotency.rs`), events to every instance over `LISTEN/NOTIFY`
//! (`cluster_events.rs`) and scheduled jobs run once per tick (`schedules.rs`), with several
//! instances on one database.
//!
//! A test binary of its own: durable hooks and idempotent endpoints need a database, so an
//! application without one refuses to start, and the integration suite's applications mostly
//! have none.

#[path = "../integration/support.rs"]
#[allow(dead_code)]
mod support;

mod cluster_events;
mod idempotency;
mod outbox;
mod schedules;

use std::time::{Duration, Instant};

use endpoint_runtime::{App, Database, DatabaseUrl, sqlx, with_pool};
use support::{TestServer, client, start_app, test_config};

/// Which instance serves, as its hooks and handlers see it: the application's state.
pub(crate) struct Instance(&'static str);

/// The databases to test on: an SQLite file in `dir`, and a fresh schema on PostgreSQL when
/// `ENDPOINT_TEST_POSTGRES_URL` is set. Each has the tables `things` and `deliveries`.
pub(crate) async fn databases(dir: &tempfile::TempDir) -> Vec<(&'static str, String)> {
    let mut urls = vec![(
        "sqlite",
        format!("sqlite://{}", dir.path().join("outbox.db").display()),
    )];
    match std::env::var("ENDPOINT_TEST_POSTGRES_URL") {
        Ok(url) => urls.push(("postgres", postgres_schema(&url).await)),
        Err(_) => eprintln!("ENDPOINT_TEST_POSTGRES_URL is not set: PostgreSQL not tested"),
    }
    for (_, url) in &urls {
        let database = connect(url).await;
        for statement in [
            "CREATE TABLE things (n BIGINT NOT NULL)",
            "CREATE TABLE deliveries (event_id TEXT NOT NULL, hook TEXT NOT NULL, n BIGINT NOT NULL, instance TEXT NOT NULL)",
        ] {
            with_pool!(&database, |pool| {
                sqlx::query(statement).execute(pool).await.map(|_| ())
            })
            .unwrap();
        }
        database.close().await;
    }
    urls
}

/// A connection pool on the database at `url`.
async fn connect(url: &str) -> Database {
    Database::connect(url, Duration::from_secs(10))
        .await
        .unwrap()
}

/// A new schema on the server at `url`, and a URL whose connections use it.
pub(crate) async fn postgres_schema(url: &str) -> String {
    let schema = format!("outbox_{}", uuid::Uuid::new_v4().simple());
    let database = connect(url).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(database.postgres().unwrap())
        .await
        .unwrap();
    database.close().await;
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options%5Bsearch_path%5D={schema}")
}

/// An instance named `name` on the database at `url`; `deliver`: whether it delivers.
pub(crate) async fn instance(name: &'static str, url: &str, deliver: bool) -> TestServer {
    let mut config = test_config();
    config.database_url = Some(DatabaseUrl(url.to_string()));
    config.outbox.deliver = deliver;
    config.outbox.backoff = Duration::from_millis(20);
    config.outbox.attempts = 3;
    config.outbox.poll = Duration::from_millis(200);
    start_app(App::new().config(config).state(Instance(name))).await
}

pub(crate) async fn post(server: &TestServer, path: &str) -> u16 {
    client()
        .post(server.url(path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Runs `sql` on the database at `url`.
pub(crate) async fn execute(url: &str, sql: &str) {
    let database = connect(url).await;
    with_pool!(&database, |pool| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    database.close().await;
}

/// The rows of `sql` (one text column) once `done` says they are complete, or what they are
/// after 10 s.
pub(crate) async fn rows_when(
    url: &str,
    sql: &str,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let database = connect(url).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows: Vec<String> = with_pool!(&database, |pool| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
        })
        .unwrap();
        if done(&rows) || Instant::now() > deadline {
            database.close().await;
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
