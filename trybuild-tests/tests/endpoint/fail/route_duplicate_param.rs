use endpoint_runtime::prelude::*;

#[endpoint(id = "pairs", route = "/{id}/{id}")]
async fn pair(id: u64) -> String {
    id.to_string()
}

fn main() {}
