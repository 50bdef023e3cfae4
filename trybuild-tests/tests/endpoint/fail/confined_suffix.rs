use endpoint_runtime::confined::{ConfinedError, ConfinedRequest, Host, Reply};
use endpoint_runtime::prelude::*;

#[endpoint(id = "sandbox", route = "/{id}.json", confined)]
fn greet(_request: ConfinedRequest, _host: &mut Host) -> Result<Reply, ConfinedError> {
    Ok(Reply::ok(json!({})))
}

fn main() {}
