use endpoint_runtime::prelude::*;

#[endpoint(id = "files", route = "/*rest")]
async fn file(rest: String) -> String {
    rest
}

fn main() {}
