//! A library crate of endpoints. An application collects them by naming the crate once with
//! `endpoint_runtime::link!(extra_endpoints);`; without it the linker drops them.
//!
//! It depends on the runtime under another name (`rt = { package = "endpoint-runtime" }`),
//! so every endpoint says where the runtime is with `crate = ::rt`.

use rt::prelude::*;

/// Reports that endpoints from a library crate are linked.
#[endpoint(crate = ::rt, id = "extra", route = "/ping")]
async fn ping() -> &'static str {
    "pong from a library crate"
}

/// An endpoint with no `id`: it mounts under the package name, `/extra-endpoints`.
#[endpoint(crate = ::rt, route = "/items/{id}")]
async fn item(id: u32) -> Json<Value> {
    Json(json!({ "id": id, "from": env!("CARGO_PKG_NAME") }))
}
