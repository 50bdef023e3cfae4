use endpoint_runtime::prelude::*;

#[endpoint(id = "admin", route = "/stats", access = superuser)]
async fn stats() -> &'static str {
    "stats"
}

fn main() {}
