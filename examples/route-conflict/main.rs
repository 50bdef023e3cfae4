//! An application with a mistake the compiler cannot see: two endpoints claim `GET /pages/{id}`
//! under different parameter names. `routes` prints the table and exits non-zero naming both
//! sites; `serve` refuses to start (before opening any database). The examples' tests run it.
//!
//! ```text
//! cargo run --example route-conflict -- routes   # exit status 1
//! ```

use endpoint_runtime::prelude::*;

/// A page by number.
#[endpoint(id = "pages", route = "/{id}")]
async fn page(id: u32) -> String {
    format!("page {id}")
}

/// The same path again: matchit cannot tell `{id}` from `{slug}`.
#[endpoint(id = "pages", route = "/{slug}")]
async fn page_by_slug(slug: String) -> String {
    format!("page {slug}")
}

#[endpoint_runtime::main]
async fn main() -> Result<(), endpoint_runtime::Error> {
    endpoint_runtime::run().await
}
