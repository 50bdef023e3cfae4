use endpoint_runtime::prelude::*;

#[endpoint(id = "users", route = "/{name}")]
async fn user(name: &str) -> String {
    name.to_string()
}

fn main() {}
