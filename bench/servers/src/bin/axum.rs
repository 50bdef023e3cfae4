//! The same routes in plain axum 0.8 on `axum::serve`, as a hand-written service would be.
//! No middleware: this is the baseline the framework is compared with.

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::response::Response;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt as _;
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

/// One server-sent event a second, `tick` with its number.
async fn sse() -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>> {
    let ticks = futures_util::stream::unfold(0u64, |n| async move {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        Some((
            Ok(Event::default().event("tick").data(n.to_string())),
            n + 1,
        ))
    });
    Sse::new(ticks).keep_alive(KeepAlive::default())
}

/// A WebSocket that echoes each message.
async fn ws(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|mut socket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) || socket.send(message).await.is_err() {
                break;
            }
        }
    })
}

/// Counts a streamed request body.
async fn upload(body: Body) -> Result<String, (axum::http::StatusCode, String)> {
    let mut stream = body.into_data_stream();
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|error| (axum::http::StatusCode::BAD_REQUEST, error.to_string()))?;
        total += chunk.len();
    }
    Ok(total.to_string())
}

/// `mib` MiB of zeros, streamed in 64 KiB chunks.
async fn download(Path(mib): Path<usize>) -> Body {
    let chunk = Bytes::from(vec![0u8; 64 * 1024]);
    let chunks = futures_util::stream::iter(
        (0..mib * 16).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    Body::from_stream(chunks)
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
        .route("/echo-value", post(echo_value))
        .route("/streams/sse", get(sse))
        .route("/streams/ws", get(ws))
        .route("/streams/upload", post(upload))
        .route("/streams/download/{mib}", get(download));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("addr")
    );
    axum::serve(listener, app).await.expect("serve");
}
