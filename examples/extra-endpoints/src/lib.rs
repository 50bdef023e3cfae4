//! A library crate of endpoints. An application collects them by naming the crate once with
//! `endpoint_runtime::link!(extra_endpoints);`; without it the linker drops them.

use endpoint_runtime::prelude::*;

/// Reports that endpoints from a library crate are linked.
#[endpoint(id = "extra", route = "/ping")]
async fn ping() -> &'static str {
    "pong from a library crate"
}

/// An endpoint with no `id`: it mounts under the package name, `/extra-endpoints`.
#[endpoint(route = "/whoami")]
async fn whoami() -> &'static str {
    env!("CARGO_PKG_NAME")
}
