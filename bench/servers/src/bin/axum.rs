//! The same routes in plain axum 0.8 on `axum::serve`, as a hand-written service would be.
//! No middleware: this is the baseline the framework is compared with.

use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct User {
    id: u64,
    name: &'static str,
    active: bool,
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

async fn intro() -> &'static str {
    "Nice to meet you."
}

async fn user(Path(id): Path<u64>) -> Json<User> {
    Json(User {
        id,
        name: "Ada Lovelace",
        active: true,
    })
}

async fn echo(Json(body): Json<Echo>) -> Json<Echo> {
    Json(body)
}

async fn echo_value(Json(body): Json<serde_json::Value>) -> Json<serde_json::Value> {
    Json(body)
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::var("ENDPOINT_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3211);
    let app = Router::new()
        .route("/greet/intro", get(intro))
        // The unauthenticated baseline of the JWT route: the same body on another path.
        .route("/secure/intro", get(intro))
        .route("/users/{id}", get(user))
        .route("/echo", post(echo))
        .route("/echo-value", post(echo_value));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("addr")
    );
    axum::serve(listener, app).await.expect("serve");
}
