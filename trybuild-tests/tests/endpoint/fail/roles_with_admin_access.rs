use endpoint_runtime::prelude::*;

#[endpoint(id = "articles", route = "/", access = admin, roles = ["editor"])]
async fn articles() -> &'static str {
    "articles"
}

fn main() {}
