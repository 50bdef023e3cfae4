use endpoint_runtime::prelude::*;

// Four mistakes in one attribute and signature: all four are reported in one build,
// and no "cannot find function" error follows, since the function is still emitted.
#[endpoint(id = "users", route = "/users/:id", method = fetch, colour = "blue")]
fn user(id: u64) -> String {
    id.to_string()
}

fn main() {
    let _ = user(1);
}
