//! Factor's endpoint example: `POST /my-endpoint-path/{param}` answers JSend success with
//! `foo`, the typed path parameter and the JSON request body.
//!
//! ```text
//! cargo run --example factor
//! curl -s -X POST localhost:3210/my-endpoint-path/hello -H 'content-type: application/json' -d '{"a":1}'
//! # {"status":"success","data":{"foo":"bar","param":"hello","args":{"a":1}}}
//! ```

use endpoint_runtime::prelude::*;
use serde::Serialize;

/// Factor's `data`: a struct, so the keys stay in the documented order.
#[derive(Serialize)]
struct Echo {
    foo: &'static str,
    param: String,
    args: Value,
}

/// Echo the path parameter and the body, Factor-style.
#[endpoint(id = "my-endpoint-path", route = "/{param}", method = post)]
async fn my_endpoint(param: String, Json(args): Json<Value>) -> JSend<Echo> {
    JSend(Echo {
        foo: "bar",
        param,
        args,
    })
}

#[endpoint_runtime::main]
async fn main() -> Result<(), endpoint_runtime::Error> {
    endpoint_runtime::run().await
}
