use endpoint_runtime::confined::{ConfinedError, ConfinedRequest, Host, Reply};
use endpoint_runtime::prelude::*;

#[endpoint(id = "sandbox", route = "/greet", confined)]
fn greet(_request: ConfinedRequest, _host: &mut Host) -> Result<Reply, ConfinedError> {
    let value = unsafe { std::mem::zeroed::<u64>() };
    Ok(Reply::ok(json!({ "value": value })))
}

fn main() {}
