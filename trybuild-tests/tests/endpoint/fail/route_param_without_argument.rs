use endpoint_runtime::prelude::*;

#[endpoint(id = "users", route = "/{id}/posts/{slug}")]
async fn post(id: u64) -> String {
    id.to_string()
}

fn main() {}
