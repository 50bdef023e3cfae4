use endpoint_runtime::prelude::*;

// `Json<T>` answers 200: stating 201 is an error at the number.
#[endpoint(id = "notes", route = "/", method = post, status = 201)]
async fn add() -> Json<Value> {
    Json(json!({}))
}

// An error status is not a success status.
#[endpoint(id = "notes", route = "/{id}", method = delete, status = 404)]
async fn remove(id: u64) -> NoContent {
    let _ = id;
    NoContent
}

// `Created<T>` answers 201 only.
#[endpoint(id = "notes", route = "/copy", method = post, status = 200)]
async fn copy() -> Result<Created<Json<Value>>, EndpointError> {
    Ok(Created(Json(json!({}))))
}

fn main() {}
