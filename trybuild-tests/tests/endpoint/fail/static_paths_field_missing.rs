use endpoint_runtime::prelude::*;

struct UserPath {
    user_id: u32,
}

fn user_ids() -> Vec<UserPath> {
    vec![UserPath { user_id: 0 }]
}

// The items name their field `user_id`, the route `{id}`.
#[endpoint(id = "api", route = "/users/{id}", prerender, static_paths = user_ids)]
async fn user(id: u32) -> String {
    id.to_string()
}

fn main() {}
