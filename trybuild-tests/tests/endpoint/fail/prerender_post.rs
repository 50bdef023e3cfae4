use endpoint_runtime::prelude::*;

#[endpoint(id = "/", route = "/feed.json", method = post, prerender)]
async fn feed() -> &'static str {
    "{}"
}

fn main() {}
