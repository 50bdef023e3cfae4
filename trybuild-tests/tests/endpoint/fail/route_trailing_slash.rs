use endpoint_runtime::prelude::*;

#[endpoint(id = "greet", route = "/intro/")]
async fn intro() -> &'static str {
    "Nice to meet you."
}

fn main() {}
