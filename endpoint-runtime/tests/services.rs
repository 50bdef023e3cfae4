//! The data services (`ItemsService`, `Permissions`) on SQLite and on PostgreSQL (when
//! `ENDPOINT_TEST_POSTGRES_URL` is set, as `.ci/run` does): a permission matrix of roles ×
//! actions × rows, Directus's query features, and hostile queries refused before any SQL runs.

use endpoint_runtime::prelude::*;
use endpoint_runtime::services::{Permissions, Query};
use endpoint_runtime::testing::{TestClient, TestRequest, TestResponse};
use endpoint_runtime::{Accountability, App, Config, DatabaseUrl};

/// `readByQuery` with the JSON query of the body, as the caller.
#[endpoint(id = "articles", route = "/query", method = post)]
async fn query(ctx: Context, Json(query): Json<Value>) -> Result<Json<Vec<Value>>, EndpointError> {
    let query = Query::from_json(query)?;
    Ok(Json(ctx.items("articles")?.read_by_query(&query).await?))
}

/// `readByQuery` of the authors, with the JSON query of the body, as the caller.
#[endpoint(id = "authors", route = "/query", method = post)]
async fn query_authors(
    ctx: Context,
    Json(query): Json<Value>,
) -> Result<Json<Vec<Value>>, EndpointError> {
    let query = Query::from_json(query)?;
    Ok(Json(ctx.items("authors")?.read_by_query(&query).await?))
}

#[endpoint(id = "articles", route = "/{id}")]
async fn read_one(id: i64, ctx: Context) -> Result<Json<Value>, EndpointError> {
    Ok(Json(
        ctx.items("articles")?.read_one(id, &Query::new()).await?,
    ))
}

#[endpoint(id = "articles", route = "/", method = post)]
async fn create(ctx: Context, Json(item): Json<Value>) -> Result<Json<Value>, EndpointError> {
    Ok(Json(ctx.items("articles")?.create_one(item).await?))
}

#[endpoint(id = "articles", route = "/{id}", method = patch)]
async fn update(
    id: i64,
    ctx: Context,
    Json(item): Json<Value>,
) -> Result<Json<Value>, EndpointError> {
    Ok(Json(ctx.items("articles")?.update_one(id, item).await?))
}

#[endpoint(id = "articles", route = "/{id}", method = delete)]
async fn delete(id: i64, ctx: Context) -> Result<Json<Value>, EndpointError> {
    Ok(Json(ctx.items("articles")?.delete_one(id).await?))
}

/// Publishes every draft matching the body's filter that the caller may update.
#[endpoint(id = "articles", route = "/publish", method = post)]
async fn publish(
    ctx: Context,
    Json(filter): Json<Value>,
) -> Result<Json<Vec<Value>>, EndpointError> {
    let query = Query::new().filter(filter);
    let keys = ctx
        .items("articles")?
        .update_by_query(&query, json!({ "status": "review" }))
        .await?;
    Ok(Json(keys))
}

/// Every article, as the application itself (permissions bypassed).
#[endpoint(id = "admin", route = "/articles")]
async fn all(ctx: Context) -> Result<Json<Vec<Value>>, EndpointError> {
    let query = Query::new().sort(["id"]);
    Ok(Json(
        ctx.items_as_admin("articles")?
            .read_by_query(&query)
            .await?,
    ))
}

fn permissions() -> Permissions {
    Permissions::from_toml(
        include_str!("services/permissions.toml"),
        "tests/services/permissions.toml",
    )
    .expect("the test's permissions")
}

async fn client(
    url: Option<String>,
    permissions: Permissions,
) -> Result<TestClient, endpoint_runtime::Error> {
    let mut config = Config::default();
    config.database_url = url.map(DatabaseUrl);
    App::new()
        .config(config)
        .migrations(endpoint_runtime::migrations!("tests/services"))
        .permissions(permissions)
        .test_client()
        .await
}

fn titles(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .map(|i| i["title"].as_str().unwrap_or("?"))
        .collect()
}

struct Caller(&'static str, Option<Accountability>);

fn callers() -> Vec<Caller> {
    vec![
        Caller("anonymous", None),
        Caller(
            "ann (author)",
            Some(Accountability::user("ann", Some("author"))),
        ),
        Caller(
            "bob (author)",
            Some(Accountability::user("bob", Some("author"))),
        ),
        Caller(
            "eve (editor)",
            Some(Accountability::user("eve", Some("editor"))),
        ),
        Caller(
            "rob (reader, no rules)",
            Some(Accountability::user("rob", Some("reader"))),
        ),
        Caller("root (admin)", Some(Accountability::admin("root"))),
    ]
}

impl Caller {
    /// `request`, sent as this caller.
    fn on(&self, request: TestRequest) -> TestRequest {
        match &self.1 {
            Some(a) => request.as_accountability(a.clone()),
            None => request.as_anonymous(),
        }
    }
}

async fn post_as(client: &TestClient, who: &Caller, path: &str, body: Value) -> (u16, Value) {
    let response = who.on(client.post(path).json(&body)).send().await;
    (response.status().as_u16(), response.json())
}

/// An item the caller may not touch is refused exactly as one that does not exist: both 403,
/// with the same body.
fn assert_no_existence_leak(hidden: TestResponse, missing: TestResponse, kind: &str) {
    assert_eq!(
        (hidden.status().as_u16(), missing.status().as_u16()),
        (403, 403),
        "{kind}"
    );
    assert_eq!(
        hidden.json::<Value>()["data"],
        missing.json::<Value>()["data"],
        "{kind}: no existence leak"
    );
}

async fn check(client: TestClient, kind: &str) {
    let sorted = json!({ "sort": ["id"] });
    // Reads: who sees which rows.
    let expected: [(&str, u16, &[&str]); 6] = [
        (
            "anonymous",
            200,
            &["Ann published", "Bob published", "Ann second"],
        ),
        (
            "ann (author)",
            200,
            &["Ann published", "Ann draft", "Bob published", "Ann second"],
        ),
        (
            "bob (author)",
            200,
            &["Ann published", "Bob published", "Bob draft", "Ann second"],
        ),
        (
            "eve (editor)",
            200,
            &[
                "Ann published",
                "Ann draft",
                "Bob published",
                "Bob draft",
                "Ann second",
            ],
        ),
        // No rule of his own: `public`'s, as everyone.
        (
            "rob (reader, no rules)",
            200,
            &["Ann published", "Bob published", "Ann second"],
        ),
        (
            "root (admin)",
            200,
            &[
                "Ann published",
                "Ann draft",
                "Bob published",
                "Bob draft",
                "Ann second",
            ],
        ),
    ];
    for (who, (name, status, rows)) in callers().iter().zip(expected) {
        assert_eq!(who.0, name);
        let (code, body) = post_as(&client, who, "/articles/query", sorted.clone()).await;
        assert_eq!(code, status, "{kind}: {name} reads: {body}");
        if status == 200 {
            assert_eq!(titles(body.as_array().unwrap()), rows, "{kind}: {name}");
        } else {
            assert_eq!(body["data"]["code"], "FORBIDDEN", "{kind}: {name}");
        }
    }
    let [anonymous, ann, bob, eve, _rob, root] = <[Caller; 6]>::try_from(callers()).ok().unwrap();

    // Fields: `*` is what the role may read; naming, filtering or sorting by another is 403.
    let (_, body) = post_as(
        &client,
        &anonymous,
        "/articles/query",
        json!({ "limit": 1, "sort": "id" }),
    )
    .await;
    assert_eq!(
        body[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["author", "id", "status", "title"],
        "{kind}"
    );
    for query in [
        json!({ "fields": ["views"] }),
        json!({ "filter": { "views": { "_gt": 1 } } }),
        json!({ "sort": ["-views"] }),
        json!({ "aggregate": { "sum": ["views"] } }),
    ] {
        let (code, body) = post_as(&client, &anonymous, "/articles/query", query.clone()).await;
        assert_eq!(code, 403, "{kind}: {query} {body}");
        assert_eq!(body["data"]["details"]["field"], "views", "{kind}: {query}");
    }

    // Relations: `author.name` through the many-to-one field, under `authors`' own rules.
    let (code, body) = post_as(
        &client,
        &anonymous,
        "/articles/query",
        json!({
            "fields": ["title", "author.name"], "filter": { "author": { "name": { "_eq": "Bob" } } }
        }),
    )
    .await;
    assert_eq!(code, 200, "{kind}: {body}");
    assert_eq!(
        body,
        json!([{ "title": "Bob published", "author": { "name": "Bob" } }]),
        "{kind}"
    );
    let (code, body) = post_as(
        &client,
        &anonymous,
        "/articles/query",
        json!({ "fields": ["author.user_id"] }),
    )
    .await;
    assert_eq!(
        (code, &body["data"]["details"]["field"]),
        (403, &json!("user_id")),
        "{kind}: {body}"
    );

    // Directus's example: published articles counted by author.
    let (code, body) = post_as(
        &client,
        &eve,
        "/articles/query",
        json!({
            "aggregate": { "count": "*", "sum": "views" }, "groupBy": ["author"],
            "filter": { "status": { "_eq": "published" } }, "sort": []
        }),
    )
    .await;
    assert_eq!(code, 200, "{kind}: {body}");
    let mut groups = body.as_array().unwrap().clone();
    groups.sort_by_key(|g| g["author"].as_i64());
    assert_eq!(
        groups,
        [
            json!({ "author": 1, "count": 2, "sum": { "views": 30.0 } }),
            json!({ "author": 2, "count": 1, "sum": { "views": 30.0 } }),
        ],
        "{kind}"
    );

    // Search, operators, paging.
    let (_, body) = post_as(
        &client,
        &eve,
        "/articles/query",
        json!({ "search": "draft", "sort": "id" }),
    )
    .await;
    assert_eq!(
        titles(body.as_array().unwrap()),
        ["Ann draft", "Bob draft"],
        "{kind}"
    );
    let (_, body) = post_as(&client, &eve, "/articles/query", json!({
        "filter": { "_and": [{ "views": { "_between": [5, 20] } }, { "title": { "_starts_with": "Ann" } }] },
        "sort": "-views"
    })).await;
    assert_eq!(
        titles(body.as_array().unwrap()),
        ["Ann second", "Ann published"],
        "{kind}"
    );
    let (_, body) = post_as(
        &client,
        &eve,
        "/articles/query",
        json!({ "sort": "id", "limit": 2, "page": 2 }),
    )
    .await;
    assert_eq!(
        titles(body.as_array().unwrap()),
        ["Bob published", "Bob draft"],
        "{kind}"
    );
    let (_, body) = post_as(
        &client,
        &eve,
        "/articles/query",
        json!({ "filter": { "id": { "_in": "2,4" } }, "sort": "id" }),
    )
    .await;
    assert_eq!(
        titles(body.as_array().unwrap()),
        ["Ann draft", "Bob draft"],
        "{kind}"
    );

    // Read one: an item the caller may not see is 403, exactly as one that does not exist.
    let get = |who: &Caller, path: &str| who.on(client.get(path));
    assert_no_existence_leak(
        get(&anonymous, "/articles/2").send().await,
        get(&anonymous, "/articles/99").send().await,
        kind,
    );
    assert_eq!(
        get(&ann, "/articles/2").send().await.json::<Value>()["title"],
        "Ann draft"
    );

    // Create: presets, validation, fields.
    let (code, key) = post_as(
        &client,
        &ann,
        "/articles",
        json!({
            "title": "Ann new", "author": 1, "featured": true, "meta": { "tags": ["rust"] },
            "reference": "6f1c9a3e-8d2b-4c5e-9f1a-2b3c4d5e6f70", "price": 12.5
        }),
    )
    .await;
    assert_eq!(code, 200, "{kind}: {key}");
    let created: Value = get(&root, &format!("/articles/{key}")).send().await.json();
    assert_eq!(created["status"], "draft", "{kind}: the preset");
    // A UUID and a decimal read back as their text (PostgreSQL's `uuid` and `numeric` types,
    // SQLite's declared ones), and filter as values of their kind.
    assert_eq!(
        created["reference"], "6f1c9a3e-8d2b-4c5e-9f1a-2b3c4d5e6f70",
        "{kind}"
    );
    assert_eq!(
        created["price"]
            .as_str()
            .and_then(|p| p.parse::<f64>().ok()),
        Some(12.5),
        "{kind}: {created}"
    );
    for filter in [
        json!({ "price": { "_gte": 10 } }),
        json!({ "price": { "_between": ["12.4", "12.6"] } }),
        json!({ "reference": { "_eq": "6f1c9a3e-8d2b-4c5e-9f1a-2b3c4d5e6f70" } }),
    ] {
        let (code, body) = post_as(
            &client,
            &eve,
            "/articles/query",
            json!({ "fields": ["title"], "filter": filter }),
        )
        .await;
        assert_eq!(
            (code, &body),
            (200, &json!([{ "title": "Ann new" }])),
            "{kind}: {filter}"
        );
    }
    assert_eq!(
        created["featured"], true,
        "{kind}: a boolean reads back as one"
    );
    assert_eq!(
        created["meta"],
        json!({ "tags": ["rust"] }),
        "{kind}: JSON reads back as JSON"
    );
    assert!(
        created["created_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("20")),
        "{kind}: {created}"
    );
    // Refused payloads: (payload, status, code, the field named).
    for (payload, status, code, field) in [
        (
            json!({ "title": null, "author": 1 }),
            400,
            "FAILED_VALIDATION",
            Some("title"),
        ),
        (
            json!({ "title": "x", "views": 1000 }),
            403,
            "FORBIDDEN",
            Some("views"),
        ),
        (
            json!({ "title": "x", "colour": "red" }),
            400,
            "INVALID_PAYLOAD",
            Some("colour"),
        ),
        (
            json!({ "title": "x", "author": "one" }),
            400,
            "INVALID_PAYLOAD",
            Some("author"),
        ),
        // A related item that does not exist: the foreign key refuses it.
        (
            json!({ "title": "x", "author": 77 }),
            400,
            "INVALID_PAYLOAD",
            None,
        ),
    ] {
        let (got, body) = post_as(&client, &ann, "/articles", payload.clone()).await;
        assert_eq!(
            (got, &body["data"]["code"]),
            (status, &json!(code)),
            "{kind}: {payload}: {body}"
        );
        if let Some(field) = field {
            assert_eq!(body["data"]["details"]["field"], field, "{kind}: {payload}");
        }
    }
    let (code, _) = post_as(&client, &anonymous, "/articles", json!({ "title": "x" })).await;
    assert_eq!(code, 403, "{kind}: public may not create");

    // Update: only rows the rule's filter admits; the payload's fields and validation.
    let patch = |who: &Caller, id: i64, body: Value| {
        who.on(client.patch(&format!("/articles/{id}")).json(&body))
    };
    assert_eq!(
        patch(&ann, 2, json!({ "title": "Ann's draft" }))
            .send()
            .await
            .status(),
        200,
        "{kind}"
    );
    assert_no_existence_leak(
        patch(&ann, 4, json!({ "title": "mine now" })).send().await,
        patch(&ann, 99, json!({ "title": "mine now" })).send().await,
        kind,
    );
    let invalid = patch(&ann, 2, json!({ "status": "published" }))
        .send()
        .await;
    assert_eq!(invalid.status(), 400, "{kind}: {}", invalid.text());
    assert_eq!(
        patch(&eve, 4, json!({ "title": "Bob's draft, edited" }))
            .send()
            .await
            .status(),
        200
    );
    let rekeyed = patch(&eve, 4, json!({ "id": 40 })).send().await;
    assert_eq!(
        rekeyed.status(),
        400,
        "{kind}: the primary key is not writable"
    );
    let (code, keys) = post_as(
        &client,
        &bob,
        "/articles/publish",
        json!({ "status": { "_eq": "draft" } }),
    )
    .await;
    assert_eq!(
        (code, keys),
        (200, json!([4])),
        "{kind}: bob moves only his own draft"
    );

    // Delete: editors only.
    let delete = |who: &Caller, id: i64| who.on(client.delete(&format!("/articles/{id}")));
    assert_eq!(delete(&ann, 2).send().await.status(), 403, "{kind}");
    assert_eq!(delete(&eve, 2).send().await.status(), 200, "{kind}");
    let all: Vec<Value> = client
        .get("/admin/articles")
        .as_anonymous()
        .send()
        .await
        .json();
    assert_eq!(
        titles(&all),
        [
            "Ann published",
            "Bob published",
            "Bob's draft, edited",
            "Ann second",
            "Ann new"
        ],
        "{kind}: items_as_admin reads every row"
    );
}

/// Hostile queries: each is refused with 400 `INVALID_QUERY` naming where, before any SQL runs.
async fn hostile(client: TestClient, kind: &str) {
    let eve = Caller(
        "eve (editor)",
        Some(Accountability::user("eve", Some("editor"))),
    );
    let statements = || client.database().unwrap().services_statements();
    let mut deep = json!({ "id": { "_eq": 1 } });
    for _ in 0..20 {
        deep = json!({ "_and": [deep] });
    }
    let deep = json!({ "filter": deep });
    for (query, path) in [
        (
            json!({ "fields": ["title; DROP TABLE articles"] }),
            "fields[0]",
        ),
        (json!({ "fields": ["id", "(SELECT 1)"] }), "fields[1]"),
        (
            json!({ "filter": { "title\" OR 1=1 --": { "_eq": "x" } } }),
            "filter.title\" OR 1=1 --",
        ),
        (
            json!({ "filter": { "status": { "_eqq": "x" } } }),
            "filter.status._eqq",
        ),
        (
            json!({ "filter": { "views": { "_gt": "many" } } }),
            "filter.views._gt",
        ),
        (
            json!({ "filter": { "id": { "_in": [1, "2; DROP TABLE articles"] } } }),
            "filter.id._in[1]",
        ),
        (json!({ "sort": ["-id; DROP TABLE articles"] }), "sort[0]"),
        (
            json!({ "aggregate": { "sum); DROP TABLE articles; --": ["views"] } }),
            "aggregate.sum); DROP TABLE articles; --",
        ),
        (
            json!({ "aggregate": { "sum": ["views); DROP"] } }),
            "aggregate.sum",
        ),
        (
            json!({ "aggregate": { "count": "*" }, "groupBy": ["author--"] }),
            "groupBy[0]",
        ),
        (
            deep,
            "filter._and[0]._and[0]._and[0]._and[0]._and[0]._and[0]._and[0]._and[0]._and[0]",
        ),
        (json!({ "limit": -5 }), "limit"),
        (
            json!({ "aggregate": { "count": "*" }, "sort": ["id"] }),
            "sort",
        ),
        (
            json!({ "aggregate": { "count": "*" }, "fields": ["id"] }),
            "fields",
        ),
        (json!({ "filters": {} }), "query"),
    ] {
        let before = statements();
        let (code, body) = post_as(&client, &eve, "/articles/query", query.clone()).await;
        assert_eq!(code, 400, "{kind}: {query}: {body}");
        assert_eq!(body["data"]["code"], "INVALID_QUERY", "{kind}: {query}");
        assert_eq!(
            body["data"]["details"]["path"], path,
            "{kind}: {query}: {body}"
        );
        assert_eq!(statements(), before, "{kind}: {query} ran SQL");
    }
    // A huge limit is capped, not refused; values are bound, so quotes are only text.
    let (code, body) = post_as(
        &client,
        &eve,
        "/articles/query",
        json!({
            "limit": 1_000_000, "filter": { "title": { "_eq": "x' OR '1'='1" } }
        }),
    )
    .await;
    assert_eq!((code, body), (200, json!([])), "{kind}");
    let (code, body) = post_as(
        &client,
        &eve,
        "/articles/query",
        json!({ "page": i64::MAX }),
    )
    .await;
    assert_eq!(
        (code, body),
        (200, json!([])),
        "{kind}: a page past every row"
    );
    let (code, body) = post_as(
        &client,
        &eve,
        "/articles/query",
        json!({ "limit": 1_000_000 }),
    )
    .await;
    assert_eq!(code, 200, "{kind}");
    assert_eq!(
        body.as_array().unwrap().len(),
        5,
        "{kind}: the table is intact"
    );
}

/// `count(articles)` of each author: a one-to-many count in one query, under the articles'
/// read rules of the caller, narrowed by `deep`.
async fn related_counts(client: TestClient, kind: &str) {
    let counts = |body: &Value| -> Vec<(String, i64)> {
        body.as_array()
            .unwrap_or_else(|| panic!("{kind}: {body}"))
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().unwrap_or("?").to_string(),
                    a["articles_func"]["count"].as_i64().unwrap_or(-1),
                )
            })
            .collect()
    };
    let all = json!({ "fields": ["id", "name", "count(articles)"], "sort": ["id"] });
    let published = json!({
        "fields": ["id", "name", "count(articles)"], "sort": ["id"],
        "deep": { "articles": { "_filter": { "status": { "_eq": "published" } } } },
    });
    // (caller, every article it may read, the published ones)
    // (`public`'s rules apply to every caller: a role without rules of its own counts what
    // anonymous callers do.)
    let expected: [(&str, [i64; 2], [i64; 2]); 6] = [
        ("anonymous", [2, 1], [2, 1]),
        // Her own draft counts; Bob's does not.
        ("ann (author)", [3, 1], [2, 1]),
        ("bob (author)", [2, 2], [2, 1]),
        ("eve (editor)", [3, 2], [2, 1]),
        ("rob (reader, no rules)", [2, 1], [2, 1]),
        ("root (admin)", [3, 2], [2, 1]),
    ];
    for who in callers() {
        let (status, body) = post_as(&client, &who, "/authors/query", all.clone()).await;
        let (_, every, only_published) = expected
            .iter()
            .find(|(name, ..)| *name == who.0)
            .expect("every caller is expected");
        assert_eq!(status, 200, "{kind}: {}: {body}", who.0);
        let names = ["Ann", "Bob"].map(String::from);
        assert_eq!(
            counts(&body),
            names.iter().cloned().zip(*every).collect::<Vec<_>>(),
            "{kind}: {}",
            who.0
        );
        let (status, body) = post_as(&client, &who, "/authors/query", published.clone()).await;
        assert_eq!(status, 200, "{kind}: {}: {body}", who.0);
        assert_eq!(
            counts(&body),
            names
                .iter()
                .cloned()
                .zip(*only_published)
                .collect::<Vec<_>>(),
            "{kind}: {}",
            who.0
        );
    }

    // Refused, naming the path, before any SQL runs.
    let eve = &callers()[3];
    let anonymous = &callers()[0];
    let refused: [(&Caller, Value, u16, &str); 6] = [
        (
            eve,
            json!({ "fields": ["id", "count(nope)"] }),
            400,
            "fields[1]",
        ),
        // `authors` is the one side of `articles.author`, not the other way round.
        (
            eve,
            json!({ "fields": ["count(authors)"] }),
            400,
            "fields[0]",
        ),
        (
            eve,
            json!({ "fields": ["id"], "deep": { "articles": { "_filter": {} } } }),
            400,
            "deep.articles",
        ),
        (
            eve,
            json!({ "fields": ["count(articles)"], "deep": { "articles": { "_sort": ["id"] } } }),
            400,
            "deep.articles._sort",
        ),
        (
            eve,
            json!({ "fields": ["count(articles)"],
                    "deep": { "articles": { "_filter": { "status": { "_eqq": "x" } } } } }),
            400,
            "deep.articles._filter.status._eqq",
        ),
        // Anonymous callers may not read `views`: not even to count by it.
        (
            anonymous,
            json!({ "fields": ["count(articles)"],
                    "deep": { "articles": { "_filter": { "views": { "_gt": 0 } } } } }),
            403,
            "",
        ),
    ];
    let database = client.database().expect("a database");
    let statements = database.services_statements();
    for (who, query, status, path) in refused {
        let (got, body) = post_as(&client, who, "/authors/query", query.clone()).await;
        assert_eq!(got, status, "{kind}: {query}: {body}");
        if !path.is_empty() {
            assert_eq!(
                body["data"]["details"]["path"], path,
                "{kind}: {query}: {body}"
            );
        }
    }
    assert_eq!(
        database.services_statements(),
        statements,
        "{kind}: refused before any SQL runs"
    );
}

#[endpoint_runtime::test]
async fn permissions_and_queries_on_sqlite() {
    check(client(None, permissions()).await.unwrap(), "sqlite").await;
    related_counts(client(None, permissions()).await.unwrap(), "sqlite").await;
    hostile(client(None, permissions()).await.unwrap(), "sqlite").await;
}

#[endpoint_runtime::test]
async fn permissions_and_queries_on_postgres() {
    let Ok(url) = std::env::var("ENDPOINT_TEST_POSTGRES_URL") else {
        eprintln!("ENDPOINT_TEST_POSTGRES_URL is not set: PostgreSQL not tested");
        return;
    };
    check(
        client(Some(url.clone()), permissions()).await.unwrap(),
        "postgres",
    )
    .await;
    related_counts(
        client(Some(url.clone()), permissions()).await.unwrap(),
        "postgres",
    )
    .await;
    hostile(client(Some(url), permissions()).await.unwrap(), "postgres").await;
}

/// A rule that does not fit the schema stops start-up, naming the file and line.
#[endpoint_runtime::test]
async fn a_rule_that_does_not_fit_the_schema_stops_start_up() {
    for (text, expected) in [
        (
            "[public.posts.read]\n",
            "rules.toml:1: `public.posts.read`: the database has no collection `posts`",
        ),
        (
            "\n[public.articles.read]\nfields = [\"id\", \"colour\"]\n",
            "rules.toml:2: `public.articles.read`: `articles` has no field `colour`",
        ),
        (
            "[editor.articles.update]\nfilter = { status = { _eqq = 1 } }\n",
            "rules.toml:1: `editor.articles.update`: filter.status._eqq: unknown operator `_eqq`",
        ),
        (
            "[author.articles.create]\nvalidation = { author = { name = { _eq = \"x\" } } }\n",
            "cannot filter through a relation",
        ),
    ] {
        let permissions = Permissions::from_toml(text, "rules.toml").unwrap();
        let error = client(None, permissions).await.expect_err(text);
        assert!(error.to_string().contains(expected), "{error}");
    }
}

/// Directus's `/items` REST face, through the pipeline and the same permissions.
#[endpoint_runtime::test]
async fn the_items_rest_face() {
    let client = App::new()
        .config(Config::default())
        .migrations(endpoint_runtime::migrations!("tests/services"))
        .permissions(permissions())
        .items_api()
        .test_client()
        .await
        .unwrap();
    let ann = || Accountability::user("ann", Some("author"));
    let eve = || Accountability::user("eve", Some("editor"));

    let response = client
        .get("/items/articles?filter[status][_eq]=published&sort=-id&fields=id,title&limit=2")
        .as_anonymous()
        .send()
        .await;
    assert_eq!(response.status(), 200, "{}", response.text());
    assert_eq!(
        response.json::<Value>(),
        json!({ "status": "success", "data": [
            { "id": 5, "title": "Ann second" }, { "id": 3, "title": "Bob published" }
        ] })
    );
    let response = client
        .get("/items/authors?fields=name,count(articles)&sort=id&deep[articles][_filter][status][_eq]=published")
        .as_accountability(eve())
        .send()
        .await;
    assert_eq!(
        response.json::<Value>()["data"],
        json!([
            { "name": "Ann", "articles_func": { "count": 2 } },
            { "name": "Bob", "articles_func": { "count": 1 } }
        ])
    );
    let json_filter = "/items/articles?filter=%7B%22author%22%3A%7B%22name%22%3A%7B%22_eq%22%3A%22Bob%22%7D%7D%7D&fields=title";
    let response = client.get(json_filter).as_anonymous().send().await;
    assert_eq!(
        response.json::<Value>()["data"],
        json!([{ "title": "Bob published" }])
    );
    let response = client
        .get("/items/articles?filter[status][_eqq]=x")
        .as_anonymous()
        .send()
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>()["data"]["details"]["path"],
        "filter.status._eqq"
    );

    // No existence leak: a hidden item, a missing one, a missing or internal collection.
    for path in [
        "/items/articles/2",
        "/items/articles/99",
        "/items/nope",
        "/items/_sqlx_migrations",
    ] {
        let response = client.get(path).as_anonymous().send().await;
        assert_eq!(response.status(), 403, "{path}: {}", response.text());
    }

    let response = client
        .post("/items/articles")
        .json(&json!({ "title": "Via REST", "author": 1 }))
        .as_accountability(ann())
        .send()
        .await;
    assert_eq!(response.status(), 200, "{}", response.text());
    let created: Value = response.json();
    assert_eq!(created["data"]["status"], "draft", "{created}");
    let id = created["data"]["id"].as_i64().unwrap();

    let response = client
        .patch(&format!("/items/articles/{id}"))
        .json(&json!({ "title": "Via REST, edited" }))
        .as_accountability(ann())
        .send()
        .await;
    assert_eq!(
        response.json::<Value>()["data"]["title"],
        "Via REST, edited"
    );
    let response = client
        .patch("/items/articles/4")
        .json(&json!({ "title": "not hers" }))
        .as_accountability(ann())
        .send()
        .await;
    assert_eq!(response.status(), 403);
    let response = client
        .delete(&format!("/items/articles/{id}"))
        .as_accountability(ann())
        .send()
        .await;
    assert_eq!(response.status(), 403, "authors may not delete");
    let response = client
        .delete(&format!("/items/articles/{id}"))
        .as_accountability(eve())
        .send()
        .await;
    assert_eq!(response.status(), 204);
    let response = client
        .put("/items/articles/1")
        .as_accountability(eve())
        .send()
        .await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET,HEAD,PATCH,DELETE");

    // One operation set per collection in the served document.
    let document: Value = client
        .get("/openapi.json")
        .as_anonymous()
        .send()
        .await
        .json();
    let articles = &document["paths"]["/items/articles"];
    assert_eq!(
        articles["get"]["operationId"], "items_articles_list",
        "{document}"
    );
    assert_eq!(
        articles["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
            ["data"]["items"]["properties"]["featured"]["type"],
        json!(["boolean"])
    );
    assert!(document["paths"]["/items/authors/{id}"]["patch"].is_object());
    assert!(document["paths"].get("/items/_sqlx_migrations").is_none());
}

/// A database that cannot be reached is 503 `SERVICE_UNAVAILABLE` (the seeds'
/// `ServiceUnavailableException`), for reads and writes alike.
#[endpoint_runtime::test]
async fn a_database_that_is_down_is_a_503() {
    let client = client(None, permissions()).await.unwrap();
    let eve = Caller(
        "eve (editor)",
        Some(Accountability::user("eve", Some("editor"))),
    );
    let ann = Caller(
        "ann (author)",
        Some(Accountability::user("ann", Some("author"))),
    );
    let (status, _) = post_as(&client, &eve, "/articles/query", json!({})).await;
    assert_eq!(status, 200);
    client.database().expect("a database").close().await;
    for (who, path, body) in [
        (&eve, "/articles/query", json!({ "sort": ["id"] })),
        (&ann, "/articles", json!({ "title": "lost?", "author": 1 })),
    ] {
        let (status, body) = post_as(&client, who, path, body).await;
        assert_eq!(status, 503, "{path}: {body}");
        // JSend's `error` for a 5xx: the code at the top, the request id in `data`.
        assert_eq!(body["code"], "SERVICE_UNAVAILABLE", "{path}: {body}");
    }
}
