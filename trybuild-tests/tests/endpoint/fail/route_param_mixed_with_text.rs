use endpoint_runtime::prelude::*;

#[endpoint(id = "/", route = "/products/{id}.json")]
async fn product(id: u64) -> String {
    id.to_string()
}

fn main() {}
