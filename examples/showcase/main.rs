//! Every endpoint of the seed documents (Directus, CairnCMS, Factor, Astro) in one
//! application, on a real database: SQLite by default (the file `showcase.db` is created in
//! the working directory on first start), PostgreSQL when `ENDPOINT_DATABASE_URL` says
//! `postgres://`.
//!
//! ```text
//! cargo run --example showcase                      # serve
//! cargo run --example showcase -- build --out dist  # prerender builtwith.json, api/{0,1,2}.json, pixel.png
//! ```
//!
//! The README walks through every endpoint with curl.

use std::time::{SystemTime, UNIX_EPOCH};

use endpoint_runtime::axum::body::Bytes;
use endpoint_runtime::axum::extract::{FromRequest, Request};
use endpoint_runtime::axum::http::Method;
use endpoint_runtime::axum::response::Redirect;
use endpoint_runtime::confined::{ConfinedError, ConfinedRequest, Host, Reply};
use endpoint_runtime::multipart::Multipart;
use endpoint_runtime::openapi::{DocumentedExtractor, OperationDoc};
use endpoint_runtime::prelude::*;
use endpoint_runtime::schemars::JsonSchema;
use endpoint_runtime::services::{Permissions, Query};
use endpoint_runtime::sse::{JsonEvent, Stream, StreamExt, stream};
use endpoint_runtime::validation::Range;
use endpoint_runtime::ws::{Message as WsMessage, WebSocketUpgrade};
use endpoint_runtime::{sqlx, with_pool};
use serde::{Deserialize, Serialize};

// ----- Directus / CairnCMS: the greet extension -------------------------------------------

/// Greet the world.
#[endpoint(id = "greet", route = "/")]
async fn hello() -> &'static str {
    "Hello, World!"
}

/// Introduce ourselves.
#[endpoint(id = "greet", route = "/intro")]
async fn intro() -> &'static str {
    "Nice to meet you."
}

/// Say goodbye.
#[endpoint(id = "greet", route = "/goodbye")]
async fn goodbye() -> &'static str {
    "Goodbye!"
}

// ----- Directus: recipes and article statistics -------------------------------------------

#[derive(Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct Recipe {
    id: i64,
    title: String,
    views: i64,
}

/// The ten most viewed recipes, read with the data services (Directus's `ItemsService`) as
/// the caller: `permissions.toml` lets everyone read them.
#[endpoint(id = "recipes", route = "/popular")]
async fn popular_recipes(ctx: Context) -> Result<Json<Vec<Recipe>>, EndpointError> {
    let query = Query::new()
        .fields(["id", "title", "views"])
        .sort(["-views", "id"])
        .limit(10);
    Ok(Json(ctx.items("recipes")?.read_by_query(&query).await?))
}

#[derive(Serialize, JsonSchema)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct AuthorStats {
    author_id: i64,
    author: String,
    published: i64,
}

#[derive(Deserialize)]
struct AuthorRow {
    id: i64,
    name: String,
    /// `count(articles)`, as Directus returns a function of a field.
    articles_func: Count,
}

#[derive(Deserialize)]
struct Count {
    count: i64,
}

/// Published articles per author, in one query: the authors with Directus's `count()` of their
/// one-to-many `articles`, narrowed by `deep`. Who sees which authors and articles is
/// `permissions.toml`'s rule, not this code's: editors and admins see every author, an `author`
/// their own row; anyone else is refused (403). A query string cannot widen it.
#[endpoint(id = "article-stats", route = "/by-author", access = authenticated)]
async fn articles_by_author(ctx: Context) -> Result<Json<Vec<AuthorStats>>, EndpointError> {
    let query = Query::new()
        .fields(["id", "name", "count(articles)"])
        .deep_filter("articles", json!({ "status": { "_eq": "published" } }))
        .sort(["id"])
        .limit(-1);
    let authors: Vec<AuthorRow> = ctx.items("authors")?.read_by_query(&query).await?;
    Ok(Json(
        authors
            .into_iter()
            .map(|author| AuthorStats {
                author_id: author.id,
                author: author.name,
                published: author.articles_func.count,
            })
            .collect(),
    ))
}

/// A draft: checked before `create_article` runs (422 `FAILED_VALIDATION` naming each field),
/// and the same rules are in the OpenAPI schema.
#[derive(Deserialize, JsonSchema, garde::Validate)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct NewArticle {
    #[garde(length(chars, min = 1, max = 200))]
    title: String,
    #[garde(range(min = 1))]
    author_id: i64,
}

/// Creates a draft article: editors and admins. Idempotent: a retry that carries the same
/// `Idempotency-Key` is answered with the first response (one article, not two), on any
/// instance. It picks its status at run time (`(StatusCode, T)`), so the attribute states the
/// one the document gives.
#[endpoint(id = "articles", route = "/", method = post, roles = ["editor"], idempotent, status = 201)]
async fn create_article(
    ctx: Context,
    Json(new): Json<NewArticle>,
) -> Result<(StatusCode, JSend<Value>), EndpointError> {
    let created: Result<i64, sqlx::Error> = with_pool!(ctx.database()?, |pool| {
        sqlx::query_scalar("INSERT INTO articles (title, author_id) VALUES ($1, $2) RETURNING id")
            .bind(&new.title)
            .bind(new.author_id)
            .fetch_one(pool)
            .await
    });
    let id = match created {
        Err(sqlx::Error::Database(error)) if error.is_foreign_key_violation() => {
            return Err(EndpointError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNKNOWN_AUTHOR",
                format!("there is no author {}", new.author_id),
            ));
        }
        other => other?,
    };
    Ok((
        StatusCode::CREATED,
        JSend(json!({ "id": id, "title": new.title, "status": "draft" })),
    ))
}

#[derive(Deserialize, JsonSchema, garde::Validate)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct Message {
    #[garde(length(chars, min = 1, max = 2000))]
    message: String,
}

/// Sends a message to the editors: three per minute per caller (the user, else the client
/// IP), counted across every instance when they share a Redis (`ENDPOINT_REDIS_URL`).
#[endpoint(id = "contact", route = "/", method = post, rate_limit = "3/minute")]
async fn contact(who: Accountability, Json(message): Json<Message>) -> Accepted<JSend<Value>> {
    endpoint_runtime::tracing::info!(user = ?who.user, bytes = message.message.len(), "message for the editors");
    Accepted(JSend(json!({ "received": true })))
}

/// Publishes an article: editors and admins. Emits `article.published` in the transaction
/// that publishes it: the durable audit hook records it after the commit, at least once, even
/// if this instance stops right after committing (another delivers it).
#[endpoint(id = "articles", route = "/{id}/publish", method = post, roles = ["editor"])]
async fn publish_article(
    id: i64,
    who: Accountability,
    ctx: Context,
) -> Result<JSend<Value>, EndpointError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(EndpointError::internal)?
        .as_secs() as i64;
    let mut tx = ctx.transaction().await?;
    let updated = with_pool!(&mut tx, |conn| {
        sqlx::query("UPDATE articles SET status = 'published', published_at = $1, published_by = $2 WHERE id = $3 AND status = 'draft'")
            .bind(now)
            .bind(who.user.clone())
            .bind(id)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })?;
    if updated == 0 {
        let exists: Option<i64> = with_pool!(&mut tx, |conn| {
            sqlx::query_scalar("SELECT id FROM articles WHERE id = $1")
                .bind(id)
                .fetch_optional(conn)
                .await
        })?;
        return Err(match exists {
            None => EndpointError::not_found(format!("article {id} not found")),
            Some(_) => EndpointError::new(
                StatusCode::CONFLICT,
                "ALREADY_PUBLISHED",
                format!("article {id} is already published"),
            ),
        });
    }
    tx.emit(
        "article.published",
        json!({ "id": id, "published_at": now }),
    )
    .await?;
    tx.commit().await?;
    Ok(JSend(
        json!({ "id": id, "status": "published", "published_by": who.user }),
    ))
}

/// Writes an audit row for every published article: durable, so delivered after the commit,
/// at least once, by whichever instance claims it; the event's id makes a redelivery write
/// nothing.
#[hook(event = "article.published", durable)]
async fn audit_publication(event: Event, ctx: Context) -> Result<(), EndpointError> {
    // When it was published, not when the hook runs (possibly later, on another instance).
    let at = event.payload["published_at"].as_i64().unwrap_or_default();
    with_pool!(ctx.database()?, |pool| {
        sqlx::query(
            "INSERT INTO audit_log (event, subject, actor, created_at, event_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&event.name)
        .bind(format!("article:{}", event.payload["id"]))
        .bind(event.accountability.user.clone())
        .bind(at)
        .bind(&event.id)
        .execute(pool)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// How long audit rows are kept: 90 days, in seconds.
const AUDIT_RETENTION: i64 = 90 * 24 * 60 * 60;

/// Deletes the audit rows older than 90 days, every night at 03:30 UTC (the seeds'
/// `schedule('30 3 * * *', …)`): once per night across the instances that share the database,
/// as the system caller. Run it now with `showcase run-job audit.prune`.
#[schedule(cron = "30 3 * * *", name = "audit.prune")]
async fn prune_audit_log(ctx: Context) -> Result<(), EndpointError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(EndpointError::internal)?
        .as_secs() as i64;
    let deleted = with_pool!(ctx.database()?, |pool| {
        sqlx::query("DELETE FROM audit_log WHERE created_at < $1")
            .bind(now - AUDIT_RETENTION)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })?;
    endpoint_runtime::tracing::info!(deleted, "old audit rows deleted");
    Ok(())
}

/// An audit row: id, event, subject, actor.
type AuditRow = (i64, String, String, Option<String>);

/// The audit log, newest first: admins only.
#[endpoint(id = "audit-log", route = "/", access = admin)]
async fn audit_log(ctx: Context) -> Result<Json<Vec<Value>>, EndpointError> {
    let rows: Vec<AuditRow> = with_pool!(ctx.database()?, |pool| {
        sqlx::query_as("SELECT id, event, subject, actor FROM audit_log ORDER BY id DESC")
            .fetch_all(pool)
            .await
    })?;
    Ok(Json(
        rows.into_iter()
            .map(|(id, event, subject, actor)| {
                json!({ "id": id, "event": event, "subject": subject, "actor": actor })
            })
            .collect(),
    ))
}

/// An audit row, as the live audit log sends it.
#[derive(Serialize, JsonSchema)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct AuditEntry {
    id: i64,
    event: String,
    subject: String,
    actor: Option<String>,
}

/// The audit log, live (server-sent events): every row after the client's `Last-Event-ID`
/// (all of them on a first connection), oldest first, then each new one as it is written, by
/// this instance or another (the table is read in pages of 100, and every half second once
/// nothing is new). Each event's `id` is the row's, so a reconnecting `EventSource` resumes
/// where it left off. Admins only, checked before the first event. A feed by id misses a row
/// whose id was taken before a later row's but committed after it was read (concurrent
/// writers on PostgreSQL): a production feed reads by a commit-ordered column.
#[endpoint(id = "audit-log", route = "/live", access = admin)]
async fn audit_live(
    ctx: Context,
    LastEventId(last): LastEventId,
) -> Sse<impl Stream<Item = JsonEvent<AuditEntry>>> {
    let after = last.and_then(|id| id.parse::<i64>().ok()).unwrap_or(0);
    let rows = stream::unfold((ctx, after, false), |(ctx, after, caught_up)| async move {
        if caught_up {
            endpoint_runtime::tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let database = ctx.database().ok()?;
        let read: Result<Vec<AuditRow>, _> = with_pool!(database, |pool| {
            sqlx::query_as(
                    "SELECT id, event, subject, actor FROM audit_log WHERE id > $1 ORDER BY id LIMIT 100",
                )
                .bind(after)
                .fetch_all(pool)
                .await
        });
        let rows = match read {
            Ok(rows) => rows,
            Err(error) => {
                // The client reconnects with the last id it got.
                endpoint_runtime::tracing::warn!(%error, "the live audit log cannot read the table: stream ended");
                return None;
            }
        };
        let newest = rows.last().map_or(after, |row| row.0);
        let caught_up = rows.len() < 100;
        Some((stream::iter(rows), (ctx, newest, caught_up)))
    });
    Sse::new(rows.flatten().map(|(id, event, subject, actor)| {
        JsonEvent::new(AuditEntry {
            id,
            event,
            subject,
            actor,
        })
        .id(id.to_string())
        .event("audit")
    }))
}

/// Where uploads are stored, below the working directory.
const UPLOADS: &str = "uploads";

/// A stored upload.
#[derive(Serialize, JsonSchema)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct Upload {
    /// The file's SHA-256 in hex, which is also its id (`GET /uploads/{sha256}`).
    sha256: String,
    /// Its size in bytes.
    size: u64,
    /// The file name the client gave, if any.
    name: Option<String>,
}

/// The upload form: a `multipart/form-data` body with a `file` field. A type of its own so
/// that the OpenAPI document says so (a bare `Multipart` is documented as any form).
struct UploadForm(Multipart);

impl<S: Send + Sync> FromRequest<S> for UploadForm {
    type Rejection = EndpointError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Multipart::from_request(request, state)
            .await
            .map(UploadForm)
    }
}

impl DocumentedExtractor for UploadForm {
    fn document(doc: &mut OperationDoc<'_>) {
        doc.body(
            "multipart/form-data",
            json!({
                "type": "object",
                "required": ["file"],
                "properties": { "file": { "type": "string", "format": "binary" } },
            }),
        );
    }
}

/// Stores the form's `file` field (up to 256 MiB), streamed to disk and hashed as it arrives:
/// never whole in memory. Authenticated callers only.
#[endpoint(
    id = "uploads",
    route = "/",
    method = post,
    access = authenticated,
    body_limit = "256MiB",
    timeout = "10m"
)]
async fn upload(UploadForm(mut form): UploadForm) -> Result<Created<Json<Upload>>, EndpointError> {
    use endpoint_runtime::tokio::io::AsyncWriteExt as _;
    use sha2::Digest as _;
    while let Some(mut field) = form.next_field().await? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().map(str::to_string);
        endpoint_runtime::tokio::fs::create_dir_all(UPLOADS).await?;
        // Written under a name of its own, renamed to its hash once complete.
        static PARTIALS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let partial = format!(
            "{UPLOADS}/.partial-{}-{}",
            std::process::id(),
            PARTIALS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        // Removed if anything below fails, or the handler is stopped (timeout, shutdown).
        let guard = Partial(Some(partial.clone()));
        let mut file = endpoint_runtime::tokio::fs::File::create(&partial).await?;
        let (mut hasher, mut size) = (sha2::Sha256::new(), 0u64);
        while let Some(chunk) = field.chunk().await? {
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
            size += chunk.len() as u64;
        }
        // On disk before it is named by its hash: a crash never leaves a short file so named.
        file.sync_all().await?;
        let sha256: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        endpoint_runtime::tokio::fs::rename(&partial, format!("{UPLOADS}/{sha256}")).await?;
        guard.keep();
        return Ok(Created(Json(Upload { sha256, size, name })));
    }
    Err(EndpointError::invalid_payload(
        "expected a multipart/form-data body with a `file` field",
    ))
}

/// A file being uploaded, removed when dropped unless kept.
struct Partial(Option<String>);

impl Partial {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A stored upload by its SHA-256, sent as it is read from disk. Authenticated callers only.
#[endpoint(id = "uploads", route = "/{sha256}", access = authenticated)]
async fn download(sha256: String) -> Result<Response, EndpointError> {
    if sha256.len() != 64
        || !sha256
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(EndpointError::not_found("no such upload"));
    }
    let file = match endpoint_runtime::tokio::fs::File::open(format!("{UPLOADS}/{sha256}")).await {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(EndpointError::not_found("no such upload"));
        }
        Err(error) => return Err(error.into()),
    };
    let size = file.metadata().await?.len();
    Ok((
        [
            ("content-type", "application/octet-stream".to_string()),
            ("content-length", size.to_string()),
        ],
        endpoint_runtime::body::from_file(file),
    )
        .into_response())
}

/// A WebSocket that answers each text message with the caller's name and the message
/// (`ann: hello`), and the message `who` with the caller's accountability as JSON.
/// Authenticated callers only, checked on the upgrade request, as is `Origin`.
#[endpoint(id = "chat", route = "/ws", access = authenticated)]
async fn chat(upgrade: WebSocketUpgrade, who: Accountability) -> Response {
    upgrade.on_upgrade(move |mut socket| async move {
        let user = who.user.clone().unwrap_or_default();
        while let Some(Ok(message)) = socket.recv().await {
            let reply = match message {
                WsMessage::Text(text) if text.as_str() == "who" => {
                    json!({ "user": who.user, "role": who.role, "admin": who.admin }).to_string()
                }
                WsMessage::Text(text) => format!("{user}: {text}"),
                WsMessage::Close(_) => break,
                _ => continue,
            };
            if socket.send(WsMessage::Text(reply.into())).await.is_err() {
                break;
            }
        }
    })
}

// ----- Factor ------------------------------------------------------------------------------

/// Factor's `data`: a struct, so the keys keep the seed's order (`foo`, `param`, `args`).
#[derive(Serialize, JsonSchema)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct FactorEcho {
    foo: &'static str,
    param: String,
    args: Value,
}

/// Factor's endpoint: JSend success with `foo`, the path parameter and the request body.
#[endpoint(id = "my-endpoint-path", route = "/{param}", method = post)]
async fn my_endpoint(param: String, Json(args): Json<Value>) -> JSend<FactorEcho> {
    JSend(FactorEcho {
        foo: "bar",
        param,
        args,
    })
}

// ----- Astro, mounted at the site root -----------------------------------------------------

/// Astro's `builtwith.json`: prerendered by `build` into `dist/builtwith.json`, and served
/// live by `serve` all the same.
#[endpoint(id = "/", route = "/builtwith.json", prerender)]
async fn built_with() -> Json<Value> {
    Json(json!({ "name": "Astro", "url": "https://astro.build/" }))
}

/// The names of Astro's dynamic-route example.
const USERNAMES: [&str; 3] = ["Sarah", "Chris", "Dan"];

/// One URL to prerender for [`username`]: its fields are the route's parameters.
struct UserPath {
    id: String,
}

/// Astro's `getStaticPaths()`: the ids to prerender.
fn user_ids() -> Vec<UserPath> {
    (0..USERNAMES.len())
        .map(|id| UserPath { id: id.to_string() })
        .collect()
}

/// Astro's dynamic route `src/pages/api/[id].json.ts`: a user's name, prerendered for ids 0, 1
/// and 2 into `dist/api/0.json` … `2.json`; served live for any id (404 past the list).
#[endpoint(id = "api", route = "/{id}.json", prerender, static_paths = user_ids)]
async fn username(id: String) -> Result<Json<Value>, EndpointError> {
    let name = id
        .parse::<usize>()
        .ok()
        .and_then(|index| USERNAMES.get(index))
        .ok_or_else(|| EndpointError::not_found(format!("no user {id}")))?;
    Ok(Json(json!({ "name": name })))
}

/// A binary body, prerendered byte for byte: a 1×1 PNG.
#[endpoint(id = "/", route = "/pixel.png", prerender)]
async fn pixel() -> (
    [(endpoint_runtime::axum::http::HeaderName, &'static str); 1],
    &'static [u8],
) {
    (
        [(
            endpoint_runtime::axum::http::header::CONTENT_TYPE,
            "image/png",
        )],
        PIXEL_PNG,
    )
}

/// The PNG [`pixel`] answers.
const PIXEL_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xb0, 0x6e, 0xfa, 0xf6,
    0x1f, 0x00, 0x05, 0x62, 0x02, 0xb3, 0x40, 0xbc, 0xc5, 0x4f, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// `methods.json`: GET, POST and DELETE have their own handlers...
#[endpoint(id = "/", route = "/methods.json", method = get)]
async fn methods_get() -> Json<Value> {
    Json(json!({ "message": "This was a GET!" }))
}

#[endpoint(id = "/", route = "/methods.json", method = post)]
async fn methods_post() -> Json<Value> {
    Json(json!({ "message": "This was a POST!" }))
}

#[endpoint(id = "/", route = "/methods.json", method = delete)]
async fn methods_delete() -> Json<Value> {
    Json(json!({ "message": "This was a DELETE!" }))
}

/// ...and every other method lands in `all`.
#[endpoint(id = "/", route = "/methods.json", method = all)]
async fn methods_all(method: Method) -> Json<Value> {
    Json(json!({ "message": format!("This was a {method}!") }))
}

/// The body Astro's `test-post.json` expects.
#[derive(serde::Deserialize, JsonSchema)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct Named {
    name: String,
}

/// Astro's rule for `test-post.json`: a JSON body with a string `name`, and 400 for anything
/// else (the runtime's `Json` would answer a wrong content type with 415).
struct NameBody(String);

impl<S: Send + Sync> FromRequest<S> for NameBody {
    type Rejection = EndpointError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = endpoint_runtime::extract::is_json(request.headers());
        if !is_json {
            return Err(EndpointError::invalid_payload(
                "send a JSON body with `Content-Type: application/json`",
            ));
        }
        let body = Bytes::from_request(request, state).await.map_err(|e| {
            EndpointError::invalid_payload(format!("cannot read the body: {}", e.body_text()))
        })?;
        let named: Named = serde_json::from_slice(&body)
            .map_err(|_| EndpointError::invalid_payload("the body needs a string `name`"))?;
        Ok(NameBody(named.name))
    }
}

impl DocumentedExtractor for NameBody {
    fn document(doc: &mut OperationDoc<'_>) {
        doc.json_body::<Named>();
    }
}

/// Astro's `test-post.json`: a JSON body with a `name`, else 400.
#[endpoint(id = "/", route = "/test-post.json", method = post)]
async fn test_post(NameBody(name): NameBody) -> Json<Value> {
    Json(json!({ "message": format!("Your name was: {name}") }))
}

/// Astro's redirect example: 307 to the stored URL, or 404.
#[endpoint(id = "/", route = "/links/{id}")]
async fn link(id: String, ctx: Context) -> Result<Redirect, EndpointError> {
    let url: Option<String> = with_pool!(ctx.database()?, |pool| {
        sqlx::query_scalar("SELECT url FROM links WHERE id = $1")
            .bind(&id)
            .fetch_optional(pool)
            .await
    })?;
    match url {
        Some(url) => Ok(Redirect::temporary(&url)),
        None => Err(EndpointError::not_found(format!("no link `{id}`"))),
    }
}

/// Astro's dynamic product route: the product as JSON, or 404. Product ids run from 1 to
/// 1,000,000: another integer is 422 before the query runs.
#[endpoint(id = "/", route = "/products/{id}")]
async fn product(id: Range<1, 1_000_000>, ctx: Context) -> Result<Json<Value>, EndpointError> {
    let (id, name, price, description): (i64, String, f64, String) =
        with_pool!(ctx.database()?, |pool| {
            sqlx::query_as("SELECT id, name, price, description FROM products WHERE id = $1")
                .bind(id.get())
                .fetch_optional(pool)
                .await
        })?
        .ok_or_else(|| EndpointError::not_found(format!("product {id} not found")))?;
    Ok(Json(json!({
        "id": id,
        "name": name,
        "price": price,
        "description": description,
    })))
}

// ----- Validation from the type ------------------------------------------------------------

/// An order: every rule below is checked before `place_order` runs, all at once (a bad SKU in
/// the third line and a blank customer give two errors, `items[2].sku` and `customer`), and
/// each is in the OpenAPI schema.
#[derive(Deserialize, JsonSchema, garde::Validate)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct Order {
    #[garde(length(chars, min = 1, max = 80))]
    customer: String,
    #[garde(length(min = 1, max = 20), dive)]
    items: Vec<OrderLine>,
}

#[derive(Deserialize, JsonSchema, garde::Validate)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct OrderLine {
    /// Three capitals, a dash, four digits: `ABC-1234`.
    #[garde(length(chars, min = 8, max = 8), pattern("^[A-Z]{3}-[0-9]{4}"))]
    sku: String,
    #[garde(range(min = 1, max = 99))]
    quantity: u32,
}

#[derive(Serialize, JsonSchema)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct OrderPlaced {
    customer: String,
    lines: usize,
    units: u32,
}

/// Places an order (it is only counted): the body is validated from its type.
#[endpoint(id = "orders", route = "/", method = post)]
async fn place_order(Json(order): Json<Order>) -> Created<JSend<OrderPlaced>> {
    JSend::created(OrderPlaced {
        lines: order.items.len(),
        units: order.items.iter().map(|line| line.quantity).sum(),
        customer: order.customer,
    })
}

// ----- API versions and deprecation ---------------------------------------------------------

#[derive(Serialize, JsonSchema)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct CatalogItem {
    sku: String,
    name: String,
}

#[derive(Serialize, JsonSchema)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct CatalogPage {
    items: Vec<CatalogItem>,
    total: usize,
}

fn catalog_items() -> Vec<CatalogItem> {
    [("TEA-0001", "Sencha"), ("TEA-0002", "Assam")]
        .into_iter()
        .map(|(sku, name)| CatalogItem {
            sku: sku.into(),
            name: name.into(),
        })
        .collect()
}

/// The catalog as a bare list: API versions before 2.0 (`api-version: 1.0`), deprecated since
/// 2026-06-30 and gone on 2027-06-30 (its answers carry `Deprecation` and `Sunset`).
#[endpoint(
    id = "catalog",
    route = "/",
    until = "2.0",
    deprecated = "2026-06-30",
    sunset = "2027-06-30"
)]
async fn catalog_v1() -> Json<Vec<CatalogItem>> {
    Json(catalog_items())
}

/// The catalog with its count, from API version 2.0 (the newest, so the default).
#[endpoint(id = "catalog", route = "/", since = "2.0")]
async fn catalog_v2() -> JSend<CatalogPage> {
    let items = catalog_items();
    JSend(CatalogPage {
        total: items.len(),
        items,
    })
}

// ----- CairnCMS: confined endpoints ------------------------------------------------------

/// CairnCMS's sandboxed `greet`: runs in a worker process that can read no file, open no
/// socket and start no process; it may only log. `GET` only: other methods get 405.
#[endpoint(id = "sandbox", route = "/greet", confined, capabilities(log))]
fn sandbox_greet(request: ConfinedRequest, host: &mut Host) -> Result<Reply, ConfinedError> {
    host.log(format!("greeting a visitor on {}", request.path))?;
    Ok(Reply::ok(json!({ "message": "Hello from the sandbox" })))
}

/// The local upstream the showcase starts for [`sandbox_quote`], on a fixed port because the
/// origin is declared in the attribute.
const UPSTREAM: &str = "127.0.0.1:3299";

/// A confined endpoint calling its one declared origin through the host: the server performs
/// the request, and would refuse any other origin, a redirect target or an internal address
/// not named in the declaration.
#[endpoint(
    id = "sandbox",
    route = "/quote",
    confined,
    capabilities(log, request = ["http://127.0.0.1:3299"])
)]
fn sandbox_quote(_request: ConfinedRequest, host: &mut Host) -> Result<Reply, ConfinedError> {
    let response = host.request(
        "GET",
        "http://127.0.0.1:3299/quote",
        &[("accept", "application/json")],
        &[],
    )?;
    host.log(format!("upstream answered {}", response.status))?;
    Ok(Reply::ok(json!({ "upstream": response.json()? })))
}

/// Serves `GET /quote` on [`UPSTREAM`]; if the port is taken (another showcase runs), that one
/// answers the same.
async fn start_upstream() {
    use endpoint_runtime::axum::{Json, Router, routing::get};
    let app = Router::new().route(
        "/quote",
        get(|| async { Json(json!({ "text": "Simplicity is prerequisite for reliability." })) }),
    );
    match endpoint_runtime::tokio::net::TcpListener::bind(UPSTREAM).await {
        Ok(listener) => {
            endpoint_runtime::tokio::spawn(async move {
                let _ = endpoint_runtime::axum::serve(listener, app).await;
            });
        }
        Err(error) => {
            endpoint_runtime::tracing::warn!(%error, "the showcase upstream is not started on {UPSTREAM}")
        }
    }
}

#[endpoint_runtime::main]
async fn main() -> Result<(), endpoint_runtime::Error> {
    start_upstream().await;
    let permissions = Permissions::from_toml(
        include_str!("permissions.toml"),
        "examples/showcase/permissions.toml",
    )?;
    endpoint_runtime::App::new()
        .migrations(endpoint_runtime::migrations!("showcase/migrations"))
        .permissions(permissions)
        .items_api()
        .run()
        .await
}
