use endpoint_runtime::prelude::*;

#[endpoint(id = "users", route = "/:id")]
async fn user(id: u64) -> String {
    id.to_string()
}

fn main() {}
