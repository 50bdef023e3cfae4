//! The schema of the application's database (`Context::schema`, the seeds' `getSchema()`),
//! read from SQLite and from PostgreSQL (when `ENDPOINT_TEST_POSTGRES_URL` is set, as
//! `.ci/run` does) after the application's migrations.

use endpoint_runtime::prelude::*;
use endpoint_runtime::schema::{FieldKind, Relation};
use endpoint_runtime::testing::TestClient;
use endpoint_runtime::{App, Config, DatabaseUrl};
use endpoint_runtime::{sqlx, with_pool};

/// The schema as a handler sees it.
#[endpoint(id = "schema", route = "/")]
async fn schema(ctx: Context) -> Result<Json<Value>, EndpointError> {
    let schema = ctx.schema().await?;
    Ok(Json(serde_json::to_value(&*schema).unwrap_or_default()))
}

/// Reads the schema again.
#[endpoint(id = "schema", route = "/refresh", method = post)]
async fn refresh(ctx: Context) -> Result<Json<Value>, EndpointError> {
    let schema = ctx.schema_refresh().await?;
    Ok(Json(json!(schema.collections.keys().collect::<Vec<_>>())))
}

async fn client(url: Option<String>) -> TestClient {
    let mut config = Config::default();
    config.database_url = url.map(DatabaseUrl);
    App::new()
        .config(config)
        .migrations(endpoint_runtime::migrations!("tests/schema_migrations"))
        .test_client()
        .await
        .expect("a test client")
}

async fn check(client: TestClient, kind: &str) {
    let database = client.database().expect("a database");
    let schema = database.schema().await.expect("the schema");
    assert_eq!(
        schema.collections.keys().collect::<Vec<_>>(),
        ["articles", "authors"],
        "{kind}: sqlx's migration table is not a collection"
    );
    let articles = schema.collection("articles").unwrap();
    assert_eq!(articles.primary_key.as_deref(), Some("id"), "{kind}");
    let names: Vec<&str> = articles.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "title",
            "status",
            "published",
            "author",
            "meta",
            "views",
            "price",
            "created_at"
        ],
        "{kind}: table order"
    );
    let kinds: Vec<FieldKind> = articles.fields.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            FieldKind::Integer,
            FieldKind::Text,
            FieldKind::Text,
            FieldKind::Boolean,
            FieldKind::Integer,
            FieldKind::Json,
            FieldKind::Integer,
            FieldKind::Decimal,
            FieldKind::Timestamp
        ],
        "{kind}"
    );
    let field = |name: &str| articles.field(name).unwrap();
    assert!(field("id").primary_key && !field("id").nullable, "{kind}");
    assert!(!field("title").nullable && field("meta").nullable, "{kind}");
    assert!(
        field("status")
            .default
            .as_deref()
            .is_some_and(|d| d.starts_with("'draft'")),
        "{kind}: {:?}",
        field("status").default
    );
    assert_eq!(field("price").default, None, "{kind}");
    let relations: Vec<(&str, &str, &str, &str)> = schema
        .relations
        .iter()
        .map(|r: &Relation| {
            (
                r.collection.as_str(),
                r.field.as_str(),
                r.related_collection.as_str(),
                r.related_field.as_str(),
            )
        })
        .collect();
    assert_eq!(
        relations,
        [("articles", "author", "authors", "id")],
        "{kind}: `REFERENCES authors` points at its primary key"
    );
    assert_eq!(
        schema
            .relation("articles", "author")
            .map(|r| r.related_collection.as_str()),
        Some("authors")
    );

    // A handler reads the same schema; a table created at run time appears on refresh.
    let body: Value = client.get("/schema").send().await.json();
    assert_eq!(
        body["collections"]["authors"]["primary_key"], "id",
        "{kind}"
    );
    assert_eq!(
        body["collections"]["articles"]["fields"][3]["kind"], "boolean",
        "{kind}"
    );
    with_pool!(&database, |pool| {
        sqlx::query("CREATE TABLE tags (name TEXT PRIMARY KEY)")
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    let cached: Value = client.get("/schema").send().await.json();
    assert!(
        cached["collections"].get("tags").is_none(),
        "{kind}: cached"
    );
    let refreshed: Value = client.post("/schema/refresh").send().await.json();
    assert_eq!(refreshed, json!(["articles", "authors", "tags"]), "{kind}");
}

#[endpoint_runtime::test]
async fn the_schema_of_sqlite() {
    check(client(None).await, "sqlite").await;
}

#[endpoint_runtime::test]
async fn the_schema_of_postgres() {
    let Ok(url) = std::env::var("ENDPOINT_TEST_POSTGRES_URL") else {
        eprintln!("ENDPOINT_TEST_POSTGRES_URL is not set: PostgreSQL not tested");
        return;
    };
    check(client(Some(url)).await, "postgres").await;
}
