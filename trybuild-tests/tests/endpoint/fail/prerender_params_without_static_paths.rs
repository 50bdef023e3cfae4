use endpoint_runtime::prelude::*;

#[endpoint(id = "api", route = "/users/{id}", prerender)]
async fn user(id: u32) -> String {
    id.to_string()
}

fn main() {}
