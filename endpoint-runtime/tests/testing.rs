//! The testing story: `#[endpoint_runtime::test]`, a fresh database per test client with the
//! application's migrations applied (SQLite file, in-memory SQLite, and a PostgreSQL schema
//! when `ENDPOINT_TEST_POSTGRES_URL` is set, as `.ci/run` does), and log capture.

use endpoint_runtime::prelude::*;
use endpoint_runtime::sqlx::{self, Row};
use endpoint_runtime::testing::TestClient;
use endpoint_runtime::with_pool;
use endpoint_runtime::{App, Config, DatabaseUrl, Error};

#[derive(serde::Deserialize)]
struct NewNote {
    body: String,
}

/// Writes a note.
#[endpoint(id = "notes", route = "/", method = post, access = public)]
async fn create(ctx: Context, Json(note): Json<NewNote>) -> Result<StatusCode, EndpointError> {
    with_pool!(ctx.database()?, |pool| {
        sqlx::query("INSERT INTO notes (body) VALUES ($1)")
            .bind(&note.body)
            .execute(pool)
            .await
            .map(|_| ())
    })?;
    Ok(StatusCode::CREATED)
}

/// Counts the notes.
#[endpoint(id = "notes", route = "/count")]
async fn count(ctx: Context) -> Result<String, EndpointError> {
    let n: i64 = with_pool!(ctx.database()?, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) AS n FROM notes")
            .fetch_one(pool)
            .await
    })?;
    Ok(n.to_string())
}

/// A configuration that ignores the shell's, with `url` as the database when given.
fn config(url: Option<String>) -> Config {
    let mut config = Config::default();
    config.database_url = url.map(DatabaseUrl);
    config
}

async fn client(url: Option<String>) -> TestClient {
    App::new()
        .config(config(url))
        .migrations(endpoint_runtime::migrations!("tests/migrations"))
        .test_client()
        .await
        .expect("a test client")
}

async fn write_and_count(writer: &TestClient, other: &TestClient) {
    let created = writer
        .post("/notes")
        .json(&serde_json::json!({ "body": "hello" }))
        .send()
        .await;
    assert_eq!(created.status(), 201, "{}", created.text());
    assert_eq!(writer.get("/notes/count").send().await.text(), "1");
    assert_eq!(other.get("/notes/count").send().await.text(), "0");
}

/// Two clients, two databases: what one test writes, another never reads.
#[endpoint_runtime::test]
async fn each_test_client_has_a_database_of_its_own() {
    let (first, second) = (client(None).await, client(None).await);
    write_and_count(&first, &second).await;
}

/// The SQLite file lives in a temporary directory, removed with the client's last clone
/// (not `<binary>.db` in the crate folder, which made a test pass once and fail the next time).
#[endpoint_runtime::test]
async fn the_sqlite_file_is_removed_with_the_client() {
    let client = client(None).await;
    let row = sqlx::query("PRAGMA database_list")
        .fetch_one(client.database().expect("a database").sqlite().unwrap())
        .await
        .unwrap();
    let file = std::path::PathBuf::from(row.try_get::<String, _>("file").unwrap());
    assert!(file.exists(), "{}", file.display());
    assert!(file.starts_with(std::env::temp_dir()), "{}", file.display());
    let clone = client.clone();
    drop(client);
    assert!(file.exists(), "a clone keeps it");
    drop(clone);
    assert!(!file.exists(), "{} is left behind", file.display());
}

/// `sqlite::memory:` works: every query sees the migrated tables (with a pool of several
/// connections, each had its own empty database: "no such table").
#[endpoint_runtime::test]
async fn an_in_memory_database_keeps_its_tables_across_requests() {
    let memory = client(Some("sqlite::memory:".into())).await;
    let writes: Vec<_> = (0..8)
        .map(|i| {
            memory
                .post("/notes")
                .json(&serde_json::json!({ "body": format!("note {i}") }))
                .send()
        })
        .collect();
    for response in futures_util::future::join_all(writes).await {
        assert_eq!(response.status(), 201, "{}", response.text());
    }
    assert_eq!(memory.get("/notes/count").send().await.text(), "8");
    let other = client(Some("sqlite::memory:".into())).await;
    assert_eq!(other.get("/notes/count").send().await.text(), "0");
}

/// With a PostgreSQL URL, each client gets a schema of its own on that server, dropped with
/// it.
#[endpoint_runtime::test]
async fn on_postgres_each_test_client_has_a_schema_of_its_own() {
    let Ok(url) = std::env::var("ENDPOINT_TEST_POSTGRES_URL") else {
        eprintln!("ENDPOINT_TEST_POSTGRES_URL is not set: PostgreSQL not tested");
        return;
    };
    let (first, second) = (
        client(Some(url.clone())).await,
        client(Some(url.clone())).await,
    );
    write_and_count(&first, &second).await;
    let schema: String = sqlx::query("SELECT CAST(current_schema() AS TEXT) AS s")
        .fetch_one(first.database().expect("a database").postgres().unwrap())
        .await
        .unwrap()
        .try_get("s")
        .unwrap();
    assert!(schema.starts_with("endpoint_test_"), "{schema}");
    drop(first);
    let admin = endpoint_runtime::Database::connect(&url, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let left: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM information_schema.schemata WHERE schema_name = $1")
            .bind(&schema)
            .fetch_one(admin.postgres().unwrap())
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
    assert_eq!(left, 0, "schema {schema} is left behind");
}

/// The test attribute installs a subscriber that writes through the harness's capture: the
/// runtime's lines are enabled inside a test, where without it nothing would record them.
#[endpoint_runtime::test]
async fn log_lines_of_a_test_are_recorded() {
    assert!(endpoint_runtime::tracing::enabled!(
        endpoint_runtime::tracing::Level::ERROR
    ));
}

/// A test may return a `Result`, as with `#[test]`.
#[endpoint_runtime::test]
async fn a_test_may_return_a_result() -> Result<(), Error> {
    let client = TestClient::new().await?;
    assert_eq!(client.get("/nope").send().await.status(), 404);
    Ok(())
}
