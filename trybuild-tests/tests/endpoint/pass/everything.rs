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

fn main() {
    assert_eq!(endpoint_runtime::endpoints().len(), 4);
}
