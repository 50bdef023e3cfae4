use endpoint_runtime::prelude::*;

#[endpoint(id = "files", route = "/../secrets")]
async fn secrets() -> &'static str {
    "nope"
}

fn main() {}
