use endpoint_runtime::prelude::*;

#[endpoint(id = "/", route = "/products/item-{id}")]
async fn product(id: u64) -> String {
    id.to_string()
}

fn main() {}
