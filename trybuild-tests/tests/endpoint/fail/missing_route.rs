use endpoint_runtime::prelude::*;

#[endpoint(id = "greet", method = get)]
async fn intro() -> &'static str {
    "Nice to meet you."
}

fn main() {}
