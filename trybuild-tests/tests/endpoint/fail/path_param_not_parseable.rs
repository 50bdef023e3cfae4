use endpoint_runtime::prelude::*;

struct UserId(u64);

#[endpoint(id = "users", route = "/{id}")]
async fn user(id: UserId) -> String {
    id.0.to_string()
}

fn main() {}
