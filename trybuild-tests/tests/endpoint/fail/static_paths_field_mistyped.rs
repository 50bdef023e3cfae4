use endpoint_runtime::prelude::*;

struct UserPath {
    id: String,
}

async fn user_ids() -> Vec<UserPath> {
    vec![UserPath { id: "0".into() }]
}

// The handler parses `{id}` as `u32`; the items give a `String`.
#[endpoint(id = "api", route = "/users/{id}", prerender, static_paths = user_ids)]
async fn user(id: u32) -> String {
    id.to_string()
}

fn main() {}
