use endpoint_runtime::prelude::*;

#[endpoint(id = "greet", route = "/intro", method = [GET, post])]
async fn intro() -> &'static str {
    "Nice to meet you."
}

fn main() {}
