//! The benchmark routes written with endpoint-runtime, default middleware on (request id,
//! accountability, access checks, limits, error envelope).

use endpoint_runtime::body::{Body, BodyStream, Bytes, StreamExt};
use endpoint_runtime::prelude::*;
use endpoint_runtime::sse::{Event, Stream, stream};
use endpoint_runtime::ws::{Message, WebSocketUpgrade};
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

/// The same body into a `serde_json::Value` and back.
#[endpoint(id = "/", route = "/echo-value", method = post)]
async fn echo_value(Json(body): Json<serde_json::Value>) -> Json<serde_json::Value> {
    Json(body)
}

/// The text route behind a required HS256 JWT.
#[endpoint(id = "secure", route = "/intro", access = authenticated)]
async fn secure_intro() -> &'static str {
    "Nice to meet you."
}

/// The confined benchmark's baseline: the same JSON body from a normal endpoint.
#[endpoint(id = "sandbox", route = "/plain")]
async fn plain() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "message": "Hello from the sandbox" }))
}

/// The same body from a confined endpoint (a worker process round trip).
#[endpoint(id = "sandbox", route = "/greet", confined)]
fn confined_greet(
    _request: endpoint_runtime::confined::ConfinedRequest,
    _host: &mut endpoint_runtime::confined::Host,
) -> Result<endpoint_runtime::confined::Reply, endpoint_runtime::confined::ConfinedError> {
    Ok(endpoint_runtime::confined::Reply::ok(
        serde_json::json!({ "message": "Hello from the sandbox" }),
    ))
}

/// One server-sent event a second, `tick` with its number: `bench/run.py streams`.
#[endpoint(id = "streams", route = "/sse")]
async fn sse() -> Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>> {
    let ticks = stream::unfold(0u64, |n| async move {
        endpoint_runtime::tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        Some((
            Ok(Event::default().event("tick").data(n.to_string())),
            n + 1,
        ))
    });
    Sse::new(ticks)
}

/// A WebSocket that echoes each message: `bench/run.py streams`.
#[endpoint(id = "streams", route = "/ws")]
async fn ws(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|mut socket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) || socket.send(message).await.is_err() {
                break;
            }
        }
    })
}

/// Counts a streamed request body: `bench/run.py streams`.
#[endpoint(id = "streams", route = "/upload", method = post, body_limit = "1GiB")]
async fn upload(mut body: BodyStream) -> Result<String, EndpointError> {
    let mut total = 0;
    while let Some(chunk) = body.next().await {
        total += chunk?.len();
    }
    Ok(total.to_string())
}

/// `mib` MiB of zeros, streamed in 64 KiB chunks: `bench/run.py streams`.
#[endpoint(id = "streams", route = "/download/{mib}")]
async fn download(mib: usize) -> Body {
    let chunk = Bytes::from(vec![0u8; 64 * 1024]);
    let chunks = stream::iter((0..mib * 16).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    Body::from_stream(chunks)
}

#[endpoint_runtime::main]
async fn main() -> Result<(), endpoint_runtime::Error> {
    endpoint_runtime::run().await
}
