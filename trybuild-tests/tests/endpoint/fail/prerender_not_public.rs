use endpoint_runtime::prelude::*;

#[endpoint(id = "/", route = "/stats.json", access = authenticated, prerender)]
async fn stats() -> &'static str {
    "{}"
}

fn main() {}
