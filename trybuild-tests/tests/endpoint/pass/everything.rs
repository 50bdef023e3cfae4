//! Every argument form compiles, in a crate that depends on endpoint-runtime alone.
use endpoint_runtime::prelude::*;

/// Documented.
#[endpoint(id = "greet", route = "/", method = get)]
async fn root() -> &'static str {
    "root"
}

#[endpoint(id = "/", route = "/methods.json", method = all, access = public)]
async fn any_method() {}

#[endpoint(route = "/{id}/files/{*path}", method = [put, patch], access = authenticated, roles = ["editor"])]
async fn put_file(id: u64, headers: HeaderMap, path: String, Json(body): Json<Value>) -> Result<Json<Value>, EndpointError> {
    let _ = headers;
    Ok(Json(json!({ "id": id, "path": path, "body": body })))
}

#[endpoint(crate = ::endpoint_runtime, id = "admin", route = "/stats", access = admin)]
async fn stats(Query(q): Query<std::collections::HashMap<String, String>>) -> impl IntoResponse {
    (StatusCode::OK, format!("{}", q.len()))
}

#[endpoint(id = "/", route = "/builtwith.json", prerender)]
async fn built_with() -> Json<Value> {
    Json(json!({ "name": "Astro" }))
}

struct DocPath {
    lang: String,
    rest: String,
    extra: bool, // fields beyond the route's parameters are ignored
}

async fn doc_paths() -> Vec<DocPath> {
    vec![DocPath { lang: "en".into(), rest: "guide/intro.md".into(), extra: true }]
}

#[endpoint(id = "docs", route = "/{lang}/{*rest}", prerender, static_paths = doc_paths, access = public)]
async fn doc(lang: String, rest: String) -> String {
    format!("{lang} {rest}")
}

mod paths {
    pub struct Id {
        pub id: u8,
    }
    pub fn ids() -> impl IntoIterator<Item = Id> {
        [Id { id: 1 }]
    }
}

#[endpoint(id = "users", route = "/{id}", prerender, static_paths = paths::ids)]
async fn user(id: u8) -> String {
    id.to_string()
}

#[endpoint(
    id = "sandbox",
    route = "/fetch/{name}",
    method = [get, post],
    access = authenticated,
    confined,
    capabilities(log, request = ["https://api.example.com", "HTTP://127.0.0.1:8080", "http://[::1]:9"])
)]
fn confined_fetch(
    request: endpoint_runtime::confined::ConfinedRequest,
    host: &mut endpoint_runtime::confined::Host,
) -> Result<endpoint_runtime::confined::Reply, endpoint_runtime::confined::ConfinedError> {
    host.log(request.path.clone())?;
    Ok(endpoint_runtime::confined::Reply::ok(json!({ "name": request.params.get("name") })))
}

fn main() {
    assert_eq!(endpoint_runtime::endpoints().len(), 8);
    let spec = endpoint_runtime::endpoints().iter().find_map(|e| e.confined()).unwrap();
    assert_eq!(spec.origins, ["https://api.example.com", "http://127.0.0.1:8080", "http://[::1]:9"]);
    assert_eq!(endpoint_runtime::endpoints().iter().filter(|e| e.prerender()).count(), 3);
    let _ = doc_paths; // read by the generated code
}
