use endpoint_runtime::prelude::*;

#[endpoint(id = "users", route = "/{id}")]
async fn user(id: u64, user_id: u64) -> String {
    format!("{id} {user_id}")
}

fn main() {}
