use endpoint_runtime::prelude::*;

#[endpoint(id = "greet", route = "/intro", capabilities(log))]
async fn intro() -> &'static str {
    "hi"
}

fn main() {}
