//! What the baselines share with `bench/servers`: the bodies of the benchmark routes, and the
//! port from `ENDPOINT_PORT`.
//!
//! Routes, on every server:
//! - `GET /greet/intro` and `GET /secure/intro`: the text `Nice to meet you.`;
//! - `GET /users/{id}`: [`User`] as JSON from a typed path parameter;
//! - `POST /echo`: a JSON body into [`Echo`] and back;
//! - `POST /echo-value`: a JSON body into a `serde_json::Value` and back.

use serde::{Deserialize, Serialize};

/// The text routes' body.
pub const GREETING: &str = "Nice to meet you.";

/// `GET /users/{id}`'s body.
#[derive(Serialize)]
pub struct User {
    pub id: u64,
    pub name: &'static str,
    pub active: bool,
}

impl User {
    pub fn new(id: u64) -> Self {
        User {
            id,
            name: "Ada Lovelace",
            active: true,
        }
    }
}

/// One item of the echo body.
#[derive(Serialize, Deserialize)]
pub struct Item {
    pub id: u64,
    pub name: String,
    pub tags: Vec<String>,
    pub score: f64,
}

/// The typed echo body (about 1 KiB as `bench/run.py` sends it).
#[derive(Serialize, Deserialize)]
pub struct Echo {
    pub items: Vec<Item>,
}

/// `ENDPOINT_PORT`, else `default`.
pub fn port(default: u16) -> u16 {
    std::env::var("ENDPOINT_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(default)
}
