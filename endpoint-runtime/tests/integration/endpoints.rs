//! The endpoints this test binary registers.

use std::time::Duration;

use endpoint_runtime::axum;
use endpoint_runtime::prelude::*;

/// Greet the world.
#[endpoint(id = "greet", route = "/")]
async fn hello() -> &'static str {
    "Hello, World!"
}

#[endpoint(id = "greet", route = "/intro", method = get)]
async fn intro() -> &'static str {
    "Nice to meet you."
}

/// A typed path parameter.
#[endpoint(id = "users", route = "/{id}")]
async fn user(id: u64) -> Json<Value> {
    Json(json!({ "id": id }))
}

/// Two parameters out of order, plus an extractor between them.
#[endpoint(id = "users", route = "/{id}/posts/{slug}")]
async fn user_post(
    slug: String,
    Query(q): Query<std::collections::HashMap<String, String>>,
    id: i32,
) -> String {
    format!(
        "{id}/{slug}?{}",
        q.get("v").map(String::as_str).unwrap_or("-")
    )
}

/// A catch-all, percent-decoded.
#[endpoint(id = "files", route = "/{*path}")]
async fn file(path: String) -> String {
    format!("file:{path}")
}

/// A static route beside a parameter: the static one wins.
#[endpoint(id = "users", route = "/me")]
async fn me() -> &'static str {
    "me"
}

/// Factor's echo: JSend success with the parameter and the body.
#[endpoint(id = "my-endpoint-path", route = "/{param}", method = post)]
async fn factor(param: String, Json(args): Json<Value>) -> Json<Value> {
    Json(json!({ "status": "success", "data": { "foo": "bar", "param": param, "args": args } }))
}

/// Several methods, one handler.
#[endpoint(id = "multi", route = "/", method = [put, patch])]
async fn put_or_patch(method: axum::http::Method) -> String {
    format!("{method}")
}

/// GET, and every other method through `all`, on one path (Astro's methods.json).
#[endpoint(id = "/", route = "/methods.json", method = get)]
async fn methods_get() -> Json<Value> {
    Json(json!({ "message": "This was a GET!" }))
}

#[endpoint(id = "/", route = "/methods.json", method = all)]
async fn methods_all(method: axum::http::Method) -> Json<Value> {
    Json(json!({ "message": format!("This was a {method}!") }))
}

/// No `id`: mounted under this package's name.
#[endpoint(route = "/default-id")]
async fn default_id() -> &'static str {
    "mounted under the package name"
}

/// Takes long enough for a shutdown to begin while it runs. A request with an
/// `x-started` header tells [`started`] when the handler is running.
#[endpoint(id = "slow", route = "/")]
async fn slow(headers: HeaderMap) -> &'static str {
    if let Some(key) = headers.get("x-started").and_then(|v| v.to_str().ok()) {
        started(key).notify_one();
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    "finished"
}

/// What the `/slow` handler signals once running for the requests whose `x-started` header
/// is `key` (`notify_one` keeps the signal for a waiter that comes later).
pub(crate) fn started(key: &str) -> std::sync::Arc<tokio::sync::Notify> {
    static STARTED: std::sync::Mutex<
        Option<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Notify>>>,
    > = std::sync::Mutex::new(None);
    let mut map = STARTED.lock().unwrap();
    map.get_or_insert_with(Default::default)
        .entry(key.to_string())
        .or_default()
        .clone()
}

/// Returns a Result: the error becomes its envelope.
#[endpoint(id = "fallible", route = "/{n}")]
async fn fallible(n: i64) -> Result<String, EndpointError> {
    if n < 0 {
        return Err(EndpointError::invalid_payload("n must not be negative"));
    }
    Ok(n.to_string())
}

/// `#[endpoint]` applied from inside a `macro_rules!`.
macro_rules! echo_endpoint {
    ($name:ident, $route:literal) => {
        #[endpoint(id = "macro", route = $route)]
        async fn $name(word: String) -> String {
            word
        }
    };
}
echo_endpoint!(echo_word, "/echo/{word}");

/// Access is recorded (enforced from the accountability issue on).
#[endpoint(id = "admin", route = "/stats", access = admin)]
async fn admin_stats() -> &'static str {
    "stats"
}

#[endpoint(id = "editors", route = "/", method = post, roles = ["editor", "author"])]
async fn editors() -> &'static str {
    "editors"
}

/// The `x-probe` header of every request that reached `whoami`, to prove that rejected
/// requests never do (tests run concurrently, so each probe is unique).
pub(crate) static PROBES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Who is calling, as the handler sees it.
#[endpoint(id = "auth", route = "/whoami")]
async fn whoami(who: Accountability, headers: HeaderMap) -> Json<Accountability> {
    if let Some(probe) = headers.get("x-probe").and_then(|v| v.to_str().ok()) {
        PROBES.lock().unwrap().push(probe.to_string());
    }
    Json(who)
}

#[endpoint(id = "auth", route = "/private", method = [get, post], access = authenticated)]
async fn private(who: Accountability) -> String {
    format!("hello {}", who.user.unwrap_or_default())
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Upload {
    name: String,
    size: u32,
}

/// Authenticated, with a typed body: access must be decided before the body is read.
#[endpoint(id = "auth", route = "/upload", method = post, access = authenticated)]
async fn upload(Json(upload): Json<Upload>) -> JSend<Upload> {
    JSend(upload)
}

#[derive(serde::Deserialize, endpoint_runtime::schemars::JsonSchema)]
#[schemars(crate = "endpoint_runtime::schemars")]
struct Search {
    q: String,
    limit: Option<u8>,
}

#[endpoint(id = "errors", route = "/search")]
async fn search(Query(search): Query<Search>) -> String {
    format!("{}:{}", search.q, search.limit.unwrap_or(10))
}

#[endpoint(id = "errors", route = "/panic")]
async fn panics() -> &'static str {
    panic!("the database password is hunter2")
}

#[endpoint(id = "errors", route = "/internal")]
async fn internal() -> Result<String, EndpointError> {
    let error = std::io::Error::other("connection to db:5432 refused (password=hunter2)");
    Err(error)?
}

#[endpoint(id = "errors", route = "/forbidden")]
async fn forbidden_error() -> Result<String, EndpointError> {
    Err(EndpointError::forbidden("not yours").with_details(json!({ "owner": "someone else" })))
}

#[endpoint(id = "errors", route = "/created", method = post)]
async fn created(Json(value): Json<Value>) -> Created<JSend<Value>> {
    JSend::created(value)
}

/// axum's own `Bytes` extractor, whose rejections are plain text until the runtime wraps them.
#[endpoint(id = "errors", route = "/raw", method = post)]
async fn raw(body: axum::body::Bytes) -> String {
    format!("{} bytes", body.len())
}

/// A 5xx with a cause and an internal message: neither reaches the body.
#[endpoint(id = "errors", route = "/caused")]
async fn caused() -> Result<String, EndpointError> {
    let refused = std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "replica db-7.internal refused (password=hunter2)",
    );
    Err(EndpointError::internal_from(refused))
}

/// A 503 whose handler chose explicitly what the client reads.
#[endpoint(id = "errors", route = "/maintenance")]
async fn maintenance() -> Result<String, EndpointError> {
    Err(
        EndpointError::service_unavailable("replica db-7.internal is being rebuilt")
            .with_client_message("down for maintenance until 14:00 UTC"),
    )
}

// File-like routes (Astro's `[id].json.ts`): one routed path `/exports/{id}`, picked by suffix.

#[endpoint(id = "exports", route = "/{id}.json")]
async fn export_json(id: u32) -> String {
    format!("json {id}")
}

#[endpoint(id = "exports", route = "/{id}.tar.gz", method = [get, post])]
async fn export_tar_gz(id: String) -> String {
    format!("tar.gz {id}")
}

#[endpoint(id = "exports", route = "/{id}.gz")]
async fn export_gz(id: String) -> String {
    format!("gz {id}")
}

#[endpoint(id = "exports", route = "/{id}")]
async fn export_plain(id: String) -> String {
    format!("plain {id}")
}

#[endpoint(id = "reports", route = "/{id}.csv")]
async fn report_csv(id: u32) -> String {
    format!("csv {id}")
}
