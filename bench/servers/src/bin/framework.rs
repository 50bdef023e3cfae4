//! The benchmark routes written with endpoint-runtime, default middleware on (request id,
//! accountability, access checks, limits, error envelope).

use endpoint_runtime::prelude::*;
use serde::{Deserialize, Serialize};

/// Plain text.
#[endpoint(id = "greet", route = "/intro")]
async fn intro() -> &'static str {
    "Nice to meet you."
}

#[derive(Serialize)]
struct User {
    id: u64,
    name: &'static str,
    active: bool,
}

/// JSON from a typed path parameter.
#[endpoint(id = "users", route = "/{id}")]
async fn user(id: u64) -> Json<User> {
    Json(User {
        id,
        name: "Ada Lovelace",
        active: true,
    })
}

#[derive(Serialize, Deserialize)]
struct Item {
    id: u64,
    name: String,
    tags: Vec<String>,
    score: f64,
}

#[derive(Serialize, Deserialize)]
struct Echo {
    items: Vec<Item>,
}

/// A 1 KiB JSON body into a typed struct and back.
#[endpoint(id = "/", route = "/echo", method = post)]
async fn echo(Json(body): Json<Echo>) -> Json<Echo> {
    Json(body)
}

/// The text route behind a required HS256 JWT.
#[endpoint(id = "secure", route = "/intro", access = authenticated)]
async fn secure_intro() -> &'static str {
    "Nice to meet you."
}

#[endpoint_runtime::main]
async fn main() -> Result<(), endpoint_runtime::Error> {
    endpoint_runtime::run().await
}
