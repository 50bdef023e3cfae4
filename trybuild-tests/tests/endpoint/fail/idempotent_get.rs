use endpoint_runtime::prelude::*;

#[endpoint(id = "orders", route = "/", method = [get, post], idempotent)]
async fn orders() -> &'static str {
    "[]"
}

fn main() {}
