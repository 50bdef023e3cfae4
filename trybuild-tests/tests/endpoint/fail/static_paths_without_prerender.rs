use endpoint_runtime::prelude::*;

struct UserPath {
    id: u32,
}

fn user_ids() -> Vec<UserPath> {
    vec![UserPath { id: 0 }]
}

#[endpoint(id = "api", route = "/users/{id}", static_paths = user_ids)]
async fn user(id: u32) -> String {
    id.to_string()
}

fn main() {}
