#[endpoint_runtime::main]
fn main() {}
