use endpoint_runtime::confined::{ConfinedError, ConfinedRequest, Host, Reply};
use endpoint_runtime::prelude::*;

#[endpoint(
    id = "sandbox",
    route = "/fetch",
    confined,
    capabilities(request = [
        "https://api.example.com/v1",
        "https://user@api.example.com",
        "ftp://files.example.com",
        "api.example.com",
    ])
)]
fn fetch(_request: ConfinedRequest, _host: &mut Host) -> Result<Reply, ConfinedError> {
    Ok(Reply::ok(json!({})))
}

fn main() {}
