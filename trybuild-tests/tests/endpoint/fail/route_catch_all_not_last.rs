use endpoint_runtime::prelude::*;

#[endpoint(id = "files", route = "/{*path}/raw")]
async fn raw(path: String) -> String {
    path
}

fn main() {}
