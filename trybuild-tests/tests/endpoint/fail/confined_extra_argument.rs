use endpoint_runtime::confined::{ConfinedError, ConfinedRequest, Host, Reply};
use endpoint_runtime::prelude::*;

// Headers never reach the sandbox.
#[endpoint(id = "sandbox", route = "/greet", confined)]
fn greet(request: ConfinedRequest, host: &mut Host, headers: HeaderMap) -> Result<Reply, ConfinedError> {
    let _ = (request, host, headers);
    Ok(Reply::ok(json!({})))
}

fn main() {}
