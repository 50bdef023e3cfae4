use endpoint_runtime::prelude::*;

#[endpoint(id = "items", route = "/", method = post)]
async fn create(body: Json<Value>, headers: HeaderMap) -> StatusCode {
    let _ = (body, headers);
    StatusCode::CREATED
}

fn main() {}
