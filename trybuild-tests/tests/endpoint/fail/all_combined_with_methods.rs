use endpoint_runtime::prelude::*;

#[endpoint(id = "/", route = "/methods.json", method = [get, all])]
async fn methods() -> &'static str {
    "any"
}

fn main() {}
