//! A library crate of endpoints. An application collects them by naming the crate once with
//! `endpoint_runtime::link!(extra_endpoints);`; without it the linker drops them.
//!
//! It depends on the runtime under another name (`rt = { package = "endpoint-runtime" }`),
//! so every macro says where the runtime is with `crate = ::rt`: `#[endpoint]`, `#[hook]`,
//! `migrations!` and `#[main]` alike.

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

/// Counts `extra.pinged` events, delivered to a hook declared with the renamed runtime.
pub static PINGED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Emits `extra.pinged`, whose hook counts it.
#[endpoint(crate = ::rt, id = "extra", route = "/ping", method = post, access = public)]
async fn ping_event(ctx: Context) -> Result<&'static str, EndpointError> {
    ctx.emit("extra.pinged", "pong").await?;
    Ok("pinged")
}

#[hook(crate = ::rt, event = "extra.pinged")]
async fn count_pings(_event: Event) {
    PINGED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// This library's migrations, embedded with the renamed runtime.
pub fn migrations() -> rt::Migrations {
    rt::migrations!("migrations", crate = ::rt)
}

/// `#[main]` with the renamed runtime: the body runs on the runtime's Tokio runtime.
#[rt::main(crate = ::rt)]
pub async fn answer() -> usize {
    rt::tokio::task::yield_now().await;
    42
}
